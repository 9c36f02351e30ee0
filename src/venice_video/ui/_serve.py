"""Serving the gallery with uvicorn: in the foreground, or on a background thread."""

from __future__ import annotations

from typing import Any

from ..server import AppThread

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


class GalleryThread(AppThread):
    """A gallery app served on a background thread, on 127.0.0.1 and a free port.

    ```python
    with GalleryThread(create_app(client, output_dir=tmp)) as gallery:
        httpx.get(gallery.url + "api/jobs")
    ```
    """

    thread_name = "the gallery"

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT/`."""
        return f"{self.root_url}/"

    def _uvicorn_config(self) -> Any:
        return uvicorn_config(self.app)
