"""The download: stream the video to a `.part`, fsync, verify, rename; resume after drops.

An inline video (retrieve answered with the mp4 itself) is fetched again from scratch when a
body is cut or corrupt, since retrieve is free. A pre-signed `download_url` is fetched
without credentials and resumed with `Range`, with few fresh starts, since it is rationed.
The file mechanics (`.part` files, locking, verification) live in `_download`. Strictly
private.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from ._effects import CancelToken, Flow, call, close, read_all, read_chunk, send, sleep
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    DownloadError,
    DownloadVerificationError,
    GoneError,
    JobFailedError,
    NotFoundError,
)
from ._http import content_length, is_json, range_total
from ._jobs import ProgressCallback, journal_update, notify
from ._models import Progress, RetrieveStatus, VideoJob
from ._polling import backoff_delay, should_retry
from ._waiting import wait_flow

if TYPE_CHECKING:
    from ._base_client import BaseClient
    from ._download import DownloadResult, PartFile

__all__ = [
    "download_flow",
    "download_url_flow",
    "file_matches",
    "retrieve_flow",
    "stream_to_part",
]

logger = logging.getLogger("venice_video")

# Retrieve is free, so a cut or corrupt inline body is fetched again a few times; a
# download_url is rationed (repeated fetches bring 429/410), so it gets fewer fresh starts.
_INLINE_ATTEMPTS = 6
_DOWNLOAD_ATTEMPTS = 3
_RANGE_RESUMES = 20
# Bytes gathered before each write to the `.part` (and each progress note).
_WRITE_BYTES = 1 << 20


def download_flow(
    client: BaseClient,
    job: VideoJob,
    response: httpx.Response | None,
    *,
    output: Path,
    on_progress: ProgressCallback | None,
    cancel: CancelToken | None,
    timeout: float | None,
    overwrite: bool = False,
) -> Flow[VideoJob]:
    """Save the video to `output`: streamed to a `.part`, fsynced, verified, renamed."""
    if job.path != output:
        job = yield from journal_update(client, job, path=output)
    if job.download_url:
        if response is not None:
            yield from close(response)
        return (yield from download_url_flow(client, job, output, on_progress, overwrite))
    failures: list[str] = []
    while True:
        if response is None:
            job, response = yield from wait_flow(
                client, job, timeout=timeout, on_progress=on_progress, cancel=cancel, keep_open=True
            )
            if response is None:  # COMPLETED JSON without a download_url
                raise DownloadError(
                    f"job {job.queue_id} is ready but the API sent no video and no download_url"
                )
        try:
            result = yield from stream_to_part(
                client, job, response, output, on_progress, resume=False, overwrite=overwrite
            )
        except (APIConnectionError, DownloadVerificationError) as exc:
            # Retrieve is free: a cut or corrupt inline body is fetched again from scratch.
            failures.append(str(exc))
            response = None
            if len(failures) >= _INLINE_ATTEMPTS:
                yield from journal_update(
                    client, job, error=f"download failed: {exc}", **_ready_fields(job)
                )
                if isinstance(exc, DownloadVerificationError):
                    raise
                raise DownloadError(
                    f"the video of {job.queue_id} could not be downloaded after "
                    f"{len(failures)} attempts: {exc}"
                ) from exc
            logger.info("download of %s failed (%s); retrieving again", job.queue_id, exc)
            continue
        return (yield from _saved(client, job, result))


def download_url_flow(
    client: BaseClient,
    job: VideoJob,
    output: Path,
    on_progress: ProgressCallback | None,
    overwrite: bool = False,
) -> Flow[VideoJob]:
    """GET the pre-signed URL without credentials, resuming with `Range` after a drop."""
    from ._download import PartFile

    url = job.download_url
    assert url is not None
    fresh_starts = 0
    resumes = 0
    attempt = 0
    while True:
        part = yield from call(PartFile, output, resume=True, overwrite=overwrite)
        headers = {"Range": f"bytes={part.offset}-"} if part.offset else {}
        request = client._build("GET", url, headers=headers, authenticated=False)
        try:
            response = yield from send(request)
            if response.status_code >= 400:
                yield from read_all(response)
                raise client._status_error(response)
        except (APIConnectionError, APIStatusError) as exc:
            yield from call(part.abort, keep_part=True)
            attempt += 1
            if isinstance(exc, APIStatusError) and exc.status_code == 416:
                yield from call(part.abort, keep_part=False)
                yield from call(_unlink, part.part_path)
                continue
            if isinstance(exc, NotFoundError | GoneError):
                failed = yield from journal_update(
                    client, job, status="FAILED", error=f"the download URL is gone: {exc}"
                )
                raise JobFailedError(
                    f"the video of {job.queue_id} can no longer be downloaded: {exc.message}",
                    job=failed,
                ) from exc
            retryable = isinstance(exc, APIConnectionError) or (
                exc.status_code in client._retry.retry_statuses
            )
            if not retryable or attempt >= client._retry.max_attempts:
                raise
            yield from sleep(
                backoff_delay(
                    client._retry, attempt, retry_after=client._retry_after(exc), rand=client._rand
                )
            )
            continue
        if part.offset and response.status_code != 206:
            # The server ignored the Range: start the file over.
            yield from call(part.abort, keep_part=False)
            part = yield from call(PartFile, output, resume=False, overwrite=overwrite)
        try:
            result = yield from stream_to_part(
                client, job, response, output, on_progress, resume=True, part=part
            )
        except APIConnectionError as exc:
            resumes += 1
            if resumes > _RANGE_RESUMES:
                raise DownloadError(f"the download of {job.queue_id} kept failing: {exc}") from exc
            logger.info("download of %s dropped (%s); resuming", job.queue_id, exc)
            continue
        except DownloadVerificationError as exc:
            # A short file keeps its .part (the next pass resumes it); anything else was
            # deleted and starts over. Either way, a few tries only: the URL is rationed.
            fresh_starts += 1
            if fresh_starts >= _DOWNLOAD_ATTEMPTS:
                yield from journal_update(client, job, error=f"download failed: {exc}")
                raise
            logger.info("download of %s did not verify (%s); again", job.queue_id, exc)
            continue
        return (yield from _saved(client, job, result))


def stream_to_part(
    client: BaseClient,
    job: VideoJob,
    response: httpx.Response,
    output: Path,
    on_progress: ProgressCallback | None,
    *,
    resume: bool,
    part: PartFile | None = None,
    overwrite: bool = False,
) -> Flow[DownloadResult]:
    """Stream `response`'s body into `output`'s `.part`, then finish it (fsync, verify, rename)."""
    from ._download import PartFile

    if part is None:
        part = yield from call(PartFile, output, resume=resume, overwrite=overwrite)
    total = content_length(response)
    expected = part.offset + total if total is not None else None
    if response.status_code == 206:
        expected = range_total(response) or expected
    began = client._clock()
    done = part.offset
    pending: list[bytes] = []
    held = 0
    try:
        while True:
            chunk = yield from read_chunk(response)
            if chunk:
                pending.append(chunk)
                held += len(chunk)
                done += len(chunk)
            if pending and (not chunk or held >= _WRITE_BYTES):
                # Whole megabytes, not every chunk, cross to a worker thread (Rule 2).
                yield from call(part.write, pending[0] if len(pending) == 1 else b"".join(pending))
                pending.clear()
                held = 0
                notify(
                    on_progress,
                    Progress(
                        phase="downloading",
                        status="READY",
                        elapsed_s=client._clock() - began,
                        bytes_done=done,
                        bytes_total=expected,
                        queue_id=job.queue_id,
                    ),
                )
            if not chunk:
                break
    except BaseException:
        # No yield here (Rule 3): this also runs when the flow is closed or cancelled. The
        # driver closes the response; the .part keeps every byte received, for a Range
        # resume, or is dropped.
        if resume and pending:
            with contextlib.suppress(DownloadError):
                part.write(b"".join(pending))
        part.abort(keep_part=resume)
        raise
    yield from close(response)
    if expected is not None and done < expected:
        yield from call(part.abort, keep_part=resume)
        raise APIConnectionError(f"the video body was cut short: {done} of {expected} bytes", None)
    return (yield from call(part.finish, expected_size=expected, verify=client.verify_downloads))


def retrieve_flow(
    client: BaseClient,
    model: str,
    queue_id: str,
    output: str | os.PathLike[str] | None,
    delete_media_on_completion: bool | None,
) -> Flow[RetrieveStatus]:
    """Poll once; a ready video is saved to `output` (verified), or only reported."""
    body: dict[str, Any] = {"model": model, "queue_id": queue_id}
    if delete_media_on_completion is not None:
        body["delete_media_on_completion"] = delete_media_on_completion
    attempt = 0
    while True:
        attempt += 1
        request = client._build("POST", "/video/retrieve", json=body)
        try:
            response = yield from client._send_flow(request, "retrieve")
            if is_json(response):
                yield from read_all(response)
                return RetrieveStatus.model_validate_json(response.content)
            if output is None:
                yield from close(response)
                return RetrieveStatus(status="COMPLETED")
            job = VideoJob(idempotency_key=queue_id, model=model, status="READY", queue_id=queue_id)
            result = yield from stream_to_part(
                client, job, response, Path(output), None, resume=False
            )
            return RetrieveStatus(
                status="COMPLETED", path=result.path, size_bytes=result.size_bytes
            )
        except (APIError, DownloadVerificationError) as exc:
            retry_exc = exc if isinstance(exc, APIError) else APIConnectionError(str(exc))
            if not should_retry(client._retry, retry_exc, attempt):
                raise
            yield from sleep(
                backoff_delay(
                    client._retry, attempt, retry_after=client._retry_after(exc), rand=client._rand
                )
            )


def _saved(client: BaseClient, job: VideoJob, result: DownloadResult) -> Flow[VideoJob]:
    job = yield from journal_update(
        client,
        job,
        status="DOWNLOADED",
        path=result.path,
        size_bytes=result.size_bytes,
        sha256=result.sha256,
        error=None,
        **_ready_fields(job, status=False),
    )
    elapsed = None
    if job.queued_at is not None and job.downloaded_at is not None:
        elapsed = max(0.0, job.downloaded_at - job.queued_at)
    return job.replace(media=result.media, elapsed_s=elapsed)


def _ready_fields(job: VideoJob, *, status: bool = True) -> dict[str, Any]:
    """What a quick inline video's READY adds to the next write (see `wait_flow`: it was not
    journaled on its own)."""
    if job.status != "READY" or job.ready_at is None:
        return {}
    return {"status": "READY", "ready_at": job.ready_at} if status else {"ready_at": job.ready_at}


def file_matches(path: Path, size: int | None) -> bool:
    """Whether a saved file is still there, with its recorded size."""
    try:
        return path.is_file() and (size is None or path.stat().st_size == size)
    except OSError:
        return False


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
