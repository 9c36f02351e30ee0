"""Where `generate`, `download` and `batch` write: nothing overwritten by surprise, the output
claimed before money moves, devices, FIFOs and stdout streamed into, directories refused."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest
from cli_helpers import MODEL, SHORT, Run, assert_valid_mp4, assert_valid_mp4_bytes, stats

from venice_video import VeniceVideo
from venice_video.cli._errors import EXIT_CODES
from venice_video.server import ServerThread


def test_generate_refuses_an_existing_file_before_anything_is_priced_or_paid(
    run: Run, server: ServerThread, api_key: str, tmp_path: Path
) -> None:
    paid = tmp_path / "fox.mp4"
    paid.write_bytes(b"a paid 15 s 1080p video")
    result = run("generate", "a fox", *SHORT, "-o", str(paid), "--yes")
    assert result.exit_code == EXIT_CODES["usage"], result.output
    assert f"{paid} already exists" in result.stderr
    assert "--overwrite" in result.stderr
    assert "quote:" not in result.stderr
    assert paid.read_bytes() == b"a paid 15 s 1080p video"
    assert stats(server, api_key)["queue_requests"] == 0


def test_generate_with_overwrite_replaces_the_file(run: Run, tmp_path: Path) -> None:
    old = tmp_path / "fox.mp4"
    old.write_bytes(b"an older clip")
    result = run("generate", "a fox", *SHORT, "-o", str(old), "--yes", "--overwrite")
    assert result.exit_code == 0, result.output
    assert_valid_mp4(old)


def test_a_second_run_for_an_output_another_job_will_write_is_refused(
    run: Run, env: dict[str, str], server: ServerThread, api_key: str, tmp_path: Path
) -> None:
    out = tmp_path / "fox.mp4"
    with VeniceVideo(api_key=api_key, base_url=server.base_url,
                     journal=env["VENICE_VIDEO_JOURNAL"]) as client:  # fmt: skip
        first = client.submit(model=MODEL, prompt="a fox", duration="5s", resolution="480p",
                              output=out)  # fmt: skip
    assert not out.exists()  # still rendering: only its claim is there
    second = run("generate", "a fox again", *SHORT, "-o", str(out), "--yes", "--overwrite")
    assert second.exit_code == EXIT_CODES["usage"], second.output
    assert f"job {first.queue_id} has not finished" in second.stderr
    assert "jobs resume" in second.stderr
    assert stats(server, api_key)["jobs_created"] == 1
    assert run("jobs", "resume").exit_code == 0
    assert_valid_mp4(out)
    listing = json.loads(run("--json", "jobs").stdout)
    assert [row["output_path"] for row in listing] == [str(out)]  # one row per file


def test_generate_to_standard_output_writes_only_the_video_there(run: Run) -> None:
    result = run("generate", "a fox", *SHORT, "-o", "-", "--yes")
    assert result.exit_code == 0, result.stderr
    assert_valid_mp4_bytes(result.stdout_bytes)
    assert "saved standard output" in result.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_generate_streams_into_a_fifo(run: Run, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = run("generate", "a fox", *SHORT, "-o", str(fifo), "--yes")
    reader.join(timeout=60)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still a FIFO, never renamed over
    assert_valid_mp4_bytes(received[0])
    assert not list(tmp_path.glob("*.part"))


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")
def test_generate_to_a_device_writes_through_it_and_leaves_it_a_device(
    run: Run, tmp_path: Path
) -> None:
    # A private copy of /dev/null: the real one must survive this test on any branch.
    null = tmp_path / "null"
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    result = run("generate", "a fox", *SHORT, "-o", str(null), "--yes")
    assert result.exit_code == 0, result.output
    assert stat.S_ISCHR(os.lstat(null).st_mode)
    assert result.stdout.strip() == str(null)
    assert not list(tmp_path.glob("*.part"))  # nothing was made beside the device


def test_a_journaled_output_that_became_a_directory_is_refused_and_kept(
    run: Run, env: dict[str, str], server: ServerThread, api_key: str, tmp_path: Path
) -> None:
    out = tmp_path / "fox.mp4"
    with VeniceVideo(api_key=api_key, base_url=server.base_url,
                     journal=env["VENICE_VIDEO_JOURNAL"]) as client:  # fmt: skip
        client.submit(model=MODEL, prompt="a fox", duration="5s", resolution="480p", output=out)
    (tmp_path / "fox.mp4.part").unlink()
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = run("jobs", "resume")
    assert result.exit_code == 9
    assert "is a directory" in result.stdout
    assert (out / "keep.txt").read_text() == "mine"


def test_download_refuses_another_file_without_overwrite(
    run: Run, env: dict[str, str], server: ServerThread, api_key: str, tmp_path: Path
) -> None:
    with VeniceVideo(api_key=api_key, base_url=server.base_url,
                     journal=env["VENICE_VIDEO_JOURNAL"]) as client:  # fmt: skip
        job = client.submit(model=MODEL, prompt="a fox", duration="5s", resolution="480p",
                            output=tmp_path / "fox.mp4")  # fmt: skip
    other = tmp_path / "other.mp4"
    other.write_bytes(b"not mine to replace")
    assert job.queue_id is not None
    refused = run("download", job.queue_id, "-o", str(other))
    assert refused.exit_code == EXIT_CODES["usage"]
    assert other.read_bytes() == b"not mine to replace"
    saved = run("download", job.queue_id, "-o", str(other), "--overwrite")
    assert saved.exit_code == 0, saved.output
    assert_valid_mp4(other)


def test_batch_rows_whose_file_exists_are_refused_before_anything_is_queued(
    run: Run, server: ServerThread, api_key: str, tmp_path: Path
) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(json.dumps({"prompt": "a fox", "name": "fox"}) + "\n")
    out = tmp_path / "b"
    out.mkdir()
    (out / "001-fox.mp4").write_bytes(b"an earlier video")
    args = ["batch", str(jobs), *SHORT, "--out-dir", str(out), "-y"]
    refused = run(*args)
    assert refused.exit_code == EXIT_CODES["validation"], refused.output
    assert f"{jobs}:1 (row 1): output: {out / '001-fox.mp4'} already exists" in refused.stderr
    assert stats(server, api_key)["queue_requests"] == 0
    assert run(*args, "--overwrite").exit_code == 0
    assert_valid_mp4(out / "001-fox.mp4")
