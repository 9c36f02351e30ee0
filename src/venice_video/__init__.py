"""venice-video: a typed, resumable client for Venice.ai's asynchronous video API.

```python
from venice_video import VeniceVideo

with VeniceVideo() as client:
    job = client.generate(model="wan-2-7-text-to-video", prompt="Venice at dawn",
                          duration="5s", output="venice.mp4", max_cost=1.00)
```
"""

from ._catalog import Catalog, VideoModel
from ._client import AsyncVeniceVideo, CancelToken, ProgressCallback, VeniceVideo
from ._config import Cleanup, PollPolicy, RateLimitPolicy, RetryPolicy
from ._download import DownloadResult, MediaInfo
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
from ._version import __version__

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

_OWN_MODULES = frozenset(
    f"venice_video.{m}" for m in ("_client", "_config", "_exceptions", "_models")
)
# Reprs and tracebacks say `venice_video.VeniceVideo`, not the private module.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) and _obj.__module__ in _OWN_MODULES:
        _obj.__module__ = "venice_video"
del _name, _obj
