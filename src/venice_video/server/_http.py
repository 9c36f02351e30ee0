"""Small ASGI building blocks: replies, errors, bounded body reading and byte ranges.

The server speaks raw ASGI rather than going through a framework's request and response
objects on its hot paths: a retrieve poll is a dict lookup and a few hundred bytes of JSON,
and per-request overhead is what decides how many polls a second it can answer.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO
from urllib.parse import parse_qsl

from ._json import dumps, dumps_error

__all__ = [
    "DRAIN_LIMIT",
    "BodyTooLarge",
    "Call",
    "ClientDisconnected",
    "FileBody",
    "HTTPError",
    "Receive",
    "Reply",
    "Scope",
    "Send",
    "error",
    "json_reply",
    "parse_range",
    "read_body",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON = b"application/json"
#: How much of an oversized body is read and thrown away so the client can finish sending
#: and read the 413; beyond this the connection is closed instead.
DRAIN_LIMIT = 256 * 1024 * 1024


@dataclass
class FileBody:
    """An open file (or a byte range of it) to stream as the response body.

    The sender closes `handle`; None sends headers only (HEAD).
    """

    handle: BinaryIO | None
    start: int
    length: int
    #: Called once the last byte has been handed to the server.
    on_complete: Callable[[], None] | None = None


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: bytes | None = JSON
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    file: FileBody | None = None

    def header_list(self) -> list[tuple[bytes, bytes]]:
        headers = list(self.headers)
        if self.content_type is not None:
            headers.append((b"content-type", self.content_type))
        if self.status != 204:
            length = self.file.length if self.file is not None else len(self.body)
            headers.append((b"content-length", str(length).encode()))
        return headers


class HTTPError(Exception):
    """Raised by a handler to answer at once with `reply`."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


class BodyTooLarge(Exception):
    """The request body passed its limit while being read."""

    def __init__(self, limit: int, *, finished: bool = False) -> None:
        super().__init__(limit)
        self.limit = limit
        #: The whole body has already been received (nothing left to drain).
        self.finished = finished


class ClientDisconnected(Exception):
    """The client went away before the request body was read."""


def json_reply(status: int, obj: Any, headers: list[tuple[bytes, bytes]] | None = None) -> Reply:
    """A JSON reply; an error body (status 400 and up) is bounded in size (see `_json`)."""
    body = dumps_error(obj) if status >= 400 else dumps(obj)
    return Reply(status, body, JSON, headers if headers is not None else [])


def error(status: int, message: str, **extra: Any) -> HTTPError:
    """An `HTTPError` carrying `{"error": message, **extra}`."""
    return HTTPError(json_reply(status, {"error": message, **extra}))


class Call:
    """One request as the handlers see it."""

    __slots__ = ("_headers", "account", "extra_headers", "receive", "scope")

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope = scope
        self.receive = receive
        self._headers: dict[bytes, bytes] | None = None
        self.account: Any = None
        self.extra_headers: list[tuple[bytes, bytes]] = []

    @property
    def headers(self) -> Mapping[bytes, bytes]:
        if self._headers is None:
            self._headers = dict(self.scope["headers"])
        return self._headers

    def header(self, name: bytes) -> str | None:
        value = self.headers.get(name)
        return None if value is None else value.decode("latin-1")

    @property
    def method(self) -> str:
        return str(self.scope["method"])

    def query(self) -> dict[str, str]:
        raw = self.scope.get("query_string", b"").decode("latin-1")
        return dict(parse_qsl(raw, keep_blank_values=True))


async def drain(receive: Receive, limit: int = DRAIN_LIMIT) -> bool:
    """Read and discard the rest of the body; False if it was longer than `limit`."""
    seen = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return True
        seen += len(message.get("body", b""))
        if not message.get("more_body", False):
            return True
        if seen > limit:
            return False


async def read_body(call: Call, limit: int) -> bytes:
    """The whole request body, refusing (`BodyTooLarge`) as soon as it passes `limit`.

    A Content-Length over the limit is refused before any of the body is kept. Either way
    the rest of the body is read and dropped, up to `DRAIN_LIMIT`, so the client gets to read
    the 413 instead of a reset connection.
    """
    declared = call.headers.get(b"content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise error(400, "Invalid Content-Length header")
        if len(declared.strip()) > 18 or int(declared) > limit:
            raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    seen = 0
    while True:
        message = await call.receive()
        if message["type"] != "http.request":
            raise ClientDisconnected()
        chunk = message.get("body", b"")
        seen += len(chunk)
        if seen > limit:
            raise BodyTooLarge(limit, finished=not message.get("more_body", False))
        if chunk:
            chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def limited_receive(receive: Receive, limit: int) -> Receive:
    """Wrap `receive` so that it raises `BodyTooLarge` once more than `limit` bytes came."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit, finished=not message.get("more_body", False))
        return message

    return wrapped


_RANGE = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")
#: Byte positions this long are past any file (and past what `int()` parses quickly, or at all
#: beyond 4,300 digits); they are read as "beyond the end".
_MAX_DIGITS = 18
_BEYOND = 10**_MAX_DIGITS


class RangeNotSatisfiable(Exception):
    pass


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The (start, length) asked for by a `Range` header, or None for the whole file.

    Only single `bytes` ranges are served; a header in another unit, or with several
    ranges, is ignored (the whole file is sent), as HTTP allows.

    Raises:
        RangeNotSatisfiable: the range is malformed or lies outside the file.
    """
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes":
        return None
    if "," in spec:
        return None
    match = _RANGE.match(spec)
    if match is None or (not match.group(1) and not match.group(2)):
        raise RangeNotSatisfiable(header)
    first, last = match.group(1), match.group(2)
    if not first:
        suffix = _position(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(header)
        start = max(0, size - suffix)
        return start, size - start
    start = _position(first)
    end = _position(last) if last else size - 1
    if start >= size or end < start:
        raise RangeNotSatisfiable(header)
    end = min(end, size - 1)
    return start, end - start + 1


def _position(digits: str) -> int:
    digits = digits.lstrip("0") or "0"
    return _BEYOND if len(digits) > _MAX_DIGITS else int(digits)
