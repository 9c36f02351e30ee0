"""Story flows and their drivers: the story's logic, written once for both twins.

Like the SDK's own lifecycle, a story's steps are generator *flows* that yield two kinds of
effect: call a public client method (`Api`), or do blocking local work (`Work`: the
journal, hashing, decoding a frame, assembling). `drive` performs them with the sync client;
`adrive` awaits them with the async one, or runs the sync one's calls in worker threads.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    from .._async_client import AsyncVeniceVideo
    from .._client import VeniceVideo

__all__ = ["Flow", "Api", "Work", "adrive", "drive"]

T = TypeVar("T")


@dataclass(frozen=True)
class Api:
    """Call a public method of the client."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Work:
    """Blocking local work."""

    fn: Callable[[], Any]


#: A flow: a generator of effects that returns a `T`.
Flow = Generator[Api | Work, Any, T]


def drive(client: VeniceVideo, flow: Flow[T]) -> T:
    """Run a flow with the sync client."""
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
                if isinstance(effect, Api):
                    value = getattr(client, effect.name)(*effect.args, **effect.kwargs)
                else:
                    value = effect.fn()
            except Exception as exc:
                error = exc
    finally:
        flow.close()


async def adrive(client: AsyncVeniceVideo | VeniceVideo, flow: Flow[T]) -> T:
    """Run a flow from async code: awaiting the async client, or calling the sync one in a
    worker thread; local work runs in a worker thread."""
    import anyio.to_thread

    from .._async_client import AsyncVeniceVideo

    awaitable = isinstance(client, AsyncVeniceVideo)
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
                if isinstance(effect, Api):
                    method = getattr(client, effect.name)
                    if awaitable:
                        value = await method(*effect.args, **effect.kwargs)
                    else:
                        call = functools.partial(method, *effect.args, **effect.kwargs)
                        value = await anyio.to_thread.run_sync(call)
                else:
                    value = await anyio.to_thread.run_sync(effect.fn)
            except Exception as exc:
                error = exc
    finally:
        flow.close()
