"""The journal contract, held by both backends: SQLite (the default) and PostgreSQL (shared)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from venice_video._exceptions import JournalError
from venice_video.journal import (
    Journal,
    JournalEntry,
    JournalStore,
    is_database_url,
    open_journal,
)

BASE_URL = "https://api.venice.ai/api/v1"


class FakeClock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[Any]:
    if request.param == "sqlite":
        target: str = str(tmp_path / "journal.sqlite3")
    else:
        target = request.getfixturevalue("pg_url")
    with open_journal(target, clock=clock) as journal:
        yield journal


def _intent(journal: JournalStore, key: str, **overrides: Any) -> JournalEntry:
    args: dict[str, Any] = {
        "key": key,
        "model": "wan-2.5-preview-text-to-video",
        "base_url": BASE_URL,
        "request": {"prompt": "a cat", "duration": "5s"},
        "quote_usd": 0.5,
        "output_path": f"/videos/{key}.mp4",
    }
    args.update(overrides)
    return journal.record_intent(**args)


def test_the_factory_picks_the_backend_from_the_target(pg_url: str, tmp_path: Path) -> None:
    assert is_database_url(pg_url) and is_database_url("postgres://h/db")
    assert not is_database_url(tmp_path / "j.sqlite3") and not is_database_url(None)
    with open_journal(pg_url) as shared, open_journal(tmp_path / "j.sqlite3") as local:
        assert type(shared).__name__ == "PostgresJournal"
        assert isinstance(local, Journal)
        assert open_journal(shared) is shared
    with pytest.raises(TypeError, match="max_connections"):
        open_journal(tmp_path / "j.sqlite3", max_connections=3)


def test_the_env_var_may_name_a_database(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VENICE_VIDEO_JOURNAL", pg_url)
    with open_journal() as journal:
        assert type(journal).__name__ == "PostgresJournal"
    # The SQLite class never mistakes a URL for a file name.
    with pytest.raises(JournalError, match="open_journal"):
        Journal()


def test_lifecycle_stamps_and_reads(store: JournalStore, clock: FakeClock) -> None:
    start = clock.now
    entry = _intent(store, "k1", tags={"batch": "b1", "row": 3})
    assert (entry.status, entry.tags, entry.created_at) == (
        "QUEUING",
        {"batch": "b1", "row": 3},
        start,
    )
    clock.advance(1)
    queued = store.record_queued("k1", queue_id="q-123", download_url=None)
    assert (queued.status, queued.queue_id, queued.queued_at) == ("QUEUED", "q-123", start + 1)
    clock.advance(1)
    store.update("k1", status="READY")
    clock.advance(1)
    done = store.update("k1", status="DOWNLOADED", size_bytes=1234, sha256="ab" * 32)
    completed = store.update("k1", status="COMPLETED")
    assert (done.ready_at, done.downloaded_at) == (start + 2, start + 3)
    assert completed.queued_at == start + 1 and completed.is_finished
    assert store.get("k1") == completed
    assert store.get("nope") is None


def test_errors_match(store: JournalStore) -> None:
    _intent(store, "k1")
    with pytest.raises(JournalError, match="already exists"):
        _intent(store, "k1")
    with pytest.raises(JournalError, match="no journal entry"):
        store.update("missing", status="FAILED")
    with pytest.raises(TypeError, match="colour"):
        store.update("k1", colour="red")
    with pytest.raises(JournalError, match="unknown job status"):
        store.update("k1", status="DONE")
    with pytest.raises(JournalError, match="JSON"):
        _intent(store, "k2", request={"prompt": object()})
    assert store.get("k2") is None


def test_update_existing_writes_a_known_entry_and_nothing_for_an_unknown_key(
    store: JournalStore, clock: FakeClock
) -> None:
    _intent(store, "k1")
    clock.advance(1)
    ready = store.update_existing("k1", status="READY", execution_ms=900.0)
    assert ready is not None and (ready.status, ready.execution_ms) == ("READY", 900.0)
    assert ready.ready_at == clock.now and store.get("k1") == ready
    assert store.update_existing("missing", status="FAILED") is None
    assert store.get("missing") is None
    with pytest.raises(TypeError, match="colour"):
        store.update_existing("k1", colour="red")


def test_a_note_writes_like_update_existing(store: JournalStore, clock: FakeClock) -> None:
    _intent(store, "k1")
    clock.advance(1)
    noted = store.note("k1", status="PROCESSING", execution_ms=500.0)
    assert noted is not None and (noted.status, noted.execution_ms) == ("PROCESSING", 500.0)
    assert store.get("k1") == noted
    assert store.note("missing", status="READY") is None
    done = store.update("k1", status="DOWNLOADED", size_bytes=10)
    assert (done.status, done.execution_ms, done.size_bytes) == ("DOWNLOADED", 500.0, 10)


def test_find_list_clean_and_delete(store: JournalStore, clock: FakeClock) -> None:
    for i, status in enumerate(["COMPLETED", "QUEUED", "FAILED", "PROCESSING", "UNKNOWN"]):
        clock.advance(1)
        _intent(store, f"k{i}abc", tags={"batch": "A" if i % 2 else "B", "row": i})
        store.update(f"k{i}abc", status=status)
    store.record_queued("k1abc", queue_id="0f3c-queue", download_url=None)

    assert store.find("0f3c").key == "k1abc"  # type: ignore[union-attr]
    assert store.find("k3").key == "k3abc"  # type: ignore[union-attr]
    assert store.find("%") is None and store.find("") is None
    with pytest.raises(JournalError, match="more than one"):
        store.find("k")
    assert [e.key for e in store.list()] == ["k4abc", "k3abc", "k2abc", "k1abc", "k0abc"]
    assert [e.key for e in store.list(statuses=["FAILED", "COMPLETED"])] == ["k2abc", "k0abc"]
    assert [e.key for e in store.unfinished()] == ["k4abc", "k3abc", "k1abc"]
    assert [e.key for e in store.list(tag=("batch", "A"))] == ["k3abc", "k1abc"]
    assert [e.key for e in store.list(limit=2)] == ["k4abc", "k3abc"]
    assert store.list(statuses=[]) == []
    clock.advance(3600)
    assert store.clean(older_than_s=600) == 2
    store.delete("k4abc")
    store.delete("k4abc")
    assert {e.key for e in store.list()} == {"k1abc", "k3abc"}


def test_clean_keeps_a_job_a_held_job_still_waits_for(pg_url: str, clock: FakeClock) -> None:
    """A chained shot held on a shared journal is released with its predecessor's last frame,
    read from the predecessor's entry: cleaning that entry first would leave it held forever."""
    with open_journal(pg_url, clock=clock) as journal:
        for key in ("first", "second", "other"):
            _intent(journal, key)
        journal.update("first", status="COMPLETED")
        journal.update("other", status="COMPLETED")
        journal.run(
            lambda conn: conn.execute(
                "INSERT INTO job_holds (key, after_key, frame_field) VALUES (%s, %s, %s)",
                ("second", "first", "image_url"),
            )
        )
        clock.advance(3600)
        assert journal.clean(older_than_s=600) == 1
        assert journal.get("first") is not None and journal.get("other") is None
        journal.run(
            lambda conn: conn.execute(
                "UPDATE job_holds SET released_at = clock_timestamp() WHERE key = %s", ("second",)
            )
        )
        assert journal.clean(older_than_s=600) == 1
        assert journal.get("first") is None and journal.get("second") is not None


