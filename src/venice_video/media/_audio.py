"""Audio: probe an audio file's length before an upload, pull the sound out of a video.

`probe_audio` reads WAV and FLAC with the standard library and other formats with PyAV when
it is installed; `extract_audio` needs PyAV (the `[media]` extra).
"""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from ._av import MediaSource, av_reason, import_av, open_input, optional_av, source_name
from ._errors import MediaError
from ._sniff import sniff_audio_format

__all__ = ["AudioInfo", "extract_audio", "probe_audio"]

_OUTPUT_FORMATS: Final = {"wav", "flac", "mp3"}


@dataclass(frozen=True)
class AudioInfo:
    """What :func:`probe_audio` could learn about an audio file.

    Attributes:
        format: ``"wav"``, ``"mp3"``, ``"aac"``, ``"flac"``, ``"ogg"``, ``"m4a"``, ``"webm"``
            or ``"unknown"``.
        duration_s: length in seconds, or ``None`` when it cannot be told without PyAV.
        size_bytes: the size of the data probed.
        sample_rate: samples per second of the first audio stream, if known.
        channels: channel count of the first audio stream, if known.
    """

    format: str
    duration_s: float | None
    size_bytes: int
    sample_rate: int | None
    channels: int | None


def probe_audio(data: bytes) -> AudioInfo:
    """Describe an audio file: its format, duration, sample rate and channel count.

    WAV (PCM) and FLAC are read with the standard library. Other formats are opened with PyAV
    when it is installed; without it their duration, rate and channels are ``None``. Data that
    cannot be parsed gives ``None`` fields rather than an error, since this is a pre-upload hint.
    """
    fmt = sniff_audio_format(data)
    size = len(data)
    if fmt == "wav":
        info = _probe_wav(data, size)
        if info is not None:
            return info
    elif fmt == "flac":
        info = _probe_flac(data, size)
        if info is not None:
            return info
    if optional_av() is None:
        return AudioInfo(fmt, None, size, None, None)
    return _probe_with_av(data, fmt, size)


def extract_audio(
    source: MediaSource,
    *,
    format: str = "wav",
    sample_rate: int = 16000,
    mono: bool = True,
) -> bytes:
    """Decode the first audio track of a video or audio file and return it as a new file.

    The default output is a 16-bit PCM WAV at 16 kHz mono, what speech-to-text wants.

        wav = extract_audio("clip.mp4")

    Args:
        source: a path to, or the bytes of, any container PyAV can read (mp4, mov, webm, mp3...).
        format: ``"wav"`` (16-bit PCM), ``"flac"`` or ``"mp3"``.
        sample_rate: output samples per second.
        mono: mix down to one channel; otherwise keep up to two.

    Raises:
        ImportError: PyAV is not installed.
        MediaError: the source has no audio track or cannot be decoded.
        ValueError: ``format`` or ``sample_rate`` is not one this can write.
    """
    if format not in _OUTPUT_FORMATS:
        raise ValueError(
            f"unsupported output format {format!r}; use one of {sorted(_OUTPUT_FORMATS)}"
        )
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    av = import_av()
    name = source_name(source)
    with open_input(source, name=name) as container:
        if not container.streams.audio:
            raise MediaError(f"{name} has no audio track", source=name)
        stream = container.streams.audio[0]
        source_channels = _channel_count(stream) or 1
        layout = "mono" if mono or source_channels < 2 else "stereo"
        if format == "wav":
            pcm = b"".join(_s16_chunks(av, container, stream, layout, sample_rate, name))
            return _wav_bytes(pcm, 1 if layout == "mono" else 2, sample_rate)
        return _encode(av, container, stream, layout, sample_rate, format, name)


def _probe_wav(data: bytes, size: int) -> AudioInfo | None:
    try:
        with wave.open(io.BytesIO(data), "rb") as reader:
            rate = reader.getframerate()
            frames = reader.getnframes()
            channels = reader.getnchannels()
    except (wave.Error, EOFError):
        # Float and extensible WAVs are legal but beyond the stdlib reader.
        return None
    duration = frames / rate if rate else None
    return AudioInfo("wav", duration, size, rate or None, channels or None)


def _probe_flac(data: bytes, size: int) -> AudioInfo | None:
    # STREAMINFO is always the first metadata block: 4-byte block header after the "fLaC" tag.
    block = data[8:42]
    if len(block) < 18 or data[4] & 0x7F != 0:
        return None
    packed = int.from_bytes(block[10:18], "big")
    rate = packed >> 44
    channels = ((packed >> 41) & 0x07) + 1
    total_samples = packed & 0xF_FFFF_FFFF
    if rate == 0:
        return None
    duration = total_samples / rate if total_samples else None
    return AudioInfo("flac", duration, size, rate, channels)


def _probe_with_av(data: bytes, fmt: str, size: int) -> AudioInfo:
    av = import_av()
    try:
        with av.open(io.BytesIO(data)) as container:
            streams = container.streams.audio
            if not streams:
                return AudioInfo(fmt, None, size, None, None)
            stream = streams[0]
            duration: float | None = None
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / 1_000_000
            rate = stream.codec_context.sample_rate or None
            return AudioInfo(fmt, duration, size, rate, _channel_count(stream))
    except (av.error.FFmpegError, OSError):
        return AudioInfo(fmt, None, size, None, None)


def _channel_count(stream: Any) -> int | None:
    layout = getattr(stream.codec_context, "layout", None)
    count = getattr(layout, "nb_channels", None) or getattr(stream.codec_context, "channels", None)
    return int(count) if count else None


def _resampled(
    av: Any, container: Any, stream: Any, layout: str, fmt: str, rate: int, name: str
) -> Iterator[Any]:
    resampler = av.AudioResampler(format=fmt, layout=layout, rate=rate)
    try:
        for frame in container.decode(stream):
            yield from resampler.resample(frame)
    except av.error.FFmpegError as exc:
        raise MediaError(f"{name} could not be decoded: {av_reason(exc)}", source=name) from exc
    yield from resampler.resample(None)


def _s16_chunks(
    av: Any, container: Any, stream: Any, layout: str, rate: int, name: str
) -> Iterator[bytes]:
    channels = 1 if layout == "mono" else 2
    for frame in _resampled(av, container, stream, layout, "s16", rate, name):
        # Packed s16 keeps every channel in plane 0; the plane may be padded past the samples.
        yield bytes(frame.planes[0])[: frame.samples * channels * 2]


def _wav_bytes(pcm: bytes, channels: int, rate: int) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(pcm)
    return out.getvalue()


def _encode(
    av: Any, container: Any, stream: Any, layout: str, rate: int, fmt: str, name: str
) -> bytes:
    out = io.BytesIO()
    codec = {"flac": "flac", "mp3": "libmp3lame"}[fmt]
    with av.open(out, "w", format=fmt) as output:
        encoder = output.add_stream(codec, rate=rate, layout=layout)
        sample_format = encoder.codec_context.codec.audio_formats[0].name
        for frame in _resampled(av, container, stream, layout, sample_format, rate, name):
            frame.pts = None
            for packet in encoder.encode(frame):
                output.mux(packet)
        for packet in encoder.encode(None):
            output.mux(packet)
    return out.getvalue()
