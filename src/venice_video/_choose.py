"""Picking a model by need and price.

`Catalog.matching()` says which models can make a video (inputs, sound, duration,
resolution, aspect ratio); the client methods here price each of them with `/video/quote`
(free) and sort them cheapest first. Quotes are cached per API and request for a day, on
disk next to the model catalog, so a second listing asks nothing.

```python
with VeniceVideo() as client:
    for choice in client.models_by_price(needs="image,audio", duration="10s",
                                         resolution="720p"):
        print(choice.id, choice.quote_usd)
    best = client.cheapest_model(needs="audio", duration="5s")
```
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ._catalog import INPUT_NEEDS, Catalog, VideoModel, normal_duration, parse_needs
from ._effects import Flow, call
from ._endpoints import models_flow, quote_flow
from ._exceptions import APIError, BadRequestError, ValidationError
from ._modelcache import QuoteCache
from ._models import QuoteRequest, QuoteResponse
from ._validation import Issue

if TYPE_CHECKING:
    from ._modelcache import ModelCache

__all__ = [
    "CHEAPEST",
    "AsyncModelChoice",
    "ModelChoice",
    "PricedModel",
    "cheapest_query",
    "fill_from_choice",
    "quote_shape",
]

#: The model name that asks for the cheapest model able to make the video (CLI, MCP, gallery).
CHEAPEST = "cheapest"
# Generate-style media arguments and the need each one is.
_INPUT_FIELDS = {
    "image": "image",
    "end_image": "end_image",
    "video": "video",
    "audio_input": "audio_input",
    "reference_images": "reference",
    "elements": "elements",
    "scene_images": "scene_images",
}


def cheapest_query(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The `cheapest_model()` arguments for a generate-style request.

    The inputs given (image, video, ...) and the audio choice are the needs; the duration,
    resolution and aspect ratio given must be taken, and the prompt must fit.
    """
    needs = [need for name, need in _INPUT_FIELDS.items() if fields.get(name)]
    if fields.get("audio") is not None:
        needs.append("audio" if fields["audio"] else "silent")
    if fields.get("upscale_factor") is not None:
        needs.append("upscale")
    return {
        "needs": needs,
        "duration": fields.get("duration"),
        "resolution": fields.get("resolution"),
        "aspect_ratio": fields.get("aspect_ratio"),
        "inputs_given": [n for n in needs if n in INPUT_NEEDS],
        "prompt_length": len(fields.get("prompt") or "") or None,
    }


def fill_from_choice(fields: dict[str, Any], choice: PricedModel) -> None:
    """Put the chosen model, and the duration, resolution and audio it was priced at, into
    `fields`, so the request sent is the one whose quote was compared and shown (in that
    model's spelling: `480P` where it lists `480P` for the `480p` asked)."""
    fields["model"] = choice.id
    if choice.request is None:
        return
    for name in ("duration", "resolution", "audio"):
        value = getattr(choice.request, name)
        if value is not None:
            fields[name] = value


T = TypeVar("T")


@dataclass(frozen=True)
class PricedModel:
    """A model that can make the video asked for, and what it would cost.

    Attributes:
        model: the model.
        request: the quote that was asked (the shape priced: duration, resolution, audio).
        quote_usd: the price in USD, or `None` when it cannot be known without the input
            (upscale and video-to-video models price by the input's length) or the quote
            failed (`note` says why).
        note: why there is no price.
    """

    model: VideoModel
    request: QuoteRequest | None
    quote_usd: float | None
    note: str = ""

    @property
    def id(self) -> str:
        return self.model.id

    @property
    def shape(self) -> str:
        """The priced shape in short, e.g. `10s 720p audio`."""
        if self.request is None:
            return "-"
        parts = [self.request.duration or "", self.request.resolution or ""]
        sound = self.request.audio if self.request.audio is not None else self.model.audio
        parts.append("audio" if sound else "silent")
        return " ".join(p for p in parts if p)


def quote_shape(
    model: VideoModel,
    *,
    duration: str | int | None = None,
    resolution: str | None = None,
    audio: bool | None = None,
) -> QuoteRequest | None:
    """The quote for `model` at the values given, its defaults filling the rest.

    The defaults are the model's shortest duration and 720p (or its first resolution); audio
    is sent only to models that can turn it on and off. `None` for models priced by the
    length of an input video, which a quote without that video cannot price.
    """
    if model.priced_by_input and (model.is_upscale or model.auto_duration):
        return None
    body: dict[str, Any] = {"model": model.id}
    wanted = normal_duration(duration)
    body["duration"] = wanted if wanted in model.durations else model.default_duration
    if resolution is not None and model.takes(resolution=resolution):
        body["resolution"] = model.resolution_label(resolution)
    elif model.default_resolution is not None:
        body["resolution"] = model.default_resolution
    if model.audio and model.audio_configurable:
        body["audio"] = True if audio is None else audio
    return QuoteRequest.model_validate({k: v for k, v in body.items() if v is not None})


