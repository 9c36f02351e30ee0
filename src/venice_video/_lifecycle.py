"""Whole lifecycles: generate (submit, then finish), finish (wait, download, clean up), and
the resume of one journal entry; and the cleanup of the server's copy. Strictly private.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _output
from ._config import Cleanup
from ._downloading import download_flow, file_matches
from ._effects import CancelToken, Flow, call, read_all, send, sleep
from ._endpoints import complete_flow
from ._exceptions import (
    APIError,
    AuthenticationError,
    BadRequestError,
    DownloadError,
    JobCancelledError,
    JobFailedError,
    NotFoundError,
    VeniceVideoError,
)
from ._forecast import job_kind
from ._jobs import ProgressCallback, entry_job, journal_of, journal_update, notify
from ._models import Progress, QueueRequest, QuoteResponse, VideoJob
from ._polling import backoff_delay, should_retry
from ._queueing import output_path, queue_flow, submit_flow
from ._waiting import wait_flow

if TYPE_CHECKING:
    from ._base_client import BaseClient
    from .journal import JournalEntry

__all__ = [
    "cleanup_flow",
    "finish_flow",
    "generate_flow",
    "has_digests",
    "resumable",
    "resume_one_flow",
]

logger = logging.getLogger("venice_video")


def cleanup_flow(client: BaseClient, job: VideoJob, cleanup: Cleanup | None) -> Flow[VideoJob]:
    """Delete the server's copy, only once the file is safe. A failure here is recorded
    and leaves the job DOWNLOADED (its file is fine); `resume()` tries again."""
    mode = cleanup or client.cleanup
    assert job.queue_id is not None
    if job.status == "COMPLETED":
        return job
    if mode == "none":
        return (yield from journal_update(client, job, status="COMPLETED"))
    try:
        if mode in ("auto", "complete", "both"):
            try:
                yield from complete_flow(client, job.model, job.queue_id)
            except NotFoundError:
                pass  # already gone: nothing left to delete
            except BadRequestError:
                # The API does not know download_url jobs at /video/complete.
                if not (job.download_url and mode == "auto"):
                    raise
                mode = "delete_url"
        if job.download_url and mode in ("delete_url", "both"):
            yield from delete_url_flow(client, job.download_url)
    except APIError as exc:
        logger.warning("could not delete the server copy of %s: %s", job.queue_id, exc)
        return (yield from journal_update(client, job, error=f"cleanup failed: {exc}"))
    # Lost, it only leaves the job DOWNLOADED: resume() cleans up again, finding nothing.
    return (yield from journal_update(client, job, durable=False, status="COMPLETED"))


def delete_url_flow(client: BaseClient, url: str) -> Flow[None]:
    attempt = 0
    while True:
        attempt += 1
        request = client._build("DELETE", url, authenticated=False)
        try:
            response = yield from send(request)
            yield from read_all(response)
            if response.status_code in (404, 410) or response.status_code < 300:
                return None
            raise client._status_error(response)
        except APIError as exc:
            if not should_retry(client._retry, exc, attempt):
                raise
            yield from sleep(
                backoff_delay(client._retry, attempt, retry_after=None, rand=client._rand)
            )


def finish_flow(
    client: BaseClient,
    job: VideoJob,
    *,
    output: Path | None,
    timeout: float | None,
    on_progress: ProgressCallback | None,
    cancel: CancelToken | None,
    cleanup: Cleanup | None,
    overwrite: bool = False,
    journaled_overwrite: bool = False,
) -> Flow[VideoJob]:
    """Wait, download, verify, then clean up: everything after the queue.

    `journaled_overwrite`: `overwrite` is what the job's journal entry says (the caller
    recorded it), so the journal need not be asked."""
    target = output or job.path or output_path(None, job.model, job.idempotency_key)
    begun = client._clock()
    if job.status in ("DOWNLOADED", "COMPLETED") and job.path is not None:
        intact = yield from call(file_matches, job.path, job.size_bytes)
        if intact and (output is None or output == job.path):
            return (yield from cleanup_flow(client, job, cleanup))
        if job.status == "COMPLETED":
            raise DownloadError(
                f"the video of {job.queue_id} is no longer on the server (completed) and "
                f"{job.path} is missing or changed"
            )
    if (
        not overwrite
        and not journaled_overwrite
        and target == job.path
        and job.status not in ("DOWNLOADED", "COMPLETED")
    ):
        # Whoever finishes a job may replace what its submitter allowed it to.
        journal = yield from journal_of(client)
        overwrite = yield from call(_output.may_replace, journal, job.idempotency_key)
    if target != job.path or job.status in ("DOWNLOADED", "COMPLETED"):
        # A new place, or a saved file that changed: refuse before waiting, not after.
        yield from call(_output.check_target, target, overwrite=overwrite)
    try:
        job, response = yield from wait_flow(
            client, job, timeout=timeout, on_progress=on_progress, cancel=cancel, keep_open=True
        )
    except JobFailedError:
        yield from call(_output.drop_claim, target)
        raise
    job = yield from download_flow(
        client,
        job,
        response,
        output=target,
        on_progress=on_progress,
        cancel=cancel,
        timeout=timeout,
        overwrite=overwrite,
    )
    job = yield from cleanup_flow(client, job, cleanup)
    client._queued_mono.pop(job.idempotency_key, None)
    client._kinds.pop(job.idempotency_key, None)
    notify(
        on_progress,
        Progress(
            phase="done",
            status=job.status,
            elapsed_s=client._clock() - begun,
            bytes_done=job.size_bytes or 0,
            bytes_total=job.size_bytes,
            queue_id=job.queue_id,
        ),
    )
    return job


def generate_flow(
    client: BaseClient,
    request: QueueRequest,
    *,
    quote: QuoteResponse | None,
    output: str | os.PathLike[str] | None,
    max_cost: float | None,
    tags: Mapping[str, Any] | None,
    idempotency_key: str | None,
    on_progress: ProgressCallback | None,
    cancel: CancelToken | None,
    timeout: float | None,
    cleanup: Cleanup | None,
    overwrite: bool = False,
) -> Flow[VideoJob]:
    """Submit a prepared request, then finish it: the whole lifecycle of one video."""
    job = yield from submit_flow(
        client,
        request,
        quote=quote,
        output=output,
        max_cost=max_cost,
        tags=tags,
        idempotency_key=idempotency_key,
        on_progress=on_progress,
        overwrite=overwrite,
    )
    return (
        yield from finish_flow(
            client,
            job,
            output=job.path,
            timeout=timeout,
            on_progress=on_progress,
            cancel=cancel,
            cleanup=cleanup,
            overwrite=overwrite,
            journaled_overwrite=True,  # submit_flow recorded it with the intent
        )
    )


def resume_one_flow(
    client: BaseClient,
    entry: JournalEntry,
    *,
    timeout: float | None,
    on_progress: ProgressCallback | None,
    cancel: CancelToken | None,
) -> Flow[VideoJob]:
    """Drive one unfinished journal entry to its end. Errors end up in `job.error`."""
    job = VideoJob.from_entry(entry)
    client._kinds.setdefault(job.idempotency_key, job_kind(job.model, entry.request))
    try:
        if job.status == "QUOTED":
            return (yield from journal_update(client, job, status="CANCELLED"))
        if job.status in ("QUEUING", "UNKNOWN") and job.queue_id is None:
            if not client.idempotent_queue_retries or has_digests(entry.request):
                if job.status == "QUEUING":
                    job = yield from journal_update(
                        client,
                        job,
                        status="UNKNOWN",
                        error="the process stopped while queueing; whether the job exists "
                        "is unknown. Check your account before queueing it again.",
                    )
                return job
            # The server honours Idempotency-Key: asking again with the same key returns
            # the job it created, or creates it once.
            queued = yield from queue_flow(
                client,
                dict(entry.request),
                key=job.idempotency_key,
                quote_usd=job.quote_usd,
                output_path=job.path,
                tags=entry.tags,
                journaled=True,
            )
            job = job.replace(
                status="QUEUED", queue_id=queued.queue_id, download_url=queued.download_url
            )
        return (
            yield from finish_flow(
                client,
                job,
                output=job.path,
                timeout=timeout,
                on_progress=on_progress,
                cancel=cancel,
                cleanup=None,
            )
        )
    except (JobCancelledError, AuthenticationError):
        raise
    except VeniceVideoError as exc:
        logger.warning("resuming %s failed: %s", job.id, exc)
        latest = yield from entry_job(client, job)
        return latest.replace(error=str(exc))


def resumable(client: BaseClient, keys: Sequence[str] | None = None) -> list[JournalEntry]:
    """The unfinished journal entries of this client's API (only `keys`, when given).

    Jobs handed to workers (`WorkQueue`, `--detach`) are the workers' to drive: a worker may
    have moved one on (even sent its paid queue request) since it was read here, so a
    local resume never touches them (not even to cancel a QUOTED one).
    """
    journal = client.journal
    if journal is None:
        return []
    entries = [
        e for e in journal.unfinished() if e.api == client.api_id and e.shared_output is None
    ]
    if keys is not None:
        wanted = set(keys)
        entries = [e for e in entries if e.key in wanted]
    return entries


def has_digests(value: Any) -> bool:
    """Whether a journaled request lost inline media to digests (it cannot be sent again)."""
    if isinstance(value, str):
        return value.startswith("data:") and ";sha256=" in value
    if isinstance(value, Mapping):
        return any(has_digests(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(has_digests(v) for v in value)
    return False
