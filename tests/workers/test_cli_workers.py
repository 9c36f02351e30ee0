"""The team commands: batch --detach, worker, workers, jobs with workers, journal migrate."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from worker_helpers import FIELDS, MODEL, config, worker_thread

from venice_video.journal import Journal, PostgresJournal

Run = Callable[..., Result]


@pytest.fixture
def env(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**env, "VENICE_VIDEO_OUTPUT_DIR": str(tmp_path / "out")}


def _batch(tmp_path: Path, rows: int) -> Path:
    path = tmp_path / "shots.jsonl"
    lines = [
        json.dumps({**FIELDS, "prompt": f"shot {i}", "name": f"shot-{i}"}) for i in range(rows)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_detached_batch_is_made_by_workers_and_shown_with_them(
    run: Run, tmp_path: Path, pg_url: str, server: Any, api_key: str
) -> None:
    batch = _batch(tmp_path, 3)
    result = run("--json", "batch", str(batch), "--detach", "--max-total-cost", "5")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert (summary["submitted"], summary["refused"]) == (3, 0)
    again = json.loads(
        run("--json", "batch", str(batch), "--detach", "--max-total-cost", "5").output
    )
    assert (again["submitted"], again["already"]) == (0, 3)  # resubmitting is a no-op

    shared = tmp_path / "shared"
    with worker_thread(config(pg_url, server, api_key, shared, name="studio-1")):
        deadline = time.monotonic() + 60
        listing: dict[str, Any] = {}
        while time.monotonic() < deadline:
            listing = json.loads(run("--json", "workers").output)
            if listing["workers"]:
                break
            time.sleep(0.1)
        assert [w["name"] for w in listing["workers"]] == ["studio-1"]
        assert listing["workers"][0]["live"] is True
        while time.monotonic() < deadline:
            jobs = json.loads(run("--json", "jobs").output)
            if all(j["status"] == "COMPLETED" for j in jobs) and len(jobs) == 3:
                break
            time.sleep(0.2)
    assert {j["worker"] for j in jobs} == {"studio-1"}
    assert all(Path(j["output_path"]).parent == (shared / "shots").absolute() for j in jobs)
    text = run("jobs").output
    assert "WORKER" in text.splitlines()[0] and "studio-1" in text
    [budget] = listing["budgets"]
    assert budget["name"].startswith("batch:") and budget["limit_usd"] == 5.0
    after = json.loads(run("--json", "workers", "--all").output)
    assert after["workers"][0]["stopped"] is True and after["leases"] == []


def test_a_detached_batch_over_its_budget_refuses_the_rest(run: Run, tmp_path: Path) -> None:
    batch = _batch(tmp_path, 4)
    price = json.loads(run("--json", "quote", "-m", MODEL, "-d", "1s", "-r", "480p").output)
    assert run("workers", "budget", "team", str(price["quote_usd"] * 2.5)).exit_code == 0
    result = run("--json", "batch", str(batch), "--detach", "--budget", "team")
    assert result.exit_code == 9
    summary = json.loads(result.output)
    assert (summary["submitted"], summary["refused"]) == (2, 2)
    assert "budget 'team'" in summary["rows"][2]["error"]


def test_team_commands_need_the_shared_journal(run: Run, tmp_path: Path) -> None:
    batch = _batch(tmp_path, 1)
    local = str(tmp_path / "j.sqlite3")
    for args in (("batch", str(batch), "--detach"), ("worker",), ("workers",)):
        result = run(*args, VENICE_VIDEO_JOURNAL=local)
        assert result.exit_code != 0 and "shared journal" in result.output, args


def test_journal_migrate_copies_a_sqlite_journal_once(
    run: Run, tmp_path: Path, pg_url: str
) -> None:
    source = tmp_path / "old.sqlite3"
    with Journal(source) as old:
        for i, status in enumerate(["COMPLETED", "QUEUED", "UNKNOWN"]):
            old.record_intent(key=f"k{i}", model="m", base_url="https://api.venice.ai/api/v1",
                              request={"prompt": f"p{i}"}, quote_usd=0.5, output_path=f"/v/{i}.mp4",
                              tags={"row": i})  # fmt: skip
            if status != "UNKNOWN":
                old.record_queued(f"k{i}", queue_id=f"q{i}", download_url=None)
            old.update(f"k{i}", status=status)
        before = {e.key: e for e in old.list()}
    result = run("--json", "journal", "migrate", "--from", str(source))
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["copied"], report["skipped"], report["unfinished"]) == (3, 0, 2)
    assert report["spent_usd"] == 1.0
    again = json.loads(run("--json", "journal", "migrate", "--from", str(source)).output)
    assert (again["copied"], again["skipped"]) == (0, 3)
    with PostgresJournal(pg_url) as new:
        after = {e.key: e for e in new.list()}
        assert new.total_spent() == 1.0
    assert after == before


def test_a_database_url_is_kept_whole_and_shown_without_its_password(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from venice_video._settings import load_settings

    url = "postgresql://studio:s3cret-pw@db.internal:5432/venice"
    monkeypatch.setenv("VENICE_VIDEO_CONFIG", "/nonexistent/config.toml")
    settings = load_settings(journal=url)
    assert settings.journal_path == url
    shown = json.loads(run("--json", "config", VENICE_VIDEO_JOURNAL=url).output)["journal"]
    assert shown == "postgresql://studio@db.internal:5432/venice"
