"""One memory budget across ``scan --jobs``.

A file whose text passes LARGE_BYTES is decoded by one process at a time: the scan's
pool gives every worker the same lock (``share``), so N workers never hold N bombs'
worth of decoding at once, while smaller files go on in parallel (issue 20).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from deniedwatch.sources.bounded import MiB

LARGE_BYTES = 16 * MiB
_gate: Any = None


def share(lock: Any) -> None:
    """Give this process the lock its sibling workers share (scan's pool initializer)."""
    global _gate
    _gate = lock


@contextmanager
def large_file_turn() -> Iterator[Callable[[int], None]]:
    """``turn(size)`` waits for this process's turn once ``size`` passes LARGE_BYTES
    (asked before inflating, with the size the gzip trailer announces, and after)."""
    held = False

    def turn(size: int) -> None:
        nonlocal held
        if _gate is not None and not held and size > LARGE_BYTES:
            _gate.acquire()
            held = True

    try:
        yield turn
    finally:
        if held:
            _gate.release()
