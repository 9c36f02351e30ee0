"""One key's request budget: the bucket store and the retrieve scheduler, on a fake clock.

These check decisions (who may send, who waits, how long), never how long anything took.
"""

from __future__ import annotations

import random
import threading
from collections import deque

import pytest

from venice_video import RateLimitPolicy
from venice_video._polling import RateLimiter
from venice_video._schedule import BucketStore, Budget, MemoryBucketStore, RetrieveScheduler


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def takes(store: MemoryBucketStore, budget: Budget, now: float, n: int) -> list[float]:
    return [store.take("b", now, budget) for _ in range(n)]


# --------------------------------------------------------------------------- the store


def test_memory_store_is_a_bucket_store() -> None:
    assert isinstance(MemoryBucketStore(), BucketStore)


def test_no_more_than_the_limit_in_any_window() -> None:
    store, budget = MemoryBucketStore(), Budget(3, 60.0)
    assert takes(store, budget, 0.0, 3) == [0.0, 0.0, 0.0]
    assert store.take("b", 10.0, budget) == pytest.approx(50.0)
    assert store.take("b", 60.0, budget) == 0.0
    assert store.take("other", 10.0, budget) == 0.0  # buckets are apart


def test_a_burst_then_an_even_pace() -> None:
    store, budget = MemoryBucketStore(), Budget(120, 60.0, burst=10)
    assert takes(store, budget, 0.0, 10) == [0.0] * 10
    assert store.take("b", 0.0, budget) == pytest.approx(0.5)
    assert store.take("b", 0.5, budget) == 0.0
    assert store.take("b", 0.5, budget) == pytest.approx(0.5)


def test_no_budget_means_only_the_server_limits() -> None:
    store, budget = MemoryBucketStore(), Budget(None)
    assert takes(store, budget, 0.0, 500) == [0.0] * 500
    store.observe("b", 0.0, remaining=1, reset_in=7.0)
    assert store.take("b", 1.0, budget) == pytest.approx(6.0)  # keep the reserve of 1


def test_the_server_window_reset_starts_the_count_over() -> None:
    store, budget = MemoryBucketStore(), Budget(40, 60.0)
    assert takes(store, budget, 0.0, 40) == [0.0] * 40
    store.observe("b", 0.5, remaining=0, reset_in=9.5)  # the server's minute ends at 10
    assert store.take("b", 1.0, budget) == pytest.approx(9.0)
    # The sliding count alone would wait until 60; the server says its window reset.
    assert takes(store, budget, 10.0, 40) == [0.0] * 40
    assert store.take("b", 10.0, budget) > 0.0


def test_headers_lower_the_limit_and_answers_out_of_order_keep_the_lowest_count() -> None:
    store, budget = MemoryBucketStore(), Budget(120, 60.0)
    store.observe("b", 0.0, limit=5, remaining=3, reset_in=30.0)
    store.observe("b", 0.1, remaining=4, reset_in=29.9)  # an older answer, arriving late
    assert store.snapshot("b")["remaining"] == 3
    assert store.snapshot("b")["limit"] == 5
    store.observe("b", 0.2, remaining=9, reset_in=-20.0)  # from a window long over
    assert store.snapshot("b")["remaining"] == 3
    assert takes(store, budget, 1.0, 2) == [0.0, 0.0]  # 3 left, 1 kept in reserve
    assert store.take("b", 1.0, budget) == pytest.approx(29.0)


def test_a_429_blocks_for_retry_after_and_lowers_the_pace_for_a_while() -> None:
    store, budget = MemoryBucketStore(), Budget(8, 60.0)
    store.observe("b", 0.0, retry_in=5.0)
    assert store.take("b", 1.0, budget) == pytest.approx(4.0)
    assert store.snapshot("b")["scale"] < 1.0
    assert takes(store, budget, 5.0, 6) == [0.0] * 6  # 8 * 0.75
    assert store.take("b", 5.0, budget) > 0.0
    assert store.take("b", 70.0, budget) == 0.0
    assert store.snapshot("b")["scale"] == 1.0  # a quiet window later


