"""Every error venice-video raises.

```
VeniceVideoError
├── APIError                          .request, .message
│   ├── APIConnectionError            the request never got an HTTP answer
│   │   └── APITimeoutError
│   └── APIStatusError                .response, .status_code, .request_id, .body, .code
│       ├── BadRequestError           400  .issues
│       ├── AuthenticationError       401
│       ├── PaymentRequiredError      402  (INSUFFICIENT_BALANCE)
│       ├── PermissionDeniedError     403
│       ├── NotFoundError             404
│       ├── ConsentRequiredError      409  .consent_flow, .face_media_roles, .consent, .docs_url
│       ├── GoneError                 410
│       ├── PayloadTooLargeError      413
│       ├── ContentPolicyError        422  .suggested_prompt, .credits_refunded, .recommended_model
│       ├── RateLimitError            429  .retry_after
│       └── ServerError               5xx
│           ├── InternalServerError   500
│           └── ServiceUnavailableError 503
├── ValidationError (also ValueError) .issues; refused before anything was sent
│   └── RequestTooLargeError          .size_bytes, .limit_bytes; the body would get a 413
├── InputError (also ValueError)      a local input cannot be used (missing, wrong type, too big)
├── JobError                          .job_id
│   ├── JobNotFoundError              no such job in the journal (or started here)
│   ├── JobFailedError                .job, .body; the API reported that the job failed
│   ├── JobTimeoutError               .timeout; the wait deadline passed first
│   ├── JobCancelledError             the caller cancelled the wait; the job is still journaled
│   └── QueueOutcomeUnknownError      .idempotency_key, .model; never requeue blindly
├── SpendLimitError                   .quote_usd, .max_cost; nothing was queued
├── MissingAPIKeyError                no API key for the real API; nothing was sent
├── DownloadError
│   └── DownloadVerificationError     the file did not verify; the server copy is kept
├── OutputError (also ValueError)     .path; the output cannot be written there
│   ├── OutputExistsError             a file is there (pass overwrite=True to replace it)
│   └── OutputInUseError              .job; another run or unfinished job will write it
└── JournalError
```

No error ever carries an API key: requests are copied without their `Authorization`
header before they are attached, and messages are built from bodies, never headers.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from ._error_bodies import (
    decode_body,
    describe_issues,
    error_code,
    error_message,
    issues_from_body,
    parse_retry_after,
    redact_request,
    redact_response,
    response_request,
    str_or_none,
)

if TYPE_CHECKING:
    from ._validation import Issue

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConsentRequiredError",
    "ContentPolicyError",
    "DownloadError",
    "DownloadVerificationError",
    "GoneError",
    "InputError",
    "InternalServerError",
    "JobCancelledError",
    "JobError",
    "JobFailedError",
    "JobNotFoundError",
    "JobTimeoutError",
    "JournalError",
    "MissingAPIKeyError",
    "NotFoundError",
    "OutputError",
    "OutputExistsError",
    "OutputInUseError",
    "PayloadTooLargeError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "QueueOutcomeUnknownError",
    "RateLimitError",
    "RequestTooLargeError",
    "ServerError",
    "ServiceUnavailableError",
    "SpendLimitError",
    "ValidationError",
    "VeniceVideoError",
    "make_status_error",
    "parse_retry_after",
    "redact_request",
]


class VeniceVideoError(Exception):
    """The root of every error raised by venice-video."""


# --------------------------------------------------------------------------- API errors


class APIError(VeniceVideoError):
    """A call to the API did not succeed.

    Attributes:
        message: what went wrong, in one line.
        request: the request, without its credentials (`None` when it was never built).
        body: the decoded response body, if there was one.
    """

    message: str
    request: httpx.Request | None
    body: object | None

    def __init__(
        self, message: str, request: httpx.Request | None, *, body: object | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.request = redact_request(request) if request is not None else None
        self.body = body

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class APIConnectionError(APIError):
    """No HTTP answer came back: refused, reset, dropped, or a protocol error.

    Attributes:
        may_have_reached_server: `False` only when the failure provably happened before any
            byte of the request was sent (for example a refused connection).
    """

    may_have_reached_server: bool

    def __init__(
        self,
        message: str = "Connection error.",
        request: httpx.Request | None = None,
        *,
        may_have_reached_server: bool = True,
    ) -> None:
        super().__init__(message, request)
        self.may_have_reached_server = may_have_reached_server


class APITimeoutError(APIConnectionError):
    """The request timed out."""

    def __init__(
        self,
        message: str = "Request timed out.",
        request: httpx.Request | None = None,
        *,
        may_have_reached_server: bool = True,
    ) -> None:
        super().__init__(message, request, may_have_reached_server=may_have_reached_server)


class APIStatusError(APIError):
    """The API answered with a 4xx or 5xx status.

    Attributes:
        response: the response (its request has no credentials).
        status_code: the HTTP status.
        request_id: the `CF-RAY` header, quote it when asking for support.
        code: the machine-readable error code when the body has one (`"PAYLOAD_TOO_LARGE"`).
    """

    response: httpx.Response
    status_code: int
    request_id: str | None
    code: str | None

    def __init__(self, message: str, *, response: httpx.Response, body: object | None) -> None:
        request = response_request(response)
        super().__init__(message, request, body=body)
        self.response = redact_response(response, self.request)
        self.status_code = response.status_code
        self.request_id = response.headers.get("cf-ray") or response.headers.get("x-request-id")
        self.code = error_code(body)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code}, message={self.message!r})"


class BadRequestError(APIStatusError):
    """400: the API rejected the parameters. `.issues` says which, and what it accepts."""

    issues: list[Issue]

    def __init__(self, message: str, *, response: httpx.Response, body: object | None) -> None:
        super().__init__(message, response=response, body=body)
        self.issues = issues_from_body(body)


class AuthenticationError(APIStatusError):
    """401: the API key is missing or invalid, or the model needs a Pro account."""


class PaymentRequiredError(APIStatusError):
    """402: the balance is too low for this request (`INSUFFICIENT_BALANCE`)."""


class PermissionDeniedError(APIStatusError):
    """403: the model is not available in the caller's region."""


