"""Mistakes get a clear answer: in the words the user typed, with a fix, and the documented
exit code; and what is already done is said to be done."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cli_helpers import I2V, MODEL, SHORT, Run, stats

from venice_video import VeniceVideo
from venice_video.cli._errors import EXIT_CODES
from venice_video.server import ServerThread


@pytest.fixture
def png(tmp_path: Path) -> Path:
    from PIL import Image

    path = tmp_path / "first.png"
    Image.new("RGB", (64, 48), (200, 120, 40)).save(path)
    return path


def test_errors_name_the_flag_typed_and_never_say_undefined(run: Run) -> None:
    missing = run("generate", "a fox", "-m", I2V, "-d", "1s", "-r", "480p", "--yes")
    assert missing.exit_code == EXIT_CODES["validation"]
    assert "--image: missing" in missing.stderr
    assert "image_url" not in missing.stderr and "undefined" not in missing.stderr
    absent = run("generate", "a fox", "-m", I2V, "-d", "1s", "--image", "no/such.png", "--yes")
    assert absent.exit_code == EXIT_CODES["validation"]
    assert absent.stderr.startswith("error: --image: no/such.png does not exist")
    assert "data:" not in absent.stderr


def test_a_file_of_the_wrong_type_is_told_which_types_are_accepted(
    run: Run, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    result = run("generate", "a fox", "-m", I2V, "-d", "1s", "--image", str(notes), "--yes")
    assert result.exit_code == EXIT_CODES["validation"]
    assert "--image: notes.txt is not an image" in result.stderr
    assert "PNG, JPEG, WebP" in result.stderr


def test_an_unknown_model_points_to_the_models_command(run: Run) -> None:
    result = run("generate", "a fox", "-m", "wan-3-0-text-to-vide", "-d", "5s", "--yes")
    assert result.exit_code == EXIT_CODES["validation"]
    assert "--model: Unknown model" in result.stderr
    assert "did you mean 'wan-3-0-text-to-video'" in result.stderr
    assert "hint: `venice-video models` lists" in result.stderr  # hints in plain output too


def test_a_negative_max_cost_is_a_usage_error(run: Run) -> None:
    result = run("generate", "a fox", *SHORT, "--max-cost", "-1")
    assert result.exit_code == EXIT_CODES["usage"]
    assert "--max-cost" in result.stderr
    from_env = run("generate", "a fox", *SHORT, VENICE_VIDEO_MAX_COST="-1")
    assert from_env.exit_code == EXIT_CODES["usage"]
    assert "max_cost (env VENICE_VIDEO_MAX_COST)" in from_env.stderr
    assert "quote:" not in result.stderr + from_env.stderr


def test_generate_without_a_prompt_is_refused_before_quoting(
    run: Run, server: ServerThread, api_key: str
) -> None:
    result = run("generate", *SHORT, "--yes")
    assert result.exit_code == EXIT_CODES["usage"]
    assert "generate needs a PROMPT" in result.stderr
    assert "quote:" not in result.stderr
    assert stats(server, api_key)["queue_requests"] == 0


def test_a_base_url_without_the_api_path_is_explained(run: Run, server: ServerThread) -> None:
    result = run("status", "abc", VENICE_BASE_URL=server.root_url)
    assert result.exit_code == EXIT_CODES["usage"]
    assert "VENICE_BASE_URL" in result.stderr
    assert f"use {server.root_url}/api/v1" in result.stderr


def test_json_is_taken_after_the_command_too(run: Run) -> None:
    listed = run("jobs", "--json")
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout) == []
    quoted = run("quote", *SHORT, "--json")
    assert json.loads(quoted.stdout)["quote_usd"] > 0
    error = run("generate", "a fox", "-m", "no-such-model", "-d", "5s", "--json")
    assert json.loads(error.stderr.strip().splitlines()[-1])["family"] == "validation"


def test_jobs_status_takes_any_case(run: Run, env: dict[str, str], tmp_path: Path) -> None:
    with VeniceVideo(api_key=env["VENICE_API_KEY"], base_url=env["VENICE_BASE_URL"],
                     journal=env["VENICE_VIDEO_JOURNAL"]) as client:  # fmt: skip
        job = client.submit(model=MODEL, prompt="a fox", duration="5s", resolution="480p",
                            output=tmp_path / "fox.mp4")  # fmt: skip
    result = run("jobs", "--status", "queued", "--status", "Processing")
    assert result.exit_code == 0, result.output
    assert str(job.queue_id) in result.stdout
    wrong = run("jobs", "--status", "finished")
    assert wrong.exit_code == EXIT_CODES["usage"]
    assert "'queued'" in wrong.stderr.lower()


def test_download_of_a_saved_job_says_where_it_is(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "fox.mp4"
    made = json.loads(run("--json", "generate", "a fox", *SHORT, "-o", str(out), "-y").stdout)
    again = run("download", made["id"])
    assert again.exit_code == 0, again.output
    assert f"already saved at {out}" in again.stderr
    assert again.stdout.strip() == str(out)


def test_complete_of_a_completed_job_is_fine(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "fox.mp4"
    made = json.loads(run("--json", "generate", "a fox", *SHORT, "-o", str(out), "-y").stdout)
    assert made["status"] == "COMPLETED"
    again = run("complete", made["id"])
    assert again.exit_code == 0, again.output
    assert "already completed" in again.stderr


def test_aspect_ratio_on_an_image_model_without_ratios_is_left_out(
    run: Run, png: Path, tmp_path: Path
) -> None:
    out = tmp_path / "clip.mp4"
    args = ["generate", "it moves", "-m", I2V, "-d", "1s", "-r", "480p", "-a", "16:9"]
    result = run(*args, "--image", str(png), "-o", str(out), "--yes")
    assert result.exit_code == 0, result.output
    assert out.is_file()


def test_quote_and_queue_follow_one_rule_for_silencing_an_always_audio_model(
    run: Run, server: ServerThread, api_key: str, png: Path
) -> None:
    priced = run("quote", "-m", I2V, "-d", "1s", "-r", "480p", "--no-audio")
    queued = run("generate", "it moves", "-m", I2V, "-d", "1s", "-r", "480p", "--no-audio",
                 "--image", str(png), "--yes")  # fmt: skip
    assert priced.exit_code == queued.exit_code == EXIT_CODES["validation"]
    assert "--audio/--no-audio" in queued.stderr
    assert stats(server, api_key)["queue_requests"] == 0


def test_serve_says_the_client_base_url_and_which_keys_work(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("VENICE")}
    code = "import sys; from venice_video.cli import main; main(sys.argv[1:])"
    args = ["serve", "--port", str(port), "--ephemeral", "--log-level", "warning"]
    process = subprocess.Popen(
        [sys.executable, "-c", code, *args], env=env, stderr=subprocess.PIPE, text=True
    )
    lines: list[str] = []

    def read() -> None:
        assert process.stderr is not None
        lines.extend(process.stderr.readline() for _ in range(2))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=60)  # the two lines come before the server starts, or never
    process.terminate()
    process.communicate(timeout=30)
    text = "".join(lines)
    assert f"http://127.0.0.1:{port}/api/v1" in text
    assert "any non-empty key works" in text
