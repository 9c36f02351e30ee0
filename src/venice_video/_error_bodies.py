"""What an API error response says, read safely: its message, code and field issues, with
credentials and pre-signed URLs taken out; and how long the API asks to wait. Strictly
private (`_exceptions` builds its errors with these).
"""

from __future__ import annotations

import email.utils
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from ._validation import Issue

__all__ = [
    "decode_body",
    "describe_issues",
    "error_code",
    "error_message",
    "issues_from_body",
    "parse_retry_after",
    "redact_request",
    "redact_response",
    "response_request",
    "str_or_none",
]

_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
# Pre-signed download URLs carry their credential in the query string.
_MAX_BODY_TEXT = 500


def redact_request(request: httpx.Request) -> httpx.Request:
    """A copy of `request` without credentials, safe to keep on an error."""
    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _SECRET_HEADERS]
    url = request.url
    if "signature" in str(url.query).lower() or "x-amz" in str(url.query).lower():
        url = url.copy_with(query=None)
    return httpx.Request(request.method, url, headers=headers)


def parse_retry_after(headers: Mapping[str, str] | httpx.Headers, *, now: float) -> float | None:
    """Seconds to wait, from `Retry-After` or `x-ratelimit-reset-requests`; `None` if unsaid.

    `Retry-After` may be seconds or an HTTP date. `x-ratelimit-reset-requests` is documented
    as a Unix timestamp, but some servers send seconds: a small number is taken as seconds.
    """
    h = httpx.Headers(headers) if not isinstance(headers, httpx.Headers) else headers
    raw = h.get("retry-after-ms")
    if raw is not None:
        try:
            return max(0.0, float(raw) / 1000.0)
        except ValueError:
            pass
    raw = h.get("retry-after")
    if raw is not None:
        try:
            return max(0.0, float(raw))
        except ValueError:
            parsed = email.utils.parsedate_tz(raw)
            if parsed is not None:
                return max(0.0, email.utils.mktime_tz(parsed) - now)
    raw = h.get("x-ratelimit-reset-requests")
    if raw is not None:
        try:
            value = float(raw)
        except ValueError:
            return None
        # Below ~a year it cannot be a timestamp.
        return max(0.0, value - now) if value > 3.0e7 else max(0.0, value)
    return None


def response_request(response: httpx.Response) -> httpx.Request | None:
    try:
        return response.request
    except RuntimeError:
        return None


def redact_response(response: httpx.Response, request: httpx.Request | None) -> httpx.Response:
    try:
        content = response.content
    except httpx.ResponseNotRead:
        content = b""
    return httpx.Response(
        response.status_code,
        headers=[(k, v) for k, v in response.headers.items() if k.lower() != "set-cookie"],
        content=content,
        request=request,
    )


def decode_body(response: httpx.Response) -> object | None:
    try:
        content = response.content
    except httpx.ResponseNotRead:
        return None
    if not content:
        return None
    try:
        decoded: object = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        text = content[:_MAX_BODY_TEXT].decode("utf-8", "replace").strip()
        return text or None
    return decoded


def error_message(body: object | None) -> str:
    if isinstance(body, str):
        return body
    if not isinstance(body, Mapping):
        return ""
    error = body.get("error")
    if isinstance(error, str):
        return error
    if isinstance(error, Mapping):
        return str(error.get("message") or error.get("code") or "")
    return str(body.get("message") or body.get("detail") or "")


def error_code(body: object | None) -> str | None:
    if not isinstance(body, Mapping):
        return None
    code = body.get("code")
    if code is None and isinstance(body.get("error"), Mapping):
        code = body["error"].get("code") or body["error"].get("type")
    return str(code) if code is not None else None


def issues_from_body(body: object | None) -> list[Issue]:
    from ._validation import Issue

    if not isinstance(body, Mapping):
        return []
    raw = body.get("issues")
    if isinstance(raw, list) and raw:
        return [Issue.from_wire(i) for i in raw if isinstance(i, Mapping)]
    details = body.get("details")
    issues: list[Issue] = []
    if isinstance(details, Mapping):
        _walk_details(details, (), issues, Issue)
    return issues


def _walk_details(
    node: Mapping[str, Any], path: tuple[str | int, ...], out: list[Issue], cls: type[Issue]
) -> None:
    # zod's format(): {_errors: [msg], field: {_errors: [...], ...}}
    for message in node.get("_errors") or ():
        out.append(cls(path=path, message=str(message)))
    for key, child in node.items():
        if key != "_errors" and isinstance(child, Mapping):
            step: str | int = int(key) if key.isdigit() else key
            _walk_details(child, (*path, step), out, cls)


def describe_issues(issues: Sequence[Issue]) -> str:
    if not issues:
        return "The request is invalid."
    lines = [f"The request is invalid ({len(issues)} problem{'s' if len(issues) > 1 else ''}):"]
    for issue in issues:
        line = f"  - {issue.field or 'request'}: {issue.message}"
        if issue.received is not None and repr(issue.received) not in issue.message:
            line += f"; got {_short(issue.received)}"
        if issue.allowed and "allowed" not in issue.message.lower():
            shown = ", ".join(repr(a) for a in issue.allowed[:20])
            more = f", ... ({len(issue.allowed)} in all)" if len(issue.allowed) > 20 else ""
            line += f"; allowed: {shown}{more}"
        if issue.suggestion is not None:
            line += f"; did you mean {issue.suggestion!r}?"
        lines.append(line)
    return "\n".join(lines)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None
