"""When a job will finish: a forecast from the jobs of its kind that finished before it.

Pure code: no I/O, and no clock but the injected wall clock that dates what is learned. All
times are *server* seconds of execution (what the API reports as `execution_duration`), so
the forecast holds at any server speed. What a client learned is saved between runs by
`_modelcache.LearnedTimes`.

With a few finished jobs of the same kind (model, duration, resolution, audio), the
forecast is their finish times, widened on each side by twice the average gap between
them (more while they are few). For `n` samples of a uniform spread, one gap is where the
true ends lie on average; the second keeps the next job inside the window nearly always,
for a few more polls. A window built on three samples is wide, one on thirty tight.
Before that, it is the server's own estimate, `average_execution_time`, which the API
documents as a P80: most jobs finish a little before it, a few after.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._config import PollPolicy

__all__ = ["CompletionStats", "Forecast", "Learned", "job_kind"]

# Finish times needed before they are scaled by how the server's estimate moved.
_SCALE_SAMPLES = 8
# Forecasts kept per kind between two of its finishes, one per estimate jobs asked with.
_BASES_KEPT = 16
# The fields of a queue request that change how long a job takes.
_KIND_FIELDS = ("duration", "resolution", "aspect_ratio", "audio", "upscale_factor")


def job_kind(model: str, body: Mapping[str, Any] | None = None) -> str:
    """The key jobs are learned under: the model, and the request fields that set its time.

    Jobs of one model but of another length or resolution take another time, so they are
    learned apart; with no request at hand (a job from elsewhere), the model alone.
    """
    if not body:
        return model
    parts = [model]
    for name in _KIND_FIELDS:
        value = body.get(name)
        if value is not None:
            parts.append(f"{name}={value}")
    return " ".join(parts)


@dataclass(frozen=True)
class Forecast:
    """Where a job's finish is expected, in server seconds since it was queued.

    `low` and `high` bound the window in which it is expected to finish; `points` (sorted)
    are the finish times it was learned from, none for a forecast from the server's
    estimate alone. The distribution is piecewise linear through the points: `(low, 0)`,
    `(points[i], (i + 1) / (n + 1))`, `(high, 1)`; uniform over the window when there are
    none.
    """

    low: float
    high: float
    points: tuple[float, ...] = ()

    @property
    def learned(self) -> bool:
        """Whether jobs of the kind were seen finish (else: the server's estimate alone)."""
        return bool(self.points)

    @classmethod
    def prior(cls, estimate: float, policy: PollPolicy) -> Forecast:
        """From the server's estimate alone (a P80)."""
        return cls(policy.prior_low * estimate, policy.prior_high * estimate)

    @classmethod
    def from_samples(cls, samples: Sequence[float]) -> Forecast:
        """From two or more finish times."""
        points = tuple(sorted(samples))
        n = len(points)
        if n < 2:
            raise ValueError("a forecast needs at least two samples")
        middle = points[n // 2]
        # The expected gap below the smallest and above the largest of n uniform samples
        # is one average gap. Twice that, and more while the samples are few (a few may
        # understate the spread): the next job falls outside the samples with chance
        # 2 / (n + 1), and a job found ready where the window opens may have waited there
        # long. Never less than a sliver of the time, so equal samples leave a window.
        gap = max((2.0 + 4.0 / n) * (points[-1] - points[0]) / (n - 1), 0.005 * middle)
        return cls(max(0.0, points[0] - gap), points[-1] + gap, points)

    @functools.cached_property
    def _knots(self) -> tuple[tuple[float, float], ...]:
        n = len(self.points)
        inner = ((p, (i + 1) / (n + 1)) for i, p in enumerate(self.points))
        return ((self.low, 0.0), *inner, (self.high, 1.0))

    def cdf(self, x: float) -> float:
        """The chance the job has finished by `x`."""
        if x <= self.low:
            return 0.0
        if x >= self.high:
            return 1.0
        knots = self._knots
        for (x0, p0), (x1, p1) in zip(knots, knots[1:], strict=False):
            if x < x1:  # equal points make a step, passed over here
                return p0 + (p1 - p0) * (x - x0) / (x1 - x0)
        return 1.0

    def quantile(self, q: float) -> float:
        """The time by which the job has finished with chance `q`."""
        if q <= 0.0:
            return self.low
        if q >= 1.0:
            return self.high
        knots = self._knots
        for (x0, p0), (x1, p1) in zip(knots, knots[1:], strict=False):
            if q <= p1:
                return x1 if p1 <= p0 else x0 + (x1 - x0) * (q - p0) / (p1 - p0)
        return self.high

    def median_between(self, seen: float, found: float) -> float | None:
        """Where a job not finished at `seen` and finished by `found` most likely finished:
        the median of the forecast between the two, `None` when it gives them no chance."""
        below, above = self.cdf(seen), self.cdf(found)
        if above - below <= 1e-9:
            return None
        return min(max(self.quantile((below + above) / 2.0), seen), found)

    def chance(self, seen: float, at: float) -> float:
        """The chance a job that had not finished at `seen` has finished by `at`.

        A job seen running past the window is slower than the forecast allows, which then
        says nothing of it: its chance grows by the window's width, from where it was seen.
        So a look at a job just seen running past the window never ranks above one at a
        job not seen since the window opened, which is all but sure to be ready.
        """
        if seen >= self.high:
            width = max(self.high - self.low, 1e-9)
            return max(0.0, min(1.0, (at - seen) / width))
        before = self.cdf(seen)
        return max(0.0, min(1.0, (self.cdf(at) - before) / (1.0 - before)))


@dataclass(frozen=True)
class _Finish:
    at: float  # server seconds after queueing
    estimate: float | None  # the server's estimate while the job ran
    when: float = 0.0  # the wall time it was learned (what a saved copy is merged by)


#: A saved copy of what a client learned (see `CompletionStats.export`): per kind, its
#: finishes as `[at, estimate or None, when]`; per model, the server's estimate as
#: `[estimate, when]`. Plain JSON.
Learned = dict[str, dict[str, list[Any]]]


class CompletionStats:
    """What one client has learned about job times: thread-safe, one per client.

    Each finished job adds its finish time under its kind (`job_kind`), with the server's
    estimate at the time. A forecast uses the recent finish times as they are, or, when
    that makes them agree much more closely, scaled by how the server's estimate has moved
    since: the first is right when the estimate wanders for reasons of its own, the second
    when it follows a change in the service (a busier hour). Only the last `policy.keep`
    jobs count.

    What was learned can be saved (`export`) and taken up again by another client, in this
    run or a later one (`absorb`), so that a new process starts from the finish times of
    the jobs before it instead of the server's estimate alone.

    Args:
        rate: the server's clock rate when it is known in advance (the hosted API runs at
            real time, 1.0); else it is measured on the first job.
        clock: the wall clock that dates each finish (injectable for tests).
    """

    def __init__(
        self, *, rate: float | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self._lock = threading.Lock()
        self._finishes: dict[str, deque[_Finish]] = {}
        # The server's last estimate per model, and its clock rate (one server per client):
        # enough to time a new job's first poll without asking first.
        self._estimates: dict[str, tuple[float, float]] = {}
        self._rate = rate
        self._clock = clock
        # Per kind, the oldest age (server seconds) a job was seen still running at: kept in
        # this client only, for jobs of a kind not learned yet (see `running`).
        self._running: dict[str, float] = {}
        # Per kind, the jobs followed now: the age each was last seen running at, and the
        # wall time it was seen (see `forecast`).
        self._live: dict[str, dict[str, tuple[float, float]]] = {}
        # Jobs ask for their forecast again and again, and what it is made of rarely changes
        # in between. Per kind, dropped by each change of its finishes: the forecast from the
        # finishes alone per estimate asked with (each job asks with its own last answer's),
        # and the policy they were made under. Per kind and job: the forecast stretched by
        # other jobs' ages, with the one it stretched and those ages.
        self._bases: dict[str, tuple[PollPolicy, dict[float | None, Forecast | None]]] = {}
        self._made: dict[tuple[str, str | None], tuple[Forecast, tuple[float, ...], Forecast]] = {}
        #: Bumped by every change worth saving (a finish, a new estimate).
        self.changes = 0

    def record(
        self,
        kind: str,
        finished: float,
        estimate: float | None,
        *,
        keep: int,
        job: str | None = None,
    ) -> None:
        """A job of `kind` finished `finished` server seconds after it was queued (`job`,
        its id, is no longer followed)."""
        if job is not None:
            self.forget(kind, job)
        if finished <= 0:
            return
        finish = _Finish(finished, estimate if estimate and estimate > 0 else None, self._clock())
        with self._lock:
            self._keep(kind, keep).append(finish)
            self.changes += 1

    def seen_running(self, kind: str, age: float, *, job: str | None = None) -> None:
        """A job of `kind` (`job`, its id, when it is followed) was still running `age`
        server seconds after it was queued."""
        with self._lock:
            if age > self._running.get(kind, 0.0):
                self._running[kind] = age
            if job is not None:
                self._live.setdefault(kind, {})[job] = (age, self._clock())

    def forget(self, kind: str, job: str) -> None:
        """`job` is no longer followed: it finished, failed, or its wait ended."""
        with self._lock:
            self._made.pop((kind, job), None)
            live = self._live.get(kind)
            if live is not None and live.pop(job, None) is not None and not live:
                del self._live[kind]

    def running(self, kind: str) -> float:
        """The oldest age a job of `kind` was seen still running at in this client (0 when
        none was): the kind is not far quicker than that, so a look at a younger job of it,
        only to catch it far quicker than the server's estimate, is not worth its request."""
        with self._lock:
            return self._running.get(kind, 0.0)

    def remember(self, model: str, estimate: float | None, rate: float | None) -> None:
        """The server's latest estimate for `model` (seconds), and its measured clock rate."""
        with self._lock:
            if estimate is not None and estimate > 0:
                known = self._estimates.get(model)
                if known is None or known[0] != estimate:
                    self._estimates[model] = (estimate, self._clock())
                    self.changes += 1
            if rate is not None:
                self._rate = rate

    def estimate(self, model: str) -> float | None:
        """The server's last estimate for `model`, in seconds, if one was seen."""
        with self._lock:
            known = self._estimates.get(model)
            return known[0] if known is not None else None

    def export(self) -> Learned:
        """What was learned, as plain JSON (see `Learned`)."""
        with self._lock:
            return {
                "finishes": {
                    kind: [[f.at, f.estimate, f.when] for f in finishes]
                    for kind, finishes in self._finishes.items()
                },
                "estimates": {model: list(known) for model, known in self._estimates.items()},
            }

    def absorb(self, saved: Learned, *, keep: int, since: float) -> None:
        """Take up what another client learned (an `export()`, maybe read from a file):
        its finishes and estimates dated `since` or later. Finishes already known are not
        counted twice; a kind keeps the `keep` most recent. A malformed part is skipped."""
        with self._lock:
            for kind, rows in _items(saved.get("finishes")):
                finishes = self._keep(str(kind), keep)
                merged = set(finishes)
                saved_rows = rows if isinstance(rows, list) else []
                merged.update(f for f in map(_finish, saved_rows) if f and f.when >= since)
                finishes.clear()  # refilled oldest first: the deque keeps the newest `keep`
                finishes.extend(sorted(merged, key=lambda f: (f.when, f.at)))
            for model, row in _items(saved.get("estimates")):
                try:
                    estimate, when = float(row[0]), float(row[1])
                except (TypeError, ValueError, IndexError, KeyError):
                    continue
                known = self._estimates.get(str(model))
                if estimate > 0 and when >= since and (known is None or known[1] < when):
                    self._estimates[str(model)] = (estimate, when)

    def _keep(self, kind: str, keep: int) -> deque[_Finish]:
        """The finishes of `kind`, about to change (under the lock)."""
        self._bases.pop(kind, None)
        finishes = self._finishes.get(kind)
        if finishes is None or finishes.maxlen != keep:
            finishes = self._finishes[kind] = deque(finishes or (), maxlen=max(1, keep))
        return finishes

    @property
    def rate(self) -> float | None:
        """The server's clock rate measured on earlier jobs, if any."""
        with self._lock:
            return self._rate

    def samples(self, kind: str) -> int:
        """How many finish times are kept for `kind`."""
        with self._lock:
            return len(self._finishes.get(kind, ()))

    def forecast(
        self, kind: str, estimate: float | None, policy: PollPolicy, *, job: str | None = None
    ) -> Forecast | None:
        """The forecast for a job of `kind` (`job`, its id, if it is followed) while the
        server estimates `estimate` seconds; `None` when there is nothing to go on.

        The first jobs of a batch to finish are its quickest, so finish times alone place
        the window too early while the rest still run. Each other job of the kind followed
        now and already older than every finish counts as finishing at the age it was last
        seen running at, the least it will take: the window reaches past the oldest of them
        while they run. The job itself is left out, so that one job far slower than its kind
        is still let go of, its pauses growing past the window.
        """
        with self._lock:
            known = self._bases.get(kind)
            if known is None or known[0] is not policy:
                known = self._bases[kind] = (policy, {})
            bases = known[1]
            if estimate in bases:
                base = bases[estimate]
            else:
                if len(bases) >= _BASES_KEPT:  # an estimate wandering between finishes
                    bases.clear()
                finishes = tuple(self._finishes.get(kind, ()))
                base = bases[estimate] = self._make(finishes, estimate, policy)
            if base is None or not base.points:
                return base  # from the estimate alone: no finish for an age to pass
            # A job not seen for a while is no longer followed by anyone (a wait that ended
            # without word): its age says nothing more.
            horizon = self._clock() - 2.0 * policy.max_interval
            latest = base.points[-1]
            stretch = tuple(
                sorted(
                    age
                    for other, (age, when) in self._live.get(kind, {}).items()
                    if age > latest and other != job and when >= horizon
                )
            )
            if not stretch:
                return base
            made_for = self._made.get((kind, job))
            if made_for is not None and made_for[0] is base and made_for[1] == stretch:
                return made_for[2]
            forecast = Forecast.from_samples(base.points + stretch)
            self._made[(kind, job)] = (base, stretch, forecast)
            return forecast

    @staticmethod
    def _make(
        finishes: Sequence[_Finish], estimate: float | None, policy: PollPolicy
    ) -> Forecast | None:
        if len(finishes) >= max(2, policy.min_samples):
            points = [f.at for f in finishes]
            if len(finishes) >= _SCALE_SAMPLES and estimate and all(f.estimate for f in finishes):
                # Only when clearly better: with few samples, a tighter spread by chance
                # would move the whole window by however much the estimate moved.
                scaled = [f.at * estimate / (f.estimate or 1.0) for f in finishes]
                if _relative_range(scaled) < 0.75 * _relative_range(points):
                    points = scaled
            return Forecast.from_samples(points)
        if estimate:
            return Forecast.prior(estimate, policy)
        return None


def _items(value: Any) -> list[tuple[Any, Any]]:
    return list(value.items()) if isinstance(value, Mapping) else []


def _finish(row: Any) -> _Finish | None:
    """A saved finish, `[at, estimate or None, when]`, if it is one."""
    try:
        at, estimate, when = float(row[0]), row[1], float(row[2])
        estimate = float(estimate) if estimate is not None else None
    except (TypeError, ValueError, IndexError, KeyError):
        return None
    if not (at > 0 and math.isfinite(at) and math.isfinite(when)):
        return None
    return _Finish(at, estimate if estimate and estimate > 0 else None, when)


def _relative_range(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = ordered[len(ordered) // 2]
    return (ordered[-1] - ordered[0]) / middle if middle > 0 else float("inf")
