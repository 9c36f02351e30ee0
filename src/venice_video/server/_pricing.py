"""Prices for quotes, queued jobs and transcriptions, from a configurable table."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from .._catalog import VideoModel
from ._config import PricingTable

__all__ = ["DEFAULT_DURATION_S", "duration_seconds", "quote_usd", "transcription_usd"]

#: Length assumed for "1 gen" and for auto durations with nothing to measure.
DEFAULT_DURATION_S = 5.0
_SECONDS = re.compile(r"^(\d+)s$")


def duration_seconds(duration: object, *, input_duration_s: float | None = None) -> float:
    """Seconds of output for a wire `duration`; auto values follow the input when known."""
    if isinstance(duration, str):
        match = _SECONDS.match(duration)
        if match:
            return float(match.group(1))
    if input_duration_s is not None and input_duration_s > 0:
        return float(input_duration_s)
    return DEFAULT_DURATION_S


def _multiplier(table: PricingTable, model_id: str) -> float:
    if model_id in table.model_multipliers:
        return table.model_multipliers[model_id]
    for token, factor in table.family_multipliers.items():
        if token in model_id:
            return factor
    return 1.0


def _round(amount: float, minimum: float) -> float:
    # Six decimals: micro-USD, the unit balances are kept in.
    return max(minimum, math.ceil(amount * 1_000_000 - 1e-6) / 1_000_000)


def quote_usd(
    table: PricingTable,
    model: VideoModel,
    body: Mapping[str, Any],
    *,
    input_duration_s: float | None = None,
) -> float:
    """The price of a generation described by a quote or queue body.

    Args:
        table: the pricing table.
        model: the model, already validated.
        body: the request body (only `duration`, `resolution`, `audio` and `upscale_factor`
            matter).
        input_duration_s: length of the input video (upscale, video-to-video, auto durations),
            or the total length of the reference videos.
    """
    multiplier = _multiplier(table, model.id)
    if model.is_upscale:
        factor = body.get("upscale_factor")
        factor = factor if isinstance(factor, int) and not isinstance(factor, bool) else 2
        rate = table.upscale_per_second_usd.get(factor, table.upscale_per_second_usd.get(2, 0.025))
        seconds = input_duration_s if input_duration_s else DEFAULT_DURATION_S
        return _round(seconds * rate * multiplier, table.minimum_usd)
    seconds = duration_seconds(body.get("duration"), input_duration_s=input_duration_s)
    resolution = body.get("resolution")
    rate = table.default_per_second_usd
    if isinstance(resolution, str):
        rate = table.per_second_usd.get(resolution.lower(), rate)
    if has_audio(model, body):
        rate += table.audio_per_second_usd
    return _round(seconds * rate * multiplier, table.minimum_usd)


def has_audio(model: VideoModel, body: Mapping[str, Any]) -> bool:
    """Whether the output will carry an audio track."""
    if not model.audio:
        return False
    if model.audio_configurable:
        return body.get("audio", True) is not False
    return True


def transcription_usd(table: PricingTable, seconds: float, *, video: bool = False) -> float:
    rate = (
        table.video_transcription_per_second_usd
        if video
        else table.audio_transcription_per_second_usd
    )
    return _round(max(seconds, 0.0) * rate, table.minimum_usd)
