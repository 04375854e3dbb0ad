"""The offline scan: CloudTrail log files -> findings, with counts of everything else.

Reading (local disk or S3) runs in a thread pool; decoding and the rules run in
the calling process for ``jobs == 1`` and in a process pool otherwise, because
decoding is CPU-bound and the GIL would serialise it.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from deniedwatch.finding import Finding
from deniedwatch.prefilter import byte_test
from deniedwatch.rules import Ruleset
from deniedwatch.sources import gate as memory_gate
from deniedwatch.sources import skim, trailfiles
from deniedwatch.sources.base import (
    FileResult,
    FindingFilter,
    ScanSummary,
    scan_records,
)
from deniedwatch.sources.bounded import MAX_FILE_BYTES
from deniedwatch.sources.decoded import Decoded
from deniedwatch.sources.trailfiles import BadFile, TrailFile


def unique(findings: list[Finding]) -> tuple[list[Finding], int]:
    """Findings unique by (eventID, account, region), the first kept, and how many were
    dropped: the same event read twice (the S3 files and a JSON Lines export of them) is
    one denial. An event without an id is always kept."""
    seen: set[tuple[str, str | None, str | None]] = set()
    out: list[Finding] = []
    for f in findings:
        if f.event_id:
            key = (f.event_id, f.account_id, f.region)
            if key in seen:
                continue
            seen.add(key)
        out.append(f)
    return out, len(findings) - len(out)


def scan_bytes(
    data: bytes,
    location: str,
    ruleset: Ruleset,
    wanted: FindingFilter,
    include_suppressed: bool = False,
    limit: int = MAX_FILE_BYTES,
    parse_all: bool = True,
) -> FileResult:
    """One log file's bytes -> its FileResult. Pure apart from decoding.

    Unless ``parse_all``, a CloudTrail file whose bytes cannot hold a denial under the
    rule (prefilter.py) is not parsed: its events are not counted and its times are
    those of its first and last records (sources/skim.py). Not with --since/--until,
    which count every record outside them."""
    result = FileResult(location)
    skip = None if (parse_all or wanted.since or wanted.until) else partial(_skim, ruleset)
    try:
        # only records with an errorCode come back: no rule could call the others
        # denied, and skipping them in C is most of the scan's speed
        decoded = trailfiles.decode_candidates(data, limit, skip=skip)
    except BadFile as exc:
        result.error = str(exc)
        return result
    result.estimated = decoded.skimmed
    result.events = decoded.count
    result.bad_records = decoded.bad
    result.format = decoded.format
    times, result.first_time, result.last_time = decoded.time_range()
    result.outside_window = wanted.outside(times)
    return scan_records(decoded.records, result, ruleset, wanted, include_suppressed)


def _skim(ruleset: Ruleset, text: bytes) -> Decoded | None:
    """A Decoded standing for the parse when no denial can be in ``text``; else None."""
    skimmed = skim.skim(text)  # the shape first: cheap, and other shapes are parsed
    if skimmed is None or byte_test(ruleset.denial).may_hold_denial(text):
        return None
    times = [skimmed.first_time, skimmed.last_time]
    return Decoded(0, [], times=times, filtered=True, skimmed=True)


@dataclass(frozen=True)
class ScanRequest:
    sources: tuple[str, ...]
    wanted: FindingFilter = field(default_factory=FindingFilter)
    include_suppressed: bool = False
    jobs: int = 0  # 0: one per CPU
    max_file_bytes: int = MAX_FILE_BYTES  # on disk and inflated: bounded.MAX_FILE_BYTES
    parse_all: bool = False  # parse even the files whose bytes hold no denial


@dataclass
class FileSource:
    """CloudTrail log files: local paths and s3:// URLs (trailfiles.list_source decides)."""

    request: ScanRequest
    ruleset: Ruleset
    s3_client: Callable[[], Any]
    files: list[TrailFile] = field(default_factory=list)

    def prepare(self, summary: ScanSummary) -> int | None:
        self.files = discover(self.request, self.s3_client, summary)
        return len(self.files)

    def results(self) -> Iterator[FileResult]:
        return run(self.request, self.ruleset, self.files, self.s3_client)


def discover(
    request: ScanRequest, s3_client: Callable[[], Any], summary: ScanSummary
) -> list[TrailFile]:
    """Every log file the request names, after knowingly skipping digests and pruning."""
    keep = request.wanted.path_filter()
    found: list[TrailFile] = []
    for source in request.sources:
        for tf in trailfiles.list_source(source, s3_client):
            if reason := trailfiles.skip_reason(tf.location, tf.explicit):
                summary.skipped[reason] += 1
            elif (why := keep.left_out_by(tf.location)) is not None:
                summary.skipped["outside the filters"] += 1
                summary.note_pruned(tf.location, why)
            else:
                found.append(tf)
    return found


# ---- the worker side of the process pool -----------------------------------------
_WorkerState = tuple[Ruleset, FindingFilter, bool, int, bool]
_worker_state: _WorkerState | None = None


def _init_worker(*state: object) -> None:
    global _worker_state
    *rest, gate = state
    _worker_state = tuple(rest)  # type: ignore[assignment]
    memory_gate.share(gate)  # one memory budget across the workers


