"""`media.verify`: a complete MP4 passes; cut, shifted, zeroed or garbled ones never do."""

from __future__ import annotations

import contextlib
import dataclasses
import random
import struct
import sys
from pathlib import Path

import pytest

from venice_video import VeniceVideoError
from venice_video.media import MediaError, MediaInfo, MediaVerificationError, _mp4, verify
from venice_video.media._errors import Invalid

av = pytest.importorskip("av")
np = pytest.importorskip("numpy")

WIDTH = HEIGHT = 64
FRAMES = 24


def _make_clip(
    path: Path,
    *,
    audio: bool,
    faststart: bool = False,
    gop: int | None = None,
    codec: str = "libx264",
    fragmented: bool = False,
) -> Path:
    """A real 1 s clip (64x64, 24 fps, noise), with a 1 s AAC track when `audio`."""
    options = {"movflags": "faststart"} if faststart else {}
    if fragmented:
        options = {"movflags": "frag_keyframe+empty_moov"}
    rng = np.random.default_rng(7)
    with av.open(str(path), "w", format="mp4", options=options) as container:
        video = container.add_stream(codec, rate=24)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.options = (
            {"preset": "ultrafast"} if codec == "libx264" else {"x265-params": "log-level=none"}
        )
        if gop is not None:
            video.codec_context.gop_size = gop
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
    made = {
        "av": _make_clip(root / "av.mp4", audio=True),
        "video": _make_clip(root / "video.mp4", audio=False),
        "faststart": _make_clip(root / "fast.mp4", audio=True, faststart=True),
        "video-faststart": _make_clip(root / "vf.mp4", audio=False, faststart=True),
        "gop": _make_clip(root / "gop.mp4", audio=True, faststart=True, gop=8),
    }
    return {name: path.read_bytes() for name, path in made.items()}


def _boxes(data: bytes) -> dict[bytes, tuple[int, int]]:
    """Top-level box type -> (offset, size), for the simple files made above."""
    found: dict[bytes, tuple[int, int]] = {}
    offset = 0
    while offset < len(data):
        size, kind = struct.unpack_from(">I4s", data, offset)
        found[kind] = (offset, size)
        offset += size
    return found


def _box_in_moov(data: bytes, path: list[bytes], track: int = 0) -> int:
    """The payload offset of the box at `path` under `moov` (in the `track`-th `trak`)."""
    offset, size = _boxes(data)[b"moov"]
    start, end = offset + 8, offset + size
    traks = 0
    for name in path:
        while start < end:
            box_size, kind = struct.unpack_from(">I4s", data, start)
            if kind == name and (name != b"trak" or traks == track):
                start, end = start + 8, start + box_size
                if name == b"stsd":
                    start += 8
                break
            traks += kind == b"trak"
            start += box_size
        else:
            raise LookupError(path)
    return start


def _write(tmp_path: Path, data: bytes, name: str = "clip.mp4") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _video_samples(tmp_path: Path, data: bytes) -> list[tuple[int, int]]:
    """(offset, size) of every video sample, from the file's own index."""
    structure = _mp4.read_structure(_write(tmp_path, data, "index.mp4"))
    return list(structure.video_track().samples())


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


def _patched(data: bytes, at: int, new: bytes) -> bytes:
    return data[:at] + new + data[at + len(new) :]


def _rejected(path: Path, match: str = "") -> str:
    with pytest.raises(MediaVerificationError, match=match) as info:
        verify(path)
    return info.value.reason


# ------------------------------------------------------------------------- valid files


@pytest.mark.parametrize("kind", ["av", "faststart"])
def test_verify_describes_a_clip_with_audio(
    tmp_path: Path, clips: dict[str, bytes], kind: str
) -> None:
    info = verify(_write(tmp_path, clips[kind]))
    assert dataclasses.replace(info, codecs=None) == MediaInfo(
        width=64,
        height=64,
        duration_s=pytest.approx(1.0, abs=0.05),  # type: ignore[arg-type]
        fps=24.0,
        frames=24,
        has_audio=True,
        video_codec="h264",
        audio_codec="aac",
    )
    assert info.codecs is not None and info.codecs.startswith("avc1.")
    assert info.codecs.endswith(", mp4a.40.2")


def test_verify_describes_a_clip_without_audio(tmp_path: Path, clips: dict[str, bytes]) -> None:
    info = verify(_write(tmp_path, clips["video"]))
    assert (info.frames, info.has_audio, info.audio_codec) == (24, False, None)
    assert (info.width, info.height, info.video_codec) == (64, 64, "h264")


