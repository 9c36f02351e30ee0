"""The placeholder renderer: real, exactly sized and timed mp4 files, deterministic."""

from __future__ import annotations

import hashlib
import io
import struct
import wave
import zlib
from pathlib import Path

import av
import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image, ImageDraw

from venice_video.server._render import (
    ASPECT_RATIOS,
    RenderError,
    RenderSpec,
    dimensions_for,
    dimensions_for_image,
    probe,
    render,
)

RGB = NDArray[np.uint8]


def image_bytes(
    size: tuple[int, int], colour: tuple[int, int, int], fmt: str = "PNG", *, alpha: bool = False
) -> bytes:
    if alpha:
        img = Image.new("RGBA", size, (0, 0, 0, 0))
        ImageDraw.Draw(img).ellipse((0, 0, size[0] - 1, size[1] - 1), fill=(*colour, 255))
    else:
        img = Image.new("RGB", size, colour)
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def wav_bytes(seconds: float, freq: float, rate: int = 44_100, channels: int = 1) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.4 * np.sin(2 * np.pi * freq * t) * 32767).astype("<i2")
    if channels == 2:
        samples = np.repeat(samples, 2)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return buf.getvalue()


def decode_frames(path: Path) -> list[RGB]:
    with av.open(str(path)) as container:
        return [
            np.asarray(f.to_ndarray(format="rgb24"), dtype=np.uint8)
            for f in container.decode(video=0)
        ]


def decode_audio(path: Path) -> tuple[NDArray[np.float32], int]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        chunks = [f.to_ndarray() for f in container.decode(stream)]
        return np.concatenate(chunks, axis=1), stream.rate


