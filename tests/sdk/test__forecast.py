"""Forecasts of a job's finish: from the server's estimate, then from finished jobs."""

from __future__ import annotations

import random
import threading

import pytest

from venice_video import PollPolicy
from venice_video._forecast import CompletionStats, Forecast, job_kind

POLICY = PollPolicy()


def test_job_kind_separates_what_changes_a_job_time() -> None:
    body = {"model": "m", "prompt": "a", "duration": "5s", "resolution": "720p", "audio": True}
    assert job_kind("m", body) == "m duration=5s resolution=720p audio=True"
    assert job_kind("m", {**body, "prompt": "b"}) == job_kind("m", body)
    assert job_kind("m", {**body, "duration": "10s"}) != job_kind("m", body)
    assert job_kind("m", None) == "m"


def test_prior_spans_the_policy_fractions_of_the_estimate() -> None:
    forecast = Forecast.prior(100.0, POLICY)
    assert (forecast.low, forecast.high) == (pytest.approx(60.0), pytest.approx(130.0))
    assert not forecast.learned
    assert forecast.cdf(95.0) == pytest.approx(0.5)
    assert forecast.quantile(0.5) == pytest.approx(95.0)


def test_learned_window_widens_by_the_expected_gap_more_when_samples_are_few() -> None:
    few = Forecast.from_samples([90.0, 100.0, 110.0])
    # gap = (2 + 4/3) * 20 / 2
    assert few.low == pytest.approx(90.0 - 100.0 / 3)
    assert few.high == pytest.approx(110.0 + 100.0 / 3)
    many = Forecast.from_samples([90.0 + 20.0 * i / 29 for i in range(30)])
    assert 90.0 - many.low < 1.5 and many.high - 110.0 < 1.5
    same = Forecast.from_samples([50.0, 50.0, 50.0])
    assert same.low < 50.0 < same.high  # equal samples still leave a window


def test_cdf_and_quantile_are_inverse_and_monotonic() -> None:
    forecast = Forecast.from_samples([3.0, 1.0, 2.0, 2.0, 5.0])
    xs = [forecast.low + i * (forecast.high - forecast.low) / 50 for i in range(51)]
    ps = [forecast.cdf(x) for x in xs]
    assert ps == sorted(ps) and ps[0] == 0.0 and ps[-1] == 1.0
    for q in (0.1, 0.3, 0.5, 0.9):
        assert forecast.cdf(forecast.quantile(q)) == pytest.approx(q)


def test_chance_is_conditional_on_not_being_ready_before() -> None:
    forecast = Forecast(0.0, 10.0)
    assert forecast.chance(0.0, 5.0) == pytest.approx(0.5)
    assert forecast.chance(5.0, 7.5) == pytest.approx(0.5)
    assert forecast.chance(8.0, 11.0) == 1.0  # the window closes before the look


def test_a_job_seen_running_past_the_window_gains_its_chance_over_the_window_width() -> None:
    # The forecast was wrong about it: a look just after says little, one a window later all.
    forecast = Forecast(20.0, 30.0)
    assert forecast.chance(30.0, 31.0) == pytest.approx(0.1)
    assert forecast.chance(35.0, 40.0) == pytest.approx(0.5)
    assert forecast.chance(35.0, 50.0) == 1.0
    # So a look at a job not seen since the window opened ranks above it.
    assert forecast.chance(21.0, 37.0) > forecast.chance(35.0, 37.0)


def test_a_learned_window_covers_the_next_jobs() -> None:
    """With 30 samples of a uniform spread, few later jobs fall outside the window."""
    rng = random.Random(3)
    outside = 0
    for _ in range(200):
        samples = [rng.uniform(75.0, 125.0) for _ in range(30)]
        forecast = Forecast.from_samples(samples)
        x = rng.uniform(75.0, 125.0)
        outside += not forecast.low <= x <= forecast.high
    assert outside <= 4  # about 2 / 31 (13 of 200) expected without the widening


def test_stats_need_min_samples_then_forecast_from_them() -> None:
    stats = CompletionStats()
    assert stats.forecast("k", None, POLICY) is None
    assert stats.forecast("k", 100.0, POLICY) == Forecast.prior(100.0, POLICY)
    for x in (95.0, 100.0):
        stats.record("k", x, 100.0, keep=30)
    assert not stats.forecast("k", 100.0, POLICY).learned  # type: ignore[union-attr]
    stats.record("k", 105.0, 100.0, keep=30)
    forecast = stats.forecast("k", 100.0, POLICY)
    assert forecast is not None and forecast.points == (95.0, 100.0, 105.0)
    assert stats.forecast("other", None, POLICY) is None


def test_stats_scale_by_the_estimate_when_that_explains_the_jobs_better() -> None:
    stats = CompletionStats()
    # The service slowed down and the estimate followed: finish / estimate is steady.
    for i in range(8):
        stats.record("k", 50.0 + 10.0 * i, 50.0 + 10.0 * i, keep=30)
    forecast = stats.forecast("k", 140.0, POLICY)
    assert forecast is not None and forecast.points == pytest.approx((140.0,) * 8)
    # The estimate wandered on its own: the finish times as they are.
    steady = CompletionStats()
    for i in range(8):
        steady.record("k", 99.0 + i % 3, 50.0 + 20.0 * i, keep=30)
    forecast = steady.forecast("k", 100.0, POLICY)
    assert forecast is not None and forecast.points == (99.0,) * 3 + (100.0,) * 3 + (101.0,) * 2
    # With few samples, never: a spread tighter by chance would move the whole window.
    few = CompletionStats()
    for i in range(4):
        few.record("k", 50.0 + 10.0 * i, 50.0 + 10.0 * i, keep=30)
    forecast = few.forecast("k", 140.0, POLICY)
    assert forecast is not None and forecast.points == (50.0, 60.0, 70.0, 80.0)


