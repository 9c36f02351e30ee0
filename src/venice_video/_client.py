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

import logging
import os
import random
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, TypeVar, cast, overload

import anyio
import httpx

from ._catalog import Catalog
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
from ._downloading import retrieve_flow
from ._effects import (
    Call,
    CancelToken,
    Close,
    DriveState,
    Effect,
    Flow,
    ReadAll,
    ReadChunk,
    Send,
    Sleep,
    read_all,
    send,
    sleep,
)
from ._endpoints import (
    complete_flow,
    models_flow,
    prepare_flow,
    quote_flow,
    quote_request,
    request_fields,
    request_flow,
    transcribe_audio_flow,
    transcribe_flow,
    validate_flow,
)
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    AuthenticationError,
    JobNotFoundError,
    make_status_error,
    parse_retry_after,
)
from ._http import map_transport_errors
from ._inputs import MediaInput
from ._jobs import ProgressCallback
from ._lifecycle import finish_flow, generate_flow, resumable, resume_one_flow
from ._modelcache import ModelCache
from ._models import (
    AudioTranscription,
    CompleteResponse,
    Element,
    Keyframe,
    QueueRequest,
    QueueResponse,
    QuoteRequest,
    QuoteResponse,
    RetrieveStatus,
    VideoJob,
    VideoTranscription,
)
from ._polling import CompletionStats, RateLimiter, backoff_delay, should_retry
from ._queueing import output_path, queue_flow, submit_flow
from ._types import AspectRatio, Duration, JobStatus, Resolution, TranscriptFormat, UpscaleFactor
from ._version import __version__
from ._waiting import wait_flow

if TYPE_CHECKING:
    from .journal import Journal, JournalEntry

__all__ = ["AsyncVeniceVideo", "BaseClient", "CancelToken", "ProgressCallback", "VeniceVideo"]

logger = logging.getLogger("venice_video")

T = TypeVar("T")

JournalArg: TypeAlias = "Journal | str | os.PathLike[str] | bool | None"
ElementArg: TypeAlias = "Element | Mapping[str, Any]"
KeyframeArg: TypeAlias = "Keyframe | Mapping[str, Any]"

