"""What kind of file some bytes are, from their first bytes alone (standard library only)."""

from __future__ import annotations

from typing import Final

__all__ = ["sniff_audio_format", "sniff_mime"]

# Brands of an ISO base media file that mark audio-only MPEG-4 (iTunes and friends).
_M4A_BRANDS: Final = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}


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