def test_total_spent_counts_only_accepted_jobs(store: JournalStore, clock: FakeClock) -> None:
    rows = [
        ("quoted", "QUOTED", None, 1.0),
        ("unknown", "UNKNOWN", None, 8.0),
        ("queued", "QUEUED", "q1", 0.1),
        ("done", "COMPLETED", "q2", 0.2),
        ("failed", "FAILED", "q3", 0.3),
        ("unknown-queued", "UNKNOWN", "q4", 0.4),
    ]
    for key, status, queue_id, price in rows:
        clock.advance(1)
        _intent(store, key, quote_usd=price, tags={"batch": "x" if price < 0.25 else "y"})
        if queue_id:
            store.record_queued(key, queue_id=queue_id, download_url=None)
        store.update(key, status=status)
    assert store.total_spent() == 1.0
    assert store.total_spent(statuses=["COMPLETED", "FAILED"]) == 0.5
    assert store.total_spent(tag=("batch", "x")) == pytest.approx(0.3)
    assert store.total_spent(since=1_700_000_004.0) == pytest.approx(0.9)
    assert store.total_spent(model="other") == 0.0


def test_api_ids_overwrite_and_workers_are_kept(store: JournalStore) -> None:
    plain = _intent(store, "plain", base_url=BASE_URL + "/")
    assert (plain.api_id, plain.api, plain.overwrite, plain.worker) == (None, BASE_URL, False, None)
    local = _intent(store, "local", api_id="local-engine:/data", overwrite=True)
    assert (local.api_id, local.overwrite, local.is_local_engine) == (
        "local-engine:/data",
        True,
        True,
    )
    held = store.update("plain", worker="studio-1", overwrite=True)
    assert (held.worker, held.overwrite) == ("studio-1", True)
    assert store.get("local") == local and store.get("plain") == held
    # What resume() and the output claims read: unfinished entries, each with its API.
    assert {(e.key, e.api) for e in store.unfinished()} == {
        ("plain", BASE_URL),
        ("local", "local-engine:/data"),
    }


