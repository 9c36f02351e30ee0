"""`MediaInfo`: what probing or verifying learned about a media file."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MediaInfo", "codecs_parameter"]


@dataclass(frozen=True)
class MediaInfo:
    """What `probe` read from a media file, or what `verify` proved about a video.

    Video fields are zero (and `video_codec` is `None`) for a file without video; `verify`
    never returns such a file.

    Attributes:
        width: the video's width in pixels.
        height: the video's height in pixels.
        duration_s: the container's duration in seconds.
        fps: the average frame rate of the video stream.
        frames: video frames. From `verify`: the frames of the index, each found in place and
            well formed, or -1 when PyAV is not installed (structural check only). From
            `probe`: the count in the container's index (0 when it has none, as in WebM), or,
            with `count_frames=True`, the packets demuxed.
        has_audio: whether the file has an audio stream.
        video_codec: the video codec (`"h264"`, `"hevc"`, ...).
        audio_codec: the audio codec (`"aac"`, ...), or `None` without audio.
        codecs: the streams' codecs as RFC 6381 names, the way a `<source type>` or
            `MediaSource.isTypeSupported` wants them (`"avc1.64001f, mp4a.40.2"`), or `None`
            when one of them has no precise name here or PyAV is not installed.
    """

    width: int
    height: int
    duration_s: float
    fps: float
    frames: int
    has_audio: bool
    video_codec: str | None
    audio_codec: str | None
    codecs: str | None = None


def codecs_parameter(
    video_codec: str | None, audio_codec: str | None, avc_config: bytes = b""
) -> str | None:
    """The RFC 6381 `codecs` value for FFmpeg codec names, or `None` if one has no precise
    name here (a browser is then left to try the file).

    `avc_config` is the H.264 decoder configuration record (`avcC`), which names the profile
    and level.
    """
    names: list[str] = []
    if video_codec == "h264":
        # An avcC record starts with version 1, then profile, compatibility and level.
        if len(avc_config) < 4 or avc_config[0] != 1:
            return None
        names.append(f"avc1.{avc_config[1]:02x}{avc_config[2]:02x}{avc_config[3]:02x}")
    elif video_codec in ("vp8", "vp9"):
        names.append(video_codec)
    elif video_codec is not None:
        return None
    if audio_codec == "aac":
        names.append("mp4a.40.2")
    elif audio_codec in ("opus", "vorbis"):
        names.append(audio_codec)
    elif audio_codec is not None:
        return None
    return ", ".join(names) if names else None