DEFAULT_STT_MODEL = "nvidia/parakeet-tdt-0.6b-v3"


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
            yield from sleep(wait)
        try:
            response = yield from send(request)
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
                yield from read_all(response)
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
                yield from read_all(response)
                return response
            except APIError as exc:
                if not should_retry(self._retry, exc, attempt):
                    raise
                delay = backoff_delay(
                    self._retry, attempt, retry_after=self._retry_after(exc), rand=self._rand
                )
                logger.info("%s %s failed (%s); retrying in %.2fs", method, path, exc, delay)
                yield from sleep(delay)

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
            raise JobNotFoundError(job)
        return VideoJob.from_entry(entry)


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
        state = DriveState()
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

    def _perform(self, effect: Effect, state: DriveState) -> Any:
        if isinstance(effect, Send):
            with map_transport_errors(effect.request):
                response = self._http.send(effect.request, stream=True)
            state.track(response)
            return response
        if isinstance(effect, ReadChunk):
            with map_transport_errors():
                iterator = state.iterators.setdefault(
                    id(effect.response), effect.response.iter_bytes()
                )
                return next(iterator, b"")
        if isinstance(effect, ReadAll):
            with map_transport_errors():
                return effect.response.read()
        if isinstance(effect, Close):
            state.iterators.pop(id(effect.response), None)
            effect.response.close()
            return None
        if isinstance(effect, Sleep):
            if effect.seconds <= 0:
                return None
            if self._default_sleep and isinstance(effect.cancel, threading.Event):
                effect.cancel.wait(effect.seconds)
            else:
                self._sleep(effect.seconds)
            return None
        assert isinstance(effect, Call)
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
        prepared = quote_request(
            model, request, duration=duration, aspect_ratio=aspect_ratio,
            resolution=resolution, upscale_factor=upscale_factor, audio=audio,
            video_url=video_url, reference_video_total_duration=reference_video_total_duration,
        )  # fmt: skip
        return self._drive(quote_flow(self, prepared))

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
        path = output_path(output, request.model, key)
        return self._drive(
            queue_flow(
                self, request.to_body(), key=key, quote_usd=None, output_path=path, tags=tags
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
        return self._drive(retrieve_flow(self, model, queue_id, output, delete_media_on_completion))

    def complete(self, model: str, queue_id: str) -> CompleteResponse:
        """Delete a finished job's media from the server (`POST /video/complete`). Free."""
        return self._drive(complete_flow(self, model, queue_id))

    def transcribe(
        self, url: str, *, response_format: TranscriptFormat = "json"
    ) -> VideoTranscription:
        """Transcribe the speech of a public video URL (`POST /video/transcriptions`, beta)."""
        return self._drive(transcribe_flow(self, url, response_format))

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
            transcribe_audio_flow(
                self, file, model=model, response_format=response_format,
                timestamps=timestamps, language=language,
            )
        )  # fmt: skip

    def models(self, *, refresh: bool = False) -> Catalog:
        """The video model catalog (`GET /models?type=video`), cached on disk for a day.

        When the API cannot be reached, a stale copy or the bundled snapshot is returned.
        """
        return self._drive(models_flow(self, refresh))

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
        return self._drive(validate_flow(self, request, "queue"))

    def prepare(
        self,
        *,
        model: str | None = None,
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
    ) -> QueueRequest:
        """Build a request once: local media read and inlined, the whole checked. Free.

        Nothing is sent but, on first use, the model catalog's fetch. Hand the result to
        `quote(request=...)`, `submit(request=...)` or `generate(request=...)`, as often as
        needed: the media is not read again.

        ```python
        request = client.prepare(model="wan-2-7-image-to-video", prompt="She turns",
                                 image="first.png", duration="5s")
        price = client.quote(request=request)
        job = client.generate(request=request, quote=price)  # not priced again
        ```

        Takes the request arguments of `generate()`.

        Raises:
            InputError: a local input is missing, of the wrong type or too big.
            ValidationError: the request does not fit its model; every problem is listed.
        """
        return self._drive(prepare_flow(self, request_fields(locals())))

    # ------------------------------------------------------------------ the lifecycle

    def generate(
        self,
        *,
        model: str | None = None,
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
        request: QueueRequest | None = None,
        quote: QuoteResponse | None = None,
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
            request: a request from `prepare()`, instead of the fields above.
            quote: the price already asked for this request (`quote(request=...)`); it is
                not asked again.
            output: the file to write (or a directory); by default `<model>-<key>.mp4` here.
            max_cost: refuse (`SpendLimitError`) before queueing if the quote is higher.
            tags: free-form labels kept in the journal.
            idempotency_key: the `Idempotency-Key`; a new one by default.
            on_progress: called with each `Progress`; return `False` to stop waiting.
            cancel: an event; once set, waiting stops (`JobCancelledError`).
            timeout: seconds to wait for the job (monotonic); by default `wait_timeout`;
                `math.inf` waits without a deadline.
            cleanup: what to do with the server's copy; by default the client's setting.

        Raises:
            ValidationError: the request is invalid; nothing was sent.
            SpendLimitError: the quote is over `max_cost`; nothing was queued.
            QueueOutcomeUnknownError: whether the job was created is unknown.
            JobFailedError: the API reported that the job failed.
            JobTimeoutError: the job was not ready in time (it keeps running).
            DownloadVerificationError: the file did not verify; the server copy is kept.
        """
        prepared = self._drive(request_flow(self, request, request_fields(locals())))
        return self._drive(
            generate_flow(
                self, prepared, quote=quote, output=output, max_cost=max_cost, tags=tags,
                idempotency_key=idempotency_key, on_progress=on_progress, cancel=cancel,
                timeout=timeout, cleanup=cleanup,
            )
        )  # fmt: skip

    def submit(
        self,
        *,
        model: str | None = None,
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
        request: QueueRequest | None = None,
        quote: QuoteResponse | None = None,
        output: str | os.PathLike[str] | None = None,
        max_cost: float | None = None,
        tags: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> VideoJob:
        """Validate, quote and queue a job, then return at once with its `VideoJob`.

        Takes the same request arguments as `generate()` (or a prepared `request`, with its
        `quote` if it was priced). Follow with `wait()` and `download()`, or leave it to
        `resume()`.

        Raises:
            ValidationError: the request is invalid; nothing was sent.
            SpendLimitError: the quote is over `max_cost`; nothing was queued.
            QueueOutcomeUnknownError: whether the job was created is unknown.
        """
        prepared = self._drive(request_flow(self, request, request_fields(locals())))
        return self._drive(
            submit_flow(
                self, prepared, quote=quote, output=output, max_cost=max_cost, tags=tags,
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
            wait_flow(
                self, resolved, timeout=timeout, on_progress=on_progress, cancel=cancel,
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
        target = output_path(output, resolved.model, resolved.idempotency_key) if output else None
        return self._drive(
            finish_flow(
                self, resolved, output=target, timeout=timeout, on_progress=on_progress,
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
        entries = resumable(self, keys)

        def one(entry: JournalEntry) -> VideoJob:
            return self._drive(
                resume_one_flow(
                    self, entry, timeout=timeout, on_progress=on_progress, cancel=cancel
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
        state = DriveState()
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

    async def _perform(self, effect: Effect, state: DriveState) -> Any:
        if isinstance(effect, Send):
            with map_transport_errors(effect.request):
                response = await self._http.send(effect.request, stream=True)
            state.track(response)
            return response
        if isinstance(effect, ReadChunk):
            with map_transport_errors():
                iterator = state.iterators.setdefault(
                    id(effect.response), effect.response.aiter_bytes()
                )
                return await anext(iterator, b"")
        if isinstance(effect, ReadAll):
            with map_transport_errors():
                return await effect.response.aread()
        if isinstance(effect, Close):
            state.iterators.pop(id(effect.response), None)
            await effect.response.aclose()
            return None
        if isinstance(effect, Sleep):
            if effect.seconds <= 0:
                return None
            if self._default_sleep and isinstance(effect.cancel, anyio.Event):
                with anyio.move_on_after(effect.seconds):
                    await effect.cancel.wait()
            else:
                await self._sleep(effect.seconds)
            return None
        assert isinstance(effect, Call)
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
        prepared = quote_request(
            model, request, duration=duration, aspect_ratio=aspect_ratio,
            resolution=resolution, upscale_factor=upscale_factor, audio=audio,
            video_url=video_url, reference_video_total_duration=reference_video_total_duration,
        )  # fmt: skip
        return await self._drive(quote_flow(self, prepared))

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
        path = output_path(output, request.model, key)
        return await self._drive(
            queue_flow(
                self, request.to_body(), key=key, quote_usd=None, output_path=path, tags=tags
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
            retrieve_flow(self, model, queue_id, output, delete_media_on_completion)
        )

    async def complete(self, model: str, queue_id: str) -> CompleteResponse:
        """Delete a finished job's media from the server (`POST /video/complete`). Free."""
        return await self._drive(complete_flow(self, model, queue_id))

    async def transcribe(
        self, url: str, *, response_format: TranscriptFormat = "json"
    ) -> VideoTranscription:
        """Transcribe the speech of a public video URL (`POST /video/transcriptions`, beta)."""
        return await self._drive(transcribe_flow(self, url, response_format))

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
            transcribe_audio_flow(
                self, file, model=model, response_format=response_format,
                timestamps=timestamps, language=language,
            )
        )  # fmt: skip

    async def models(self, *, refresh: bool = False) -> Catalog:
        """The video model catalog (`GET /models?type=video`), cached on disk for a day.

        When the API cannot be reached, a stale copy or the bundled snapshot is returned.
        """
        return await self._drive(models_flow(self, refresh))

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
        return await self._drive(validate_flow(self, request, "queue"))

    async def prepare(
        self,
        *,
        model: str | None = None,
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
    ) -> QueueRequest:
        """Build a request once: local media read and inlined, the whole checked. Free.

        Nothing is sent but, on first use, the model catalog's fetch. Hand the result to
        `quote(request=...)`, `submit(request=...)` or `generate(request=...)`, as often as
        needed: the media is not read again.

        ```python
        request = client.prepare(model="wan-2-7-image-to-video", prompt="She turns",
                                 image="first.png", duration="5s")
        price = client.quote(request=request)
        job = client.generate(request=request, quote=price)  # not priced again
        ```

        Takes the request arguments of `generate()`.

        Raises:
            InputError: a local input is missing, of the wrong type or too big.
            ValidationError: the request does not fit its model; every problem is listed.
        """
        return await self._drive(prepare_flow(self, request_fields(locals())))

    # ------------------------------------------------------------------ the lifecycle

    async def generate(
        self,
        *,
        model: str | None = None,
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
        request: QueueRequest | None = None,
        quote: QuoteResponse | None = None,
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
            request: a request from `prepare()`, instead of the fields above.
            quote: the price already asked for this request (`quote(request=...)`); it is
                not asked again.
            output: the file to write (or a directory); by default `<model>-<key>.mp4` here.
            max_cost: refuse (`SpendLimitError`) before queueing if the quote is higher.
            tags: free-form labels kept in the journal.
            idempotency_key: the `Idempotency-Key`; a new one by default.
            on_progress: called with each `Progress`; return `False` to stop waiting.
            cancel: an event; once set, waiting stops (`JobCancelledError`).
            timeout: seconds to wait for the job (monotonic); by default `wait_timeout`;
                `math.inf` waits without a deadline.
            cleanup: what to do with the server's copy; by default the client's setting.

        Raises:
            ValidationError: the request is invalid; nothing was sent.
            SpendLimitError: the quote is over `max_cost`; nothing was queued.
            QueueOutcomeUnknownError: whether the job was created is unknown.
            JobFailedError: the API reported that the job failed.
            JobTimeoutError: the job was not ready in time (it keeps running).
            DownloadVerificationError: the file did not verify; the server copy is kept.
        """
        prepared = await self._drive(request_flow(self, request, request_fields(locals())))
        return await self._drive(
            generate_flow(
                self, prepared, quote=quote, output=output, max_cost=max_cost, tags=tags,
                idempotency_key=idempotency_key, on_progress=on_progress, cancel=cancel,
                timeout=timeout, cleanup=cleanup,
            )
        )  # fmt: skip

    async def submit(
        self,
        *,
        model: str | None = None,
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
        request: QueueRequest | None = None,
        quote: QuoteResponse | None = None,
        output: str | os.PathLike[str] | None = None,
        max_cost: float | None = None,
        tags: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> VideoJob:
        """Validate, quote and queue a job, then return at once with its `VideoJob`.

        Takes the same request arguments as `generate()` (or a prepared `request`, with its
        `quote` if it was priced). Follow with `wait()` and `download()`, or leave it to
        `resume()`.

        Raises:
            ValidationError: the request is invalid; nothing was sent.
            SpendLimitError: the quote is over `max_cost`; nothing was queued.
            QueueOutcomeUnknownError: whether the job was created is unknown.
        """
        prepared = await self._drive(request_flow(self, request, request_fields(locals())))
        return await self._drive(
            submit_flow(
                self, prepared, quote=quote, output=output, max_cost=max_cost, tags=tags,
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
            wait_flow(
                self, resolved, timeout=timeout, on_progress=on_progress, cancel=cancel,
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
        target = output_path(output, resolved.model, resolved.idempotency_key) if output else None
        return await self._drive(
            finish_flow(
                self, resolved, output=target, timeout=timeout, on_progress=on_progress,
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
        entries = await anyio.to_thread.run_sync(resumable, self, keys)
        results: list[VideoJob | None] = [None] * len(entries)
        limiter = anyio.CapacityLimiter(max(1, concurrency))

        async def one(index: int, entry: JournalEntry) -> None:
            async with limiter:
                results[index] = await self._drive(
                    resume_one_flow(
                        self, entry, timeout=timeout, on_progress=on_progress, cancel=cancel
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


for _cls in (VeniceVideo, AsyncVeniceVideo, CancelToken):
    _cls.__module__ = "venice_video"
del _cls
