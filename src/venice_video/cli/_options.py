"""The request options shared by `generate`, `quote` and `batch` rows."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import click

from .._types import ASPECT_RATIOS, DURATIONS, RESOLUTIONS

__all__ = ["request_options", "request_fields"]

F = TypeVar("F", bound=Callable[..., Any])


def _duration(value: str | None) -> str | None:
    # "5" and "5s" both mean five seconds; the API wants the suffix.
    if value is None:
        return None
    value = value.strip()
    return f"{value}s" if value.isdigit() else value


def request_options(func: F) -> F:
    """Decorate a command with every request option (model, duration, inputs, ...)."""
    options = [
        click.option("-m", "--model", help="Model id (see `venice-video models`)."),
        click.option(
            "-d", "--duration", help="Duration, e.g. 5s (model-specific; `Auto` for upscalers)."
        ),
        click.option(
            "-a", "--aspect", "aspect_ratio", help=f"Aspect ratio: {', '.join(ASPECT_RATIOS[:11])}."
        ),
        click.option("-r", "--resolution", help="Resolution, e.g. 720p (model-specific)."),
        click.option(
            "--audio/--no-audio",
            default=None,
            help="Generate an audio track (audio-configurable models).",
        ),
        click.option("--negative", "negative_prompt", help="What to avoid."),
        click.option("--image", help="First frame: a path or URL (image-to-video)."),
        click.option("--end-image", help="Last frame: a path or URL (transition models)."),
        click.option(
            "--audio-file", "audio_input", help="Soundtrack: WAV or MP3 path or URL, at most 30 s."
        ),
        click.option("--video", help="Source video: a path or URL (video-to-video, upscale)."),
        click.option(
            "--ref", "reference_images", multiple=True, help="Reference image (repeatable)."
        ),
        click.option(
            "--element",
            "elements",
            multiple=True,
            help="Element: FRONTAL[,REF...] image paths/URLs, or video=PATH (repeatable).",
        ),
        click.option("--scene", "scene_images", multiple=True, help="Scene image (repeatable)."),
        click.option(
            "--upscale",
            "upscale_factor",
            type=click.Choice(["1", "2", "4"]),
            help="Upscale factor (upscale models).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _element(spec: str) -> dict[str, Any]:
    if spec.startswith("video="):
        return {"video": spec.removeprefix("video=")}
    parts = [p for p in spec.split(",") if p]
    if not parts:
        raise click.BadParameter("an element needs at least one image", param_hint="--element")
    element: dict[str, Any] = {"frontal_image": parts[0]}
    if parts[1:]:
        element["reference_images"] = parts[1:]
    return element


def request_fields(values: Mapping[str, Any], *, default_model: str) -> dict[str, Any]:
    """The SDK keyword arguments for the request options given."""
    duration = _duration(values.get("duration"))
    if duration is not None and duration not in DURATIONS:
        raise click.BadParameter(
            f"{duration!r} is not a duration the API knows (1s..30s or Auto)",
            param_hint="--duration",
        )
    resolution = values.get("resolution")
    if resolution is not None and resolution not in RESOLUTIONS:
        lowered = {r.lower(): r for r in RESOLUTIONS}
        resolution = lowered.get(str(resolution).lower(), resolution)
    fields: dict[str, Any] = {
        "model": values.get("model") or default_model,
        "duration": duration,
        "aspect_ratio": values.get("aspect_ratio"),
        "resolution": resolution,
        "audio": values.get("audio"),
        "negative_prompt": values.get("negative_prompt"),
        "image": values.get("image"),
        "end_image": values.get("end_image"),
        "audio_input": values.get("audio_input"),
        "video": values.get("video"),
        "reference_images": list(values.get("reference_images") or ()) or None,
        "elements": [_element(e) for e in values.get("elements") or ()] or None,
        "scene_images": list(values.get("scene_images") or ()) or None,
        "upscale_factor": int(values["upscale_factor"]) if values.get("upscale_factor") else None,
    }
    return {k: v for k, v in fields.items() if v is not None}