def test_local_engine_jobs_are_priced_but_not_spent(store: JournalStore) -> None:
    from venice_video.journal import spent

    _intent(store, "real", quote_usd=0.25)
    _intent(store, "local", quote_usd=0.5, api_id="local-engine:/data")
    for key in ("real", "local"):
        store.record_queued(key, queue_id=f"q-{key}", download_url=None)
    assert store.total_spent() == 0.25
    assert store.total_spent(local=True) == 0.5
    assert store.total_spent(local=None) == 0.75
    entries = store.list()
    assert (spent(entries), spent(entries, local=True), spent(entries, local=None)) == (
        0.25,
        0.5,
        0.75,
    )


def test_an_unfinished_job_keeps_its_output_reserved(store: JournalStore, tmp_path: Path) -> None:
    from venice_video import OutputInUseError
    from venice_video._output import claim_output, may_replace, part_path

    out = tmp_path / "shot.mp4"
    part_path(out).write_bytes(b"")  # left by the job below, which is still running
    _intent(store, "running", output_path=str(out), overwrite=True)
    store.record_queued("running", queue_id="q-running", download_url=None)
    with pytest.raises(OutputInUseError):
        claim_output(out, overwrite=False, key="other", journal=store)
    assert may_replace(store, "running") and not may_replace(store, "other")
    store.update("running", status="FAILED")
    claim = claim_output(out, overwrite=False, key="other", journal=store)
    claim.abandon()


