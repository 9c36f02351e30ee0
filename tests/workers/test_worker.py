"""Workers against the local server: the paid-step rule across machines, leases, takeovers."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from worker_helpers import FIELDS, config, worker_thread

from local_checks import local_stats
from venice_video import VeniceVideo
from venice_video.journal import PostgresJournal
from venice_video.workers import BudgetExceededError, Fleet, WorkQueue


@pytest.fixture
def setup(
    pg_url: str, server: Any, api_key: str
) -> Iterator[tuple[PostgresJournal, WorkQueue, VeniceVideo]]:
    with (
        VeniceVideo(api_key=api_key, base_url=server.base_url, journal=False) as client,
        WorkQueue(pg_url, client) as queue,
    ):
        yield queue.journal, queue, client


def _wait(journal: PostgresJournal, keys: list[str], timeout: float = 60) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        entries = [journal.get(k) for k in keys]
        if all(e is not None and (e.is_finished or e.needs_attention) for e in entries):
            return entries
        assert time.monotonic() < deadline, [e.status if e else None for e in entries]
        time.sleep(0.1)


def test_a_submitted_job_is_made_once_saved_and_settled(
    setup: Any, pg_url: str, server: Any, api_key: str, tmp_path: Path
) -> None:
    journal, queue, _ = setup
    queue.set_budget("story", 1.0)
    sub = queue.submit(FIELDS, output="story/001.mp4", key="shot-001", budgets=["story"])
    again = queue.submit(FIELDS, output="story/001.mp4", key="shot-001", budgets=["story"])
    assert (sub.state, again.state) == ("new", "exists")
    assert journal.get("shot-001").status == "QUOTED"  # type: ignore[union-attr]
    assert queue.fleet.ledger("shot-001")[0][1] == "reserved"

    with worker_thread(config(pg_url, server, api_key, tmp_path / "shared", name="w-a")):
        [entry] = _wait(journal, ["shot-001"])

    assert entry.status == "COMPLETED" and entry.worker == "w-a"
    path = Path(entry.output_path)
    assert path == (tmp_path / "shared" / "story" / "001.mp4").absolute()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == entry.sha256
    [(budget, state, amount)] = queue.fleet.ledger("shot-001")
    assert (budget, state, amount) == ("story", "settled", entry.quote_usd)
    assert queue.fleet.payload("shot-001") is None  # the full body goes once it is queued
    assert local_stats(server, api_key)["idempotency_keys"]["shot-001"]["requests"] == 1


def test_a_file_at_the_output_is_kept_unless_the_job_may_replace_it(
    setup: Any, pg_url: str, server: Any, api_key: str, tmp_path: Path
) -> None:
    journal, queue, _ = setup
    shared = tmp_path / "shared"
    (shared / "story").mkdir(parents=True)
    kept, replaced = shared / "story" / "kept.mp4", shared / "story" / "replaced.mp4"
    kept.write_bytes(b"an earlier cut")
    replaced.write_bytes(b"an earlier cut")
    queue.set_budget("cuts", 1.0)
    queue.submit(FIELDS, output="story/kept.mp4", key="kept", budgets=["cuts"])
    queue.submit(FIELDS, output="story/replaced.mp4", key="replaced", budgets=["cuts"],
                 overwrite=True)  # fmt: skip
    assert journal.get("replaced").overwrite  # type: ignore[union-attr]

    with worker_thread(config(pg_url, server, api_key, shared, name="w-o")):
        refused, done = _wait(journal, ["kept", "replaced"])

    assert refused.status == "FAILED" and refused.queue_id is None
    assert "not queued" in (refused.error or "") and kept.read_bytes() == b"an earlier cut"
    assert queue.fleet.ledger("kept") == [("cuts", "released", refused.quote_usd)]
    assert "kept" not in local_stats(server, api_key)["idempotency_keys"]
    assert done.status == "COMPLETED" and Path(done.output_path) == replaced.absolute()
    assert hashlib.sha256(replaced.read_bytes()).hexdigest() == done.sha256


def _stranded(journal: PostgresJournal, queue: WorkQueue, key: str) -> None:
    """A job whose worker died right after committing QUEUING: the request may have gone."""
    queue.submit(FIELDS, output=f"{key}.mp4", key=key)
    journal.run(
        lambda conn: conn.execute(
            "UPDATE jobs SET status = 'QUEUING', worker = 'dead-worker', "
            "lease_until = clock_timestamp() - interval '1 second' WHERE key = %s",
            (key,),
        )
    )


def test_an_unknown_queue_outcome_is_never_sent_again_by_another_worker(
    setup: Any, pg_url: str, server: Any, api_key: str, tmp_path: Path
) -> None:
    journal, queue, _ = setup
    _stranded(journal, queue, "stranded")

    with worker_thread(config(pg_url, server, api_key, tmp_path, name="w-b")):
        [entry] = _wait(journal, ["stranded"])

    assert entry.status == "UNKNOWN" and entry.queue_id is None
    assert "unknown" in (entry.error or "")
    # Nobody sent it: the server never saw the key.
    assert "stranded" not in local_stats(server, api_key)["idempotency_keys"]


def test_with_a_trusted_idempotency_key_the_outcome_is_asked_with_the_same_key(
    setup: Any, pg_url: str, server: Any, api_key: str, tmp_path: Path
) -> None:
    journal, queue, client = setup
    _stranded(journal, queue, "asked")
    # The dead worker's request did reach the server: the job exists and was charged.
    body, _ = queue.price(FIELDS)
    first = httpx.post(
        f"{server.base_url}/video/queue",
        json=body,
        headers={"Authorization": f"Bearer {api_key}", "Idempotency-Key": "asked"},
    ).json()

    cfg = config(pg_url, server, api_key, tmp_path, name="w-c", trust_idempotency=True)
    with worker_thread(cfg):
        [entry] = _wait(journal, ["asked"])

    assert entry.status == "COMPLETED" and entry.queue_id == first["queue_id"]
    row = local_stats(server, api_key)["idempotency_keys"]["asked"]
    assert (row["requests"], row["jobs_created"]) == (2, 1)


def test_a_live_lease_is_respected_and_a_lapsed_one_taken_over(
    setup: Any, pg_url: str, server: Any, api_key: str, tmp_path: Path
) -> None:
    journal, queue, _ = setup
    queue.submit(FIELDS, output="held.mp4", key="held")
    fleet = Fleet(journal)
    assert fleet.claim("held", "other-machine", 3600.0) == "QUOTED"
    assert fleet.claim("held", "w-d", 30.0) is None  # held elsewhere

    with worker_thread(config(pg_url, server, api_key, tmp_path, name="w-d")):
        time.sleep(1.0)
        entry = journal.get("held")
        assert entry is not None and entry.status == "QUOTED"  # not touched while held
        journal.run(
            lambda conn: conn.execute(
                "UPDATE jobs SET lease_until = clock_timestamp() WHERE key = 'held'"
            )
        )
        [entry] = _wait(journal, ["held"])
    assert entry.status == "COMPLETED" and entry.worker == "w-d"


def test_a_lost_hand_out_is_found_and_done(
    setup: Any, pg_url: str, server: Any, api_key: str, tmp_path: Path
) -> None:
    journal, queue, _ = setup
    queue.submit(FIELDS, output="orphan.mp4", key="orphan")
    # The submitter died between its journal entry and the hand-out (as if): no job waits.
    journal.run(lambda conn: conn.execute("DELETE FROM procrastinate_jobs"))
    journal.run(lambda conn: conn.execute("UPDATE jobs SET updated_at = updated_at - 60"))

    with worker_thread(config(pg_url, server, api_key, tmp_path, name="w-e", lease_s=1.0)):
        [entry] = _wait(journal, ["orphan"])
    assert entry.status == "COMPLETED"


def test_a_price_above_the_reservation_is_never_paid(
    setup: Any, pg_url: str, server: Any, api_key: str, tmp_path: Path
) -> None:
    journal, queue, _ = setup
    queue.set_budget("tight", 5.0)
    body, price = queue.price(FIELDS)
    queue.submit(FIELDS, output="cheap.mp4", key="cheap", budgets=["tight"],
                 priced=(body, price / 2))  # fmt: skip

    with worker_thread(config(pg_url, server, api_key, tmp_path, name="w-f")):
        [entry] = _wait(journal, ["cheap"])

    assert entry.status == "FAILED" and "price rose" in (entry.error or "")
    assert queue.fleet.ledger("cheap") == [("tight", "released", pytest.approx(price / 2))]
    assert "cheap" not in local_stats(server, api_key)["idempotency_keys"]


def test_a_full_budget_refuses_before_anything_is_recorded(setup: Any) -> None:
    journal, queue, _ = setup
    body, price = queue.price(FIELDS)
    queue.set_budget("small", price * 1.5)
    queue.submit(FIELDS, output="a.mp4", key="a", budgets=["small"], priced=(body, price))
    with pytest.raises(BudgetExceededError, match="small"):
        queue.submit(FIELDS, output="b.mp4", key="b", budgets=["small"], priced=(body, price))
    assert journal.get("b") is None and queue.fleet.payload("b") is None
    [status] = queue.budgets(["small"])
    assert status.reserved_usd == pytest.approx(price)


def test_outputs_must_stay_inside_the_shared_folder(setup: Any) -> None:
    _, queue, _ = setup
    for bad in ("/etc/passwd", "../up.mp4", ""):
        with pytest.raises(Exception, match="relative path"):
            queue.submit(FIELDS, output=bad)


def test_the_sdk_runs_on_the_shared_journal(
    pg_url: str, server: Any, api_key: str, tmp_path: Path
) -> None:
    with VeniceVideo(api_key=api_key, base_url=server.base_url, journal=pg_url) as client:
        job = client.generate(**FIELDS, output=tmp_path / "sdk.mp4")
        assert type(client.journal).__name__ == "PostgresJournal"
        entry = client.journal.get(job.idempotency_key)  # type: ignore[union-attr]
    assert job.status == "COMPLETED" and entry is not None and entry.status == "COMPLETED"
    assert entry.queue_id == job.queue_id


def test_a_local_resume_leaves_the_workers_jobs_to_them(
    pg_url: str, setup: Any, server: Any, api_key: str
) -> None:
    journal, queue, _ = setup
    queue.submit(FIELDS, output="theirs.mp4", key="theirs")
    with VeniceVideo(api_key=api_key, base_url=server.base_url, journal=pg_url) as client:
        # Not cancelled as a QUOTED job of this machine's would be: a worker may be sending
        # its paid queue request right now.
        assert client.resume() == []
    entry = journal.get("theirs")
    assert entry is not None and entry.status == "QUOTED"
    assert "theirs" not in local_stats(server, api_key)["idempotency_keys"]
