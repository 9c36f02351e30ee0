from __future__ import annotations

import io
import math
import struct
import subprocess
import sys
import wave
from array import array
from pathlib import Path
from typing import Any

import pytest

from venice_video.media import (
    AudioInfo,
    extract_audio,
    probe_audio,
    sniff_audio_format,
    sniff_mime,
)

RATE = 16000


def _tone(seconds: float, rate: int = RATE) -> bytes:
    """A 440 Hz sine as 16-bit little-endian mono PCM."""
    count = int(seconds * rate)
    samples = array("h", (int(8000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(count)))
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()


def _wav(seconds: float, rate: int = RATE, channels: int = 1) -> bytes:
    pcm = _tone(seconds, rate)
    if channels == 2:
        pcm = b"".join(pcm[i : i + 2] * 2 for i in range(0, len(pcm), 2))
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(pcm)
    return out.getvalue()


def _encode(
    container_format: str,
    audio_codec: str | None,
    *,
    seconds: float = 0.5,
    audio_rate: int = RATE,
    video_codec: str | None = None,
) -> bytes:
    """Encode a tone (and optionally black frames) into a container, all in memory."""
    av = pytest.importorskip("av")
    out = io.BytesIO()
    with av.open(out, "w", format=container_format) as container:
        audio = (
            container.add_stream(audio_codec, rate=audio_rate, layout="mono")
            if audio_codec
            else None
        )
        video = None
        if video_codec:
            video = container.add_stream(video_codec, rate=10)
            video.width, video.height, video.pix_fmt = 32, 32, "yuv420p"
        if audio is not None:
            pcm = _tone(seconds)
            step = 1024
            for offset in range(0, len(pcm), step * 2):
                chunk = pcm[offset : offset + step * 2]
                frame = av.AudioFrame(format="s16", layout="mono", samples=len(chunk) // 2)
                frame.planes[0].update(chunk)
                frame.sample_rate = RATE
                for packet in audio.encode(frame):
                    container.mux(packet)
            for packet in audio.encode(None):
                container.mux(packet)
        if video is not None:
            for index in range(max(1, int(seconds * 10))):
                picture = av.VideoFrame(32, 32, "yuv420p")
                for plane, fill in zip(picture.planes, (16, 128, 128), strict=True):
                    plane.update(bytes([fill]) * plane.buffer_size)
                picture.pts = index
                for packet in video.encode(picture):
                    container.mux(packet)
            for packet in video.encode(None):
                container.mux(packet)
    return out.getvalue()


def _hide_av(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules makes `import av` raise ImportError, as on a core install.
    monkeypatch.setitem(sys.modules, "av", None)


# Hand-made headers: enough bytes for the magic checks, independent of any encoder.
HEADERS: dict[str, bytes] = {
    "wav": b"RIFF\x24\x00\x00\x00WAVEfmt ",
    "mp3-id3": b"ID3\x04\x00\x00\x00\x00\x00\x00",
    "mp3-frame": b"\xff\xfb\x90\x64\x00\x00\x00\x00",
    "aac": b"\xff\xf1\x50\x80\x02\x1f\xfc",
    "flac": b"fLaC\x00\x00\x00\x22",
    "ogg": b"OggS\x00\x02\x00\x00",
    "m4a": b"\x00\x00\x00\x20ftypM4A \x00\x00\x02\x00",
    "mp4": b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00",
    "mov": b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00",
    "webm": b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01webm",
    "png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    "gif": b"GIF89a\x01\x00\x01\x00",
    "webp": b"RIFF\x24\x00\x00\x00WEBPVP8 ",
    "bmp": b"BM\x3a\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00",
    "tiff": b"II*\x00\x08\x00\x00\x00",
    "text": b"hello, world",
    "empty": b"",
}


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ("wav", "wav"),
        ("mp3-id3", "mp3"),
        ("mp3-frame", "mp3"),
        ("aac", "aac"),
        ("flac", "flac"),
        ("ogg", "ogg"),
        ("m4a", "m4a"),
        ("mp4", "m4a"),
        ("webm", "webm"),
        ("png", "unknown"),
        ("jpeg", "unknown"),
        ("webp", "unknown"),
        ("text", "unknown"),
        ("empty", "unknown"),
    ],
)
def test_sniff_audio_format_reads_magic_bytes(sample: str, expected: str) -> None:
    assert sniff_audio_format(HEADERS[sample]) == expected


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ("png", "image/png"),
        ("jpeg", "image/jpeg"),
        ("gif", "image/gif"),
        ("webp", "image/webp"),
        ("bmp", "image/bmp"),
        ("tiff", "image/tiff"),
        ("mp4", "video/mp4"),
        ("mov", "video/quicktime"),
        ("webm", "video/webm"),
        ("wav", "audio/wav"),
        ("mp3-id3", "audio/mpeg"),
        ("mp3-frame", "audio/mpeg"),
        ("aac", "audio/aac"),
        ("flac", "audio/flac"),
        ("ogg", "audio/ogg"),
        ("m4a", "audio/mp4"),
        ("text", None),
        ("empty", None),
    ],
)
def test_sniff_mime_reads_magic_bytes(sample: str, expected: str | None) -> None:
    assert sniff_mime(HEADERS[sample]) == expected


