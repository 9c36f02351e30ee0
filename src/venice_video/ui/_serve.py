"""Serving the gallery with uvicorn: in the foreground, or on a background thread."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

__all__ = ["GalleryThread", "uvicorn_config"]


def uvicorn_config(app: Any, **kw: Any) -> Any:
    """The uvicorn settings the gallery runs with."""
    import uvicorn

    return uvicorn.Config(
        app,
        log_level=kw.pop("log_level", "warning"),
        access_log=False,
        lifespan="on",
        ws="none",
        # An open event stream must not hold a stop for long.
        timeout_graceful_shutdown=2,
        server_header=False,
        **kw,
    )


class GalleryThread:
    """A gallery app served on a background thread, on 127.0.0.1 and a free port.

    ```python
    with GalleryThread(create_app(client, output_dir=tmp)) as gallery:
        httpx.get(gallery.url + "api/jobs")
    ```
    """

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self._requested_port = port
        self.port = 0
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT/`."""
        return f"http://{self.host}:{self.port}/"

    def start(self, timeout_s: float = 30.0) -> GalleryThread:
        """Start serving; returns once connections are accepted."""
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        self.port = sock.getsockname()[1]
        self._socket = sock
        self._server = uvicorn.Server(uvicorn_config(self.app))
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=f"venice-video-ui:{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the gallery did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> GalleryThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
