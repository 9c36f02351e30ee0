"""Every `venice-video` command against the local server, in-process through click's runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import MODEL, SHORT, Run, assert_valid_mp4, stats

from speech_fixture import assert_mostly_heard
from venice_video import VeniceVideo
from venice_video.cli._errors import EXIT_CODES
from venice_video.server import ServerThread

FIXTURES = Path(__file__).parent.parent / "fixtures"


def test_generate_saves_a_valid_video_and_prints_its_path(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "clip.mp4"
    result = run("generate", "a lighthouse at dusk", *SHORT, "-o", str(out), "--yes")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    assert "quote: $" in result.stderr
    assert_valid_mp4(out, width=854, height=480)


def test_generate_json_reports_the_job(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "clip.mp4"
    result = run("--json", "generate", "a fox", *SHORT, "-o", str(out), "--yes")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["status"] == "COMPLETED"
    assert data["path"] == str(out)
    assert data["cost_usd"] > 0
    assert data["media"]["width"] == 854


def test_generate_picks_the_shortest_duration_when_none_is_given(run: Run, tmp_path: Path) -> None:
    result = run("generate", "a fox", "-m", MODEL, "-r", "480p", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "duration: 2s" in result.stderr


def test_dry_run_validates_and_quotes_without_queueing(
    run: Run, server: ServerThread, api_key: str
) -> None:
    result = run("--json", "generate", "a fox", *SHORT, "--dry-run")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["quote_usd"] > 0
    assert stats(server, api_key)["queue_requests"] == 0


def test_unsupported_duration_fails_before_any_request(
    run: Run, server: ServerThread, api_key: str
) -> None:
    result = run("generate", "a fox", "-m", MODEL, "-d", "6s", "--yes")
    assert result.exit_code == EXIT_CODES["validation"]
    assert "duration" in result.stderr and "'5s'" in result.stderr
    assert stats(server, api_key)["queue_requests"] == 0


def test_quote_over_max_cost_is_refused_and_nothing_is_queued(
    run: Run, server: ServerThread, api_key: str
) -> None:
    result = run("generate", "a fox", *SHORT, "--max-cost", "0.0001")
    assert result.exit_code == EXIT_CODES["money"]
    assert stats(server, api_key)["queue_requests"] == 0


def test_spending_without_confirmation_is_refused_off_a_terminal(run: Run) -> None:
    result = run("generate", "a fox", *SHORT)
    assert result.exit_code == EXIT_CODES["money"]
    assert "--yes" in result.stderr


def test_errors_are_json_with_json(run: Run) -> None:
    result = run("--json", "generate", "a fox", "-m", "no-such-model", "-d", "5s", "--yes")
    assert result.exit_code == EXIT_CODES["validation"]
    error = json.loads(result.stderr.strip().splitlines()[-1])
    assert error["family"] == "validation"
    assert error["issues"][0]["field"] == "model"


def test_quote_prints_the_price(run: Run) -> None:
    result = run("quote", *SHORT)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("$")
    assert float(result.stdout.strip()[1:]) > 0


def test_models_lists_constraints_as_a_table_and_json(run: Run) -> None:
    table = run("models", "--type", "video")
    assert table.exit_code == 0, table.output
    assert "topaz-video-upscale" in table.stdout and "DURATIONS" in table.stdout
    data = json.loads(run("--json", "models", "--input", "audio").stdout)
    assert data and all(m["audio_input"] for m in data)


def test_jobs_status_download_and_complete(run: Run, env: dict[str, str], tmp_path: Path) -> None:
    with VeniceVideo(api_key=env["VENICE_API_KEY"], base_url=env["VENICE_BASE_URL"],
                     journal=env["VENICE_VIDEO_JOURNAL"]) as client:  # fmt: skip
        job = client.submit(model=MODEL, prompt="a fox", duration="5s", resolution="480p",
                            output=tmp_path / "fox.mp4")  # fmt: skip
    assert job.queue_id is not None
    listing = run("jobs")
    assert job.queue_id in listing.stdout and "QUEUED" in listing.stdout
    refused = run("complete", job.queue_id[:8])
    assert refused.exit_code == EXIT_CODES["usage"]
    assert "only copy" in refused.stderr
    status = run("status", job.queue_id[:8])
    assert status.exit_code == 0, status.output
    assert "server_status" in status.stdout
    fetched = run("download", job.queue_id)
    assert fetched.exit_code == 0, fetched.output
    assert_valid_mp4(tmp_path / "fox.mp4")
    rows = json.loads(run("--json", "jobs").stdout)
    assert rows[0]["status"] == "COMPLETED"


def test_jobs_resume_finishes_what_was_left(run: Run, env: dict[str, str], tmp_path: Path) -> None:
    with VeniceVideo(api_key=env["VENICE_API_KEY"], base_url=env["VENICE_BASE_URL"],
                     journal=env["VENICE_VIDEO_JOURNAL"]) as client:  # fmt: skip
        for name in ("a", "b"):
            client.submit(model=MODEL, prompt=name, duration="5s", resolution="480p",
                          output=tmp_path / f"{name}.mp4")  # fmt: skip
    result = run("jobs", "resume")
    assert result.exit_code == 0, result.output
    assert_valid_mp4(tmp_path / "a.mp4")
    assert_valid_mp4(tmp_path / "b.mp4")
    cleaned = run("--json", "jobs", "clean")
    assert json.loads(cleaned.stdout)["removed"] == 2
    assert run("jobs").stdout.strip() == "no jobs"


def test_config_shows_sources_but_never_the_key(run: Run, env: dict[str, str]) -> None:
    result = run("config")
    assert result.exit_code == 0
    assert "set (from env VENICE_API_KEY)" in result.stdout
    assert env["VENICE_API_KEY"] not in result.output


def _batch_file(tmp_path: Path, rows: int) -> Path:
    path = tmp_path / "jobs.jsonl"
    lines = [json.dumps({"prompt": f"scene {i}", "duration": 5}) for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_batch_runs_every_row_and_a_rerun_queues_nothing(
    run: Run, server: ServerThread, api_key: str, tmp_path: Path
) -> None:
    jobs = _batch_file(tmp_path, 3)
    out = tmp_path / "batch"
    args = ["--json", "batch", str(jobs), "-m", MODEL, "-r", "480p", "--out-dir", str(out), "-y"]
    first = run(*args)
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert summary["done"] == 3 and summary["failed"] == 0
    for row in summary["rows"]:
        assert_valid_mp4(Path(row["path"]))
    assert stats(server, api_key)["jobs_created"] == 3
    again = json.loads(run(*args).stdout)
    assert again["skipped"] == 3
    assert stats(server, api_key)["jobs_created"] == 3


def test_batch_over_budget_queues_nothing(
    run: Run, server: ServerThread, api_key: str, tmp_path: Path
) -> None:
    jobs = _batch_file(tmp_path, 2)
    result = run("batch", str(jobs), "-m", MODEL, "--max-total-cost", "0.01",
                 "--out-dir", str(tmp_path / "b"))  # fmt: skip
    assert result.exit_code == EXIT_CODES["money"]
    assert "max-total-cost" in result.stderr
    assert stats(server, api_key)["queue_requests"] == 0


def test_batch_rejects_unknown_fields_before_sending(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("- prompt: one\n  colour: red\n")
    result = run("batch", str(path), "-m", MODEL)
    assert result.exit_code == EXIT_CODES["validation"]
    assert f"{path}:1 (row 1): colour: not a field a row takes" in result.stderr


@pytest.mark.stt
def test_transcribe_a_local_file_as_text_and_srt(run: Run, tmp_path: Path) -> None:
    from venice_video.server import _stt

    if not _stt.is_available():
        pytest.skip("the [stt] extra is not installed")
    text = run("transcribe", str(FIXTURES / "speech.wav"))
    assert text.exit_code == 0, text.output
    assert_mostly_heard(text.stdout)
    srt = tmp_path / "speech.srt"
    result = run("transcribe", str(FIXTURES / "speech.wav"), "-f", "srt", "-o", str(srt))
    assert result.exit_code == 0, result.output
    assert srt.read_text().startswith("1\n00:00:")


def test_transcribe_refuses_a_missing_file(run: Run) -> None:
    result = run("transcribe", "no/such/file.wav")
    assert result.exit_code == EXIT_CODES["usage"]
    assert "no such file" in result.stderr


def test_batch_rerun_finishes_queued_rows_without_requeueing(
    run: Run, env: dict[str, str], server: ServerThread, api_key: str, tmp_path: Path
) -> None:
    from venice_video.cli._batch import load_rows

    jobs = _batch_file(tmp_path, 3)
    out = tmp_path / "batch"
    rows = load_rows(jobs, default_model=MODEL, out_dir=out, template="{index:03d}-{slug}.mp4",
                     defaults={"resolution": "480p"})  # fmt: skip
    # As if an earlier run was killed right after queueing the first row.
    with VeniceVideo(api_key=env["VENICE_API_KEY"], base_url=env["VENICE_BASE_URL"],
                     journal=env["VENICE_VIDEO_JOURNAL"]) as client:  # fmt: skip
        client.submit(**rows[0].fields, output=rows[0].output, idempotency_key=rows[0].key)
    assert stats(server, api_key)["jobs_created"] == 1
    result = run("--json", "batch", str(jobs), "-m", MODEL, "-r", "480p", "--out-dir", str(out),
                 "-y")  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["done"] == 3
    assert stats(server, api_key)["jobs_created"] == 3
    for row in rows:
        assert_valid_mp4(row.output)