def centre_colour(frame: RGB) -> NDArray[np.float64]:
    h, w = frame.shape[:2]
    region = frame[h // 3 : h // 2, w // 3 : 2 * w // 3].reshape(-1, 3)
    return np.asarray(region.mean(axis=0), dtype=np.float64)


def small(**kwargs: object) -> RenderSpec:
    base: dict[str, object] = {"width": 320, "height": 180, "duration_s": 0.5}
    base.update(kwargs)
    return RenderSpec(**base)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# The full-size clip


def test_render_5s_720p_with_audio_decodes_fully_with_exact_size_frames_and_duration(
    tmp_path: Path,
) -> None:
    out = tmp_path / "clip.mp4"
    result = render(
        RenderSpec(1280, 720, 5.0, prompt="a lighthouse in a storm, waves crashing", audio=True),
        out,
    )
    assert (result.width, result.height, result.frames, result.has_audio) == (1280, 720, 120, True)
    assert result.duration_s == 5.0
    assert result.size_bytes == out.stat().st_size > 0

    video_frames = audio_samples = 0
    with av.open(str(out)) as container:
        assert container.duration is not None
        assert container.duration / 1_000_000 == pytest.approx(5.0, abs=1 / 24)
        vstream, astream = container.streams.video[0], container.streams.audio[0]
        assert vstream.codec_context.name == "h264"
        assert astream.codec_context.name == "aac"
        assert vstream.average_rate == 24
        for packet in container.demux():
            for frame in packet.decode():
                if isinstance(frame, av.VideoFrame):
                    assert (frame.width, frame.height, frame.format.name) == (1280, 720, "yuv420p")
                    video_frames += 1
                elif isinstance(frame, av.AudioFrame):
                    audio_samples += frame.samples
                    audio_rate = frame.sample_rate
    assert video_frames == 120
    assert audio_rate in (44_100, 48_000)
    assert audio_samples / audio_rate == pytest.approx(5.0, abs=0.05)

    info = probe(out)
    assert (info.width, info.height, info.frames, info.fps) == (1280, 720, 120, 24.0)
    assert info.duration_s == pytest.approx(5.0, abs=1 / 24)
    assert (info.has_audio, info.video_codec, info.audio_codec) == (True, "h264", "aac")


def test_render_without_audio_has_no_audio_stream(tmp_path: Path) -> None:
    result = render(small(prompt="quiet"), tmp_path / "a.mp4")
    assert result.has_audio is False
    assert probe(result.path).has_audio is False


@pytest.mark.parametrize("duration", [0.3, 1.3, 2.0])
def test_render_has_round_duration_times_fps_frames_and_matching_audio(
    tmp_path: Path, duration: float
) -> None:
    result = render(small(duration_s=duration, audio=True), tmp_path / "d.mp4")
    info = probe(result.path)
    assert info.frames == result.frames == round(duration * 24)
    assert info.duration_s == pytest.approx(duration, abs=1 / 24)
    pcm, rate = decode_audio(result.path)
    assert pcm.shape[1] / rate == pytest.approx(result.frames / 24, abs=0.05)


def test_render_honours_other_frame_rates(tmp_path: Path) -> None:
    info = probe(render(small(duration_s=1.0, fps=30), tmp_path / "f.mp4").path)
    assert (info.frames, info.fps) == (30, 30.0)


# --------------------------------------------------------------------------------------------
# Sizes


@pytest.mark.parametrize(
    ("resolution", "aspect", "expected"),
    [
        ("480p", "16:9", (854, 480)),
        ("480p", "9:16", (480, 854)),
        ("480p", "1:1", (480, 480)),
        ("720p", "16:9", (1280, 720)),
        ("720p", "4:3", (960, 720)),
        ("720p", "3:4", (720, 960)),
        ("1080p", "21:9", (2520, 1080)),
        ("1080p", "9:21", (1080, 2520)),
        ("256p", "16:9", (456, 256)),
        ("360p", "16:9", (640, 360)),
        ("540p", "16:9", (960, 540)),
        ("580p", "16:9", (1032, 580)),
        ("1440p", "16:9", (2560, 1440)),
        ("2160p", "16:9", (3840, 2160)),
        ("4k", "16:9", (3840, 2160)),
        ("4K", "9:16", (2160, 3840)),
        ("2K", "16:9", (2560, 1440)),
        ("768P", "16:9", (1366, 768)),
        ("true_1080p", "16:9", (1920, 1080)),
        ("720p", "2:3", (720, 1080)),
        ("720p", "3:2", (1080, 720)),
        ("720p", "4:5", (720, 900)),
        ("720p", "5:4", (900, 720)),
        (None, None, (1280, 720)),
        ("480p", "auto", (854, 480)),
        ("480p", "adaptive", (854, 480)),
        ("480p", None, (854, 480)),
    ],
)
def test_dimensions_for_maps_labels_to_even_frame_sizes(
    resolution: str | None, aspect: str | None, expected: tuple[int, int]
) -> None:
    assert dimensions_for(resolution, aspect) == expected
    assert expected[0] % 2 == expected[1] % 2 == 0


@pytest.mark.parametrize("label", ["2x", "4x"])
def test_dimensions_for_rejects_upscale_labels(label: str) -> None:
    with pytest.raises(ValueError, match="upscale factor"):
        dimensions_for(label, "16:9")


def test_dimensions_for_rejects_unknown_labels() -> None:
    with pytest.raises(ValueError, match="unknown resolution '999p'"):
        dimensions_for("999p", "16:9")
    with pytest.raises(ValueError, match="unknown aspect ratio '7:5'"):
        dimensions_for("720p", "7:5")


def test_dimensions_for_image_follows_the_image_aspect() -> None:
    assert dimensions_for_image("480p", image_bytes((300, 600), (1, 2, 3))) == (480, 960)
    assert dimensions_for_image("480p", image_bytes((900, 300), (1, 2, 3))) == (1200, 480)
    assert dimensions_for_image("480p", image_bytes((1000, 100), (1, 2, 3))) == (1200, 480)


@pytest.mark.parametrize("aspect", sorted(ASPECT_RATIOS))
def test_render_each_aspect_ratio_gives_the_right_orientation(tmp_path: Path, aspect: str) -> None:
    width, height = dimensions_for("256p", aspect)
    info = probe(render(RenderSpec(width, height, 0.25), tmp_path / "o.mp4").path)
    assert (info.width, info.height) == (width, height)
    aw, ah = ASPECT_RATIOS[aspect]
    assert (info.width > info.height) == (aw > ah)
    assert (info.width == info.height) == (aw == ah)
    assert info.width / info.height == pytest.approx(aw / ah, rel=0.01)


def test_render_handles_heights_that_are_not_multiples_of_four(tmp_path: Path) -> None:
    width, height = dimensions_for("480p", "9:16")
    assert height % 4 == 2
    result = render(RenderSpec(width, height, 0.25, prompt="tall"), tmp_path / "t.mp4")
    frames = decode_frames(result.path)
    assert frames[0].shape == (854, 480, 3)


# --------------------------------------------------------------------------------------------
# Inputs


def test_image_to_video_starts_on_the_image_and_fades_to_the_end_image(tmp_path: Path) -> None:
    spec = small(
        duration_s=1.0,
        image=image_bytes((400, 300), (220, 30, 30), "JPEG"),
        end_image=image_bytes((200, 200), (30, 30, 220)),
    )
    frames = decode_frames(render(spec, tmp_path / "i2v.mp4").path)
    assert len(frames) == 24
    first, middle, last = (centre_colour(frames[k]) for k in (0, 10, -1))
    assert first[0] > 180 and first[2] < 70
    assert middle[0] > 180 and middle[2] < 70  # the fade is in the last 40%
    assert last[2] > 180 and last[0] < 70


def test_image_to_video_pans_and_zooms(tmp_path: Path) -> None:
    img = Image.new("RGB", (640, 360))
    ImageDraw.Draw(img).rectangle((200, 100, 440, 260), fill=(255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    frames = decode_frames(
        render(small(duration_s=1.0, image=buf.getvalue(), caption=False), tmp_path / "k.mp4").path
    )
    diff = np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean()
    assert diff > 2


def png_of(frame: RGB) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, "PNG")
    return buf.getvalue()


def mean_difference(a: RGB, b: RGB) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_image_to_video_starts_on_the_previous_clips_last_frame(tmp_path: Path, seed: int) -> None:
    """A clip continued from another's last frame starts where that one ended, then moves."""
    before = decode_frames(render(small(prompt="shot one", seed=9), tmp_path / "1.mp4").path)
    spec = small(prompt="shot two", seed=seed, image=png_of(before[-1]), duration_s=1.0)
    after = decode_frames(render(spec, tmp_path / "2.mp4").path)
    assert mean_difference(after[0], before[-1]) < 4
    assert mean_difference(after[-1], before[-1]) > 8


def test_image_to_video_starts_on_the_image_scaled_to_the_frame(tmp_path: Path) -> None:
    img = Image.new("RGB", (640, 360))
    draw = ImageDraw.Draw(img)
    for k in range(0, 640, 40):
        draw.rectangle((k, 0, k + 19, 359), fill=(250, 200 - k // 4, k // 3))
    draw.ellipse((200, 60, 440, 300), fill=(30, 90, 220))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    first = decode_frames(render(small(image=buf.getvalue()), tmp_path / "i.mp4").path)[0]
    expected = np.asarray(img.resize((320, 180), Image.Resampling.BILINEAR))
    assert mean_difference(first, expected) < 6


def test_the_caption_fades_out_before_the_last_frame(tmp_path: Path) -> None:
    with_caption = decode_frames(render(small(prompt="hello there"), tmp_path / "c.mp4").path)
    without = decode_frames(
        render(small(prompt="hello there", caption=False), tmp_path / "n.mp4").path
    )
    label = (slice(0, 20), slice(0, 140))  # the corner label of a 320x180 frame
    assert mean_difference(with_caption[0][label], without[0][label]) > 15
    assert mean_difference(with_caption[-1][label], without[-1][label]) < 5


def test_audio_track_is_looped_to_the_clip_length(tmp_path: Path) -> None:
    result = render(small(duration_s=2.5, audio_track=wav_bytes(1.0, 440.0)), tmp_path / "a.mp4")
    assert result.has_audio
    pcm, rate = decode_audio(result.path)
    assert pcm.shape[1] / rate == pytest.approx(2.5, abs=0.05)
    late = pcm[0, int(1.6 * rate) : int(2.4 * rate)]
    assert np.sqrt(np.mean(late**2)) > 0.1  # still sounding after the 1 s track ended
    spectrum = np.abs(np.fft.rfft(late))
    peak_hz = np.argmax(spectrum) * rate / len(late)
    assert peak_hz == pytest.approx(440, abs=5)


def test_audio_track_is_mixed_with_generated_audio(tmp_path: Path) -> None:
    track = wav_bytes(0.5, 1000.0, rate=48_000, channels=2)
    alone = decode_audio(render(small(audio_track=track), tmp_path / "1.mp4").path)[0]
    mixed = decode_audio(render(small(audio_track=track, audio=True), tmp_path / "2.mp4").path)[0]
    assert not np.allclose(alone, mixed, atol=0.01)


def test_scene_images_cycle_as_backgrounds(tmp_path: Path) -> None:
    spec = small(
        duration_s=2.0,
        caption=False,
        scene_images=(image_bytes((64, 48), (200, 20, 20)), image_bytes((64, 48), (20, 200, 20))),
    )
    frames = decode_frames(render(spec, tmp_path / "s.mp4").path)
    first, last = centre_colour(frames[0]), centre_colour(frames[-1])
    assert first[0] > 150 and first[1] < 60
    assert last[1] > 150 and last[0] < 60


def test_reference_images_form_a_thumbnail_strip(tmp_path: Path) -> None:
    spec = small(
        caption=False,
        scene_images=(image_bytes((64, 48), (0, 0, 0)),),
        reference_images=(
            image_bytes((90, 60), (250, 250, 0)),
            image_bytes((60, 90), (0, 250, 250)),
        ),
    )
    frame = decode_frames(render(spec, tmp_path / "r.mp4").path)[0]
    strip = frame[: frame.shape[0] // 4, frame.shape[1] // 2 :].reshape(-1, 3).astype(int)
    yellow = (strip[:, 0] > 200) & (strip[:, 1] > 200) & (strip[:, 2] < 80)
    cyan = (strip[:, 0] < 80) & (strip[:, 1] > 200) & (strip[:, 2] > 200)
    assert yellow.sum() > 100 and cyan.sum() > 100


def test_element_images_move_across_the_frame(tmp_path: Path) -> None:
    spec = small(
        duration_s=1.0,
        caption=False,
        scene_images=(image_bytes((64, 48), (0, 0, 0)),),
        element_images=(image_bytes((80, 80), (250, 0, 250), alpha=True),),
    )
    frames = decode_frames(render(spec, tmp_path / "e.mp4").path)

    def magenta_x(frame: RGB) -> float:
        mask = (frame[..., 0] > 180) & (frame[..., 1] < 80) & (frame[..., 2] > 180)
        cols = np.nonzero(mask.any(axis=0))[0]
        return float(cols.mean()) if len(cols) else float("nan")

    xs = [magenta_x(frames[k]) for k in (4, 8, 12)]
    assert all(np.isfinite(xs))
    assert len(set(round(x) for x in xs)) == 3


def test_caption_flag_controls_the_overlay(tmp_path: Path) -> None:
    with_caption = decode_frames(render(small(prompt="hello there"), tmp_path / "c.mp4").path)[0]
    without = decode_frames(
        render(small(prompt="hello there", caption=False), tmp_path / "n.mp4").path
    )[0]
    assert not np.array_equal(with_caption, without)


# --------------------------------------------------------------------------------------------
# Video inputs


@pytest.fixture(scope="module")
def source_clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("src") / "source.mp4"
    render(RenderSpec(320, 180, 1.0, prompt="source", audio=True), path)
    return path.read_bytes()


@pytest.mark.parametrize("factor", [1, 2])
def test_upscale_multiplies_size_and_keeps_frames_rate_and_audio(
    tmp_path: Path, source_clip: bytes, factor: int
) -> None:
    spec = RenderSpec(0, 0, 1.0, video=source_clip, upscale_factor=factor)
    result = render(spec, tmp_path / "up.mp4")
    before, after = probe(source_clip), probe(result.path)
    assert (after.width, after.height) == (before.width * factor, before.height * factor)
    assert (result.width, result.height) == (after.width, after.height)
    assert after.frames == before.frames == result.frames
    assert after.fps == before.fps
    assert after.has_audio and after.audio_codec == "aac"
    assert after.duration_s == pytest.approx(before.duration_s, abs=0.05)
    assert len(decode_frames(result.path)) == before.frames


def test_video_to_video_restyles_at_the_requested_size_and_loops(
    tmp_path: Path, source_clip: bytes
) -> None:
    spec = RenderSpec(180, 320, 2.5, prompt="as a watercolour", video=source_clip)
    result = render(spec, tmp_path / "v2v.mp4")
    info = probe(result.path)
    assert (info.width, info.height, info.frames) == (180, 320, 60)
    assert info.has_audio  # the input's own sound is kept
    pcm, rate = decode_audio(result.path)
    assert pcm.shape[1] / rate == pytest.approx(2.5, abs=0.05)


# --------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"image": b"not an image"}, "image", "image could not be decoded as an image"),
        ({"image": b""}, "image", "image is empty"),
        ({"end_image": b"\x89PNG\r\n\x1a\nbroken"}, "end_image", "end_image could not be decoded"),
        (
            {"scene_images": (b"junk",)},
            "scene_images[0]",
            r"scene_images\[0\] could not be decoded as an image: not a recognised image format",
        ),
        (
            {"reference_images": (image_bytes((8, 8), (1, 2, 3)), b"junk")},
            "reference_images[1]",
            r"reference_images\[1\] could not be decoded",
        ),
        ({"element_images": (b"junk",)}, "element_images[0]", "element_images"),
        ({"audio_track": b"not audio at all"}, "audio_track", "audio_track"),
        ({"video": b"not a video"}, "video", "video could not be decoded"),
        ({"video": b"not a video", "upscale_factor": 2}, "video", "video could not be decoded"),
    ],
)
def test_undecodable_inputs_raise_render_error_naming_the_input(
    tmp_path: Path, kwargs: dict[str, object], field: str, message: str
) -> None:
    out = tmp_path / "bad.mp4"
    with pytest.raises(RenderError, match=message) as info:
        render(small(**kwargs), out)
    assert info.value.field == field
    assert list(tmp_path.iterdir()) == []  # neither the output nor a temporary file is left


def png_claiming_size(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` but whose pixel data is a stub."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def test_oversized_image_is_refused_before_decoding(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match=r"image is too large: 9000x9000 pixels") as info:
        render(small(image=png_claiming_size(9000, 9000)), tmp_path / "big.mp4")
    assert info.value.field == "image"


def test_audio_track_without_audio_stream_is_refused(tmp_path: Path, source_clip: bytes) -> None:
    silent = render(small(), tmp_path / "silent.mp4").path.read_bytes()
    with pytest.raises(RenderError, match="audio_track has no audio stream"):
        render(small(audio_track=silent), tmp_path / "x.mp4")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"duration_s": 0.0},
        {"duration_s": float("nan")},
        {"fps": 0},
        {"width": 0},
        {"height": 100_000},
        {"upscale_factor": 2},
    ],
)
def test_impossible_specs_raise_value_error(tmp_path: Path, kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        render(small(**kwargs), tmp_path / "v.mp4")


def test_probe_rejects_non_media() -> None:
    with pytest.raises(RenderError, match="could not be"):
        probe(b"definitely not media")


# --------------------------------------------------------------------------------------------
# Determinism and atomic writes


def frame_hash(path: Path) -> str:
    digest = hashlib.sha256()
    for frame in decode_frames(path):
        digest.update(frame.tobytes())
    return digest.hexdigest()


def test_same_spec_gives_same_bytes_and_different_prompt_differs(tmp_path: Path) -> None:
    spec = small(prompt="a red balloon over paris", seed=7, audio=True)
    a = render(spec, tmp_path / "a.mp4").path
    b = render(spec, tmp_path / "b.mp4").path
    assert a.read_bytes() == b.read_bytes()
    c = render(small(prompt="a blue balloon over rome", seed=7), tmp_path / "c.mp4").path
    d = render(small(prompt="a red balloon over paris", seed=8), tmp_path / "d.mp4").path
    assert len({frame_hash(a), frame_hash(c), frame_hash(d)}) == 3


def test_render_replaces_the_output_atomically(tmp_path: Path) -> None:
    out = tmp_path / "nested" / "clip.mp4"
    render(small(prompt="one"), out)
    first = out.read_bytes()
    render(small(prompt="two"), out)
    assert out.read_bytes() != first
    assert [p.name for p in out.parent.iterdir()] == ["clip.mp4"]
