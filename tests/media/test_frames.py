"""`media.probe` and single frames: first, last, at a time; as Pillow images and PNG."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from venice_video.media import MediaError, first_frame, frame_at, last_frame, probe

av = pytest.importorskip("av")
np = pytest.importorskip("numpy")
Image = pytest.importorskip("PIL.Image")

FPS = 24
FRAMES = 48  # 2 s


def _grey(index: int) -> int:
    return 20 + index * 4


def _make_steps(path: Path, *, audio: bool = True, gop: int = 10) -> Path:
    """2 s of 96x64 frames, frame k a flat grey of level `_grey(k)`, keyframes every `gop`."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = 96, 64, "yuv420p"
        video.codec_context.gop_size = gop
        video.options = {"preset": "ultrafast", "qp": "0"}
        sound = container.add_stream("aac", rate=48000) if audio else None
        if sound is not None:
            sound.layout = "mono"
        for k in range(FRAMES):
            pixels = np.full((64, 96, 3), _grey(k), np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = k
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if sound is not None:
            chunk = av.AudioFrame.from_ndarray(
                np.zeros((1, 96000), np.float32), format="fltp", layout="mono"
            )
            chunk.sample_rate = 48000
            chunk.pts = 0
            for packet in [*sound.encode(chunk), *sound.encode()]:
                container.mux(packet)
    return path


@pytest.fixture(scope="module")
def steps(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make_steps(tmp_path_factory.mktemp("steps") / "steps.mp4")


def _level(image: object) -> float:
    return float(np.asarray(image, dtype=np.float64).mean())


def test_first_frame_is_the_first_picture(steps: Path) -> None:
    frame = first_frame(steps)
    assert (frame.width, frame.height, frame.image.mode) == (96, 64, "RGB")
    assert frame.time_s == pytest.approx(0.0, abs=1e-6)
    assert _level(frame.image) == pytest.approx(_grey(0), abs=3)


def test_last_frame_is_the_last_picture(steps: Path) -> None:
    frame = last_frame(steps)
    assert frame.time_s == pytest.approx((FRAMES - 1) / FPS, abs=1e-3)
    assert _level(frame.image) == pytest.approx(_grey(FRAMES - 1), abs=3)


@pytest.mark.parametrize(
    ("seconds", "index"), [(0.0, 0), (0.5, 12), (0.52, 12), (1.0, 24), (1.99, 47), (60.0, 47)]
)
def test_frame_at_is_the_picture_on_screen_then(steps: Path, seconds: float, index: int) -> None:
    frame = frame_at(steps, seconds)
    assert frame.time_s == pytest.approx(index / FPS, abs=1e-3)
    assert _level(frame.image) == pytest.approx(_grey(index), abs=3)


def test_frames_can_be_taken_from_bytes(steps: Path) -> None:
    data = steps.read_bytes()
    assert _level(last_frame(data).image) == pytest.approx(_grey(FRAMES - 1), abs=3)
    assert _level(frame_at(data, 0.25).image) == pytest.approx(_grey(6), abs=3)


def test_a_frame_as_png_is_the_same_picture(steps: Path) -> None:
    frame = last_frame(steps)
    data = frame.png()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    again = Image.open(io.BytesIO(data))
    assert again.size == (96, 64)
    assert np.array_equal(np.asarray(again), np.asarray(frame.image))


def test_a_negative_time_is_refused(steps: Path) -> None:
    with pytest.raises(ValueError, match="zero or more"):
        frame_at(steps, -1.0)
    with pytest.raises(ValueError, match="zero or more"):
        frame_at(steps, float("nan"))


def test_frames_of_something_that_is_not_a_video_are_refused(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="could not be decoded as media"):
        first_frame(b"not a video at all" * 10)
    path = tmp_path / "sound.wav"
    with av.open(str(path), "w") as container:
        sound = container.add_stream("pcm_s16le", rate=8000)
        sound.layout = "mono"
        chunk = av.AudioFrame.from_ndarray(
            np.zeros((1, 800), np.int16), format="s16", layout="mono"
        )
        chunk.sample_rate = 8000
        for packet in [*sound.encode(chunk), *sound.encode()]:
            container.mux(packet)
    with pytest.raises(MediaError, match="sound.wav has no video stream"):
        last_frame(path)
    with pytest.raises(MediaError, match="could not be opened"):
        last_frame(tmp_path / "missing.mp4")


# ------------------------------------------------------------------------- probe


def test_probe_describes_a_video_from_its_index(steps: Path) -> None:
    info = probe(steps)
    assert (info.width, info.height, info.fps, info.frames) == (96, 64, 24.0, FRAMES)
    assert (info.has_audio, info.video_codec, info.audio_codec) == (True, "h264", "aac")
    assert info.duration_s == pytest.approx(2.0, abs=0.05)
    assert info.codecs is not None and info.codecs.startswith("avc1.")


def test_probe_can_count_frames_by_demuxing(tmp_path: Path, steps: Path) -> None:
    webm = tmp_path / "steps.webm"
    with av.open(str(steps)) as source, av.open(str(webm), "w") as sink:
        out = sink.add_stream("libvpx", rate=FPS)
        out.width, out.height, out.pix_fmt = 96, 64, "yuv420p"
        for frame in source.decode(video=0):
            frame.pts = None
            for packet in out.encode(frame):
                sink.mux(packet)
        for packet in out.encode():
            sink.mux(packet)
    assert probe(webm).frames == 0  # WebM keeps no count
    assert probe(webm, count_frames=True).frames == FRAMES
    assert probe(webm.read_bytes(), count_frames=True).video_codec == "vp8"


def test_probe_names_the_source_in_its_errors() -> None:
    with pytest.raises(MediaError, match="reference_videos\\[0\\] could not be decoded"):
        probe(b"\x00\x01 not media" * 20, name="reference_videos[0]")
    with pytest.raises(MediaError, match="the media is empty"):
        probe(b"")
