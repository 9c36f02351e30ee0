"""Typed requests and responses of the video API, and `VideoJob`, the client's job handle.

Request models mirror the wire format field for field; `to_body()` gives the JSON to send
(fields left unset or `None` are not sent). Response models accept fields the API may add
later, so a new field never breaks an old client.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ._types import AspectRatio, Duration, JobStatus, Resolution, TranscriptFormat, UpscaleFactor
from ._types import RetrieveStatus as RetrieveStatusLiteral

if TYPE_CHECKING:
    from .journal import JournalEntry
    from .media import MediaInfo

__all__ = [
    "AudioTranscription",
    "CompleteRequest",
    "CompleteResponse",
    "Consents",
    "Element",
    "Keyframe",
    "Progress",
    "QueueRequest",
    "QueueResponse",
    "QuoteRequest",
    "QuoteResponse",
    "RetrieveRequest",
    "RetrieveStatus",
    "SeedanceConsent",
    "TimestampItem",
    "Timestamps",
    "TranscriptionRequest",
    "VideoJob",
    "VideoTranscription",
]

OmniReferenceTaskType = Literal["auto", "reference", "edit", "extend", "editing", "extension"]
BitrateMode = Literal["standard", "high"]
Phase = Literal["queued", "processing", "downloading", "done"]


class _Request(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def to_body(self) -> dict[str, Any]:
        """The JSON body to send: unset and `None` fields left out."""
        return self.model_dump(mode="json", exclude_none=True, exclude_unset=False)


class _Response(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


# --------------------------------------------------------------------------- requests


class Element(_Request):
    """A character or object the prompt refers to as `@Element1`, `@Element2`, ...

    Give image fields or a `video_url`, not both.
    """

    frontal_image_url: str | None = None
    """A front view, as a URL or `data:` URL."""
    reference_image_urls: list[str] | None = None
    """Up to 3 more views."""
    video_url: str | None = None
    """A clip of the element, instead of images."""


class Keyframe(_Request):
    """An image the video must pass through at one frame (24 frames per second)."""

    image_url: str
    frame_index: int = Field(ge=0)


class SeedanceConsent(_Request):
    """The three confirmations Seedance needs before it takes media that shows a face."""

    confirmed_terms_and_privacy: Literal[True] = True
    confirmed_legal_right: Literal[True] = True
    confirmed_screening_acknowledged: Literal[True] = True


class Consents(_Request):
    """Consents sent with a queue request (see `ConsentRequiredError`)."""

    seedance: SeedanceConsent | None = None


class QueueRequest(_Request):
    """The body of `POST /video/queue`. Which fields a model takes: `client.models()`."""

    model: str
    prompt: str | None = None
    """Required except by upscale models. The limit depends on the model (2500 characters by
    default, up to 20,000)."""
    duration: Duration | str | None = None
    """Required except by upscale and video-to-video models (`"Auto"`). Which values a model
    takes comes from the catalog (`client.models()`), not from this type."""
    negative_prompt: str | None = None
    aspect_ratio: AspectRatio | str | None = None
    resolution: Resolution | str | None = None
    upscale_factor: UpscaleFactor | None = None
    """Upscale models only: 1 (enhance), 2 or 4."""
    audio: bool | None = None
    """Generate sound; only for models that support it. The API's default is true."""
    image_url: str | None = None
    """The first frame (image-to-video), as a URL or `data:` URL."""
    end_image_url: str | None = None
    """The last frame, for transition and first-last-frame models."""
    audio_url: str | None = None
    """WAV or MP3, at most 30 s and 15 MB."""
    video_url: str | None = None
    """MP4, MOV or WebM: the source for video-to-video and upscale models."""
    reference_image_urls: list[str] | None = None
    reference_video_urls: list[str] | None = None
    reference_audio_urls: list[str] | None = None
    reference_document_urls: list[str] | None = None
    elements: list[Element] | None = None
    scene_image_urls: list[str] | None = None
    """Scenes the prompt refers to as `@Image1`, `@Image2`, ..."""
    keyframes: list[Keyframe] | None = None
    consents: Consents | None = None
    omni_reference_task_type: OmniReferenceTaskType | None = None
    bitrate_mode: BitrateMode | None = None
    """Seedance 2.x only."""


