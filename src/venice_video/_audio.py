"""Audio utilities for use before an upload: sniff a file's type, probe its length, pull out audio.

Importing this module needs only the standard library. :func:`extract_audio`, and
:func:`probe_audio` for formats other than WAV and FLAC, use PyAV, which comes with the
``[media]`` extra and is imported only when called.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["AudioInfo", "extract_audio", "probe_audio", "sniff_audio_format", "sniff_mime"]

_AV_HINT: Final = "PyAV is needed for this: pip install 'venice-video[media]'"
_OUTPUT_FORMATS: Final = {"wav", "flac", "mp3"}
# Brands of an ISO base media file that mark audio-only MPEG-4 (iTunes and friends).
_M4A_BRANDS: Final = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}


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


def sniff_audio_format(data: bytes) -> str:
    """Name the audio container of ``data`` from its first bytes, or ``"unknown"``.

    MP4-family files (m4a, mp4, mov) all report ``"m4a"``, and Matroska reports ``"webm"``:
    these are containers that may hold audio, and the name is the one Venice's transcription
    endpoint lists for them.
    """
    head = data[:64]
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[4:8] == b"ftyp":
        return "m4a"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if head[:3] == b"ID3" or _is_mpeg_audio_frame(head):
        return "mp3"
    if _is_adts_frame(head):
        return "aac"
    return "unknown"


def sniff_mime(data: bytes) -> str | None:
    """Guess the media type of ``data`` from its magic bytes, or ``None``.

    Recognises PNG, JPEG, GIF, WebP, BMP and TIFF images; MP4, QuickTime and WebM video; and
    WAV, MP3, AAC, FLAC, Ogg and MPEG-4 audio. An ``ftyp`` file is ``audio/mp4`` only when its
    brand says so; otherwise it is taken as video.
    """
    head = data[:64]
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if head[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:2] == b"BM" and head[6:10] == b"\x00\x00\x00\x00":
        return "image/bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return "video/quicktime"
        return "audio/mp4" if brand in _M4A_BRANDS else "video/mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "video/webm"
    audio = sniff_audio_format(data)
    return {
        "wav": "audio/wav",
        "mp3": "audio/mpeg",
        "aac": "audio/aac",
        "flac": "audio/flac",
        "ogg": "audio/ogg",
    }.get(audio)


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
    try:
        import av  # noqa: F401
    except ImportError:
        return AudioInfo(fmt, None, size, None, None)
    return _probe_with_av(data, fmt, size)


def extract_audio(
    source: Path | bytes,
    *,
    format: str = "wav",
    sample_rate: int = 16000,
    mono: bool = True,
) -> bytes:
    """Decode the first audio track of a video or audio file and return it as a new file.

    The default output is a 16-bit PCM WAV at 16 kHz mono, what speech-to-text wants.

        wav = extract_audio(Path("clip.mp4"))

    Args:
        source: a path to, or the bytes of, any container PyAV can read (mp4, mov, webm, mp3...).
        format: ``"wav"`` (16-bit PCM), ``"flac"`` or ``"mp3"``.
        sample_rate: output samples per second.
        mono: mix down to one channel; otherwise keep up to two.

    Raises:
        ImportError: PyAV is not installed.
        ValueError: the source has no audio track, cannot be decoded, or ``format`` is unknown.
    """
    if format not in _OUTPUT_FORMATS:
        raise ValueError(
            f"unsupported output format {format!r}; use one of {sorted(_OUTPUT_FORMATS)}"
        )
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    av = _import_av()
    name = str(source) if isinstance(source, Path) else "input"
    try:
        container = av.open(str(source) if isinstance(source, Path) else io.BytesIO(source))
    except (av.error.FFmpegError, OSError) as exc:
        raise ValueError(f"{name} could not be opened as media: {exc}") from exc
    with container:
        if not container.streams.audio:
            raise ValueError(f"{name} has no audio track")
        stream = container.streams.audio[0]
        source_channels = _channel_count(stream) or 1
        layout = "mono" if mono or source_channels < 2 else "stereo"
        if format == "wav":
            pcm = b"".join(_s16_chunks(av, container, stream, layout, sample_rate, name))
            return _wav_bytes(pcm, 1 if layout == "mono" else 2, sample_rate)
        return _encode(av, container, stream, layout, sample_rate, format, name)


def _is_mpeg_audio_frame(head: bytes) -> bool:
    # 11 sync bits, then a version other than "reserved" and a layer other than "reserved".
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version = (head[1] >> 3) & 0x03
    layer = (head[1] >> 1) & 0x03
    bitrate = head[2] >> 4
    rate = (head[2] >> 2) & 0x03
    return version != 0b01 and layer != 0b00 and bitrate != 0x0F and rate != 0x03


def _is_adts_frame(head: bytes) -> bool:
    # ADTS shares MPEG audio's sync word but always has layer bits 00.
    return len(head) >= 7 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0


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
    av = _import_av()
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
        raise ValueError(f"{name} could not be decoded: {exc}") from exc
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


def _import_av() -> Any:
    try:
        import av
    except ImportError as exc:
        raise ImportError(_AV_HINT) from exc
    return av
