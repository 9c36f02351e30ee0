"""The video model catalog: each model's constraints, from `GET /models?type=video`.

A snapshot ships with the package (`data/models-video.json`, taken from the official
model snapshot of 2026-08-22, with its sources recorded per model) so validation works
offline; `Catalog.from_api()` reads the live envelope.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ._types import ModelType

__all__ = ["Catalog", "VideoModel", "bundled_catalog"]

DEFAULT_PROMPT_LIMIT = 2500
UPSCALE_LABELS = frozenset({"2x", "4x"})


class VideoModel(BaseModel):
    """One video model and what it accepts.

    An empty `durations`, `resolutions` or `aspect_ratios` means the model takes no value
    for that field.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    name: str = ""
    model_type: ModelType
    durations: tuple[str, ...] = ()
    resolutions: tuple[str, ...] = ()
    aspect_ratios: tuple[str, ...] = ()
    audio: bool = False
    audio_configurable: bool = False
    audio_input: bool = False
    video_input: bool = False
    per_reference_audio: bool = False
    prompt_character_limit: int = DEFAULT_PROMPT_LIMIT
    reference_image_min_short_side_pixels: int | None = None
    reference_image_min_aspect_ratio: float | None = None
    reference_image_max_aspect_ratio: float | None = None
    privacy: str = "anonymized"
    uncensored: bool = False
    offline: bool = False
    beta: bool = False
    traits: tuple[str, ...] = ()
    created: int = 0
    deprecation: dict[str, Any] | None = None
    #: True when the queue response carries a pre-signed `download_url` and retrieve
    #: reports `COMPLETED` JSON instead of streaming the file.
    vps_backed: bool = False
    extra_constraints: dict[str, Any] = Field(default_factory=dict)

    # Derived facts, kept here so the server, the SDK, the CLI and MCP agree on them.
    @property
    def is_upscale(self) -> bool:
        """An upscaler: takes `video_url` and `upscale_factor`, not `resolution`."""
        return (
            self.model_type == "video"
            and bool(self.resolutions)
            and set(self.resolutions) <= UPSCALE_LABELS
        )

    @property
    def is_reference_to_video(self) -> bool:
        return "reference-to-video" in self.id

    @property
    def needs_end_image(self) -> bool:
        return "transition" in self.id or "first-last-frame" in self.id

    @property
    def needs_prompt(self) -> bool:
        return not self.is_upscale

    @property
    def auto_duration(self) -> bool:
        """The model picks the duration from its input (`Auto`); none need be sent."""
        return not self.durations or all(d.lower() == "auto" for d in self.durations)

    @property
    def upscale_factors(self) -> tuple[int, ...]:
        if not self.is_upscale:
            return ()
        return (1, *sorted(int(r[:-1]) for r in self.resolutions))

    @property
    def inputs(self) -> tuple[str, ...]:
        """The kinds of input the model takes, as short names."""
        found = ["text"] if self.needs_prompt else []
        if self.model_type == "image-to-video":
            found.append("image")
            if self.needs_end_image:
                found.append("end_image")
            if self.is_reference_to_video:
                found += ["reference_images", "elements", "scene_images"]
        if self.video_input or self.model_type == "video":
            found.append("video")
        if self.audio_input:
            found.append("audio")
        return tuple(found)

    @classmethod
    def from_api(cls, record: Mapping[str, Any]) -> VideoModel:
        """Build from one element of the `GET /models` `data` array."""
        spec = dict(record.get("model_spec") or {})
        constraints = dict(spec.get("constraints") or {})
        known = set(cls.model_fields)
        return cls(
            id=str(record["id"]),
            name=str(spec.get("name") or record["id"]),
            created=int(record.get("created") or 0),
            privacy=str(spec.get("privacy") or "anonymized"),
            uncensored=bool(spec.get("uncensored", False)),
            offline=bool(spec.get("offline", False)),
            beta=bool(spec.get("beta", False)),
            traits=tuple(spec.get("traits") or ()),
            deprecation=spec.get("deprecation"),
            vps_backed=bool(spec.get("vps_backed", False)),
            extra_constraints={k: v for k, v in constraints.items() if k not in known},
            **{k: v for k, v in constraints.items() if k in known and v is not None},
        )

    def to_api(self) -> dict[str, Any]:
        """The record as `GET /models?type=video` returns it."""
        constraints: dict[str, Any] = {
            "model_type": self.model_type,
            "aspect_ratios": list(self.aspect_ratios),
            "resolutions": list(self.resolutions),
            "durations": list(self.durations),
            "audio": self.audio,
            "audio_configurable": self.audio_configurable,
            "audio_input": self.audio_input,
            "per_reference_audio": self.per_reference_audio,
            "video_input": self.video_input,
        }
        if self.prompt_character_limit != DEFAULT_PROMPT_LIMIT:
            constraints["prompt_character_limit"] = self.prompt_character_limit
        for key in (
            "reference_image_min_short_side_pixels",
            "reference_image_min_aspect_ratio",
            "reference_image_max_aspect_ratio",
        ):
            if getattr(self, key) is not None:
                constraints[key] = getattr(self, key)
        constraints.update(self.extra_constraints)
        spec: dict[str, Any] = {
            "name": self.name,
            "privacy": self.privacy,
            "traits": list(self.traits),
            "constraints": constraints,
            "offline": self.offline,
        }
        if self.uncensored:
            spec["uncensored"] = True
        if self.deprecation:
            spec["deprecation"] = self.deprecation
        return {
            "id": self.id,
            "object": "model",
            "owned_by": "venice.ai",
            "type": "video",
            "created": self.created,
            "model_spec": spec,
        }