def _price_flow(
    client: Any,
    *,
    needs: Iterable[str] | str,
    duration: str | int | None,
    resolution: str | None,
    aspect_ratio: str | None,
    model_type: str | None,
    inputs_given: Iterable[str] | str | None,
    prompt_length: int | None,
    refresh: bool,
) -> Flow[list[PricedModel]]:
    wanted = parse_needs(needs)
    catalog: Catalog = yield from models_flow(client, refresh)
    chosen = catalog.matching(
        needs=wanted,
        duration=duration,
        resolution=resolution,
        aspect_ratio=aspect_ratio,
        model_type=model_type,
        inputs_given=inputs_given,
    )
    if prompt_length:
        chosen = [m for m in chosen if m.prompt_character_limit >= prompt_length]
    audio = True if "audio" in wanted else (False if "silent" in wanted else None)
    cache = _quote_cache(client)
    yield from call(cache.load, client.base_url)
    priced: list[PricedModel] = []
    unreachable = ""
    for model in chosen:
        request = quote_shape(model, duration=duration, resolution=resolution, audio=audio)
        if request is None:
            priced.append(PricedModel(model, None, None, "priced by the input's length"))
            continue
        body = request.to_body()
        quote = None if refresh else cache.get(client.base_url, body)
        note = unreachable if quote is None else ""
        if quote is None and not unreachable:
            try:
                answer: QuoteResponse = yield from quote_flow(client, request)
                quote = answer.quote
                cache.put(client.base_url, body, quote)
            except (BadRequestError, ValidationError) as exc:
                note = f"not priced: {exc}".splitlines()[0][:200]
            except APIError as exc:
                # Not this request's fault, and already retried: the next would fare no better.
                note = unreachable = f"not priced: {exc.message}"[:200]
        priced.append(PricedModel(model, request, quote, note))
    yield from call(cache.save, client.base_url)
    return sorted(priced, key=_cheapest_first)


def _cheapest_first(choice: PricedModel) -> tuple[bool, float, str]:
    return (choice.quote_usd is None, choice.quote_usd or 0.0, choice.id)


def _first(priced: list[PricedModel], asked: dict[str, Any]) -> PricedModel:
    for choice in priced:
        if choice.quote_usd is not None:
            return choice
    wanted = ", ".join(f"{k}={v!r}" for k, v in asked.items() if v not in (None, (), ""))
    raise ValidationError(
        [
            Issue(
                ("model",),
                f"no model with a price can make this video ({wanted or 'anything'}); "
                "`venice-video models --needs ...` lists what each model takes",
                code="no_matching_model",
            )
        ]
    )


def _inputs(needs: Iterable[str] | str, given: Iterable[str] | str | None) -> Iterable[str] | str:
    if given is not None:
        return given
    return sorted(parse_needs(needs) & INPUT_NEEDS)


def _quote_cache(client: Any) -> QuoteCache:
    cache: QuoteCache | None = getattr(client, "_quote_cache", None)
    if cache is None:
        models: ModelCache | None = client._model_cache
        cache = QuoteCache(models.directory if models is not None else None, clock=client._wall)
        client._quote_cache = cache
    return cache


# --------------------------------------------------------------------------- the twins


