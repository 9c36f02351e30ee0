from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import anyio.to_thread
import platformdirs
import pytest

from venice_video._exceptions import JournalError, VeniceVideoError
from venice_video.journal import Journal, JournalEntry, default_journal_path
from venice_video.journal._schema import SCHEMA_VERSION
from venice_video.journal._store import _switch_to_wal

BASE_URL = "https://api.venice.ai/api/v1"


def _in_threads(target: Callable[[int], None], count: int) -> None:
    """Run `target(0)` ... `target(count - 1)` on threads of their own and wait for all."""
    threads = [threading.Thread(target=target, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


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


@pytest.fixture
def journal(tmp_path: Path, clock: FakeClock) -> Iterator[Journal]:
    with Journal(tmp_path / "state" / "journal.sqlite3", clock=clock) as j:
        yield j


def _intent(journal: Journal, key: str, **overrides: Any) -> JournalEntry:
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


def _raw_bytes(path: Path) -> bytes:
    """Every byte SQLite keeps for the journal: the main file plus its WAL."""
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


# ------------------------------------------------------------------------- lifecycle


def test_record_intent_writes_a_queuing_entry(journal: Journal, clock: FakeClock) -> None:
    entry = _intent(journal, "k1", tags={"batch": "b1", "row": 3})

    assert entry.status == "QUEUING"
    assert entry.key == "k1"
    assert entry.request == {"prompt": "a cat", "duration": "5s"}
    assert entry.quote_usd == 0.5
    assert entry.tags == {"batch": "b1", "row": 3}
    assert entry.created_at == entry.updated_at == clock.now
    assert entry.queue_id is None
    assert not entry.is_finished
    assert journal.get("k1") == entry


def test_entry_moves_through_its_lifecycle_and_stamps_each_step(
    journal: Journal, clock: FakeClock
) -> None:
    start = clock.now
    _intent(journal, "k1")
    clock.advance(1)
    queued = journal.record_queued("k1", queue_id="q-123", download_url=None)
    assert (queued.status, queued.queue_id, queued.queued_at) == ("QUEUED", "q-123", start + 1)

    clock.advance(1)
    running = journal.update(
        "k1", status="PROCESSING", execution_ms=1200.0, average_execution_ms=90_000.0
    )
    assert running.execution_ms == 1200.0
    assert running.updated_at == start + 2

    clock.advance(1)
    ready = journal.update("k1", status="READY")
    clock.advance(1)
    done = journal.update("k1", status="DOWNLOADED", size_bytes=1234, sha256="ab" * 32)
    clock.advance(1)
    completed = journal.update("k1", status="COMPLETED")

    assert ready.ready_at == start + 3
    assert done.downloaded_at == start + 4
    assert (done.size_bytes, done.sha256) == (1234, "ab" * 32)
    assert completed.completed_at == start + 5
    assert completed.queued_at == start + 1  # an earlier stamp is never moved
    assert completed.created_at == start
    assert completed.is_finished
    assert journal.get("k1") == completed


def test_update_keeps_an_explicit_timestamp(journal: Journal) -> None:
    _intent(journal, "k1")
    entry = journal.update("k1", status="READY", ready_at=42.0)
    assert entry.ready_at == 42.0


def test_unknown_status_needs_attention(journal: Journal) -> None:
    _intent(journal, "k1")
    entry = journal.update("k1", status="UNKNOWN", error="connection reset")
    assert entry.needs_attention
    assert not entry.is_finished
    assert entry.error == "connection reset"


def test_record_intent_refuses_a_duplicate_key(journal: Journal) -> None:
    _intent(journal, "k1")
    with pytest.raises(JournalError, match="already exists"):
        _intent(journal, "k1")


def test_update_of_an_unknown_key_raises(journal: Journal) -> None:
    with pytest.raises(JournalError, match="no journal entry"):
        journal.update("missing", status="FAILED")


def test_each_write_is_committed_when_it_returns(journal: Journal) -> None:
    """A write and the row it returns are one statement; nothing is left uncommitted."""
    conn = journal._connection()
    _intent(journal, "k1")
    assert not conn.in_transaction
    journal.record_queued("k1", queue_id="q-1", download_url=None)
    assert not conn.in_transaction
    assert journal.update_existing("missing", status="READY") is None
    assert not conn.in_transaction
    with pytest.raises(JournalError, match="already exists"):
        _intent(journal, "k1")
    assert not conn.in_transaction
    with sqlite3.connect(journal.path) as other:  # another connection sees it all
        row = other.execute("SELECT status, queue_id FROM jobs WHERE key = 'k1'").fetchone()
    assert row == ("QUEUED", "q-1")


def test_an_older_sqlite_without_returning_writes_the_same_entries(
    journal: Journal, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from venice_video.journal import _store

    monkeypatch.setattr(_store, "_RETURNING", False)
    start = clock.now
    entry = _intent(journal, "k1")
    assert (entry.status, entry.created_at) == ("QUEUING", start)
    clock.advance(1)
    queued = journal.record_queued("k1", queue_id="q-1", download_url=None)
    assert (queued.status, queued.queue_id, queued.queued_at) == ("QUEUED", "q-1", start + 1)
    assert journal.update_existing("missing", status="READY") is None
    with pytest.raises(JournalError, match="already exists"):
        _intent(journal, "k1")
    with pytest.raises(JournalError, match="no journal entry"):
        journal.update("missing", status="FAILED")
    assert not journal._connection().in_transaction
    assert journal.get("k1") == queued


def test_a_note_skips_the_sync_and_every_other_write_keeps_it(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = journal._connection()
    levels: list[int] = []
    write_row = journal._write_row

    def logged(sql: str, params: tuple[Any, ...], key: str) -> Any:
        levels.append(conn.execute("PRAGMA synchronous").fetchone()[0])
        return write_row(sql, params, key)

    monkeypatch.setattr(journal, "_write_row", logged)
    _intent(journal, "k1")
    journal.note("k1", status="READY")
    journal.update("k1", status="DOWNLOADED")
    assert levels == [2, 1, 2]  # FULL, NORMAL for the note, FULL
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2
    with pytest.raises(TypeError):
        journal.note("k1", colour="red")
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2


def test_update_rejects_unknown_fields_and_the_key(journal: Journal) -> None:
    _intent(journal, "k1")
    with pytest.raises(TypeError, match="colour"):
        journal.update("k1", colour="red")
    renamed: dict[str, Any] = {"key": "k2"}
    with pytest.raises(TypeError, match="key"):
        journal.update("k1", **renamed)


def test_update_rejects_an_unknown_status(journal: Journal) -> None:
    _intent(journal, "k1")
    with pytest.raises(JournalError, match="unknown job status"):
        journal.update("k1", status="DONE")
    assert journal.get("k1") is not None
    assert journal.get("k1").status == "QUEUING"  # type: ignore[union-attr]


def test_journal_error_is_a_venice_video_error() -> None:
    assert issubclass(JournalError, VeniceVideoError)


def test_get_returns_none_for_an_unknown_key(journal: Journal) -> None:
    assert journal.get("nope") is None


def test_delete_removes_one_entry(journal: Journal) -> None:
    _intent(journal, "k1")
    _intent(journal, "k2")
    journal.delete("k1")
    journal.delete("k1")  # already gone: nothing happens
    assert journal.get("k1") is None
    assert journal.get("k2") is not None


def test_entries_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    with Journal(path) as first:
        _intent(first, "k1")
        first.record_queued("k1", queue_id="q-1", download_url="https://cdn.example/v.mp4")
    with Journal(path) as second:
        entry = second.get("k1")
    assert entry is not None
    assert (entry.status, entry.download_url) == ("QUEUED", "https://cdn.example/v.mp4")


def test_a_closed_journal_raises(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    journal.close()
    with pytest.raises(JournalError, match="closed"):
        journal.get("k1")


# ------------------------------------------------------------------------- find


def test_find_by_queue_id_key_or_unique_prefix(journal: Journal) -> None:
    _intent(journal, "aaaa1111")
    _intent(journal, "bbbb2222")
    journal.record_queued("aaaa1111", queue_id="0f3c-queue", download_url=None)

    assert journal.find("0f3c-queue").key == "aaaa1111"  # type: ignore[union-attr]
    assert journal.find("bbbb2222").key == "bbbb2222"  # type: ignore[union-attr]
    assert journal.find("bbb").key == "bbbb2222"  # type: ignore[union-attr]
    assert journal.find("0f3").key == "aaaa1111"  # type: ignore[union-attr]


def test_find_returns_none_when_nothing_matches(journal: Journal) -> None:
    _intent(journal, "aaaa1111")
    assert journal.find("zzz") is None
    assert journal.find("") is None


def test_find_raises_on_an_ambiguous_prefix(journal: Journal) -> None:
    _intent(journal, "abc1")
    _intent(journal, "abc2")
    with pytest.raises(JournalError, match="more than one"):
        journal.find("abc")


def test_find_prefers_an_exact_match_over_a_prefix(journal: Journal) -> None:
    _intent(journal, "abc")
    _intent(journal, "abcdef")
    assert journal.find("abc").key == "abc"  # type: ignore[union-attr]


def test_find_treats_like_wildcards_literally(journal: Journal) -> None:
    _intent(journal, "abc")
    assert journal.find("%") is None
    assert journal.find("_") is None


# ------------------------------------------------------------------------- list


def test_list_is_newest_first_and_filters(journal: Journal, clock: FakeClock) -> None:
    for i, status in enumerate(["COMPLETED", "QUEUED", "FAILED", "PROCESSING", "UNKNOWN"]):
        clock.advance(1)
        _intent(journal, f"k{i}", tags={"batch": "A" if i % 2 else "B", "row": i})
        journal.update(f"k{i}", status=status)

    assert [e.key for e in journal.list()] == ["k4", "k3", "k2", "k1", "k0"]
    assert [e.key for e in journal.list(statuses=["FAILED", "COMPLETED"])] == ["k2", "k0"]
    assert [e.key for e in journal.list(unfinished=True)] == ["k4", "k3", "k1"]
    assert [e.key for e in journal.list(tag=("batch", "A"))] == ["k3", "k1"]
    assert [e.key for e in journal.list(tag=("row", 0))] == ["k0"]
    assert [e.key for e in journal.list(limit=2)] == ["k4", "k3"]
    assert [e.key for e in journal.list(tag=("batch", "B"), limit=1)] == ["k4"]
    assert journal.list(statuses=[]) == []
    assert [e.key for e in journal.list(statuses="FAILED")] == ["k2"]


def test_list_rejects_an_unknown_status(journal: Journal) -> None:
    with pytest.raises(JournalError, match="unknown job status"):
        journal.list(statuses=["complete"])


def test_unfinished_excludes_completed_failed_and_cancelled(journal: Journal) -> None:
    statuses = ["QUOTED", "QUEUING", "QUEUED", "PROCESSING", "READY", "DOWNLOADED", "UNKNOWN"]
    for status in [*statuses, "COMPLETED", "FAILED", "CANCELLED"]:
        _intent(journal, status.lower())
        journal.update(status.lower(), status=status)
    assert sorted(e.status for e in journal.unfinished()) == sorted(statuses)


# ------------------------------------------------------------------------- clean


def test_clean_removes_only_old_finished_entries(journal: Journal, clock: FakeClock) -> None:
    for key, status in [("old-done", "COMPLETED"), ("old-failed", "FAILED"), ("old-run", "QUEUED")]:
        _intent(journal, key)
        journal.update(key, status=status)
    clock.advance(3600)
    _intent(journal, "new-done")
    journal.update("new-done", status="COMPLETED")

    removed = journal.clean(older_than_s=600)

    assert removed == 2
    assert {e.key for e in journal.list()} == {"old-run", "new-done"}


def test_clean_without_age_removes_all_finished_entries(journal: Journal) -> None:
    for key, status in [("a", "COMPLETED"), ("b", "CANCELLED"), ("c", "UNKNOWN")]:
        _intent(journal, key)
        journal.update(key, status=status)
    assert journal.clean() == 2
    assert [e.key for e in journal.list()] == ["c"]


def test_clean_can_target_named_statuses(journal: Journal) -> None:
    for key, status in [("a", "COMPLETED"), ("b", "FAILED")]:
        _intent(journal, key)
        journal.update(key, status=status)
    assert journal.clean(statuses=["FAILED"]) == 1
    assert [e.key for e in journal.list()] == ["a"]


# ------------------------------------------------------------------------- money


def test_total_spent_counts_only_jobs_the_server_accepted(
    journal: Journal, clock: FakeClock
) -> None:
    rows = [
        ("quoted", "QUOTED", None, 1.0),
        ("queuing", "QUEUING", None, 2.0),
        ("cancelled", "CANCELLED", None, 4.0),
        ("unknown", "UNKNOWN", None, 8.0),
        ("queued", "QUEUED", "q1", 0.1),
        ("done", "COMPLETED", "q2", 0.2),
        ("failed", "FAILED", "q3", 0.3),
        ("unknown-queued", "UNKNOWN", "q4", 0.4),
    ]
    for key, status, queue_id, price in rows:
        clock.advance(1)
        _intent(journal, key, quote_usd=price, tags={"batch": "x" if price < 0.25 else "y"})
        if queue_id:
            journal.record_queued(key, queue_id=queue_id, download_url=None)
        journal.update(key, status=status)
    _intent(journal, "unpriced", quote_usd=None)
    journal.record_queued("unpriced", queue_id="q5", download_url=None)

    assert journal.total_spent() == 1.0
    assert journal.total_spent(statuses=["COMPLETED", "FAILED"]) == 0.5
    assert journal.total_spent(tag=("batch", "x")) == pytest.approx(0.3)
    assert journal.total_spent(since=1_700_000_006.0) == pytest.approx(0.9)
    assert journal.total_spent(until=1_700_000_006.0) == pytest.approx(0.1)
    assert journal.total_spent(model="other-model") == 0.0


def test_total_spent_adds_up_cents_exactly(journal: Journal) -> None:
    for i in range(10):
        _intent(journal, f"k{i}", quote_usd=0.1)
        journal.record_queued(f"k{i}", queue_id=f"q{i}", download_url=None)
    assert journal.total_spent() == 1.0


# ------------------------------------------------------------------------- files


def test_journal_file_is_0600_and_new_directory_is_0700(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "journal.sqlite3"
    with Journal(path) as journal:
        _intent(journal, "k1")
        for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            assert stat.S_IMODE(name.stat().st_mode) == 0o600, name
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_an_existing_readable_journal_is_tightened_to_0600(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    path.touch()
    path.chmod(0o644)
    Journal(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_existing_parent_directory_chosen_by_the_caller_is_left_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    Journal(shared / "journal.sqlite3").close()
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755


def test_default_path_is_in_the_user_state_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VENICE_VIDEO_JOURNAL", raising=False)
    expected = Path(platformdirs.user_state_dir("venice-video")) / "journal.sqlite3"
    assert default_journal_path() == expected


def test_env_var_overrides_the_default_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "from-env.sqlite3"
    monkeypatch.setenv("VENICE_VIDEO_JOURNAL", str(target))
    with Journal() as journal:
        assert journal.path == target
    assert target.exists()


def test_uses_wal_and_full_synchronous_writes(journal: Journal) -> None:
    conn = journal._connection()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000


def test_schema_version_and_migrations_are_recorded(journal: Journal) -> None:
    with sqlite3.connect(journal.path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
    assert versions == list(range(1, SCHEMA_VERSION + 1))


def test_a_journal_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    Journal(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(JournalError, match="newer"):
        Journal(path)


# ------------------------------------------------------------------------- secrets and data


def test_large_data_urls_are_stored_as_digests(journal: Journal) -> None:
    image = os.urandom(6000)
    image_url = "data:image/png;base64," + base64.b64encode(image).decode()
    audio = b"RIFF" + bytes(3000)
    audio_url = "data:audio/wav;base64," + base64.b64encode(audio).decode()
    small = "data:text/plain,hi"
    prompt = "data: " + "a long prompt that happens to start like a data URL " * 40
    request = {
        "prompt": "a cat",
        "image_url": image_url,
        "reference_image_urls": [image_url, "https://example.com/a.png"],
        "elements": [{"frontal_image_url": image_url}],
        "audio_url": audio_url,
        "end_image_url": small,
        "negative_prompt": prompt,
    }

    entry = _intent(journal, "k1", request=request)

    digest = f"data:image/png;sha256={hashlib.sha256(image).hexdigest()};bytes=6000"
    assert entry.request["image_url"] == digest
    assert entry.request["reference_image_urls"] == [digest, "https://example.com/a.png"]
    assert entry.request["elements"] == [{"frontal_image_url": digest}]
    assert entry.request["audio_url"] == (
        f"data:audio/wav;sha256={hashlib.sha256(audio).hexdigest()};bytes={len(audio)}"
    )
    assert entry.request["end_image_url"] == small
    assert entry.request["negative_prompt"] == prompt
    assert request["image_url"] == image_url  # the caller's dict is not modified
    assert base64.b64encode(image)[:200] not in _raw_bytes(journal.path)
    # Storing an already digested request again changes nothing.
    assert journal.update("k1", request=entry.request).request == entry.request


def test_no_api_key_reaches_the_file(journal: Journal, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "vn-SECRET-0123456789abcdef"
    monkeypatch.setenv("VENICE_API_KEY", secret)

    entry = _intent(
        journal,
        "k1",
        base_url=f"https://user:{secret}@api.venice.ai/api/v1?api_key={secret}",
        request={"prompt": "a cat", "Authorization": f"Bearer {secret}", "api_key": secret},
        tags={"note": f"key was {secret}"},
    )
    journal.update("k1", status="FAILED", error=f"401 for header 'Authorization: Bearer {secret}'")

    assert entry.base_url == "https://api.venice.ai/api/v1"
    assert entry.request["Authorization"] == "[redacted]"
    assert secret.encode() not in _raw_bytes(journal.path)
    stored = journal.get("k1")
    assert stored is not None and stored.error is not None
    assert secret not in stored.error
    assert "401" in stored.error


def test_errors_are_capped_in_length(journal: Journal) -> None:
    _intent(journal, "k1")
    entry = journal.update("k1", error="<html>" + "x" * 100_000)
    assert entry.error is not None and len(entry.error) <= 4000


def test_a_request_that_is_not_json_is_refused(journal: Journal) -> None:
    with pytest.raises(JournalError, match="JSON"):
        _intent(journal, "k1", request={"prompt": object()})
    assert journal.get("k1") is None


# ------------------------------------------------------------------------- concurrency


def test_eight_threads_sharing_one_journal_lose_no_updates(journal: Journal) -> None:
    _intent(journal, "shared")
    fields = ["queue_id", "download_url", "output_path", "sha256", "error", "model", "base_url"]
    barrier = threading.Barrier(8)
    failures: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            barrier.wait()
            for i in range(12):
                key = f"t{n}-{i}"
                _intent(journal, key, tags={"thread": n})
                journal.record_queued(key, queue_id=f"q-{key}", download_url=None)
                journal.update(key, status="COMPLETED", size_bytes=i)
            # Every thread sets a different column of one entry: none may undo another.
            if n < len(fields):
                journal.update("shared", **{fields[n]: f"value-{n}"})
            else:
                journal.update("shared", size_bytes=n)
        except BaseException as exc:  # surfaced below
            failures.append(exc)

    _in_threads(worker, 8)

    assert failures == []
    entries = journal.list(statuses=["COMPLETED"])
    assert len(entries) == 8 * 12
    assert all(e.queue_id == f"q-{e.key}" for e in entries)
    shared = journal.get("shared")
    assert shared is not None
    for n, name in enumerate(fields):
        assert getattr(shared, name) == f"value-{n}"
    assert shared.size_bytes == 7


_WRITER = textwrap.dedent(
    """
    import sys
    from venice_video.journal import Journal

    path, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with Journal(path) as journal:
        print("ready", flush=True)
        sys.stdin.readline()  # start together with the other process
        for i in range(count):
            key = f"{name}-{i}"
            journal.record_intent(key=key, model="m", base_url="http://127.0.0.1",
                                  request={"prompt": key}, quote_usd=0.01, output_path=None)
            journal.record_queued(key, queue_id="q-" + key, download_url=None)
        field = {"p0": "queue_id", "p1": "download_url"}[name]
        journal.update("shared", **{field: name})
    """
)


def test_two_processes_sharing_one_journal_lose_no_updates(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    with Journal(path) as journal:
        _intent(journal, "shared", quote_usd=None)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), name, "40"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in ("p0", "p1")
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    assert [proc.wait(timeout=120) for proc in procs] == [0, 0]
    for proc in procs:
        for stream in (proc.stdin, proc.stdout):
            assert stream is not None
            stream.close()

    with Journal(path) as journal:
        queued = journal.list(statuses=["QUEUED"])
        shared = journal.get("shared")
        spent = journal.total_spent()
    assert len(queued) == 80
    assert {e.key for e in queued} == {f"p{p}-{i}" for p in (0, 1) for i in range(40)}
    assert shared is not None
    assert (shared.queue_id, shared.download_url) == ("p0", "p1")
    assert spent == pytest.approx(0.8)


def test_two_processes_opening_a_new_journal_at_once_both_succeed(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "j.sqlite3"
    script = textwrap.dedent(
        """
        import sys
        from venice_video.journal import Journal
        with Journal(sys.argv[1]) as j:
            j.record_intent(key=sys.argv[2], model="m", base_url="http://127.0.0.1",
                            request={}, quote_usd=None, output_path=None)
        """
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(path), f"k{i}"], stderr=subprocess.PIPE, text=True
        )
        for i in range(2)
    ]
    errors = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    with Journal(path) as journal:
        assert {e.key for e in journal.list()} == {"k0", "k1"}
    with sqlite3.connect(path) as conn:
        assert (
            conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == SCHEMA_VERSION
        )


def test_connections_racing_to_open_new_journals_all_succeed(tmp_path: Path) -> None:
    # The moment of the race is narrow; a few hundred starts from one barrier find it reliably.
    failures: list[BaseException] = []
    for round_ in range(150):
        path = tmp_path / f"j{round_}.sqlite3"
        barrier = threading.Barrier(4)

        def open_and_write(i: int, path: Path = path, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                with Journal(path) as journal:
                    _intent(journal, f"k{i}")
            except JournalError as exc:
                failures.append(exc)

        _in_threads(open_and_write, 4)
    assert failures == []


class _BusyConnection:
    def __init__(self, fails: int, code: int = sqlite3.SQLITE_BUSY) -> None:
        self.fails = fails
        self.code = code
        self.calls = 0

    def execute(self, sql: str) -> Any:
        self.calls += 1
        if self.calls <= self.fails:
            exc = sqlite3.OperationalError("database is locked")
            exc.sqlite_errorcode = self.code
            raise exc
        return self

    def fetchone(self) -> tuple[str]:
        return ("wal",)


def test_a_wal_switch_refused_as_busy_is_asked_again_after_a_pause() -> None:
    clock = FakeClock(0.0)
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        clock.advance(seconds)

    conn = _BusyConnection(fails=3)
    assert _switch_to_wal(cast(sqlite3.Connection, conn), clock=clock, sleep=sleep) == "wal"
    assert conn.calls == 4
    assert pauses == sorted(pauses) and len(pauses) == 3


def test_a_wal_switch_still_busy_at_the_deadline_raises_and_other_errors_raise_at_once() -> None:
    clock = FakeClock(0.0)
    busy = _BusyConnection(fails=10**6)
    with pytest.raises(sqlite3.OperationalError):
        _switch_to_wal(
            cast(sqlite3.Connection, busy), timeout=5.0, clock=clock, sleep=clock.advance
        )
    assert clock.now <= 5.0 and busy.calls > 3
    other = _BusyConnection(fails=1, code=sqlite3.SQLITE_IOERR)
    with pytest.raises(sqlite3.OperationalError):
        _switch_to_wal(cast(sqlite3.Connection, other), clock=clock, sleep=clock.advance)
    assert other.calls == 1


_CRASHER = textwrap.dedent(
    """
    import sys
    from venice_video.journal import Journal

    with Journal(sys.argv[1]) as journal:
        i = 0
        while True:
            key = f"k{i}"
            # A large request makes each transaction span many pages, so the kill is
            # likely to land in the middle of writing one.
            journal.record_intent(key=key, model="m", base_url="http://127.0.0.1",
                                  request={"prompt": "x" * 20000, "n": i},
                                  quote_usd=0.01, output_path=None)
            journal.record_queued(key, queue_id="q" + key, download_url=None)
            print(key, flush=True)
            i += 1
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_mid_write_keeps_committed_entries_and_an_intact_file(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    proc = subprocess.Popen(
        [sys.executable, "-c", _CRASHER, str(path)], stdout=subprocess.PIPE, text=True
    )
    watchdog = threading.Timer(60, proc.kill)
    watchdog.start()
    committed: list[str] = []
    try:
        assert proc.stdout is not None
        while len(committed) < 25:
            line = proc.stdout.readline()
            assert line, "the writer died before the kill"
            committed.append(line.strip())
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        watchdog.cancel()
        if proc.stdout is not None:
            proc.stdout.close()

    with Journal(path) as journal:
        for key in committed:
            entry = journal.get(key)
            assert entry is not None, key
            assert (entry.status, entry.queue_id) == ("QUEUED", f"q{key}")
        journal.record_intent(
            key="after-crash", model="m", base_url="x", request={}, quote_usd=0, output_path=None
        )
        assert journal.get("after-crash") is not None
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_uses_its_own_connection(journal: Journal) -> None:
    _intent(journal, "k1")
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            journal.update("k1", status="READY")
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    entry = journal.update("k1", status="DOWNLOADED")
    assert entry.ready_at is not None


async def test_async_code_reaches_the_journal_through_a_thread(journal: Journal) -> None:
    record = functools.partial(
        journal.record_intent,
        key="k1",
        model="m",
        base_url=BASE_URL,
        request={},
        quote_usd=0.25,
        output_path=None,
    )
    await anyio.to_thread.run_sync(record)
    entry = await anyio.to_thread.run_sync(
        functools.partial(journal.record_queued, "k1", queue_id="q1", download_url=None)
    )
    assert entry.status == "QUEUED"


def test_journal_entry_is_frozen() -> None:
    entry = JournalEntry(key="k", model="m", status="QUEUED", base_url=BASE_URL, request={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.status = "FAILED"  # type: ignore[misc]
    assert entry.tags == {}
    assert not entry.is_finished and not entry.needs_attention


def test_a_journal_of_the_first_schema_gains_api_ids_and_keeps_its_entries(
    tmp_path: Path,
) -> None:
    from venice_video.journal._schema import MIGRATIONS

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        for statement in MIGRATIONS[0].statements:
            conn.execute(statement)
        conn.execute(
            "INSERT INTO jobs (key, model, status, base_url, request, created_at, updated_at) "
            "VALUES ('k', 'm', 'QUEUED', 'http://127.0.0.1:47615/api/v1/', '{}', 1, 1)"
        )
        conn.execute("PRAGMA user_version = 1")
    conn.close()
    with Journal(path) as journal:
        entry = journal.get("k")
        assert entry is not None and entry.api_id is None
        assert entry.api == "http://127.0.0.1:47615/api/v1"
        journal.record_intent(key="n", model="m", base_url="http://127.0.0.1:1/api/v1",
                              request={}, quote_usd=0.5, output_path=None,
                              api_id="local-engine:/data")  # fmt: skip
        journal.record_queued("n", queue_id="q", download_url=None)
        new = journal.get("n")
        assert new is not None and new.api == "local-engine:/data" and new.is_local_engine
        assert journal.total_spent() == 0.0
        assert journal.total_spent(local=True) == 0.5
        assert journal.total_spent(local=None) == 0.5


def test_a_journal_of_the_second_schema_gains_workers_and_keeps_its_entries(
    tmp_path: Path,
) -> None:
    from venice_video.journal._schema import MIGRATIONS

    path = tmp_path / "v2.sqlite3"
    with sqlite3.connect(path) as conn:
        for step in MIGRATIONS[:2]:
            for statement in step.statements:
                conn.execute(statement)
        conn.execute(
            "INSERT INTO jobs (key, model, status, base_url, request, created_at, updated_at, "
            "api_id, overwrite) VALUES ('k', 'm', 'QUEUED', 'http://h/api/v1', '{}', 1, 1, "
            "'local-engine:/data', 1)"
        )
        conn.execute("PRAGMA user_version = 2")
    conn.close()
    with Journal(path) as journal:
        entry = journal.get("k")
        assert entry is not None and entry.worker is None
        assert (entry.api_id, entry.overwrite) == ("local-engine:/data", True)
        assert journal.update("k", worker="w1").worker == "w1"
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    conn.close()
