"""Running the app with uvicorn: in the foreground (`serve`) or on a background thread."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from ._app import LocalVeniceApp, create_app
from ._clock import Clock
from ._config import ServerConfig

__all__ = ["AppThread", "ServerThread", "default_data_dir", "serve"]


def default_data_dir() -> Path:
    """Where `venice-video serve` keeps its state when no `--data-dir` is given."""
    import platformdirs

    return Path(platformdirs.user_data_dir("venice-video")) / "server"


def _uvicorn_config(app: LocalVeniceApp, *, log_level: str, access_log: bool, **kw: Any) -> Any:
    import uvicorn

    return uvicorn.Config(
        app,
        log_level=log_level,
        access_log=access_log,
        lifespan="on",
        ws="none",
        # Polls arrive on long-lived keep-alive connections; keep them open between polls.
        timeout_keep_alive=30,
        timeout_graceful_shutdown=3,
        server_header=False,
        date_header=True,
        **kw,
    )


def serve(
    config: ServerConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    clock: Clock | None = None,
    log_level: str = "info",
    access_log: bool = True,
) -> None:
    """Run the server in the foreground until interrupted (Ctrl+C).

    Args:
        config: server settings (see `ServerConfig`).
        host: interface to listen on; keep the loopback default unless others must reach it.
        port: TCP port.
        clock: a server clock to use instead of real time scaled by `config.speed`.
        log_level: uvicorn log level. Logs never contain API keys.
        access_log: log one line per request (method, path, status).
    """
    import uvicorn

    app = create_app(config, clock=clock)
    uvicorn.Server(
        _uvicorn_config(app, log_level=log_level, access_log=access_log, host=host, port=port)
    ).run()


class AppThread:
    """An ASGI app served by uvicorn on a background thread; subclasses pick the settings.

    Binds its own socket first, so `port=0` gets a free port that is known before the
    thread starts; `start()` returns once uvicorn accepts connections.
    """

    thread_name = "venice-video"

    def __init__(
        self, app: Any, *, host: str = "127.0.0.1", port: int = 0, startup_timeout_s: float = 30.0
    ) -> None:
        self.app = app
        self.host = host
        self._requested_port = port
        self._startup_timeout_s = startup_timeout_s
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.port = 0

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _uvicorn_config(self) -> Any:
        raise NotImplementedError

    def start(self) -> Self:
        """Start serving; returns once connections are accepted."""
        import uvicorn

        if self._thread is not None:
            raise RuntimeError(f"{self.thread_name} is already running")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        self.port = sock.getsockname()[1]
        self._socket = sock
        self._server = uvicorn.Server(self._uvicorn_config())
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=f"{self.thread_name}:{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + self._startup_timeout_s
        while not self._server.started:
            if not self._thread.is_alive():
                self._cleanup()
                raise RuntimeError(f"{self.thread_name} failed to start (see the log above)")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.thread_name} did not start in time")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Shut down gracefully and wait for the thread to end."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._cleanup()

    def _cleanup(self) -> None:
        if self._socket is not None:
            self._socket.close()
        self._thread = None
        self._server = None
        self._socket = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ServerThread(AppThread):
    """The server on a background thread, listening on 127.0.0.1 and a free port.

    ```python
    with ServerThread(ServerConfig(data_dir=tmp_path, speed=1000)) as server:
        httpx.get(f"{server.base_url}/models", params={"type": "video"})
    ```

    Attributes:
        base_url: `http://127.0.0.1:PORT/api/v1`, the API base for clients.
        root_url: `http://127.0.0.1:PORT`.
        port: the port bound.
        app: the running `LocalVeniceApp` (its `state` and `clock` are reachable for tests).
    """

    thread_name = "the local server"
    app: LocalVeniceApp

    def __init__(
        self,
        config: ServerConfig | None = None,
        *,
        clock: Clock | None = None,
        app: LocalVeniceApp | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
        startup_timeout_s: float = 30.0,
    ) -> None:
        super().__init__(
            app if app is not None else create_app(config, clock=clock),
            host=host,
            port=port,
            startup_timeout_s=startup_timeout_s,
        )
        self._log_level = log_level

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/api/v1"

    def _uvicorn_config(self) -> Any:
        return _uvicorn_config(self.app, log_level=self._log_level, access_log=False)
