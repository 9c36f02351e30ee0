"""Prices for quotes, queued jobs and transcriptions.

Video prices are Venice's own: `data/video-prices.json` holds the live `/video/quote` answer
for every resolution x duration x audio combination of every model of the 2026-09-29 catalog,
and a listed combination costs exactly that. Anything else follows a rule fitted to that data
(see `PriceBook.price` and docs/server.md), so a duration, a model or an input length the
list does not cover still gets a price in line with its neighbours.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from collections import defaultdict
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from importlib import resources
from typing import Any

from .._catalog import VideoModel
from ._config import PricingTable

__all__ = [
    "DEFAULT_DURATION_S",
    "PriceBook",
    "bundled_prices",
    "duration_seconds",
    "has_audio",
    "quote_usd",
    "transcription_usd",
]

#: Length assumed for "1 gen" and for auto durations with nothing to measure.
DEFAULT_DURATION_S = 5.0
_SECONDS = re.compile(r"^(\d+)s$")
#: The short side of each resolution label, for the catalog-wide fallback.
_HEIGHTS = {
    "256p": 256, "360p": 360, "480p": 480, "540p": 540, "580p": 580, "720p": 720,
    "768p": 768, "1080p": 1080, "true_1080p": 1080, "1440p": 1440, "2k": 1440,
    "2160p": 2160, "4k": 2160,
}  # fmt: skip
NO_RESOLUTION = "-"
CENT = Decimal("0.01")


def duration_seconds(duration: object, *, input_duration_s: float | None = None) -> float:
    """Seconds of output for a wire `duration`; auto values follow the input when known."""
    if isinstance(duration, str):
        match = _SECONDS.match(duration)
        if match:
            return float(match.group(1))
    if input_duration_s is not None and input_duration_s > 0:
        return float(input_duration_s)
    return DEFAULT_DURATION_S


def has_audio(model: VideoModel, body: Mapping[str, Any]) -> bool:
    """Whether the output will carry an audio track."""
    if not model.audio:
        return False
    if model.audio_configurable:
        return body.get("audio", True) is not False
    return True


class PriceBook:
    """Venice's listed video prices, and per-second rates fitted to them.

    Args:
        quotes: model id to `"resolution|duration|audio"` to USD (resolution `-` for models
            that take none, audio `on` or `off`), exactly as `/video/quote` answered.
        families: model id to its family (`wan-3-0`, `kling-o3-pro`, ...).
        generated_at: when the prices were taken from the live API.
    """

    def __init__(
        self,
        quotes: Mapping[str, Mapping[str, float]],
        families: Mapping[str, str] | None = None,
        *,
        generated_at: str = "",
    ) -> None:
        # Some models spell resolutions in capitals (`1080P`); keys are kept lower-case.
        self.quotes = {m: {k.lower(): p for k, p in q.items()} for m, q in quotes.items()}
        self.families = dict(families or {})
        self.generated_at = generated_at
        self.rates = _fit(self.quotes)
        grouped: dict[tuple[str, str, bool], list[float]] = defaultdict(list)
        by_height: dict[tuple[int, bool], list[float]] = defaultdict(list)
        for (model_id, label, audio), rate in self.rates.items():
            if self.families.get(model_id):
                grouped[(self.families[model_id], label, audio)].append(rate)
            if label in _HEIGHTS:
                by_height[(_HEIGHTS[label], audio)].append(rate)
        self.family_rates = {k: statistics.median(v) for k, v in grouped.items()}
        self.height_rates = {k: statistics.median(v) for k, v in by_height.items()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PriceBook:
        """Read the layout of `data/video-prices.json`."""
        models = data["models"]
        return cls(
            {k: v["quotes"] for k, v in models.items()},
            {k: str(v.get("family") or "") for k, v in models.items()},
            generated_at=str(data.get("generated_at") or ""),
        )

    @property
    def combinations(self) -> int:
        """How many priced combinations the book lists."""
        return sum(len(q) for q in self.quotes.values())

    def listed(self, model_id: str, resolution: str, duration: str, audio: bool) -> float | None:
        """The listed price of one combination, if the book has it."""
        return self.quotes.get(model_id, {}).get(_key(resolution, duration, audio))

    def price(
        self, model_id: str, resolution: str | None, seconds: float, audio: bool
    ) -> float | None:
        """The price of `seconds` of video by the fitted rule; `None` when nothing fits.

        The rate is, in order: the model's own rate at that resolution and audio setting;
        the median rate of its family at that setting (video-to-video and motion models
        borrow their siblings'); the median rate of every model at the nearest output height.
        Each model's rate is the least-squares fit through zero of its listed prices against
        their durations. The price is rate x seconds, rounded half up to the cent, at least
        one cent.
        """
        label = _label(resolution)
        rate = self.rates.get((model_id, label, audio))
        if rate is None:
            rate = self.family_rates.get((self.families.get(model_id, ""), label, audio))
        if rate is None:
            heights = [h for h, sound in self.height_rates if sound == audio]
            if not heights:
                return None
            wanted = _HEIGHTS.get(label, 720)
            nearest = min(heights, key=lambda h: (abs(h - wanted), h))
            rate = self.height_rates[(nearest, audio)]
        return to_cents(rate * seconds)


def _fit(quotes: Mapping[str, Mapping[str, float]]) -> dict[tuple[str, str, bool], float]:
    points: dict[tuple[str, str, bool], list[tuple[float, float]]] = defaultdict(list)
    for model_id, table in quotes.items():
        for key, price in table.items():
            label, duration, sound = key.split("|")
            match = _SECONDS.match(duration)
            if match:
                points[(model_id, label, sound == "on")].append((float(match.group(1)), price))
    return {k: sum(s * p for s, p in pts) / sum(s * s for s, _ in pts) for k, pts in points.items()}


@lru_cache(maxsize=1)
def bundled_prices() -> PriceBook:
    """The price list that ships with the package."""
    text = resources.files("venice_video").joinpath("data/video-prices.json").read_text("utf-8")
    return PriceBook.from_json(json.loads(text))


def to_cents(amount: float) -> float:
    """Rounded half up to the cent (as Venice's quotes are), at least one cent."""
    cents = Decimal(repr(amount)).quantize(CENT, rounding=ROUND_HALF_UP)
    return float(max(cents, CENT))


def _key(resolution: str, duration: str, audio: bool) -> str:
    return f"{_label(resolution)}|{duration.lower()}|{'on' if audio else 'off'}"


def _label(resolution: str | None) -> str:
    return resolution.lower() if resolution else NO_RESOLUTION


def _multiplier(table: PricingTable, model_id: str) -> float:
    if model_id in table.model_multipliers:
        return table.model_multipliers[model_id]
    if table.listed_prices:
        return 1.0  # the family multipliers scale the placeholder formula only
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
    prices: PriceBook | None = None,
) -> float:
    """The price of a generation described by a quote or queue body.

    Args:
        table: the server's pricing settings.
        model: the model, already validated.
        body: the request body (only `duration`, `resolution`, `audio` and `upscale_factor`
            matter).
        input_duration_s: length of the input video (upscale, video-to-video, auto durations),
            or the total length of the reference videos.
        prices: Venice's price list (default: the bundled one).
    """
    multiplier = _multiplier(table, model.id)
    if model.is_upscale:
        factor = body.get("upscale_factor")
        factor = factor if isinstance(factor, int) and not isinstance(factor, bool) else 2
        rate = table.upscale_per_second_usd.get(factor, table.upscale_per_second_usd.get(2, 0.025))
        seconds = input_duration_s if input_duration_s else DEFAULT_DURATION_S
        if table.listed_prices:
            return to_cents(seconds * rate * multiplier)
        return _round(seconds * rate * multiplier, table.minimum_usd)
    duration = body.get("duration")
    seconds = duration_seconds(duration, input_duration_s=input_duration_s)
    resolution = body.get("resolution")
    if not isinstance(resolution, str):
        resolution = model.default_resolution
    audio = has_audio(model, body)
    if table.listed_prices:
        book = prices if prices is not None else bundled_prices()
        price = None
        if isinstance(duration, str) and not model.priced_by_input:
            price = book.listed(model.id, resolution or NO_RESOLUTION, duration, audio)
        if price is None:
            price = book.price(model.id, resolution, seconds, audio)
        if price is not None:
            return price if multiplier == 1.0 else to_cents(price * multiplier)
    rate = table.default_per_second_usd
    if isinstance(resolution, str):
        rate = table.per_second_usd.get(resolution.lower(), rate)
    if audio:
        rate += table.audio_per_second_usd
    return _round(seconds * rate * multiplier, table.minimum_usd)


def transcription_usd(table: PricingTable, seconds: float, *, video: bool = False) -> float:
    rate = (
        table.video_transcription_per_second_usd
        if video
        else table.audio_transcription_per_second_usd
    )
    return _round(max(seconds, 0.0) * rate, table.minimum_usd)