@pytest.mark.parametrize("decode", ["ends", "keyframes", "all"])
def test_every_decoding_depth_accepts_a_clip_with_many_keyframes(
    tmp_path: Path, clips: dict[str, bytes], decode: str
) -> None:
    info = verify(_write(tmp_path, clips["gop"]), decode=decode)  # type: ignore[arg-type]
    assert (info.frames, info.width, info.has_audio) == (24, 64, True)


def test_an_unknown_decoding_depth_is_refused(tmp_path: Path, clips: dict[str, bytes]) -> None:
    with pytest.raises(ValueError, match="decode must be"):
        verify(_write(tmp_path, clips["av"]), decode="some")  # type: ignore[arg-type]


def test_verify_accepts_hevc(tmp_path: Path) -> None:
    if "libx265" not in av.codecs_available:
        pytest.skip("this FFmpeg has no x265")
    path = _make_clip(tmp_path / "hevc.mp4", audio=False, codec="libx265")
    info = verify(path)
    assert (info.video_codec, info.frames) == ("hevc", 24)
    data = path.read_bytes()
    offset, size = _video_samples(tmp_path, data)[10]
    _rejected(_write(tmp_path, _patched(data, offset + size // 2, bytes(3)), "z.mp4"), "corrupt")


def test_verify_reads_a_fragmented_mp4_through_the_demuxer(tmp_path: Path) -> None:
    path = _make_clip(tmp_path / "frag.mp4", audio=True, fragmented=True)
    assert verify(path).frames == FRAMES
    data = path.read_bytes()
    _rejected(_write(tmp_path, data[: len(data) * 2 // 3], "cut.mp4"), "truncated")


# ------------------------------------------------------------------------- cut files


@pytest.mark.parametrize("kind", ["av", "video", "faststart"])
@pytest.mark.parametrize("keep", [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999])
def test_verify_rejects_a_truncated_file(
    tmp_path: Path, clips: dict[str, bytes], kind: str, keep: float
) -> None:
    data = clips[kind]
    _rejected(_write(tmp_path, data[: int(len(data) * keep)]), "truncated|no 'moov'|no 'mdat'")


@pytest.mark.parametrize("kind", ["av", "video", "faststart"])
def test_verify_rejects_a_file_one_byte_short(
    tmp_path: Path, clips: dict[str, bytes], kind: str
) -> None:
    _rejected(_write(tmp_path, clips[kind][:-1]), "truncated|stray bytes")


def test_verify_rejects_a_file_whose_moov_is_cut(tmp_path: Path, clips: dict[str, bytes]) -> None:
    data = clips["av"]  # moov is the last box
    _rejected(_write(tmp_path, data[:-100]), "'moov' box .* truncated")


def test_verify_rejects_a_file_without_moov(tmp_path: Path, clips: dict[str, bytes]) -> None:
    data = clips["av"]
    offset, size = _boxes(data)[b"moov"]
    _rejected(_write(tmp_path, data[:offset] + data[offset + size :]), "no 'moov' box")


@pytest.mark.parametrize("kind", ["av", "faststart"])
def test_verify_rejects_a_cut_mdat_even_when_box_sizes_add_up(
    tmp_path: Path, clips: dict[str, bytes], kind: str
) -> None:
    path = _write(tmp_path, _cut_mdat_keeping_boxes_consistent(clips[kind], 5000))
    _rejected(path, "outside the media data")


def test_the_bitstream_walk_alone_rejects_a_cut_mdat(
    tmp_path: Path, clips: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even if the placement check missed it, the units of the last samples do not fit."""
    monkeypatch.setattr(_mp4, "_check_placement", lambda structure: None)
    path = _write(tmp_path, _cut_mdat_keeping_boxes_consistent(clips["video-faststart"], 5000))
    _rejected(path, "corrupt|ends inside")


def test_demuxing_alone_counts_packets_against_the_index(
    tmp_path: Path, clips: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whole frames missing from the end: with the index checks off, the count shows it."""
    from venice_video.media import _verify

    data = clips["video-faststart"]
    samples = _video_samples(tmp_path, data)
    offset, size = _boxes(data)[b"mdat"]
    cut = offset + size - samples[-3][0]  # the last three frames, exactly
    path = _write(tmp_path, _cut_mdat_keeping_boxes_consistent(data, cut))
    monkeypatch.setattr(_mp4, "_check_placement", lambda structure: None)
    monkeypatch.setattr(_verify, "check_track", lambda path, track: None)
    with pytest.raises(MediaVerificationError, match="21 packets but its index lists 24"):
        verify(path, decode="all")


# ------------------------------------------------------------------------- damaged media data


@pytest.mark.parametrize("pattern", ["random", "zeros", "ones"])
@pytest.mark.parametrize("kind", ["av", "video"])
def test_verify_rejects_a_corrupted_middle(
    tmp_path: Path, clips: dict[str, bytes], kind: str, pattern: str
) -> None:
    _rejected(_write(tmp_path, _corrupt_middle(clips[kind], pattern)), "corrupt")


@pytest.mark.parametrize("kind", ["av", "faststart"])
def test_a_flipped_byte_in_any_length_prefix_is_rejected(
    tmp_path: Path, clips: dict[str, bytes], kind: str
) -> None:
    data = clips[kind]
    for number, (offset, _) in enumerate(_video_samples(tmp_path, data)):
        for at in (offset, offset + 3):
            flipped = _patched(data, at, bytes([data[at] ^ 0x10]))
            _rejected(_write(tmp_path, flipped, f"p{number}-{at}.mp4"), "corrupt")


def test_a_flipped_forbidden_bit_in_any_unit_header_is_rejected(
    tmp_path: Path, clips: dict[str, bytes]
) -> None:
    data = clips["av"]
    for number, (offset, _) in enumerate(_video_samples(tmp_path, data)):
        at = offset + 4  # the header of the sample's first unit
        flipped = _patched(data, at, bytes([data[at] | 0x80]))
        _rejected(_write(tmp_path, flipped, f"h{number}.mp4"), "illegal unit header")


@pytest.mark.parametrize(
    ("what", "new"),
    [("zeros", bytes(3)), ("a start code", b"\x00\x00\x01"), ("a zero run", bytes(64))],
)
def test_bytes_the_encoder_never_writes_inside_a_picture_are_rejected(
    tmp_path: Path, clips: dict[str, bytes], what: str, new: bytes
) -> None:
    data = clips["av"]
    for number, (offset, size) in enumerate(_video_samples(tmp_path, data)):
        if number % 5:
            continue
        broken = _patched(data, offset + size // 2, new)
        _rejected(_write(tmp_path, broken, f"z{number}.mp4"), "forbidden byte sequence")


def test_a_picture_ending_in_a_zero_byte_is_rejected(
    tmp_path: Path, clips: dict[str, bytes]
) -> None:
    data = clips["av"]
    offset, size = _video_samples(tmp_path, data)[7]
    _rejected(_write(tmp_path, _patched(data, offset + size - 1, b"\x00")), "ending in a zero")


@pytest.mark.parametrize("which", ["first", "last"])
def test_garbage_inside_a_decoded_keyframe_is_rejected(
    tmp_path: Path, clips: dict[str, bytes], which: str
) -> None:
    data = clips["gop"]
    structure = _mp4.read_structure(_write(tmp_path, data, "gop.mp4"))
    video = structure.video_track()
    keyframes = video.sync_sample_numbers()
    assert len(keyframes) >= 3
    offset, size = list(video.samples())[keyframes[0 if which == "first" else -1]]
    # Bytes with no zeros, so only decoding can tell.
    garbage = bytes(random.Random(11).randrange(1, 256) for _ in range(64))
    broken = _patched(data, offset + size // 3, garbage)
    _rejected(_write(tmp_path, broken), "keyframe .* decoded with errors|cannot be decoded")


# ------------------------------------------------------------------------- damaged index


def _table_entry(data: bytes, box: bytes, track: int, entry: int, header: int) -> int:
    start = _box_in_moov(data, [b"trak", b"mdia", b"minf", b"stbl", box], track)
    return start + header + entry


@pytest.mark.parametrize(
    ("name", "track", "box", "header", "entry", "delta"),
    [
        ("a video sample's size, larger", 0, b"stsz", 12, 4 * 5 + 3, 1),
        ("a video sample's size, smaller", 0, b"stsz", 12, 4 * 5 + 3, -1),
        ("an audio sample's size, larger", 1, b"stsz", 12, 4 * 5 + 3, 1),
        ("a video chunk's offset", 0, b"stco", 8, 4 * 3 + 3, 1),
        ("an audio chunk's offset", 1, b"stco", 8, 4 * 3 + 3, -1),
        ("a video sample's duration", 0, b"stts", 8, 4 + 2, 1),
        ("an audio sample count", 1, b"stts", 8, 3, 1),
        ("samples per chunk", 1, b"stsc", 8, 4 + 3, 1),
        ("the number of sizes", 0, b"stsz", 4, 3, 1),
    ],
)
def test_a_changed_index_entry_is_rejected(
    tmp_path: Path,
    clips: dict[str, bytes],
    name: str,
    track: int,
    box: bytes,
    header: int,
    entry: int,
    delta: int,
) -> None:
    data = clips["faststart"]
    at = _table_entry(data, box, track, entry, header)
    broken = _patched(data, at, bytes([(data[at] + delta) % 256]))
    _rejected(_write(tmp_path, broken), "corrupt|outside|malformed|incomplete|truncated|claim")


def test_a_changed_box_size_inside_the_index_is_rejected(
    tmp_path: Path, clips: dict[str, bytes]
) -> None:
    data = clips["faststart"]
    at = _box_in_moov(data, [b"trak", b"mdia", b"minf", b"stbl", b"stsz"]) - 8
    broken = _patched(data, at + 3, bytes([data[at + 3] ^ 0x04]))
    _rejected(_write(tmp_path, broken), "malformed|corrupt")


def test_no_flipped_byte_in_the_index_makes_verify_crash(
    tmp_path: Path, clips: dict[str, bytes]
) -> None:
    """Each flip either leaves a playable file or is rejected with a reason, never a crash."""
    data = clips["faststart"]
    offset, size = _boxes(data)[b"moov"]
    rejected = 0
    for at in range(offset, offset + size, 3):
        path = _write(tmp_path, _patched(data, at, bytes([data[at] ^ 0xFF])), "flip.mp4")
        try:
            verify(path)
        except MediaVerificationError:
            rejected += 1
    assert rejected > 0


# ------------------------------------------------------------------------- not videos


def test_verify_rejects_garbage_bytes(tmp_path: Path) -> None:
    _rejected(_write(tmp_path, random.Random(1).randbytes(50_000)), "not an MP4")


def test_verify_rejects_an_empty_file(tmp_path: Path) -> None:
    _rejected(_write(tmp_path, b""), "empty")


def test_verify_rejects_an_html_error_page(tmp_path: Path) -> None:
    page = b"\n<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head></html>"
    _rejected(_write(tmp_path, page), "HTML page.*502 Bad Gateway")


def test_verify_rejects_a_json_error_body(tmp_path: Path) -> None:
    _rejected(_write(tmp_path, b'{"error": "Media not found"}'), "JSON.*Media not found")


def test_verify_rejects_bytes_after_the_last_box(tmp_path: Path, clips: dict[str, bytes]) -> None:
    for tail in (b"\x00\x01\x02", random.Random(2).randbytes(300)):
        _rejected(_write(tmp_path, clips["av"] + tail), "stray bytes|corrupt|truncated")


def test_verify_rejects_an_audio_only_file(tmp_path: Path) -> None:
    path = tmp_path / "audio.mp4"
    with av.open(str(path), "w") as container:
        sound = container.add_stream("aac", rate=48000)
        sound.layout = "mono"
        chunk = av.AudioFrame.from_ndarray(
            np.zeros((1, 4800), np.float32), format="fltp", layout="mono"
        )
        chunk.sample_rate = 48000
        chunk.pts = 0
        for packet in [*sound.encode(chunk), *sound.encode()]:
            container.mux(packet)
    _rejected(path, "no video")


def test_the_error_names_the_file_and_says_why(tmp_path: Path) -> None:
    path = _write(tmp_path, b"")
    with pytest.raises(MediaVerificationError) as info:
        verify(path)
    assert str(info.value) == f"{path} is not a complete, playable MP4: the file is empty"
    assert info.value.reason == "the file is empty"
    assert isinstance(info.value, MediaError) and isinstance(info.value, VeniceVideoError)


# ------------------------------------------------------------------------- core install


@pytest.fixture
def without_pyav(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `import av` fail, as in the SDK's core install."""
    monkeypatch.setitem(sys.modules, "av", None)


@pytest.mark.usefixtures("without_pyav")
def test_without_pyav_a_structural_check_describes_the_clip(
    tmp_path: Path, clips: dict[str, bytes]
) -> None:
    info = verify(_write(tmp_path, clips["av"]))
    assert info.frames == -1
    assert (info.width, info.height, info.fps) == (64, 64, 24.0)
    assert (info.video_codec, info.has_audio, info.audio_codec) == ("h264", True, "aac")
    assert info.duration_s == pytest.approx(1.0, abs=0.05)


@pytest.mark.usefixtures("without_pyav")
def test_without_pyav_broken_files_still_fail(tmp_path: Path, clips: dict[str, bytes]) -> None:
    data = clips["faststart"]
    broken = {
        "truncated": data[: len(data) // 2],
        "cut mdat": _cut_mdat_keeping_boxes_consistent(data, 5000),
        "cut moov": clips["av"][:-50],
        "corrupt": _corrupt_middle(clips["av"], "random"),
        "zeros": _corrupt_middle(clips["av"], "zeros"),
        "garbage": random.Random(5).randbytes(4096),
        "empty": b"",
        "html": b"<html><body>Not Found</body></html>",
    }
    for name, payload in broken.items():
        with pytest.raises(MediaVerificationError):
            verify(_write(tmp_path, payload, f"{name}.mp4"))


def test_without_numpy_the_escape_byte_rule_is_still_checked(
    tmp_path: Path, clips: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "numpy", None)
    data = clips["av"]
    offset, size = _video_samples(tmp_path, data)[9]
    broken = _write(tmp_path, _patched(data, offset + size // 2, b"\x00\x00\x02"))
    _rejected(broken, "forbidden byte sequence")
    assert verify(_write(tmp_path, data, "whole.mp4")).frames == FRAMES


# ------------------------------------------------------------------------- the fast paths


def _walks(tmp_path: Path, data: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[bool, bool]:
    """(the numpy walk passes, the unit-by-unit walk passes) for one file."""
    from venice_video.media import _nal

    path = _write(tmp_path, data, "walk.mp4")
    track = _mp4.read_structure(path).video_track()
    fast = _nal._check_in_memory(np, data, track)
    with monkeypatch.context() as m:
        m.setattr(_nal, "_check_in_memory", lambda *args: False)
        try:
            _nal.check_track(path, track)
            slow = True
        except Exception:
            slow = False
    return fast, slow


@pytest.mark.parametrize("kind", ["av", "video", "faststart", "gop"])
def test_the_numpy_walk_passes_what_the_unit_walk_passes(
    tmp_path: Path, clips: dict[str, bytes], kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _walks(tmp_path, clips[kind], monkeypatch) == (True, True)


@pytest.mark.parametrize("codec", ["libx264", "libx265"])
def test_the_numpy_walk_never_passes_what_the_unit_walk_rejects(
    tmp_path: Path, clips: dict[str, bytes], monkeypatch: pytest.MonkeyPatch, codec: str
) -> None:
    """Flipped bits and written zeros across the video samples: whatever the walk one unit
    at a time rejects, the walk of every sample at once rejects too (and then leaves the
    message to the first)."""
    if codec == "libx264":
        data = clips["av"]
    elif codec in av.codecs_available:
        data = _make_clip(tmp_path / "hevc.mp4", audio=True, codec=codec).read_bytes()
        assert _walks(tmp_path, data, monkeypatch) == (True, True)
    else:
        pytest.skip(f"this FFmpeg has no {codec}")
    rng = random.Random(5)
    rejected = 0
    for offset, size in _video_samples(tmp_path, data):
        for at in {offset, offset + 3, offset + 4, offset + size - 1, offset + rng.randrange(size)}:
            for new in (bytes([data[at] ^ (1 << rng.randrange(8))]), b"\x00", b"\x00\x00\x01"):
                fast, slow = _walks(tmp_path, _patched(data, at, new), monkeypatch)
                assert slow or not fast, (at, new)
                rejected += not slow
    assert rejected > 100


def test_sample_positions_match_the_sample_walk(tmp_path: Path, clips: dict[str, bytes]) -> None:
    for kind in ("av", "gop"):
        structure = _mp4.read_structure(_write(tmp_path, clips[kind], f"{kind}.mp4"))
        for track in structure.tracks:
            every = list(track.samples())
            assert track.sample_positions(range(len(every))) == dict(enumerate(every))
            assert track.sample_positions([len(every) - 1, 0]) == {
                0: every[0],
                len(every) - 1: every[-1],
            }


def test_a_kept_decoder_rejects_a_broken_keyframe_as_a_new_one_does(
    tmp_path: Path, clips: dict[str, bytes]
) -> None:
    from venice_video.media import _verify

    data = clips["gop"]
    video = _mp4.read_structure(_write(tmp_path, data, "gop.mp4")).video_track()
    offset, size = video.sample_positions([video.sync_sample_numbers()[-1]]).popitem()[1]
    garbage = bytes(random.Random(11).randrange(1, 256) for _ in range(64))
    broken = _write(tmp_path, _patched(data, offset + size // 3, garbage), "broken.mp4")
    for _ in range(3):
        assert verify(_write(tmp_path, data, "good.mp4")).frames == FRAMES
        assert _verify._idle  # the decoder was kept
        _rejected(broken, "keyframe .* decoded with errors|cannot be decoded")
    assert sum(kept[2] for kept in _verify._idle) <= _verify._KEEP_BUDGET


def test_decoders_are_not_kept_for_large_pictures_or_after_parameter_sets(
    tmp_path: Path, clips: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    from venice_video.media import _verify

    path = _write(tmp_path, clips["gop"])
    monkeypatch.setattr(_verify, "_idle", [])
    monkeypatch.setattr(_verify, "_KEEP_PIXELS", WIDTH * HEIGHT - 1)
    assert verify(path).frames == FRAMES and _verify._idle == []
    monkeypatch.setattr(_verify, "_KEEP_PIXELS", WIDTH * HEIGHT)
    monkeypatch.setattr(_verify, "has_parameter_sets", lambda data, track: True)
    assert verify(path).frames == FRAMES and _verify._idle == []
    monkeypatch.undo()
    monkeypatch.setattr(_verify, "_idle", [])
    assert verify(path).frames == FRAMES and len(_verify._idle) == 1


def test_idle_decoders_are_kept_by_the_pixels_they_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    from venice_video.media import _verify

    monkeypatch.setattr(_verify, "_idle", [])
    key = ("h264", b"config")
    for n in range(12):  # a batch of 480p downloads, finished together
        _verify._give_back(key, f"decoder {n}", 854 * 480)
    assert [kept[1] for kept in _verify._idle] == [f"decoder {n}" for n in range(2, 12)]
    for n in range(3):
        _verify._give_back(key, f"1080p {n}", 1920 * 1080)
    assert [kept[1] for kept in _verify._idle] == ["1080p 1", "1080p 2"]
    assert _verify._take_decoder(key) == "1080p 2"
    assert _verify._take_decoder(("h264", b"other")) is None


def test_parameter_sets_are_found_in_a_sample(clips: dict[str, bytes], tmp_path: Path) -> None:
    from venice_video.media._nal import has_parameter_sets

    track = _mp4.read_structure(_write(tmp_path, clips["av"])).video_track()
    sps = b"\x67\x42\xc0\x0a\x8c\x8d\x40"  # nal_unit_type 7
    slice_ = b"\x65\x88\x84\x21\xa0"  # an IDR slice, type 5
    prefix = track.nal_length_size

    def sample(*units: bytes) -> bytes:
        return b"".join(len(u).to_bytes(prefix, "big") + u for u in units)

    assert has_parameter_sets(sample(sps, slice_), track)
    assert not has_parameter_sets(sample(slice_), track)
    assert has_parameter_sets(b"\x00\x00", track)  # not walkable: not to be trusted


def test_the_quick_placement_check_never_passes_what_the_full_one_rejects(
    tmp_path: Path, clips: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunk offsets and sample sizes changed one byte at a time, in every way."""
    data = clips["faststart"]
    structures: list[_mp4.Structure] = []
    monkeypatch.setattr(_mp4, "_check_placement", structures.append)
    for box, header in ((b"stco", 8), (b"stsz", 12)):
        for track in (0, 1):
            start = _table_entry(data, box, track, 0, header)
            for at in range(start, start + 48):
                for delta in (1, 255, 0x80):
                    new = bytes([(data[at] + delta) % 256])
                    path = _write(tmp_path, _patched(data, at, new), "index.mp4")
                    with contextlib.suppress(Invalid):  # the index's own checks
                        _mp4.read_structure(path)
    monkeypatch.undo()
    verdicts = []
    for structure in structures:
        quick = _mp4._placement_holds(structure)
        try:
            _mp4._check_each_chunk(structure)
            full = True
        except Invalid:
            full = False
        assert full or not quick
        verdicts.append(full)
    assert verdicts.count(False) > 50 and verdicts.count(True) > 50
