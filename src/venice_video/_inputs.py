"""Turn what a caller hands over (a URL, a path, bytes, a PIL image) into what the API takes.

The API takes media as an http(s) URL or a `data:` URL. Local media is read, checked
(type, size, length) and inlined, and images are shrunk to a byte budget, so a request is
refused here, for free, rather than by the API after an upload.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from ._config import AUDIO_MAX_BYTES, AUDIO_MAX_SECONDS, IMAGE_BUDGET_BYTES, MAX_BODY_BYTES
from ._exceptions import InputError, RequestTooLargeError

if TYPE_CHECKING:
    from PIL import Image

    from ._catalog import Catalog

__all__ = [
    "MEDIA_FIELDS",
    "MediaField",
    "MediaInput",
    "body_size",
    "check_body_size",
    "drop_ignored_fields",
    "is_url",
    "load_for_transcription",
    "resolve_audio",
    "resolve_fields",
    "resolve_image",
    "resolve_media",
    "resolve_video",
    "to_data_url",
]

#: A piece of media: an http(s) or `data:` URL, a local path, raw bytes, or a PIL image.
MediaInput: TypeAlias = "str | os.PathLike[str] | bytes | Image.Image"
Kind = Literal["image", "video", "audio"]

_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp"})
_VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime", "video/webm"})
_AUDIO_FORMATS = {"wav": "audio/wav", "mp3": "audio/mpeg"}
_TRANSCRIBE_AUDIO = frozenset({"wav", "mp3", "flac", "ogg", "aac"})


def is_url(value: str) -> bool:
    """Whether `value` is something the API takes as it is (http(s) or `data:` URL)."""
    return value.startswith(("http://", "https://", "data:"))


def to_data_url(data: bytes, mime: str) -> str:
    """A base64 `data:` URL."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def resolve_media(value: MediaInput, kind: Kind, *, field: str) -> str:
    """Resolve one input of the given kind; see `resolve_image` and friends."""
    if kind == "image":
        return resolve_image(value, field=field)
    if kind == "video":
        return resolve_video(value, field=field)
    return resolve_audio(value, field=field)


def resolve_image(value: MediaInput, *, field: str, budget_bytes: int = IMAGE_BUDGET_BYTES) -> str:
    """An image as a URL; local images over `budget_bytes` are shrunk with Pillow."""
    if isinstance(value, str) and is_url(value):
        return value
    if _is_pil_image(value):
        return to_data_url(*_encode_pil(value, budget_bytes))
    data = _read(value, field)
    mime = _sniff(data)
    if mime is None or not mime.startswith("image/"):
        raise InputError(
            f"{field}: {_name(value)} is not an image ({mime or 'unknown type'}); images can "
            "be PNG, JPEG, WebP, GIF, BMP or TIFF."
        )
    if mime not in _IMAGE_TYPES or len(data) > budget_bytes:
        data, mime = _shrink(data, budget_bytes, field=field, name=_name(value))
    return to_data_url(data, mime)


def resolve_video(value: MediaInput, *, field: str) -> str:
    """A video (MP4, MOV or WebM) as a URL."""
    if isinstance(value, str) and is_url(value):
        return value
    data = _read(value, field)
    mime = _sniff(data)
    if mime not in _VIDEO_TYPES:
        raise InputError(
            f"{field}: {_name(value)} is not an MP4, MOV or WebM video ({mime or 'unknown type'})."
        )
    return to_data_url(data, mime or "video/mp4")


def resolve_audio(value: MediaInput, *, field: str) -> str:
    """An audio clip (WAV or MP3, at most 30 s and 15 MB) as a URL."""
    if isinstance(value, str) and is_url(value):
        return value
    from .media import probe_audio

    data = _read(value, field)
    name = _name(value)
    if len(data) > AUDIO_MAX_BYTES:
        raise InputError(
            f"{field}: {name} is {len(data) / 1e6:.1f} MB; the API takes audio up to "
            f"{AUDIO_MAX_BYTES / 1e6:.0f} MB."
        )
    info = probe_audio(data)
    if info.format not in _AUDIO_FORMATS:
        raise InputError(
            f"{field}: {name} is {info.format}; the API takes WAV or MP3 audio. Convert it "
            "first, for example with venice_video.media.extract_audio(path, format='wav')."
        )
    if info.duration_s is not None and info.duration_s > AUDIO_MAX_SECONDS + 0.05:
        raise InputError(
            f"{field}: {name} lasts {info.duration_s:.1f} s; the API takes audio up to "
            f"{AUDIO_MAX_SECONDS:.0f} s."
        )
    return to_data_url(data, _AUDIO_FORMATS[info.format])


