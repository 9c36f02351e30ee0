"""Fixtures for the gallery; the helpers they use live in `ui_helpers`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from ui_helpers import Gallery, GalleryFactory, open_gallery

from venice_video.server import ServerThread


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: drives the gallery in a real headless Chromium (skipped without one)"
    )


@pytest.fixture
def make_gallery(tmp_path: Path, server: ServerThread, api_key: str) -> GalleryFactory:
    """`make_gallery(**create_app_kwargs)`: the app running in-process, see `open_gallery`."""

    @asynccontextmanager
    async def make(**kw: Any) -> AsyncIterator[Gallery]:
        async with open_gallery(tmp_path, server.base_url, api_key, **kw) as gallery:
            yield gallery

    return make
