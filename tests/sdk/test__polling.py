"""The pure decisions: poll pacing, backoff, retry, queue outcomes, the shared rate limiter."""

from __future__ import annotations

import random
import threading

import httpx
import pytest

from venice_video import PollPolicy, RateLimitPolicy, RetryPolicy
from venice_video._exceptions import (
    APIConnectionError,
    make_status_error,
)
from venice_video._polling import (
    CompletionStats,
    PollPacer,
    QueueDecision,
    RateLimiter,
    backoff_delay,
    classify_queue_error,
    should_retry,
)

NO_JITTER = PollPolicy(jitter=0.0)


def status_error(status: int, **headers: str) -> Exception:
    request = httpx.Request("POST", "http://fake.test/api/v1/video/queue")
    return make_status_error(
        httpx.Response(status, json={"error": "x"}, headers=headers, request=request)
    )


def simulate(speed: float, average_s: float, *, start: float = 0.0) -> tuple[PollPacer, float]:
    """Two polls of a job on a server whose clock runs `speed` times real time."""
    pacer = PollPacer(NO_JITTER, started_at=start, rand=lambda: 0.5)
    now = start + 0.01
    pacer.observe(now, average_s * 1000, (now - start) * speed * 1000)
    now += pacer.next_delay(now)
    pacer.observe(now, average_s * 1000, (now - start) * speed * 1000)
    return pacer, now


@pytest.mark.parametrize("speed", [1.0, 10.0, 100.0, 1000.0])
def test_pacer_learns_the_server_clock_rate(speed: float) -> None:
    pacer, _ = simulate(speed, average_s=60.0)
    assert pacer.rate == pytest.approx(speed, rel=1e-6)


@pytest.mark.parametrize("speed", [1.0, 100.0])
def test_pacer_halves_the_time_left_in_real_seconds(speed: float) -> None:
    pacer, now = simulate(speed, average_s=60.0)
    execution = now * speed
    expected = 0.5 * (0.9 * 60.0 - execution) / speed
    assert pacer.next_delay(now) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("speed", [1.0, 100.0])
def test_pacer_sleeps_straight_to_a_learned_window(speed: float) -> None:
    pacer, now = simulate(speed, average_s=60.0)
    pacer.window = 0.9
    execution = now * speed
    expected = min(54.0 - execution, NO_JITTER.max_interval)
    assert pacer.next_delay(now) == pytest.approx(expected / speed, rel=1e-6)


def test_pacer_polls_closely_near_the_estimate() -> None:
    pacer = PollPacer(NO_JITTER, started_at=0.0, rand=lambda: 0.5)
    pacer.observe(50.0, 100_000, 50_000)
    pacer.observe(98.0, 100_000, 98_000)
    assert pacer.rate == 1.0
    assert pacer.next_delay(98.0) == pytest.approx(max(1.0, 0.015 * 100))
    pacer.window = 0.9
    assert pacer.next_delay(98.0) == pytest.approx(1.5)


def test_pacer_backs_off_slowly_when_overdue() -> None:
    pacer = PollPacer(NO_JITTER, started_at=0.0, rand=lambda: 0.5)
    pacer.observe(100.0, 60_000, 100_000)
    pacer.observe(110.0, 60_000, 110_000)
    assert pacer.next_delay(110.0) == pytest.approx(1.0 + 0.1 * 50)
    pacer.observe(1000.0, 60_000, 1_000_000)
    assert pacer.next_delay(1000.0) == NO_JITTER.max_interval


def test_pacer_times_the_first_poll_from_earlier_jobs() -> None:
    stats = CompletionStats()
    assert stats.hint("m") is None
    stats.remember("m", 100_000, 10.0)
    pacer = PollPacer(NO_JITTER, started_at=0.0, rand=lambda: 0.5, window=0.9, hint=stats.hint("m"))
    assert pacer.can_wait_first
    # 90 server seconds to the window at 10x, capped at 30 server seconds: 3 real seconds.
    assert pacer.next_delay(0.0) == pytest.approx(3.0)
    assert pacer.next_delay(8.8) == pytest.approx(0.2)
    resumed = PollPacer(NO_JITTER, started_at=None, rand=lambda: 0.5, window=0.9, hint=(1, 1))
    assert not resumed.can_wait_first


def test_pacer_probes_when_the_rate_is_unknown() -> None:
    pacer = PollPacer(NO_JITTER, started_at=None, rand=lambda: 0.5)
    pacer.observe(5.0, 60_000, 20_000)
    assert pacer.rate is None
    assert pacer.next_delay(5.0) == NO_JITTER.probe_interval
    assert pacer.eta(5.0) == pytest.approx(40.0)


def test_pacer_never_sleeps_past_the_window_with_jitter() -> None:
    policy = PollPolicy(jitter=0.5)
    for seed in range(50):
        rng = random.Random(seed)
        pacer = PollPacer(policy, started_at=0.0, rand=rng.random)
        pacer.observe(1.0, 100_000, 1_000)
        pacer.observe(2.0, 100_000, 2_000)
        assert pacer.next_delay(2.0) <= 30.0


def test_completion_stats_move_the_window_to_the_earliest_finish() -> None:
    stats = CompletionStats()
    policy = PollPolicy()
    assert stats.window("m", policy) is None
    for ratio in (0.9, 0.85, 0.95, 0.88):
        stats.record("m", ratio * 60_000, None, 60_000)
    assert stats.window("m", policy) == pytest.approx(0.85 * 0.97)
    assert stats.window("other", policy) is None


