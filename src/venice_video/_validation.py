"""Checks a quote or queue body against the spec and against one model's constraints.

Pure code with no I/O, shared by the SDK (to refuse a bad request before any money moves)
and the local server (to answer with the same 400 the real API gives). Problems come back
as `Issue`s in the shape of the real API's `issues[]`, so one list serves both.

Values are checked against the catalog, not a fixed list: a duration, resolution or aspect
ratio is well formed when the spec's enum has it or any model of the catalog takes it (the
live catalog uses `2k`, `480P` and 30 s durations that older spec revisions lack). Keys
outside the spec's request schema are refused, as the live queue does ("Unrecognized key(s)
in object"), unless `strict_keys=False`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from ._catalog import Catalog, VideoModel, retired_model
from ._issues import Issue, PathItem, error_body, quote_value
from ._types import ASPECT_RATIOS, DURATIONS, RESOLUTIONS, UPSCALE_FACTORS

__all__ = [
    "Issue",
    "error_body",
    "retired_issues",
    "unknown_keys",
    "validate_queue",
    "validate_quote",
]

Kind = Literal["queue", "quote"]

SPEC_PROMPT_MAX = 20000
FRAMES_PER_SECOND = 24
LIST_CAPS: dict[str, int] = {
    "reference_image_urls": 30,
    "reference_video_urls": 10,
    "reference_audio_urls": 10,
    "reference_document_urls": 1,
    "elements": 4,
    "scene_image_urls": 4,
    "keyframes": 10,
}
URL_FIELDS = ("image_url", "end_image_url", "audio_url", "video_url")
OMNI_TASK_TYPES = ("auto", "reference", "edit", "extend")
OMNI_ALIASES = {"editing": "edit", "extension": "extend"}
SEEDANCE_CONSENT_FLAGS = (
    "confirmed_terms_and_privacy",
    "confirmed_legal_right",
    "confirmed_screening_acknowledged",
)
QUEUE_FIELDS = frozenset(
    {
        "model", "prompt", "negative_prompt", "duration", "aspect_ratio", "resolution",
        "upscale_factor", "audio", "image_url", "end_image_url", "audio_url", "video_url",
        "reference_image_urls", "reference_video_urls", "reference_audio_urls",
        "reference_document_urls", "elements", "scene_image_urls", "keyframes", "consents",
        "omni_reference_task_type", "bitrate_mode",
    }
)  # fmt: skip
QUOTE_FIELDS = frozenset(
    {
        "model", "duration", "aspect_ratio", "resolution", "upscale_factor", "audio",
        "video_url", "reference_video_total_duration",
    }
)  # fmt: skip
#: The keys of the objects nested in a queue body, by the field that holds them.
NESTED_FIELDS: dict[str, frozenset[str]] = {
    "elements": frozenset({"frontal_image_url", "reference_image_urls", "video_url"}),
    "keyframes": frozenset({"image_url", "frame_index"}),
    "consents": frozenset({"seedance"}),
    "seedance": frozenset(SEEDANCE_CONSENT_FLAGS),
}
REFERENCE_FIELDS = (
    "reference_image_urls", "reference_video_urls", "reference_audio_urls",
    "reference_document_urls",
)  # fmt: skip
SPEC_VALUES: dict[str, tuple[str, ...]] = {
    "duration": DURATIONS,
    "aspect_ratio": ASPECT_RATIOS,
    "resolution": RESOLUTIONS,
}


def validate_queue(
    body: Mapping[str, Any],
    catalog: Catalog,
    *,
    check_model: bool = True,
    strict_keys: bool = True,
    strict_aspect_ratio: bool = True,
) -> list[Issue]:
    """Everything wrong with a `/video/queue` body; empty when it would be accepted.

    Args:
        body: the JSON body, as a mapping.
        catalog: the models to check against.
        check_model: also check the model's own constraints, not just the spec.
        strict_keys: refuse keys the request schema does not have, as the live API does.
        strict_aspect_ratio: refuse `aspect_ratio` for a model that takes none (as some
            image-to-video models do); otherwise it is accepted, to be ignored.
    """
    return _Checker(body, catalog, "queue", check_model, strict_keys, strict_aspect_ratio).run()


def validate_quote(
    body: Mapping[str, Any],
    catalog: Catalog,
    *,
    check_model: bool = True,
    strict_keys: bool = True,
) -> list[Issue]:
    """Everything wrong with a `/video/quote` body; empty when it would be priced."""
    return _Checker(body, catalog, "quote", check_model, strict_keys).run()


def retired_issues(model_id: str, catalog: Catalog) -> list[Issue]:
    """One issue naming similar live models when `model_id` is retired and `catalog` (the live
    list, which wins) no longer has it; otherwise none."""
    retired = retired_model(model_id, catalog)
    if retired is None:
        return []
    # The message names the similar live models; nothing more to add.
    return [Issue(("model",), retired.message(catalog), code="model_retired")]


def unknown_keys(body: Mapping[str, Any], kind: Kind = "queue") -> list[Issue]:
    """The keys of a queue or quote body (nested objects included) its schema does not have.

    One issue per object, worded as the live API words it:
    `Unrecognized key(s) in object: 'x', 'y'`.
    """
    issues: list[Issue] = []
    top = QUEUE_FIELDS if kind == "queue" else QUOTE_FIELDS
    _unknown_in(body, top, (), issues, skip={"bitrate_mode"} if kind == "quote" else set())
    if kind == "quote":
        return issues
    for name in ("elements", "keyframes"):
        items = body.get(name)
        for i, item in enumerate(items if isinstance(items, list) else ()):
            _unknown_in(item, NESTED_FIELDS[name], (name, i), issues)
    consents = body.get("consents")
    _unknown_in(consents, NESTED_FIELDS["consents"], ("consents",), issues)
    if isinstance(consents, Mapping):
        seedance = consents.get("seedance")
        _unknown_in(seedance, NESTED_FIELDS["seedance"], ("consents", "seedance"), issues)
    return issues


def _unknown_in(
    node: object,
    allowed: frozenset[str],
    path: tuple[PathItem, ...],
    issues: list[Issue],
    skip: set[str] | frozenset[str] = frozenset(),
) -> None:
    if not isinstance(node, Mapping):
        return
    extra = [str(k) for k in node if k not in allowed and k not in skip]
    if extra:
        listed = ", ".join(repr(k) for k in extra)
        issues.append(Issue(path, f"Unrecognized key(s) in object: {listed}"[:300],
                            code="unrecognized_keys", keys=tuple(extra)))  # fmt: skip


def suggest(value: object, allowed: Sequence[Any]) -> Any:
    """The allowed value closest to `value`: numerically for durations, else by spelling."""
    if not allowed:
        return None
    seconds = _seconds(value)
    numeric = [a for a in allowed if _seconds(a) is not None]
    if seconds is not None and numeric:
        return min(numeric, key=lambda a: (abs((_seconds(a) or 0) - seconds), _seconds(a)))
    text = str(value)
    by_case = [a for a in allowed if str(a).lower() == text.lower()]
    if by_case:
        return by_case[0]
    names = [str(a) for a in allowed]
    if len(text) > 4 * max(map(len, names)):
        return None  # no ratio reaches the cutoff, but difflib would still index all of it
    close = difflib.get_close_matches(text, names, n=1, cutoff=0.5)
    if close:
        return next(a for a in allowed if str(a) == close[0])
    return None


class _Checker:
    def __init__(
        self,
        body: Mapping[str, Any],
        catalog: Catalog,
        kind: Kind,
        check_model: bool,
        strict_keys: bool = True,
        strict_aspect_ratio: bool = True,
    ):
        self.body = body
        self.catalog = catalog
        self.kind = kind
        self.check_model = check_model
        self.strict_keys = strict_keys
        self.strict_aspect_ratio = strict_aspect_ratio
        self.issues: list[Issue] = []
        # The spec's values first, then any other value a model of the catalog takes.
        self.known: dict[str, tuple[str, ...]] = {
            name: spec + tuple(sorted(catalog.known_values[name].difference(spec)))
            for name, spec in SPEC_VALUES.items()
        }

    def add(self, path: tuple[PathItem, ...] | str, message: str, **kw: Any) -> None:
        self.issues.append(
            Issue(path=(path,) if isinstance(path, str) else path, message=message, **kw)
        )

    def run(self) -> list[Issue]:
        if not isinstance(self.body, Mapping):
            self.add((), "Expected a JSON object", code="invalid_type", expected="object")
            return self.issues
        self.check_schema()
        model_id = self.body.get("model")
        if self.check_model and isinstance(model_id, str) and model_id:
            model = self.catalog.get(model_id)
            retired = retired_issues(model_id, self.catalog) if model is None else []
            if retired:
                self.issues += retired
            elif model is None:
                hint = self.catalog.suggest(model_id, n=1)
                self.add(
                    "model",
                    f"Unknown model {model_id!r}",
                    code="invalid_model",
                    received=model_id,
                    suggestion=hint[0] if hint else None,
                )
            else:
                self.check_constraints(model)
        return self.issues

    # --- the spec, with no model in mind ---------------------------------------------

    def check_schema(self) -> None:
        b = self.body
        if self.strict_keys:
            self.issues += unknown_keys(b, self.kind)
        if self.kind == "quote" and "bitrate_mode" in b:
            self.add("bitrate_mode", "bitrate_mode is not accepted by /video/quote",
                     code="unrecognized_keys")  # fmt: skip
        self.string("model", required=True, min_length=1)
        if self.kind == "queue":
            self.string("prompt", required=False, min_length=1, max_length=SPEC_PROMPT_MAX)
            self.string("negative_prompt", required=False, max_length=SPEC_PROMPT_MAX)
        self.enum("duration", self.known["duration"], required=False)
        self.enum("aspect_ratio", self.known["aspect_ratio"])
        self.enum("resolution", self.known["resolution"])
        if "upscale_factor" in b and (
            isinstance(b["upscale_factor"], bool) or b["upscale_factor"] not in UPSCALE_FACTORS
        ):
            self.add("upscale_factor", "upscale_factor must be 1, 2 or 4",
                     code="invalid_enum_value",
                     received=b["upscale_factor"], allowed=UPSCALE_FACTORS)  # fmt: skip
        if "audio" in b and not isinstance(b["audio"], bool):
            self.type_error("audio", "boolean")
        if self.kind == "quote":
            self.string("video_url")
            total = b.get("reference_video_total_duration")
            if total is not None and (
                isinstance(total, bool) or not isinstance(total, int | float) or total < 0
            ):
                self.add("reference_video_total_duration", "Must be a number >= 0",
                         code="invalid_type", received=total)  # fmt: skip
            return
        for name in URL_FIELDS:
            self.url(name)
        for name, cap in LIST_CAPS.items():
            if name in ("elements", "keyframes"):
                continue
            self.url_list(name, cap)
        self.elements()
        self.keyframes()
        self.consents()
        if "omni_reference_task_type" in b:
            value = b["omni_reference_task_type"]
            if not isinstance(value, str) or value not in (*OMNI_TASK_TYPES, *OMNI_ALIASES):
                self.add("omni_reference_task_type", "Invalid task type",
                         code="invalid_enum_value", received=value, allowed=OMNI_TASK_TYPES,
                         suggestion=suggest(value, OMNI_TASK_TYPES))  # fmt: skip
        if "bitrate_mode" in b and b["bitrate_mode"] not in ("standard", "high"):
            self.add("bitrate_mode", "bitrate_mode must be 'standard' or 'high'",
                     code="invalid_enum_value", received=b["bitrate_mode"],
                     allowed=("standard", "high"))  # fmt: skip

    def type_error(self, path: tuple[PathItem, ...] | str, expected: str) -> None:
        value = self.lookup(path)
        self.add(path, f"Expected {expected}, received {_type_name(value)}", code="invalid_type",
                 expected=expected, received=_type_name(value))  # fmt: skip

    def lookup(self, path: tuple[PathItem, ...] | str) -> Any:
        node: Any = self.body
        for part in (path,) if isinstance(path, str) else path:
            node = node[part]
        return node

    def string(
        self,
        name: str,
        *,
        required: bool = False,
        min_length: int = 0,
        max_length: int | None = None,
    ) -> None:
        if name not in self.body or self.body[name] is None:
            if required:
                self.add(
                    name, "Required", code="invalid_type", expected="string", received="undefined"
                )
            return
        value = self.body[name]
        if not isinstance(value, str):
            self.type_error(name, "string")
        elif len(value) < min_length:
            self.add(name, f"String must contain at least {min_length} character(s)",
                     code="too_small", received=len(value))  # fmt: skip
        elif max_length is not None and len(value) > max_length:
            self.add(name, f"String must contain at most {max_length} character(s)",
                     code="too_big", received=len(value))  # fmt: skip

    def enum(self, name: str, allowed: Sequence[str], *, required: bool = False) -> None:
        if name not in self.body or self.body[name] is None:
            if required:
                self.add(name, "Required", code="invalid_type", received="undefined")
            return
        value = self.body[name]
        if not isinstance(value, str):
            self.type_error(name, "string")
        elif value not in allowed:
            self.add(name, f"Invalid enum value. Expected {_options(allowed)}, received '{value}'",
                     code="invalid_enum_value", received=value, allowed=tuple(allowed),
                     suggestion=suggest(value, allowed))  # fmt: skip

    def url(self, name: str, path: tuple[PathItem, ...] | None = None) -> None:
        path = path or (name,)
        try:
            value = self.lookup(path)
        except (KeyError, IndexError, TypeError):
            return
        if value is None:
            return
        if not isinstance(value, str):
            self.type_error(path, "string")
        elif not _is_url(value):
            self.add(path, "Must be an http(s) URL or a data: URL", code="invalid_string",
                     received=value[:80])  # fmt: skip

    def url_list(self, name: str, cap: int) -> None:
        if self.body.get(name) is None:
            return
        value = self.body[name]
        if not isinstance(value, list):
            self.type_error(name, "array")
            return
        if len(value) > cap:
            self.add(name, f"Array must contain at most {cap} element(s)", code="too_big",
                     received=len(value))  # fmt: skip
        for i in range(len(value)):
            self.url(name, (name, i))

    def elements(self) -> None:
        value = self.body.get("elements")
        if value is None:
            return
        if not isinstance(value, list):
            self.type_error("elements", "array")
            return
        if len(value) > LIST_CAPS["elements"]:
            self.add("elements", "Array must contain at most 4 element(s)", code="too_big",
                     received=len(value))  # fmt: skip
        for i, item in enumerate(value):
            if not isinstance(item, Mapping):
                self.type_error(("elements", i), "object")
                continue
            self.url("frontal_image_url", ("elements", i, "frontal_image_url"))
            self.url("video_url", ("elements", i, "video_url"))
            refs = item.get("reference_image_urls")
            if refs is not None:
                if not isinstance(refs, list):
                    self.type_error(("elements", i, "reference_image_urls"), "array")
                else:
                    if len(refs) > 3:
                        self.add(("elements", i, "reference_image_urls"),
                                 "Array must contain at most 3 element(s)", code="too_big",
                                 received=len(refs))  # fmt: skip
                    for j in range(len(refs)):
                        self.url("", ("elements", i, "reference_image_urls", j))
            has_images = bool(item.get("frontal_image_url") or item.get("reference_image_urls"))
            if has_images and item.get("video_url"):
                self.add(("elements", i), "An element takes image fields or a video_url, not both")
            if not has_images and not item.get("video_url"):
                self.add(("elements", i), "An element needs frontal_image_url, "
                         "reference_image_urls or video_url")  # fmt: skip

    def keyframes(self) -> None:
        value = self.body.get("keyframes")
        if value is None:
            return
        if not isinstance(value, list):
            self.type_error("keyframes", "array")
            return
        if len(value) > LIST_CAPS["keyframes"]:
            self.add("keyframes", "Array must contain at most 10 element(s)", code="too_big",
                     received=len(value))  # fmt: skip
        seconds = _seconds(self.body.get("duration"))
        seen: set[int] = set()
        for i, item in enumerate(value):
            if not isinstance(item, Mapping):
                self.type_error(("keyframes", i), "object")
                continue
            if "image_url" not in item:
                self.add(("keyframes", i, "image_url"), "Required", code="invalid_type")
            else:
                self.url("", ("keyframes", i, "image_url"))
            index = item.get("frame_index")
            if isinstance(index, bool) or not isinstance(index, int) or index < 0:
                self.add(("keyframes", i, "frame_index"), "frame_index must be an integer >= 0",
                         code="invalid_type", received=index)  # fmt: skip
                continue
            if index in seen:
                self.add(("keyframes", i, "frame_index"), f"frame_index {index} is used twice")
            seen.add(index)
            if seconds is not None and index > seconds * FRAMES_PER_SECOND:
                self.add(("keyframes", i, "frame_index"),
                         f"frame_index must be at most duration x 24 = {int(seconds * 24)}",
                         code="too_big", received=index)  # fmt: skip

    def consents(self) -> None:
        value = self.body.get("consents")
        if value is None:
            return
        if not isinstance(value, Mapping):
            self.type_error("consents", "object")
            return
        seedance = value.get("seedance")
        if seedance is None:
            return
        if not isinstance(seedance, Mapping):
            self.type_error(("consents", "seedance"), "object")
            return
        for flag in SEEDANCE_CONSENT_FLAGS:
            if seedance.get(flag) is not True:
                self.add(("consents", "seedance", flag), "Must be true", code="invalid_literal",
                         expected="true", received=seedance.get(flag))  # fmt: skip

    # --- one model's constraints -------------------------------------------------------

    def check_constraints(self, m: VideoModel) -> None:
        b = self.body
        queue = self.kind == "queue"
        duration = b.get("duration")
        edit_auto = duration in ("-1", "auto") and not m.auto_duration
        if isinstance(duration, str) and duration in self.known["duration"]:
            if m.auto_duration:
                if duration.lower() != "auto":
                    self.add("duration", f"{m.id} takes its duration from the input video; "
                             "send 'Auto' or leave duration out", code="invalid_enum_value",
                             received=duration, allowed=m.durations or ("Auto",))  # fmt: skip
            elif edit_auto:
                has_refs = (
                    bool(b.get("reference_video_urls"))
                    if queue
                    else (b.get("reference_video_total_duration") is not None)
                )
                if "seedance-2-5" not in m.id or "reference" not in m.id:
                    self.add("duration", f"duration {duration!r} is only for Seedance 2.5 "
                             f"reference-to-video edits; {m.id} accepts {_options(m.durations)}",
                             code="invalid_enum_value", received=duration, allowed=m.durations,
                             suggestion=suggest(duration, m.durations))  # fmt: skip
                elif not has_refs:
                    need = "reference_video_urls" if queue else "reference_video_total_duration"
                    self.add("duration", f"duration {duration!r} needs {need}")
            elif duration not in m.durations:
                self.add("duration", f"{m.id} does not support duration {duration!r}; "
                         f"allowed: {_options(m.durations)}", code="invalid_enum_value",
                         received=duration, allowed=m.durations,
                         suggestion=suggest(duration, m.durations))  # fmt: skip
        elif duration is None and not m.auto_duration:
            self.add("duration", f"Required; {m.id} accepts {_options(m.durations)}",
                     code="invalid_type", received="undefined", allowed=m.durations)  # fmt: skip

        ratio = b.get("aspect_ratio")
        if isinstance(ratio, str) and ratio in self.known["aspect_ratio"] and self.kind == "queue":
            if not m.aspect_ratios:
                # Lenient: accepted, and ignored (the output follows the input).
                if self.strict_aspect_ratio:
                    self.add("aspect_ratio", f"{m.id} does not take aspect_ratio; leave it out "
                             "(the output follows the input)", code="unrecognized_keys",
                             received=ratio)  # fmt: skip
            elif ratio not in m.aspect_ratios:
                if ratio in ("auto", "adaptive") and "seedance-2" in m.id and "reference" in m.id:
                    if not b.get("reference_video_urls"):
                        self.add(
                            "aspect_ratio", f"aspect_ratio {ratio!r} needs reference_video_urls"
                        )
                else:
                    self.add("aspect_ratio", f"{m.id} does not support aspect_ratio {ratio!r}; "
                             f"allowed: {_options(m.aspect_ratios)}", code="invalid_enum_value",
                             received=ratio, allowed=m.aspect_ratios,
                             suggestion=suggest(ratio, m.aspect_ratios))  # fmt: skip

        resolution = b.get("resolution")
        if isinstance(resolution, str) and resolution in self.known["resolution"]:
            if m.is_upscale:
                factor = resolution[:-1] if resolution in ("2x", "4x") else None
                self.add("resolution", f"{m.id} is an upscaler: use upscale_factor "
                         f"({', '.join(map(str, m.upscale_factors))}) instead of resolution",
                         code="unrecognized_keys", received=resolution,
                         suggestion=int(factor) if factor else None)  # fmt: skip
            elif not m.resolutions:
                self.add("resolution", f"{m.id} does not take resolution; leave it out",
                         code="unrecognized_keys", received=resolution)  # fmt: skip
            elif resolution not in m.resolutions:
                self.add("resolution", f"{m.id} does not support resolution {resolution!r}; "
                         f"allowed: {_options(m.resolutions)}", code="invalid_enum_value",
                         received=resolution, allowed=m.resolutions,
                         suggestion=suggest(resolution, m.resolutions))  # fmt: skip

        factor = b.get("upscale_factor")
        if factor in UPSCALE_FACTORS and not isinstance(factor, bool):
            if not m.is_upscale:
                self.add("upscale_factor", f"{m.id} is not an upscaler; upscale_factor is only for "
                         "upscale models", code="unrecognized_keys", received=factor)  # fmt: skip
            elif factor not in m.upscale_factors:
                self.add("upscale_factor", f"{m.id} supports upscale_factor "
                         f"{_options(m.upscale_factors)}", code="invalid_enum_value",
                         received=factor, allowed=m.upscale_factors)  # fmt: skip

        audio = b.get("audio")
        # `audio: true` is the spec's default, so sending it to a silent model is harmless;
        # asking an always-audio model for silence is the mistake worth stopping, at quote
        # and queue alike, so a price is never given for a request the queue refuses.
        if audio is False and m.audio and not m.audio_configurable:
            self.add("audio", f"{m.id} always generates audio and cannot turn it off; "
                     "leave audio out", received=audio)  # fmt: skip

        if not queue:
            return
        self.check_inputs(m)

    def check_inputs(self, m: VideoModel) -> None:
        b = self.body
        prompt = b.get("prompt")
        if m.needs_prompt and not prompt:
            if "prompt" not in b:
                self.add("prompt", "Required", code="invalid_type", expected="string",
                         received="undefined")  # fmt: skip
        limit = m.prompt_character_limit
        for name in ("prompt", "negative_prompt"):
            text = b.get(name)
            if isinstance(text, str) and len(text) > limit:
                self.add(name, f"{m.id} accepts at most {limit} characters; got {len(text)}",
                         code="too_big", received=len(text))  # fmt: skip

        def given(name: str) -> bool:
            return bool(b.get(name))

        if m.model_type == "text-to-video":
            for name in ("image_url", "end_image_url", "video_url"):
                if given(name):
                    self.add(name, f"{m.id} is a text-to-video model and takes no {name}; "
                             "pick an image-to-video or video model for that input")  # fmt: skip
        elif m.model_type == "image-to-video":
            if m.is_reference_to_video:
                if not any(given(n) for n in ("reference_image_urls", "elements",
                                              "scene_image_urls", "image_url",
                                              "reference_video_urls")):  # fmt: skip
                    self.add("reference_image_urls", f"{m.id} needs reference images: "
                             "reference_image_urls, elements or scene_image_urls")  # fmt: skip
            elif not given("image_url"):
                self.add("image_url", f"Required: {m.id} is an image-to-video model and needs "
                         "image_url (an http(s) or data: URL)", code="invalid_type",
                         received="undefined")  # fmt: skip
            if m.needs_end_image and not given("end_image_url"):
                self.add("end_image_url", f"Required: {m.id} needs end_image_url, the last frame",
                         code="invalid_type", received="undefined")  # fmt: skip
            if given("video_url") and not m.video_input:
                self.add("video_url", f"{m.id} takes no video_url")
        else:
            if not given("video_url"):
                self.add("video_url", f"Required: {m.id} is a video model and needs video_url",
                         code="invalid_type", received="undefined")  # fmt: skip
        if given("audio_url") and not m.audio_input:
            self.add("audio_url", f"{m.id} takes no audio input (audio_url)")
        if given("reference_audio_urls") and not (
            given("reference_image_urls") or given("reference_video_urls")
        ):
            self.add("reference_audio_urls", "reference_audio_urls must come with at least one "
                     "reference image or reference video")  # fmt: skip
        for name in ("elements", "scene_image_urls", *REFERENCE_FIELDS):
            if given(name) and not m.is_reference_to_video:
                self.add(name, f"{m.id} takes no {name}; use a reference-to-video model",
                         code="unrecognized_keys")  # fmt: skip
        if given("omni_reference_task_type") and not (
            "seedance-2-5" in m.id and m.is_reference_to_video
        ):
            self.add("omni_reference_task_type", "omni_reference_task_type is only for Seedance "
                     "2.5 reference-to-video")  # fmt: skip
        if given("bitrate_mode") and "seedance-2" not in m.id:
            self.add("bitrate_mode", "bitrate_mode is only accepted by Seedance 2.x models",
                     code="unrecognized_keys")  # fmt: skip


def _seconds(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*s?\s*", value)
        if match:
            return float(match.group(1))
    return None


def _is_url(value: str) -> bool:
    return value.startswith(("http://", "https://", "data:"))


def _options(values: Sequence[Any]) -> str:
    return " | ".join(quote_value(v) for v in values) if values else "(none)"


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
