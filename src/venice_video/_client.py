"""`VeniceVideo` and `AsyncVeniceVideo`: the whole video lifecycle, safe to interrupt.

Every decision lives in `BaseClient`, written once as generator *flows* that yield small
effects (send this request, sleep this long, run this blocking call, read the next chunk)
and are sent the results. The twins differ only in how they perform an effect: the sync
client calls, the async client awaits. Reading one twin against the other shows nothing
but `async` and `await`.

The paid step is guarded: the journal records the intent (with its `Idempotency-Key`)
before the queue request goes out and the `queue_id` the moment it comes back, and a queue
request that may have reached the server is never sent again blindly.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias, TypeVar, cast, overload

import anyio
import httpx
import pydantic

from ._catalog import Catalog, bundled_catalog
from ._config import (
    API_KEY_ENV,
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    DEFAULT_TIMEOUT,
    DEFAULT_WAIT_TIMEOUT,
    Cleanup,
    PollPolicy,
    RateLimitPolicy,
    RetryPolicy,
)
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    DownloadError,
    DownloadVerificationError,
    GoneError,
    InputError,
    JobCancelledError,
    JobFailedError,
    JobTimeoutError,
    NotFoundError,
    PermissionDeniedError,
    QueueOutcomeUnknownError,
    SpendLimitError,
    ValidationError,
    VeniceVideoError,
    make_status_error,
    parse_retry_after,
)
from ._inputs import MediaInput, check_body_size, load_for_transcription, resolve_media
from ._modelcache import ModelCache
from ._models import (
    AudioTranscription,
    CompleteResponse,
    Element,
    Keyframe,
    Progress,
    QueueRequest,
    QueueResponse,
    QuoteRequest,
    QuoteResponse,
    RetrieveStatus,
    VideoJob,
    VideoTranscription,
)
from ._polling import (
    CompletionStats,
    PollPacer,
    QueueDecision,
    RateLimiter,
    backoff_delay,
    classify_queue_error,
    should_retry,
)
from ._types import AspectRatio, Duration, JobStatus, Resolution, TranscriptFormat, UpscaleFactor
from ._validation import Issue, validate_queue, validate_quote
from ._version import __version__

if TYPE_CHECKING:
    from ._download import PartFile
    from .journal import Journal, JournalEntry
    from .story import Film, ShotProgress, Story, StoryQuote

__all__ = ["AsyncVeniceVideo", "BaseClient", "CancelToken", "ProgressCallback", "VeniceVideo"]

logger = logging.getLogger("venice_video")

T = TypeVar("T")

#: Called with each `Progress`; returning `False` cancels the wait (the job stays journaled).
ProgressCallback: TypeAlias = Callable[[Progress], "bool | None"]
JournalArg: TypeAlias = "Journal | str | os.PathLike[str] | bool | None"
ElementArg: TypeAlias = "Element | Mapping[str, Any]"
KeyframeArg: TypeAlias = "Keyframe | Mapping[str, Any]"

DEFAULT_STT_MODEL = "nvidia/parakeet-tdt-0.6b-v3"
# Retrieve is free, so a cut or corrupt inline body is fetched again a few times; a
# download_url is rationed (repeated fetches bring 429/410), so it gets fewer fresh starts.
_INLINE_ATTEMPTS = 6
_DOWNLOAD_ATTEMPTS = 3
_RANGE_RESUMES = 20
_NOT_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,
)


class CancelToken(Protocol):
    """Anything with `is_set()`: a `threading.Event`, an `anyio.Event`, ..."""

    def is_set(self) -> bool: ...


# --------------------------------------------------------------------------- effects


@dataclass
class _Send:
    request: httpx.Request


@dataclass
class _Sleep:
    seconds: float
    cancel: CancelToken | None = None


@dataclass
class _Call:
    """Blocking work: the sync twin calls it, the async twin runs it in a worker thread."""

    fn: Callable[[], Any]


@dataclass
class _ReadAll:
    response: httpx.Response


@dataclass
class _ReadChunk:
    response: httpx.Response


@dataclass
class _Close:
    response: httpx.Response


_Effect: TypeAlias = _Send | _Sleep | _Call | _ReadAll | _ReadChunk | _Close
Flow: TypeAlias = Generator[_Effect, Any, T]


class _DriveState:
    """The responses one flow has open, and their chunk iterators; closed when it ends."""

    def __init__(self) -> None:
        self.opened: list[httpx.Response] = []
        self.iterators: dict[int, Any] = {}

    def track(self, response: httpx.Response) -> None:
        self.opened = [r for r in self.opened if not r.is_closed]
        self.opened.append(response)


class _Secret:
    """Holds the API key; its repr never shows it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<hidden>"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("an API key cannot be pickled")


def map_transport_error(exc: Exception, request: httpx.Request | None) -> APIConnectionError:
    """The venice-video error for an httpx transport error (the one translation point)."""
    if request is not None:
        request.headers.pop("authorization", None)
    try:
        exc_request = getattr(exc, "request", None)
    except RuntimeError:
        exc_request = None
    if isinstance(exc_request, httpx.Request):
        exc_request.headers.pop("authorization", None)
    reached = not isinstance(exc, _NOT_SENT)
    what = f"{request.method} {request.url.copy_with(query=None)}" if request else "request"
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(
            f"{what} timed out ({type(exc).__name__}).", request, may_have_reached_server=reached
        )
    return APIConnectionError(
        f"{what} failed: {detail} ({type(exc).__name__}).",
        request,
        may_have_reached_server=reached,
    )


# --------------------------------------------------------------------------- the pure part


