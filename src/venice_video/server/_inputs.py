"""Fetching and checking a queue request's media, and turning the request into render settings.

Everything here runs inside the queue request, before any money moves, so a URL that cannot
be fetched or a file that cannot be decoded is a 400 naming the field rather than a job that
fails later.
"""

from __future__ import annotations

import asyncio
import io
import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .._catalog import VideoModel
from .._validation import Issue, error_body
from ._http import HTTPError, json_reply
from ._pricing import duration_seconds, has_audio

__all__ = [
    "Fetched",
    "Prepared",
    "collect_urls",
    "fetch_media",
    "prepare",
    "reference_total_s",
    "render_params",
]

Kind = Literal["image", "video", "audio", "document"]
PathT = tuple[str | int, ...]

#: audio_url limits from the spec: WAV or MP3, at most 30 s and 15 MB (decimal megabytes, as
#: every size in the spec).
AUDIO_URL_MAX_S = 30.0
AUDIO_URL_MAX_BYTES = 15_000_000
#: The spec's ceiling for a quote's reference_video_total_duration ("max 150s").
REFERENCE_TOTAL_MAX_S = 150.0
MAX_OUTPUT_SIDE = 8192
MAX_AUTO_DURATION_S = 30.0


@dataclass(frozen=True)
class _Want:
    path: PathT
    url: str
    kind: Kind
    #: The RenderSpec field the bytes feed, if any.
    target: str | None


@dataclass
class Fetched:
    path: PathT
    kind: Kind
    target: str | None
    data: bytes
    width: int = 0
    height: int = 0
    duration_s: float | None = None


@dataclass
class Prepared:
    """A queue request's media, fetched and checked."""

    media: dict[str, list[bytes]] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    #: Length of the input video, or the total of the reference videos.
    input_duration_s: float | None = None
    video_size: tuple[int, int] | None = None


def collect_urls(body: Mapping[str, Any]) -> list[_Want]:
    """Every media URL in a (schema-valid) queue body, with where its bytes go."""
    wants: list[_Want] = []

    def add(path: PathT, value: object, kind: Kind, target: str | None) -> None:
        if isinstance(value, str) and value:
            wants.append(_Want(path, value, kind, target))

    add(("image_url",), body.get("image_url"), "image", "image")
    add(("end_image_url",), body.get("end_image_url"), "image", "end_image")
    add(("audio_url",), body.get("audio_url"), "audio", "audio_track")
    add(("video_url",), body.get("video_url"), "video", "video")
    lists: tuple[tuple[str, Kind, str | None], ...] = (
        ("reference_image_urls", "image", "reference_images"),
        ("scene_image_urls", "image", "scene_images"),
        ("reference_video_urls", "video", None),
        ("reference_audio_urls", "audio", None),
        ("reference_document_urls", "document", None),
    )
    for name, kind, target in lists:
        for i, url in enumerate(body.get(name) or ()):
            add((name, i), url, kind, target)
    for i, element in enumerate(body.get("elements") or ()):
        if not isinstance(element, Mapping):
            continue
        add(("elements", i, "frontal_image_url"), element.get("frontal_image_url"), "image",
            "element_images")  # fmt: skip
        for j, url in enumerate(element.get("reference_image_urls") or ()):
            add(("elements", i, "reference_image_urls", j), url, "image", "element_images")
        add(("elements", i, "video_url"), element.get("video_url"), "video", None)
    for i, frame in enumerate(body.get("keyframes") or ()):
        if isinstance(frame, Mapping):
            add(("keyframes", i, "image_url"), frame.get("image_url"), "image", None)
    return wants


async def fetch_media(wants: list[_Want], *, policy: Any) -> tuple[list[Fetched], list[Issue]]:
    """Fetch every URL concurrently; a failure becomes an issue at that field."""
    from ._fetch import FetchError, fetch_input

    async def one(want: _Want) -> Fetched | Issue:
        label = _label(want.path)
        try:
            _mime, data = await fetch_input(want.url, policy=policy, field=label)
        except FetchError as exc:
            return Issue(want.path, f"{label}: {exc.reason}", code="invalid_url")
        if not data:
            return Issue(want.path, f"{label}: the media is empty (0 bytes)", code="invalid_media")
        return Fetched(want.path, want.kind, want.target, data)

    results = await asyncio.gather(*(one(w) for w in wants))
    fetched = [r for r in results if isinstance(r, Fetched)]
    issues = [r for r in results if isinstance(r, Issue)]
    return fetched, issues