def _scan_in_worker(data: bytes | None, location: str) -> FileResult:
    """Scan bytes read by the parent (S3), or read a local file here (data None), so
    the bulk of the data never crosses a pipe."""
    assert _worker_state is not None
    if data is None:
        try:
            data = trailfiles.read_local(location, _worker_state[3])
        except BadFile as exc:
            return FileResult(location, error=str(exc))
        except OSError as exc:
            return FileResult(location, error=f"cannot read: {_describe(exc)}")
    return scan_bytes(data, location, *_worker_state)


def _pool(jobs: int, initargs: _WorkerState) -> ProcessPoolExecutor:
    """A started process pool. Fork on Linux: workers start in milliseconds, sharing the
    parent's imports; started here, before any reader thread exists, as fork wants."""
    context = multiprocessing.get_context("fork") if sys.platform == "linux" else None
    gate = (context or multiprocessing.get_context()).Lock()  # sources/gate.py
    pool = ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=context,
        initializer=_init_worker,
        initargs=(*initargs, gate),
    )
    pool.submit(int).result()  # starts the workers now
    return pool


def _scan_batch_in_worker(locations: list[str]) -> list[FileResult]:
    return [_scan_in_worker(None, location) for location in locations]


# With --jobs 0 (one per CPU, the default) a pool is started only for this many
# compressed bytes or more (~50 ms of scanning): its start (the fork, each worker's
# first writes to the memory it shares with the parent) cost a 5-file scan ~60 ms of
# CPU, more than the scan. An explicit --jobs N always gets its N processes.
POOL_MIN_BYTES = 4 * 1024 * 1024


def _pooled(request: ScanRequest, jobs: int, files: list[TrailFile]) -> bool:
    if jobs < 2 or len(files) < 2:
        return False
    sizes = [tf.size for tf in files]
    return bool(request.jobs) or None in sizes or sum(sizes) >= POOL_MIN_BYTES  # type: ignore[arg-type]


def _batch_size(jobs: int, files: int) -> int:
    """Local files per pool task: a task costs ~0.3 ms of executor plumbing, so a few
    files travel together (measured: 4 a task, ~7% faster at jobs 2), but never so many
    that a small scan leaves a worker idle."""
    return max(1, min(4, files // (jobs * 8)))


def run(
    request: ScanRequest,
    ruleset: Ruleset,
    files: list[TrailFile],
    s3_client: Callable[[], Any],
) -> Iterator[FileResult]:
    """Scan files, yielding one FileResult per file, in the order given.

    A bounded window of files is in flight: reader threads fetch the bytes and,
    with jobs > 1, hand them straight to the process pool. Local files with jobs > 1
    skip the threads: the workers read them, a few files a task (measured: reader
    threads contending for the GIL with the pool's feeder cost ~20% of the parallel
    speed-up).
    """
    jobs = request.jobs or os.cpu_count() or 1
    window = max(4, jobs * 4)
    procs: ProcessPoolExecutor | None = None
    if _pooled(request, jobs, files):
        procs = _pool(
            jobs,
            (
                ruleset,
                request.wanted,
                request.include_suppressed,
                request.max_file_bytes,
                request.parse_all,
            ),
        )
    batch = _batch_size(jobs, len(files))

    def in_workers(tf: TrailFile) -> bool:
        """Whether a pool worker reads this file itself (local files, with a pool)."""
        return procs is not None and not tf.remote

    def groups() -> Iterator[list[TrailFile]]:
        """Files in order: a batch of consecutive worker-read files, else one file."""
        group: list[TrailFile] = []
        for tf in files:
            if in_workers(tf):
                group.append(tf)
                if len(group) < batch:
                    continue
            elif group:
                yield group
                group = [tf]
            else:
                group = [tf]
            yield group
            group = []
        if group:
            yield group

    def fetch(tf: TrailFile) -> bytes | Future[FileResult]:
        data = trailfiles.read(tf, s3_client, request.max_file_bytes)
        return data if procs is None else procs.submit(_scan_in_worker, data, tf.location)

    def start(readers: ThreadPoolExecutor, group: list[TrailFile]) -> Future[Any]:
        if in_workers(group[0]):
            assert procs is not None
            return procs.submit(_scan_batch_in_worker, [tf.location for tf in group])
        return readers.submit(fetch, group[0])

    def finish(group: list[TrailFile], started: Future[Any]) -> list[FileResult]:
        tf = group[0]
        if in_workers(tf):
            return started.result()
        try:
            out = started.result()
        except BadFile as exc:  # over the size cap
            return [FileResult(tf.location, error=str(exc))]
        except Exception as exc:  # a read failure is this file's problem, not the scan's
            return [FileResult(tf.location, error=f"cannot read: {_describe(exc)}")]
        if isinstance(out, Future):
            return [out.result()]
        return [
            scan_bytes(
                out,
                tf.location,
                ruleset,
                request.wanted,
                request.include_suppressed,
                request.max_file_bytes,
                request.parse_all,
            )
        ]

    try:
        with ThreadPoolExecutor(max_workers=min(16, window), thread_name_prefix="read") as readers:
            pending: deque[tuple[list[TrailFile], Future[Any]]] = deque()
            for group in groups():
                pending.append((group, start(readers, group)))
                if len(pending) >= window:
                    yield from finish(*pending.popleft())
            while pending:
                yield from finish(*pending.popleft())
    finally:
        if procs is not None:
            procs.shutdown(cancel_futures=True)


def _describe(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        err = response["Error"]
        return f"{err.get('Code')}: {err.get('Message')}"
    return f"{type(exc).__name__}: {exc}"
