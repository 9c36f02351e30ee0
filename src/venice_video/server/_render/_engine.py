"""Rendering: text, image and video to video, and upscaling, from a `RenderSpec` to an mp4."""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from ._decode import av_reason, open_container, probe
from ._encode import FAITHFUL_QUALITY, Prefetch, Writer
from ._geometry import MAX_SIDE
from ._overlays import n_frames, overlays
from ._planes import F32, Planes
from ._sound import AUDIO_RATE, decode_audio, mix, synth_audio
from ._sources import EndFade, Gradient, KenBurns, Restyle, Scenes, Source
from ._spec import RenderError, RenderResult, RenderSpec

__all__ = ["Encoded", "render"]

_MAX_DURATION_S: Final = 3600.0
_END_FADE_FRACTION: Final = 0.4
_INTERP_UPSCALE: Final = "LANCZOS"


@dataclass(frozen=True)
class Encoded:
    """What one encoding pass wrote into the temporary file."""

    width: int
    height: int
    frames: int
    has_audio: bool
    duration_s: float


def _validate(spec: RenderSpec) -> None:
    if not isinstance(spec.fps, int) or not 1 <= spec.fps <= 120:
        raise ValueError(f"fps must be an integer from 1 to 120, got {spec.fps!r}")
    if not (math.isfinite(spec.duration_s) and 0 < spec.duration_s <= _MAX_DURATION_S):
        raise ValueError(f"duration_s must be in (0, {_MAX_DURATION_S:g}], got {spec.duration_s!r}")
    if spec.upscale_factor is not None:
        if spec.video is None:
            raise ValueError("upscale_factor needs a video to upscale")
        if not 1 <= spec.upscale_factor <= 4:
            raise ValueError(f"upscale_factor must be 1 to 4, got {spec.upscale_factor!r}")
        return
    for name, value in (("width", spec.width), ("height", spec.height)):
        if not 2 <= value <= MAX_SIDE:
            raise ValueError(f"{name} must be from 2 to {MAX_SIDE}, got {value!r}")


