"""The wait: poll `/video/retrieve` until the video is ready, at the pace the server sets.

The pacing itself is pure code in `_polling` (`PollPacer`, `CompletionStats`); this flow
sends the polls, rides out 5xx answers and dropped connections, and records each phase in
the journal. Strictly private.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from ._effects import CancelToken, Flow, close, read_all, sleep
from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    JobCancelledError,
    JobFailedError,
    JobTimeoutError,
)
from ._http import is_json
from ._jobs import ProgressCallback, cancelled, journal_update, notify
from ._models import Progress, VideoJob
from ._polling import PollPacer, backoff_delay

if TYPE_CHECKING:
    from ._base_client import BaseClient

__all__ = ["error_delay", "wait_flow"]

logger = logging.getLogger("venice_video")


def wait_flow(
    client: BaseClient,
    job: VideoJob,
    *,
    timeout: float | None,
    on_progress: ProgressCallback | None,
    cancel: CancelToken | None,
    keep_open: bool,
) -> Flow[tuple[VideoJob, httpx.Response | None]]:
    """Poll until the video is ready. With `keep_open`, an inline video's response is
    returned unread, so the caller streams it without asking twice."""
    if job.queue_id is None:
        raise JobFailedError(f"job {job.idempotency_key} was never queued", job=job)
    queue_id = job.queue_id
    deadline = client._clock() + (timeout if timeout is not None else client.wait_timeout)
    begun = client._clock()
    pacer = PollPacer(
        client._poll,
        started_at=client._queued_mono.get(job.idempotency_key),
        rand=client._rand,
        window=client._stats.window(job.model, client._poll),
        hint=client._stats.hint(job.model),
    )
    body = {"model": job.model, "queue_id": queue_id}
    errors = 0
    server_errors = 0
    last_processing: tuple[float, float] | None = None  # (execution_ms, average_ms)
    if pacer.can_wait_first:
        # Jobs of this model were seen finish: the first poll can wait until this one
        # may be ready, rather than ask at once what the last job already said.
        now = client._clock()
        yield from sleep(min(pacer.next_delay(now), max(0.0, deadline - now)), cancel)
    while True:
        if cancelled(cancel):
            raise JobCancelledError(
                f"waiting for {queue_id} was cancelled", job_id=queue_id, job=job
            )
        request = client._build("POST", "/video/retrieve", json=body)
        sent = client._clock()
        try:
            response = yield from client._send_flow(request, "retrieve")
            received = client._clock()
            if is_json(response):
                yield from read_all(response)
                payload = response.json()
                if not isinstance(payload, dict):
                    raise ValueError(f"unexpected retrieve answer: {payload!r:.100}")
            else:
                payload = None
        except APIStatusError as exc:
            if exc.status_code in (401, 402, 403):
                raise
            retryable = exc.status_code in client._retry.retry_statuses
            if exc.status_code == 500:
                # A refund means the job is over; any other 500 may be a passing fault.
                server_errors += 1
                retryable = not _is_refunded(exc) and (
                    server_errors < client._poll.max_consecutive_server_errors
                )
            if not retryable:
                failed = yield from journal_update(
                    client, job, status="FAILED", error=f"the API reported a failure: {exc}"
                )
                client._queued_mono.pop(job.idempotency_key, None)
                raise JobFailedError(f"job {queue_id} failed: {exc.message}", job=failed) from exc
            errors += 1
            delay = error_delay(client, errors, exc)
        except (APIConnectionError, ValueError) as exc:
            errors += 1
            delay = error_delay(client, errors, exc)
        else:
            errors = 0
            if exc_status := _failed_status(payload):
                failed = yield from journal_update(
                    client, job, status="FAILED", error=f"the API reported {exc_status}"
                )
                raise JobFailedError(
                    f"job {queue_id} failed ({exc_status})", job=failed, body=payload
                )
            if payload is None or payload.get("status") == "COMPLETED":
                if last_processing is not None:
                    seen_ms, average_ms = last_processing
                    found_ms = pacer.execution_at((sent + received) / 2.0)
                    client._stats.record(job.model, seen_ms, found_ms, average_ms)
                done = _timing(payload) if payload is not None else {}
                if job.status != "READY":
                    job = yield from journal_update(client, job, status="READY", **done)
                if payload is None and not keep_open:
                    yield from close(response)
                return job, (response if payload is None else None)
            server_errors = 0
            timing = _timing(payload)
            average = timing.get("average_execution_ms")
            execution = timing.get("execution_ms")
            pacer.observe((sent + received) / 2.0, average, execution)
            if execution is not None and average:
                last_processing = (execution, average)
                client._stats.remember(job.model, average, pacer.rate)
            if job.status in ("QUEUED", "QUEUING", "UNKNOWN"):
                job = yield from journal_update(client, job, status="PROCESSING", **timing)
            else:
                job = job.replace(**timing)
            now = client._clock()
            keep_going = notify(
                on_progress,
                Progress(
                    phase="processing",
                    status="PROCESSING",
                    elapsed_s=now - begun,
                    eta_s=pacer.eta(now),
                    average_execution_ms=average,
                    execution_ms=execution,
                    queue_id=queue_id,
                ),
            )
            if not keep_going:
                raise JobCancelledError(
                    f"waiting for {queue_id} was cancelled", job_id=queue_id, job=job
                )
            # Other jobs of this model may have finished since: learn from them.
            pacer.window = client._stats.window(job.model, client._poll)
            delay = pacer.next_delay(now)
        now = client._clock()
        if now >= deadline:
            raise JobTimeoutError(
                f"job {queue_id} was not ready within {deadline - begun:.0f}s; it keeps "
                "running on the server: wait() or resume() it later",
                job_id=queue_id,
                timeout=deadline - begun,
                job=job,
            )
        yield from sleep(min(delay, deadline - now), cancel)


def error_delay(client: BaseClient, errors: int, exc: BaseException) -> float:
    delay = backoff_delay(
        client._retry, errors, retry_after=client._retry_after(exc), rand=client._rand
    )
    logger.info("retrieve failed (%s); polling again in %.2fs", exc, delay)
    return min(delay, client._retry.max_retry_after)


def _failed_status(payload: Mapping[str, Any] | None) -> str | None:
    if payload is None:
        return None
    status = str(payload.get("status", "")).upper()
    # No official source has a FAILED body, but one client library models it.
    return status if status in ("FAILED", "ERROR", "CANCELLED") else None


def _timing(payload: Mapping[str, Any]) -> dict[str, Any]:
    timing: dict[str, Any] = {}
    if isinstance(payload.get("average_execution_time"), int | float):
        timing["average_execution_ms"] = float(payload["average_execution_time"])
    if isinstance(payload.get("execution_duration"), int | float):
        timing["execution_ms"] = float(payload["execution_duration"])
    return timing


def _is_refunded(exc: APIStatusError) -> bool:
    body: Mapping[str, Any] = exc.body if isinstance(exc.body, Mapping) else {}
    error = body.get("error")
    inner: Mapping[str, Any] = error if isinstance(error, Mapping) else {}
    return (
        body.get("credits_refunded") is True
        or inner.get("credits_refunded") is True
        or exc.code == "INFERENCE_FAILED"
    )
