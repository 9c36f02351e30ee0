"""When to poll, when to retry, how long to back off. Pure code: no I/O, no sleeping.

Both client twins ask these objects for decisions and then do the sleeping themselves, so
the policy is written once and tested without waiting.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum

import httpx

from ._config import PollPolicy, RateLimitPolicy, RetryPolicy
from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    RateLimitError,
    ServiceUnavailableError,
    parse_retry_after,
)

__all__ = [
    "CompletionStats",
    "PollPacer",
    "QueueDecision",
    "RateLimiter",
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


@dataclass
class _Observation:
    at: float  # monotonic seconds
    average_s: float  # server seconds
    execution_s: float  # server seconds


class CompletionStats:
    """How early, relative to the server's estimate, jobs of each model really finish.

    The estimate is a P80, so most jobs end before it. Each finished job adds one ratio:
    when it finished (within the bracket between its last PROCESSING answer and the answer
    that found it ready) over the estimate. The pacer then starts polling closely at the low
    end of what was seen. Only recent jobs count: the server's estimate drifts as it learns,
    and ratios taken against an old estimate mislead. Thread-safe; one per client.
    """

    def __init__(self, keep: int = 20) -> None:
        self._lock = threading.Lock()
        self._keep = keep
        self._ratios: dict[str, deque[float]] = {}
        # The last estimate seen per model, and the server's clock rate (one server per
        # client): enough to time a new job's first poll without asking first.
        self._averages: dict[str, float] = {}
        self._rate: float | None = None

    def record(
        self, model: str, last_seen_ms: float, found_ms: float | None, average_ms: float
    ) -> None:
        """One job of `model` finished between `last_seen_ms` (its last PROCESSING answer)
        and `found_ms` (when it was found ready, if known), with this estimate."""
        if average_ms <= 0 or last_seen_ms < 0:
            return
        finished = last_seen_ms
        if found_ms is not None:
            # A close bracket: its middle. A wide one (a long sleep, or a job that finished
            # before close polling began): assume it finished shortly before it was found;
            # its middle would drag the window far too early.
            slack = 0.05 * average_ms
            finished = max((last_seen_ms + found_ms) / 2.0, found_ms - slack)
        with self._lock:
            ratios = self._ratios.setdefault(model, deque(maxlen=self._keep))
            ratios.append(finished / average_ms)

    def remember(self, model: str, average_ms: float, rate: float | None) -> None:
        """The latest estimate for `model`, and the measured clock rate, if any."""
        with self._lock:
            self._averages[model] = average_ms
            if rate is not None:
                self._rate = rate

    def hint(self, model: str) -> tuple[float, float] | None:
        """`(average_ms, rate)` last seen for `model`, if both are known."""
        with self._lock:
            average = self._averages.get(model)
            rate = self._rate
        return None if average is None or rate is None else (average, rate)

    def window(self, model: str, policy: PollPolicy) -> float | None:
        """Where close polling should start, as a fraction of the estimate; `None` until
        `policy.min_samples` jobs of `model` have finished."""
        with self._lock:
            ratios = sorted(self._ratios.get(model, ()))
        if len(ratios) < policy.min_samples:
            return None
        # About the 5th percentile (never the very lowest, which may be a fluke), less a
        # margin: most of the jobs that finish early are then still caught closely.
        low = (
            ratios[min(len(ratios) - 1, max(1, len(ratios) // 20))]
            if len(ratios) > 8
            else ratios[0]
        )
        # Few samples understate how early a job can finish, so the margin grows with the
        # spread seen so far (half the distance from the low end to the median).
        median = ratios[len(ratios) // 2]
        margin = max(low * 0.03, 0.5 * (median - low))
        return max(0.05, min(policy.window_ratio_max, low - margin))


class PollPacer:
    """Paces the polls of one job from what `/video/retrieve` reports.

    The server reports `average_execution_time` (a P80 estimate) and `execution_duration`
    (time so far), in milliseconds of *its* clock. The pacer learns how fast that clock runs
    against the local monotonic clock, so it converts the time left into real seconds at
    any server speed (the real API: rate 1).

    Far from the estimate it sleeps a fraction of the time left (few requests); close to it,
    and after it, it polls every `near_interval`, so a finished job waits little for its
    download; past the estimate the pause grows slowly. With a learned `window` (see
    `CompletionStats`) it sleeps straight to where jobs of the model start finishing.

    Args:
        policy: the intervals.
        started_at: the monotonic time the job was queued, if this process queued it; it
            gives the first clock-rate sample (execution began at about that moment).
        rand: a source of uniform `[0, 1)` numbers, for jitter.
        window: where close polling starts, as a fraction of the estimate, if known. Assign
            `pacer.window` as it improves.
        hint: `(average_ms, rate)` from earlier jobs of the model (`CompletionStats.hint`):
            with `started_at`, it times the first poll before anything was observed.
    """

    def __init__(
        self,
        policy: PollPolicy,
        *,
        started_at: float | None,
        rand: Random,
        window: float | None = None,
        hint: tuple[float, float] | None = None,
    ) -> None:
        self._policy = policy
        self._rand = rand
        self.window = window
        self._hint = hint if started_at is not None else None
        self._last: _Observation | None = None
        self._start = started_at
        # Decayed sums of server seconds and real seconds between observations.
        self._sum_server = 0.0
        self._sum_real = 0.0
        self._samples = 0
        self.polls = 0

    @property
    def rate(self) -> float | None:
        """Server seconds per real second, or `None` before two observations."""
        if self._sum_real <= 0.0:
            return None
        rate = self._sum_server / self._sum_real
        return min(max(rate, 1.0), self._policy.max_rate)

    def observe(self, at: float, average_ms: float | None, execution_ms: float | None) -> None:
        """Record one PROCESSING answer received at monotonic time `at`."""
        self.polls += 1
        if average_ms is None or execution_ms is None:
            return
        obs = _Observation(at, max(average_ms, 0.0) / 1000.0, max(execution_ms, 0.0) / 1000.0)
        prev = self._last
        if prev is None and self._start is not None and at > self._start:
            prev = _Observation(self._start, obs.average_s, 0.0)
        if prev is not None and obs.at > prev.at and obs.execution_s > prev.execution_s:
            decay = 0.6
            self._sum_server = self._sum_server * decay + (obs.execution_s - prev.execution_s)
            self._sum_real = self._sum_real * decay + (obs.at - prev.at)
            self._samples += 1
        self._last = obs

    def _execution_now(self, now: float) -> float | None:
        if self._last is None:
            return None
        return self._last.execution_s + (now - self._last.at) * (self.rate or 1.0)

    def execution_at(self, now: float) -> float | None:
        """The server's execution time of the job at monotonic `now`, in ms, if known."""
        execution = self._execution_now(now)
        return None if execution is None else execution * 1000.0

    def remaining(self, now: float) -> float | None:
        """Server seconds until the estimate, negative once past it; `None` if unknown."""
        execution = self._execution_now(now)
        if execution is None or self._last is None:
            return None
        return self._last.average_s - execution

    def eta(self, now: float) -> float | None:
        """Real seconds until the estimate (0 once past it), or `None` if unknown."""
        remaining = self.remaining(now)
        if remaining is None:
            return None
        return max(remaining, 0.0) / (self.rate or 1.0)

    @property
    def can_wait_first(self) -> bool:
        """Whether the first poll can be timed from earlier jobs instead of sent at once."""
        return self._last is None and self._hint is not None and self.window is not None

    def next_delay(self, now: float) -> float:
        """Real seconds to wait before the next poll."""
        p = self._policy
        rate = self.rate
        execution = self._execution_now(now)
        if self._last is None and self._hint is not None and self._start is not None:
            average_ms, rate = self._hint
            average, execution = average_ms / 1000.0, (now - self._start) * rate
            samples = 2  # the rate was measured on earlier jobs
        elif rate is None or execution is None or self._last is None:
            # The clock rate is unknown: a short probe measures it.
            server = min(p.probe_interval, p.max_interval)
            return max(jittered(server, p.jitter, self._rand), p.min_real_interval)
        else:
            average, samples = self._last.average_s, self._samples
        near = max(p.near_interval, p.near_fraction * average)
        start = (self.window if self.window is not None else p.prior_window) * average
        far = start - execution
        if far > near:
            # Until the rate is well measured, or with no learned window, only part of the
            # way; jitter only downwards, so a sleep never overshoots.
            whole = self.window is not None and samples >= 2
            server = far if whole else max(near, p.approach_fraction * far)
            server = min(max(server, p.min_interval), p.max_interval)
            server *= 1.0 - p.jitter * self._rand()
        else:
            overdue = max(0.0, execution - average)
            server = min(max(near + p.overdue_growth * overdue, p.min_interval), p.max_interval)
            server = jittered(server, p.jitter, self._rand)
        return max(server / rate, p.min_real_interval)


