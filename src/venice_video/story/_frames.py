"""Small media facts a story needs: a clip's last frame, its length and size, and whether
a picture decodes. PyAV and Pillow (the `media` extra) do the work."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

__all__ = [
    "ClipInfo",
    "audio_seconds",
    "clip_info",
    "file_sha256",
    "image_size",
    "last_frame_png",
]


@dataclass(frozen=True)
class ClipInfo:
    """What a rendered shot holds."""

    duration_s: float
    width: int
    height: int
    fps: Fraction
    has_audio: bool


def file_sha256(path: Path) -> str:
    """The hex SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def clip_info(path: Path) -> ClipInfo:
    """The length (of the video stream), size, frame rate and audio of a clip."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = Fraction(stream.average_rate or stream.guessed_rate or 24)
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif stream.frames:
            duration = stream.frames / float(rate)
        else:
            duration = float(container.duration or 0) / 1_000_000
        return ClipInfo(
            duration_s=duration,
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            fps=rate,
            has_audio=bool(container.streams.audio),
        )


def last_frame_png(path: Path) -> bytes:
    """The clip's last frame as PNG bytes (the same file gives the same bytes).

    `venice_video.media.last_frame` seeks to the last keyframe instead of decoding the whole
    clip.
    """
    from ..media import last_frame

    return last_frame(path).png()


def audio_seconds(path: Path) -> float:
    """Decode an audio file's first sound and return its length; `ValueError` when it has no
    sound PyAV can decode."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise ValueError("it has no sound")
            stream = container.streams.audio[0]
            if next(iter(container.decode(stream)), None) is None:
                raise ValueError("its sound does not decode")
            return float(container.duration or 0) / 1_000_000
    except av.FFmpegError as exc:
        raise ValueError(f"not an audio file PyAV can read ({exc})") from None


def image_size(data: bytes) -> tuple[int, int]:
    """Decode a picture fully and return its size; `ValueError` when it does not decode."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return image.size
    except UnidentifiedImageError:
        raise ValueError("not a picture Pillow can read") from None
    except (OSError, SyntaxError) as exc:
        raise ValueError(f"a damaged picture ({exc})") from None
