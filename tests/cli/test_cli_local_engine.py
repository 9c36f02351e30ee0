"""The embedded local engine is known by its data folder, not its port; its spending is not
money; and a 503 from the queue is resent, not counted as a failure."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import MODEL, SHORT, Run, assert_valid_mp4, stats
from click.testing import CliRunner, Result

from venice_video import VeniceVideo
from venice_video._settings import load_settings
from venice_video.cli._app import cli
from venice_video.cli._engine import endpoint
from venice_video.journal import Journal
from venice_video.server import ServerThread


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something else listens on: the engine's usual one, taken."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


@pytest.fixture
def local(tmp_path: Path, busy_port: int, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """The CLI with no key and no base URL: on the local engine, whose port is taken."""
    for name in ("VENICE_API_KEY", "VENICE_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    values = {
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "VENICE_VIDEO_JOURNAL": str(tmp_path / "journal.sqlite3"),
        "VENICE_VIDEO_CONFIG": str(tmp_path / "absent.toml"),
        "VENICE_VIDEO_LOCAL_PORT": str(busy_port),
        "VENICE_VIDEO_LOCAL_SPEED": "1000",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke


def _queue_on_the_engine(out: Path) -> tuple[str, str | None]:
    """As a command interrupted after queueing: the job is journaled, the engine gone."""
    settings = load_settings()
    with endpoint(settings, quiet=True) as api, VeniceVideo(**api.client_kwargs(settings)) as c:
        job = c.submit(model=MODEL, prompt="a fox", duration="5s", resolution="480p", output=out)
        return str(api.base_url), job.queue_id


def test_jobs_resume_finds_a_job_after_the_engine_got_another_port(
    local: Callable[..., Result], tmp_path: Path
) -> None:
    out = tmp_path / "fox.mp4"
    first_url, queue_id = _queue_on_the_engine(out)
    result = local("jobs", "resume")
    assert result.exit_code == 0, result.output
    assert "nothing to resume" not in result.stdout
    assert f"{queue_id}  COMPLETED" in result.stdout
    engine_lines = [line for line in result.stderr.splitlines() if "local engine at" in line]
    assert engine_lines and first_url not in engine_lines[0]  # another port this time
    assert_valid_mp4(out)


def test_a_batch_rerun_resumes_its_rows_on_the_engine_whatever_its_port(
    local: Callable[..., Result], tmp_path: Path
) -> None:
    from venice_video.cli._batch import load_rows

    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text('{"prompt": "a fox"}\n')
    out = tmp_path / "out"
    rows = load_rows(jobs, default_model=MODEL, out_dir=out, template="{index:03d}-{name}.mp4",
                     defaults={"duration": "5s", "resolution": "480p"})  # fmt: skip
    settings = load_settings()
    with endpoint(settings, quiet=True) as api, VeniceVideo(**api.client_kwargs(settings)) as c:
        c.submit(**rows[0].fields, output=rows[0].output, idempotency_key=rows[0].key)
    result = local("--json", "batch", str(jobs), "-m", MODEL, "-d", "5s", "-r", "480p",
                   "--out-dir", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["done"] == 1
    assert_valid_mp4(rows[0].output)


def test_a_command_reuses_the_engine_another_one_runs_on_the_same_folder(
    local: Callable[..., Result],
) -> None:
    settings = load_settings()
    with endpoint(settings, quiet=True) as first, endpoint(settings, quiet=True) as second:
        assert second.base_url == first.base_url
        assert second.api_id == first.api_id
        assert str(first.api_id).startswith("local-engine:")
        with VeniceVideo(**second.client_kwargs(settings)) as client:
            assert len(client.models()) > 10


def test_local_engine_spending_is_shown_apart_from_money(
    local: Callable[..., Result], tmp_path: Path
) -> None:
    made = local("generate", "a fox", *SHORT, "-o", str(tmp_path / "fox.mp4"))
    assert made.exit_code == 0, made.output
    listing = local("jobs")
    assert "spent: $0.0000" in listing.stdout
    assert "local engine: $0.2600 (placeholder videos; not money)" in listing.stdout
    assert "$0.2600 (local)" in listing.stdout
    assert json.loads(local("--json", "jobs").stdout)[0]["local_engine"] is True
    with Journal(tmp_path / "journal.sqlite3") as journal:
        assert journal.total_spent() == 0.0
        assert journal.total_spent(local=True) == pytest.approx(0.26)


def test_a_503_from_the_queue_is_resent_with_the_same_key(
    run: Run, server_factory: Any, api_key: str, tmp_path: Path
) -> None:
    busy: ServerThread = server_factory(
        faults={"endpoints": {"queue": {"error_503": 1.0, "max_faults": 1}}}
    )
    out = tmp_path / "fox.mp4"
    result = run("generate", "a fox", *SHORT, "-o", str(out), "--yes",
                 VENICE_BASE_URL=busy.base_url)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert stats(busy, api_key)["jobs_created"] == 1
    assert_valid_mp4(out)
