"""The pure decisions: backoff, retry, queue outcomes, the failure guard and header pacing."""

from __future__ import annotations

import random
import threading

import httpx
import pytest

from venice_video import RateLimitPolicy, RetryPolicy
from venice_video._exceptions import (
    APIConnectionError,
    make_status_error,
)
from venice_video._polling import (
    QueueDecision,
    RateLimiter,
    backoff_delay,
    classify_queue_error,
    should_retry,
)


def status_error(status: int, **headers: str) -> Exception:
    request = httpx.Request("POST", "http://fake.test/api/v1/video/queue")
    return make_status_error(
        httpx.Response(status, json={"error": "x"}, headers=headers, request=request)
    )


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


def REAL_TIME() -> float:
    return 1.0


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
    limiter = RateLimiter(RateLimitPolicy(reserve=1), rate=REAL_TIME)
    assert limiter.reserve("queue", 0.0) == 0.0
    headers = {"x-ratelimit-remaining-requests": "1", "x-ratelimit-reset-requests": "1700000012"}
    limiter.release("queue", 0.0, status=200, headers=headers, wall_now=1_700_000_000.0)
    assert limiter.reserve("queue", 2.0) == pytest.approx(10.0)
    assert limiter.reserve("retrieve", 2.0) == 0.0
    assert limiter.reserve("queue", 12.5) == 0.0


def test_limiter_blocks_a_bucket_after_429_for_retry_after() -> None:
    limiter = RateLimiter(RateLimitPolicy(max_failures=None), rate=REAL_TIME)
    limiter.reserve("queue", 0.0)
    limiter.release("queue", 0.0, status=429, headers={"retry-after": "5"}, wall_now=0.0)
    assert limiter.reserve("queue", 1.0) == pytest.approx(4.0)
    assert limiter.reserve("queue", 5.0) == 0.0


def test_limiter_is_safe_across_threads() -> None:
    limiter = RateLimiter(RateLimitPolicy(max_failures=None, retrieves_per_minute=None))

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