class NotFoundError(APIStatusError):
    """404: the media or job is unknown, expired, or already deleted."""


class ConsentRequiredError(APIStatusError):
    """409: the model needs consent before it takes media that shows a face.

    Attributes:
        consent_flow: which flow to follow (`"seedance"`).
        face_media_roles: the inputs that showed a face (`"image"`, `"reference_video"`, ...).
        consent: the consent version and policy text.
        docs_url: where the flow is documented.
    """

    consent_flow: str | None
    face_media_roles: list[str]
    consent: dict[str, Any]
    docs_url: str | None

    def __init__(self, message: str, *, response: httpx.Response, body: object | None) -> None:
        super().__init__(message, response=response, body=body)
        data = body if isinstance(body, Mapping) else {}
        self.consent_flow = str_or_none(data.get("consent_flow"))
        roles = data.get("face_media_roles")
        self.face_media_roles = [str(r) for r in roles] if isinstance(roles, list) else []
        consent = data.get("consent")
        self.consent = dict(consent) if isinstance(consent, Mapping) else {}
        self.docs_url = str_or_none(data.get("docs_url"))


class GoneError(APIStatusError):
    """410: a download URL was revoked or has expired."""


class PayloadTooLargeError(APIStatusError):
    """413: the request body is over the API's size limit (35 MB for the queue)."""


class ContentPolicyError(APIStatusError):
    """422: the prompt or the output was refused by content moderation.

    Handles both shapes the API sends: `{error: "...", suggested_prompt}` from the queue and
    `{error: {message, type, recommended_model, credits_refunded}}` from retrieve.

    Attributes:
        suggested_prompt: a rewritten prompt the API would accept, if offered.
        credits_refunded: whether the charge was refunded, if said.
        recommended_model: a model that may accept the request, if offered.
        type: the error type (`"provider_content_policy"`), if given.
    """

    suggested_prompt: str | None
    credits_refunded: bool | None
    recommended_model: str | None
    type: str | None

    def __init__(self, message: str, *, response: httpx.Response, body: object | None) -> None:
        super().__init__(message, response=response, body=body)
        data = body if isinstance(body, Mapping) else {}
        inner = data.get("error")
        inner = inner if isinstance(inner, Mapping) else {}
        self.suggested_prompt = str_or_none(
            data.get("suggested_prompt") or inner.get("suggested_prompt")
        )
        refunded = data.get("credits_refunded", inner.get("credits_refunded"))
        self.credits_refunded = refunded if isinstance(refunded, bool) else None
        self.recommended_model = str_or_none(
            inner.get("recommended_model") or data.get("recommended_model")
        )
        self.type = str_or_none(inner.get("type") or data.get("type"))


class RateLimitError(APIStatusError):
    """429: too many requests.

    Attributes:
        retry_after: seconds to wait before trying again, from `Retry-After` or the
            `x-ratelimit-reset-*` headers; `None` if the API did not say.
    """

    retry_after: float | None

    def __init__(self, message: str, *, response: httpx.Response, body: object | None) -> None:
        super().__init__(message, response=response, body=body)
        self.retry_after = parse_retry_after(response.headers, now=time.time())


