"""Small clips made on the spot for the assembly tests, and ways to read films back."""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from numpy.typing import NDArray

from venice_video.media._pictures import add_h264_stream

F32 = NDArray[np.float32]
U8 = NDArray[np.uint8]
RATE = 48_000
W, H = 160, 96


def tone(freq: float, *, amplitude: float = 0.4, phase: float = 0.0) -> Callable[[F32], F32]:
    """A sine wave for :func:`make_clip`'s ``sound``: time in seconds to samples."""

    def wave(t: F32) -> F32:
        out: F32 = (amplitude * np.sin(2 * math.pi * freq * t + phase)).astype(np.float32)
        return out

    return wave


def make_clip(
    path: Path,
    *,
    seconds: float = 1.0,
    fps: int = 24,
    size: tuple[int, int] = (W, H),
    luma: Callable[[int], int] = lambda k: 40 + 4 * (k % 40),
    sound: Callable[[F32], F32] | None = None,
    audio_rate: int = RATE,
    engine_settings: bool = True,
    options: dict[str, str] | None = None,
) -> Path:
    """An mp4 of flat grey frames (frame ``k`` at ``luma(k)``) with an optional sound.

    With ``engine_settings`` the video is encoded as the local engine encodes; otherwise with
    libx264 and ``options`` (for instance B-frames), giving different codec data.
    """
    width, height = size
    frames = round(seconds * fps)
    with av.open(str(path), "w", format="mp4") as out:
        if engine_settings:
            video = add_h264_stream(out, width, height, Fraction(fps))
        else:
            video = out.add_stream("libx264", rate=fps, options=options or {"preset": "medium"})
            video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = None
        pcm: F32 | None = None
        if sound is not None:
            audio = out.add_stream("aac", rate=audio_rate)
            audio.layout = "stereo"
            t = np.arange(round(frames / fps * audio_rate), dtype=np.float32) / audio_rate
            mono = sound(t)
            pcm = np.ascontiguousarray(np.stack([mono, mono]).astype(np.float32))
        written = 0
        for k in range(frames):
            frame = np.empty((height * 3 // 2, width), np.uint8)
            frame[:height] = luma(k)
            frame[height:] = 128
            vf = av.VideoFrame.from_ndarray(frame, format="yuv420p")
            vf.pts = k
            vf.time_base = Fraction(1, fps)
            out.mux(video.encode(vf))
            if audio is not None and pcm is not None:
                until = min(pcm.shape[1], round((k + 1) / fps * audio_rate))
                while until - written >= 1024 or (k == frames - 1 and written < until):
                    stop = min(written + 1024, until)
                    af = av.AudioFrame.from_ndarray(
                        np.ascontiguousarray(pcm[:, written:stop]), format="fltp", layout="stereo"
                    )
                    af.sample_rate = audio_rate
                    af.pts = written
                    af.time_base = Fraction(1, audio_rate)
                    out.mux(audio.encode(af))
                    written = stop
        out.mux(video.encode(None))
        if audio is not None:
            out.mux(audio.encode(None))
    return path


@dataclass
class Film:
    """A film read back: its frames' mean luma, timestamps and sound."""

    lumas: list[float]
    pts_seconds: list[float]
    frames: list[U8]
    pcm: F32
    duration: float
    streams: list[tuple[str, str]]


def read_film(path: Path, *, keep_frames: bool = False) -> Film:
    lumas: list[float] = []
    times: list[float] = []
    frames: list[U8] = []
    with av.open(str(path)) as container:
        streams = [(s.type, s.codec_context.name) for s in container.streams]
        duration = float(container.duration or 0) / 1_000_000
        for frame in container.decode(video=0):
            array = frame.to_ndarray()
            height = frame.height
            lumas.append(float(array[:height].mean()))
            times.append(float(frame.time or 0.0))
            if keep_frames:
                frames.append(array)
    pcm = np.zeros((2, 0), np.float32)
    with av.open(str(path)) as container:
        if container.streams.audio:
            chunks = [f.to_ndarray() for f in container.decode(audio=0)]
            if chunks:
                pcm = np.concatenate(chunks, axis=1).astype(np.float32)
    return Film(lumas, times, frames, pcm, duration, streams)


def video_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [bytes(p) for p in container.demux(stream) if p.size]


def subtitle_samples(path: Path) -> list[tuple[float, float, str]]:
    """The film's timed-text samples that carry text: (start, end, text)."""
    out: list[tuple[float, float, str]] = []
    with av.open(str(path)) as container:
        stream = container.streams.subtitles[0]
        for packet in container.demux(stream):
            data = bytes(packet)
            if len(data) < 2 or packet.pts is None:
                continue
            (length,) = struct.unpack(">H", data[:2])
            if length == 0:
                continue
            tb: Any = packet.time_base
            start = float(packet.pts * tb)
            out.append((start, start + float(packet.duration * tb), data[2 : 2 + length].decode()))
    return out


_SRT_TIME = re.compile(r"(\d\d):(\d\d):(\d\d)[,.](\d\d\d) --> (\d\d):(\d\d):(\d\d)[,.](\d\d\d)")


def parse_timed_text(text: str) -> list[tuple[float, float, str]]:
    """Cues of SubRip or WebVTT text (enough of either format for these tests)."""
    cues: list[tuple[float, float, str]] = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = block.splitlines()
        for k, line in enumerate(lines):
            m = _SRT_TIME.fullmatch(line.strip())
            if m:
                g = [int(x) for x in m.groups()]
                start = g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000
                end = g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000
                cues.append((start, end, "\n".join(lines[k + 1 :])))
                break
    return cues