def test_a_journal_copied_into_postgres_keeps_every_field(
    pg_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    from venice_video.journal import PostgresJournal
    from venice_video.journal._migrate import copy_journal

    with Journal(tmp_path / "old.sqlite3", clock=clock) as old:
        _intent(old, "local", api_id="local-engine:/data", overwrite=True)
        _intent(old, "real", tags={"batch": "b"})
        old.record_queued("real", queue_id="q-real", download_url=None)
        old.update("real", worker="w1", status="COMPLETED", size_bytes=10, sha256="ab" * 32)
        before = {e.key: e for e in old.list()}
        with PostgresJournal(pg_url) as new:
            report = copy_journal(old, new)
            after = {e.key: e for e in new.list()}
    assert (report.copied, report.skipped, report.unfinished) == (2, 0, 1)
    assert after == before


def test_a_database_of_the_second_schema_gains_api_ids_and_keeps_its_entries(
    pg_url: str,
) -> None:
    import psycopg

    from venice_video.journal._pgschema import DEFAULT_SCHEMA, PG_MIGRATIONS

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {DEFAULT_SCHEMA}")
        conn.execute(f"SET search_path = {DEFAULT_SCHEMA}")
        conn.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
            "description TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)"
        )
        for step in PG_MIGRATIONS[:2]:
            for statement in step.statements:
                conn.execute(statement.encode())
            conn.execute(
                "INSERT INTO schema_migrations VALUES (%s, %s, 0)", (step.version, step.description)
            )
        conn.execute(
            "INSERT INTO jobs (key, model, status, base_url, request, queue_id, created_at, "
            "updated_at, worker) VALUES ('k', 'm', 'QUEUED', 'http://127.0.0.1:1/api/v1', '{}', "
            "'q', 1, 1, 'w1')"
        )
    with open_journal(pg_url) as journal:
        entry = journal.get("k")
        assert entry is not None and entry.worker == "w1"
        assert (entry.api_id, entry.api, entry.overwrite) == (
            None,
            "http://127.0.0.1:1/api/v1",
            False,
        )
        _intent(journal, "n", api_id="local-engine:/data", overwrite=True)
        assert journal.get("n").overwrite  # type: ignore[union-attr]


def test_secrets_and_large_data_urls_never_reach_the_store(
    store: JournalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "vn-SECRET-0123456789abcdef"
    monkeypatch.setenv("VENICE_API_KEY", secret)
    image = "data:image/png;base64," + "A" * 8000
    entry = _intent(
        store,
        "k1",
        base_url=f"https://user:{secret}@api.venice.ai/api/v1?api_key={secret}",
        request={"prompt": "a cat", "Authorization": f"Bearer {secret}", "image_url": image},
        tags={"note": f"key was {secret}"},
    )
    store.update("k1", status="FAILED", error=f"401 for 'Authorization: Bearer {secret}'")
    assert entry.base_url == BASE_URL
    assert entry.request["Authorization"] == "[redacted]"
    assert entry.request["image_url"].startswith("data:image/png;sha256=")
    stored = store.get("k1")
    assert stored is not None and secret not in repr(stored) and "401" in (stored.error or "")


def test_threads_sharing_one_journal_lose_no_updates(store: JournalStore) -> None:
    _intent(store, "shared")
    fields = ["queue_id", "download_url", "output_path", "sha256", "error", "model"]
    barrier = threading.Barrier(len(fields))
    failures: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            barrier.wait()
            for i in range(10):
                key = f"t{n}-{i}"
                _intent(store, key)
                store.record_queued(key, queue_id=f"q-{key}", download_url=None)
            store.update("shared", **{fields[n]: f"value-{n}"})
        except BaseException as exc:  # surfaced below
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(len(fields))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert len(store.list(statuses=["QUEUED"])) == 10 * len(fields)
    shared = store.get("shared")
    assert shared is not None
    assert [getattr(shared, name) for name in fields] == [f"value-{n}" for n in range(len(fields))]


_WRITER = textwrap.dedent(
    """
    import sys
    from venice_video.journal import open_journal

    url, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open_journal(url) as journal:
        print("ready", flush=True)
        sys.stdin.readline()
        for i in range(count):
            key = f"{name}-{i}"
            journal.record_intent(key=key, model="m", base_url="http://127.0.0.1",
                                  request={"prompt": key}, quote_usd=0.01, output_path=None)
            journal.record_queued(key, queue_id="q-" + key, download_url=None)
    """
)


def test_processes_on_a_fresh_database_migrate_once_and_share_it(pg_url: str) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, pg_url, f"p{n}", "30"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.close()
    assert [proc.wait(timeout=120) for proc in procs] == [0, 0, 0]
    for proc in procs:
        assert proc.stdout is not None
        proc.stdout.close()
    with open_journal(pg_url) as journal:
        assert len(journal.list(statuses=["QUEUED"])) == 90
        assert journal.total_spent() == pytest.approx(0.9)
        versions = journal.run(  # type: ignore[attr-defined]
            lambda c: [r[0] for r in c.execute("SELECT version FROM schema_migrations")]
        )
    from venice_video.journal._pgschema import PG_SCHEMA_VERSION

    assert sorted(versions) == list(range(1, PG_SCHEMA_VERSION + 1))


def test_a_database_from_a_newer_release_is_refused(pg_url: str) -> None:
    with open_journal(pg_url) as journal:
        journal.run(  # type: ignore[attr-defined]
            lambda c: c.execute("INSERT INTO schema_migrations VALUES (999, 'from the future', 0)")
        )
    with pytest.raises(JournalError, match="newer"):
        open_journal(pg_url)


def test_the_journal_rides_out_a_server_restart(postgres: Any, pg_url: str) -> None:
    with open_journal(pg_url) as journal:
        _intent(journal, "before")
        postgres.restart()
        # Every pooled connection was cut: the next calls reconnect and carry on.
        after = journal.record_queued("before", queue_id="q1", download_url=None)
        _intent(journal, "after")
        assert after.status == "QUEUED"
        assert {e.key for e in journal.list()} == {"before", "after"}


def test_an_unreachable_database_is_a_clear_error() -> None:
    from venice_video.journal import PostgresJournal

    with pytest.raises(JournalError, match="cannot reach the journal") as info:
        PostgresJournal(
            "postgresql://nobody:hunter2@127.0.0.1:9/none", retry_for=0.5, connect_timeout=1
        )
    assert "hunter2" not in str(info.value)


def test_the_location_hides_the_password(pg_url: str) -> None:
    url = pg_url.replace("postgres@", "postgres:pw-not-shown@")
    with open_journal(url) as journal:
        assert "pw-not-shown" not in journal.location and "pw-not-shown" not in repr(journal)


def test_missing_postgres_skips_locally_and_fails_where_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pg_cluster import REQUIRE_ENV, unavailable

    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        unavailable("PostgreSQL is not installed")
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=REQUIRE_ENV):
        unavailable("PostgreSQL is not installed")