class QuoteRequest(_Request):
    """The body of `POST /video/quote`. The price is free to ask and nothing is queued."""

    model: str
    duration: Duration | str | None = None
    aspect_ratio: AspectRatio | str | None = None
    resolution: Resolution | str | None = None
    upscale_factor: UpscaleFactor | None = None
    audio: bool | None = None
    video_url: str | None = None
    """Upscale models: the source, so the price can follow its length."""
    reference_video_total_duration: float | None = Field(default=None, ge=0)
    """Reference-to-video models: total seconds of the reference clips."""

    @classmethod
    def from_queue(cls, request: QueueRequest) -> QuoteRequest:
        """The quote for a queue request (only the fields that feed the price)."""
        data = request.model_dump(exclude_none=True)
        keep = {"model", "duration", "aspect_ratio", "resolution", "upscale_factor", "audio"}
        body = {k: v for k, v in data.items() if k in keep}
        video_url = data.get("video_url")
        if isinstance(video_url, str) and video_url.startswith(("http://", "https://")):
            body["video_url"] = video_url
        return cls.model_validate(body)


class RetrieveRequest(_Request):
    """The body of `POST /video/retrieve`."""

    model: str
    queue_id: str
    delete_media_on_completion: bool | None = None


class CompleteRequest(_Request):
    """The body of `POST /video/complete`."""

    model: str
    queue_id: str


class TranscriptionRequest(_Request):
    """The body of `POST /video/transcriptions` (a public video URL, YouTube included)."""

    url: str
    response_format: TranscriptFormat | None = None


# --------------------------------------------------------------------------- responses


class QueueResponse(_Response):
    """What `POST /video/queue` returns."""

    model: str
    queue_id: str
    download_url: str | None = Field(default=None, repr=False)
    """A pre-signed URL (valid 24 h) for models that serve the file that way."""


class QuoteResponse(_Response):
    """What `POST /video/quote` returns: the price in USD."""

    quote: float


class RetrieveStatus(_Response):
    """What `POST /video/retrieve` reports while a job runs, or when it is done.

    Times are milliseconds of the server's clock; `average_execution_time` is a P80
    estimate of the whole job.
    """

    status: RetrieveStatusLiteral
    average_execution_time: float | None = None
    execution_duration: float | None = None
    path: Path | None = None
    """Where the video was saved, when `retrieve(output=...)` saved it."""
    size_bytes: int | None = None

    @property
    def is_ready(self) -> bool:
        """Whether the video can be downloaded."""
        return self.status == "COMPLETED"


class CompleteResponse(_Response):
    """What `POST /video/complete` returns."""

    success: bool


class VideoTranscription(_Response):
    """What `POST /video/transcriptions` returns."""

    transcript: str
    lang: str | None = None


class TimestampItem(_Response):
    """One timed word, segment or character."""

    start: float
    end: float
    word: str | None = None
    text: str | None = None
    char: str | None = None


class Timestamps(_Response):
    """Timings returned when a transcription asks for `timestamps=True`."""

    word: list[TimestampItem] = Field(default_factory=list)
    segment: list[TimestampItem] = Field(default_factory=list)
    char: list[TimestampItem] = Field(default_factory=list)


class AudioTranscription(_Response):
    """What `POST /audio/transcriptions` returns."""

    text: str
    duration: float | None = None
    timestamps: Timestamps | None = None


# --------------------------------------------------------------------------- the job


