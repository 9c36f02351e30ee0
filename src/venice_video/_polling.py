"""When to retry, how long to back off, and the guard in front of every request.

Pure code: no I/O, no sleeping. Both client twins ask these objects for decisions and then
do the sleeping themselves, so the policy is written once and tested without waiting. The
pacing of one job's polls is in `_poller`, the forecast it rests on in `_forecast`, and the
sharing of a key's budget between jobs in `_schedule`.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Hashable, Mapping
from enum import Enum
from typing import Protocol

import httpx

from ._config import RateLimitPolicy, RetryPolicy
from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    RateLimitError,
    ServiceUnavailableError,
    parse_retry_after,
)
from ._schedule import RetrieveScheduler

__all__ = [
    "QueueDecision",
    "RateLimiter",
    "RequestLimiter",
    "backoff_delay",
    "classify_queue_error",
    "jittered",
    "parse_retry_after",
    "should_retry",
]

Random = Callable[[], float]


def jittered(delay: float, jitter: float, rand: Random) -> float:
    """`delay` times a random factor in `[1 - jitter, 1 + jitter]`."""
    return delay * (1.0 + jitter * (2.0 * rand() - 1.0))


def backoff_delay(
    policy: RetryPolicy, attempt: int, *, retry_after: float | None, rand: Random
) -> float:
    """Seconds to wait before retry number `attempt` (1 for the first retry).

    A server's `Retry-After` wins, capped at `policy.max_retry_after`, with a little jitter
    upwards only so a batch does not come back in lockstep at the exact second.
    """
    if retry_after is not None:
        capped = min(max(retry_after, 0.0), policy.max_retry_after)
        return capped * (1.0 + 0.1 * rand())
    base = min(policy.max_delay, policy.initial_delay * (2.0 ** max(attempt - 1, 0)))
    return max(0.0, jittered(base, policy.jitter, rand))


def should_retry(policy: RetryPolicy, exc: BaseException, attempt: int) -> bool:
    """Whether a free, idempotent call that failed with `exc` on try `attempt` is tried again."""
    if attempt >= policy.max_attempts:
        return False
    if isinstance(exc, APIStatusError):
        return exc.status_code in policy.retry_statuses
    return isinstance(exc, APIConnectionError)


class QueueDecision(Enum):
    """What to do after a `/video/queue` attempt failed."""

    RESEND = "resend"  # provably not accepted: send again with the same Idempotency-Key
    UNKNOWN = "unknown"  # may have been accepted: stop, never resend blindly
    REFUSED = "refused"  # the API said no: the job does not exist


def classify_queue_error(exc: BaseException, *, idempotent_retries: bool) -> QueueDecision:
    """Decide a failed queue attempt.

    A paid request is resent only when it provably did not create a job (the connection
    was refused before a byte went out, a 429, or a 503: the API saying it is at capacity
    and did not take the request), or when the caller has said the server honours
    `Idempotency-Key` (then a resend with the same key cannot create a second job). Resends
    are bounded by the retry policy's attempts and backoff.
    """
    if isinstance(exc, APIConnectionError):
        if not exc.may_have_reached_server or idempotent_retries:
            return QueueDecision.RESEND
        return QueueDecision.UNKNOWN
    if isinstance(exc, RateLimitError | ServiceUnavailableError):
        return QueueDecision.RESEND
    if isinstance(exc, APIStatusError) and exc.status_code >= 500:
        if idempotent_retries and exc.status_code in (500, 502, 504):
            return QueueDecision.RESEND
        # Other 5xx (a gateway timing out, an internal error) may come after the job was
        # created.
        return QueueDecision.UNKNOWN
    return QueueDecision.REFUSED


class RequestLimiter(Protocol):
    """What a client asks before and after each request (`RateLimiter`, or one that
    wraps it)."""

    def reserve(
        self, bucket: str, now: float, *, ticket: Hashable | None = None, priority: float = 1.0
    ) -> float:
        """0.0 when a request in `bucket` may go now (a slot is taken), else seconds to wait.

        `ticket` names the job asking (its place in line), `priority` how likely it is ready.
        """
        ...

    def release(
        self,
        bucket: str,
        now: float,
        *,
        status: int | None,
        headers: httpx.Headers | Mapping[str, str] | None,
        wall_now: float,
    ) -> None:
        """Give the slot back with what the response said."""
        ...

    def leave(self, ticket: Hashable) -> None:
        """The job named `ticket` waits no more."""
        ...

    @property
    def announced_rate(self) -> float | None:
        """The clock rate a local test server announced, if one did."""
        ...


class RateLimiter:
    """Client-side request pacing, shared by every job of one client.

    Two guards: the failure allowance (the API blocks a caller after too many failed
    requests in a short time) and the key's budgets (see `RetrieveScheduler`), which also
    follow the server's `x-ratelimit-*` headers and `429`s. `reserve()` either takes a slot
    (returns 0) or says how long to wait before asking again; `release()` gives it back
    with what the response said. Thread-safe, and it never blocks for long, so async code
    calls it directly.

    Budgets are per minute of the *server's* clock, like every pause the client takes: a
    test server running 1000x fast allows a minute's requests every 60 ms. The rate is
    what the pollers measured (`rate`), else what the local server announces in its
    `x-local-speed` header; until either is known it is taken as real time, and waits are
    kept short so that they are reconsidered once it is known.

    Args:
        policy: the failure guard, the budgets, and optionally a shared `BucketStore`.
        rate: the server's clock rate (server seconds per client second), if known.
    """

    _POLL_IN_FLIGHT = 0.02
    _UNSURE_WAIT = 0.5

    def __init__(
        self, policy: RateLimitPolicy, *, rate: Callable[[], float | None] = lambda: None
    ) -> None:
        self._policy = policy
        self._rate = rate
        self._lock = threading.Lock()
        self._failures: deque[float] = deque()
        self._in_flight = 0
        self.scheduler = RetrieveScheduler(policy, store=policy.store)
        self._client_at: float | None = None
        self._server_at = 0.0
        self._announced: float | None = None

    def _server_now(self, now: float) -> tuple[float, float | None]:
        """The server's time at client time `now` (integrated, so never going back), and
        the rate it runs at, `None` while that is unknown."""
        measured = self._rate()
        if measured is None:
            measured = self._announced
        # A real server runs at real time; a little over 1 is measuring noise, and taking
        # it at its word would spend more than the budget.
        rate = measured if measured is not None and measured >= 1.5 else 1.0
        if self._client_at is None:
            self._client_at, self._server_at = now, now
        elif now > self._client_at:
            self._server_at += (now - self._client_at) * rate
            self._client_at = now
        return self._server_at, (rate if measured is not None else None)

    @property
    def announced_rate(self) -> float | None:
        """The clock rate a local test server announced (`x-local-speed`), if one did."""
        return self._announced

    @property
    def recent_failures(self) -> int:
        """Failed requests inside the current window (for tests and diagnostics)."""
        return len(self._failures)

    def reserve(
        self, bucket: str, now: float, *, ticket: Hashable | None = None, priority: float = 1.0
    ) -> float:
        """Take a slot for a request in `bucket` (returns 0.0), or return seconds to wait.

        `ticket` names the job asking (its place in line is kept between asks) and
        `priority` the chance its request finds what it wants.
        """
        p = self._policy
        with self._lock:
            while self._failures and self._failures[0] <= now - p.failure_window:
                self._failures.popleft()
            if p.max_failures is not None and self._failures:
                # Requests in flight may fail too; count them against the allowance.
                if len(self._failures) + self._in_flight >= p.max_failures:
                    if self._in_flight and len(self._failures) < p.max_failures:
                        return self._POLL_IN_FLIGHT
                    return max(self._failures[0] + p.failure_window - now, self._POLL_IN_FLIGHT)
            server_now, rate = self._server_now(now)
            wait = self.scheduler.ask(bucket, ticket, priority=priority, now=server_now)
            if wait <= 0.0:
                self._in_flight += 1
                return 0.0
            return min(wait, self._UNSURE_WAIT) if rate is None else wait / rate

    def release(
        self,
        bucket: str,
        now: float,
        *,
        status: int | None,
        headers: httpx.Headers | Mapping[str, str] | None,
        wall_now: float,
    ) -> None:
        """Return the slot taken by `reserve()`, with the response's status and headers.

        `status` is `None` when no HTTP answer came back (that never counts as a failure:
        the API did not see it, or cannot have counted it against us yet).
        """
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)
            if status is not None and status >= 400:
                self._failures.append(now)
            if headers is not None and self._announced is None:
                self._announced = _speed(headers)
            server_now, _ = self._server_now(now)
        self.scheduler.answered(
            bucket, status=status, headers=headers, wall_now=wall_now, now=server_now
        )

    def leave(self, ticket: Hashable) -> None:
        """The job named `ticket` waits no more: drop its place in line."""
        self.scheduler.leave(ticket)


def _speed(headers: httpx.Headers | Mapping[str, str]) -> float | None:
    """The clock rate a local test server announces (`x-local-speed`), if it does."""
    h = httpx.Headers(headers) if not isinstance(headers, httpx.Headers) else headers
    try:
        speed = float(h.get("x-local-speed", ""))
    except ValueError:
        return None
    return speed if speed > 0 else None
