"""The ASGI application: routing, common headers, faults, body limits and error handling.

Written as one plain ASGI callable rather than a stack of middleware: each request passes
through exactly one function that adds the request id, applies injected faults, turns
exceptions into JSON errors and streams the reply, which keeps a retrieve poll cheap.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from .._catalog import Catalog, bundled_catalog
from ._clock import Clock, ScaledClock
from ._config import ServerConfig
from ._faults import Fault
from ._http import (
    BodyTooLarge,
    Call,
    ClientDisconnected,
    HTTPError,
    Receive,
    Reply,
    Scope,
    Send,
    drain,
    json_reply,
)
from ._state import ServerState
from ._transcribe import audio_transcriptions, video_transcriptions
from ._video import (
    complete,
    download,
    local_jobs,
    local_ping,
    local_stats,
    models,
    queue,
    quote,
    retrieve,
)

__all__ = ["LocalVeniceApp", "create_app"]

log = logging.getLogger("venice_video.server")

Handler = Callable[[ServerState, Call], Awaitable[Reply]]
API = "/api/v1"
MEDIA_PREFIX = "/media/"
CHUNK = 256 * 1024
MEDIA_METHODS = ("DELETE", "GET", "HEAD")


@dataclass(frozen=True)
class _Route:
    endpoint: str
    methods: dict[str, Handler]


class LocalVeniceApp:
    """The local Venice-compatible video server as an ASGI application.

    Serve it with uvicorn (see `serve` and `ServerThread`), or call it in-process through
    `httpx.ASGITransport`; state is opened on the first request or at lifespan startup, and
    closed by lifespan shutdown or `aclose()`.

    Attributes:
        config: the settings it was made with.
        clock: the server clock.
        state: the running state (accounts, jobs, store); None until started.
    """

    def __init__(self, config: ServerConfig, clock: Clock, catalog: Catalog) -> None:
        self.config = config
        self.clock = clock
        self.catalog = catalog
        self.state: ServerState | None = None
        self._start_lock: asyncio.Lock | None = None
        self._version = config.api_version.encode()
        self._speed = str(getattr(clock, "speed", 1.0)).encode()
        self._routes: dict[str, _Route] = {
            f"{API}/models": _Route("models", {"GET": models}),
            f"{API}/video/quote": _Route("quote", {"POST": quote}),
            f"{API}/video/queue": _Route("queue", {"POST": queue}),
            f"{API}/video/retrieve": _Route("retrieve", {"POST": retrieve}),
            f"{API}/video/complete": _Route("complete", {"POST": complete}),
            f"{API}/video/transcriptions": _Route("transcriptions", {"POST": video_transcriptions}),
            f"{API}/audio/transcriptions": _Route("transcriptions", {"POST": audio_transcriptions}),
            "/_local/ping": _Route("ping", {"GET": local_ping}),
            "/_local/stats": _Route("local", {"GET": local_stats}),
            "/_local/jobs": _Route("local", {"GET": local_jobs}),
        }

    # --- lifecycle -------------------------------------------------------------------------

    async def startup(self) -> None:
        """Open the data directory and resume unfinished jobs (idempotent)."""
        if self.state is not None:
            return
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self.state is None:
                state = ServerState(self.config, self.clock, self.catalog)
                state.start()
                self.state = state

    async def aclose(self) -> None:
        """Stop the render pool and close the store."""
        state, self.state = self.state, None
        if state is not None:
            await state.close()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    log.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # --- requests --------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1008})

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self.state
        if state is None:
            await self.startup()
            state = self.state
            assert state is not None
        call = Call(scope, receive)
        method = scope["method"]
        fault: Fault | None = None
        endpoint = ""
        try:
            endpoint, run = self._resolve(state, call, scope["path"], method)
            if state.faults.enabled:
                fault = state.faults.draw(endpoint)
            reply = await self._faulted(fault, call, send) or await run()
            if fault is not None and fault.kind == "drop_after_create" and reply.status == 200:
                state.faults.note_fired(endpoint)
                await self._drop(send, reply.status)
                return
        except HTTPError as exc:
            reply = exc.reply
        except _Dropped:
            return
        except BodyTooLarge as exc:
            drained = exc.finished or await drain(call.receive)
            reply = json_reply(
                413,
                {
                    "code": "PAYLOAD_TOO_LARGE",
                    "error": f"The request body exceeds the maximum allowed size of "
                    f"{_size(exc.limit)}.",
                },
            )
            if not drained:
                reply.headers.append((b"connection", b"close"))
        except ClientDisconnected:
            return
        except Exception:
            log.exception("unhandled error in %s %s", method, str(scope.get("path", ""))[:200])
            reply = json_reply(500, {"error": "Internal server error"})
        await self._send(send, call, reply, fault, endpoint)

    def _resolve(
        self, state: ServerState, call: Call, path: str, method: str
    ) -> tuple[str, Callable[[], Awaitable[Reply]]]:
        """The endpoint name (for faults) and the bound handler for a request, or 404/405."""
        route = self._routes.get(path)
        if route is not None:
            handler = route.methods.get(method)
            if handler is None and method == "HEAD":
                handler = route.methods.get("GET")
            if handler is None:
                raise _not_allowed(route.methods)
            bound = handler
            return route.endpoint, lambda: bound(state, call)
        if path.startswith(MEDIA_PREFIX):
            if method not in MEDIA_METHODS:
                raise _not_allowed(MEDIA_METHODS)
            token = path[len(MEDIA_PREFIX) :]
            return "download", lambda: download(state, call, token)
        raise HTTPError(json_reply(404, {"error": f"Not found: {method} {path[:200]}"}))

    async def _faulted(self, fault: Fault | None, call: Call, send: Send) -> Reply | None:
        """The reply an injected fault calls for instead of running the endpoint, if any."""
        if fault is None or fault.kind is None:
            return None
        if fault.kind == "error_500":
            await drain(call.receive)
            return json_reply(500, {"error": "Internal server error (injected fault)"})
        if fault.kind == "error_503":
            await drain(call.receive)
            return json_reply(
                503,
                {"error": "The model is at capacity. Please try again later. (injected fault)"},
                [(b"retry-after", b"1")],
            )
        if fault.kind == "drop":
            await drain(call.receive)
            await self._drop(send, 200)
            raise _Dropped()
        return None

    async def _drop(self, send: Send, status: int) -> None:
        # Announce a body and never send it: the server closes the connection when the app
        # returns with the response unfinished, and the client sees a transport error.
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
            }
        )

    async def _send(
        self, send: Send, call: Call, reply: Reply, fault: Fault | None, endpoint: str
    ) -> None:
        headers = reply.header_list()
        headers.append((b"cf-ray", f"{random.getrandbits(64):016x}-LCL".encode()))
        headers.append((b"x-venice-version", self._version))
        if self._speed != b"1.0":
            headers.append((b"x-local-speed", self._speed))
        headers += call.extra_headers
        file = reply.file
        if file is None and fault is None:
            await send({"type": "http.response.start", "status": reply.status, "headers": headers})
            await send({"type": "http.response.body", "body": reply.body})
            return
        try:
            await send({"type": "http.response.start", "status": reply.status, "headers": headers})
            complete = await self._send_body(send, call, reply, fault, endpoint)
        finally:
            if file is not None and file.handle is not None:
                file.handle.close()
        if complete and file is not None and file.on_complete is not None:
            file.on_complete()

    async def _send_body(
        self, send: Send, call: Call, reply: Reply, fault: Fault | None, endpoint: str
    ) -> bool:
        file = reply.file
        total = file.length if file is not None else len(reply.body)
        if call.method == "HEAD" or (file is not None and file.handle is None):
            await send({"type": "http.response.body", "body": b""})
            return True
        cut = total
        if fault is not None and fault.kind == "truncate" and file is not None:
            cut = int(total * fault.truncate_at)
            assert self.state is not None
            self.state.faults.note_fired(endpoint)
        slow = fault.slow_s if fault is not None else 0.0
        size = CHUNK
        if slow > 0:
            size = max(1, -(-total // max(2, fault.slow_chunks if fault else 2)))
        if file is not None and file.handle is not None:
            file.handle.seek(file.start)
        sent = 0
        while sent < total:
            want = min(size, total - sent)
            if file is not None and file.handle is not None:
                chunk = file.handle.read(want)
                if not chunk:
                    return False
            else:
                chunk = reply.body[sent : sent + want]
            if sent + len(chunk) > cut:
                if cut > sent:
                    await send({"type": "http.response.body", "body": chunk[: cut - sent],
                                "more_body": True})  # fmt: skip
                return False
            sent += len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": sent < total})
            if slow > 0 and sent < total:
                await asyncio.sleep(slow)
        if total == 0:
            await send({"type": "http.response.body", "body": b""})
        return True


class _Dropped(Exception):
    pass


def _not_allowed(methods: Iterable[str]) -> HTTPError:
    allowed = ", ".join(sorted(methods))
    reply = json_reply(405, {"error": f"Method not allowed; use {allowed}"})
    reply.headers.append((b"allow", allowed.encode()))
    return HTTPError(reply)


def _size(limit: int) -> str:
    # Exact, in the unit the limit is a whole number of: MB (10^6 bytes) or MiB (2^20).
    for unit, size in (("MB", 1_000_000), ("MiB", 1024 * 1024)):
        if limit >= size and limit % size == 0:
            return f"{limit // size} {unit}"
    return f"{limit:,} bytes"


def create_app(
    config: ServerConfig | None = None,
    *,
    clock: Clock | None = None,
    catalog: Catalog | None = None,
) -> LocalVeniceApp:
    """Make the local Venice-compatible video server as an ASGI app.

    ```python
    app = create_app(ServerConfig(data_dir=Path("state"), speed=100))
    uvicorn.run(app, host="127.0.0.1", port=8000)
    ```

    Args:
        config: settings; the defaults behave like the hosted API with any Bearer key.
        clock: the server clock; defaults to real time scaled by `config.speed`.
        catalog: the video models; defaults to the bundled snapshot.
    """
    config = config or ServerConfig()
    return LocalVeniceApp(
        config,
        clock if clock is not None else ScaledClock(config.speed),
        catalog if catalog is not None else bundled_catalog(),
    )