def test_a_tag_matches_exactly_whatever_sql_narrowed_the_rows_to(store: Any) -> None:
    tags = {
        "plain": {"story": "s1"},
        "other": {"story": "s2"},
        "object": {"story": {"id": "s1"}},  # its JSON text is not the string "s1"
        "lookalike": {"story": '{"id": "s1"}'},
        "number": {"story": 1},
        "text-number": {"story": "1"},
        "quoted": {'st"ory': "s1", "a.b": "s1"},
        "unicode": {"story": "é 🎬"},
    }
    for key, value in tags.items():
        _intent(store, key, tags=value, quote_usd=0.1)
        store.record_queued(key, queue_id=f"q-{key}", download_url=None)

    def keys(tag: tuple[str, Any]) -> set[str]:
        return {e.key for e in store.list(tag=tag)}

    assert keys(("story", "s1")) == {"plain"}
    assert keys(("story", {"id": "s1"})) == {"object"}
    assert keys(("story", '{"id": "s1"}')) == {"lookalike"}
    assert keys(("story", 1)) == {"number"} and keys(("story", "1")) == {"text-number"}
    assert keys(('st"ory', "s1")) == {"quoted"} and keys(("a.b", "s1")) == {"quoted"}
    assert keys(("story", "é 🎬")) == {"unicode"} and keys(("missing", "s1")) == set()
    assert store.total_spent(tag=("story", "s1"), local=None) == pytest.approx(0.1)
    assert store.total_spent(tag=("story", "1"), local=None) == pytest.approx(0.1)