class BaseClient:
    """What both twins share: configuration, request building, and every decision.

    Strictly private; use `VeniceVideo` or `AsyncVeniceVideo`.
    """

    _http: httpx.Client | httpx.AsyncClient

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None,
        timeout: float | httpx.Timeout | None,
        wait_timeout: float,
        journal: JournalArg,
        cache_dir: str | os.PathLike[str] | Literal[False] | None,
        catalog: Catalog | None,
        retry: RetryPolicy,
        poll: PollPolicy,
        rate_limit: RateLimitPolicy,
        idempotent_queue_retries: bool,
        cleanup: Cleanup,
        verify_downloads: bool,
        validate_requests: bool,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
        rand: Callable[[], float] | None,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        self._api_key = _Secret(key) if key else None
        url = base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
        self.base_url = url.rstrip("/")
        self.timeout = timeout if timeout is not None else DEFAULT_TIMEOUT
        self.wait_timeout = wait_timeout
        self.idempotent_queue_retries = idempotent_queue_retries
        self.cleanup: Cleanup = cleanup
        self.verify_downloads = verify_downloads
        self.validate_requests = validate_requests
        self._retry = retry
        self._poll = poll
        self._clock = clock
        self._wall = wall_clock
        self._rand = rand if rand is not None else random.random
        self._limiter = RateLimiter(rate_limit)
        self._stats = CompletionStats()
        self._journal_arg = journal
        self._journal: Journal | None = None
        self._journal_owned = False
        self._journal_lock = threading.Lock()
        self._catalog = catalog
        self._catalog_fixed = catalog is not None
        self._model_cache = ModelCache(cache_dir) if cache_dir is not False else None
        # Monotonic time each job was queued in this process: the pacer's first sample.
        self._queued_mono: dict[str, float] = {}

    def __repr__(self) -> str:
        key = "set" if self._api_key is not None else "not set"
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key=<{key}>)"

    # ------------------------------------------------------------------ journal

    @property
    def journal(self) -> Journal | None:
        """The job journal, opened on first use; `None` when journaling is off."""
        if self._journal_arg is False:
            return None
        with self._journal_lock:
            if self._journal is None:
                from .journal import Journal

                arg = self._journal_arg
                if isinstance(arg, Journal):
                    self._journal = arg
                else:
                    path = None if arg is None or arg is True else arg
                    self._journal = Journal(path)
                    self._journal_owned = True
            return self._journal

    def _close_journal(self) -> None:
        with self._journal_lock:
            if self._journal is not None and self._journal_owned:
                self._journal.close()
                self._journal = None

    # ------------------------------------------------------------------ requests

    def _build(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        files: Any = None,
        data: Mapping[str, Any] | None = None,
        authenticated: bool = True,
    ) -> httpx.Request:
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        merged = {"User-Agent": f"venice-video/{__version__}"}
        if authenticated and self._api_key is not None:
            merged["Authorization"] = f"Bearer {self._api_key.get()}"
        merged.update(headers or {})
        request = self._http.build_request(
            method, url, json=json, params=params, headers=merged, files=files, data=data
        )
        if not authenticated:
            # A pre-signed URL must never see the key, even if the http client has defaults.
            request.headers.pop("authorization", None)
        return request

    def _status_error(self, response: httpx.Response) -> APIStatusError:
        error = make_status_error(response)
        if isinstance(error, AuthenticationError) and self._api_key is None:
            error.message += f" (no API key was given: pass api_key= or set {API_KEY_ENV})"
            error.args = (error.message,)
        return error

    def _retry_after(self, exc: BaseException) -> float | None:
        if isinstance(exc, APIStatusError):
            return parse_retry_after(exc.response.headers, now=self._wall())
        return None

    def _send_flow(self, request: httpx.Request, bucket: str) -> Flow[httpx.Response]:
        """Send through the shared rate limiter; 4xx/5xx become errors (body read)."""
        while (wait := self._limiter.reserve(bucket, self._clock())) > 0:
            yield _Sleep(wait)
        try:
            response: httpx.Response = yield _Send(request)
        except BaseException:
            self._limiter.release(
                bucket, self._clock(), status=None, headers=None, wall_now=self._wall()
            )
            raise
        self._limiter.release(
            bucket,
            self._clock(),
            status=response.status_code,
            headers=response.headers,
            wall_now=self._wall(),
        )
        logger.debug(
            "%s %s -> %s", request.method, request.url.copy_with(query=None), response.status_code
        )
        if response.status_code >= 400:
            try:
                yield _ReadAll(response)
            except APIConnectionError:
                pass
            raise self._status_error(response)
        return response

    def _call_flow(
        self,
        method: str,
        path: str,
        *,
        bucket: str = "other",
        json: Any = None,
        params: Mapping[str, str] | None = None,
        files: Any = None,
        data: Mapping[str, Any] | None = None,
    ) -> Flow[httpx.Response]:
        """A free, idempotent call: retried with backoff on 429, 5xx and lost connections."""
        attempt = 0
        while True:
            attempt += 1
            request = self._build(method, path, json=json, params=params, files=files, data=data)
            try:
                response = yield from self._send_flow(request, bucket)
                yield _ReadAll(response)
                return response
            except APIError as exc:
                if not should_retry(self._retry, exc, attempt):
                    raise
                delay = backoff_delay(
                    self._retry, attempt, retry_after=self._retry_after(exc), rand=self._rand
                )
                logger.info("%s %s failed (%s); retrying in %.2fs", method, path, exc, delay)
                yield _Sleep(delay)

    # ------------------------------------------------------------------ endpoints

    def _quote_flow(self, request: QuoteRequest) -> Flow[QuoteResponse]:
        response = yield from self._call_flow("POST", "/video/quote", json=request.to_body())
        return QuoteResponse.model_validate_json(response.content)

    def _complete_flow(self, model: str, queue_id: str) -> Flow[CompleteResponse]:
        body = {"model": model, "queue_id": queue_id}
        response = yield from self._call_flow("POST", "/video/complete", json=body)
        return CompleteResponse.model_validate_json(response.content)

    def _transcribe_flow(
        self, url: str, response_format: TranscriptFormat
    ) -> Flow[VideoTranscription]:
        body = {"url": url, "response_format": response_format}
        response = yield from self._call_flow("POST", "/video/transcriptions", json=body)
        if _is_json(response):
            return VideoTranscription.model_validate_json(response.content)
        return VideoTranscription(transcript=response.text)

    def _transcribe_audio_flow(
        self,
        file: str | os.PathLike[str] | bytes,
        *,
        model: str,
        response_format: TranscriptFormat,
        timestamps: bool,
        language: str | None,
    ) -> Flow[AudioTranscription]:
        data, name, mime = yield _Call(functools.partial(load_for_transcription, file))
        form: dict[str, Any] = {"model": model, "response_format": response_format}
        if timestamps:
            form["timestamps"] = "true"
        if language:
            form["language"] = language
        response = yield from self._call_flow(
            "POST", "/audio/transcriptions", files={"file": (name, data, mime)}, data=form
        )
        if _is_json(response):
            return AudioTranscription.model_validate_json(response.content)
        return AudioTranscription(text=response.text)

    def _models_flow(self, refresh: bool) -> Flow[Catalog]:
        if self._catalog is not None and (self._catalog_fixed or not refresh):
            return self._catalog
        cache = self._model_cache
        if cache is not None and not refresh:
            cached = yield _Call(functools.partial(cache.load, self.base_url))
            if cached is not None:
                self._catalog = cast(Catalog, cached)
                return self._catalog
        try:
            response = yield from self._call_flow(
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
                stale = yield _Call(functools.partial(cache.load, self.base_url, allow_stale=True))
            self._catalog = cast(Catalog, stale) if stale is not None else bundled_catalog()
            return self._catalog
        if cache is not None:
            yield _Call(functools.partial(cache.store, self.base_url, payload))
        self._catalog = catalog
        return catalog

    def _validate_flow(
        self, request: QueueRequest | QuoteRequest | Mapping[str, Any], kind: str
    ) -> Flow[QueueRequest | QuoteRequest]:
        if isinstance(request, QueueRequest | QuoteRequest):
            body = request.to_body()
            kind = "quote" if isinstance(request, QuoteRequest) else "queue"
        else:
            body = dict(request)
        catalog = yield from self._models_flow(refresh=False)
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
            raise ValidationError(_pydantic_issues(exc)) from None

    # ------------------------------------------------------------------ the paid step

    def _queue_flow(
        self,
        body: dict[str, Any],
        *,
        key: str,
        quote_usd: float | None,
        output_path: Path | None,
        tags: Mapping[str, Any] | None,
        journaled: bool = False,
    ) -> Flow[QueueResponse]:
        """Send the queue request once, or again only when that provably cannot pay twice."""
        model = str(body.get("model"))
        check_body_size(body)
        journal = self.journal
        if journal is not None and not journaled:
            yield _Call(
                functools.partial(
                    journal.record_intent,
                    key=key,
                    model=model,
                    base_url=self.base_url,
                    request=body,
                    quote_usd=quote_usd,
                    output_path=str(output_path) if output_path else None,
                    tags=tags,
                )
            )
        ambiguous = False  # an earlier attempt may have created the job
        attempt = 0
        while True:
            attempt += 1
            request = self._build(
                "POST", "/video/queue", json=body, headers={"Idempotency-Key": key}
            )
            try:
                response = yield from self._send_flow(request, "queue")
                yield _ReadAll(response)
                # The job began at most this long ago: the pacer's first clock sample (an
                # early one overestimates the server's speed, which costs a poll, not a wait).
                received = self._clock()
                parsed = QueueResponse.model_validate_json(response.content)
            except (APIError, pydantic.ValidationError) as exc:
                if isinstance(exc, pydantic.ValidationError):
                    # A 200 we cannot read: the job exists, but we do not know its id.
                    exc = APIConnectionError(f"unreadable queue response: {exc}", request)
                decision = classify_queue_error(
                    exc, idempotent_retries=self.idempotent_queue_retries
                )
                if isinstance(exc, APIConnectionError) and exc.may_have_reached_server:
                    ambiguous = True
                if decision is QueueDecision.RESEND and attempt < self._retry.max_attempts:
                    delay = backoff_delay(
                        self._retry, attempt, retry_after=self._retry_after(exc), rand=self._rand
                    )
                    logger.info("queue not accepted (%s); resending in %.2fs", exc, delay)
                    yield _Sleep(delay)
                    continue
                if decision is QueueDecision.UNKNOWN or ambiguous:
                    if journal is not None:
                        yield _Call(
                            functools.partial(journal.update, key, status="UNKNOWN", error=str(exc))
                        )
                    raise QueueOutcomeUnknownError(
                        idempotency_key=key,
                        model=model,
                        base_url=self.base_url,
                        journal_path=str(journal.path) if journal is not None else None,
                        reason=_reason(exc),
                    ) from exc
                if journal is not None:
                    yield _Call(
                        functools.partial(
                            journal.update, key, status="FAILED", error=f"not queued: {exc}"
                        )
                    )
                raise exc from None
            if journal is not None:
                yield _Call(
                    functools.partial(
                        journal.record_queued,
                        key,
                        queue_id=parsed.queue_id,
                        download_url=parsed.download_url,
                    )
                )
            self._queued_mono[key] = received
            return parsed

    def _submit_flow(
        self,
        fields: Mapping[str, Any],
        *,
        output: str | os.PathLike[str] | None,
        max_cost: float | None,
        tags: Mapping[str, Any] | None,
        idempotency_key: str | None,
        on_progress: ProgressCallback | None,
    ) -> Flow[VideoJob]:
        body = yield _Call(functools.partial(_resolve_fields, fields))
        if self.validate_requests:
            request = yield from self._validate_flow(body, "queue")
        else:
            try:
                request = QueueRequest.model_validate(body)
            except pydantic.ValidationError as exc:
                raise ValidationError(_pydantic_issues(exc)) from None
        assert isinstance(request, QueueRequest)
        body = request.to_body()
        check_body_size(body)
        quote_usd: float | None = None
        try:
            quote = yield from self._quote_flow(QuoteRequest.from_queue(request))
            quote_usd = quote.quote
        except (BadRequestError, PermissionDeniedError, AuthenticationError):
            raise
        except APIError as exc:
            if max_cost is not None:
                raise
            logger.warning("could not get a quote (%s); queueing without one", exc)
        if max_cost is not None and quote_usd is not None and quote_usd > max_cost:
            raise SpendLimitError(quote_usd, max_cost, model=request.model)
        key = idempotency_key or uuid.uuid4().hex
        path = _output_path(output, request.model, key)
        queued = yield from self._queue_flow(
            body, key=key, quote_usd=quote_usd, output_path=path, tags=tags
        )
        job = VideoJob(
            idempotency_key=key,
            model=queued.model or request.model,
            status="QUEUED",
            queue_id=queued.queue_id,
            quote_usd=quote_usd,
            path=path,
            queued_at=self._wall(),
            base_url=self.base_url,
            tags=dict(tags or {}),
            download_url=queued.download_url,
        )
        _notify(
            on_progress,
            Progress(phase="queued", status="QUEUED", elapsed_s=0.0, queue_id=job.queue_id),
        )
        return job

    # ------------------------------------------------------------------ waiting

    def _journal_update(self, job: VideoJob, **fields: Any) -> Flow[VideoJob]:
        """Change a job, and its journal entry when there is one."""
        journal = self.journal
        changes = dict(fields)
        if "path" in changes:
            path = changes.pop("path")
            changes["output_path"] = str(path) if path is not None else None
        if journal is not None:
            entry = yield _Call(
                functools.partial(_update_entry, journal, job.idempotency_key, changes)
            )
            if entry is not None:
                return _merge_entry(job, entry)
        now = self._wall()
        stamps = {"READY": "ready_at", "DOWNLOADED": "downloaded_at", "COMPLETED": "completed_at"}
        updated = job.replace(**{k: v for k, v in fields.items() if k != "output_path"})
        stamp = stamps.get(str(fields.get("status")))
        if stamp and getattr(updated, stamp) is None:
            updated = updated.replace(**{stamp: now})
        return updated

    def _wait_flow(
        self,
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
        deadline = self._clock() + (timeout if timeout is not None else self.wait_timeout)
        begun = self._clock()
        pacer = PollPacer(
            self._poll,
            started_at=self._queued_mono.get(job.idempotency_key),
            rand=self._rand,
            window=self._stats.window(job.model, self._poll),
            hint=self._stats.hint(job.model),
        )
        body = {"model": job.model, "queue_id": queue_id}
        errors = 0
        server_errors = 0
        last_processing: tuple[float, float] | None = None  # (execution_ms, average_ms)
        if pacer.can_wait_first:
            # Jobs of this model were seen finish: the first poll can wait until this one
            # may be ready, rather than ask at once what the last job already said.
            now = self._clock()
            yield _Sleep(min(pacer.next_delay(now), max(0.0, deadline - now)), cancel)
        while True:
            if _cancelled(cancel):
                raise JobCancelledError(
                    f"waiting for {queue_id} was cancelled", job_id=queue_id, job=job
                )
            request = self._build("POST", "/video/retrieve", json=body)
            sent = self._clock()
            try:
                response = yield from self._send_flow(request, "retrieve")
                received = self._clock()
                if _is_json(response):
                    yield _ReadAll(response)
                    payload = response.json()
                    if not isinstance(payload, dict):
                        raise ValueError(f"unexpected retrieve answer: {payload!r:.100}")
                else:
                    payload = None
            except APIStatusError as exc:
                if exc.status_code in (401, 402, 403):
                    raise
                retryable = exc.status_code in self._retry.retry_statuses
                if exc.status_code == 500:
                    # A refund means the job is over; any other 500 may be a passing fault.
                    server_errors += 1
                    retryable = not _is_refunded(exc) and (
                        server_errors < self._poll.max_consecutive_server_errors
                    )
                if not retryable:
                    failed = yield from self._journal_update(
                        job, status="FAILED", error=f"the API reported a failure: {exc}"
                    )
                    self._queued_mono.pop(job.idempotency_key, None)
                    raise JobFailedError(
                        f"job {queue_id} failed: {exc.message}", job=failed
                    ) from exc
                errors += 1
                delay = self._error_delay(errors, exc)
            except (APIConnectionError, ValueError) as exc:
                errors += 1
                delay = self._error_delay(errors, exc)
            else:
                errors = 0
                if exc_status := _failed_status(payload):
                    failed = yield from self._journal_update(
                        job, status="FAILED", error=f"the API reported {exc_status}"
                    )
                    raise JobFailedError(f"job {queue_id} failed ({exc_status})", job=failed)
                if payload is None or payload.get("status") == "COMPLETED":
                    if last_processing is not None:
                        seen_ms, average_ms = last_processing
                        found_ms = pacer.execution_at((sent + received) / 2.0)
                        self._stats.record(job.model, seen_ms, found_ms, average_ms)
                    done = _timing(payload) if payload is not None else {}
                    if job.status != "READY":
                        job = yield from self._journal_update(job, status="READY", **done)
                    if payload is None and not keep_open:
                        yield _Close(response)
                    return job, (response if payload is None else None)
                server_errors = 0
                timing = _timing(payload)
                average = timing.get("average_execution_ms")
                execution = timing.get("execution_ms")
                pacer.observe((sent + received) / 2.0, average, execution)
                if execution is not None and average:
                    last_processing = (execution, average)
                    self._stats.remember(job.model, average, pacer.rate)
                if job.status in ("QUEUED", "QUEUING", "UNKNOWN"):
                    job = yield from self._journal_update(job, status="PROCESSING", **timing)
                else:
                    job = job.replace(**timing)
                now = self._clock()
                keep_going = _notify(
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
                pacer.window = self._stats.window(job.model, self._poll)
                delay = pacer.next_delay(now)
            now = self._clock()
            if now >= deadline:
                raise JobTimeoutError(
                    f"job {queue_id} was not ready within {deadline - begun:.0f}s; it keeps "
                    "running on the server: wait() or resume() it later",
                    job_id=queue_id,
                    timeout=deadline - begun,
                    job=job,
                )
            yield _Sleep(min(delay, deadline - now), cancel)

    def _error_delay(self, errors: int, exc: BaseException) -> float:
        delay = backoff_delay(
            self._retry, errors, retry_after=self._retry_after(exc), rand=self._rand
        )
        logger.info("retrieve failed (%s); polling again in %.2fs", exc, delay)
        return min(delay, self._retry.max_retry_after)

    # ------------------------------------------------------------------ downloading

    def _download_flow(
        self,
        job: VideoJob,
        response: httpx.Response | None,
        *,
        output: Path,
        on_progress: ProgressCallback | None,
        cancel: CancelToken | None,
        timeout: float | None,
    ) -> Flow[VideoJob]:
        """Save the video to `output`: streamed to a `.part`, fsynced, verified, renamed."""
        if job.path != output:
            job = yield from self._journal_update(job, path=output)
        if job.download_url:
            if response is not None:
                yield _Close(response)
            return (yield from self._download_url_flow(job, output, on_progress))
        failures: list[str] = []
        while True:
            if response is None:
                job, response = yield from self._wait_flow(
                    job, timeout=timeout, on_progress=on_progress, cancel=cancel, keep_open=True
                )
                if response is None:  # COMPLETED JSON without a download_url
                    raise DownloadError(
                        f"job {job.queue_id} is ready but the API sent no video and no download_url"
                    )
            try:
                result = yield from self._stream_to_part(
                    job, response, output, on_progress, resume=False
                )
            except (APIConnectionError, DownloadVerificationError) as exc:
                # Retrieve is free: a cut or corrupt inline body is fetched again from scratch.
                failures.append(str(exc))
                response = None
                if len(failures) >= _INLINE_ATTEMPTS:
                    yield from self._journal_update(job, error=f"download failed: {exc}")
                    if isinstance(exc, DownloadVerificationError):
                        raise
                    raise DownloadError(
                        f"the video of {job.queue_id} could not be downloaded after "
                        f"{len(failures)} attempts: {exc}"
                    ) from exc
                logger.info("download of %s failed (%s); retrieving again", job.queue_id, exc)
                continue
            return (yield from self._saved(job, result))

    def _download_url_flow(
        self, job: VideoJob, output: Path, on_progress: ProgressCallback | None
    ) -> Flow[VideoJob]:
        """GET the pre-signed URL without credentials, resuming with `Range` after a drop."""
        from ._download import PartFile

        url = job.download_url
        assert url is not None
        fresh_starts = 0
        resumes = 0
        attempt = 0
        while True:
            part: PartFile = yield _Call(functools.partial(PartFile, output, resume=True))
            headers = {"Range": f"bytes={part.offset}-"} if part.offset else {}
            request = self._build("GET", url, headers=headers, authenticated=False)
            try:
                response: httpx.Response = yield _Send(request)
                if response.status_code >= 400:
                    yield _ReadAll(response)
                    raise self._status_error(response)
            except (APIConnectionError, APIStatusError) as exc:
                yield _Call(functools.partial(part.abort, keep_part=True))
                attempt += 1
                if isinstance(exc, APIStatusError) and exc.status_code == 416:
                    yield _Call(functools.partial(part.abort, keep_part=False))
                    yield _Call(functools.partial(_unlink, part.part_path))
                    continue
                if isinstance(exc, NotFoundError | GoneError):
                    failed = yield from self._journal_update(
                        job, status="FAILED", error=f"the download URL is gone: {exc}"
                    )
                    raise JobFailedError(
                        f"the video of {job.queue_id} can no longer be downloaded: {exc.message}",
                        job=failed,
                    ) from exc
                retryable = isinstance(exc, APIConnectionError) or (
                    exc.status_code in self._retry.retry_statuses
                )
                if not retryable or attempt >= self._retry.max_attempts:
                    raise
                yield _Sleep(
                    backoff_delay(
                        self._retry, attempt, retry_after=self._retry_after(exc), rand=self._rand
                    )
                )
                continue
            if part.offset and response.status_code != 206:
                # The server ignored the Range: start the file over.
                yield _Call(functools.partial(part.abort, keep_part=False))
                part = yield _Call(functools.partial(PartFile, output, resume=False))
            try:
                result = yield from self._stream_to_part(
                    job, response, output, on_progress, resume=True, part=part
                )
            except APIConnectionError as exc:
                resumes += 1
                if resumes > _RANGE_RESUMES:
                    raise DownloadError(
                        f"the download of {job.queue_id} kept failing: {exc}"
                    ) from exc
                logger.info("download of %s dropped (%s); resuming", job.queue_id, exc)
                continue
            except DownloadVerificationError as exc:
                # A short file keeps its .part (the next pass resumes it); anything else was
                # deleted and starts over. Either way, a few tries only: the URL is rationed.
                fresh_starts += 1
                if fresh_starts >= _DOWNLOAD_ATTEMPTS:
                    yield from self._journal_update(job, error=f"download failed: {exc}")
                    raise
                logger.info("download of %s did not verify (%s); again", job.queue_id, exc)
                continue
            return (yield from self._saved(job, result))

    def _stream_to_part(
        self,
        job: VideoJob,
        response: httpx.Response,
        output: Path,
        on_progress: ProgressCallback | None,
        *,
        resume: bool,
        part: PartFile | None = None,
    ) -> Flow[Any]:
        from ._download import PartFile

        if part is None:
            part = yield _Call(functools.partial(PartFile, output, resume=resume))
        assert part is not None
        total = _content_length(response)
        expected = part.offset + total if total is not None else None
        if response.status_code == 206:
            expected = _range_total(response) or expected
        began = self._clock()
        done = part.offset
        try:
            while True:
                chunk: bytes = yield _ReadChunk(response)
                if not chunk:
                    break
                part.write(chunk)
                done += len(chunk)
                _notify(
                    on_progress,
                    Progress(
                        phase="downloading",
                        status="READY",
                        elapsed_s=self._clock() - began,
                        bytes_done=done,
                        bytes_total=expected,
                        queue_id=job.queue_id,
                    ),
                )
        except BaseException:
            # No yield here: this also runs when the flow is closed or cancelled. The driver
            # closes the response; the .part is kept for a Range resume, or dropped.
            part.abort(keep_part=resume)
            raise
        yield _Close(response)
        if expected is not None and done < expected:
            yield _Call(functools.partial(part.abort, keep_part=resume))
            raise APIConnectionError(
                f"the video body was cut short: {done} of {expected} bytes", None
            )
        return (
            yield _Call(
                functools.partial(part.finish, expected_size=expected, verify=self.verify_downloads)
            )
        )

    def _saved(self, job: VideoJob, result: Any) -> Flow[VideoJob]:
        job = yield from self._journal_update(
            job,
            status="DOWNLOADED",
            path=result.path,
            size_bytes=result.size_bytes,
            sha256=result.sha256,
            error=None,
        )
        elapsed = None
        if job.queued_at is not None and job.downloaded_at is not None:
            elapsed = max(0.0, job.downloaded_at - job.queued_at)
        return job.replace(media=result.media, elapsed_s=elapsed)

    # ------------------------------------------------------------------ cleanup

    def _cleanup_flow(self, job: VideoJob, cleanup: Cleanup | None) -> Flow[VideoJob]:
        """Delete the server's copy, only once the file is safe. A failure here is recorded
        and leaves the job DOWNLOADED (its file is fine); `resume()` tries again."""
        mode = cleanup or self.cleanup
        assert job.queue_id is not None
        if job.status == "COMPLETED":
            return job
        if mode == "none":
            return (yield from self._journal_update(job, status="COMPLETED"))
        try:
            if mode in ("auto", "complete", "both"):
                try:
                    yield from self._complete_flow(job.model, job.queue_id)
                except NotFoundError:
                    pass  # already gone: nothing left to delete
                except BadRequestError:
                    # The API does not know download_url jobs at /video/complete.
                    if not (job.download_url and mode == "auto"):
                        raise
                    mode = "delete_url"
            if job.download_url and mode in ("delete_url", "both"):
                yield from self._delete_url_flow(job.download_url)
        except APIError as exc:
            logger.warning("could not delete the server copy of %s: %s", job.queue_id, exc)
            return (yield from self._journal_update(job, error=f"cleanup failed: {exc}"))
        return (yield from self._journal_update(job, status="COMPLETED"))

    def _delete_url_flow(self, url: str) -> Flow[None]:
        attempt = 0
        while True:
            attempt += 1
            request = self._build("DELETE", url, authenticated=False)
            try:
                response: httpx.Response = yield _Send(request)
                yield _ReadAll(response)
                if response.status_code in (404, 410) or response.status_code < 300:
                    return None
                raise self._status_error(response)
            except APIError as exc:
                if not should_retry(self._retry, exc, attempt):
                    raise
                yield _Sleep(backoff_delay(self._retry, attempt, retry_after=None, rand=self._rand))

    # ------------------------------------------------------------------ whole lifecycles

    def _finish_flow(
        self,
        job: VideoJob,
        *,
        output: Path | None,
        timeout: float | None,
        on_progress: ProgressCallback | None,
        cancel: CancelToken | None,
        cleanup: Cleanup | None,
    ) -> Flow[VideoJob]:
        """Wait, download, verify, then clean up: everything after the queue."""
        target = output or job.path or _output_path(None, job.model, job.idempotency_key)
        begun = self._clock()
        if job.status in ("DOWNLOADED", "COMPLETED") and job.path is not None:
            intact = yield _Call(functools.partial(_file_matches, job.path, job.size_bytes))
            if intact and (output is None or output == job.path):
                return (yield from self._cleanup_flow(job, cleanup))
            if job.status == "COMPLETED":
                raise DownloadError(
                    f"the video of {job.queue_id} is no longer on the server (completed) and "
                    f"{job.path} is missing or changed"
                )
        job, response = yield from self._wait_flow(
            job, timeout=timeout, on_progress=on_progress, cancel=cancel, keep_open=True
        )
        job = yield from self._download_flow(
            job, response, output=target, on_progress=on_progress, cancel=cancel, timeout=timeout
        )
        job = yield from self._cleanup_flow(job, cleanup)
        self._queued_mono.pop(job.idempotency_key, None)
        _notify(
            on_progress,
            Progress(
                phase="done",
                status=job.status,
                elapsed_s=self._clock() - begun,
                bytes_done=job.size_bytes or 0,
                bytes_total=job.size_bytes,
                queue_id=job.queue_id,
            ),
        )
        return job

    def _generate_flow(
        self,
        fields: Mapping[str, Any],
        *,
        output: str | os.PathLike[str] | None,
        max_cost: float | None,
        tags: Mapping[str, Any] | None,
        idempotency_key: str | None,
        on_progress: ProgressCallback | None,
        cancel: CancelToken | None,
        timeout: float | None,
        cleanup: Cleanup | None,
    ) -> Flow[VideoJob]:
        job = yield from self._submit_flow(
            fields,
            output=output,
            max_cost=max_cost,
            tags=tags,
            idempotency_key=idempotency_key,
            on_progress=on_progress,
        )
        return (
            yield from self._finish_flow(
                job,
                output=job.path,
                timeout=timeout,
                on_progress=on_progress,
                cancel=cancel,
                cleanup=cleanup,
            )
        )

    def _resume_one_flow(
        self,
        entry: JournalEntry,
        *,
        timeout: float | None,
        on_progress: ProgressCallback | None,
        cancel: CancelToken | None,
    ) -> Flow[VideoJob]:
        """Drive one unfinished journal entry to its end. Errors end up in `job.error`."""
        job = VideoJob.from_entry(entry)
        try:
            if job.status == "QUOTED":
                return (yield from self._journal_update(job, status="CANCELLED"))
            if job.status in ("QUEUING", "UNKNOWN") and job.queue_id is None:
                if not self.idempotent_queue_retries or _has_digests(entry.request):
                    if job.status == "QUEUING":
                        job = yield from self._journal_update(
                            job,
                            status="UNKNOWN",
                            error="the process stopped while queueing; whether the job exists "
                            "is unknown. Check your account before queueing it again.",
                        )
                    return job
                # The server honours Idempotency-Key: asking again with the same key returns
                # the job it created, or creates it once.
                queued = yield from self._queue_flow(
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
                yield from self._finish_flow(
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
            latest = yield from self._entry_job(job)
            return latest.replace(error=str(exc))

    def _entry_job(self, job: VideoJob) -> Flow[VideoJob]:
        journal = self.journal
        if journal is None:
            return job
        entry = yield _Call(functools.partial(journal.get, job.idempotency_key))
        return VideoJob.from_entry(entry) if entry is not None else job

    def _resumable(self, keys: Sequence[str] | None = None) -> list[JournalEntry]:
        journal = self.journal
        if journal is None:
            return []
        mine = _clean_url(self.base_url)
        entries = [e for e in journal.unfinished() if _clean_url(e.base_url) == mine]
        if keys is not None:
            wanted = set(keys)
            entries = [e for e in entries if e.key in wanted]
        return entries

    def _jobs(
        self, statuses: Sequence[JobStatus] | None, unfinished: bool, limit: int | None
    ) -> list[VideoJob]:
        journal = self.journal
        if journal is None:
            return []
        entries = journal.list(statuses=statuses, unfinished=unfinished, limit=limit)
        return [VideoJob.from_entry(e) for e in entries]

    def _job_of(self, job: VideoJob | str) -> VideoJob:
        if isinstance(job, VideoJob):
            return job
        journal = self.journal
        entry = journal.find(job) if journal is not None else None
        if entry is None:
            raise VeniceVideoError(f"no job {job!r} in the journal")
        return VideoJob.from_entry(entry)

    def _retrieve_flow(
        self,
        model: str,
        queue_id: str,
        output: str | os.PathLike[str] | None,
        delete_media_on_completion: bool | None,
    ) -> Flow[RetrieveStatus]:
        body: dict[str, Any] = {"model": model, "queue_id": queue_id}
        if delete_media_on_completion is not None:
            body["delete_media_on_completion"] = delete_media_on_completion
        attempt = 0
        while True:
            attempt += 1
            request = self._build("POST", "/video/retrieve", json=body)
            try:
                response = yield from self._send_flow(request, "retrieve")
                if _is_json(response):
                    yield _ReadAll(response)
                    return RetrieveStatus.model_validate_json(response.content)
                if output is None:
                    yield _Close(response)
                    return RetrieveStatus(status="COMPLETED")
                job = VideoJob(
                    idempotency_key=queue_id, model=model, status="READY", queue_id=queue_id
                )
                result = yield from self._stream_to_part(
                    job, response, Path(output), None, resume=False
                )
                return RetrieveStatus(
                    status="COMPLETED", path=result.path, size_bytes=result.size_bytes
                )
            except (APIError, DownloadVerificationError) as exc:
                retry_exc = exc if isinstance(exc, APIError) else APIConnectionError(str(exc))
                if not should_retry(self._retry, retry_exc, attempt):
                    raise
                yield _Sleep(
                    backoff_delay(
                        self._retry, attempt, retry_after=self._retry_after(exc), rand=self._rand
                    )
                )


# --------------------------------------------------------------------------- helpers


def _resolve_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The queue body from `generate()`'s arguments: local media read and inlined."""
    body: dict[str, Any] = {}
    media = {
        "image": ("image_url", "image"),
        "end_image": ("end_image_url", "image"),
        "audio_input": ("audio_url", "audio"),
        "video": ("video_url", "video"),
    }
    lists = {
        "reference_images": ("reference_image_urls", "image"),
        "scene_images": ("scene_image_urls", "image"),
        "reference_videos": ("reference_video_urls", "video"),
        "reference_audios": ("reference_audio_urls", "audio"),
    }
    for name, value in fields.items():
        if value is None:
            continue
        if name in media:
            wire, kind = media[name]
            body[wire] = resolve_media(value, cast(Any, kind), field=wire)
        elif name in lists:
            wire, kind = lists[name]
            if isinstance(value, str | bytes | os.PathLike):
                raise InputError(f"{name}: expected a list of inputs, got one")
            body[wire] = [
                resolve_media(v, cast(Any, kind), field=f"{wire}.{i}") for i, v in enumerate(value)
            ]
        elif name == "reference_documents":
            body["reference_document_urls"] = list(value)
        elif name == "elements":
            body["elements"] = [_resolve_element(e, i) for i, e in enumerate(value)]
        elif name == "keyframes":
            body["keyframes"] = [_resolve_keyframe(k, i) for i, k in enumerate(value)]
        elif isinstance(value, pydantic.BaseModel):
            body[name] = value.model_dump(mode="json", exclude_none=True)
        else:
            body[name] = value
    return body


def _resolve_element(element: ElementArg, index: int) -> dict[str, Any]:
    data = (
        element.model_dump(exclude_none=True)
        if isinstance(element, Element)
        else {k: v for k, v in element.items() if v is not None}
    )
    where = f"elements.{index}"
    if "frontal_image_url" in data:
        data["frontal_image_url"] = resolve_media(
            data["frontal_image_url"], "image", field=f"{where}.frontal_image_url"
        )
    if "reference_image_urls" in data:
        data["reference_image_urls"] = [
            resolve_media(v, "image", field=f"{where}.reference_image_urls.{i}")
            for i, v in enumerate(data["reference_image_urls"])
        ]
    if "video_url" in data:
        data["video_url"] = resolve_media(data["video_url"], "video", field=f"{where}.video_url")
    return data


def _resolve_keyframe(keyframe: KeyframeArg, index: int) -> dict[str, Any]:
    data = (
        keyframe.model_dump(exclude_none=True) if isinstance(keyframe, Keyframe) else dict(keyframe)
    )
    if "image_url" in data:
        data["image_url"] = resolve_media(
            data["image_url"], "image", field=f"keyframes.{index}.image_url"
        )
    return data


def _pydantic_issues(exc: pydantic.ValidationError) -> list[Issue]:
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


def _output_path(output: str | os.PathLike[str] | None, model: str, key: str) -> Path:
    name = f"{model}-{key[:8]}.mp4"
    if output is None:
        return Path.cwd() / name
    path = Path(output).expanduser()
    if path.is_dir():
        return (path / name).absolute()
    return path.absolute()


def _is_json(response: httpx.Response) -> bool:
    content_type: str = response.headers.get("content-type", "")
    return content_type.startswith("application/json") or content_type.endswith("+json")


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


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length")
    if value is None or response.headers.get("content-encoding"):
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _range_total(response: httpx.Response) -> int | None:
    # Content-Range: bytes 100-999/1000
    value = response.headers.get("content-range", "")
    _, _, total = value.rpartition("/")
    return int(total) if total.isdigit() else None


def _update_entry(journal: Journal, key: str, changes: dict[str, Any]) -> JournalEntry | None:
    # A job built by hand (not queued through this journal) has no entry to update.
    if journal.get(key) is None:
        return None
    return journal.update(key, **changes)


def _merge_entry(job: VideoJob, entry: JournalEntry) -> VideoJob:
    fresh = VideoJob.from_entry(entry)
    return fresh.replace(media=job.media, elapsed_s=fresh.elapsed_s or job.elapsed_s)


def _notify(callback: ProgressCallback | None, progress: Progress) -> bool:
    if callback is None:
        return True
    return callback(progress) is not False


def _cancelled(cancel: CancelToken | None) -> bool:
    return cancel is not None and cancel.is_set()


def _is_refunded(exc: APIStatusError) -> bool:
    body: Mapping[str, Any] = exc.body if isinstance(exc.body, Mapping) else {}
    error = body.get("error")
    inner: Mapping[str, Any] = error if isinstance(error, Mapping) else {}
    return (
        body.get("credits_refunded") is True
        or inner.get("credits_refunded") is True
        or exc.code == "INFERENCE_FAILED"
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, APITimeoutError):
        return "no answer before the timeout"
    if isinstance(exc, APIConnectionError):
        return "a dropped connection"
    if isinstance(exc, APIStatusError):
        return f"HTTP {exc.status_code}"
    return "no usable answer"


def _has_digests(value: Any) -> bool:
    if isinstance(value, str):
        return value.startswith("data:") and ";sha256=" in value
    if isinstance(value, Mapping):
        return any(_has_digests(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_digests(v) for v in value)
    return False


def _file_matches(path: Path, size: int | None) -> bool:
    try:
        return path.is_file() and (size is None or path.stat().st_size == size)
    except OSError:
        return False


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _clean_url(url: str) -> str:
    return httpx.URL(url).copy_with(query=None, fragment=None, userinfo=b"").__str__().rstrip("/")


# =========================================================================== the sync twin


class VeniceVideo(BaseClient):
    """The synchronous client.

    ```python
    from venice_video import VeniceVideo

    with VeniceVideo() as client:  # the key comes from VENICE_API_KEY
        job = client.generate(
            model="wan-2-7-text-to-video",
            prompt="A gondola glides through Venice at dawn",
            duration="5s", resolution="720p", output="gondola.mp4", max_cost=1.00,
        )
    print(job.path, job.cost, job.elapsed_s)
    ```

    Args:
        api_key: the Venice API key; defaults to `$VENICE_API_KEY`. Never logged or stored.
        base_url: the API root; defaults to `$VENICE_BASE_URL`, else the real API.
        timeout: per HTTP request (seconds or an `httpx.Timeout`).
        wait_timeout: how long `wait()` and `generate()` wait for a job, by default.
        journal: a `Journal`, a path to one, `None` for the default journal, or `False` to
            keep no journal (then nothing survives a crash).
        cache_dir: where the model catalog is cached; `False` to keep it in memory only.
        catalog: use this catalog and never fetch one (tests, offline use).
        retry: retries of free calls.
        poll: the pacing of `/video/retrieve`.
        rate_limit: the client-side pacing shared by all jobs of this client.
        idempotent_queue_retries: the server honours `Idempotency-Key` on the queue (the
            local server does; the real API does not say), so a queue request whose outcome
            is unknown may be sent again with the same key. Off by default: an unknown outcome
            then raises `QueueOutcomeUnknownError` and the job is never queued twice.
        cleanup: what to do with the server's copy after a verified download.
        verify_downloads: decode each download to prove it is a complete video.
        validate_requests: check requests against the model catalog before any money moves.
        transport: an httpx transport (tests: `httpx.MockTransport`).
        http_client: an `httpx.Client` to use (its lifetime stays yours).
        sleep: how to sleep; tests inject one that returns at once.
        clock: a monotonic clock, for deadlines and pacing.
        wall_clock: the wall clock, for journal timestamps and `Retry-After` dates.
        rand: a uniform `[0, 1)` source for jitter (seed it for reproducible tests).
    """

    _http: httpx.Client

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        wait_timeout: float = DEFAULT_WAIT_TIMEOUT,
        journal: JournalArg = None,
        cache_dir: str | os.PathLike[str] | Literal[False] | None = None,
        catalog: Catalog | None = None,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen
        poll: PollPolicy = PollPolicy(),  # noqa: B008 - frozen
        rate_limit: RateLimitPolicy = RateLimitPolicy(),  # noqa: B008 - frozen
        idempotent_queue_retries: bool = False,
        cleanup: Cleanup = "auto",
        verify_downloads: bool = True,
        validate_requests: bool = True,
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rand: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(
            api_key=api_key, base_url=base_url, timeout=timeout, wait_timeout=wait_timeout,
            journal=journal, cache_dir=cache_dir, catalog=catalog, retry=retry, poll=poll,
            rate_limit=rate_limit, idempotent_queue_retries=idempotent_queue_retries,
            cleanup=cleanup, verify_downloads=verify_downloads,
            validate_requests=validate_requests, clock=clock, wall_clock=wall_clock, rand=rand,
        )  # fmt: skip
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(
            timeout=self.timeout, transport=transport, follow_redirects=True
        )
        self._sleep = sleep or time.sleep
        self._default_sleep = sleep is None

    # ------------------------------------------------------------------ driving flows

    def _drive(self, flow: Flow[T]) -> T:
        state = _DriveState()
        value: Any = None
        error: BaseException | None = None
        try:
            while True:
                try:
                    effect = flow.send(value) if error is None else flow.throw(error)
                except StopIteration as stop:
                    return cast(T, stop.value)
                value, error = None, None
                try:
                    value = self._perform(effect, state)
                except Exception as exc:
                    error = exc
        finally:
            flow.close()
            for response in state.opened:
                response.close()

    def _perform(self, effect: _Effect, state: _DriveState) -> Any:
        if isinstance(effect, _Send):
            try:
                response = self._http.send(effect.request, stream=True)
            except httpx.TransportError as exc:
                raise map_transport_error(exc, effect.request) from exc
            state.track(response)
            return response
        if isinstance(effect, _ReadChunk):
            try:
                iterator = state.iterators.setdefault(
                    id(effect.response), effect.response.iter_bytes()
                )
                return next(iterator, b"")
            except httpx.TransportError as exc:
                raise map_transport_error(exc, None) from exc
        if isinstance(effect, _ReadAll):
            try:
                return effect.response.read()
            except httpx.TransportError as exc:
                raise map_transport_error(exc, None) from exc
        if isinstance(effect, _Close):
            state.iterators.pop(id(effect.response), None)
            effect.response.close()
            return None
        if isinstance(effect, _Sleep):
            if effect.seconds <= 0:
                return None
            if self._default_sleep and isinstance(effect.cancel, threading.Event):
                effect.cancel.wait(effect.seconds)
            else:
                self._sleep(effect.seconds)
            return None
        return effect.fn()

    # ------------------------------------------------------------------ endpoints

    def quote(
        self,
        model: str | None = None,
        *,
        duration: Duration | None = None,
        aspect_ratio: AspectRatio | None = None,
        resolution: Resolution | None = None,
        upscale_factor: UpscaleFactor | None = None,
        audio: bool | None = None,
        video_url: str | None = None,
        reference_video_total_duration: float | None = None,
        request: QuoteRequest | QueueRequest | None = None,
    ) -> QuoteResponse:
        """Ask the price of a video in USD (`POST /video/quote`). Free; nothing is queued.

        Give the fields, or a ready `request` (a `QueueRequest` is priced by its quote fields).

        Raises:
            BadRequestError: the API rejected a field (`.issues` says which).
        """
        quote_request = _quote_request(
            model, request, duration=duration, aspect_ratio=aspect_ratio,
            resolution=resolution, upscale_factor=upscale_factor, audio=audio,
            video_url=video_url, reference_video_total_duration=reference_video_total_duration,
        )  # fmt: skip
        return self._drive(self._quote_flow(quote_request))

    def queue(
        self,
        request: QueueRequest,
        *,
        idempotency_key: str | None = None,
        output: str | os.PathLike[str] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> QueueResponse:
        """Queue a job (`POST /video/queue`). This is the call that costs money.

        The journal records the intent before the request is sent and the `queue_id` as soon
        as it exists. Prefer `submit()` or `generate()`, which also validate and price first.

        Args:
            request: the job.
            idempotency_key: sent as `Idempotency-Key`; a new one by default.
            output: where the video will be saved (recorded in the journal for `resume()`).
            tags: free-form labels kept in the journal.

        Raises:
            QueueOutcomeUnknownError: the request may have reached the API but no answer came
                back. Do not queue it again blindly; see the error message.
        """
        key = idempotency_key or uuid.uuid4().hex
        path = _output_path(output, request.model, key)
        return self._drive(
            self._queue_flow(
                request.to_body(), key=key, quote_usd=None, output_path=path, tags=tags
            )
        )

    def retrieve(
        self,
        model: str,
        queue_id: str,
        *,
        output: str | os.PathLike[str] | None = None,
        delete_media_on_completion: bool | None = None,
    ) -> RetrieveStatus:
        """Poll a job once (`POST /video/retrieve`). Free.

        When the video is ready and `output` is given, it is saved there (verified, atomic);
        without `output` a ready video is reported but not downloaded.
        """
        return self._drive(self._retrieve_flow(model, queue_id, output, delete_media_on_completion))

    def complete(self, model: str, queue_id: str) -> CompleteResponse:
        """Delete a finished job's media from the server (`POST /video/complete`). Free."""
        return self._drive(self._complete_flow(model, queue_id))

    def transcribe(
        self, url: str, *, response_format: TranscriptFormat = "json"
    ) -> VideoTranscription:
        """Transcribe the speech of a public video URL (`POST /video/transcriptions`, beta)."""
        return self._drive(self._transcribe_flow(url, response_format))

    def transcribe_audio(
        self,
        file: str | os.PathLike[str] | bytes,
        *,
        model: str = DEFAULT_STT_MODEL,
        response_format: TranscriptFormat = "json",
        timestamps: bool = False,
        language: str | None = None,
    ) -> AudioTranscription:
        """Transcribe a local audio file, or a video's audio track (`POST /audio/transcriptions`).

        A video is not uploaded: its audio is extracted (PyAV) to a small WAV first.

        Raises:
            InputError: the file is missing, or neither audio nor video.
        """
        return self._drive(
            self._transcribe_audio_flow(
                file, model=model, response_format=response_format,
                timestamps=timestamps, language=language,
            )
        )  # fmt: skip

    def models(self, *, refresh: bool = False) -> Catalog:
        """The video model catalog (`GET /models?type=video`), cached on disk for a day.

        When the API cannot be reached, a stale copy or the bundled snapshot is returned.
        """
        return self._drive(self._models_flow(refresh))

    @overload
    def validate(self, request: QuoteRequest) -> QuoteRequest: ...
    @overload
    def validate(self, request: QueueRequest | Mapping[str, Any]) -> QueueRequest: ...
    def validate(
        self, request: QueueRequest | QuoteRequest | Mapping[str, Any]
    ) -> QueueRequest | QuoteRequest:
        """Check a request against the spec and its model's constraints; nothing is sent.

        Returns the typed request. A mapping is checked as a queue body.

        Raises:
            ValidationError: every problem, each with the field, the value, the allowed
                values and a close match.
        """
        return self._drive(self._validate_flow(request, "queue"))

    # ------------------------------------------------------------------ the lifecycle

    def generate(
        self,
        *,
        model: str,
        prompt: str | None = None,
        duration: Duration | None = None,
        aspect_ratio: AspectRatio | None = None,
        resolution: Resolution | None = None,
        audio: bool | None = None,
        image: MediaInput | None = None,
        end_image: MediaInput | None = None,
        audio_input: MediaInput | None = None,
        video: MediaInput | None = None,
        reference_images: Sequence[MediaInput] | None = None,
        reference_videos: Sequence[MediaInput] | None = None,
        reference_audios: Sequence[MediaInput] | None = None,
        reference_documents: Sequence[str] | None = None,
        elements: Sequence[ElementArg] | None = None,
        scene_images: Sequence[MediaInput] | None = None,
        keyframes: Sequence[KeyframeArg] | None = None,
        upscale_factor: UpscaleFactor | None = None,
        negative_prompt: str | None = None,
        extra: Mapping[str, Any] | None = None,
        output: str | os.PathLike[str] | None = None,
        max_cost: float | None = None,
        tags: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        on_progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        timeout: float | None = None,
        cleanup: Cleanup | None = None,
    ) -> VideoJob:
        """Make a video and save it: validate, quote, queue, wait, download, verify, complete.

        Returns once the file is saved, fsynced and verified, with the `VideoJob` (its
        `path`, `cost`, `queue_id` and timings). Every step is journaled, so an interrupted
        call is finished by `resume()` without paying twice.

        Media inputs take an http(s) URL, a `data:` URL, a local path, bytes or a PIL image.

        Args:
            model: the model id (`client.models()` lists them).
            prompt: what to make.
            duration, aspect_ratio, resolution, audio, upscale_factor, negative_prompt: as the API.
            image, end_image: first and last frame.
            audio_input: a WAV or MP3 soundtrack (at most 30 s and 15 MB).
            video: the source video for video-to-video and upscale models.
            reference_images, reference_videos, reference_audios, reference_documents,
                elements, scene_images, keyframes: references for models that take them.
            extra: other queue fields, sent as given (`consents`, `bitrate_mode`, ...).
            output: the file to write (or a directory); by default `<model>-<key>.mp4` here.
            max_cost: refuse (`SpendLimitError`) before queueing if the quote is higher.
            tags: free-form labels kept in the journal.
            idempotency_key: the `Idempotency-Key`; a new one by default.
            on_progress: called with each `Progress`; return `False` to stop waiting.
            cancel: an event; once set, waiting stops (`JobCancelledError`).
            timeout: seconds to wait for the job (monotonic); by default `wait_timeout`.
            cleanup: what to do with the server's copy; by default the client's setting.

        Raises:
            ValidationError: the request is invalid; nothing was sent.
            SpendLimitError: the quote is over `max_cost`; nothing was queued.
            QueueOutcomeUnknownError: whether the job was created is unknown.
            JobFailedError: the API reported that the job failed.
            JobTimeoutError: the job was not ready in time (it keeps running).
            DownloadVerificationError: the file did not verify; the server copy is kept.
        """
        fields = _generate_fields(locals())
        return self._drive(
            self._generate_flow(
                fields, output=output, max_cost=max_cost, tags=tags,
                idempotency_key=idempotency_key, on_progress=on_progress, cancel=cancel,
                timeout=timeout, cleanup=cleanup,
            )
        )  # fmt: skip

    def submit(
        self,
        *,
        model: str,
        prompt: str | None = None,
        duration: Duration | None = None,
        aspect_ratio: AspectRatio | None = None,
        resolution: Resolution | None = None,
        audio: bool | None = None,
        image: MediaInput | None = None,
        end_image: MediaInput | None = None,
        audio_input: MediaInput | None = None,
        video: MediaInput | None = None,
        reference_images: Sequence[MediaInput] | None = None,
        reference_videos: Sequence[MediaInput] | None = None,
        reference_audios: Sequence[MediaInput] | None = None,
        reference_documents: Sequence[str] | None = None,
        elements: Sequence[ElementArg] | None = None,
        scene_images: Sequence[MediaInput] | None = None,
        keyframes: Sequence[KeyframeArg] | None = None,
        upscale_factor: UpscaleFactor | None = None,
        negative_prompt: str | None = None,
        extra: Mapping[str, Any] | None = None,
        output: str | os.PathLike[str] | None = None,
        max_cost: float | None = None,
        tags: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> VideoJob:
        """Validate, quote and queue a job, then return at once with its `VideoJob`.

        Takes the same request arguments as `generate()`. Follow with `wait()` and
        `download()`, or leave it to `resume()`.

        Raises:
            ValidationError: the request is invalid; nothing was sent.
            SpendLimitError: the quote is over `max_cost`; nothing was queued.
            QueueOutcomeUnknownError: whether the job was created is unknown.
        """
        fields = _generate_fields(locals())
        return self._drive(
            self._submit_flow(
                fields, output=output, max_cost=max_cost, tags=tags,
                idempotency_key=idempotency_key, on_progress=on_progress,
            )
        )  # fmt: skip

    def wait(
        self,
        job: VideoJob | str,
        *,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> VideoJob:
        """Wait until a job's video is ready; returns the job with status `READY`.

        Polls `/video/retrieve` at a pace set by the server's own estimate, backing off on
        errors. `job` is a `VideoJob`, or a queue id or key found in the journal.

        Raises:
            JobTimeoutError: not ready within `timeout` seconds (it keeps running).
            JobFailedError: the API reported that the job failed.
            JobCancelledError: `cancel` was set, or `on_progress` returned `False`.
        """
        resolved = self._job_of(job)
        ready, _ = self._drive(
            self._wait_flow(
                resolved, timeout=timeout, on_progress=on_progress, cancel=cancel,
                keep_open=False,
            )
        )  # fmt: skip
        return ready

    def download(
        self,
        job: VideoJob | str,
        output: str | os.PathLike[str] | None = None,
        *,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        cleanup: Cleanup | None = None,
    ) -> VideoJob:
        """Save a job's video (waiting for it if needed), verify it, then clean up.

        The file is streamed to `<output>.part`, fsynced, verified and renamed atomically;
        only then is the server's copy deleted (see `cleanup`).

        Raises:
            DownloadVerificationError: the file did not verify; the server copy is kept.
        """
        resolved = self._job_of(job)
        target = _output_path(output, resolved.model, resolved.idempotency_key) if output else None
        return self._drive(
            self._finish_flow(
                resolved, output=target, timeout=timeout, on_progress=on_progress,
                cancel=cancel, cleanup=cleanup,
            )
        )  # fmt: skip

    def resume(
        self,
        *,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        concurrency: int = 4,
        keys: Sequence[str] | None = None,
    ) -> list[VideoJob]:
        """Drive every unfinished journal entry of this API to its end; returns the jobs.

        `keys` limits it to those journal keys (a batch's own rows, say); finished or unknown
        keys are skipped.

        Queued jobs are waited for, downloaded, verified and cleaned up; downloaded ones are
        cleaned up. An entry whose queue outcome is unknown is queued again (with its key)
        only when `idempotent_queue_retries` is on; otherwise it is marked `UNKNOWN`. A job
        that fails keeps its reason in `.error`; the others carry on.
        """
        entries = self._resumable(keys)

        def one(entry: JournalEntry) -> VideoJob:
            return self._drive(
                self._resume_one_flow(
                    entry, timeout=timeout, on_progress=on_progress, cancel=cancel
                )
            )

        if concurrency <= 1 or len(entries) <= 1:
            return [one(e) for e in entries]
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            return list(pool.map(one, entries))

    def jobs(
        self,
        *,
        statuses: Sequence[JobStatus] | None = None,
        unfinished: bool = False,
        limit: int | None = None,
    ) -> list[VideoJob]:
        """The jobs in the journal, newest first."""
        return self._jobs(statuses, unfinished, limit)

    def render_story(
        self,
        story: Story | str | os.PathLike[str],
        *,
        output: str | os.PathLike[str] | None = None,
        concurrency: int = 4,
        on_shot: Callable[[ShotProgress], None] | None = None,
        on_assembly: Callable[[float], None] | None = None,
        confirm: Callable[[StoryQuote], bool] | None = None,
        overwrite: bool = False,
        retry_failed: bool = False,
        timeout: float | None = None,
    ) -> Film:
        """Render a story's shots, each paid once, and join them into one film.

        Checks the whole story first (offline), quotes the shots not yet paid for and
        refuses a story over its budget before anything is spent. Independent shots run at
        once; a chained shot waits for its predecessor's verified file. Run it again after
        any interruption: finished shots are reused, jobs in flight are followed. See
        `venice_video.story` and docs/stories.md.

        Args:
            story: a `Story`, or the path of a story file.
            output: the film's file; by default the story's `output`.
            concurrency: how many shots render at once.
            on_shot: called with each shot's `ShotProgress` as it moves on.
            on_assembly: called with the assembly's progress, 0 to 1.
            confirm: called with the `StoryQuote` before anything new is queued; returning
                `False` stops the render with nothing spent.
            overwrite: replace an existing film this story did not make.
            retry_failed: pay again for shots whose job failed or whose file was lost.
            timeout: seconds to wait for each shot's job.

        Raises:
            StoryError: the story is invalid; nothing was spent.
            StoryBudgetError: it would cost more than its budget; nothing was spent.
            StoryRenderError: some shots failed (the others are saved), or a queue outcome is
                unknown.
        """
        from .story._render import render_for

        return render_for(
            self, story,
            output=output, concurrency=concurrency, on_shot=on_shot, on_assembly=on_assembly,
            confirm=confirm, overwrite=overwrite, retry_failed=retry_failed, timeout=timeout,
        )  # fmt: skip

    # ------------------------------------------------------------------ lifetime

    def close(self) -> None:
        """Close the HTTP connections and the journal (if the client opened them)."""
        if self._owns_http:
            self._http.close()
        self._close_journal()

    def __enter__(self) -> VeniceVideo:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# =========================================================================== the async twin


class AsyncVeniceVideo(BaseClient):
    """The asynchronous client; the same methods as `VeniceVideo`, awaited.

    ```python
    from venice_video import AsyncVeniceVideo

    async with AsyncVeniceVideo() as client:  # the key comes from VENICE_API_KEY
        job = await client.generate(
            model="wan-2-7-text-to-video",
            prompt="A gondola glides through Venice at dawn",
            duration="5s", resolution="720p", output="gondola.mp4", max_cost=1.00,
        )
    print(job.path, job.cost, job.elapsed_s)
    ```

    Blocking work (the journal, file writes, verification) runs in worker threads. The
    arguments are those of `VeniceVideo`, except that `sleep` is a coroutine function and
    `transport`/`http_client` are async.
    """

    _http: httpx.AsyncClient

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        wait_timeout: float = DEFAULT_WAIT_TIMEOUT,
        journal: JournalArg = None,
        cache_dir: str | os.PathLike[str] | Literal[False] | None = None,
        catalog: Catalog | None = None,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen
        poll: PollPolicy = PollPolicy(),  # noqa: B008 - frozen
        rate_limit: RateLimitPolicy = RateLimitPolicy(),  # noqa: B008 - frozen
        idempotent_queue_retries: bool = False,
        cleanup: Cleanup = "auto",
        verify_downloads: bool = True,
        validate_requests: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rand: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(
            api_key=api_key, base_url=base_url, timeout=timeout, wait_timeout=wait_timeout,
            journal=journal, cache_dir=cache_dir, catalog=catalog, retry=retry, poll=poll,
            rate_limit=rate_limit, idempotent_queue_retries=idempotent_queue_retries,
            cleanup=cleanup, verify_downloads=verify_downloads,
            validate_requests=validate_requests, clock=clock, wall_clock=wall_clock, rand=rand,
        )  # fmt: skip
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(
            timeout=self.timeout, transport=transport, follow_redirects=True
        )
        self._sleep = sleep or anyio.sleep
        self._default_sleep = sleep is None

    # ------------------------------------------------------------------ driving flows

    async def _drive(self, flow: Flow[T]) -> T:
        state = _DriveState()
        value: Any = None
        error: BaseException | None = None
        try:
            while True:
                try:
                    effect = flow.send(value) if error is None else flow.throw(error)
                except StopIteration as stop:
                    return cast(T, stop.value)
                value, error = None, None
                try:
                    value = await self._perform(effect, state)
                except Exception as exc:
                    error = exc
        finally:
            flow.close()
            with anyio.CancelScope(shield=True):
                for response in state.opened:
                    await response.aclose()

    async def _perform(self, effect: _Effect, state: _DriveState) -> Any:
        if isinstance(effect, _Send):
            try:
                response = await self._http.send(effect.request, stream=True)
            except httpx.TransportError as exc:
                raise map_transport_error(exc, effect.request) from exc
            state.track(response)
            return response
        if isinstance(effect, _ReadChunk):
            try:
                iterator = state.iterators.setdefault(
                    id(effect.response), effect.response.aiter_bytes()
                )
                return await anext(iterator, b"")
            except httpx.TransportError as exc:
                raise map_transport_error(exc, None) from exc
        if isinstance(effect, _ReadAll):
            try:
                return await effect.response.aread()
            except httpx.TransportError as exc:
                raise map_transport_error(exc, None) from exc
        if isinstance(effect, _Close):
            state.iterators.pop(id(effect.response), None)
            await effect.response.aclose()
            return None
        if isinstance(effect, _Sleep):
            if effect.seconds <= 0:
                return None
            if self._default_sleep and isinstance(effect.cancel, anyio.Event):
                with anyio.move_on_after(effect.seconds):
                    await effect.cancel.wait()
            else:
                await self._sleep(effect.seconds)
            return None
        return await anyio.to_thread.run_sync(effect.fn)

    # ------------------------------------------------------------------ endpoints

    async def quote(
        self,
        model: str | None = None,
        *,
        duration: Duration | None = None,
        aspect_ratio: AspectRatio | None = None,
        resolution: Resolution | None = None,
        upscale_factor: UpscaleFactor | None = None,
        audio: bool | None = None,
        video_url: str | None = None,
        reference_video_total_duration: float | None = None,
        request: QuoteRequest | QueueRequest | None = None,
    ) -> QuoteResponse:
        """Ask the price of a video in USD (`POST /video/quote`). Free; nothing is queued.

        Give the fields, or a ready `request` (a `QueueRequest` is priced by its quote fields).

        Raises:
            BadRequestError: the API rejected a field (`.issues` says which).
        """
        quote_request = _quote_request(
            model, request, duration=duration, aspect_ratio=aspect_ratio,
            resolution=resolution, upscale_factor=upscale_factor, audio=audio,
            video_url=video_url, reference_video_total_duration=reference_video_total_duration,
        )  # fmt: skip
        return await self._drive(self._quote_flow(quote_request))

    async def queue(
        self,
        request: QueueRequest,
        *,
        idempotency_key: str | None = None,
        output: str | os.PathLike[str] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> QueueResponse:
        """Queue a job (`POST /video/queue`). This is the call that costs money.

        The journal records the intent before the request is sent and the `queue_id` as soon
        as it exists. Prefer `submit()` or `generate()`, which also validate and price first.

        Args:
            request: the job.
            idempotency_key: sent as `Idempotency-Key`; a new one by default.
            output: where the video will be saved (recorded in the journal for `resume()`).
            tags: free-form labels kept in the journal.

        Raises:
            QueueOutcomeUnknownError: the request may have reached the API but no answer came
                back. Do not queue it again blindly; see the error message.
        """
        key = idempotency_key or uuid.uuid4().hex
        path = _output_path(output, request.model, key)
        return await self._drive(
            self._queue_flow(
                request.to_body(), key=key, quote_usd=None, output_path=path, tags=tags
            )
        )

    async def retrieve(
        self,
        model: str,
        queue_id: str,
        *,
        output: str | os.PathLike[str] | None = None,
        delete_media_on_completion: bool | None = None,
    ) -> RetrieveStatus:
        """Poll a job once (`POST /video/retrieve`). Free.

        When the video is ready and `output` is given, it is saved there (verified, atomic);
        without `output` a ready video is reported but not downloaded.
        """
        return await self._drive(
            self._retrieve_flow(model, queue_id, output, delete_media_on_completion)
        )

    async def complete(self, model: str, queue_id: str) -> CompleteResponse:
        """Delete a finished job's media from the server (`POST /video/complete`). Free."""
        return await self._drive(self._complete_flow(model, queue_id))

    async def transcribe(
        self, url: str, *, response_format: TranscriptFormat = "json"
    ) -> VideoTranscription:
        """Transcribe the speech of a public video URL (`POST /video/transcriptions`, beta)."""
        return await self._drive(self._transcribe_flow(url, response_format))

    async def transcribe_audio(
        self,
        file: str | os.PathLike[str] | bytes,
        *,
        model: str = DEFAULT_STT_MODEL,
        response_format: TranscriptFormat = "json",
        timestamps: bool = False,
        language: str | None = None,
    ) -> AudioTranscription:
        """Transcribe a local audio file, or a video's audio track (`POST /audio/transcriptions`).

        A video is not uploaded: its audio is extracted (PyAV) to a small WAV first.

        Raises:
            InputError: the file is missing, or neither audio nor video.
        """
        return await self._drive(
            self._transcribe_audio_flow(
                file, model=model, response_format=response_format,
                timestamps=timestamps, language=language,
            )
        )  # fmt: skip

    async def models(self, *, refresh: bool = False) -> Catalog:
        """The video model catalog (`GET /models?type=video`), cached on disk for a day.

        When the API cannot be reached, a stale copy or the bundled snapshot is returned.
        """
        return await self._drive(self._models_flow(refresh))

    @overload
    async def validate(self, request: QuoteRequest) -> QuoteRequest: ...
    @overload
    async def validate(self, request: QueueRequest | Mapping[str, Any]) -> QueueRequest: ...
    async def validate(
        self, request: QueueRequest | QuoteRequest | Mapping[str, Any]
    ) -> QueueRequest | QuoteRequest:
        """Check a request against the spec and its model's constraints; nothing is sent.

        Returns the typed request. A mapping is checked as a queue body.

        Raises:
            ValidationError: every problem, each with the field, the value, the allowed
                values and a close match.
        """
        return await self._drive(self._validate_flow(request, "queue"))

    # ------------------------------------------------------------------ the lifecycle

    async def generate(
        self,
        *,
        model: str,
        prompt: str | None = None,
        duration: Duration | None = None,
        aspect_ratio: AspectRatio | None = None,
        resolution: Resolution | None = None,
        audio: bool | None = None,
        image: MediaInput | None = None,
        end_image: MediaInput | None = None,
        audio_input: MediaInput | None = None,
        video: MediaInput | None = None,
        reference_images: Sequence[MediaInput] | None = None,
        reference_videos: Sequence[MediaInput] | None = None,
        reference_audios: Sequence[MediaInput] | None = None,
        reference_documents: Sequence[str] | None = None,
        elements: Sequence[ElementArg] | None = None,
        scene_images: Sequence[MediaInput] | None = None,
        keyframes: Sequence[KeyframeArg] | None = None,
        upscale_factor: UpscaleFactor | None = None,
        negative_prompt: str | None = None,
        extra: Mapping[str, Any] | None = None,
        output: str | os.PathLike[str] | None = None,
        max_cost: float | None = None,
        tags: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        on_progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        timeout: float | None = None,
        cleanup: Cleanup | None = None,
    ) -> VideoJob:
        """Make a video and save it: validate, quote, queue, wait, download, verify, complete.

        Returns once the file is saved, fsynced and verified, with the `VideoJob` (its
        `path`, `cost`, `queue_id` and timings). Every step is journaled, so an interrupted
        call is finished by `resume()` without paying twice.

        Media inputs take an http(s) URL, a `data:` URL, a local path, bytes or a PIL image.

        Args:
            model: the model id (`client.models()` lists them).
            prompt: what to make.
            duration, aspect_ratio, resolution, audio, upscale_factor, negative_prompt: as the API.
            image, end_image: first and last frame.
            audio_input: a WAV or MP3 soundtrack (at most 30 s and 15 MB).
            video: the source video for video-to-video and upscale models.
            reference_images, reference_videos, reference_audios, reference_documents,
                elements, scene_images, keyframes: references for models that take them.
            extra: other queue fields, sent as given (`consents`, `bitrate_mode`, ...).
            output: the file to write (or a directory); by default `<model>-<key>.mp4` here.
            max_cost: refuse (`SpendLimitError`) before queueing if the quote is higher.
            tags: free-form labels kept in the journal.
            idempotency_key: the `Idempotency-Key`; a new one by default.
            on_progress: called with each `Progress`; return `False` to stop waiting.
            cancel: an event; once set, waiting stops (`JobCancelledError`).
            timeout: seconds to wait for the job (monotonic); by default `wait_timeout`.
            cleanup: what to do with the server's copy; by default the client's setting.

        Raises:
            ValidationError: the request is invalid; nothing was sent.
            SpendLimitError: the quote is over `max_cost`; nothing was queued.
            QueueOutcomeUnknownError: whether the job was created is unknown.
            JobFailedError: the API reported that the job failed.
            JobTimeoutError: the job was not ready in time (it keeps running).
            DownloadVerificationError: the file did not verify; the server copy is kept.
        """
        fields = _generate_fields(locals())
        return await self._drive(
            self._generate_flow(
                fields, output=output, max_cost=max_cost, tags=tags,
                idempotency_key=idempotency_key, on_progress=on_progress, cancel=cancel,
                timeout=timeout, cleanup=cleanup,
            )
        )  # fmt: skip

    async def submit(
        self,
        *,
        model: str,
        prompt: str | None = None,
        duration: Duration | None = None,
        aspect_ratio: AspectRatio | None = None,
        resolution: Resolution | None = None,
        audio: bool | None = None,
        image: MediaInput | None = None,
        end_image: MediaInput | None = None,
        audio_input: MediaInput | None = None,
        video: MediaInput | None = None,
        reference_images: Sequence[MediaInput] | None = None,
        reference_videos: Sequence[MediaInput] | None = None,
        reference_audios: Sequence[MediaInput] | None = None,
        reference_documents: Sequence[str] | None = None,
        elements: Sequence[ElementArg] | None = None,
        scene_images: Sequence[MediaInput] | None = None,
        keyframes: Sequence[KeyframeArg] | None = None,
        upscale_factor: UpscaleFactor | None = None,
        negative_prompt: str | None = None,
        extra: Mapping[str, Any] | None = None,
        output: str | os.PathLike[str] | None = None,
        max_cost: float | None = None,
        tags: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> VideoJob:
        """Validate, quote and queue a job, then return at once with its `VideoJob`.

        Takes the same request arguments as `generate()`. Follow with `wait()` and
        `download()`, or leave it to `resume()`.

        Raises:
            ValidationError: the request is invalid; nothing was sent.
            SpendLimitError: the quote is over `max_cost`; nothing was queued.
            QueueOutcomeUnknownError: whether the job was created is unknown.
        """
        fields = _generate_fields(locals())
        return await self._drive(
            self._submit_flow(
                fields, output=output, max_cost=max_cost, tags=tags,
                idempotency_key=idempotency_key, on_progress=on_progress,
            )
        )  # fmt: skip

    async def wait(
        self,
        job: VideoJob | str,
        *,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> VideoJob:
        """Wait until a job's video is ready; returns the job with status `READY`.

        Polls `/video/retrieve` at a pace set by the server's own estimate, backing off on
        errors. `job` is a `VideoJob`, or a queue id or key found in the journal.

        Raises:
            JobTimeoutError: not ready within `timeout` seconds (it keeps running).
            JobFailedError: the API reported that the job failed.
            JobCancelledError: `cancel` was set, or `on_progress` returned `False`.
        """
        resolved = await anyio.to_thread.run_sync(self._job_of, job)
        ready, _ = await self._drive(
            self._wait_flow(
                resolved, timeout=timeout, on_progress=on_progress, cancel=cancel,
                keep_open=False,
            )
        )  # fmt: skip
        return ready

    async def download(
        self,
        job: VideoJob | str,
        output: str | os.PathLike[str] | None = None,
        *,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        cleanup: Cleanup | None = None,
    ) -> VideoJob:
        """Save a job's video (waiting for it if needed), verify it, then clean up.

        The file is streamed to `<output>.part`, fsynced, verified and renamed atomically;
        only then is the server's copy deleted (see `cleanup`).

        Raises:
            DownloadVerificationError: the file did not verify; the server copy is kept.
        """
        resolved = await anyio.to_thread.run_sync(self._job_of, job)
        target = _output_path(output, resolved.model, resolved.idempotency_key) if output else None
        return await self._drive(
            self._finish_flow(
                resolved, output=target, timeout=timeout, on_progress=on_progress,
                cancel=cancel, cleanup=cleanup,
            )
        )  # fmt: skip

    async def resume(
        self,
        *,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        concurrency: int = 4,
        keys: Sequence[str] | None = None,
    ) -> list[VideoJob]:
        """Drive every unfinished journal entry of this API to its end; returns the jobs.

        `keys` limits it to those journal keys (a batch's own rows, say); finished or unknown
        keys are skipped.

        Queued jobs are waited for, downloaded, verified and cleaned up; downloaded ones are
        cleaned up. An entry whose queue outcome is unknown is queued again (with its key)
        only when `idempotent_queue_retries` is on; otherwise it is marked `UNKNOWN`. A job
        that fails keeps its reason in `.error`; the others carry on.
        """
        entries = await anyio.to_thread.run_sync(self._resumable, keys)
        results: list[VideoJob | None] = [None] * len(entries)
        limiter = anyio.CapacityLimiter(max(1, concurrency))

        async def one(index: int, entry: JournalEntry) -> None:
            async with limiter:
                results[index] = await self._drive(
                    self._resume_one_flow(
                        entry, timeout=timeout, on_progress=on_progress, cancel=cancel
                    )
                )

        async with anyio.create_task_group() as tg:
            for index, entry in enumerate(entries):
                tg.start_soon(one, index, entry)
        return [job for job in results if job is not None]

    async def jobs(
        self,
        *,
        statuses: Sequence[JobStatus] | None = None,
        unfinished: bool = False,
        limit: int | None = None,
    ) -> list[VideoJob]:
        """The jobs in the journal, newest first."""
        return await anyio.to_thread.run_sync(self._jobs, statuses, unfinished, limit)

    async def render_story(
        self,
        story: Story | str | os.PathLike[str],
        *,
        output: str | os.PathLike[str] | None = None,
        concurrency: int = 4,
        on_shot: Callable[[ShotProgress], None] | None = None,
        on_assembly: Callable[[float], None] | None = None,
        confirm: Callable[[StoryQuote], bool] | None = None,
        overwrite: bool = False,
        retry_failed: bool = False,
        timeout: float | None = None,
    ) -> Film:
        """Render a story's shots, each paid once, and join them into one film.

        Checks the whole story first (offline), quotes the shots not yet paid for and
        refuses a story over its budget before anything is spent. Independent shots run at
        once; a chained shot waits for its predecessor's verified file. Run it again after
        any interruption: finished shots are reused, jobs in flight are followed. See
        `venice_video.story` and docs/stories.md.

        Args:
            story: a `Story`, or the path of a story file.
            output: the film's file; by default the story's `output`.
            concurrency: how many shots render at once.
            on_shot: called with each shot's `ShotProgress` as it moves on.
            on_assembly: called with the assembly's progress, 0 to 1.
            confirm: called with the `StoryQuote` before anything new is queued; returning
                `False` stops the render with nothing spent.
            overwrite: replace an existing film this story did not make.
            retry_failed: pay again for shots whose job failed or whose file was lost.
            timeout: seconds to wait for each shot's job.

        Raises:
            StoryError: the story is invalid; nothing was spent.
            StoryBudgetError: it would cost more than its budget; nothing was spent.
            StoryRenderError: some shots failed (the others are saved), or a queue outcome is
                unknown.
        """
        from .story._render import render_for

        return await render_for(
            self, story,
            output=output, concurrency=concurrency, on_shot=on_shot, on_assembly=on_assembly,
            confirm=confirm, overwrite=overwrite, retry_failed=retry_failed, timeout=timeout,
        )  # fmt: skip

    # ------------------------------------------------------------------ lifetime

    async def aclose(self) -> None:
        """Close the HTTP connections and the journal (if the client opened them)."""
        if self._owns_http:
            await self._http.aclose()
        await anyio.to_thread.run_sync(self._close_journal)

    async def __aenter__(self) -> AsyncVeniceVideo:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


# --------------------------------------------------------------------------- shared helpers


_REQUEST_FIELDS = (
    "model", "prompt", "duration", "aspect_ratio", "resolution", "audio", "image", "end_image",
    "audio_input", "video", "reference_images", "reference_videos", "reference_audios",
    "reference_documents", "elements", "scene_images", "keyframes", "upscale_factor",
    "negative_prompt",
)  # fmt: skip


def _generate_fields(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The request fields among `generate()`'s arguments, `extra` merged in."""
    fields = {name: arguments[name] for name in _REQUEST_FIELDS if arguments.get(name) is not None}
    for name, value in (arguments.get("extra") or {}).items():
        if name in fields:
            raise InputError(f"extra: {name!r} is also given as an argument")
        fields[name] = value
    return fields


def _quote_request(
    model: str | None, request: QuoteRequest | QueueRequest | None, **fields: Any
) -> QuoteRequest:
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
        raise ValidationError(_pydantic_issues(exc)) from None


for _cls in (VeniceVideo, AsyncVeniceVideo, CancelToken):
    _cls.__module__ = "venice_video"
del _cls
