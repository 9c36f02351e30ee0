"""MCP fixtures: servers built around SDK clients on the local video server (root `conftest.py`).

- `mcp_root`: the allowed directory of this test's MCP server.
- `journal_path`: this test's journal.
- `make_venice`: an `AsyncVeniceVideo` on a given local server, with this test's key and journal.
- `connect`: an `mcp.Client` session (the SDK's own in-process pairing) on a fresh MCP server
  around a client on the shared local server; keyword arguments go to `create_server`.

Helpers (`call`, the request presets) live in `mcp_helpers.py`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp_helpers import Connect, MakeVenice

from venice_video import AsyncVeniceVideo
from venice_video.mcp_server import create_server
from venice_video.server import ServerThread


@pytest.fixture
def mcp_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    root.mkdir()
    return root


@pytest.fixture
def journal_path(tmp_path: Path) -> Path:
    return tmp_path / "journal.sqlite3"


@pytest.fixture
def make_venice(api_key: str, journal_path: Path) -> MakeVenice:
    @asynccontextmanager
    async def make(server: ServerThread, **kwargs: Any) -> AsyncIterator[AsyncVeniceVideo]:
        options: dict[str, Any] = {
            "api_key": api_key,
            "base_url": server.base_url,
            "journal": journal_path,
            "cache_dir": False,
        }
        options.update(kwargs)
        async with AsyncVeniceVideo(**options) as client:
            yield client

    return make


@pytest.fixture
def connect(server: ServerThread, make_venice: MakeVenice, mcp_root: Path) -> Connect:
    @asynccontextmanager
    async def open_session(
        *, local: ServerThread | None = None, **options: Any
    ) -> AsyncIterator[Client]:
        options.setdefault("root", mcp_root)
        async with AsyncExitStack() as stack:
            venice = await stack.enter_async_context(make_venice(local or server))
            mcp_server = create_server(venice, **options)
            yield await stack.enter_async_context(Client(mcp_server))

    return open_session