def test_stats_keep_only_recent_jobs() -> None:
    stats = CompletionStats()
    stats.record("k", 10.0, None, keep=3)
    for _ in range(3):
        stats.record("k", 50.0, None, keep=3)
    assert stats.samples("k") == 3
    forecast = stats.forecast("k", None, POLICY)
    assert forecast is not None and forecast.points == (50.0, 50.0, 50.0)


def test_stats_remember_the_estimate_and_rate() -> None:
    stats = CompletionStats()
    assert stats.estimate("m") is None and stats.rate is None
    stats.remember("m", 30.0, 10.0)
    stats.remember("m", None, None)  # nothing new: nothing forgotten
    assert stats.estimate("m") == 30.0 and stats.rate == 10.0


def test_stats_are_safe_across_threads() -> None:
    stats = CompletionStats()

    def work() -> None:
        for i in range(300):
            stats.record("k", 1.0 + i, 2.0, keep=30)
            stats.forecast("k", 2.0, POLICY)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert stats.samples("k") == 30


class WallClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_other_jobs_still_running_past_every_finish_stretch_the_window_past_them() -> None:
    clock = WallClock()
    stats = CompletionStats(clock=clock)
    for x in (30.0, 31.0, 32.0):
        stats.record("k", x, None, keep=30)
    alone = stats.forecast("k", None, POLICY, job="a")
    assert alone is not None and alone.high < 36.0
    stats.seen_running("k", 40.0, job="b")  # a slower job of the batch, still running
    stats.seen_running("k", 31.5, job="c")  # younger than the last finish: says nothing new
    stretched = stats.forecast("k", None, POLICY, job="a")
    assert stretched is not None and stretched.high > 40.0
    assert stretched.points == (30.0, 31.0, 32.0, 40.0)
    # Not for the slow job itself: alone past the window, it is let go of.
    itself = stats.forecast("k", None, POLICY, job="b")
    assert itself == alone
    # Nor once it finished, nor when it was last seen long ago (its wait ended unannounced).
    stats.record("k", 41.0, None, keep=30, job="b")
    assert stats.forecast("k", None, POLICY, job="a").points == (30.0, 31.0, 32.0, 41.0)  # type: ignore[union-attr]
    stats.seen_running("k", 60.0, job="d")
    clock.now += 2.0 * POLICY.max_interval + 1.0
    assert stats.forecast("k", None, POLICY, job="a").points == (30.0, 31.0, 32.0, 41.0)  # type: ignore[union-attr]
    stats.seen_running("k", 70.0, job="e")
    stats.forget("k", "e")
    assert stats.forecast("k", None, POLICY, job="a").high < 60.0  # type: ignore[union-attr]


def test_a_forecast_is_made_again_only_when_what_it_is_made_of_changed() -> None:
    stats = CompletionStats()
    for x in (30.0, 31.0, 32.0):
        stats.record("k", x, None, keep=30)
    first = stats.forecast("k", None, POLICY, job="a")
    assert stats.forecast("k", None, POLICY, job="a") is first
    # Unstretched, it is the kind's, shared by its jobs; a job younger than every finish
    # changes nothing.
    assert stats.forecast("k", None, POLICY, job="c") is first
    stats.seen_running("k", 20.0, job="b")
    assert stats.forecast("k", None, POLICY, job="a") is first
    stats.seen_running("k", 40.0, job="b")  # older than every finish: it stretches
    stretched = stats.forecast("k", None, POLICY, job="a")
    assert stretched is not first and stretched == stats.forecast("k", None, POLICY, job="c")
    assert stats.forecast("k", None, POLICY, job="a") is stretched
    assert stats.forecast("k", None, POLICY, job="b") is first  # not by its own age
    stats.seen_running("k", 41.0, job="b")
    assert stats.forecast("k", None, POLICY, job="a").points[-1] == 41.0  # type: ignore[union-attr]
    stats.forget("k", "b")
    stats.record("k", 33.0, None, keep=30)
    assert stats.forecast("k", None, POLICY, job="a").points[-1] == 33.0  # type: ignore[union-attr]
    stats.absorb({"finishes": {"k": [[34.0, None, 1e12]]}}, keep=30, since=0.0)
    assert stats.forecast("k", None, POLICY, job="a").points[-1] == 34.0  # type: ignore[union-attr]
    assert stats.forecast("k", 50.0, POLICY, job="a") is not stats.forecast(
        "k", None, POLICY, job="a"
    )
    # Jobs asking with estimates of their own do not remake each other's.
    by_a = stats.forecast("k", 50.0, POLICY, job="a")
    stats.forecast("k", 51.0, POLICY, job="b")
    assert stats.forecast("k", 50.0, POLICY, job="a") is by_a