@dataclass
class _Bucket:
    remaining: int | None = None
    reset_at: float | None = None  # monotonic
    blocked_until: float = 0.0
    in_flight: int = 0


class RateLimiter:
    """Client-side request pacing, shared by every job of one client.

    `reserve()` either takes a slot (returns 0) or says how long to wait before asking
    again; `release()` gives the slot back with what the response said. A lock makes it
    safe across threads; it never blocks for long, so async code can call it directly.

    Args:
        policy: the failure guard and quota reserve.
    """

    _POLL_IN_FLIGHT = 0.02

    def __init__(self, policy: RateLimitPolicy) -> None:
        self._policy = policy
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}
        self._failures: deque[float] = deque()
        self._in_flight = 0

    @property
    def recent_failures(self) -> int:
        """Failed requests inside the current window (for tests and diagnostics)."""
        return len(self._failures)

    def reserve(self, bucket: str, now: float) -> float:
        """Take a slot for a request in `bucket` (returns 0.0), or return seconds to wait."""
        p = self._policy
        with self._lock:
            b = self._buckets.setdefault(bucket, _Bucket())
            while self._failures and self._failures[0] <= now - p.failure_window:
                self._failures.popleft()
            if b.blocked_until > now:
                return b.blocked_until - now
            if p.max_failures is not None and self._failures:
                # Requests in flight may fail too; count them against the allowance.
                if len(self._failures) + self._in_flight >= p.max_failures:
                    if self._in_flight and len(self._failures) < p.max_failures:
                        return self._POLL_IN_FLIGHT
                    return max(self._failures[0] + p.failure_window - now, self._POLL_IN_FLIGHT)
            if b.reset_at is not None and b.reset_at <= now:
                b.remaining, b.reset_at = None, None
            if b.remaining is not None and b.remaining - b.in_flight <= p.reserve:
                if b.reset_at is not None:
                    return b.reset_at - now
            if b.remaining is not None:
                b.remaining -= 1
            b.in_flight += 1
            self._in_flight += 1
            return 0.0

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
            b = self._buckets.setdefault(bucket, _Bucket())
            b.in_flight = max(0, b.in_flight - 1)
            self._in_flight = max(0, self._in_flight - 1)
            if status is not None and status >= 400:
                self._failures.append(now)
            if headers is None:
                return
            h = httpx.Headers(headers) if not isinstance(headers, httpx.Headers) else headers
            remaining = _int_or_none(h.get("x-ratelimit-remaining-requests"))
            if remaining is not None:
                b.remaining = remaining
                reset = parse_retry_after(
                    {"x-ratelimit-reset-requests": h.get("x-ratelimit-reset-requests", "60")},
                    now=wall_now,
                )
                wait = reset if reset is not None else 60.0
                b.reset_at = now + min(wait, self._policy.max_wait)
            if status == 429:
                retry = parse_retry_after(h, now=wall_now)
                wait = min(retry if retry is not None else 1.0, self._policy.max_wait)
                b.blocked_until = max(b.blocked_until, now + wait)


def _int_or_none(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None
