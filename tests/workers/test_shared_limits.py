"""Shared token buckets and the shared budget ledger, across many 'machines' at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from venice_video.journal import PostgresJournal
from venice_video.workers import (
    BudgetExceededError,
    Fleet,
    SharedRateLimits,
    SharedRatePolicy,
    WorkItem,
    fingerprint,
)

SECRET = "vn-team-key-0123456789abcdef"
# A long window: nothing refills while a test runs, so every count is exact.
SLOW = SharedRatePolicy(limits={"queue": 40, "retrieve": 120}, window_s=3600.0, burst=4)


@pytest.fixture
def journal(pg_url: str) -> Iterator[PostgresJournal]:
    with PostgresJournal(pg_url) as opened:
        yield opened


def test_machines_on_one_key_share_one_bucket(journal: PostgresJournal, pg_url: str) -> None:
    with PostgresJournal(pg_url) as other_machine:
        a = SharedRateLimits(journal, SECRET, SLOW)
        b = SharedRateLimits(other_machine, SECRET, SLOW)
        other_key = SharedRateLimits(journal, SECRET + "-2", SLOW)
        taken = [limits.take("queue") == 0.0 for _ in range(10) for limits in (a, b)]
        # A burst of four requests, between both machines.
        assert sum(taken) == 4
        wait = a.take("queue")
        assert 0 < wait <= 3600.0 * 1.05 * 1.2
        assert other_key.take("queue") == 0.0  # another key has its own bucket
        assert a.take("complete") == 0.0  # endpoints without a limit pass


def test_threads_never_take_more_than_the_bucket_holds(journal: PostgresJournal) -> None:
    limits = SharedRateLimits(journal, SECRET, SLOW)
    got: list[bool] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        for _ in range(10):
            ok = limits.take("retrieve") == 0.0
            with lock:
                got.append(ok)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(got) == 4
    assert limits.stats()["retrieve"]["taken"] == 4


def test_the_servers_answers_reach_every_machine(journal: PostgresJournal, pg_url: str) -> None:
    with PostgresJournal(pg_url) as other_machine:
        a = SharedRateLimits(journal, SECRET, SharedRatePolicy(window_s=60.0))
        b = SharedRateLimits(other_machine, SECRET, SharedRatePolicy(window_s=60.0))
        assert b.take("retrieve") == 0.0
        # One machine is told "429, retry after 20 s": the other holds back as long.
        a.observe("retrieve", status=429, headers={"retry-after": "20"}, wall_now=0.0)
        assert 19.0 < b.take("retrieve") <= 20.0 * 1.2
        assert a.stats()["retrieve"]["limited"] == 1
        # The quota is spent until its reset: every machine waits for it.
        a.observe(
            "queue",
            status=200,
            headers={"x-ratelimit-remaining-requests": "1", "x-ratelimit-reset-requests": "30"},
            wall_now=1_800_000_000.0,
        )
        assert 29.0 < b.take("queue") <= 30.0 * 1.2
        # A smaller limit in the headers shrinks the bucket for everyone.
        a.observe("queue", status=200, headers={"x-ratelimit-limit-requests": "10"}, wall_now=0)
        assert a.stats()["queue"]["refill_per_s"] == pytest.approx(9 / 61.2)


def test_a_client_takes_its_queue_and_retrieve_tokens_from_the_shared_bucket(
    journal: PostgresJournal, server: Any, api_key: str, tmp_path: Path
) -> None:
    from venice_video import VeniceVideo
    from venice_video.workers import attach_shared_limits

    limits = SharedRateLimits(journal, api_key, SharedRatePolicy(window_s=1.0))
    with VeniceVideo(api_key=api_key, base_url=server.base_url, journal=False) as client:
        attach_shared_limits(client, limits)
        client.generate(
            model="grok-imagine-text-to-video-private", prompt="a boat", duration="1s",
            resolution="480p", output=tmp_path / "boat.mp4",
        )  # fmt: skip
    stats = limits.stats()
    assert stats["queue"]["taken"] == 1 and stats["retrieve"]["taken"] >= 1


def test_the_key_is_never_stored(journal: PostgresJournal) -> None:
    limits = SharedRateLimits(journal, SECRET, SLOW)
    limits.take("queue")
    assert SECRET not in limits.key_fp and len(limits.key_fp) == 32
    assert limits.key_fp != fingerprint(SECRET, b"another database's salt")
    dump = journal.run(
        lambda conn: conn.execute("SELECT string_agg(t::text, ' ') FROM rate_buckets t").fetchone()[
            0
        ]
    )
    assert SECRET not in dump and limits.key_fp in dump


def test_concurrent_submitters_never_overrun_a_budget(journal: PostgresJournal) -> None:
    fleet = Fleet(journal)
    fleet.set_budget("team", 1.0)  # room for exactly 10 jobs of $0.10
    outcomes: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def submitter(n: int) -> None:
        barrier.wait()
        for i in range(6):
            item = WorkItem(
                key=f"s{n}-{i}", body={"model": "m", "prompt": "p"}, quote_usd=0.1, output="x"
            )
            try:
                fleet.submit(item, base_url="http://127.0.0.1:1/api/v1", budgets=["team"])
                result = "new"
            except BudgetExceededError:
                result = "refused"
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=submitter, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("new") == 10 and outcomes.count("refused") == 26
    [status] = fleet.budgets(["team"])
    assert status.reserved_usd == pytest.approx(1.0) and status.available_usd == 0.0
    assert len(journal.list(statuses=["QUOTED"])) == 10


def test_the_ledger_settles_and_releases_with_the_journal(journal: PostgresJournal) -> None:
    fleet = Fleet(journal)
    fleet.set_budget("b", 10.0)
    for key in ("paid", "refused", "unknown"):
        fleet.submit(
            WorkItem(key=key, body={"model": "m"}, quote_usd=0.25, output=key),
            base_url="http://127.0.0.1:1",
            budgets=["b"],
        )
    journal.update("paid", status="QUEUING")
    journal.record_queued("paid", queue_id="q-1", download_url=None)
    journal.update("refused", status="FAILED", error="not queued: 400")
    journal.update("unknown", status="UNKNOWN")  # may have been charged: stays reserved
    assert fleet.ledger("paid") == [("b", "settled", 0.25)]
    assert fleet.ledger("refused") == [("b", "released", 0.25)]
    assert fleet.ledger("unknown") == [("b", "reserved", 0.25)]
    [status] = fleet.budgets(["b"])
    assert (status.settled_usd, status.reserved_usd, status.available_usd) == (0.25, 0.25, 9.5)


def test_the_server_counts_rate_limit_violations(server_factory: Any, api_key: str) -> None:
    server = server_factory(
        speed=1.0,
        rate_limits={"enabled": True, "retrieve_per_window": 2, "window_s": 3600},
    )
    headers = {"Authorization": f"Bearer {api_key}"}
    body = {
        "model": "grok-imagine-text-to-video-private",
        "queue_id": "0" * 8 + "-0000-0000-0000-" + "0" * 12,
    }
    codes = [
        httpx.post(f"{server.base_url}/video/retrieve", json=body, headers=headers).status_code
        for _ in range(4)
    ]
    assert codes.count(429) == 2
    stats = httpx.get(f"{server.root_url}/_local/stats", headers=headers).json()
    assert stats["rate_limited"] == {"queue": 0, "retrieve": 2}


@pytest.mark.parametrize("limit", [1, 2, 6, 40, 120, 1000])
@pytest.mark.parametrize("window", [1.0, 2.0, 60.0])
def test_a_bucket_never_fits_more_than_the_limit_in_one_window(limit: int, window: float) -> None:
    for burst in (1, 4, 50):
        capacity, refill = SharedRatePolicy(window_s=window, burst=burst).shape(limit)
        # Whole tokens a full bucket gives in one window, even with 0.2 s of arrival jitter.
        assert int(capacity + refill * (window + 0.2)) <= limit, (limit, window, burst)
    capacity, refill = SharedRatePolicy(window_s=window).shape(limit)
    if limit >= 40 and window >= 60:
        assert refill * window / limit >= 0.95  # and little of the limit is left unused