def load_for_transcription(value: str | os.PathLike[str] | bytes) -> tuple[bytes, str, str]:
    """The `(data, filename, mime)` to upload for a transcription.

    Audio files go as they are; a video has its audio track extracted (PyAV) to a 16 kHz
    mono WAV, which is smaller and what speech-to-text wants.
    """
    from .media import extract_audio, sniff_audio_format

    data = _read(value, "file")
    name = Path(os.fspath(value)).name if not isinstance(value, bytes) else "audio"
    fmt = sniff_audio_format(data)
    mime = _sniff(data)
    if fmt in _TRANSCRIBE_AUDIO:
        return data, name, mime or f"audio/{fmt}"
    if mime == "audio/mp4":
        return data, name, mime
    if mime is not None and mime.startswith("video/") or fmt in ("m4a", "webm"):
        try:
            wav = extract_audio(data, format="wav")
        except ImportError as exc:
            raise InputError(
                f"file: {name} is a video; extracting its audio needs PyAV "
                "(pip install 'venice-video[media]')."
            ) from exc
        except ValueError as exc:
            raise InputError(f"file: {exc}") from exc
        return wav, f"{Path(name).stem or 'audio'}.wav", "audio/wav"
    raise InputError(f"file: {name} is neither audio nor video ({mime or 'unknown type'}).")


@dataclass(frozen=True)
class MediaField:
    """A media argument of `generate()` and the queue field it becomes."""

    name: str
    """The argument (and CLI, MCP and form) name: `image`, `reference_images`, ..."""
    wire: str
    """The queue body's field: `image_url`, `reference_image_urls`, ..."""
    kind: Kind
    many: bool = False
    """A list of inputs rather than one."""


#: Every media argument, once: the SDK, the CLI, the MCP tools and the gallery use this table.
MEDIA_FIELDS: tuple[MediaField, ...] = (
    MediaField("image", "image_url", "image"),
    MediaField("end_image", "end_image_url", "image"),
    MediaField("audio_input", "audio_url", "audio"),
    MediaField("video", "video_url", "video"),
    MediaField("reference_images", "reference_image_urls", "image", many=True),
    MediaField("scene_images", "scene_image_urls", "image", many=True),
    MediaField("reference_videos", "reference_video_urls", "video", many=True),
    MediaField("reference_audios", "reference_audio_urls", "audio", many=True),
)
_MEDIA_BY_NAME = {f.name: f for f in MEDIA_FIELDS}


