"""venice-video: a typed, resumable client for Venice.ai's asynchronous video API.

```python
from venice_video import VeniceVideo

with VeniceVideo() as client:
    job = client.generate(model="wan-2-7-text-to-video", prompt="Venice at dawn",
                          duration="5s", output="venice.mp4", max_cost=1.00)
```
"""

from typing import TYPE_CHECKING

from ._version import __version__

if TYPE_CHECKING:
    from ._catalog import Catalog, VideoModel
    from ._client import AsyncVeniceVideo, CancelToken, ProgressCallback, VeniceVideo
    from ._config import Cleanup, PollPolicy, RateLimitPolicy, RetryPolicy
    from ._download import DownloadResult
    from ._exceptions import (
        APIConnectionError,
        APIError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        ConsentRequiredError,
        ContentPolicyError,
        DownloadError,
        DownloadVerificationError,
        GoneError,
        InputError,
        InternalServerError,
        JobCancelledError,
        JobError,
        JobFailedError,
        JobTimeoutError,
        JournalError,
        NotFoundError,
        PayloadTooLargeError,
        PaymentRequiredError,
        PermissionDeniedError,
        QueueOutcomeUnknownError,
        RateLimitError,
        RequestTooLargeError,
        ServerError,
        ServiceUnavailableError,
        SpendLimitError,
        ValidationError,
        VeniceVideoError,
    )
    from ._models import (
        AudioTranscription,
        CompleteRequest,
        CompleteResponse,
        Consents,
        Element,
        Keyframe,
        Progress,
        QueueRequest,
        QueueResponse,
        QuoteRequest,
        QuoteResponse,
        RetrieveRequest,
        RetrieveStatus,
        SeedanceConsent,
        TimestampItem,
        Timestamps,
        TranscriptionRequest,
        VideoJob,
        VideoTranscription,
    )
    from ._types import (
        TERMINAL_STATUSES,
        AspectRatio,
        Duration,
        JobStatus,
        ModelType,
        Resolution,
        TranscriptFormat,
        UpscaleFactor,
    )
    from ._validation import Issue
    from .media import MediaInfo

__all__ = [
    "TERMINAL_STATUSES",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AspectRatio",
    "AsyncVeniceVideo",
    "AudioTranscription",
    "AuthenticationError",
    "BadRequestError",
    "CancelToken",
    "Catalog",
    "Cleanup",
    "CompleteRequest",
    "CompleteResponse",
    "ConsentRequiredError",
    "Consents",
    "ContentPolicyError",
    "DownloadError",
    "DownloadResult",
    "DownloadVerificationError",
    "Duration",
    "Element",
    "GoneError",
    "InputError",
    "InternalServerError",
    "Issue",
    "JobCancelledError",
    "JobError",
    "JobFailedError",
    "JobStatus",
    "JobTimeoutError",
    "JournalError",
    "Keyframe",
    "MediaInfo",
    "ModelType",
    "NotFoundError",
    "PayloadTooLargeError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "PollPolicy",
    "Progress",
    "ProgressCallback",
    "QueueOutcomeUnknownError",
    "QueueRequest",
    "QueueResponse",
    "QuoteRequest",
    "QuoteResponse",
    "RateLimitError",
    "RateLimitPolicy",
    "RequestTooLargeError",
    "Resolution",
    "RetrieveRequest",
    "RetrieveStatus",
    "RetryPolicy",
    "SeedanceConsent",
    "ServerError",
    "ServiceUnavailableError",
    "SpendLimitError",
    "TimestampItem",
    "Timestamps",
    "TranscriptFormat",
    "TranscriptionRequest",
    "UpscaleFactor",
    "ValidationError",
    "VeniceVideo",
    "VeniceVideoError",
    "VideoJob",
    "VideoModel",
    "VideoTranscription",
    "__version__",
]

# Imported on first use, so the CLI's startup does not pay for httpx and pydantic.
_EXPORTS: dict[str, str] = {
    "APIConnectionError": "._exceptions",
    "APIError": "._exceptions",
    "APIStatusError": "._exceptions",
    "APITimeoutError": "._exceptions",
    "AspectRatio": "._types",
    "AsyncVeniceVideo": "._client",
    "AudioTranscription": "._models",
    "AuthenticationError": "._exceptions",
    "BadRequestError": "._exceptions",
    "CancelToken": "._client",
    "Catalog": "._catalog",
    "Cleanup": "._config",
    "CompleteRequest": "._models",
    "CompleteResponse": "._models",
    "ConsentRequiredError": "._exceptions",
    "Consents": "._models",
    "ContentPolicyError": "._exceptions",
    "DownloadError": "._exceptions",
    "DownloadResult": "._download",
    "DownloadVerificationError": "._exceptions",
    "Duration": "._types",
    "Element": "._models",
    "GoneError": "._exceptions",
    "InputError": "._exceptions",
    "InternalServerError": "._exceptions",
    "Issue": "._validation",
    "JobCancelledError": "._exceptions",
    "JobError": "._exceptions",
    "JobFailedError": "._exceptions",
    "JobStatus": "._types",
    "JobTimeoutError": "._exceptions",
    "JournalError": "._exceptions",
    "Keyframe": "._models",
    "MediaInfo": ".media",
    "ModelType": "._types",
    "NotFoundError": "._exceptions",
    "PayloadTooLargeError": "._exceptions",
    "PaymentRequiredError": "._exceptions",
    "PermissionDeniedError": "._exceptions",
    "PollPolicy": "._config",
    "Progress": "._models",
    "ProgressCallback": "._client",
    "QueueOutcomeUnknownError": "._exceptions",
    "QueueRequest": "._models",
    "QueueResponse": "._models",
    "QuoteRequest": "._models",
    "QuoteResponse": "._models",
    "RateLimitError": "._exceptions",
    "RateLimitPolicy": "._config",
    "RequestTooLargeError": "._exceptions",
    "Resolution": "._types",
    "RetrieveRequest": "._models",
    "RetrieveStatus": "._models",
    "RetryPolicy": "._config",
    "SeedanceConsent": "._models",
    "ServerError": "._exceptions",
    "ServiceUnavailableError": "._exceptions",
    "SpendLimitError": "._exceptions",
    "TERMINAL_STATUSES": "._types",
    "TimestampItem": "._models",
    "Timestamps": "._models",
    "TranscriptFormat": "._types",
    "TranscriptionRequest": "._models",
    "UpscaleFactor": "._types",
    "ValidationError": "._exceptions",
    "VeniceVideo": "._client",
    "VeniceVideoError": "._exceptions",
    "VideoJob": "._models",
    "VideoModel": "._catalog",
    "VideoTranscription": "._models",
}


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