def render(spec: RenderSpec, out_path: Path) -> RenderResult:
    """Render ``spec`` to an mp4 at ``out_path`` and describe the result.

    Blocking and CPU-bound: call it from a worker thread. The file is written beside
    ``out_path`` under a temporary name and moved into place only once complete, so readers
    never see a partial file.

    Raises:
        ValueError: for an impossible spec (size, duration, fps, upscale factor).
        RenderError: when an input cannot be decoded or used.
    """
    _validate(spec)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.{secrets.token_hex(6)}.part")
    try:
        if spec.upscale_factor is not None:
            assert spec.video is not None
            encoded = _upscale(spec.video, spec.upscale_factor, tmp)
        else:
            encoded = _generate(spec, tmp)
        os.replace(tmp, out_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return RenderResult(
        path=out_path,
        width=encoded.width,
        height=encoded.height,
        duration_s=encoded.duration_s,
        frames=encoded.frames,
        has_audio=encoded.has_audio,
        size_bytes=out_path.stat().st_size,
    )


def _generate(spec: RenderSpec, tmp: Path) -> Encoded:
    width, height = spec.width - spec.width % 2, spec.height - spec.height % 2
    n = n_frames(spec)
    n_samples = round(n / spec.fps * AUDIO_RATE)

    source: Source
    if spec.video is not None:
        source = Restyle(spec.video, spec, width, height, n)
    elif spec.image is not None:
        source = KenBurns(spec.image, "image", spec, width, height)
    elif spec.scene_images:
        source = Scenes(spec.scene_images, width, height, spec.fps)
    else:
        source = Gradient(spec, width, height)
    if spec.end_image is not None:
        end = KenBurns(spec.end_image, "end_image", spec, width, height)
        source = EndFade(source, end, _END_FADE_FRACTION)
    drawn = overlays(spec, width, height)

    tracks: list[tuple[F32, float]] = []
    if spec.video is not None:
        own = decode_audio(spec.video, "video", n_samples, required=False)
        if own is not None:
            tracks.append((own, 1.0))
    if spec.audio_track is not None:
        track = decode_audio(spec.audio_track, "audio_track", n_samples, required=True)
        assert track is not None
        tracks.append((track, 1.0))
    if spec.audio:
        tracks.append((synth_audio(spec, n_samples), 0.35 if tracks else 1.0))
    pcm = mix(tracks, n_samples) if tracks else None

    def frames() -> Iterator[av.VideoFrame]:
        for i in range(n):
            fr = source.paint(i, n, i / spec.fps)
            for overlay in drawn:
                overlay(fr, i, n)
            yield fr.frame

    # The generated chords alone need few bits, and FFmpeg's fast AAC coder at 64 kb/s spends
    # a quarter of the default coder's time on them; real soundtracks get the default.
    synthetic_only = spec.audio and len(tracks) == 1
    writer = Writer(
        tmp,
        width,
        height,
        spec.fps,
        pcm,
        audio_coder="fast" if synthetic_only else "twoloop",
        audio_bit_rate=64_000 if synthetic_only else 128_000,
    )
    try:
        # Painting (numpy) and encoding (x264) both release the GIL for their heavy parts,
        # so painting ahead in a second thread keeps both cores busy.
        with Prefetch(frames(), depth=4) as painted:
            for frame in painted:
                writer.add(frame)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return Encoded(width, height, n, pcm is not None, n / spec.fps)


def _sharpen(fr: Planes, amount: float = 0.5) -> None:
    """Unsharp mask on luma with a 3x3 box blur."""
    y = fr.y.astype(np.int16)
    blur = y.copy()
    blur[1:-1] = y[:-2] + y[1:-1] + y[2:]
    blur[[0, -1]] *= 3
    horiz = blur.copy()
    horiz[:, 1:-1] = blur[:, :-2] + blur[:, 1:-1] + blur[:, 2:]
    horiz[:, [0, -1]] *= 3
    k = int(amount * 64)
    sharp = y + ((y * 9 - horiz) * k) // (9 * 64)
    np.copyto(fr.y, np.clip(sharp, 0, 255), casting="unsafe")


def _upscale(data: bytes, factor: int, tmp: Path) -> Encoded:
    info = probe(data, field="video")
    if info.frames == 0 or info.width == 0:
        raise RenderError("video has no video frames to upscale", field="video")
    width = info.width * factor - (info.width * factor) % 2
    height = info.height * factor - (info.height * factor) % 2
    if max(width, height) > MAX_SIDE:
        raise RenderError(
            f"video is too large to upscale {factor}x: {info.width}x{info.height} would become "
            f"{width}x{height} (at most {MAX_SIDE} per side)",
            field="video",
        )
    container = open_container(data, "video")
    try:
        vin = container.streams.video[0]
        rate = Fraction(vin.average_rate or vin.guessed_rate or 24).limit_denominator(1001)
        ain = container.streams.audio[0] if container.streams.audio else None
        # AAC is copied packet for packet; anything else is decoded and re-encoded as AAC.
        copy_audio = ain is not None and ain.codec_context.name == "aac"
        pcm: F32 | None = None
        if ain is not None and not copy_audio:
            pcm = decode_audio(
                data, "video", round(info.frames / rate * AUDIO_RATE), required=False
            )
        writer = Writer(
            tmp,
            width,
            height,
            rate,
            pcm,
            audio_template=ain if copy_audio else None,
            quality=FAITHFUL_QUALITY,
            tag_bt709=False,
        )
        for attr in ("colorspace", "color_primaries", "color_trc", "color_range"):
            value = getattr(vin.codec_context, attr, None)
            if value:
                setattr(writer.video.codec_context, attr, value)
        vin.thread_type = "AUTO"
        scaler = VideoReformatter()

        def items() -> Iterator[av.VideoFrame | av.Packet[Any]]:
            streams = [vin, ain] if copy_audio else [vin]
            try:
                for packet in container.demux(streams):
                    if packet.stream is vin:
                        for frame in packet.decode():
                            out = scaler.reformat(
                                frame,
                                width=width,
                                height=height,
                                format="yuv420p",
                                interpolation=_INTERP_UPSCALE,
                                threads=1,
                            )
                            if factor == 1:
                                _sharpen(Planes(out))
                            yield out
                    elif packet.dts is not None:
                        yield packet
            except (av.FFmpegError, OSError) as exc:
                raise RenderError(
                    f"video could not be decoded: {av_reason(exc)}", field="video"
                ) from exc

        try:
            with Prefetch(items(), depth=4) as ready:
                for item in ready:
                    if isinstance(item, av.Packet):
                        writer.copy_audio(item)
                    else:
                        writer.add(item)
            if writer.frames == 0:
                raise RenderError("video contains no decodable frames", field="video")
            writer.close()
        except BaseException:
            writer.abort()
            raise
    finally:
        container.close()
    has_audio = copy_audio or pcm is not None
    return Encoded(width, height, writer.frames, has_audio, float(writer.frames / rate))
