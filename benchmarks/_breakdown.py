"""Where a client's CPU goes, by category: the thread CPU time spent inside chosen functions.

`bench_cpu.py --breakdown` installs it. Each category's time is its functions' own (a
wrapped function called inside another one counts for its own category only), measured with
`time.thread_time`, so it holds with many jobs on threads. A garbage collection on a job's
thread is a category of its own, by generation, whichever function it broke into. What none
of these covers is "other" (the flows, the models, httpx's streaming of a body, ...). Each
wrapped call costs a microsecond or two, so a run with `--breakdown` is for the split, not
for the headline. Not installed, a `Breakdown` only sums its jobs' thread CPU (`job`,
`total`): `bench_cpu.py --together` counts each client's that way.
"""

from __future__ import annotations

import collections
import functools
import gc
import threading
import time
from collections.abc import Callable
from typing import Any

import httpcore._backends.sync as sync_backend
import httpcore._sync.http11 as http11
import httpx

from venice_video import _download, _output, _poller, _polling
from venice_video.journal import _store
from venice_video.media import _verify

#: (category, owner, attribute): what is timed. Names a release lacks are left out.
TARGETS: tuple[tuple[str, Any, str], ...] = (
    ("httpx: send", httpx.Client, "send"),
    ("httpx: build", httpx.Client, "build_request"),
    ("httpx: read", httpx.Response, "read"),
    ("httpx: close", httpx.Response, "close"),
    ("httpx: read", http11.HTTP11Connection, "_receive_event"),
    ("httpx: connect", sync_backend.SyncBackend, "connect_tcp"),
    ("httpx: TLS handshake", sync_backend.SyncStream, "start_tls"),
    ("verify", _verify, "_verify"),
    ("journal", _store.Journal, "record_intent"),
    ("journal", _store.Journal, "update"),
    ("journal", _store.Journal, "update_existing"),
    ("journal", _store.Journal, "note"),
    ("journal", _store.Journal, "get"),
    ("file: .part, fsync, rename", _download.PartFile, "__init__"),
    ("file: .part, fsync, rename", _download.PartFile, "write"),
    ("file: .part, fsync, rename", _download.PartFile, "finish"),
    ("file: .part, fsync, rename", _output, "claim_output"),
    ("rate limiter", _polling.RateLimiter, "reserve"),
    ("rate limiter", _polling.RateLimiter, "release"),
    ("poller", _poller.Poller, "begin"),
    ("poller", _poller.Poller, "answer"),
    ("sleeping (waking up)", time, "sleep"),
)


class Breakdown:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()
        self.seconds: collections.Counter[str] = collections.Counter()
        self.calls: collections.Counter[str] = collections.Counter()
        self.total = 0.0

    def install(self) -> None:
        for category, owner, name in TARGETS:
            original = getattr(owner, name, None)
            if original is not None:
                setattr(owner, name, self._timed(category, original))
        gc.callbacks.append(self._collection)

    def reset(self) -> None:
        with self._lock:
            self.seconds.clear()
            self.calls.clear()
            self.total = 0.0

    def job(self, run: Callable[[int], None]) -> Callable[[int], None]:
        """`run`, its thread's whole CPU time counted."""

        def timed(n: int) -> None:
            began = time.thread_time()
            self._local.in_job = True
            try:
                run(n)
            finally:
                self._local.in_job = False
                with self._lock:
                    self.total += time.thread_time() - began

        return timed

    def lines(self, jobs: int) -> list[str]:
        rows = [(k, v) for k, v in self.seconds.items()]
        rows.sort(key=lambda kv: -kv[1])
        out = [f"  {'all of it':<28}{1000 * self.total / jobs:>8.2f} ms/job"]
        for category, seconds in rows:
            out.append(
                f"  {category:<28}{1000 * seconds / jobs:>8.2f} ms/job"
                f"{self.calls[category] / jobs:>7.1f} calls/job"
            )
        other = self.total - sum(self.seconds.values())
        out.append(f"  {'other':<28}{1000 * other / jobs:>8.2f} ms/job")
        return out

    def _collection(self, phase: str, info: dict[str, int]) -> None:
        """A garbage collection on a job's thread: its own category, whatever it broke into."""
        if not getattr(self._local, "in_job", False):
            return
        if phase == "start":
            self._local.collecting = self._enter()
        else:
            self._leave(f"garbage collection, gen {info['generation']}", self._local.collecting)

    def _enter(self) -> float:
        """Start timing a category on this thread; returns when it began."""
        self._local.__dict__.setdefault("stack", []).append(0.0)
        return time.thread_time()

    def _leave(self, category: str, began: float) -> None:
        """Stop timing: the category gets its own time, the one it ran inside loses it."""
        stack: list[float] = self._local.stack
        spent = time.thread_time() - began
        inner = stack.pop()
        if stack:
            stack[-1] += spent
        with self._lock:
            self.seconds[category] += spent - inner
            self.calls[category] += 1

    def _timed(self, category: str, original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            began = self._enter()
            try:
                return original(*args, **kwargs)
            finally:
                self._leave(category, began)

        return timed
