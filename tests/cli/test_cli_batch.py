"""`batch`: every row is checked before money moves, bad rows are named by file and line,
and the run is shown and summed up row by row."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from cli_helpers import MODEL, Run, assert_valid_mp4, stats

from venice_video.cli._errors import EXIT_CODES
from venice_video.server import ServerThread

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _write(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_one_bad_row_stops_the_batch_before_any_money_moves_and_is_named(
    run: Run, server: ServerThread, api_key: str, tmp_path: Path
) -> None:
    jobs = _write(
        tmp_path / "jobs.jsonl",
        [
            {"prompt": "a fox", "duration": 5},
            {"prompt": "a cat", "duration": 6},
            {"prompt": "a dog", "model": "wan-2.2-a14b-text-to-vide"},
            {"prompt": "a cow", "image": "no/such.png"},
            "not json",
        ],
    )
    result = run("batch", str(jobs), "-m", MODEL, "-r", "480p", "--out-dir", str(tmp_path), "-y")
    assert result.exit_code == EXIT_CODES["validation"], result.output
    assert "TaskGroup" not in result.stderr
    lines = result.stderr
    assert f"{jobs}:2 (row 2): duration: " in lines and "duration '6s'; allowed: " in lines
    assert f"{jobs}:3 (row 3): model: Unknown model" in lines and "venice-video models" in lines
    assert f"{jobs}:4 (row 4): image: no/such.png does not exist" in lines
    assert f"{jobs}:5 (row 5): not JSON" in lines
    assert "--skip-invalid" in lines
    assert stats(server, api_key)["queue_requests"] == 0


def test_skip_invalid_runs_the_other_rows(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text("- prompt: a fox\n- prompt: a cat\n  duration: 7\n- prompt: an owl\n")
    args = ["--json", "batch", str(path), "-m", MODEL, "-d", "5s", "-r", "480p"]
    result = run(*args, "--out-dir", str(tmp_path / "out"), "-y", "--skip-invalid")
    assert result.exit_code == 9, result.output  # a row did not run
    summary = json.loads(result.stdout)
    assert (summary["done"], summary["invalid"]) == (2, 1)
    bad = summary["rows"][1]
    assert bad["status"] == "invalid"
    [problem] = bad["problems"]
    assert problem.startswith(
        f"{path}:2 (row 2): duration: {MODEL} does not support duration '7s'; allowed: '2s' | "
    )
    assert problem.endswith("did you mean '5s'?")


def test_a_row_name_names_its_file_and_the_summary_lists_every_path(
    run: Run, tmp_path: Path
) -> None:
    jobs = _write(
        tmp_path / "jobs.jsonl", [{"prompt": "a fox", "name": "Fox in snow"}, {"prompt": "a cat"}]
    )
    out = tmp_path / "out"
    result = run("batch", str(jobs), "-m", MODEL, "-d", "5s", "-r", "480p",
                 "--out-dir", str(out), "-y")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert_valid_mp4(out / "001-Fox-in-snow.mp4")
    assert_valid_mp4(out / "002-a-cat.mp4")
    summary = ANSI.sub("", result.stderr)
    assert f"row 1 (Fox in snow): done: {out / '001-Fox-in-snow.mp4'}" in summary
    assert f"row 2 (a-cat): done: {out / '002-a-cat.mp4'}" in summary


def test_on_a_terminal_each_job_has_its_own_row_and_notes_stand_above(
    run: Run, server_factory: Any, tmp_path: Path
) -> None:
    # Slow enough (about two real seconds a job) for the live area to draw the rows.
    slow: ServerThread = server_factory(speed=20)
    jobs = _write(
        tmp_path / "jobs.jsonl", [{"prompt": "a fox", "name": "fox"}, {"prompt": "a cat"}]
    )
    result = run("batch", str(jobs), "-m", MODEL, "-d", "5s", "-r", "480p",
                 "--out-dir", str(tmp_path / "out"), "-y", VENICE_BASE_URL=slow.base_url,
                 FORCE_COLOR="1", COLUMNS="120")  # fmt: skip
    assert result.exit_code == 0, result.output
    screen = [ANSI.sub("", line).strip() for line in re.split(r"[\r\n]", result.stderr)]
    rows = {line.split()[0] for line in screen if re.match(r"^(fox|a-cat)\s+\S+", line)}
    assert rows == {"fox", "a-cat"}  # one live row per job, named
    assert any(re.search(r"^fox\s+(starting|queued|processing|download)", s) for s in screen)
    assert any(re.search(r"\$0\.2600$", s) for s in screen if s.startswith("fox"))  # its cost
    assert "2 new jobs, quoted $0.5200 in total" in screen  # a note on a line of its own
    assert any(s.startswith("[1/2] done: fox ") for s in screen)
