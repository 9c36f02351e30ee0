"""The video model catalog: each model's constraints, from `GET /models?type=video`.

A snapshot ships with the package so validation works offline: `data/models-video.json`,
Venice's catalog of 2026-09-29 (its source and date are in the file's header, and each model
records which fields were kept from the 2026-08-22 snapshot). `Catalog.from_api()` reads the
live envelope, which wins over the snapshot whenever the two disagree; `Catalog.diff()` says
how. Models retired since a snapshot are in `data/retired-models.json`, so a request for one
names live models like it (see `retired_model()`).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ._types import ModelType

__all__ = [
    "NEEDS",
    "Catalog",
    "CatalogDiff",
    "RetiredModel",
    "VideoModel",
    "bundled_catalog",
    "retired_model",
]

DEFAULT_PROMPT_LIMIT = 2500
UPSCALE_LABELS = frozenset({"2x", "4x"})
#: What `Catalog.matching(needs=...)` understands, and what each asks of a model.
NEEDS: dict[str, str] = {
    "text": "takes a prompt",
    "image": "takes a first frame (image_url)",
    "end_image": "takes a last frame (end_image_url)",
    "reference": "takes reference images (reference-to-video)",
    "elements": "takes elements (@Element1, ...)",
    "scene_images": "takes scene images (@Image1, ...)",
    "video": "takes an input video (video_url)",
    "audio_input": "takes a soundtrack to follow (audio_url)",
    "audio": "makes sound",
    "silent": "can make a clip without sound",
    "upscale": "upscales a video",
}
#: The needs that are inputs to give, rather than something the output has.
INPUT_NEEDS = frozenset(
    {"text", "image", "end_image", "reference", "elements", "scene_images", "video", "audio_input"}
)
_NEED_ALIASES = {
    "reference_images": "reference",
    "references": "reference",
    "end-image": "end_image",
    "audio-input": "audio_input",
    "soundtrack": "audio_input",
    "scene": "scene_images",
    "sound": "audio",
    "no_audio": "silent",
    "prompt": "text",
}
#: What `Catalog.diff()` compares: the fields that decide what a request may carry.
DIFF_FIELDS = (
    "model_type", "durations", "resolutions", "aspect_ratios", "audio", "audio_configurable",
    "audio_input", "video_input", "per_reference_audio", "prompt_character_limit",
    "reference_image_min_short_side_pixels", "reference_image_min_aspect_ratio",
    "reference_image_max_aspect_ratio", "privacy", "offline", "name",
)  # fmt: skip


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
    #: The model family (`wan-3-0`, `kling-o3-pro`, ...) when the catalog names one.
    family: str = ""
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
    def priced_by_input(self) -> bool:
        """The price follows the length of the input video (upscale, video-to-video)."""
        return self.model_type == "video"

    @property
    def default_duration(self) -> str | None:
        """The shortest duration in seconds the model takes (`None` when it follows its input)."""
        timed = [d for d in self.durations if _seconds(d) is not None]
        return min(timed, key=lambda d: _seconds(d) or 0) if timed else None

    @property
    def default_resolution(self) -> str | None:
        """The resolution used when none is sent: 720p if the model has it, else its first."""
        usable = [r for r in self.resolutions if r not in UPSCALE_LABELS]
        if not usable:
            return None
        return next((r for r in usable if r.lower() == "720p"), usable[0])

    @property
    def capabilities(self) -> frozenset[str]:
        """What the model can do, in the vocabulary of `NEEDS`."""
        found = {"audio_input" if i == "audio" else i for i in self.inputs}
        found.discard("reference_images")
        if self.is_reference_to_video:
            # Reference images guide the video; they are not its first frame.
            found.discard("image")
            found.add("reference")
        if self.audio:
            found.add("audio")
        if not self.audio or self.audio_configurable:
            found.add("silent")
        if self.is_upscale:
            found.add("upscale")
        return frozenset(found)

    @property
    def required_inputs(self) -> frozenset[str]:
        """The inputs a request must carry, in the vocabulary of `NEEDS`."""
        found = {"text"} if self.needs_prompt else set()
        if self.model_type == "image-to-video":
            found.add("reference" if self.is_reference_to_video else "image")
            if self.needs_end_image:
                found.add("end_image")
        if self.model_type == "video":
            found.add("video")
        return frozenset(found)

    def takes(self, *, duration: str | None = None, resolution: str | None = None,
              aspect_ratio: str | None = None) -> bool:  # fmt: skip
        """Whether the model accepts each value given (resolutions compared case-blind)."""
        if duration is not None and duration not in self.durations:
            return False
        if resolution is not None and resolution.lower() not in {
            r.lower() for r in self.resolutions
        }:
            return False
        return aspect_ratio is None or aspect_ratio in self.aspect_ratios

    def resolution_label(self, resolution: str) -> str:
        """The model's own spelling of a resolution (`1080p` is `1080P` for some models)."""
        return next((r for r in self.resolutions if r.lower() == resolution.lower()), resolution)

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
            family=str(spec.get("family") or ""),
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
    catalog.matching(needs=["image", "audio"], duration="10s", resolution="720p")
    ```

    Attributes:
        source: where the list came from: `"api"` (a `GET /models` answer, possibly cached)
            or `"bundled"` (the snapshot shipped with the package).
    """

    def __init__(self, models: Iterable[VideoModel], *, source: str = "api") -> None:
        self._models: dict[str, VideoModel] = {m.id: m for m in models}
        self.source = source

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

    @cached_property
    def known_values(self) -> dict[str, frozenset[str]]:
        """Every duration, resolution and aspect ratio some model takes, by field name."""
        return {
            "duration": frozenset(d for m in self for d in m.durations),
            "resolution": frozenset(r for m in self for r in m.resolutions),
            "aspect_ratio": frozenset(a for m in self for a in m.aspect_ratios),
        }

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

    def matching(
        self,
        *,
        needs: Iterable[str] | str = (),
        duration: str | int | None = None,
        resolution: str | None = None,
        aspect_ratio: str | None = None,
        model_type: str | None = None,
        inputs_given: Iterable[str] | str | None = None,
        include_offline: bool = False,
    ) -> list[VideoModel]:
        """The models that can make a video with every need and value given, in catalog order.

        Args:
            needs: names from `NEEDS` (a list, or one comma-separated string), such as
                `"image,audio"`: a first frame in, sound out.
            duration: a duration the model must take (`"10s"`, `10`).
            resolution: a resolution it must take (`"720p"`; case does not matter).
            aspect_ratio: an aspect ratio it must take (`"16:9"`).
            model_type: `text-to-video`, `image-to-video` or `video`.
            inputs_given: the inputs at hand (`NEEDS` names): models that require any other
                input (a last frame, reference images, ...) are left out.
            include_offline: also list models the API marks offline.

        Raises:
            ValueError: a need that is not in `NEEDS`.
        """
        wanted = parse_needs(needs)
        given = None if inputs_given is None else parse_needs(inputs_given) | {"text"}
        if given is not None and given & {"elements", "scene_images"}:
            given |= {"reference"}  # elements and scene images are references too
        seconds = normal_duration(duration)
        return [
            m
            for m in self
            if (include_offline or not m.offline)
            and (model_type is None or m.model_type == model_type)
            and wanted <= m.capabilities
            and (given is None or m.required_inputs <= given)
            and m.takes(duration=seconds, resolution=resolution, aspect_ratio=aspect_ratio)
        ]

    def similar(self, model: VideoModel, n: int = 3) -> list[VideoModel]:
        """Live models of the same type closest to `model`'s constraints, best first."""
        candidates = [
            m for m in self if m.model_type == model.model_type and not m.offline and m != model
        ]
        candidates.sort(key=lambda m: (-_likeness(model, m), m.id))
        return candidates[:n]

    def diff(self, other: Catalog) -> CatalogDiff:
        """What changes from this catalog to `other` (e.g. bundled to live)."""
        changed: dict[str, dict[str, tuple[Any, Any]]] = {}
        for model in self:
            theirs = other.get(model.id)
            if theirs is None:
                continue
            fields = {
                name: (getattr(model, name), getattr(theirs, name))
                for name in DIFF_FIELDS
                if getattr(model, name) != getattr(theirs, name)
            }
            if fields:
                changed[model.id] = fields
        return CatalogDiff(
            added=tuple(m for m in other if m.id not in self),
            removed=tuple(m for m in self if m.id not in other),
            changed=changed,
        )

    def to_api(self) -> dict[str, Any]:
        """The `GET /models?type=video` envelope."""
        return {"object": "list", "type": "video", "data": [m.to_api() for m in self]}

    @classmethod
    def from_api(cls, payload: Mapping[str, Any], *, source: str = "api") -> Catalog:
        """Parse a `GET /models?type=video` response body; non-video entries are skipped."""
        models = []
        for record in payload.get("data") or ():
            if record.get("type", "video") != "video":
                continue
            spec = record.get("model_spec") or {}
            if not spec.get("constraints"):
                continue
            models.append(VideoModel.from_api(record))
        return cls(models, source=source)


@dataclass(frozen=True)
class CatalogDiff:
    """What changed between two catalogs (`old.diff(new)`).

    Attributes:
        added: models only the new catalog lists.
        removed: models only the old catalog lists.
        changed: for models in both, each differing field as `(old value, new value)`.
    """

    added: tuple[VideoModel, ...] = ()
    removed: tuple[VideoModel, ...] = ()
    changed: dict[str, dict[str, tuple[Any, Any]]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def lines(self) -> list[str]:
        """One line per added or removed model and per changed field."""
        out = [f"+ {m.id}  ({m.model_type}, new)" for m in self.added]
        out += [f"- {m.id}  ({m.model_type}, gone)" for m in self.removed]
        for model_id, fields in self.changed.items():
            for name, (old, new) in fields.items():
                out.append(f"~ {model_id}  {name}: {_show(old)} -> {_show(new)}")
        return out


@dataclass(frozen=True)
class RetiredModel:
    """A model the bundled snapshot no longer lists, and what it took when it was live.

    Attributes:
        id: the model id.
        retired_on: the announced retirement date (`YYYY-MM-DD`), when one was announced.
        gone_by: the date of the first catalog that no longer lists it.
        model: its constraints when it was last listed.
    """

    id: str
    retired_on: str | None
    gone_by: str
    model: VideoModel

    def message(self, catalog: Catalog, n: int = 3) -> str:
        """`` `sora-2-text-to-video` was retired on 2026-09-24; similar models: ...``"""
        when = f"on {self.retired_on}" if self.retired_on else f"by {self.gone_by}"
        similar = [m.id for m in catalog.similar(self.model, n)]
        text = f"`{self.id}` was retired {when}"
        return f"{text}; similar models: {', '.join(similar)}" if similar else text


def parse_needs(needs: Iterable[str] | str) -> frozenset[str]:
    """Needs as `NEEDS` names (`"image, audio"` or `["image", "audio"]`), aliases resolved.

    Raises:
        ValueError: a name that means nothing here.
    """
    items = needs.split(",") if isinstance(needs, str) else list(needs)
    found: set[str] = set()
    for item in items:
        name = item.strip().lower().replace(" ", "_")
        if not name:
            continue
        name = _NEED_ALIASES.get(name, name)
        if name not in NEEDS:
            raise ValueError(f"unknown need {item.strip()!r}; known: {', '.join(NEEDS)}")
        found.add(name)
    return frozenset(found)


def normal_duration(duration: str | int | None) -> str | None:
    """`10`, `"10"` and `"10s"` all mean `"10s"`; other values are kept as given."""
    if duration is None:
        return None
    text = str(duration).strip()
    return f"{text}s" if text.isdigit() else text


def _seconds(duration: str) -> int | None:
    match = re.fullmatch(r"(\d+)s", duration)
    return int(match.group(1)) if match else None


def _overlap(a: Iterable[str], b: Iterable[str]) -> float:
    left, right = {x.lower() for x in a}, {x.lower() for x in b}
    if not left and not right:
        return 1.0
    return len(left & right) / len(left | right)


def _likeness(old: VideoModel, new: VideoModel) -> float:
    """How close two models' constraints are, 0 to about 7 (higher is closer)."""
    score = _overlap(old.durations, new.durations) + _overlap(old.resolutions, new.resolutions)
    score += _overlap(old.aspect_ratios, new.aspect_ratios)
    same_sound = (old.audio, old.audio_configurable) == (new.audio, new.audio_configurable)
    score += 1.0 if same_sound else 0.0
    score += 1.0 if set(old.inputs) == set(new.inputs) else 0.0
    score += 1.0 if old.is_reference_to_video == new.is_reference_to_video else 0.0
    # The id breaks near-ties: "sora-2-pro" is closer to another "-pro" model.
    return score + difflib.SequenceMatcher(None, old.id, new.id).ratio()


def _show(value: Any) -> str:
    if isinstance(value, tuple | list):
        return " ".join(map(str, value)) or "(none)"
    return repr(value)


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
        "family": record.get("family") or "",
        "vps_backed": "download_url" in notes,
    }
    if record.get("uncensored"):
        spec["uncensored"] = True
    if record.get("deprecation"):
        spec["deprecation"] = record["deprecation"]
    return VideoModel.from_api(
        {"id": record["id"], "created": record.get("created") or 0, "model_spec": spec}
    )


def _data(name: str) -> Any:
    return json.loads(resources.files("venice_video").joinpath(f"data/{name}").read_text("utf-8"))


@lru_cache(maxsize=1)
def bundled_catalog() -> Catalog:
    """The catalog snapshot that ships with the package (its date: `bundled_catalog_date()`)."""
    models = (_from_bundled_record(r) for r in _data("models-video.json")["models"])
    return Catalog((m for m in models if m is not None), source="bundled")


@lru_cache(maxsize=1)
def bundled_catalog_date() -> str:
    """When the bundled snapshot was taken from the live API (`YYYY-MM-DD`)."""
    return str(_data("models-video.json")["generated_at"])[:10]


@lru_cache(maxsize=1)
def _retired() -> dict[str, RetiredModel]:
    found = {}
    for record in _data("retired-models.json")["models"]:
        model = _from_bundled_record(record)
        if model is not None:
            found[record["id"]] = RetiredModel(
                record["id"], record.get("retired_on"), record["gone_by"], model
            )
    return found


def retired_model(model_id: str, catalog: Catalog | None = None) -> RetiredModel | None:
    """The retirement record of `model_id`, unless `catalog` (the live list) still has it."""
    if catalog is not None and model_id in catalog:
        return None
    return _retired().get(model_id)
