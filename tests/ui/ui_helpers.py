"""Helpers for the gallery's tests.

- `open_gallery(...)`: an async context manager that runs the app's lifespan (so background
  jobs run) and yields a `Gallery` with an `httpx.AsyncClient` through `ASGITransport`, the
  app, the SDK client and the page's CSRF token.
- `wait_idle(gallery, key)`: waits (on the gallery's own change events, not a clock) until the
  gallery has stopped driving a job.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
from starlette.applications import Starlette

from venice_video import AsyncVeniceVideo
from venice_video.ui import create_app

#: The model the tests generate with: 1 s clips at 480p render in a few hundred ms.
FAST_MODEL = "grok-imagine-text-to-video-private"
FAST_FIELDS: dict[str, Any] = {
    "model": FAST_MODEL,
    "prompt": "A lighthouse at night, waves below",
    "duration": "1s",
    "resolution": "480p",
    "aspect_ratio": "16:9",
}
GALLERY_ORIGIN = "http://127.0.0.1:8765"


@dataclass
class Gallery:
    app: Starlette
    http: httpx.AsyncClient
    client: AsyncVeniceVideo
    token: str
    output_dir: Path

    @property
    def headers(self) -> dict[str, str]:
        return {"X-CSRF-Token": self.token}

    async def post(self, path: str, **kw: Any) -> httpx.Response:
        headers = {**self.headers, **kw.pop("headers", {})}
        return await self.http.post(path, headers=headers, **kw)

    @property
    def runner(self) -> Any:
        return self.app.state.gallery.runner


GalleryFactory = Callable[..., AbstractAsyncContextManager[Gallery]]


@asynccontextmanager
async def open_gallery(
    tmp_path: Path, base_url: str, api_key: str, **kw: Any
) -> AsyncIterator[Gallery]:
    output = kw.pop("output_dir", tmp_path / "out")
    async with AsyncVeniceVideo(
        api_key=api_key,
        base_url=base_url,
        journal=kw.pop("journal", tmp_path / "journal.sqlite3"),
        cache_dir=False,
    ) as client:
        app = create_app(
            client, output_dir=output, cache_dir=kw.pop("cache_dir", tmp_path / "cache"), **kw
        )
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url=GALLERY_ORIGIN) as http,
        ):
            page = await http.get("/")
            match = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
            assert match is not None
            yield Gallery(app, http, client, match.group(1), Path(output))


async def wait_idle(gallery: Gallery, key: str, *, timeout_s: float = 30.0) -> None:
    """Wait until the gallery no longer drives the job `key`."""
    changes = gallery.runner.changes
    with anyio.fail_after(timeout_s):
        while gallery.runner.is_driving(key):
            await changes.wait(changes.version, timeout_s=1.0)