# --------------------------------------------------------------------------- priorities


def policy(**kw: object) -> RateLimitPolicy:
    return RateLimitPolicy(**{"retrieves_per_minute": 60, "retrieve_burst": 1, **kw})  # type: ignore[arg-type]


def test_the_likeliest_job_gets_the_slot() -> None:
    clock = FakeClock()
    scheduler = RetrieveScheduler(policy(), clock=clock)
    assert scheduler.ask("retrieve", "a", priority=0.1) == 0.0
    # Both wait for the next slot, a second later; the likelier goes first.
    wait_low = scheduler.ask("retrieve", "low", priority=0.2)
    wait_high = scheduler.ask("retrieve", "high", priority=0.9)
    assert wait_low == pytest.approx(1.0)  # nobody was ahead when it asked
    assert wait_high == pytest.approx(1.0)
    clock.now = 1.0
    assert scheduler.ask("retrieve", "low", priority=0.2) > 0.0  # "high" is due: it waits
    assert scheduler.ask("retrieve", "high", priority=0.9) == 0.0
    clock.now = 2.0
    assert scheduler.ask("retrieve", "low", priority=0.2) == 0.0
    assert scheduler.waiting("retrieve") == 0


def test_callers_without_a_ticket_go_first() -> None:
    clock = FakeClock()
    scheduler = RetrieveScheduler(policy(), clock=clock)
    scheduler.ask("retrieve", "a", priority=1.0)
    assert scheduler.ask("retrieve", "job", priority=1.0) > 0.0
    clock.now = 1.0
    assert scheduler.ask("retrieve") == 0.0  # e.g. retrieve() called by hand
    assert scheduler.ask("retrieve", "job", priority=1.0) > 0.0


def test_waiting_long_outranks_a_likelier_newcomer() -> None:
    clock = FakeClock()
    scheduler = RetrieveScheduler(policy(retrieves_per_minute=1), clock=clock)
    assert scheduler.ask("retrieve", "first", priority=1.0) == 0.0
    assert scheduler.ask("retrieve", "patient", priority=0.05) == pytest.approx(60.0)
    clock.now = 60.0
    # 0.05 + a minute of waiting outranks 0.9: the patient one goes first.
    assert scheduler.ask("retrieve", "eager", priority=0.9) > 0.0
    assert scheduler.ask("retrieve", "patient", priority=0.05) == 0.0


def test_a_ticket_that_left_or_went_stale_holds_no_one_back() -> None:
    clock = FakeClock()
    scheduler = RetrieveScheduler(policy(), clock=clock)
    scheduler.ask("retrieve", "x", priority=0.5)
    scheduler.ask("retrieve", "gone", priority=1.0)
    scheduler.ask("retrieve", "stale", priority=0.99)
    assert scheduler.waiting("retrieve") == 2
    scheduler.leave("gone")
    assert scheduler.waiting("retrieve") == 1
    clock.now = 60.0  # "stale" was due long ago and never came back
    assert scheduler.ask("retrieve", "late", priority=0.1) == 0.0
    assert scheduler.waiting("retrieve") == 0