class ServerError(APIStatusError):
    """5xx: the API failed. Free calls are retried; a paid queue is not (see the client)."""


class InternalServerError(ServerError):
    """500: the API failed, or (on retrieve) inference failed."""


class ServiceUnavailableError(ServerError):
    """503: the model is offline or at capacity."""


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConsentRequiredError,
    410: GoneError,
    413: PayloadTooLargeError,
    422: ContentPolicyError,
    429: RateLimitError,
    500: InternalServerError,
    503: ServiceUnavailableError,
}


def make_status_error(response: httpx.Response) -> APIStatusError:
    """The most specific `APIStatusError` for a 4xx/5xx response. The body must be read."""
    body = decode_body(response)
    cls = _STATUS_CLASSES.get(response.status_code)
    if cls is None:
        cls = ServerError if response.status_code >= 500 else APIStatusError
    detail = error_message(body)
    message = f"Error code: {response.status_code}"
    if detail:
        message += f" - {detail}"
    return cls(message, response=response, body=body)


# --------------------------------------------------------------------------- client-side


class ValidationError(VeniceVideoError, ValueError):
    """The request was refused before anything was sent, so nothing was charged.

    The message lists each field, the value given, the values allowed and a close match.

    Attributes:
        issues: one `Issue` per problem (`.field`, `.received`, `.allowed`, `.suggestion`).
    """

    issues: list[Issue]

    def __init__(self, issues: Sequence[Issue], *, message: str | None = None) -> None:
        self.issues = list(issues)
        super().__init__(message or describe_issues(self.issues))


class RequestTooLargeError(ValidationError):
    """The JSON body would be over the API's size limit, so the API would answer 413.

    Attributes:
        size_bytes: the size of the encoded body.
        limit_bytes: the limit it is over.
    """

    size_bytes: int
    limit_bytes: int

    def __init__(self, size_bytes: int, limit_bytes: int, *, largest: str | None = None) -> None:
        self.size_bytes = size_bytes
        self.limit_bytes = limit_bytes
        message = (
            f"The request body is {size_bytes / 1e6:.1f} MB, over the {limit_bytes / 1e6:.0f} MB "
            "limit, so the API would refuse it (413)."
        )
        if largest:
            message += f" The largest field is {largest}: pass a URL instead of inline data."
        super().__init__([], message=message)


class InputError(VeniceVideoError, ValueError):
    """A local input cannot be used: the file is missing, of the wrong type, or too big."""


# --------------------------------------------------------------------------- job errors


class JobError(VeniceVideoError):
    """Something about one job.

    Attributes:
        job_id: the job's `queue_id` when it has one, else its idempotency key.
    """

    job_id: str | None

    def __init__(self, message: str, *, job_id: str | None = None) -> None:
        super().__init__(message)
        self.job_id = job_id


class JobNotFoundError(JobError, LookupError):
    """No job with this id or key: not in the journal, or not started by this front-end."""

    def __init__(self, job_id: str, message: str | None = None) -> None:
        super().__init__(message or f"no job {job_id!r} in the journal", job_id=job_id)


class JobFailedError(JobError):
    """The API reported that the job failed (moderation, inference failure, media gone).

    Attributes:
        job: the `VideoJob` as it stood, with `status="FAILED"` and the reason in `.error`.
        body: the retrieve answer that reported the failure (a `FAILED` status body), when
            the failure came as one; its `error` or `message` is added to the message.
    """

    job: Any
    body: object | None

    def __init__(
        self,
        message: str,
        *,
        job: Any = None,
        job_id: str | None = None,
        body: object | None = None,
    ) -> None:
        detail = error_message(body) if isinstance(body, Mapping) else None
        if detail and detail not in message:
            message = f"{message}: {detail}"
        super().__init__(message, job_id=job_id or getattr(job, "queue_id", None))
        self.job = job
        self.body = body


class JobTimeoutError(JobError):
    """The wait deadline passed before the job finished. The job keeps running server-side.

    Attributes:
        timeout: the deadline in seconds.
        job: the `VideoJob` as last seen.
    """

    timeout: float | None
    job: Any

    def __init__(
        self,
        message: str,
        *,
        job_id: str | None = None,
        timeout: float | None = None,
        job: Any = None,
    ) -> None:
        super().__init__(message, job_id=job_id)
        self.timeout = timeout
        self.job = job