def inspect(items: list[Fetched], model: VideoModel | None) -> list[Issue]:
    """Decode enough of each input to know it is usable (blocking: run in a thread)."""
    issues: list[Issue] = []
    for item in items:
        label = _label(item.path)
        if item.kind == "image":
            issues += _inspect_image(item, label, model)
        elif item.kind == "video":
            issues += _inspect_video(item, label, model)
        elif item.kind == "audio":
            issues += _inspect_audio(item, label)
    return issues


def _inspect_image(item: Fetched, label: str, model: VideoModel | None) -> list[Issue]:
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(item.data)) as img:
                item.width, item.height = img.size
                img.verify()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return [Issue(item.path, f"{label}: the image has too many pixels", code="invalid_media")]
    except Exception:
        return [
            Issue(
                item.path,
                f"{label}: not a decodable image (PNG, JPEG, WebP...)",
                code="invalid_media",
            )  # fmt: skip
        ]
    if model is None or item.width <= 0 or item.height <= 0:
        return []
    issues = []
    short = min(item.width, item.height)
    need = model.reference_image_min_short_side_pixels
    if need is not None and short < need:
        issues.append(
            Issue(
                item.path,
                f"{label}: the image is {item.width}x{item.height}; {model.id} needs "
                f"a short side of at least {need} pixels",
                code="too_small",
                received=short,
            )  # fmt: skip
        )
    ratio = item.width / item.height
    low, high = model.reference_image_min_aspect_ratio, model.reference_image_max_aspect_ratio
    if (low is not None and ratio < low) or (high is not None and ratio > high):
        issues.append(
            Issue(
                item.path,
                f"{label}: aspect ratio {ratio:.2f} is outside the range "
                f"{low or 0:g}..{high or math.inf:g} that {model.id} accepts",
            )  # fmt: skip
        )
    return issues


def _inspect_video(item: Fetched, label: str, model: VideoModel | None) -> list[Issue]:
    from ._render import RenderError, probe

    try:
        info = probe(item.data, field=label)
    except (RenderError, ValueError, OSError):
        return [
            Issue(
                item.path,
                f"{label}: not a decodable video (MP4, MOV or WebM)",
                code="invalid_media",
            )  # fmt: skip
        ]
    if info.width <= 0 or info.height <= 0 or info.frames <= 0:
        return [Issue(item.path, f"{label}: the file has no video frames", code="invalid_media")]
    item.width, item.height, item.duration_s = info.width, info.height, info.duration_s
    return []


def _inspect_audio(item: Fetched, label: str) -> list[Issue]:
    from ..media import probe_audio

    try:
        info = probe_audio(item.data)
    except Exception:
        info = None
    if info is None or info.duration_s is None or info.duration_s <= 0:
        return [
            Issue(item.path, f"{label}: not decodable audio (WAV or MP3)", code="invalid_media")
        ]
    item.duration_s = info.duration_s
    if item.path == ("audio_url",):
        if info.duration_s > AUDIO_URL_MAX_S + 0.05:
            return [
                Issue(
                    item.path,
                    f"audio_url: the audio is {info.duration_s:.1f} s long; at most "
                    f"{AUDIO_URL_MAX_S:g} s is accepted",
                    code="too_big",
                    received=round(info.duration_s, 2),
                )  # fmt: skip
            ]
        if len(item.data) > AUDIO_URL_MAX_BYTES:
            return [
                Issue(
                    item.path,
                    "audio_url: the audio is larger than 15 MB",
                    code="too_big",
                    received=len(item.data),
                )  # fmt: skip
            ]
    return []


