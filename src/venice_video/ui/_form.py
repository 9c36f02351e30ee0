"""The new-generation form: its fields to a queue body, and the model facts it offers as choices.

The page sends form fields by their SDK names (`image`, `audio_input`, ...), with media as
upload ids. Media are resolved (read, checked, inlined) once per upload and remembered, so
validating as the user types never rereads a large file.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

from .._catalog import UPSCALE_LABELS, Catalog, VideoModel
from .._choose import CHEAPEST, quote_shape
from .._exceptions import InputError
from .._inputs import MEDIA_FIELDS, Kind, MediaField, resolve_media
from .._validation import Issue
from ._uploads import UploadError, UploadStore

__all__ = [
    "CHEAPEST",
    "FIELD_OF_WIRE",
    "FormError",
    "MediaResolver",
    "catalog_view",
    "cheapest_fields",
    "cheapest_view",
    "choice_error",
    "form_body",
    "issue_view",
    "model_view",
    "no_model_message",
]

# The media fields the form offers, from the SDK's one table.
_FORM_MEDIA = ("image", "end_image", "audio_input", "video", "reference_images")
_MEDIA: tuple[MediaField, ...] = tuple(f for f in MEDIA_FIELDS if f.name in _FORM_MEDIA)
_TEXT = ("model", "prompt", "negative_prompt", "duration", "resolution", "aspect_ratio")
#: Wire field names as the form calls them, for placing issues next to their inputs.
FIELD_OF_WIRE: dict[str, str] = {
    **{f.wire: f.name for f in _MEDIA},
}
_REMEMBERED = 8
# The order inputs are listed in, as `VideoModel.inputs` names them.
_INPUT_ORDER = ("text", "image", "end_image", "reference_images", "video", "audio")
# Aspect ratios that leave the shape to the model; "any" says the same in the form.
_MODEL_DECIDES = frozenset({"auto", "adaptive"})
# How the form names each input when it says what was asked.
_INPUT_WORDS = {
    "image": "a first frame image",
    "end_image": "a last frame image",
    "reference_images": "reference images",
    "video": "a source video",
    "audio_input": "a soundtrack",
}


class FormError(Exception):
    """A form value of the wrong type, or an upload that is not there.

    Attributes:
        field: the form field.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class MediaResolver:
    """Uploads as `data:` URLs, the last few remembered."""

    def __init__(self, uploads: UploadStore) -> None:
        self.uploads = uploads
        self._cache: OrderedDict[tuple[str, Kind], str] = OrderedDict()
        self._lock = threading.Lock()

    def resolve(self, upload_id: Any, kind: Kind, field: str) -> str:
        """The `data:` URL of an upload.

        Raises:
            FormError: the id names no upload, or the file is not usable as that kind of
                media.
        """
        if not isinstance(upload_id, str):
            raise FormError(field, "expected an uploaded file")
        try:
            path = self.uploads.path(upload_id)
        except UploadError as exc:
            raise FormError(field, str(exc)) from None
        with self._lock:
            cached = self._cache.get((upload_id, kind))
            if cached is not None:
                self._cache.move_to_end((upload_id, kind))
                return cached
        try:
            url = resolve_media(path, kind, field=field)
        except InputError as exc:
            raise FormError(field, str(exc)) from None
        with self._lock:
            self._cache[(upload_id, kind)] = url
            while len(self._cache) > _REMEMBERED:
                self._cache.popitem(last=False)
        return url


def form_body(form: Mapping[str, Any], media: MediaResolver) -> dict[str, Any]:
    """A queue body from the form's fields (blocking: may read uploads).

    Raises:
        FormError: a value of the wrong type, an unknown upload, or an upload that is not
            usable media of its field's kind.
    """
    body: dict[str, Any] = {}
    for name in _TEXT:
        value = form.get(name)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise FormError(name, "expected text")
        body[name] = value
    if form.get("audio") is not None:
        if not isinstance(form["audio"], bool):
            raise FormError("audio", "expected true or false")
        body["audio"] = form["audio"]
    factor = form.get("upscale_factor")
    if factor is not None and factor != "":
        try:
            body["upscale_factor"] = int(factor)
        except (TypeError, ValueError):
            raise FormError("upscale_factor", "expected 1, 2 or 4") from None
    for field in _MEDIA:
        value = form.get(field.name)
        if not value:
            continue
        if not field.many:
            body[field.wire] = media.resolve(value, field.kind, field.name)
            continue
        if not isinstance(value, list):
            raise FormError(field.name, "expected a list of uploaded files")
        body[field.wire] = [
            media.resolve(v, field.kind, f"{field.name}.{i}") for i, v in enumerate(value)
        ]
    return body


def issue_view(issue: Issue) -> dict[str, Any]:
    """An issue for the page, its field named as the form names it."""
    wire = str(issue.path[0]) if issue.path else ""
    field = FIELD_OF_WIRE.get(wire, wire)
    view: dict[str, Any] = {"field": field, "message": issue.message}
    if issue.allowed:
        view["allowed"] = list(issue.allowed)
    if issue.suggestion is not None:
        view["suggestion"] = issue.suggestion
    return view


