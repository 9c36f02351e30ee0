"""Effects: what a flow asks its driver to do, and the rules every flow keeps.

Every lifecycle decision is written once, as a generator *flow* that yields effects and is
sent their results. `VeniceVideo` performs an effect by calling, `AsyncVeniceVideo` by
awaiting; that is the whole difference between the twins. Strictly private.

The rules of a flow:

1. A flow performs no I/O of its own. Network traffic, sleeping and reading bodies are
   effects (`Send`, `Sleep`, `ReadAll`, `ReadChunk`, `Close`).
2. Blocking work (files, the journal, decoding) runs only through `Call`: the sync driver
   calls it, the async driver runs it in a worker thread, so it never blocks an event loop.
3. Never yield in cleanup code (`except BaseException`, `finally`): that code also runs
   when the flow is closed or cancelled, and a closed generator cannot yield. Do the
   cleanup inline, or let the driver do it (it closes every response the flow opened).
4. An effect's failure comes back into the flow as an exception at its `yield`, already in
   venice-video's own error types (see `venice_video._http.map_transport_errors`).
5. Flows compose with `yield from`; the value of a flow is its `return` value.

The helpers at the end (`call`, `send`, `read_all`, ...) are flows of one effect each, so
the `Any` of a `yield` is cast in one place and flows read `x = yield from call(f, a)`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, ParamSpec, Protocol, TypeAlias, TypeVar, cast

import httpx

__all__ = [
    "Call",
    "CancelToken",
    "Close",
    "DriveState",
    "Effect",
    "Flag",
    "Flow",
    "ReadAll",
    "ReadChunk",
    "Send",
    "Sleep",
    "call",
    "close",
    "read_all",
    "read_chunk",
    "send",
    "sleep",
]

T = TypeVar("T")
P = ParamSpec("P")


class CancelToken(Protocol):
    """Anything with `is_set()`: a `threading.Event`, an `anyio.Event`, ..."""

    def is_set(self) -> bool: ...


class Flag(CancelToken, Protocol):
    """An event a flow can wait on with `Sleep(seconds, flag)`: the twin's own kind
    (`threading.Event` for `VeniceVideo`, `anyio.Event` for `AsyncVeniceVideo`)."""

    def set(self) -> None: ...


@dataclass
class Send:
    """Send a request; the result is the streamed (unread) `httpx.Response`."""

    request: httpx.Request


@dataclass
class Sleep:
    """Sleep, waking early once `cancel` is set (when the driver's default sleep is used)."""

    seconds: float
    cancel: CancelToken | None = None


@dataclass
class Call:
    """Blocking work: the sync twin calls it, the async twin runs it in a worker thread."""

    fn: Callable[[], Any]


@dataclass
class ReadAll:
    """Read a response's whole body; the result is the bytes."""

    response: httpx.Response


@dataclass
class ReadChunk:
    """The next chunk of a streamed body; `b""` at its end."""

    response: httpx.Response


@dataclass
class Close:
    """Close a response (and forget its chunk iterator)."""

    response: httpx.Response


Effect: TypeAlias = Send | Sleep | Call | ReadAll | ReadChunk | Close

Flow: TypeAlias = Generator[Effect, Any, T]


class DriveState:
    """The responses one flow has open, and their chunk iterators; closed when it ends."""

    def __init__(self) -> None:
        self.opened: list[httpx.Response] = []
        self.iterators: dict[int, Any] = {}

    def track(self, response: httpx.Response) -> None:
        self.opened = [r for r in self.opened if not r.is_closed]
        self.opened.append(response)


# --------------------------------------------------------------------------- one-effect flows


def call(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Flow[T]:
    """Run blocking `fn(*args, **kwargs)` (Rule 2) and return its result."""
    result = yield Call(functools.partial(fn, *args, **kwargs))
    return cast(T, result)


def send(request: httpx.Request) -> Flow[httpx.Response]:
    """Send `request` and return the response, its body not yet read."""
    response = yield Send(request)
    return cast(httpx.Response, response)


def read_all(response: httpx.Response) -> Flow[bytes]:
    """Read the whole body of `response`."""
    data = yield ReadAll(response)
    return cast(bytes, data)


def read_chunk(response: httpx.Response) -> Flow[bytes]:
    """The next chunk of `response`'s body, `b""` at its end."""
    data = yield ReadChunk(response)
    return cast(bytes, data)


def close(response: httpx.Response) -> Flow[None]:
    """Close `response`."""
    yield Close(response)


def sleep(seconds: float, cancel: CancelToken | None = None) -> Flow[None]:
    """Sleep `seconds` (nothing at all for zero or less)."""
    if seconds > 0:
        yield Sleep(seconds, cancel)
