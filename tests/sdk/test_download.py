from __future__ import annotations

import hashlib
import os
import random
import stat
import struct
from collections.abc import Callable
from pathlib import Path

import anyio.to_thread
import pytest

from venice_video._download import DownloadResult, PartFile
from venice_video._exceptions import DownloadError, DownloadVerificationError

av = pytest.importorskip("av")
np = pytest.importorskip("numpy")

WIDTH = HEIGHT = 64
FRAMES = 24


def _make_clip(path: Path, *, audio: bool, faststart: bool = False) -> Path:
    """A real 1 s H.264 clip (64x64, 24 fps), with a 1 s AAC track when `audio`."""
    options = {"movflags": "faststart"} if faststart else {}
    rng = np.random.default_rng(7)
    with av.open(str(path), "w", options=options) as container:
        video = container.add_stream("libx264", rate=24)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.options = {"preset": "ultrafast"}
        sound = container.add_stream("aac", rate=48000) if audio else None
        if sound is not None:
            sound.layout = "mono"
        for _ in range(FRAMES):
            pixels = rng.integers(0, 255, (HEIGHT, WIDTH, 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if sound is not None:
            tone = np.sin(np.arange(48000) * (2 * np.pi * 440 / 48000)).astype(np.float32) * 0.2
            chunk = av.AudioFrame.from_ndarray(tone[None, :], format="fltp", layout="mono")
            chunk.sample_rate = 48000
            chunk.pts = 0
            for packet in sound.encode(chunk):
                container.mux(packet)
            for packet in sound.encode():
                container.mux(packet)
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The bytes of a few valid clips, made once for the whole module."""
    root = tmp_path_factory.mktemp("clips")
    return {
        "av": _make_clip(root / "av.mp4", audio=True).read_bytes(),
        "video": _make_clip(root / "video.mp4", audio=False).read_bytes(),
        "faststart": _make_clip(root / "fast.mp4", audio=True, faststart=True).read_bytes(),
        "video-faststart": _make_clip(
            root / "video-fast.mp4", audio=False, faststart=True
        ).read_bytes(),
    }


def _boxes(data: bytes) -> dict[bytes, tuple[int, int]]:
    """Top-level box type -> (offset, size), for the simple files made above."""
    found: dict[bytes, tuple[int, int]] = {}
    offset = 0
    while offset < len(data):
        size, kind = struct.unpack_from(">I4s", data, offset)
        found[kind] = (offset, size)
        offset += size
    return found


def _write(tmp_path: Path, data: bytes, name: str = "clip.mp4") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _cut_mdat_keeping_boxes_consistent(data: bytes, cut: int) -> bytes:
    """Drop the last `cut` bytes of `mdat` and fix its size, so the box tree still adds up."""
    offset, size = _boxes(data)[b"mdat"]
    end = offset + size
    patched = bytearray(data[: end - cut] + data[end:])
    struct.pack_into(">I", patched, offset, size - cut)
    return bytes(patched)


def _corrupt_middle(data: bytes, pattern: str) -> bytes:
    offset, size = _boxes(data)[b"mdat"]
    start = offset + size // 2 - 1000
    garbage = {
        "random": random.Random(3).randbytes(2000),
        "zeros": bytes(2000),
        "ones": b"\xff" * 2000,
    }[pattern]
    return data[:start] + garbage + data[start + 2000 :]


# ------------------------------------------------------------------------- PartFile


def _chunks(data: bytes, size: int = 4096) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_part_file_writes_beside_dest_then_moves_it_into_place(
    tmp_path: Path, clips: dict[str, bytes]
) -> None:
    data = clips["av"]
    dest = tmp_path / "out" / "video.mp4"
    part = PartFile(dest)
    for chunk in _chunks(data):
        part.write(chunk)
        assert not dest.exists()
    assert part.offset == len(data)
    assert part.part_path == tmp_path / "out" / "video.mp4.part"
    assert part.part_path.exists()

    result = part.finish(expected_size=len(data))

    assert result == DownloadResult(
        path=dest,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        media=result.media,
    )
    assert result.media is not None and result.media.frames == FRAMES
    assert dest.read_bytes() == data
    assert not part.part_path.exists()


def test_finish_fsyncs_the_file_and_its_directory(
    tmp_path: Path, clips: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync: Callable[[int], None] = os.fsync

    def counting_fsync(fd: int) -> None:
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    part = PartFile(tmp_path / "v.mp4")
    part.write(clips["video"])
    part.finish()

    assert synced == ["file", "dir"]


def test_resume_appends_to_the_existing_part(tmp_path: Path, clips: dict[str, bytes]) -> None:
    data = clips["av"]
    dest = tmp_path / "v.mp4"
    first = PartFile(dest)
    first.write(data[:20_000])
    first.abort(keep_part=True)

    second = PartFile(dest, resume=True)
    assert second.offset == 20_000
    second.write(data[20_000:])
    result = second.finish(expected_size=len(data))

    assert dest.read_bytes() == data
    assert result.sha256 == hashlib.sha256(data).hexdigest()


def test_resume_without_a_part_starts_at_zero(tmp_path: Path) -> None:
    part = PartFile(tmp_path / "v.mp4", resume=True)
    assert part.offset == 0
    part.abort(keep_part=False)
    assert not part.part_path.exists()


def test_a_new_download_discards_an_old_part(tmp_path: Path, clips: dict[str, bytes]) -> None:
    dest = tmp_path / "v.mp4"
    (tmp_path / "v.mp4.part").write_bytes(b"stale bytes from an earlier try")
    part = PartFile(dest)
    assert part.offset == 0
    part.write(clips["video"])
    assert part.finish().size_bytes == len(clips["video"])
    assert dest.read_bytes() == clips["video"]


def _broken_payloads(clips: dict[str, bytes]) -> dict[str, bytes]:
    return {
        "truncated": clips["av"][: len(clips["av"]) // 2],
        "corrupt": _corrupt_middle(clips["av"], "random"),
        "cut mdat": _cut_mdat_keeping_boxes_consistent(clips["faststart"], 3000),
        "garbage": random.Random(9).randbytes(30_000),
        "empty": b"",
        "html": b"<!doctype html><h1>500 Internal Server Error</h1>",
    }


@pytest.mark.parametrize("name", ["truncated", "corrupt", "cut mdat", "garbage", "empty", "html"])
def test_a_failed_verification_leaves_nothing_at_dest(
    tmp_path: Path, clips: dict[str, bytes], name: str
) -> None:
    dest = tmp_path / "v.mp4"
    part = PartFile(dest)
    for chunk in _chunks(_broken_payloads(clips)[name]):
        part.write(chunk)

    with pytest.raises(DownloadVerificationError, match="not a complete, playable MP4"):
        part.finish()

    assert not dest.exists()
    assert not part.part_path.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_short_download_keeps_its_part_for_resume(
    tmp_path: Path, clips: dict[str, bytes]
) -> None:
    data = clips["av"]
    dest = tmp_path / "v.mp4"
    part = PartFile(dest)
    part.write(data[:10_000])

    with pytest.raises(DownloadVerificationError, match="incomplete: 10000 of"):
        part.finish(expected_size=len(data))
    assert not dest.exists()
    assert part.part_path.stat().st_size == 10_000

    resumed = PartFile(dest, resume=True)
    resumed.write(data[resumed.offset :])
    assert resumed.finish(expected_size=len(data)).size_bytes == len(data)
    assert dest.read_bytes() == data


def test_a_download_longer_than_announced_is_rejected(
    tmp_path: Path, clips: dict[str, bytes]
) -> None:
    dest = tmp_path / "v.mp4"
    part = PartFile(dest)
    part.write(clips["av"])
    with pytest.raises(DownloadVerificationError, match="more than"):
        part.finish(expected_size=100)
    assert not dest.exists()
    assert not part.part_path.exists()


def test_a_failed_download_never_replaces_an_existing_file(
    tmp_path: Path, clips: dict[str, bytes]
) -> None:
    dest = tmp_path / "v.mp4"
    dest.write_bytes(clips["video"])
    part = PartFile(dest)
    part.write(b"<html>oops</html>")
    with pytest.raises(DownloadVerificationError):
        part.finish()
    assert dest.read_bytes() == clips["video"]


def test_finish_without_verify_accepts_any_bytes(tmp_path: Path) -> None:
    dest = tmp_path / "notes.txt"
    part = PartFile(dest)
    part.write(b"not a video")
    result = part.finish(verify=False)
    assert result.media is None
    assert dest.read_bytes() == b"not a video"


def test_a_second_writer_to_the_same_dest_is_refused(tmp_path: Path) -> None:
    dest = tmp_path / "v.mp4"
    first = PartFile(dest)
    first.write(b"first")
    with pytest.raises(DownloadError, match="another download"):
        PartFile(dest)
    first.abort(keep_part=True)
    assert first.part_path.read_bytes() == b"first"  # the refused writer truncated nothing


def test_abort_without_keep_deletes_the_part(tmp_path: Path) -> None:
    part = PartFile(tmp_path / "v.mp4")
    part.write(b"abc")
    part.abort(keep_part=False)
    part.abort(keep_part=False)  # twice is harmless
    assert not part.part_path.exists()


def test_write_after_finish_raises(tmp_path: Path, clips: dict[str, bytes]) -> None:
    part = PartFile(tmp_path / "v.mp4")
    part.write(clips["video"])
    part.finish()
    with pytest.raises(DownloadError, match="already finished"):
        part.write(b"more")
    with pytest.raises(DownloadError, match="already finished"):
        part.finish()


def test_leaving_the_context_without_finishing_keeps_the_part(tmp_path: Path) -> None:
    dest = tmp_path / "v.mp4"
    with pytest.raises(RuntimeError), PartFile(dest) as part:
        part.write(b"partial")
        raise RuntimeError("connection dropped")
    assert part.part_path.read_bytes() == b"partial"
    assert not dest.exists()
    resumed = PartFile(dest, resume=True)
    assert resumed.offset == len(b"partial")
    resumed.abort(keep_part=True)


async def test_part_file_from_async_code(tmp_path: Path, clips: dict[str, bytes]) -> None:
    """Writes of network-sized chunks go direct; finish() runs in a worker thread."""
    dest = tmp_path / "v.mp4"
    part = PartFile(dest)
    for chunk in _chunks(clips["av"], 65_536):
        part.write(chunk)
    result = await anyio.to_thread.run_sync(part.finish)
    assert result.media is not None and result.media.has_audio
    assert dest.read_bytes() == clips["av"]