class Catalog:
    """A set of video models, looked up by id.

    ```python
    catalog = bundled_catalog()
    model = catalog["wan-2-7-text-to-video"]
    catalog.suggest("wan-2.7-text-to-video")  # ['wan-2-7-text-to-video', ...]
    ```
    """

    def __init__(self, models: Iterable[VideoModel]) -> None:
        self._models: dict[str, VideoModel] = {m.id: m for m in models}

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._models

    def __getitem__(self, model_id: str) -> VideoModel:
        return self._models[model_id]

    def __iter__(self) -> Iterator[VideoModel]:
        return iter(self._models.values())

    def __len__(self) -> int:
        return len(self._models)

    def get(self, model_id: str) -> VideoModel | None:
        return self._models.get(model_id)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._models)

    def suggest(self, model_id: str, n: int = 3) -> list[str]:
        """Close matches for a mistyped model id, best first."""
        wanted = _normal(model_id)
        exact = [m for m in self._models if _normal(m) == wanted]
        by_key = {_normal(m): m for m in self._models}
        # Past 3x the longest id no ratio reaches the cutoff; difflib would still index it all.
        too_long = len(wanted) > 3 * max(map(len, by_key), default=0)
        close = [] if too_long else difflib.get_close_matches(wanted, by_key, n=n, cutoff=0.6)
        found = exact + [by_key[k] for k in close if by_key[k] not in exact]
        return found[:n]

    def filter(
        self, *, model_type: str | None = None, needs_input: str | None = None
    ) -> list[VideoModel]:
        """Models of one type (`text-to-video`, `image-to-video`, `video`) and/or taking an input
        (`image`, `video`, `audio`, `end_image`, `reference_images`, ...)."""
        return [
            m
            for m in self._models.values()
            if (model_type is None or m.model_type == model_type)
            and (needs_input is None or needs_input in m.inputs)
        ]

    def to_api(self) -> dict[str, Any]:
        """The `GET /models?type=video` envelope."""
        return {"object": "list", "type": "video", "data": [m.to_api() for m in self]}

    @classmethod
    def from_api(cls, payload: Mapping[str, Any]) -> Catalog:
        """Parse a `GET /models?type=video` response body; non-video entries are skipped."""
        models = []
        for record in payload.get("data") or ():
            if record.get("type", "video") != "video":
                continue
            spec = record.get("model_spec") or {}
            if not spec.get("constraints"):
                continue
            models.append(VideoModel.from_api(record))
        return cls(models)


def _normal(model_id: str) -> str:
    # "wan-2.7" and "wan-2-7" name the same family; case and separators are easy to mistype.
    return model_id.lower().replace(".", "-").replace("_", "-").strip()


def _from_bundled_record(record: Mapping[str, Any]) -> VideoModel | None:
    constraints = record.get("constraints")
    if not constraints:
        return None  # ids seen in sources but not in the official snapshot
    notes = " ".join(str(n.get("fact", "")) for n in record.get("notes") or ())
    spec: dict[str, Any] = {
        "name": record.get("name") or record["id"],
        "privacy": record.get("privacy") or "anonymized",
        "traits": record.get("traits") or [],
        "constraints": constraints,
        "vps_backed": "download_url" in notes,
    }
    if record.get("uncensored"):
        spec["uncensored"] = True
    if record.get("deprecation"):
        spec["deprecation"] = record["deprecation"]
    return VideoModel.from_api(
        {"id": record["id"], "created": record.get("created") or 0, "model_spec": spec}
    )


@lru_cache(maxsize=1)
def bundled_catalog() -> Catalog:
    """The catalog snapshot that ships with the package."""
    text = resources.files("venice_video").joinpath("data/models-video.json").read_text("utf-8")
    models = (_from_bundled_record(r) for r in json.loads(text))
    return Catalog(m for m in models if m is not None)
