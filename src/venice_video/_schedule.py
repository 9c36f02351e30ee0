"""One key's request budget, shared by every job of a client: who may send, and when.

Venice rations requests per key (about 120 retrieves and 40 queue requests a minute) and
answers `429` past that. A client following many jobs at once (a batch, a story, the MCP
server, the gallery) must spend that budget itself, and spend it well: on the retrieves
most likely to find a video ready.

Two layers, both pure (no I/O, no sleeping; every time is an argument or comes from the
injected clock):

- A `BucketStore` keeps the counts: per bucket (`"retrieve"`, `"queue"`, ...) the sends of
  the last window, what the server's `x-ratelimit-*` headers said, and any `Retry-After`.
  `take()` either takes one slot or says how long until one may be free. The in-memory
  store serves one process; a store shared between machines implements the same two
  methods over shared storage (and a clock they share).
- The `RetrieveScheduler` decides, among the jobs waiting for a slot, whose turn it is:
  each asks with the chance that its poll finds the job ready, and a free slot goes to the
  likeliest (ties: the longest waiting). Those that must wait are told how long, from
  their place in line, so nobody spins.

The guarantee: within one window (60 s by default) no more requests go out than the
budget, counted over any 60 s, not only the server's aligned minutes; and when the
server's headers say its window has reset, the count starts over with it, as the
server's does. Sends are smoothed (`Budget.burst` at once at most, the rest evenly), so
a crowd of jobs does not spend a minute's retrieves in its first second.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import httpx

from ._config import RateLimitPolicy
from ._exceptions import parse_retry_after

__all__ = ["BucketStore", "Budget", "MemoryBucketStore", "RetrieveScheduler"]

# Below this a wait is not worth a sleep; above zero so a waiter always yields its turn.
_MIN_WAIT = 0.001


@dataclass(frozen=True)
class Budget:
    """The pace allowed in one bucket.

    Attributes:
        limit: requests per `window`; `None` when only the server's headers limit it.
        window: seconds.
        burst: requests that may go out at once; `None` for the whole `limit`.
        reserve: keep this many of the server's remaining requests unused until it resets.
    """

    limit: int | None
    window: float = 60.0
    burst: int | None = None
    reserve: int = 1

    @property
    def interval(self) -> float:
        """Seconds between sends at the steady pace (0 with no limit)."""
        return self.window / self.limit if self.limit else 0.0


@runtime_checkable
class BucketStore(Protocol):
    """Where one API key's request counts live; every call must be atomic.

    Times are seconds on the clock the scheduler was given: monotonic within a process, a
    clock the machines share when the store is shared between them.
    """

    def take(self, bucket: str, now: float, budget: Budget) -> float:
        """Take one slot in `bucket` and return 0.0, or take nothing and return the
        seconds until a slot may be free."""
        ...

    def observe(
        self,
        bucket: str,
        now: float,
        *,
        limit: int | None = None,
        remaining: int | None = None,
        reset_in: float | None = None,
        retry_in: float | None = None,
    ) -> None:
        """What a response said: the server's limit, the requests it still allows and the
        seconds until its window resets (`x-ratelimit-*`), or a 429's `Retry-After`."""
        ...


@dataclass
class _Bucket:
    sent: deque[float] = field(default_factory=deque)  # send times in the last window
    tat: float = -math.inf  # the smoothing's next conforming time (GCRA)
    limit: int | None = None  # the server's limit, from its headers
    remaining: int | None = None  # the server's remaining requests, less ours since
    reset_at: float | None = None  # when the server's window resets
    blocked_until: float = 0.0
    scale: float = 1.0  # lowered by each 429 (someone else spends the key), regained slowly
    scaled_at: float = 0.0