def resolve_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The queue body from `generate()`'s arguments: local media read, checked and inlined.

    Media arguments (`MEDIA_FIELDS`) become their wire fields; `elements` and `keyframes`
    have their own media resolved; everything else is passed as it is.
    """
    from pydantic import BaseModel

    body: dict[str, Any] = {}
    for name, value in fields.items():
        if value is None:
            continue
        media = _MEDIA_BY_NAME.get(name)
        if media is not None and media.many:
            if isinstance(value, str | bytes | os.PathLike):
                raise InputError(f"{name}: expected a list of inputs, got one")
            body[media.wire] = [
                resolve_media(v, media.kind, field=f"{media.wire}.{i}") for i, v in enumerate(value)
            ]
        elif media is not None:
            body[media.wire] = resolve_media(value, media.kind, field=media.wire)
        elif name == "reference_documents":
            body["reference_document_urls"] = list(value)
        elif name == "elements":
            body["elements"] = [_resolve_element(e, i) for i, e in enumerate(value)]
        elif name == "keyframes":
            body["keyframes"] = [_resolve_keyframe(k, i) for i, k in enumerate(value)]
        elif isinstance(value, BaseModel):
            body[name] = value.model_dump(mode="json", exclude_none=True)
        else:
            body[name] = value
    return body


def _as_dict(value: Any) -> dict[str, Any]:
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        return value.model_dump(exclude_none=True)
    return {k: v for k, v in dict(value).items() if v is not None}


def _resolve_element(element: Any, index: int) -> dict[str, Any]:
    data = _as_dict(element)
    where = f"elements.{index}"
    if "frontal_image_url" in data:
        data["frontal_image_url"] = resolve_media(
            data["frontal_image_url"], "image", field=f"{where}.frontal_image_url"
        )
    if "reference_image_urls" in data:
        data["reference_image_urls"] = [
            resolve_media(v, "image", field=f"{where}.reference_image_urls.{i}")
            for i, v in enumerate(data["reference_image_urls"])
        ]
    if "video_url" in data:
        data["video_url"] = resolve_media(data["video_url"], "video", field=f"{where}.video_url")
    return data


def _resolve_keyframe(keyframe: Any, index: int) -> dict[str, Any]:
    data = _as_dict(keyframe)
    if "image_url" in data:
        data["image_url"] = resolve_media(
            data["image_url"], "image", field=f"keyframes.{index}.image_url"
        )
    return data


def drop_ignored_fields(body: Mapping[str, Any], catalog: Catalog) -> dict[str, Any]:
    """`body` without the fields its model would ignore, each dropped with a logged note.

    An `aspect_ratio` sent to a model that lists no aspect ratios (image-to-video models
    whose output follows the input image) is ignored by the API, or refused by some models:
    it is left out.
    """
    result = dict(body)
    model = catalog.get(str(result.get("model"))) if result.get("model") else None
    if model is not None and not model.aspect_ratios and "aspect_ratio" in result:
        ratio = result.pop("aspect_ratio")
        logging.getLogger("venice_video").info(
            "aspect_ratio %r left out: %s takes none (its output follows the input)",
            ratio,
            model.id,
        )
    return result


def body_size(body: Mapping[str, Any]) -> int:
    """The size in bytes of `body` encoded as the client sends it."""
    return len(json.dumps(body, separators=(",", ":")).encode("utf-8"))


def check_body_size(body: Mapping[str, Any], *, limit: int = MAX_BODY_BYTES) -> int:
    """The encoded size of `body`; `RequestTooLargeError` if the API would answer 413."""
    size = body_size(body)
    if size > limit:
        raise RequestTooLargeError(size, limit, largest=_largest_field(body))
    return size


def _largest_field(body: Mapping[str, Any]) -> str | None:
    sizes = {k: len(json.dumps(v)) for k, v in body.items()}
    return max(sizes, key=lambda k: sizes[k]) if sizes else None


def _read(value: MediaInput, field: str) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if _is_pil_image(value):
        raise InputError(f"{field}: a PIL image is only accepted for image inputs.")
    if not isinstance(value, str | os.PathLike):
        raise InputError(
            f"{field}: expected a URL, a path, bytes or a PIL image, got {type(value).__name__}."
        )
    path = Path(os.fspath(value)).expanduser()
    if not path.exists():
        raise InputError(f"{field}: {path} does not exist (and is not an http(s) or data: URL).")
    if not path.is_file():
        raise InputError(f"{field}: {path} is not a file.")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{field}: {path} cannot be read: {exc.strerror}") from exc


def _name(value: object) -> str:
    if isinstance(value, str | os.PathLike):
        return str(Path(os.fspath(value)).name)
    return "the input"


def _sniff(data: bytes) -> str | None:
    from .media import sniff_mime

    return sniff_mime(data)


def _is_pil_image(value: object) -> bool:
    return type(value).__module__.startswith("PIL.") and hasattr(value, "save")


def _import_pil() -> Any:
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - Pillow comes with [media]
        raise InputError(
            "Pillow is needed to shrink or encode images: pip install 'venice-video[media]'."
        ) from exc
    return Image


def _encode_pil(image: Any, budget_bytes: int) -> tuple[bytes, str]:
    has_alpha = image.mode in ("RGBA", "LA") or "transparency" in image.info
    buf = io.BytesIO()
    if has_alpha:
        image.save(buf, format="PNG", optimize=True)
        mime = "image/png"
    else:
        image.convert("RGB").save(buf, format="JPEG", quality=92)
        mime = "image/jpeg"
    data = buf.getvalue()
    if len(data) <= budget_bytes:
        return data, mime
    return _shrink(data, budget_bytes, field="image", name="the image")


def _shrink(data: bytes, budget_bytes: int, *, field: str, name: str) -> tuple[bytes, str]:
    """Re-encode as JPEG (PNG when transparent), scaling down until it fits the budget."""
    pil = _import_pil()
    try:
        image = pil.open(io.BytesIO(data))
        image.load()
    except Exception as exc:
        raise InputError(f"{field}: {name} cannot be decoded as an image: {exc}") from exc
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    scale = 1.0
    for _ in range(12):
        size = (max(1, int(image.width * scale)), max(1, int(image.height * scale)))
        frame = image.resize(size, pil.Resampling.LANCZOS) if scale < 1.0 else image
        buf = io.BytesIO()
        if has_alpha:
            frame.convert("RGBA").save(buf, format="PNG", optimize=True)
            mime = "image/png"
        else:
            frame.convert("RGB").save(buf, format="JPEG", quality=90)
            mime = "image/jpeg"
        out = buf.getvalue()
        if len(out) <= budget_bytes:
            return out, mime
        # Bytes scale roughly with area, so shrink each side by the square root, and a bit.
        scale *= max(0.3, min(0.9, (budget_bytes / len(out)) ** 0.5 * 0.95))
    raise InputError(f"{field}: {name} cannot be shrunk under {budget_bytes / 1e6:.1f} MB.")
