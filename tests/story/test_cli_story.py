"""`venice-video story`: schema, check, quote, render and status against the local server."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from story_helpers import edit, local_stats

from venice_video.cli._app import cli
from venice_video.cli._errors import EXIT_CODES
from venice_video.server import ServerThread
from venice_video.story._schema import schema_text

Run = Callable[..., Result]


@pytest.fixture
def run(server: ServerThread, api_key: str, tmp_path: Path) -> Run:
    env = {
        "VENICE_API_KEY": api_key,
        "VENICE_BASE_URL": server.base_url,
        "VENICE_VIDEO_JOURNAL": str(tmp_path / "journal.sqlite3"),
        "VENICE_VIDEO_CONFIG": str(tmp_path / "absent.toml"),
        "VENICE_VIDEO_TRUST_IDEMPOTENCY": "1",
    }

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

    return invoke


def test_schema_prints_the_shipped_schema(run: Run) -> None:
    result = run("story", "schema")
    assert result.exit_code == 0
    assert result.stdout == schema_text()
    assert json.loads(result.stdout)["properties"]["shots"]["minItems"] == 1


def test_check_prints_the_plan(run: Run, story_file: Path) -> None:
    result = run("story", "check", str(story_file))
    assert result.exit_code == 0, result.output
    assert "The Lighthouse Keeper: 6 shots, all valid" in result.stdout
    assert "shot 4 boat: vidu-q3-image-to-video, 3s (starts from shot 3's last frame)" in (
        result.stdout
    )
    assert "at once: shots 1, 2, 3, 6" in result.stdout
    data = json.loads(run("--json", "story", "check", str(story_file)).stdout)
    assert data["waves"] == [[1, 2, 3, 6], [4], [5]]


def test_check_names_file_line_and_shot(run: Run, story_file: Path) -> None:
    edit(story_file, "  duration: 3s\n", "  duration: 4s\n  aspect: wide\n")
    edit(story_file, "  - name: dawn\n", "  - name: dawn\n    duration: 7s\n")
    result = run("story", "check", str(story_file))
    assert result.exit_code == EXIT_CODES["validation"]
    assert f"{story_file}:21: unknown field 'aspect' in defaults (did you mean " in result.stderr
    edit(story_file, "  aspect: wide\n", "")
    result = run("story", "check", str(story_file))
    assert result.exit_code == EXIT_CODES["validation"]
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"error: {story_file}:20: shot 1 (cliff): vidu-q3-text-to-video "
                               "does not support duration '4s'")  # fmt: skip
    assert any(line.startswith(f"{story_file}:61: shot 6 (dawn): vidu-q3-text-to-video does "
                               "not support duration '7s'") for line in lines)  # fmt: skip


def test_quote_prices_every_shot_and_refuses_over_budget(
    run: Run, story_file: Path, server: ServerThread, api_key: str
) -> None:
    result = run("story", "quote", str(story_file))
    assert result.exit_code == 0, result.output
    assert "total $1.4800 of a $5.0000 budget: $1.4800 new" in result.stdout
    edit(story_file, "budget: 5.00", "budget: 0.60")
    refused = run("story", "quote", str(story_file))
    assert refused.exit_code == EXIT_CODES["money"]
    assert "over its budget of $0.6000; nothing was queued" in refused.stderr
    assert local_stats(server, api_key)["queue_requests"] == 0


@pytest.mark.slow
def test_render_then_status_then_jobs(run: Run, story_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "films" / "keeper.mp4"
    result = run("story", "render", str(story_file), "-o", str(out), "--yes")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    assert "shot 4 (boat): done" in result.stderr
    assert "film assembled:" in result.stderr and "6 shots, 0 reused" in result.stderr
    assert (tmp_path / "films" / "keeper.film.json").is_file()

    status = json.loads(run("--json", "story", "status", str(story_file), "-o", str(out)).stdout)
    assert status["film_state"] == "current"
    assert [s["state"] for s in status["shots"]] == ["rendered"] * 6

    listing = run("jobs")
    assert "STORY" in listing.stdout and "The Lighthouse Keeper #4" in listing.stdout
    again = run("--json", "story", "render", str(story_file), "-o", str(out))
    assert json.loads(again.stdout)["spent_usd"] == 0
    edit(story_file, "line: And every morning, it rested.", "line: And every morning, it slept.")
    status = json.loads(run("--json", "story", "status", str(story_file), "-o", str(out)).stdout)
    assert status["film_state"] == "stale"  # the captions changed: it needs assembling again
