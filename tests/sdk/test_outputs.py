"""The SDK's outputs: claimed before the queue, never overwritten by surprise, and never a
rename over anything but a regular file. Against the local server, both twins."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from pathlib import Path

import pytest

from venice_video import (
    AsyncVeniceVideo,
    MissingAPIKeyError,
    OutputError,
    OutputExistsError,
    OutputInUseError,
    SpendLimitError,
    VeniceVideo,
)
from venice_video._output import claim_output, install, output_path
from venice_video.journal import Journal
from venice_video.server import ServerThread

REQUEST = {"model": "grok-imagine-text-to-video-private", "prompt": "a kite", "duration": "1s",
           "resolution": "480p"}  # fmt: skip


def _stats(server: ServerThread, api_key: str) -> dict[str, int]:
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"}
    data: dict[str, int] = httpx.get(f"{server.root_url}/_local/stats", headers=headers).json()
    return data


def test_generate_refuses_an_existing_file_and_queues_nothing(
    venice: VeniceVideo, server: ServerThread, api_key: str, tmp_path: Path
) -> None:
    out = tmp_path / "kite.mp4"
    out.write_bytes(b"an earlier video")
    with pytest.raises(OutputExistsError) as info:
        venice.generate(**REQUEST, output=out)
    assert info.value.path == out
    assert out.read_bytes() == b"an earlier video"
    assert _stats(server, api_key)["queue_requests"] == 0
    assert not (tmp_path / "kite.mp4.part").exists()
    job = venice.generate(**REQUEST, output=out, overwrite=True)
    assert job.path == out and out.stat().st_size == job.size_bytes


async def test_async_generate_refuses_an_existing_file_too(
    async_venice: AsyncVeniceVideo, tmp_path: Path
) -> None:
    out = tmp_path / "kite.mp4"
    out.write_bytes(b"an earlier video")
    with pytest.raises(OutputExistsError):
        await async_venice.generate(**REQUEST, output=out)
    job = await async_venice.generate(**REQUEST, output=out, overwrite=True)
    assert job.path == out and out.stat().st_size == job.size_bytes


def test_a_submitted_job_reserves_its_output_until_it_is_saved(
    venice: VeniceVideo, tmp_path: Path
) -> None:
    out = tmp_path / "kite.mp4"
    first = venice.submit(**REQUEST, output=out)
    with pytest.raises(OutputInUseError) as info:
        venice.submit(**REQUEST, output=out, overwrite=True)
    assert info.value.job == first.queue_id
    venice.download(first)
    assert out.stat().st_size == venice.jobs()[0].size_bytes
    assert not (tmp_path / "kite.mp4.part").exists()


def test_a_refused_request_frees_the_output_again(venice: VeniceVideo, tmp_path: Path) -> None:
    out = tmp_path / "kite.mp4"
    with pytest.raises(SpendLimitError):
        venice.submit(**REQUEST, output=out, max_cost=0.0001)
    assert not (tmp_path / "kite.mp4.part").exists()
    assert venice.submit(**REQUEST, output=out).path == out


def test_generate_to_standard_output(
    venice: VeniceVideo, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    job = venice.generate(**REQUEST, output="-")
    written = capsysbinary.readouterr().out
    assert str(job.path) == "-"
    assert len(written) == job.size_bytes
    assert hashlib.sha256(written).hexdigest() == job.sha256


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_download_into_a_fifo_streams_and_keeps_the_fifo(
    venice: VeniceVideo, tmp_path: Path
) -> None:
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    job = venice.generate(**REQUEST, output=fifo)
    reader.join(timeout=60)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert hashlib.sha256(got[0]).hexdigest() == job.sha256


def test_a_file_that_appears_meanwhile_is_kept_and_the_server_copy_too(
    venice: VeniceVideo, tmp_path: Path
) -> None:
    out = tmp_path / "kite.mp4"
    job = venice.submit(**REQUEST, output=out)
    out.write_bytes(b"someone else's file")
    with pytest.raises(OutputExistsError) as info:
        venice.download(job)
    assert info.value.downloaded is True
    assert out.read_bytes() == b"someone else's file"
    saved = venice.download(job, tmp_path / "elsewhere.mp4")  # the server kept it
    assert saved.status == "COMPLETED"


def test_no_api_key_for_the_real_api_fails_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    for name in ("VENICE_API_KEY", "VENICE_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500)

    with VeniceVideo(journal=tmp_path / "j.sqlite3", cache_dir=False,
                     transport=httpx.MockTransport(answer)) as client:  # fmt: skip
        with pytest.raises(MissingAPIKeyError, match="VeniceVideo.local"):
            client.generate(**REQUEST, output=tmp_path / "kite.mp4")
        assert client.journal is not None and client.journal.list() == []
    assert sent == []


def test_the_local_client_needs_no_key_and_names_jobs_by_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VENICE_API_KEY", raising=False)
    engine = tmp_path / "engine"
    with VeniceVideo.local(data_dir=engine, speed=1000, port=0,
                           journal=tmp_path / "j.sqlite3") as client:  # fmt: skip
        job = client.generate(**REQUEST, output=tmp_path / "kite.mp4")
    assert job.status == "COMPLETED"
    with Journal(tmp_path / "j.sqlite3") as journal:
        entry = journal.list()[0]
    assert entry.api_id == f"local-engine:{engine.resolve()}"
    assert (engine / "engine.json").exists() is False  # the engine stopped with the client
    with VeniceVideo.local(data_dir=engine, speed=1000, port=0,
                           journal=tmp_path / "j.sqlite3") as again:  # fmt: skip
        assert again.api_id == entry.api_id  # the same engine, whatever its port


async def test_the_async_local_client(tmp_path: Path) -> None:
    client = AsyncVeniceVideo.local(data_dir=tmp_path / "engine", speed=1000, port=0,
                                    journal=tmp_path / "j.sqlite3")  # fmt: skip
    async with client:
        job = await client.generate(**REQUEST, output=tmp_path / "kite.mp4")
    assert job.path is not None and job.path.stat().st_size == job.size_bytes


def test_aspect_ratio_for_a_model_without_ratios_is_left_out_with_a_note(
    venice: VeniceVideo, caplog: pytest.LogCaptureFixture
) -> None:
    body = {
        "model": "grok-imagine-image-to-video-private",
        "prompt": "it moves",
        "duration": "1s",
        "aspect_ratio": "16:9",
        "image_url": "https://a.example/x.png",
    }
    with caplog.at_level(logging.INFO, logger="venice_video"):
        request = venice.validate(body)
    assert request.aspect_ratio is None
    assert "aspect_ratio '16:9' left out" in caplog.text


# ---------------------------------------------------------------------------- the module


def test_output_path_names_files_in_folders_and_takes_a_dash(tmp_path: Path) -> None:
    assert output_path(tmp_path, "m", "abcdef0123") == tmp_path / "m-abcdef01.mp4"
    assert output_path(f"{tmp_path}/new/", "m", "abcdef0123") == tmp_path / "new/m-abcdef01.mp4"
    assert str(output_path("-", "m", "k")) == "-"


def test_install_never_clobbers_a_file_that_appeared(tmp_path: Path) -> None:
    part, dest = tmp_path / "v.mp4.part", tmp_path / "v.mp4"
    part.write_bytes(b"new")
    dest.write_bytes(b"theirs")
    digest = hashlib.sha256(b"new").hexdigest()
    with pytest.raises(OutputExistsError):
        install(part, dest, overwrite=False, size=3, sha256=digest)
    assert dest.read_bytes() == b"theirs"
    install(part, dest, overwrite=True, size=3, sha256=digest)
    assert dest.read_bytes() == b"new" and not part.exists()


def test_install_accepts_a_file_that_already_holds_the_same_bytes(tmp_path: Path) -> None:
    part, dest = tmp_path / "v.mp4.part", tmp_path / "v.mp4"
    part.write_bytes(b"same")
    dest.write_bytes(b"same")
    install(part, dest, overwrite=False, size=4, sha256=hashlib.sha256(b"same").hexdigest())
    assert dest.read_bytes() == b"same" and not part.exists()


def test_install_writes_through_a_symbolic_link_in_place(tmp_path: Path) -> None:
    real, link, part = tmp_path / "real.mp4", tmp_path / "link.mp4", tmp_path / "p.part"
    real.write_bytes(b"old")
    link.symlink_to(real)
    part.write_bytes(b"new bytes")
    digest = hashlib.sha256(b"new bytes").hexdigest()
    install(part, link, overwrite=True, size=9, sha256=digest)
    assert link.is_symlink() and real.read_bytes() == b"new bytes"


def test_a_directory_is_never_a_target(tmp_path: Path) -> None:
    folder = tmp_path / "clip.mp4"
    folder.mkdir()
    with pytest.raises(OutputError, match="is a directory"):
        claim_output(folder, overwrite=True, key="k")
    part = tmp_path / "p.part"
    part.write_bytes(b"x")
    with pytest.raises(OutputError, match="is a directory"):
        install(part, folder, overwrite=True, size=1, sha256="")
    assert folder.is_dir()


def test_a_leftover_part_of_an_ended_job_is_taken_over(tmp_path: Path) -> None:
    out = tmp_path / "v.mp4"
    (tmp_path / "v.mp4.part").write_bytes(b"half of an old download")
    with Journal(tmp_path / "j.sqlite3") as journal:
        journal.record_intent(key="old", model="m", base_url="http://x", request={},
                              quote_usd=None, output_path=str(out))  # fmt: skip
        journal.update("old", status="FAILED")
        claim = claim_output(out, overwrite=False, key="new", journal=journal)
        claim.release()
    assert (tmp_path / "v.mp4.part").read_bytes() == b""