def model_view(model: VideoModel) -> dict[str, Any]:
    """What the form needs to know about a model to offer only valid choices."""
    return {
        "id": model.id,
        "name": model.name or model.id,
        "model_type": model.model_type,
        "durations": list(model.durations),
        "resolutions": list(model.resolutions),
        "aspect_ratios": list(model.aspect_ratios),
        "audio": model.audio,
        "audio_configurable": model.audio_configurable,
        "inputs": list(model.inputs),
        "needs_prompt": model.needs_prompt,
        "prompt_character_limit": model.prompt_character_limit,
        "is_upscale": model.is_upscale,
        "upscale_factors": list(model.upscale_factors),
        "auto_duration": model.auto_duration,
        "beta": model.beta,
        "offline": model.offline,
    }


def catalog_view(catalog: Catalog) -> list[dict[str, Any]]:
    """Every model the form may offer, grouped by type then named in order."""
    order = {"text-to-video": 0, "image-to-video": 1, "video": 2}
    models = sorted(catalog, key=lambda m: (order.get(m.model_type, 9), m.id))
    return [model_view(m) for m in models if not m.offline]


# --------------------------------------------------------------------------- "cheapest"


def _height(resolution: str) -> int:
    """Roughly how many lines a resolution label means, to sort the labels."""
    found = re.fullmatch(r"(\d+)p", resolution)
    if found:
        return int(found.group(1))
    return {"2k": 1440, "4k": 2160}.get(resolution, 10_000)


def _ratio(aspect: str) -> float:
    width, _, height = aspect.partition(":")
    try:
        return float(width) / float(height)
    except (ValueError, ZeroDivisionError):
        return 0.0


def _seconds(duration: str) -> int:
    return int(duration[:-1]) if re.fullmatch(r"\d+s", duration) else 10_000


def _union(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def cheapest_view(catalog: Catalog) -> dict[str, Any]:
    """The form's "cheapest that can do it" choice, shaped like a model: every duration,
    resolution, aspect ratio and input that some model able to be priced up front takes.

    Models priced by the length of an input video (upscalers, video-to-video models whose
    length follows the input) are left out: their price cannot be shown before paying.
    """
    models = [m for m in catalog if not m.offline and quote_shape(m) is not None]
    durations = _union(d for m in models if not m.auto_duration for d in m.durations)
    resolutions = _union(
        r.lower() for m in models for r in m.resolutions if r not in UPSCALE_LABELS
    )
    aspects = _union(a for m in models for a in m.aspect_ratios if a not in _MODEL_DECIDES)
    inputs = {i for m in models for i in m.inputs}
    return {
        "id": CHEAPEST,
        "name": "Cheapest that can do it",
        "model_type": CHEAPEST,
        "durations": sorted((d for d in durations if _seconds(d) < 10_000), key=_seconds),
        "resolutions": sorted(resolutions, key=lambda r: (_height(r), r)),
        "aspect_ratios": sorted(aspects, key=lambda a: (-_ratio(a), a)),
        "audio": any(m.audio for m in models),
        "audio_configurable": True,
        "inputs": [i for i in _INPUT_ORDER if i in inputs],
        "needs_prompt": True,
        "prompt_character_limit": max((m.prompt_character_limit for m in models), default=0),
        "is_upscale": False,
        "upscale_factors": [],
        "auto_duration": False,
        "beta": False,
        "offline": False,
    }


def cheapest_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    """A form's queue body as the generate-style fields `cheapest_query` reads: the media
    given by their argument names, the duration, resolution, aspect ratio and sound asked."""
    fields = {f.name: body[f.wire] for f in _MEDIA if body.get(f.wire)}
    for name in ("duration", "resolution", "aspect_ratio", "audio", "upscale_factor"):
        if body.get(name) is not None:
            fields[name] = body[name]
    return fields


def no_model_message(fields: Mapping[str, Any]) -> str:
    """What was asked, for when no model can make it (generate-style `fields`): `no model
    can make a 30s 360p 16:9 video with sound from a first frame image; ...`."""
    shape = [str(fields[n]) for n in ("duration", "resolution", "aspect_ratio") if fields.get(n)]
    text = f"no model can make a {' '.join(shape)} video" if shape else "no model can make it"
    if fields.get("audio") is not None:
        text += " with sound" if fields["audio"] else " without sound"
    if fields.get("upscale_factor") is not None:
        text += f" upscaled {fields['upscale_factor']}x"
    inputs = [words for name, words in _INPUT_WORDS.items() if fields.get(name)]
    if inputs:
        last = inputs.pop()
        text += f" from {', '.join(inputs)} and {last}" if inputs else f" from {last}"
    return f"{text}; try another duration, resolution or aspect ratio, or other inputs"


def choice_error(issues: list[dict[str, Any]]) -> str | None:
    """The message saying no model can make what the form asks, if that is the problem."""
    return next((i["message"] for i in issues if i.get("kind") == "no_model"), None)
