"""The free calls, one flow each: quote, complete, transcribe, the model catalog; and the
preparation of a request (local media resolved, checked against the catalog) before any
money moves. Strictly private.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pydantic

from ._catalog import Catalog, bundled_catalog, retired_model
from ._effects import Flow, call, sleep
from ._exceptions import APIError, InputError, ValidationError
from ._http import is_json
from ._inputs import drop_ignored_fields, load_for_transcription, resolve_fields
from ._models import (
    AudioTranscription,
    CompleteResponse,
    QueueRequest,
    QuoteRequest,
    QuoteResponse,
    VideoTranscription,
)
from ._types import TranscriptFormat
from ._validation import Issue, retired_issues, validate_queue, validate_quote

if TYPE_CHECKING:
    from ._base_client import BaseClient

__all__ = [
    "REQUEST_FIELDS",
    "complete_flow",
    "fetch_models_flow",
    "models_flow",
    "prepare_flow",
    "pydantic_issues",
    "quote_flow",
    "quote_request",
    "request_fields",
    "request_flow",
    "transcribe_audio_flow",
    "transcribe_flow",
    "validate_flow",
]

logger = logging.getLogger("venice_video")

#: The request arguments of `prepare()`, `submit()` and `generate()`, in signature order.
REQUEST_FIELDS = (
    "model", "prompt", "duration", "aspect_ratio", "resolution", "audio", "image", "end_image",
    "audio_input", "video", "reference_images", "reference_videos", "reference_audios",
    "reference_documents", "elements", "scene_images", "keyframes", "upscale_factor",
    "negative_prompt",
)  # fmt: skip


def quote_flow(client: BaseClient, request: QuoteRequest) -> Flow[QuoteResponse]:
    if client.validate_requests and retired_model(request.model) is not None:
        # Refused before the request, unless the live list still has the model.
        catalog = yield from models_flow(client, refresh=False)
        if retired := retired_issues(request.model, catalog):
            raise ValidationError(retired)
    response = yield from client._call_flow("POST", "/video/quote", json=request.to_body())
    return QuoteResponse.model_validate_json(response.content)


def complete_flow(client: BaseClient, model: str, queue_id: str) -> Flow[CompleteResponse]:
    body = {"model": model, "queue_id": queue_id}
    response = yield from client._call_flow("POST", "/video/complete", json=body)
    return CompleteResponse.model_validate_json(response.content)


def transcribe_flow(
    client: BaseClient, url: str, response_format: TranscriptFormat
) -> Flow[VideoTranscription]:
    body = {"url": url, "response_format": response_format}
    response = yield from client._call_flow("POST", "/video/transcriptions", json=body)
    if is_json(response):
        return VideoTranscription.model_validate_json(response.content)
    return VideoTranscription(transcript=response.text)


def transcribe_audio_flow(
    client: BaseClient,
    file: str | os.PathLike[str] | bytes,
    *,
    model: str,
    response_format: TranscriptFormat,
    timestamps: bool,
    language: str | None,
) -> Flow[AudioTranscription]:
    data, name, mime = yield from call(load_for_transcription, file)
    form: dict[str, Any] = {"model": model, "response_format": response_format}
    if timestamps:
        form["timestamps"] = "true"
    if language:
        form["language"] = language
    response = yield from client._call_flow(
        "POST", "/audio/transcriptions", files={"file": (name, data, mime)}, data=form
    )
    if is_json(response):
        return AudioTranscription.model_validate_json(response.content)
    return AudioTranscription(text=response.text)


def models_flow(client: BaseClient, refresh: bool) -> Flow[Catalog]:
    """The catalog: one fetch per client, whoever asks and however many at once."""
    if client._catalog is not None and (client._catalog_fixed or not refresh):
        return client._catalog
    with client._catalog_lock:
        flight = client._catalog_flight
        leading = flight is None
        if flight is None:
            flight = client._catalog_flight = client._new_event()
    if not leading:
        # Another caller is fetching it (a fresh copy, if a refresh was asked): wait.
        while not flight.is_set():
            yield from sleep(0.05, flight)
        if client._catalog is not None:
            return client._catalog
        return (yield from models_flow(client, refresh))
    try:
        return (yield from fetch_models_flow(client, refresh))
    finally:
        with client._catalog_lock:
            client._catalog_flight = None
        flight.set()


def fetch_models_flow(client: BaseClient, refresh: bool) -> Flow[Catalog]:
    """The catalog from the on-disk cache (unless `refresh`), else the API, else a saved copy."""
    cache = client._model_cache
    if cache is not None and not refresh:
        cached = yield from call(cache.load, client.base_url)
        if cached is not None:
            client._catalog = cached
            return cached
    try:
        response = yield from client._call_flow(
            "GET", "/models", params={"type": "video"}, bucket="models"
        )
        payload = response.json()
        catalog = Catalog.from_api(payload)
        if not len(catalog):
            raise ValueError("the API listed no video models")
    except (APIError, ValueError) as exc:
        logger.warning("could not fetch the model list (%s); using a saved copy", exc)
        stale = None
        if cache is not None:
            stale = yield from call(cache.load, client.base_url, allow_stale=True)
        client._catalog = stale if stale is not None else bundled_catalog()
        return client._catalog
    if cache is not None:
        yield from call(cache.store, client.base_url, payload)
    client._catalog = catalog
    return catalog


def validate_flow(
    client: BaseClient, request: QueueRequest | QuoteRequest | Mapping[str, Any], kind: str
) -> Flow[QueueRequest | QuoteRequest]:
    """Check a request (or a body) against the spec and its model's constraints."""
    if isinstance(request, QueueRequest | QuoteRequest):
        body = request.to_body()
        kind = "quote" if isinstance(request, QuoteRequest) else "queue"
    else:
        body = dict(request)
    catalog = yield from models_flow(client, refresh=False)
    body = drop_ignored_fields(body, catalog)
    check = validate_quote if kind == "quote" else validate_queue
    issues = check(body, catalog)
    if issues:
        raise ValidationError(issues)
    model_cls: type[QueueRequest] | type[QuoteRequest] = (
        QuoteRequest if kind == "quote" else QueueRequest
    )
    try:
        return model_cls.model_validate(body)
    except pydantic.ValidationError as exc:
        raise ValidationError(pydantic_issues(exc)) from None


