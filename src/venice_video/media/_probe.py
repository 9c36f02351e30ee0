"""`probe`: a media file's size, length, rate, frame count and codecs, nothing decoded."""

from __future__ import annotations

from typing import Any

from ._av import MediaSource, av_reason, import_av, open_input, rfc6381, source_name
from ._errors import MediaError
from ._info import MediaInfo

__all__ = ["probe"]


def probe(source: MediaSource, *, count_frames: bool = False, name: str | None = None) -> MediaInfo:
    """Describe a video or audio file from its container, without decoding.

    ```python
    info = probe("clip.mp4")
    info.width, info.height, info.duration_s, info.frames
    ```

    Args:
        source: a path, or the bytes of a file.
        count_frames: count the video frames by demuxing every packet (exact for any
            container, reads the whole file) instead of taking the container's own count
            (instant, 0 when the container keeps none, as WebM).
        name: how error messages name the source (default: the path, or "the media").

    Raises:
        ImportError: PyAV is not installed.
        MediaError: the source is not a readable media file.
    """
    av = import_av()
    label = source_name(source, name)
    container = open_input(source, name=label)
    try:
        return _describe(container, count_frames=count_frames)
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise MediaError(f"{label} could not be read: {av_reason(exc)}", source=label) from exc
    finally:
        container.close()


def _describe(container: Any, *, count_frames: bool) -> MediaInfo:
    vstreams, astreams = container.streams.video, container.streams.audio
    video = vstreams[0] if vstreams else None
    audio = astreams[0] if astreams else None
    frames = 0
    if video is not None:
        if count_frames:
            frames = sum(1 for packet in container.demux(video) if packet.size)
        else:
            frames = int(video.frames or 0)
    if container.duration is not None:
        duration = container.duration / 1_000_000
    else:
        duration = max(
            (
                float(s.duration * s.time_base)
                for s in (video, audio)
                if s is not None and s.duration and s.time_base is not None
            ),
            default=0.0,
        )
    rate = (video.average_rate or video.guessed_rate) if video is not None else None
    return MediaInfo(
        width=int(video.codec_context.width) if video is not None else 0,
        height=int(video.codec_context.height) if video is not None else 0,
        duration_s=float(duration),
        fps=float(rate) if rate else 0.0,
        frames=frames,
        has_audio=audio is not None,
        video_codec=_name(video),
        audio_codec=_name(audio),
        codecs=rfc6381(video, audio),
    )


def _name(stream: Any | None) -> str | None:
    if stream is None:
        return None
    name = stream.codec_context.name
    return str(name) if name else None
