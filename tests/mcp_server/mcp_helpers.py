"""Helpers for the MCP tests: request presets and a tool call that parses the JSON answer."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from mcp import Client

from venice_video import AsyncVeniceVideo
from venice_video.server import ServerThread

#: `connect(**create_server_options)`: an MCP client session on a fresh server.
Connect = Callable[..., AbstractAsyncContextManager[Client]]
#: The root conftest's `server_factory(config=None, *, clock=None, **fields)`.
ServerFactory = Callable[..., ServerThread]
#: `make_venice(local_server, **client_options)`: an SDK client on a local server.
MakeVenice = Callable[..., AbstractAsyncContextManager[AsyncVeniceVideo]]

#: Cheap, quick clips on the local server: 1 s at 480p ($0.06) and 5 s at 480p ($0.26).
GROK: dict[str, Any] = {
    "model": "grok-imagine-text-to-video-private",
    "prompt": "A gondola at dawn",
    "duration": "1s",
    "resolution": "480p",
}
WAN: dict[str, Any] = {
    "model": "wan-3-0-text-to-video",
    "prompt": "A gondola at dawn",
    "duration": "5s",
    "resolution": "480p",
}


async def call(
    client: Client, tool: str, arguments: dict[str, Any] | None = None
) -> tuple[bool, dict[str, Any]]:
    """Call a tool; return whether it failed and its answer, parsed from the JSON text."""
    result = await client.call_tool(tool, arguments or {})
    text = "".join(getattr(block, "text", "") for block in result.content)
    payload = json.loads(text)
    assert isinstance(payload, dict)
    if result.structured_content is not None:
        assert result.structured_content == payload
    return bool(result.is_error), payload
