"""`AsyncVeniceVideo`: the asynchronous twin of `VeniceVideo`, the same methods awaited.

It drives the same flows as `VeniceVideo` (see `_client` and `_base_client`) by awaiting;
blocking work runs in worker threads. Reading it against `_client.py` shows nothing but
`async` and `await` (tests/sdk/test_twins.py holds them to it).
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast, overload

import anyio
import httpx

from . import _local
from ._base_client import DEFAULT_STT_MODEL, BaseClient, ElementArg, JournalArg, KeyframeArg
from ._catalog import Catalog
from ._choose import AsyncModelChoice
from ._config import (
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
)
from ._endpoints import (
    complete_flow,
    models_flow,
    prepare_flow,
    quote_request,
    request_fields,
    request_flow,
    transcribe_audio_flow,
    transcribe_flow,
    validate_flow,
)
from ._http import map_transport_errors, own_client
from ._inputs import MediaInput
from ._jobs import ProgressCallback
from ._lifecycle import finish_flow, generate_flow, resumable, resume_one_flow
from ._models import (
    AudioTranscription,
    CompleteResponse,
    QueueRequest,
    QueueResponse,
    QuoteRequest,
    QuoteResponse,
    RetrieveStatus,
    VideoJob,
    VideoTranscription,
)
from ._queueing import output_path, queue_flow, submit_flow
from ._quotes import DEFAULT_QUOTE_MAX_AGE, quote_and_keep_flow
from ._stories import AsyncStoryMethods
from ._types import AspectRatio, Duration, JobStatus, Resolution, TranscriptFormat, UpscaleFactor
from ._waiting import wait_flow

if TYPE_CHECKING:
    from .journal import JournalEntry


logger = logging.getLogger("venice_video")

T = TypeVar("T")

__all__ = ["AsyncVeniceVideo"]


# =========================================================================== the async twin


class AsyncVeniceVideo(BaseClient, AsyncModelChoice, AsyncStoryMethods):
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
    _new_event = anyio.Event

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
        api_id: str | None = None,
        quote_max_age: float = DEFAULT_QUOTE_MAX_AGE,
    ) -> None:
        super().__init__(
            api_key=api_key, base_url=base_url, timeout=timeout, wait_timeout=wait_timeout,
            journal=journal, cache_dir=cache_dir, catalog=catalog, retry=retry, poll=poll,
            rate_limit=rate_limit, idempotent_queue_retries=idempotent_queue_retries,
            cleanup=cleanup, verify_downloads=verify_downloads,
            validate_requests=validate_requests, clock=clock, wall_clock=wall_clock, rand=rand,
            api_id=api_id, quote_max_age=quote_max_age,
        )  # fmt: skip
        self._owns_http = http_client is None
        self._http = http_client or own_client(
            httpx.AsyncClient, timeout=self.timeout, transport=transport
        )
        self._sleep = sleep or anyio.sleep
        self._default_sleep = sleep is None

    @classmethod
    def local(cls, **kwargs: Any) -> AsyncVeniceVideo:
        """A client for the embedded local engine: started here, or reused if one runs.

        No API key is needed; the engine renders placeholder videos for development, not AI
        video (needs the `[server]` extra). `aclose()` releases the engine; one this process
        started is stopped once no other process uses it.

        Args:
            data_dir: the engine's folder (its jobs and media); by default the user data
                folder, as the CLI uses. Jobs are journaled as that folder's, whatever port
                the engine gets.
            speed: how much faster than real time an engine started here runs its jobs.
            port: the port an engine started here tries first.
            **kwargs: any other `AsyncVeniceVideo` argument (`journal`, `wait_timeout`, ...).

        Raises:
            ImportError: the `[server]` extra is not installed.
        """
        return _local.local_client(cls, **kwargs)

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
        return await self._drive(quote_and_keep_flow(self, prepared))

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
        overwrite: bool = False,
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
            output: the file to write (or a directory, or `-` for standard output); by default
                `<model>-<key>.mp4` here. It is reserved before the job is queued.
            max_cost: refuse (`SpendLimitError`) before queueing if the quote is higher.
            tags: free-form labels kept in the journal.
            idempotency_key: the `Idempotency-Key`; a new one by default.
            on_progress: called with each `Progress`; return `False` to stop waiting.
            cancel: an event; once set, waiting stops (`JobCancelledError`).
            timeout: seconds to wait for the job (monotonic); by default `wait_timeout`;
                `math.inf` waits without a deadline.
            cleanup: what to do with the server's copy; by default the client's setting.
            overwrite: replace a file already at `output`; without it such a file is kept
                and nothing is queued (`OutputExistsError`).

        Raises:
            ValidationError: the request is invalid; nothing was sent.
            OutputExistsError: a file is at `output` (and no `overwrite`); nothing was sent.
            OutputInUseError: another run or unfinished job will write `output`.
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
                timeout=timeout, cleanup=cleanup, overwrite=overwrite,
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
        overwrite: bool = False,
    ) -> VideoJob:
        """Validate, quote and queue a job, then return at once with its `VideoJob`.

        Takes the same request arguments as `generate()` (or a prepared `request`, with its
        `quote` if it was priced), `output` and `overwrite` included (the output is reserved
        now). Follow with `wait()` and `download()`, or leave it to `resume()`.

        Raises:
            ValidationError: the request is invalid; nothing was sent.
            OutputExistsError: a file is at `output` (and no `overwrite`); nothing was sent.
            OutputInUseError: another run or unfinished job will write `output`.
            SpendLimitError: the quote is over `max_cost`; nothing was queued.
            QueueOutcomeUnknownError: whether the job was created is unknown.
        """
        prepared = await self._drive(request_flow(self, request, request_fields(locals())))
        return await self._drive(
            submit_flow(
                self, prepared, quote=quote, output=output, max_cost=max_cost, tags=tags,
                idempotency_key=idempotency_key, on_progress=on_progress, overwrite=overwrite,
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
        overwrite: bool = False,
    ) -> VideoJob:
        """Save a job's video (waiting for it if needed), verify it, then clean up.

        The file is streamed to `<output>.part`, fsynced, verified and renamed atomically;
        only then is the server's copy deleted (see `cleanup`). A job whose file is already
        saved and intact is returned as it is. A file at `output` that is not this job's is
        kept unless `overwrite` (`OutputExistsError`).

        Raises:
            DownloadVerificationError: the file did not verify; the server copy is kept.
            OutputExistsError: another file is at `output` and `overwrite` is false.
        """
        resolved = await anyio.to_thread.run_sync(self._job_of, job)
        target = output_path(output, resolved.model, resolved.idempotency_key) if output else None
        return await self._drive(
            finish_flow(
                self, resolved, output=target, timeout=timeout, on_progress=on_progress,
                cancel=cancel, cleanup=cleanup, overwrite=overwrite,
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
        await anyio.to_thread.run_sync(self._run_closers)

    async def __aenter__(self) -> AsyncVeniceVideo:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


AsyncVeniceVideo.__module__ = "venice_video"