class MemoryBucketStore:
    """A `BucketStore` in this process's memory (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}

    def take(self, bucket: str, now: float, budget: Budget) -> float:
        with self._lock:
            b = self._buckets.setdefault(bucket, _Bucket())
            if b.blocked_until > now:
                return b.blocked_until - now
            if b.reset_at is not None and now >= b.reset_at:
                # The server's window restarted: what went out before it no longer counts.
                while b.sent and b.sent[0] < b.reset_at:
                    b.sent.popleft()
                b.remaining, b.reset_at, b.tat = None, None, -math.inf
            if b.scale < 1.0 and now - b.scaled_at >= budget.window:
                b.scale, b.scaled_at = min(1.0, b.scale + 0.25), now
            waits = [0.0]
            if b.remaining is not None and b.remaining <= budget.reserve and b.reset_at:
                waits.append(b.reset_at - now)
            limit = _effective_limit(budget.limit, b)
            if limit is not None:
                while b.sent and b.sent[0] <= now - budget.window:
                    b.sent.popleft()
                if len(b.sent) >= limit:
                    frees = b.sent[len(b.sent) - limit] + budget.window - now
                    if b.reset_at is not None:
                        frees = min(frees, b.reset_at - now)
                    # Full, by the count just made: wait, whatever rounding says.
                    waits.append(max(frees, _MIN_WAIT))
                interval = budget.window / limit
                burst = min(budget.burst or limit, limit)
                waits.append(b.tat - (burst - 1) * interval - now)
            wait = max(waits)
            if wait > 0.0:
                return max(wait, _MIN_WAIT)
            if limit is not None:
                b.sent.append(now)
                b.tat = max(b.tat, now) + budget.window / limit
            if b.remaining is not None:
                b.remaining -= 1
            return 0.0

    def observe(
        self,
        bucket: str,
        now: float,
        *,
        limit: int | None = None,
        remaining: int | None = None,
        reset_in: float | None = None,
        retry_in: float | None = None,
    ) -> None:
        with self._lock:
            b = self._buckets.setdefault(bucket, _Bucket())
            if limit is not None and limit > 0:
                b.limit = limit
            if remaining is not None:
                reset_at = now + reset_in if reset_in is not None else None
                if reset_at is not None and b.reset_at is not None and reset_at < b.reset_at - 1.0:
                    pass  # a late answer from a window already over
                elif b.remaining is not None and (
                    reset_at is None or b.reset_at is None or abs(reset_at - b.reset_at) <= 1.0
                ):
                    # The same window: answers may come back out of order, and the lower
                    # count is the later one.
                    b.remaining = min(b.remaining, remaining)
                    b.reset_at = b.reset_at if reset_at is None else max(b.reset_at or 0, reset_at)
                else:
                    b.remaining, b.reset_at = remaining, reset_at
            if retry_in is not None:
                b.blocked_until = max(b.blocked_until, now + retry_in)
                b.scale, b.scaled_at = max(0.1, b.scale * 0.75), now

    def snapshot(self, bucket: str) -> Mapping[str, float | int | None]:
        """The state of one bucket, for tests and diagnostics."""
        with self._lock:
            b = self._buckets.setdefault(bucket, _Bucket())
            return {
                "sent": len(b.sent),
                "remaining": b.remaining,
                "reset_at": b.reset_at,
                "blocked_until": b.blocked_until,
                "scale": b.scale,
                "limit": b.limit,
            }


def _effective_limit(configured: int | None, b: _Bucket) -> int | None:
    limits = [x for x in (configured, b.limit) if x is not None]
    if not limits:
        return None
    return max(1, math.floor(min(limits) * b.scale))


@dataclass
class _Waiter:
    first: float  # when it first asked
    seq: int
    wake: float  # when it was told to ask again
    # Its place in line, lowest first (see `place`).
    rank: tuple[float, float, int]

    def place(self, priority: float, window: float) -> None:
        """Rank it by its latest `priority`. Waiting raises a priority by one per window
        waited, so the likeliest now has the highest `priority - first / window` (`now /
        window` is the same for everyone): the order stands still as time passes."""
        self.rank = (self.first / window - priority, self.first, self.seq)


# Callers without a ticket (one-off calls) go before every ticket.
_FIRST: tuple[float, float, int] = (-math.inf, -math.inf, -1)


class RetrieveScheduler:
    """Hands out one key's request slots, the likeliest-to-be-ready retrieve first.

    ```python
    scheduler = RetrieveScheduler(RateLimitPolicy(retrieves_per_minute=120))
    wait = scheduler.ask("retrieve", ticket=job_key, priority=0.8)  # 0.0: send now
    ...
    scheduler.answered("retrieve", status=200, headers=response.headers, wall_now=time.time())
    scheduler.leave(job_key)  # when the job's wait ends, however it ends
    ```

    `ask()` returns 0.0 when the caller may send now (the slot is taken), else the seconds
    to wait before asking again. A ticket names one waiting caller (a job); its `priority`
    is the chance its request finds what it wants (a job ready). Callers without a ticket
    (one-off calls) go first. Waiting raises a ticket's priority by one per window waited,
    so no job waits forever behind likelier ones.

    Args:
        policy: the budgets (`retrieves_per_minute`, `queues_per_minute`, ...).
        store: where the counts live; a fresh `MemoryBucketStore` when not given.
        clock: the clock for calls that do not pass `now`.
    """

    def __init__(
        self,
        policy: RateLimitPolicy,
        *,
        store: BucketStore | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._policy = policy
        self.store: BucketStore = store if store is not None else MemoryBucketStore()
        self._clock = clock
        self._lock = threading.Lock()
        self._waiting: dict[str, dict[Hashable, _Waiter]] = {}
        self._in_flight: dict[str, int] = {}
        self._seq = itertools.count()
        self._budgets: dict[str, Budget] = {}

    def budget(self, bucket: str) -> Budget:
        """The budget of `bucket`."""
        found = self._budgets.get(bucket)
        if found is None:
            found = self._budgets[bucket] = self._make_budget(bucket)
        return found

    def _make_budget(self, bucket: str) -> Budget:
        p = self._policy
        if bucket == "retrieve":
            return Budget(p.retrieves_per_minute, 60.0, p.retrieve_burst, p.reserve)
        if bucket == "queue":
            return Budget(p.queues_per_minute, 60.0, None, p.reserve)
        return Budget(None, 60.0, None, p.reserve)

    def ask(
        self,
        bucket: str,
        ticket: Hashable | None = None,
        *,
        priority: float = 1.0,
        now: float | None = None,
    ) -> float:
        """Take a slot in `bucket` (0.0), or get the seconds to wait before asking again."""
        now = self._clock() if now is None else now
        budget = self.budget(bucket)
        with self._lock:
            waiters = self._waiting.setdefault(bucket, {})
            self._forget_stale(waiters, now, budget)
            me = None
            mine = _FIRST
            if ticket is not None:
                me = waiters.get(ticket)
                if me is None:
                    me = waiters[ticket] = _Waiter(now, next(self._seq), now, _FIRST)
                me.place(priority, budget.window)
                mine = me.rank
            ahead = 0
            due = False  # someone likelier is due now: let them go first
            for w in waiters.values():
                if w.rank < mine:
                    ahead += 1
                    due = due or w.wake <= now
            wait = _MIN_WAIT
            if not due:
                wait = self.store.take(bucket, now, budget)
                if wait <= 0.0:
                    if ticket is not None:
                        del waiters[ticket]
                    self._in_flight[bucket] = self._in_flight.get(bucket, 0) + 1
                    return 0.0
            # Each caller ahead takes one slot first, at the steady pace.
            wait = max(wait, _MIN_WAIT) + ahead * budget.interval
            if me is not None:
                me.wake = now + wait
            return wait

    def answered(
        self,
        bucket: str,
        *,
        status: int | None,
        headers: httpx.Headers | Mapping[str, str] | None,
        wall_now: float,
        now: float | None = None,
    ) -> None:
        """A request that `ask()` let through came back (`status` `None`: no answer)."""
        now = self._clock() if now is None else now
        with self._lock:
            in_flight = self._in_flight[bucket] = max(0, self._in_flight.get(bucket, 0) - 1)
        if headers is None:
            return
        h = httpx.Headers(headers) if not isinstance(headers, httpx.Headers) else headers
        limit = _int_or_none(h.get("x-ratelimit-limit-requests"))
        remaining = _int_or_none(h.get("x-ratelimit-remaining-requests"))
        reset_in = None
        if remaining is not None:
            reset = parse_retry_after(
                {"x-ratelimit-reset-requests": h.get("x-ratelimit-reset-requests", "60")},
                now=wall_now,
            )
            reset_in = min(reset if reset is not None else 60.0, self._policy.max_wait)
            # Requests still out may not be counted in this answer yet.
            remaining -= in_flight
        retry_in = None
        if status == 429:
            retry = parse_retry_after(h, now=wall_now)
            retry_in = min(retry if retry is not None else 1.0, self._policy.max_wait)
        if limit is None and remaining is None and retry_in is None:
            return
        self.store.observe(
            bucket, now, limit=limit, remaining=remaining, reset_in=reset_in, retry_in=retry_in
        )

    def leave(self, ticket: Hashable) -> None:
        """Forget a ticket whose job no longer waits (done, failed, cancelled)."""
        with self._lock:
            for waiters in self._waiting.values():
                waiters.pop(ticket, None)

    def waiting(self, bucket: str) -> int:
        """How many tickets wait for a slot in `bucket`."""
        with self._lock:
            return len(self._waiting.get(bucket, {}))

    def in_flight(self, bucket: str) -> int:
        """Requests let through and not yet answered."""
        with self._lock:
            return self._in_flight.get(bucket, 0)

    @staticmethod
    def _forget_stale(waiters: dict[Hashable, _Waiter], now: float, budget: Budget) -> None:
        # A ticket that did not come back long after its turn belongs to a caller that
        # stopped without leaving; it must not hold the line.
        grace = max(1.0, 4.0 * budget.interval)
        for ticket in [t for t, w in waiters.items() if w.wake < now - grace]:
            del waiters[ticket]


def _int_or_none(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None


# Reprs and tracebacks say `venice_video.X`, the public name, not this private module.
for _name in __all__:
    globals()[_name].__module__ = "venice_video"
del _name