def test_answers_pass_headers_to_the_store_less_requests_in_flight() -> None:
    clock = FakeClock()
    store = MemoryBucketStore()
    scheduler = RetrieveScheduler(RateLimitPolicy(), store=store, clock=clock)
    for _ in range(3):
        assert scheduler.ask("queue") == 0.0
    assert scheduler.in_flight("queue") == 3
    headers = {
        "x-ratelimit-limit-requests": "40",
        "x-ratelimit-remaining-requests": "37",
        "x-ratelimit-reset-requests": str(1_700_000_060),
    }
    scheduler.answered("queue", status=200, headers=headers, wall_now=1_700_000_000.0)
    snapshot = store.snapshot("queue")
    assert snapshot["remaining"] == 35  # two still out, maybe not counted yet
    assert snapshot["reset_at"] == pytest.approx(60.0)
    assert snapshot["limit"] == 40
    scheduler.answered("queue", status=429, headers={"retry-after": "7"}, wall_now=0.0)
    assert scheduler.ask("queue") == pytest.approx(7.0)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_two_hundred_jobs_never_exceed_the_budget_in_any_minute(seed: int) -> None:
    """Jobs ask at random moments with random chances; grants are counted per minute."""
    rng = random.Random(seed)
    clock = FakeClock()
    scheduler = RetrieveScheduler(RateLimitPolicy(), clock=clock)
    wake = [rng.uniform(0.0, 30.0) for _ in range(200)]
    priority = [rng.random() for _ in range(200)]
    granted: list[tuple[float, int]] = []
    while clock.now < 600.0:
        job = min(range(200), key=wake.__getitem__)
        clock.now = wake[job]
        wait = scheduler.ask("retrieve", job, priority=priority[job])
        if wait == 0.0:
            granted.append((clock.now, job))
            scheduler.answered("retrieve", status=200, headers=None, wall_now=0.0)
            wake[job] = clock.now + rng.uniform(1.0, 20.0)  # wants to poll again later
            priority[job] = rng.random()
        else:
            wake[job] = clock.now + wait
    times = deque[float]()
    for at, _ in granted:
        times.append(at)
        while times[0] <= at - 60.0:
            times.popleft()
        assert len(times) <= 120
    assert len(granted) >= 120 * 9  # and the budget was used, not wasted
    served = {job for _, job in granted}
    assert len(served) == 200  # nobody starved


def test_two_clients_sharing_a_store_share_the_budget() -> None:
    store = MemoryBucketStore()
    clock = FakeClock()
    shared = RateLimitPolicy(retrieves_per_minute=10, retrieve_burst=10, store=store)
    a = RetrieveScheduler(shared, store=store, clock=clock)
    b = RetrieveScheduler(shared, store=store, clock=clock)
    grants = [a.ask("retrieve") == 0.0 for _ in range(8)]
    grants += [b.ask("retrieve") == 0.0 for _ in range(8)]
    assert sum(grants) == 10


def test_the_store_is_safe_across_threads() -> None:
    store, budget = MemoryBucketStore(), Budget(120, 60.0, burst=10)
    grants: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(50):
            if store.take("b", 0.0, budget) == 0.0:
                with lock:
                    grants.append(0.0)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(grants) == 10


# --------------------------------------------------------------------------- the limiter


def test_budgets_follow_the_server_clock() -> None:
    rate: list[float | None] = [None]
    limiter = RateLimiter(RateLimitPolicy(queues_per_minute=2), rate=lambda: rate[0])
    assert limiter.reserve("queue", 0.0) == 0.0
    assert limiter.reserve("queue", 0.0) == 0.0
    # Rate unknown: the wait is short, to be reconsidered once it is known.
    assert limiter.reserve("queue", 0.0) == pytest.approx(0.5)
    rate[0] = 100.0  # a test server at 100x: a server minute is 0.6 real seconds
    assert limiter.reserve("queue", 0.1) == pytest.approx((60.0 - 10.0) / 100.0)
    assert limiter.reserve("queue", 0.6) == 0.0


def test_a_rate_near_one_is_taken_as_real_time() -> None:
    limiter = RateLimiter(RateLimitPolicy(queues_per_minute=1), rate=lambda: 1.2)
    assert limiter.reserve("queue", 0.0) == 0.0
    assert limiter.reserve("queue", 30.0) == pytest.approx(30.0)


def test_a_local_server_announcing_its_speed_sets_the_pace_before_any_poll() -> None:
    limiter = RateLimiter(RateLimitPolicy(queues_per_minute=1))
    assert limiter.reserve("queue", 0.0) == 0.0
    limiter.release("queue", 0.0, status=200, headers={"x-local-speed": "1000"}, wall_now=0.0)
    assert limiter.reserve("queue", 0.0) == pytest.approx(0.06)  # a server minute
