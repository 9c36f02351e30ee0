"""The new-generation form: its fields to a queue body, and the model facts it offers as choices.

The page sends form fields by their SDK names (`image`, `audio_input`, ...), with media as
upload ids. Media are resolved (read, checked, inlined) once per upload and remembered, so
validating as the user types never rereads a large file.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from .._catalog import Catalog, VideoModel
from .._exceptions import InputError
from .._inputs import MEDIA_FIELDS, Kind, MediaField, resolve_media
from .._validation import Issue
from ._uploads import UploadError, UploadStore

__all__ = [
    "FIELD_OF_WIRE",
    "FormError",
    "MediaResolver",
    "catalog_view",
    "form_body",
    "issue_view",
    "model_view",
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
