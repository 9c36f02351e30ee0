"""HTTP helpers for the flows: the one translation point for transport errors, and small
readers of response headers. Strictly private."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import httpx

from ._exceptions import APIConnectionError, APITimeoutError

ClientT = TypeVar("ClientT", httpx.Client, httpx.AsyncClient)

__all__ = [
    "CLIENT_LIMITS",
    "content_length",
    "is_json",
    "map_transport_error",
    "map_transport_errors",
    "own_client",
    "range_total",
]

#: The pool of the HTTP client a venice-video client makes for itself. Idle connections are
#: kept 60 s, not httpx's 5: a job's polls are often further apart than 5 s, and over TLS a
#: new connection costs more CPU than the request it carries. The API's edge keeps an idle
#: connection 400 s, and one the server closed is noticed before it is reused.
CLIENT_LIMITS = httpx.Limits(
    max_connections=100, max_keepalive_connections=20, keepalive_expiry=60.0
)

# Failures that prove the request never left this machine: sending it again is safe.
_NOT_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,
)


def map_transport_error(exc: Exception, request: httpx.Request | None) -> APIConnectionError:
    """The venice-video error for an httpx transport error; the key never travels with it."""
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


@contextmanager
def map_transport_errors(request: httpx.Request | None = None) -> Iterator[None]:
    """Turn any httpx transport error raised inside into the most specific venice-video one."""
    try:
        yield
    except httpx.TransportError as exc:
        raise map_transport_error(exc, request) from exc


class _CookiesWhenSet(httpx.Cookies):
    """A client's cookies, read from a response only when it sets one.

    httpx reads every response's cookies through `http.cookiejar`, copying the request and
    the headers into urllib's shapes first: a sixth of a small request's CPU. The API sets
    none; a response that does is read as before."""

    def extract_cookies(self, response: httpx.Response) -> None:
        if "set-cookie" in response.headers:
            super().extract_cookies(response)


def own_client(
    factory: Callable[..., ClientT], *, timeout: float | httpx.Timeout, transport: Any
) -> ClientT:
    """The HTTP client a venice-video client makes for itself (`httpx.Client` or
    `httpx.AsyncClient`): the pool of `CLIENT_LIMITS`, and cookies read only when set (left
    to httpx if it no longer keeps them where this looks)."""
    http = factory(
        timeout=timeout, transport=transport, follow_redirects=True, limits=CLIENT_LIMITS
    )
    if type(getattr(http, "_cookies", None)) is httpx.Cookies:
        http._cookies = _CookiesWhenSet(http.cookies)
    return http


def is_json(response: httpx.Response) -> bool:
    content_type: str = response.headers.get("content-type", "")
    return content_type.startswith("application/json") or content_type.endswith("+json")


def content_length(response: httpx.Response) -> int | None:
    """The body's length in bytes when the server says it (and did not compress it)."""
    value = response.headers.get("content-length")
    if value is None or response.headers.get("content-encoding"):
        return None
    try:
        return int(value)
    except ValueError:
        return None


def range_total(response: httpx.Response) -> int | None:
    """The whole file's size from `Content-Range: bytes 100-999/1000`."""
    value = response.headers.get("content-range", "")
    _, _, total = value.rpartition("/")
    return int(total) if total.isdigit() and len(total) < 20 else None