@pytest.mark.parametrize(
    ("args", "audio_format", "mime"),
    [
        (("mp3", "libmp3lame"), "mp3", "audio/mpeg"),
        (("adts", "aac"), "aac", "audio/aac"),
        (("flac", "flac"), "flac", "audio/flac"),
        (("ogg", "libopus", 48000), "ogg", "audio/ogg"),
        (("ipod", "aac"), "m4a", "audio/mp4"),
        (("mp4", "aac", RATE, "mpeg4"), "m4a", "video/mp4"),
        (("mov", "aac", RATE, "mpeg4"), "m4a", "video/quicktime"),
        (("webm", "libopus", 48000, "libvpx"), "webm", "video/webm"),
    ],
)
def test_sniffers_recognise_files_made_by_real_encoders(
    args: tuple[Any, ...], audio_format: str, mime: str
) -> None:
    container_format, codec, *rest = args
    rate = rest[0] if rest else RATE
    video_codec = rest[1] if len(rest) > 1 else None
    data = _encode(container_format, codec, audio_rate=rate, video_codec=video_codec)
    assert sniff_audio_format(data) == audio_format
    assert sniff_mime(data) == mime


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [
        ("PNG", "image/png"),
        ("JPEG", "image/jpeg"),
        ("GIF", "image/gif"),
        ("WEBP", "image/webp"),
        ("BMP", "image/bmp"),
        ("TIFF", "image/tiff"),
    ],
)
def test_sniff_mime_recognises_images_made_by_pillow(fmt: str, mime: str) -> None:
    image_module = pytest.importorskip("PIL.Image")
    out = io.BytesIO()
    image_module.new("RGB", (4, 4), (200, 10, 10)).save(out, format=fmt)
    assert sniff_mime(out.getvalue()) == mime


