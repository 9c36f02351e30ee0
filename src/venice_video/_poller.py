"""Following one job: a pure state machine from retrieve answers to decisions.

The wait flow asks a `Poller` what to do, does it, and hands back what happened:

    decision = poller.begin(now)
    while decision is a Sleep:
        sleep until decision.until
        if poller.reconsider(now) gives a later Sleep: that is the decision; go on
        poll /video/retrieve
        decision = poller.answer(payload, sent=..., received=...)    # an HTTP answer
                or poller.error(exc, now=..., retry_after=...)        # no usable answer
    Ready: stream the video.  Failed: raise JobFailedError.  Reraise: raise the error.

Every decision carries the job changes to record (`changes`, and `persist` when they go to
the journal), so the flow holds no state of its own. The poller reads no clock and does
no I/O: all times come in as arguments (the client's monotonic seconds), which is what
lets the tests drive it through a table of answers.

How it paces (see `PollPolicy`): it knows the job's age in server seconds (from the queue
time, then from each `execution_duration`) and forecasts when the job will finish (see
`_forecast`). Until the forecast window opens it sleeps; inside the window it polls every
`target_lag` seconds or a little less, so a job that becomes ready waits at most that long;
past the window the pauses grow. Each poll also carries its chance of finding the job
ready, which the retrieve scheduler uses to serve the likeliest jobs first when many
compete for one key's budget.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._config import PollPolicy, RetryPolicy
from ._exceptions import APIStatusError
from ._forecast import CompletionStats, Forecast
from ._models import Progress
from ._polling import backoff_delay, jittered

__all__ = [
    "Decision",
    "Failed",
    "Poller",
    "Ready",
    "Reraise",
    "Sleep",
    "failed_status",
    "is_refunded",
    "timing",
]

logger = logging.getLogger("venice_video")

Random = Callable[[], float]

# Statuses of a job this process queued, or knows nothing more of: the first PROCESSING
# answer is worth a journal write. Later ones only update the job in memory.
_NOT_YET_PROCESSING = ("QUEUED", "QUEUING", "UNKNOWN")


@dataclass(frozen=True)
class Sleep:
    """Poll again at `until` (the client's monotonic clock; at once if it has passed).

    Attributes:
        until: when to send the next retrieve.
        priority: the chance that poll finds the job ready, for the retrieve scheduler.
        changes: job fields learned from this answer.
        persist: whether `changes` go to the journal (else: to the job in memory only).
        progress: what to report to the progress callback, if anything.
    """

    until: float
    priority: float = 1.0
    changes: Mapping[str, Any] = field(default_factory=dict)
    persist: bool = False
    progress: Progress | None = None


@dataclass(frozen=True)
class Ready:
    """The video is ready: stream it (the answer was the video) or fetch its URL."""

    changes: Mapping[str, Any] = field(default_factory=dict)
    persist: bool = False


@dataclass(frozen=True)
class Failed:
    """The job failed on the server: record `changes` and raise `JobFailedError(message)`,
    with `body`, the retrieve answer that reported the failure, when one did."""

    message: str
    changes: Mapping[str, Any] = field(default_factory=dict)
    persist: bool = True
    body: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Reraise:
    """An error that says nothing about the job (a bad key, no credit): raise it as it is."""

    changes: Mapping[str, Any] = field(default_factory=dict)
    persist: bool = False


Decision = Sleep | Ready | Failed | Reraise


class Poller:
    """Decides, answer by answer, when to poll one job and when it is over.

    Args:
        policy: the pacing.
        retry: the backoff after errors.
        queue_id: the job's API id (for messages).
        model: the job's model (the server's estimate is per model).
        status: the job's status when the wait begins.
        kind: what the job's times are learned under (`job_kind`).
        stats: what the client has learned; updated as answers come in.
        queued_at: the client's monotonic time the job was queued, if this process queued
            it: with a clock rate known from earlier jobs, the first poll can be timed.
        now: the client's monotonic time the wait begins.
        rand: uniform `[0, 1)` numbers, for jitter.
    """

    def __init__(
        self,
        policy: PollPolicy,
        retry: RetryPolicy,
        *,
        queue_id: str,
        model: str,
        status: str,
        kind: str,
        stats: CompletionStats,
        queued_at: float | None,
        now: float,
        rand: Random,
    ) -> None:
        self._policy = policy
        self._retry = retry
        self.queue_id = queue_id
        self.model = model
        self.status = status
        self.kind = kind
        self._stats = stats
        self._queued_at = queued_at
        self._begun = now
        self._rand = rand
        self.polls = 0
        self._errors = 0
        self._server_errors = 0
        self._estimate: float | None = None  # the server's estimate, server seconds
        self._seen: float | None = None  # the job's age at its last PROCESSING answer
        self._last: tuple[float, float] | None = None  # (client time, server age)
        self._planned: Forecast | None = None  # the forecast the next poll was timed by
        self._approaching = False  # whether the next poll is before the window opens
        # Decayed sums of server seconds and client seconds between observations.
        self._sum_server = 0.0
        self._sum_client = 0.0

    # ------------------------------------------------------------------ what it knows

    @property
    def rate(self) -> float | None:
        """Server seconds per client second: measured on this job, else on earlier ones."""
        if self._sum_client > 0.0:
            rate = self._sum_server / self._sum_client
            return min(max(rate, 1.0), self._policy.max_rate)
        return self._stats.rate

    def age(self, now: float) -> float | None:
        """The job's age at `now`, in server seconds, if it can be told."""
        rate = self.rate
        if self._last is not None:
            at, age = self._last
            return age + (now - at) * (rate or 1.0)
        if self._queued_at is not None and rate is not None:
            return max(0.0, now - self._queued_at) * rate
        return None

    def forecast(self) -> Forecast | None:
        """When the job is expected to finish, in server seconds since it was queued."""
        estimate = self._estimate or self._stats.estimate(self.model)
        return self._stats.forecast(self.kind, estimate, self._policy, job=self.queue_id)

    # ------------------------------------------------------------------ events

    def begin(self, now: float) -> Sleep:
        """The first decision: poll at once, or sleep until the job may be ready."""
        forecast = self.forecast()
        if forecast is None or self.age(now) is None:
            return Sleep(until=now)
        return self._plan(now, forecast)

    def answer(
        self, payload: Mapping[str, Any] | None, *, sent: float, received: float
    ) -> Decision:
        """An HTTP 200 from retrieve: its JSON body, or `None` when it was the video."""
        self.polls += 1
        self._errors = 0
        failed = failed_status(payload)
        if failed:
            return Failed(
                f"job {self.queue_id} failed ({failed})",
                {"status": "FAILED", "error": f"the API reported {failed}"},
                body=payload,
            )
        at = (sent + received) / 2.0
        if payload is None or payload.get("status") == "COMPLETED":
            done = timing(payload) if payload is not None else {}
            self._learn(at, done.get("execution_ms"))
            if self.status == "READY":
                return Ready()
            self.status = "READY"
            return Ready({"status": "READY", **done}, persist=True)
        self._server_errors = 0
        times = timing(payload)
        average, execution = times.get("average_execution_ms"), times.get("execution_ms")
        if execution is not None:
            self._observe(at, execution / 1000.0)
        running = self.age(at)
        if running is not None:
            self._stats.seen_running(self.kind, running, job=self.queue_id)
        if average:
            self._estimate = average / 1000.0
        self._stats.remember(self.model, self._estimate, self.rate)
        persist = self.status in _NOT_YET_PROCESSING
        changes: dict[str, Any] = dict(times)
        if persist:
            self.status = "PROCESSING"
            changes["status"] = "PROCESSING"
        forecast = self.forecast()
        sleep = self._plan(received, forecast)
        progress = Progress(
            phase="processing",
            status="PROCESSING",
            elapsed_s=received - self._begun,
            eta_s=self._eta(received, forecast),
            average_execution_ms=average,
            execution_ms=execution,
            queue_id=self.queue_id,
        )
        return Sleep(sleep.until, sleep.priority, changes, persist, progress)

    def chance(self, now: float, planned: float) -> float:
        """The chance a poll sent at `now` finds the job ready, the poll having been planned
        with chance `planned`: more than that once it has waited past its time for a slot in
        the key's budget, since the job kept running meanwhile and other jobs of its kind
        may have finished, placing the window better (the retrieve scheduler asks again at
        each turn, so a look kept waiting gains on fresh ones as its job does)."""
        forecast, age = self.forecast(), self.age(now)
        if forecast is None or age is None:
            return planned
        seen = self._seen if self._seen is not None else 0.0
        return max(planned, forecast.chance(seen, age))

    def leave(self) -> None:
        """The wait is over, however it ended: the job is no longer followed."""
        self._stats.forget(self.kind, self.queue_id)

    def reconsider(self, now: float) -> Sleep | None:
        """Just before a planned poll: a later one instead, when other jobs of its kind made
        this one pointless since it was planned; `None` to poll now.

        A poll before the window opens, or at the opening of a window guessed from the
        server's estimate, is there only in case the job is quicker than the estimate says.
        Once another job of its kind was seen still running at about this job's age (a batch
        queued together), the kind is not: the job sleeps on to the window, or one step
        into it, and one job of the batch, not each, looks on the way.
        """
        if not self._approaching:
            return None
        forecast, age = self.forecast(), self.age(now)
        if forecast is None or age is None or not self._known_running(forecast, age):
            return None
        return self._plan(now, forecast)

    def error(self, exc: Exception, *, now: float, retry_after: float | None) -> Decision:
        """A retrieve that brought no usable answer: an HTTP error, a lost connection, or a
        body that could not be read. `retry_after` is the server's `Retry-After`, if any."""
        self.polls += 1
        if isinstance(exc, APIStatusError):
            if exc.status_code in (401, 402, 403):
                return Reraise()
            retryable = exc.status_code in self._retry.retry_statuses
            if exc.status_code == 500:
                # A refund means the job is over; any other 500 may be a passing fault.
                self._server_errors += 1
                retryable = not is_refunded(exc) and (
                    self._server_errors < self._policy.max_consecutive_server_errors
                )
            if not retryable:
                return Failed(
                    f"job {self.queue_id} failed: {exc.message}",
                    {"status": "FAILED", "error": f"the API reported a failure: {exc}"},
                )
        self._errors += 1
        delay = backoff_delay(self._retry, self._errors, retry_after=retry_after, rand=self._rand)
        delay = min(delay, self._retry.max_retry_after)
        logger.info("retrieve failed (%s); polling again in %.2fs", exc, delay)
        return Sleep(until=now + delay)

    # ------------------------------------------------------------------ pacing

    def _observe(self, at: float, age: float) -> None:
        previous = self._last
        if previous is None and self._queued_at is not None:
            previous = (self._queued_at, 0.0)
        if previous is not None and at > previous[0] and age > previous[1]:
            decay = 0.6
            self._sum_server = self._sum_server * decay + (age - previous[1])
            self._sum_client = self._sum_client * decay + (at - previous[0])
        self._last = (at, age)
        self._seen = age

    def _learn(self, at: float, execution_ms: float | None) -> None:
        """Record when a job that was just found ready finished (server seconds)."""
        found = self.age(at)
        if found is None:
            return
        seen = self._seen
        if seen is None:
            # Ready at the first look, so it finished some time before: taken to be as far
            # below the window's opening as the opening is below the earliest finish seen.
            # That keeps the forecast from drifting late: a window that opened too late
            # opens earlier for the next job, and earlier again if that one is missed too.
            planned = self._planned
            below = 0.05 * found
            if planned is not None and planned.learned:
                below = max(planned.points[0] - planned.low, 0.005 * found)
            self._stats.record(
                self.kind, found - below, self._estimate, keep=self._policy.keep, job=self.queue_id
            )
            return
        found = max(found, seen)
        if execution_ms is not None and seen <= execution_ms / 1000.0 <= found + 1.0:
            finished = execution_ms / 1000.0  # the server's own figure, when it gives one
        else:
            # Between the last look and this one, where jobs of its kind finish: the middle
            # of a long gap (a look far before the window, or a key's budget that kept the
            # job waiting) would teach the next window to open far too early.
            forecast = self.forecast()
            likeliest = forecast.median_between(seen, found) if forecast is not None else None
            finished = likeliest if likeliest is not None else (seen + found) / 2.0
        self._stats.record(
            self.kind, finished, self._estimate, keep=self._policy.keep, job=self.queue_id
        )

    def _plan(self, now: float, forecast: Forecast | None) -> Sleep:
        p = self._policy
        rate = self.rate
        age = self.age(now)
        if rate is None or age is None:
            # The clock rate is unknown: a short probe measures it.
            seconds = max(jittered(p.probe_interval, p.jitter, self._rand), p.min_real_interval)
            return Sleep(until=now + seconds)
        if forecast is None:
            # No estimate from the server at all: pauses growing with the job's age.
            target = age + min(max(0.1 * age, p.target_lag, p.min_interval), p.max_interval)
            return Sleep(until=now + max((target - age) / rate, p.min_real_interval))
        target = self.next_poll(forecast, age)
        self._planned = forecast
        # A look at the opening of a window guessed from the estimate is, like one before it,
        # there only in case the job is quicker than the estimate says.
        self._approaching = target < forecast.low or (
            target <= forecast.low and not forecast.learned
        )
        seen = self._seen if self._seen is not None else 0.0
        seconds = max((target - age) / rate, p.min_real_interval)
        return Sleep(until=now + seconds, priority=forecast.chance(seen, target))

    def step(self, forecast: Forecast) -> float:
        """The pause between polls inside the window: the window divided evenly into steps
        of at most `target_lag` (server seconds)."""
        p = self._policy
        lag = max(p.target_lag, p.min_interval)
        width = forecast.high - forecast.low
        return max(width / math.ceil(width / lag) if width > 0 else lag, p.min_interval)

    def next_poll(self, forecast: Forecast, age: float) -> float:
        """The age (server seconds) at which to poll next, the job being `age` now."""
        p = self._policy
        step = self.step(forecast)
        # A job polled less than a step before the window opens (the window moved as
        # other jobs finished) is already being watched closely: no extra look at the
        # opening.
        if age < forecast.low - step:
            # The first poll goes exactly where the window opens: a job found ready there
            # finished before it, which tells the forecast to open earlier next time.
            gap = forecast.low - age
            if forecast.learned or gap <= 8.0 * step:
                return forecast.low
            # Before a window guessed from the estimate alone: close in by halves, unless
            # jobs of its kind were seen still running at that age.
            approach = age + gap * p.approach_fraction * (1.0 - p.jitter * self._rand())
            return forecast.low if self._known_running(forecast, approach) else approach
        if age < forecast.high:
            return age + step
        overdue = age - forecast.high
        pause = min(step + p.overdue_growth * overdue, max(p.max_interval, step))
        return age + max(jittered(pause, p.jitter, self._rand), p.min_interval)

    def _known_running(self, forecast: Forecast, age: float) -> bool:
        """Whether a job of this kind was seen still running within a step of `age`."""
        return self._stats.running(self.kind) >= age - self.step(forecast)

    def _eta(self, now: float, forecast: Forecast | None) -> float | None:
        age = self.age(now)
        if forecast is None or age is None:
            return None
        return max(forecast.quantile(0.5) - age, 0.0) / (self.rate or 1.0)


# --------------------------------------------------------------------------- answers


def timing(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The server's timings in a retrieve answer, as job fields (milliseconds)."""
    times: dict[str, Any] = {}
    if isinstance(payload.get("average_execution_time"), int | float):
        times["average_execution_ms"] = float(payload["average_execution_time"])
    if isinstance(payload.get("execution_duration"), int | float):
        times["execution_ms"] = float(payload["execution_duration"])
    return times


def failed_status(payload: Mapping[str, Any] | None) -> str | None:
    """The failure a retrieve answer reports, if it reports one."""
    if payload is None:
        return None
    status = str(payload.get("status", "")).upper()
    # No official source has a FAILED body, but one client library models it.
    return status if status in ("FAILED", "ERROR", "CANCELLED") else None


def is_refunded(exc: APIStatusError) -> bool:
    """Whether an error says the job's credits were refunded (so the job is over)."""
    body: Mapping[str, Any] = exc.body if isinstance(exc.body, Mapping) else {}
    error = body.get("error")
    inner: Mapping[str, Any] = error if isinstance(error, Mapping) else {}
    return (
        body.get("credits_refunded") is True
        or inner.get("credits_refunded") is True
        or exc.code == "INFERENCE_FAILED"
    )
