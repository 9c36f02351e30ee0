"""The paid step: `POST /video/queue`, sent once, journaled before and after.

The journal records the intent (with its `Idempotency-Key`) before the request goes out and
the `queue_id` the moment it comes back. A queue request that may have reached the server
is never sent again blindly: unless the server is trusted to honour `Idempotency-Key`, an
unknown outcome ends in `QueueOutcomeUnknownError` and the entry stays `UNKNOWN` for the
user to check. Strictly private.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pydantic

from . import _output
from ._config import API_KEY_ENV, is_real_api
from ._effects import Flow, call, read_all, sleep
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    MissingAPIKeyError,
    PermissionDeniedError,
    QueueOutcomeUnknownError,
    SpendLimitError,
    ValidationError,
)
from ._forecast import job_kind
from ._inputs import check_body_size
from ._jobs import ProgressCallback, journal_of, notify
from ._models import Progress, QueueRequest, QueueResponse, QuoteRequest, QuoteResponse, VideoJob
from ._polling import QueueDecision, backoff_delay, classify_queue_error
from ._quotes import job_quote_flow

if TYPE_CHECKING:
    from ._base_client import BaseClient

__all__ = ["output_path", "queue_flow", "submit_flow"]

logger = logging.getLogger("venice_video")


def queue_flow(
    client: BaseClient,
    body: dict[str, Any],
    *,
    key: str,
    quote_usd: float | None,
    output_path: Path | None,
    tags: Mapping[str, Any] | None,
    journaled: bool = False,
    overwrite: bool = False,
) -> Flow[QueueResponse]:
    """Send the queue request once, or again only when that provably cannot pay twice."""
    model = str(body.get("model"))
    check_body_size(body)
    if client._api_key is None and is_real_api(client.base_url):
        raise MissingAPIKeyError(API_KEY_ENV)  # before the journal: nothing was sent
    journal = yield from journal_of(client)
    if journal is not None and not journaled:
        yield from call(
            journal.record_intent,
            key=key,
            model=model,
            base_url=client.base_url,
            request=body,
            quote_usd=quote_usd,
            output_path=str(output_path) if output_path else None,
            tags=tags,
            api_id=client.api_id,
            overwrite=overwrite,
        )
    ambiguous = False  # an earlier attempt may have created the job
    attempt = 0
    while True:
        attempt += 1
        request = client._build("POST", "/video/queue", json=body, headers={"Idempotency-Key": key})
        try:
            response = yield from client._send_flow(request, "queue")
            yield from read_all(response)
            # The job began at most this long ago: the poller's first clock sample (an
            # early one overestimates the server's speed, which costs a poll, not a wait).
            received = client._clock()
            parsed = QueueResponse.model_validate_json(response.content)
        except (APIError, pydantic.ValidationError) as exc:
            error: APIError = (
                # A 200 we cannot read: the job exists, but we do not know its id.
                APIConnectionError(f"unreadable queue response: {exc}", request)
                if isinstance(exc, pydantic.ValidationError)
                else exc
            )
            decision = classify_queue_error(
                error, idempotent_retries=client.idempotent_queue_retries
            )
            if isinstance(error, APIConnectionError) and error.may_have_reached_server:
                ambiguous = True
            if decision is QueueDecision.RESEND and attempt < client._retry.max_attempts:
                delay = backoff_delay(
                    client._retry,
                    attempt,
                    retry_after=client._retry_after(error),
                    rand=client._rand,
                )
                logger.info("queue not accepted (%s); resending in %.2fs", error, delay)
                yield from sleep(delay)
                continue
            if decision is QueueDecision.UNKNOWN or ambiguous:
                if journal is not None:
                    yield from call(journal.update, key, status="UNKNOWN", error=str(error))
                raise QueueOutcomeUnknownError(
                    idempotency_key=key,
                    model=model,
                    base_url=client.base_url,
                    journal_path=journal.location if journal is not None else None,
                    reason=_reason(error),
                ) from error
            if journal is not None:
                yield from call(journal.update, key, status="FAILED", error=f"not queued: {error}")
            raise error from None
        if journal is not None:
            yield from call(
                journal.record_queued,
                key,
                queue_id=parsed.queue_id,
                download_url=parsed.download_url,
            )
        client._queued_mono[key] = received
        client._kinds[key] = job_kind(model, body)
        return parsed


def submit_flow(
    client: BaseClient,
    request: QueueRequest,
    *,
    quote: QuoteResponse | None,
    output: str | os.PathLike[str] | None,
    max_cost: float | None,
    tags: Mapping[str, Any] | None,
    idempotency_key: str | None,
    on_progress: ProgressCallback | None,
    overwrite: bool = False,
) -> Flow[VideoJob]:
    """Reserve the output, price a prepared request (unless `quote` already did), check
    `max_cost`, queue it."""
    body = request.to_body()
    check_body_size(body)
    key = idempotency_key or uuid.uuid4().hex
    path = output_path(output, request.model, key)
    journal = yield from journal_of(client)
    # The output is reserved before any request, so two runs cannot pay for one file.
    claim = yield from call(
        _output.claim_output, path, overwrite=overwrite, key=key, journal=journal
    )
    queueing = False
    try:
        quote_usd = quote.quote if quote is not None else None
        if quote is None:
            try:
                asked = yield from job_quote_flow(client, QuoteRequest.from_queue(request))
                quote_usd = asked.quote
            except (BadRequestError, PermissionDeniedError, AuthenticationError):
                raise
            except APIError as exc:
                if max_cost is not None:
                    raise
                logger.warning("could not get a quote (%s); queueing without one", exc)
        if max_cost is not None and quote_usd is not None and quote_usd > max_cost:
            raise SpendLimitError(quote_usd, max_cost, model=request.model)
        queueing = True
        queued = yield from queue_flow(
            client, body, key=key, quote_usd=quote_usd, output_path=path, tags=tags,
            overwrite=overwrite,
        )  # fmt: skip
    except BaseException as exc:
        # No yield here (this also runs when the flow is closed). Refused: the path is
        # free again. Perhaps queued: it stays reserved for the job.
        if not queueing or isinstance(exc, APIError | ValidationError):
            claim.abandon()
        else:
            claim.release()
        raise
    claim.release()
    job = VideoJob(
        idempotency_key=key,
        model=queued.model or request.model,
        status="QUEUED",
        queue_id=queued.queue_id,
        quote_usd=quote_usd,
        path=path,
        queued_at=client._wall(),
        base_url=client.base_url,
        tags=dict(tags or {}),
        download_url=queued.download_url,
    )
    notify(
        on_progress,
        Progress(phase="queued", status="QUEUED", elapsed_s=0.0, queue_id=job.queue_id),
    )
    return job


def output_path(output: str | os.PathLike[str] | None, model: str, key: str) -> Path:
    """Where a job's video goes: `output`, or `<model>-<key>.mp4` in it or here."""
    return _output.output_path(output, model, key)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, APITimeoutError):
        return "no answer before the timeout"
    if isinstance(exc, APIConnectionError):
        return "a dropped connection"
    if isinstance(exc, APIStatusError):
        return f"HTTP {exc.status_code}"
    return "no usable answer"