@dataclass(frozen=True)
class Progress:
    """A snapshot of one job, passed to `on_progress` callbacks.

    Attributes:
        phase: `"queued"`, `"processing"`, `"downloading"` or `"done"`.
        status: the job's status.
        elapsed_s: real seconds since the wait began.
        eta_s: real seconds until the server's estimate, if known.
        average_execution_ms: the server's P80 estimate for the whole job.
        execution_ms: the server's time spent so far.
        bytes_done: bytes downloaded so far.
        bytes_total: the size of the file, once known.
        queue_id: the job.
    """

    phase: Phase
    status: JobStatus
    elapsed_s: float
    eta_s: float | None = None
    average_execution_ms: float | None = None
    execution_ms: float | None = None
    bytes_done: int = 0
    bytes_total: int | None = None
    queue_id: str | None = None


@dataclass(frozen=True)
class VideoJob:
    """One video job: the handle `submit()` returns and the result `generate()` returns.

    Attributes:
        idempotency_key: the `Idempotency-Key` sent with the queue request; the journal key.
        model: the model.
        status: where the job is (`QUEUED`, `READY`, `COMPLETED`, ...).
        queue_id: the API's id for the job, once queued.
        quote_usd: the price quoted before queueing (what it cost).
        path: where the video is (or will be) saved.
        size_bytes: the saved file's size.
        sha256: the saved file's digest.
        media: what the saved file holds (resolution, duration, frames, audio).
        queued_at, ready_at, downloaded_at, completed_at: wall-clock times (`time.time()`).
        elapsed_s: real seconds from queueing to the file being saved.
        average_execution_ms, execution_ms: the server's last timing report.
        error: why the job failed or needs attention.
        download_url: the pre-signed URL, for models that use one (kept out of `repr`).
    """

    idempotency_key: str
    model: str
    status: JobStatus
    queue_id: str | None = None
    quote_usd: float | None = None
    path: Path | None = None
    size_bytes: int | None = None
    sha256: str | None = None
    media: MediaInfo | None = None
    queued_at: float | None = None
    ready_at: float | None = None
    downloaded_at: float | None = None
    completed_at: float | None = None
    elapsed_s: float | None = None
    average_execution_ms: float | None = None
    execution_ms: float | None = None
    error: str | None = None
    base_url: str | None = None
    tags: dict[str, Any] = field(default_factory=dict)
    download_url: str | None = field(default=None, repr=False)

    @property
    def cost(self) -> float | None:
        """The quoted price in USD (what queueing charged)."""
        return self.quote_usd

    @property
    def is_finished(self) -> bool:
        """Whether nothing more will happen to the job."""
        return self.status in ("COMPLETED", "FAILED", "CANCELLED")

    @property
    def id(self) -> str:
        """The `queue_id` once there is one, else the idempotency key."""
        return self.queue_id or self.idempotency_key

    def replace(self, **changes: Any) -> VideoJob:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_entry(cls, entry: JournalEntry) -> VideoJob:
        """The job as a journal entry records it."""
        elapsed = None
        if entry.queued_at is not None and entry.downloaded_at is not None:
            elapsed = max(0.0, entry.downloaded_at - entry.queued_at)
        return cls(
            idempotency_key=entry.key,
            model=entry.model,
            status=entry.status,
            queue_id=entry.queue_id,
            quote_usd=entry.quote_usd,
            path=Path(entry.output_path) if entry.output_path else None,
            size_bytes=entry.size_bytes,
            sha256=entry.sha256,
            queued_at=entry.queued_at,
            ready_at=entry.ready_at,
            downloaded_at=entry.downloaded_at,
            completed_at=entry.completed_at,
            elapsed_s=elapsed,
            average_execution_ms=entry.average_execution_ms,
            execution_ms=entry.execution_ms,
            error=entry.error,
            base_url=entry.base_url,
            tags=dict(entry.tags),
            download_url=entry.download_url,
        )


# Reprs and tracebacks say `venice_video.X`, the public name, not this private module.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = "venice_video"
del _name, _obj