def prepare_flow(client: BaseClient, fields: Mapping[str, Any]) -> Flow[QueueRequest]:
    """A `QueueRequest` from `generate()`'s arguments: media resolved, the whole checked."""
    body = yield from call(resolve_fields, fields)
    if client.validate_requests:
        checked = yield from validate_flow(client, body, "queue")
        assert isinstance(checked, QueueRequest)
        return checked
    try:
        return QueueRequest.model_validate(body)
    except pydantic.ValidationError as exc:
        raise ValidationError(pydantic_issues(exc)) from None


def request_flow(
    client: BaseClient, request: QueueRequest | None, fields: Mapping[str, Any]
) -> Flow[QueueRequest]:
    """The request a lifecycle call runs: a prepared one as it is, else one prepared now."""
    if request is None:
        return (yield from prepare_flow(client, fields))
    if fields:
        given = ", ".join(sorted(fields))
        raise InputError(f"give either request= or the request's fields, not both ({given})")
    return request


def request_fields(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The request fields among a method's arguments, `extra` merged in."""
    fields = {name: arguments[name] for name in REQUEST_FIELDS if arguments.get(name) is not None}
    for name, value in (arguments.get("extra") or {}).items():
        if name in fields:
            raise InputError(f"extra: {name!r} is also given as an argument")
        fields[name] = value
    return fields


def quote_request(
    model: str | None, request: QuoteRequest | QueueRequest | None, **fields: Any
) -> QuoteRequest:
    """The quote body for `quote()`: from a ready request, or from the fields given."""
    if request is not None:
        if isinstance(request, QueueRequest):
            return QuoteRequest.from_queue(request)
        return request
    if model is None:
        raise InputError("quote: give a model (or a request)")
    try:
        return QuoteRequest.model_validate(
            {"model": model, **{k: v for k, v in fields.items() if v is not None}}
        )
    except pydantic.ValidationError as exc:
        raise ValidationError(pydantic_issues(exc)) from None


def pydantic_issues(exc: pydantic.ValidationError) -> list[Issue]:
    """pydantic's errors as venice-video `Issue`s (field, message, allowed values)."""
    issues = []
    for error in exc.errors():
        expected = error.get("ctx", {}).get("expected")
        allowed: tuple[Any, ...] = ()
        if isinstance(expected, str) and "'" in expected:
            allowed = tuple(p.strip().strip("'") for p in expected.replace(" or ", ",").split(","))
        issues.append(
            Issue(
                path=tuple(p for p in error["loc"] if isinstance(p, str | int)),
                message=str(error["msg"]),
                code=str(error["type"]),
                received=error.get("input"),
                allowed=allowed,
            )
        )
    return issues
