"""The wait: poll `/video/retrieve` until the video is ready, at the pace the server sets.

The decisions are pure code in `_poller` (`Poller`, over the forecast of `_forecast`); this
flow does what they say: it records each change in the job (and the journal), sleeps, sends
the polls through the key's shared budget, and raises when the job failed, was cancelled or
ran out of time. Strictly private.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

import httpx

from ._effects import CancelToken, Flow, call, close, read_all, sleep
from ._exceptions import (
    APIError,
    JobCancelledError,
    JobFailedError,
    JobTimeoutError,
)
from ._http import content_length, is_json
from ._jobs import ProgressCallback, cancelled, journal_update, notify
from ._models import VideoJob
from ._poller import Decision, Failed, Poller, Ready, Reraise, Sleep

if TYPE_CHECKING:
    from ._base_client import BaseClient

__all__ = ["wait_flow"]

logger = logging.getLogger("venice_video")

#: An inline video up to this size is saved in moments: its READY is journaled with the
#: saved file (`DOWNLOADED`, `ready_at` included), not on its own just before.
_QUICK_BODY = 16 << 20


def wait_flow(
    client: BaseClient,
    job: VideoJob,
    *,
    timeout: float | None,
    on_progress: ProgressCallback | None,
    cancel: CancelToken | None,
    keep_open: bool,
) -> Flow[tuple[VideoJob, httpx.Response | None]]:
    """Poll until the video is ready, as the job's `Poller` decides. With `keep_open`, an
    inline video's response is returned unread, so the caller streams it without asking
    twice."""
    if job.queue_id is None:
        raise JobFailedError(f"job {job.idempotency_key} was never queued", job=job)
    queue_id, key = job.queue_id, job.idempotency_key
    learned = client._learned
    if learned is not None and not learned.loaded:
        yield from call(learned.load, client._stats)  # what earlier clients learned
    if client._stats.rate is None:  # a local server says how fast its clock runs
        client._stats.remember(job.model, None, client._limiter.announced_rate)
    begun = client._clock()
    deadline = begun + (timeout if timeout is not None else client.wait_timeout)
    poller = Poller(
        client._poll, client._retry, queue_id=queue_id, model=job.model, status=job.status,
        kind=client._kinds.get(key, job.model), stats=client._stats,
        queued_at=client._queued_mono.get(key), now=begun, rand=client._rand,
    )  # fmt: skip
    body = {"model": job.model, "queue_id": queue_id}
    decision: Decision = poller.begin(begun)
    response: httpx.Response | None = None
    cause: Exception | None = None
    try:
        while True:
            if decision.persist and not _saved_with_download(decision, response, keep_open):
                # What polling learns is redone by polling again; only a failure must last.
                job = yield from journal_update(
                    client, job, durable=isinstance(decision, Failed), **decision.changes
                )
            elif decision.persist:
                job = job.replace(**decision.changes, ready_at=job.ready_at or client._wall())
            elif decision.changes:
                job = job.replace(**decision.changes)
            if isinstance(decision, Reraise) and cause is not None:
                raise cause
            if isinstance(decision, Failed):
                client._queued_mono.pop(key, None)
                raise JobFailedError(decision.message, job=job, body=decision.body) from cause
            if isinstance(decision, Ready):
                if response is not None and not keep_open:
                    yield from close(response)
                if learned is not None and learned.due(client._stats):
                    yield from call(learned.save, client._stats)
                return job, response
            assert isinstance(decision, Sleep)
            if decision.progress is not None and not notify(on_progress, decision.progress):
                raise JobCancelledError(
                    f"waiting for {queue_id} was cancelled", job_id=queue_id, job=job
                )
            now = client._clock()
            if poller.polls and now >= deadline:
                raise JobTimeoutError(
                    f"job {queue_id} was not ready within {deadline - begun:.0f}s; it keeps "
                    "running on the server: wait() or resume() it later",
                    job_id=queue_id,
                    timeout=deadline - begun,
                    job=job,
                )
            yield from sleep(min(decision.until - now, deadline - now), cancel)
            if cancelled(cancel):
                raise JobCancelledError(
                    f"waiting for {queue_id} was cancelled", job_id=queue_id, job=job
                )
            later = poller.reconsider(client._clock())
            if later is not None:  # what other jobs showed meanwhile made this poll pointless
                decision = later
                continue
            request = client._build("POST", "/video/retrieve", json=body)
            response, cause = None, None
            try:
                # A look kept waiting for a slot gains on fresh ones as its job runs on.
                chance = functools.partial(poller.chance, planned=decision.priority)
                answer = yield from client._send_flow(
                    request, "retrieve", ticket=key, priority=chance
                )
                received = client._clock()
                payload = None
                if is_json(answer):
                    yield from read_all(answer)
                    payload = answer.json()
                    if not isinstance(payload, dict):
                        raise ValueError(f"unexpected retrieve answer: {payload!r:.100}")
            except (APIError, ValueError) as exc:
                cause = exc
                retry_after = client._retry_after(exc)
                decision = poller.error(exc, now=client._clock(), retry_after=retry_after)
            else:
                response = answer if payload is None else None
                # The request may have waited for a slot in the key's budget: when it left
                # is not known here, when its answer came is.
                decision = poller.answer(payload, sent=received, received=received)
    finally:
        poller.leave()
        client._limiter.leave(key)


def _saved_with_download(
    decision: Decision, response: httpx.Response | None, keep_open: bool
) -> bool:
    """Whether this READY goes to the journal with the download about to be saved."""
    if not (isinstance(decision, Ready) and keep_open and response is not None):
        return False
    size = content_length(response)
    return size is not None and size <= _QUICK_BODY