class JobCancelledError(JobError):
    """The caller cancelled the wait. The job stays in the journal; `resume()` picks it up."""

    job: Any

    def __init__(self, message: str, *, job_id: str | None = None, job: Any = None) -> None:
        super().__init__(message, job_id=job_id)
        self.job = job


class QueueOutcomeUnknownError(JobError):
    """The queue request may have reached the API, but no answer came back.

    The job may exist and be charged. It must NOT be queued again blindly: that could pay
    twice. The journal keeps the entry with status `UNKNOWN` and its idempotency key.

    Attributes:
        idempotency_key: the `Idempotency-Key` sent with the request (the journal key).
        model: the model it was queued for.
        base_url: the server it was sent to.
        journal_path: where the journal entry is, if journaling was on.
    """

    idempotency_key: str
    model: str
    base_url: str | None
    journal_path: str | None

    def __init__(
        self,
        *,
        idempotency_key: str,
        model: str,
        base_url: str | None = None,
        journal_path: str | None = None,
        reason: str = "no answer",
    ) -> None:
        where = f" in the journal at {journal_path}" if journal_path else ""
        message = (
            f"The queue request for {model!r} may have reached the API but got {reason}, so "
            f"whether the job exists (and was charged) is unknown. Do NOT queue it again "
            f"blindly. Check the journal entry {idempotency_key}{where} "
            f"(`venice-video jobs`), and your Venice account's usage; a server that honours "
            f"Idempotency-Key can be asked again with the same key."
        )
        super().__init__(message, job_id=idempotency_key)
        self.idempotency_key = idempotency_key
        self.model = model
        self.base_url = base_url
        self.journal_path = journal_path


class SpendLimitError(VeniceVideoError):
    """The quote is over `max_cost`; nothing was queued or charged.

    Attributes:
        quote_usd: the price the API quoted.
        max_cost: the limit it is over.
    """

    quote_usd: float
    max_cost: float

    def __init__(self, quote_usd: float, max_cost: float, *, model: str | None = None) -> None:
        what = f" for {model!r}" if model else ""
        super().__init__(
            f"The quote{what} is ${quote_usd:.4f}, over max_cost ${max_cost:.4f}; "
            "nothing was queued."
        )
        self.quote_usd = quote_usd
        self.max_cost = max_cost


# --------------------------------------------------------------------------- local state


class DownloadError(VeniceVideoError):
    """The file could not be downloaded or saved."""


class DownloadVerificationError(DownloadError):
    """The downloaded file is not a complete, playable video. The server's copy is kept."""


class JournalError(VeniceVideoError):
    """The job journal could not be read or written."""


class MissingAPIKeyError(VeniceVideoError):
    """A call to the real API was about to go out without an API key; nothing was sent."""

    def __init__(self, env: str = "VENICE_API_KEY") -> None:
        super().__init__(
            f"no API key: set {env} or pass api_key=..., or run on the local engine with "
            "VeniceVideo.local() (placeholder videos, no key needed)"
        )


class OutputError(VeniceVideoError, ValueError):
    """The video cannot be written where asked (a directory, an unwritable folder, ...).

    Attributes:
        path: the output asked for.
    """

    path: Path | None

    def __init__(self, message: str, *, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


class OutputExistsError(OutputError):
    """A file is already at the output; it is kept. Pass `overwrite=True` to replace it.

    Attributes:
        downloaded: the new video was already downloaded and verified (the server's copy is
            kept, so it can be saved elsewhere); otherwise nothing was queued.
    """

    downloaded: bool

    def __init__(self, path: Path, *, downloaded: bool = False) -> None:
        if downloaded:
            message = (
                f"{path} appeared while the job ran and is kept; the new video was not saved "
                "there (the server keeps its copy): download it to another file, or with "
                "overwrite to replace it"
            )
        else:
            message = f"{path} already exists; it is kept and nothing was queued"
        super().__init__(message, path=path)
        self.downloaded = downloaded


class OutputInUseError(OutputError):
    """Another run is claiming the output, or an unfinished job will write it.

    Attributes:
        job: the queue id (or journal key) of the job that will write it, if known.
    """

    job: str | None

    def __init__(self, path: Path, *, job: str | None = None, reason: str | None = None) -> None:
        if job is not None:
            why = f"job {job} has not finished and will save its video there"
        else:
            why = reason or "another run is writing it"
        super().__init__(f"{path} is taken: {why}; nothing was queued", path=path)
        self.job = job


# Reprs and tracebacks say `venice_video.X`, the public name, not this private module.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = "venice_video"
del _name, _obj
