"""PyAV, imported on first use, and the small helpers every PyAV-based operation shares.

The SDK's core install has no PyAV; importing `venice_video.media` must stay cheap and work
without it, so nothing here imports `av` at module level.
"""

from __future__ import annotations

import importlib
import io
import os
from pathlib import Path
from typing import Any, TypeAlias

from ._errors import AV_HINT, MediaError
from ._info import codecs_parameter

__all__ = [
    "MediaSource",
    "av_reason",
    "import_av",
    "open_input",
    "optional_av",
    "rfc6381",
    "source_name",
]

#: A media file: a path, or the file's bytes.
MediaSource: TypeAlias = "str | os.PathLike[str] | bytes"


def import_av() -> Any:
    """The `av` module, or an `ImportError` that says which extra to install."""
    try:
        return importlib.import_module("av")
    except ImportError as exc:
        raise ImportError(AV_HINT) from exc


def optional_av() -> Any | None:
    """The `av` module, or `None` in the SDK's core install."""
    try:
        return importlib.import_module("av")
    except ImportError:
        return None


def source_name(source: MediaSource, name: str | None = None) -> str:
    """How errors name a source: `name` if given, else the path, else "the media"."""
    if name is not None:
        return name
    if isinstance(source, bytes):
        return "the media"
    return str(Path(source))


def av_reason(exc: BaseException) -> str:
    """FFmpeg's own words for an error, short."""
    text = str(getattr(exc, "strerror", None) or str(exc) or type(exc).__name__)
    return text if len(text) <= 200 else text[:197] + "..."


def open_input(source: MediaSource, *, name: str | None = None) -> Any:
    """Open `source` for reading with PyAV.

    Raises:
        ImportError: PyAV is not installed.
        MediaError: the source is empty or is not a media file PyAV can read.
    """
    av = import_av()
    label = source_name(source, name)
    if isinstance(source, bytes):
        if not source:
            raise MediaError(f"{label} is empty", source=label)
        target: Any = io.BytesIO(source)
    else:
        target = os.fspath(source)
    try:
        return av.open(target, "r")
    except (av.FFmpegError, ValueError, OSError) as exc:
        # Bytes in memory always open; if they fail, it is their content.
        verb = "decoded" if isinstance(source, bytes) else "opened"
        raise MediaError(
            f"{label} could not be {verb} as media: {av_reason(exc)}", source=label
        ) from exc


def rfc6381(video: Any | None, audio: Any | None) -> str | None:
    """The RFC 6381 `codecs` value of a PyAV video and audio stream (see `codecs_parameter`)."""
    return codecs_parameter(
        video.codec_context.name if video is not None else None,
        audio.codec_context.name if audio is not None else None,
        bytes(video.codec_context.extradata or b"") if video is not None else b"",
    )