def test_completion_stats_use_the_middle_of_a_close_bracket() -> None:
    stats = CompletionStats()
    policy = PollPolicy(min_samples=1)
    stats.record("m", 0.90 * 60_000, 0.94 * 60_000, 60_000)
    assert stats.window("m", policy) == pytest.approx(0.92 * 0.97)


def test_completion_stats_place_a_wide_bracket_just_before_its_end() -> None:
    stats = CompletionStats()
    policy = PollPolicy(min_samples=1)
    stats.record("m", 0.2 * 60_000, 0.9 * 60_000, 60_000)
    assert stats.window("m", policy) == pytest.approx(0.85 * 0.97)


def test_completion_stats_ignore_the_single_lowest_of_many() -> None:
    stats = CompletionStats()
    policy = PollPolicy()
    stats.record("m", 0.1 * 60_000, None, 60_000)  # a fluke
    for i in range(15):
        stats.record("m", (0.90 + i * 0.001) * 60_000, None, 60_000)
    assert stats.window("m", policy) == pytest.approx(0.900 * 0.97)


def test_completion_stats_forget_old_jobs() -> None:
    stats = CompletionStats(keep=5)
    policy = PollPolicy(min_samples=1)
    stats.record("m", 0.5 * 60_000, None, 60_000)
    for _ in range(5):
        stats.record("m", 0.9 * 60_000, None, 60_000)
    assert stats.window("m", policy) == pytest.approx(0.9 * 0.97)


def test_backoff_doubles_and_honours_retry_after_capped() -> None:
    policy = RetryPolicy(initial_delay=0.5, max_delay=4.0, jitter=0.0, max_retry_after=10.0)
    delays = [backoff_delay(policy, a, retry_after=None, rand=random.random) for a in range(1, 6)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert backoff_delay(policy, 1, retry_after=3.0, rand=lambda: 0.0) == 3.0
    assert backoff_delay(policy, 1, retry_after=999.0, rand=lambda: 0.0) == 10.0


def test_should_retry_only_transient_failures_within_bounds() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert should_retry(policy, status_error(503), 1)
    assert should_retry(policy, status_error(429), 2)
    assert not should_retry(policy, status_error(429), 3)
    assert not should_retry(policy, status_error(400), 1)
    assert should_retry(policy, APIConnectionError("reset"), 1)


@pytest.mark.parametrize(
    ("error", "idempotent", "decision"),
    [
        (APIConnectionError("refused", may_have_reached_server=False), False, "resend"),
        (APIConnectionError("reset"), False, "unknown"),
        (APIConnectionError("reset"), True, "resend"),
        (status_error(429), False, "resend"),
        (status_error(500), False, "unknown"),
        (status_error(502), False, "unknown"),
        (status_error(500), True, "resend"),
        (status_error(503), False, "resend"),
        (status_error(504), False, "unknown"),
        (status_error(400), True, "refused"),
        (status_error(402), False, "refused"),
    ],
)
def test_queue_failures_are_resent_only_when_that_cannot_pay_twice(
    error: Exception, idempotent: bool, decision: str
) -> None:
    assert classify_queue_error(error, idempotent_retries=idempotent) is QueueDecision(decision)


def test_limiter_holds_back_before_the_failure_allowance_is_spent() -> None:
    limiter = RateLimiter(RateLimitPolicy(max_failures=3, failure_window=30.0))
    for t in (0.0, 1.0, 2.0):
        assert limiter.reserve("retrieve", t) == 0.0
        limiter.release("retrieve", t, status=503, headers=None, wall_now=t)
    assert limiter.recent_failures == 3
    assert limiter.reserve("retrieve", 3.0) == pytest.approx(27.0)
    assert limiter.reserve("retrieve", 30.5) == 0.0


def test_limiter_counts_requests_in_flight_against_the_allowance() -> None:
    limiter = RateLimiter(RateLimitPolicy(max_failures=2))
    assert limiter.reserve("retrieve", 0.0) == 0.0
    limiter.release("retrieve", 0.0, status=500, headers=None, wall_now=0.0)
    assert limiter.reserve("retrieve", 0.1) == 0.0  # one failure + this one in flight
    assert limiter.reserve("retrieve", 0.1) > 0.0


def test_limiter_paces_from_rate_limit_headers() -> None:
    limiter = RateLimiter(RateLimitPolicy(reserve=1))
    assert limiter.reserve("queue", 0.0) == 0.0
    headers = {"x-ratelimit-remaining-requests": "1", "x-ratelimit-reset-requests": "1700000012"}
    limiter.release("queue", 0.0, status=200, headers=headers, wall_now=1_700_000_000.0)
    assert limiter.reserve("queue", 2.0) == pytest.approx(10.0)
    assert limiter.reserve("retrieve", 2.0) == 0.0
    assert limiter.reserve("queue", 12.5) == 0.0


def test_limiter_blocks_a_bucket_after_429_for_retry_after() -> None:
    limiter = RateLimiter(RateLimitPolicy(max_failures=None))
    limiter.reserve("queue", 0.0)
    limiter.release("queue", 0.0, status=429, headers={"retry-after": "5"}, wall_now=0.0)
    assert limiter.reserve("queue", 1.0) == pytest.approx(4.0)
    assert limiter.reserve("queue", 5.0) == 0.0


def test_limiter_is_safe_across_threads() -> None:
    limiter = RateLimiter(RateLimitPolicy(max_failures=None))

    def work() -> None:
        for _ in range(500):
            assert limiter.reserve("retrieve", 0.0) == 0.0
            limiter.release("retrieve", 0.0, status=200, headers=None, wall_now=0.0)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert limiter._in_flight == 0
