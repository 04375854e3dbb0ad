"""A Slack webhook stand-in that fails on purpose: a real HTTP server on 127.0.0.1.

stdlib ``ThreadingHTTPServer`` (not pytest-httpserver) because two faults need the
raw socket: closing the connection without an answer, and answering only after
the client has given up. Which request fails comes from a seeded ``random.Random``
drawn in arrival order, the kind of fault takes turns, so a run is repeatable
and every kind shows up in equal shares.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULTS = ("429", "500", "503", "drop", "slow")


@dataclass
class Post:
    body: dict[str, Any]
    outcome: str  # "ok" (acknowledged: the client got the 200) or a fault name


@dataclass
class FaultySlack:
    """Fails ``rate`` of requests, the faults in equal shares; keeps every post."""

    rate: float = 0.3
    seed: int = 2026
    slow_seconds: float = 1.5  # longer than the client timeout the test sets
    retry_after: str = "3"
    posts: list[Post] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    outage: range = range(0)  # requests (by arrival number) that all get 503: an outage
    _faults: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with owner._lock:
                    fault = None
                    if len(owner.posts) in owner.outage:
                        fault = "outage"
                    elif owner.rng.random() < owner.rate:  # which requests fail: seeded
                        fault = FAULTS[owner._faults % len(FAULTS)]  # how: in turn
                        owner._faults += 1
                    owner.posts.append(Post(body, fault or "ok"))
                owner.answer(self, fault)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/services/TMARKER/BMARKER/SECRETMARKER12345"

    def answer(self, h: BaseHTTPRequestHandler, fault: str | None) -> None:
        if fault == "drop":
            h.close_connection = True  # no status line at all: the client sees a cut connection
            return
        if fault == "slow":
            time.sleep(self.slow_seconds)  # Slack got it, but answers after the client gave up
        code = {"429": 429, "500": 500, "503": 503, "outage": 503}.get(fault or "", 200)
        text = b"ok" if code == 200 else b"rate_limited" if code == 429 else b"internal_error"
        try:
            h.send_response(code)
            if code == 429:
                h.send_header("Retry-After", self.retry_after)
            h.send_header("Content-Type", "text/plain")
            h.send_header("Content-Length", str(len(text)))
            h.end_headers()
            h.wfile.write(text)
        except OSError:
            pass  # the client has gone (slow answers)

    def outcomes(self) -> Counter[str]:
        return Counter(p.outcome for p in self.posts)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
