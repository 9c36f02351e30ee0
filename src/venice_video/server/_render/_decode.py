"""Decoding inputs: images (upright, size-checked), media containers, and probing."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Final

import av
from PIL import Image, ImageOps, UnidentifiedImageError

from ... import media
from ._spec import RenderError

__all__ = ["MAX_IMAGE_PIXELS", "av_reason", "cover", "open_container", "open_image", "probe"]

MAX_IMAGE_PIXELS: Final = 80_000_000


def open_image(data: bytes, field: str, draft: tuple[int, int] | None = None) -> Image.Image:
    """Decode an image fully, upright (EXIF orientation applied), as RGB or RGBA."""
    if not data:
        raise RenderError(f"{field} is empty", field=field)
    try:
        # Opening reads only the header, so the size is checked before any pixel is decoded.
        img: Image.Image = Image.open(io.BytesIO(data))
        if img.width * img.height > MAX_IMAGE_PIXELS:
            raise RenderError(
                f"{field} is too large: {img.width}x{img.height} pixels "
                f"(at most {MAX_IMAGE_PIXELS:,})",
                field=field,
            )
        if draft is not None and img.format == "JPEG":
            img.draft("RGB", draft)  # decode a JPEG at a reduced scale when it is far larger
        img.load()
        img = ImageOps.exif_transpose(img) or img
    except RenderError:
        raise
    except UnidentifiedImageError as exc:
        raise RenderError(
            f"{field} could not be decoded as an image: not a recognised image format", field=field
        ) from exc
    except Exception as exc:  # Pillow raises many kinds for bad data
        reason = str(exc) or type(exc).__name__
        raise RenderError(
            f"{field} could not be decoded as an image: {reason}", field=field
        ) from exc
    has_alpha = img.mode in {"RGBA", "LA", "PA"} or "transparency" in img.info
    return img.convert("RGBA" if has_alpha else "RGB")


def cover(img: Image.Image, width: int, height: int) -> Image.Image:
    return ImageOps.fit(img, (width, height), method=Image.Resampling.BICUBIC)


def open_container(data: bytes, field: str) -> Any:
    if not data:
        raise RenderError(f"{field} is empty", field=field)
    try:
        return av.open(io.BytesIO(data), "r")
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise RenderError(
            f"{field} could not be decoded as media: {av_reason(exc)}", field=field
        ) from exc


def av_reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(text)


def probe(path_or_bytes: Path | bytes, *, field: str = "media") -> media.MediaInfo:
    """Read size, length, rate, frame count and codecs of a media file or its bytes.

    The frame count comes from demuxing every video packet (no decoding), so it is exact for
    any container, and for the files :func:`render` writes.

    Raises:
        RenderError: when the data is not a readable media container.
    """
    try:
        return media.probe(path_or_bytes, count_frames=True, name=field)
    except media.MediaError as exc:
        raise RenderError(str(exc), field=field) from exc