def test_probe_audio_reads_wav_duration_with_the_standard_library(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _hide_av(monkeypatch)
    data = _wav(0.5, rate=22050, channels=2)
    assert probe_audio(data) == AudioInfo(
        format="wav", duration_s=0.5, size_bytes=len(data), sample_rate=22050, channels=2
    )


def test_probe_audio_reads_flac_streaminfo_without_pyav(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _encode("flac", "flac", seconds=0.5)
    _hide_av(monkeypatch)
    info = probe_audio(data)
    assert (info.format, info.sample_rate, info.channels) == ("flac", RATE, 1)
    assert info.duration_s == pytest.approx(0.5)


def test_probe_audio_gives_no_duration_for_mp3_without_pyav(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = _encode("mp3", "libmp3lame", seconds=0.5)
    _hide_av(monkeypatch)
    assert probe_audio(data) == AudioInfo("mp3", None, len(data), None, None)


def test_probe_audio_reads_mp3_duration_with_pyav() -> None:
    info = probe_audio(_encode("mp3", "libmp3lame", seconds=1.0))
    assert info.format == "mp3"
    assert info.duration_s == pytest.approx(1.0, abs=0.1)
    assert (info.sample_rate, info.channels) == (RATE, 1)


def test_probe_audio_tolerates_garbage() -> None:
    pytest.importorskip("av")
    data = b"ID3" + b"\x00" * 7 + b"not really an mp3" * 4
    info = probe_audio(data)
    assert (info.format, info.duration_s, info.size_bytes) == ("mp3", None, len(data))


def _read_wav(data: bytes) -> tuple[int, int, int, float]:
    with wave.open(io.BytesIO(data), "rb") as reader:
        rate, channels, width = reader.getframerate(), reader.getnchannels(), reader.getsampwidth()
        return rate, channels, width, reader.getnframes() / rate


def test_extract_audio_returns_16k_mono_pcm_wav_from_an_mp4(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(_encode("mp4", "aac", seconds=1.0, video_codec="mpeg4"))
    wav_bytes = extract_audio(clip)
    rate, channels, width, duration = _read_wav(wav_bytes)
    assert (rate, channels, width) == (RATE, 1, 2)
    # AAC adds encoder priming, so the decoded length runs a little long.
    assert duration == pytest.approx(1.0, abs=0.1)
    with wave.open(io.BytesIO(wav_bytes), "rb") as reader:
        samples = struct.unpack(f"<{reader.getnframes()}h", reader.readframes(reader.getnframes()))
    assert max(abs(s) for s in samples) > 2000, "the tone survived decoding"


def test_extract_audio_accepts_bytes_and_resamples() -> None:
    data = _encode("webm", "libopus", seconds=0.5, audio_rate=48000, video_codec="libvpx")
    rate, channels, _, duration = _read_wav(extract_audio(data, sample_rate=8000))
    assert (rate, channels) == (8000, 1)
    assert duration == pytest.approx(0.5, abs=0.05)


def test_extract_audio_keeps_stereo_when_not_mixing_down() -> None:
    pytest.importorskip("av")
    rate, channels, _, duration = _read_wav(extract_audio(_wav(0.5, channels=2), mono=False))
    assert (rate, channels) == (RATE, 2)
    assert duration == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize("fmt", ["flac", "mp3"])
def test_extract_audio_can_encode_flac_and_mp3(fmt: str) -> None:
    data = _encode("mp4", "aac", seconds=0.5, video_codec="mpeg4")
    out = extract_audio(data, format=fmt)
    assert sniff_audio_format(out) == fmt
    info = probe_audio(out)
    assert info.sample_rate == RATE
    assert info.duration_s == pytest.approx(0.5, abs=0.1)


def test_extract_audio_rejects_a_video_without_audio(tmp_path: Path) -> None:
    clip = tmp_path / "silent.mp4"
    clip.write_bytes(_encode("mp4", None, seconds=0.5, video_codec="mpeg4"))
    with pytest.raises(ValueError, match=r"silent\.mp4 has no audio track"):
        extract_audio(clip)


def test_extract_audio_rejects_undecodable_bytes() -> None:
    pytest.importorskip("av")
    with pytest.raises(ValueError, match="could not be decoded as media"):
        extract_audio(b"this is not media at all" * 8)


def test_extract_audio_rejects_an_unknown_output_format() -> None:
    with pytest.raises(ValueError, match="unsupported output format 'aiff'"):
        extract_audio(b"", format="aiff")


def test_extract_audio_explains_how_to_install_pyav(monkeypatch: pytest.MonkeyPatch) -> None:
    _hide_av(monkeypatch)
    with pytest.raises(ImportError, match=r"pip install 'venice-video\[media\]'"):
        extract_audio(_wav(0.1))


def test_importing_the_media_package_loads_no_heavy_library() -> None:
    code = (
        "import sys; import venice_video.media; "
        "print(sorted({'av', 'PIL', 'numpy'} & {m.split('.')[0] for m in sys.modules}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_importing_venice_video_does_not_import_the_media_package() -> None:
    code = "import sys, venice_video; print('venice_video.media' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"