async def prepare(
    body: Mapping[str, Any], model: VideoModel, *, policy: Callable[[], Any]
) -> Prepared:
    """Fetch and check all media of a queue body for `model`.

    Args:
        body: a schema-valid queue body.
        model: its model.
        policy: makes the `FetchPolicy` (called only when there is something to fetch).
    """
    prepared = Prepared()
    wants = collect_urls(body)
    fetched: list[Fetched] = []
    if wants:
        fetched, prepared.issues = await fetch_media(wants, policy=policy())
    if fetched:
        prepared.issues += await asyncio.to_thread(inspect, fetched, model)
    if prepared.issues:
        return prepared
    for item in fetched:
        if item.target is not None:
            prepared.media.setdefault(item.target, []).append(item.data)
        if item.path == ("video_url",):
            prepared.input_duration_s = item.duration_s
            prepared.video_size = (item.width, item.height)
    if prepared.input_duration_s is None:
        refs = [i.duration_s or 0.0 for i in fetched if i.path[0] == "reference_video_urls"]
        if refs:
            prepared.input_duration_s = min(sum(refs), MAX_AUTO_DURATION_S)
    factor = body.get("upscale_factor", 2) if model.is_upscale else None
    if factor and prepared.video_size is not None:
        width, height = prepared.video_size
        if max(width, height) * int(factor) > MAX_OUTPUT_SIDE:
            prepared.issues.append(
                Issue(
                    ("upscale_factor",),
                    f"upscaling {width}x{height} by {factor} exceeds "
                    f"{MAX_OUTPUT_SIDE} pixels per side",
                    code="too_big",
                    received=factor,
                )  # fmt: skip
            )
    return prepared


def reference_total_s(body: Mapping[str, Any]) -> float:
    """A quote's `reference_video_total_duration` in seconds, or 400 past the spec's 150 s.

    The schema gives only `minimum: 0`; the field's description caps it at 150 s, and a
    larger number (up to 1e308) would only overflow the price.
    """
    total = float(body["reference_video_total_duration"])
    if total > REFERENCE_TOTAL_MAX_S:
        issue = Issue(
            ("reference_video_total_duration",),
            f"Number must be less than or equal to {REFERENCE_TOTAL_MAX_S:g}",
            code="too_big",
            received=total if total < 1e9 else "a number over 1e9",
        )
        raise HTTPError(json_reply(400, error_body([issue])))
    return total


def render_params(
    model: VideoModel, body: Mapping[str, Any], prepared: Prepared, *, seed: int
) -> dict[str, Any]:
    """The render settings (everything but the media) for a validated queue body."""
    from ._render import dimensions_for, dimensions_for_image

    prompt = body.get("prompt") if isinstance(body.get("prompt"), str) else ""
    params: dict[str, Any] = {"prompt": prompt, "seed": seed, "fps": 24}
    if model.is_upscale:
        factor = body.get("upscale_factor", 2)
        width, height = prepared.video_size or (0, 0)
        params.update(
            upscale_factor=int(factor),
            width=width * int(factor),
            height=height * int(factor),
            duration_s=prepared.input_duration_s or 5.0,
            audio=False,
        )
        return params
    resolution = body.get("resolution")
    if not isinstance(resolution, str):
        resolution = _default_resolution(model)
    ratio = body.get("aspect_ratio")
    ratio = ratio if isinstance(ratio, str) else None
    images = prepared.media.get("image")
    if (ratio is None or ratio in ("auto", "adaptive")) and images:
        width, height = dimensions_for_image(resolution, images[0])
    elif (ratio is None or ratio in ("auto", "adaptive")) and prepared.video_size:
        width, height = _follow(resolution, *prepared.video_size)
    else:
        if ratio is None and model.aspect_ratios and "16:9" not in model.aspect_ratios:
            ratio = next((r for r in model.aspect_ratios if r not in ("auto", "adaptive")), None)
        width, height = dimensions_for(resolution, ratio)
    duration = duration_seconds(body.get("duration"), input_duration_s=prepared.input_duration_s)
    params.update(
        width=width,
        height=height,
        duration_s=min(duration, MAX_AUTO_DURATION_S) if model.auto_duration else duration,
        audio=has_audio(model, body),
        upscale_factor=None,
    )
    return params


def _default_resolution(model: VideoModel) -> str:
    usable = [r for r in model.resolutions if r not in ("2x", "4x")]
    if not usable or "720p" in usable:
        return "720p"
    return usable[0]


def _follow(resolution: str, width: int, height: int) -> tuple[int, int]:
    from ._render import dimensions_for

    short = min(dimensions_for(resolution, "1:1"))
    ratio = min(2.5, max(0.4, width / height))
    if ratio >= 1:
        return 2 * round(short * ratio / 2), short
    return short, 2 * round(short / ratio / 2)


def _label(path: PathT) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text
