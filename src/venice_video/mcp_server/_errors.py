"""SDK errors as failed tool calls a model can act on: what went wrong, and what to do instead.

Each error becomes a JSON object with an `error` kind, a `message`, the details that kind
carries (`issues`, `suggested_prompt`, `retry_after_s`, ...) and a `fix` in plain words. The
text is scrubbed of URL query strings (where pre-signed download links keep their credentials)
and of `Bearer` tokens before it leaves the server.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from mcp_types import CallToolResult, TextContent

from .._exceptions import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConsentRequiredError,
    ContentPolicyError,
    DownloadError,
    InputError,
    JobFailedError,
    JobNotFoundError,
    JobTimeoutError,
    JournalError,
    NotFoundError,
    OutputError,
    PaymentRequiredError,
    PermissionDeniedError,
    QueueOutcomeUnknownError,
    RateLimitError,
    RequestTooLargeError,
    ServerError,
    SpendLimitError,
    ValidationError,
    VeniceVideoError,
)
from .._inputs import MEDIA_FIELDS
from .._validation import Issue
from ._budget import SpendRefused
from ._sandbox import SandboxError

__all__ = [
    "JobNotFoundError",
    "argument_name",
    "describe_error",
    "error_result",
    "scrub",
    "scrub_value",
]

#: Wire field names as the tool arguments call them.
_ARGUMENT_NAMES = {f.wire: f.name for f in MEDIA_FIELDS}
_URL_QUERY = re.compile(r"(https?://[^\s?#'\"<>]+)\?[^\s'\"<>]*")
_BEARER = re.compile(r"(?i)\bbearer\s+[^\s'\",;]+")
_MAX_VALUE_CHARS = 200


def scrub(text: str, hide: Iterable[str] = ()) -> str:
    """`text` without URL query strings, bearer tokens, or any of the strings in `hide`."""
    for secret in _variants(hide):
        text = text.replace(secret, "[hidden URL]")
    return _BEARER.sub("Bearer [redacted]", _URL_QUERY.sub(r"\1?[redacted]", text))


def scrub_value(value: Any, hide: Iterable[str] = ()) -> Any:
    """`value` (JSON-like) with every string scrubbed."""
    hidden = tuple(hide)
    if isinstance(value, str):
        return scrub(value, hidden)
    if isinstance(value, Mapping):
        return {k: scrub_value(v, hidden) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_value(v, hidden) for v in value]
    return value


def _variants(hide: Iterable[str]) -> list[str]:
    # A pre-signed URL may be quoted whole or without its query string; hide both.
    found: set[str] = set()
    for url in hide:
        if url:
            found.add(url)
            found.add(url.split("?", 1)[0].split("#", 1)[0])
    return sorted((u for u in found if len(u) > 8), key=len, reverse=True)


def argument_name(field: str) -> str:
    """A dotted wire path (`reference_image_urls.2`) as the tool argument it came from."""
    head, dot, rest = field.partition(".")
    return _ARGUMENT_NAMES.get(head, head) + dot + rest


def _shown(value: Any) -> Any:
    if isinstance(value, str):
        if value.startswith("data:"):
            return "<inline data>"
        if len(value) > _MAX_VALUE_CHARS:
            return value[:_MAX_VALUE_CHARS] + "..."
        return value
    if value is None or isinstance(value, int | float | bool):
        return value
    return type(value).__name__


def _issue(issue: Issue) -> dict[str, Any]:
    received = issue.received
    if received == "undefined":  # the validator's word for "not given"
        received = None
    item: dict[str, Any] = {"field": argument_name(issue.field) or "request"}
    item["message"] = issue.message
    if received is not None:
        item["value"] = _shown(received)
    if issue.allowed:
        item["allowed"] = [_shown(a) for a in issue.allowed]
    if issue.suggestion is not None:
        item["suggestion"] = _shown(issue.suggestion)
    return item


def _fix_one(item: Mapping[str, Any]) -> str:
    field = item["field"]
    if "suggestion" in item:
        fix = f"set {field} to {item['suggestion']!r}"
        if field == "model":
            fix += " (list_models shows every id)"
        return fix
    if "allowed" in item:
        options = ", ".join(repr(a) for a in item["allowed"][:20])
        return f"set {field} to one of {options}"
    if "value" not in item and item["message"].lower().startswith("required"):
        return f"add {field}"
    return f"{field}: {item['message']}"


def _issues_payload(issues: Iterable[Issue], message: str) -> dict[str, Any]:
    items = [_issue(i) for i in issues]
    payload: dict[str, Any] = {"error": "validation", "message": message, "issues": items}
    payload["fix"] = "; ".join(_fix_one(i) for i in items) if items else message
    payload["charged"] = False
    return payload


def describe_error(exc: BaseException, hide: Iterable[str] = ()) -> dict[str, Any]:
    """The tool-error payload for `exc`, scrubbed (and without the strings in `hide`)."""
    payload: dict[str, Any] = scrub_value(_payload(exc), hide)
    return payload


def error_result(exc: BaseException) -> CallToolResult:
    """The failed tool call for `exc`: the payload as JSON text and as structured content."""
    payload = describe_error(exc)
    text = json.dumps(payload, ensure_ascii=False)
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=payload, is_error=True
    )


def _payload(exc: BaseException) -> dict[str, Any]:
    message = str(exc)
    if isinstance(exc, JobNotFoundError):
        return {
            "error": "not_found",
            "job_id": exc.job_id,
            "message": message,
            "fix": "Call list_jobs to see the jobs and their ids.",
        }
    if isinstance(exc, SandboxError):
        return {
            "error": "sandbox",
            "field": exc.field,
            "path": exc.path,
            "message": exc.reason,
            "fix": exc.fix,
        }
    if isinstance(exc, SpendRefused):
        return {
            "error": "spend_limit",
            "reason": exc.reason,
            "message": exc.message,
            "quote_usd": exc.quote_usd,
            **exc.limits,
            "fix": "Ask for something cheaper (a shorter duration, a lower resolution, or "
            "another model; quote compares prices for free), or ask the operator to raise "
            "the limit. The limits are set by the operator and no tool can change them.",
            "charged": False,
        }
    if isinstance(exc, SpendLimitError):
        return {
            "error": "spend_limit",
            "reason": "quote_changed",
            "message": message,
            "quote_usd": exc.quote_usd,
            "max_cost_usd": exc.max_cost,
            "fix": "The price changed while queueing; ask quote again and choose a cheaper "
            "request.",
            "charged": False,
        }
    if isinstance(exc, RequestTooLargeError):
        return {
            "error": "too_large",
            "message": message,
            "fix": "Pass http(s) URLs instead of local files for large inputs.",
            "charged": False,
        }
    if isinstance(exc, ValidationError):
        return _issues_payload(exc.issues, "The request is invalid; nothing was sent or charged.")
    if isinstance(exc, OutputError):
        return {
            "error": "output",
            "message": message,
            "fix": "Choose another output name, leave output out for a fresh one, or pass "
            "overwrite=true to replace an existing file.",
            "charged": False,
        }
    if isinstance(exc, InputError):
        return {
            "error": "input",
            "message": message,
            "fix": "Give an existing image, video or audio file inside the allowed directory, "
            "or an http(s) URL.",
            "charged": False,
        }
    if isinstance(exc, QueueOutcomeUnknownError):
        return {
            "error": "queue_outcome_unknown",
            "job_id": exc.idempotency_key,
            "message": "The queue request got no answer, so whether the job exists (and was "
            "charged) is unknown.",
            "fix": "Do NOT start the same generation again: call get_job with this job_id "
            "later, and tell the user to check the account.",
        }
    if isinstance(exc, JobTimeoutError):
        return {
            "error": "timeout",
            "message": message,
            "fix": "The job keeps running; call wait_for_job or get_job again later.",
        }
    if isinstance(exc, JobFailedError):
        return {
            "error": "job_failed",
            "message": message,
            "fix": "Start a new generation (change the prompt if it was refused).",
        }
    if isinstance(exc, APIStatusError):
        return _status_payload(exc)
    if isinstance(exc, APIConnectionError):
        return {
            "error": "connection",
            "message": message,
            "fix": "The video API could not be reached; try again in a minute.",
        }
    if isinstance(exc, DownloadError):
        return {
            "error": "download",
            "message": message,
            "fix": "Call wait_for_job again: the download is retried and the job is not "
            "charged twice.",
        }
    if isinstance(exc, JournalError):
        return {"error": "journal", "message": message, "fix": "Check the job_id (list_jobs)."}
    if isinstance(exc, VeniceVideoError):
        return {"error": "venice_video", "message": message}
    return {"error": "internal", "message": type(exc).__name__}


def _status_payload(exc: APIStatusError) -> dict[str, Any]:
    base: dict[str, Any] = {"status_code": exc.status_code, "message": exc.message}
    if isinstance(exc, BadRequestError) and exc.issues:
        return {**_issues_payload(exc.issues, exc.message), "status_code": 400}
    if isinstance(exc, ContentPolicyError):
        payload = {"error": "content_policy", **base}
        if exc.suggested_prompt:
            payload["suggested_prompt"] = exc.suggested_prompt
        if exc.recommended_model:
            payload["recommended_model"] = exc.recommended_model
        if exc.credits_refunded is not None:
            payload["credits_refunded"] = exc.credits_refunded
        payload["fix"] = (
            f"Retry with prompt={exc.suggested_prompt!r}."
            if exc.suggested_prompt
            else "Rephrase the prompt without the refused content."
        )
        return payload
    if isinstance(exc, ConsentRequiredError):
        return {
            "error": "consent_required",
            **base,
            "face_media_roles": exc.face_media_roles,
            "fix": "This model needs the user's consent before it takes media showing a face; "
            "ask the user, or use media without faces or another model.",
        }
    if isinstance(exc, AuthenticationError):
        return {
            "error": "authentication",
            **base,
            "fix": "The server's API key was refused (or the model needs a Pro account). "
            "Only the operator can fix this; tell the user.",
        }
    if isinstance(exc, PaymentRequiredError):
        return {
            "error": "insufficient_balance",
            **base,
            "fix": "The account balance is too low; tell the user to top it up.",
        }
    if isinstance(exc, PermissionDeniedError):
        return {"error": "permission_denied", **base, "fix": "Use another model."}
    if isinstance(exc, NotFoundError):
        return {"error": "not_found", **base, "fix": "Check the id (list_jobs, list_models)."}
    if isinstance(exc, RateLimitError):
        return {
            "error": "rate_limited",
            **base,
            "retry_after_s": exc.retry_after,
            "fix": "Wait retry_after_s seconds (or a minute) and try again.",
        }
    if isinstance(exc, ServerError):
        return {
            "error": "server",
            **base,
            "fix": "The video API failed or is busy; try again in a minute, or use another model.",
        }
    return {"error": "api", **base}