class ModelChoice:
    """`models_by_price()` and `cheapest_model()` for `VeniceVideo`."""

    _quote_cache: QuoteCache | None = None

    if TYPE_CHECKING:

        def _drive(self, flow: Flow[T]) -> T: ...

    def models_by_price(
        self,
        *,
        needs: Iterable[str] | str = (),
        duration: str | int | None = None,
        resolution: str | None = None,
        aspect_ratio: str | None = None,
        model_type: str | None = None,
        inputs_given: Iterable[str] | str | None = None,
        prompt_length: int | None = None,
        refresh: bool = False,
    ) -> list[PricedModel]:
        """The models that can make a video, each with its quote, cheapest first.

        Each model is priced at the duration and resolution given, its own defaults filling
        the rest (its shortest duration, 720p or its first resolution); quotes come from
        `/video/quote` (free) and are cached for a day. Models whose price needs the input
        video come last, with no price.

        Args:
            needs: what the video needs, names from `venice_video.NEEDS` (`"image,audio"`:
                a first frame in, sound out).
            duration: a duration every model listed must take (`"10s"` or `10`).
            resolution: a resolution every model listed must take (`"720p"`).
            aspect_ratio: an aspect ratio every model listed must take.
            model_type: `text-to-video`, `image-to-video` or `video`.
            inputs_given: the inputs at hand; models that require others are left out.
            prompt_length: the prompt's length in characters; models whose prompt limit is
                shorter are left out.
            refresh: fetch the catalog and every quote again.

        Raises:
            ValueError: a need that is not in `NEEDS`.
        """
        return self._drive(
            _price_flow(
                self, needs=needs, duration=duration, resolution=resolution,
                aspect_ratio=aspect_ratio, model_type=model_type, inputs_given=inputs_given,
                prompt_length=prompt_length, refresh=refresh,
            )
        )  # fmt: skip

    def cheapest_model(
        self,
        *,
        needs: Iterable[str] | str = (),
        duration: str | int | None = None,
        resolution: str | None = None,
        aspect_ratio: str | None = None,
        model_type: str | None = None,
        inputs_given: Iterable[str] | str | None = None,
        prompt_length: int | None = None,
        refresh: bool = False,
    ) -> PricedModel:
        """The cheapest model that can make a video (see `models_by_price()`), with its quote.

        Unless `inputs_given` says otherwise, the inputs at hand are the prompt and the inputs
        named in `needs`: `needs="audio"` picks among text-to-video models, `"image"` among
        models that need nothing but a first frame.

        Raises:
            ValidationError: no model with a known price can make it.
        """
        asked = {"needs": needs, "duration": duration, "resolution": resolution,
                 "aspect_ratio": aspect_ratio, "model_type": model_type,
                 "prompt_length": prompt_length}  # fmt: skip
        priced = self.models_by_price(
            needs=needs, duration=duration, resolution=resolution, aspect_ratio=aspect_ratio,
            model_type=model_type, inputs_given=_inputs(needs, inputs_given),
            prompt_length=prompt_length, refresh=refresh,
        )  # fmt: skip
        return _first(priced, asked)


class AsyncModelChoice:
    """`models_by_price()` and `cheapest_model()` for `AsyncVeniceVideo`."""

    _quote_cache: QuoteCache | None = None

    if TYPE_CHECKING:

        async def _drive(self, flow: Flow[T]) -> T: ...

    async def models_by_price(
        self,
        *,
        needs: Iterable[str] | str = (),
        duration: str | int | None = None,
        resolution: str | None = None,
        aspect_ratio: str | None = None,
        model_type: str | None = None,
        inputs_given: Iterable[str] | str | None = None,
        prompt_length: int | None = None,
        refresh: bool = False,
    ) -> list[PricedModel]:
        """The models that can make a video, each with its quote, cheapest first.

        Each model is priced at the duration and resolution given, its own defaults filling
        the rest (its shortest duration, 720p or its first resolution); quotes come from
        `/video/quote` (free) and are cached for a day. Models whose price needs the input
        video come last, with no price.

        Args:
            needs: what the video needs, names from `venice_video.NEEDS` (`"image,audio"`:
                a first frame in, sound out).
            duration: a duration every model listed must take (`"10s"` or `10`).
            resolution: a resolution every model listed must take (`"720p"`).
            aspect_ratio: an aspect ratio every model listed must take.
            model_type: `text-to-video`, `image-to-video` or `video`.
            inputs_given: the inputs at hand; models that require others are left out.
            prompt_length: the prompt's length in characters; models whose prompt limit is
                shorter are left out.
            refresh: fetch the catalog and every quote again.

        Raises:
            ValueError: a need that is not in `NEEDS`.
        """
        return await self._drive(
            _price_flow(
                self, needs=needs, duration=duration, resolution=resolution,
                aspect_ratio=aspect_ratio, model_type=model_type, inputs_given=inputs_given,
                prompt_length=prompt_length, refresh=refresh,
            )
        )  # fmt: skip

    async def cheapest_model(
        self,
        *,
        needs: Iterable[str] | str = (),
        duration: str | int | None = None,
        resolution: str | None = None,
        aspect_ratio: str | None = None,
        model_type: str | None = None,
        inputs_given: Iterable[str] | str | None = None,
        prompt_length: int | None = None,
        refresh: bool = False,
    ) -> PricedModel:
        """The cheapest model that can make a video (see `models_by_price()`), with its quote.

        Unless `inputs_given` says otherwise, the inputs at hand are the prompt and the inputs
        named in `needs`: `needs="audio"` picks among text-to-video models, `"image"` among
        models that need nothing but a first frame.

        Raises:
            ValidationError: no model with a known price can make it.
        """
        asked = {"needs": needs, "duration": duration, "resolution": resolution,
                 "aspect_ratio": aspect_ratio, "model_type": model_type,
                 "prompt_length": prompt_length}  # fmt: skip
        priced = await self.models_by_price(
            needs=needs, duration=duration, resolution=resolution, aspect_ratio=aspect_ratio,
            model_type=model_type, inputs_given=_inputs(needs, inputs_given),
            prompt_length=prompt_length, refresh=refresh,
        )  # fmt: skip
        return _first(priced, asked)


for _cls in (PricedModel, ModelChoice, AsyncModelChoice):
    _cls.__module__ = "venice_video"
del _cls
