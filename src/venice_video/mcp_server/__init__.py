"""MCP tools for Venice.ai video: list models, validate, quote, generate in the background, follow
jobs, transcribe. Built on the official `mcp` SDK; served over stdio or streamable HTTP.

```python
from venice_video import AsyncVeniceVideo
from venice_video.mcp_server import create_server

client = AsyncVeniceVideo()
server = create_server(client, root=Path("work"), max_cost_per_call=1.0, budget=10.0)
server.run()  # stdio
```

`venice-video mcp` (or `python -m venice_video.mcp_server`) runs it from the command line.
See docs/mcp.md for the tools, the spend limits and the filesystem sandbox.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer

from .._async_client import AsyncVeniceVideo
from .._client import VeniceVideo
from ._run import run
from ._tools import DEFAULT_MAX_WAIT_S, build_server

__all__ = ["DEFAULT_MAX_WAIT_S", "create_server", "run"]


def create_server(
    client: AsyncVeniceVideo | VeniceVideo,
    *,
    root: str | os.PathLike[str] | None = None,
    max_cost_per_call: float | None = None,
    budget: float | None = None,
    max_wait_s: float = DEFAULT_MAX_WAIT_S,
    eta_wait_s: float = 2.0,
    name: str = "venice-video",
) -> MCPServer[Any]:
    """The MCP server with the video tools, around an SDK client the caller owns.

    Jobs run in the server's task group while it runs (its lifespan); unfinished jobs started
    through MCP are resumed from the client's journal when it starts again.

    ```python
    async with AsyncVeniceVideo(journal="jobs.sqlite3") as client:
        server = create_server(client, root=Path("out"), budget=5.0)
        async with mcp.Client(server) as session:
            await session.call_tool("list_models", {"accepts": "image"})
    ```

    Args:
        client: the SDK client (async, or sync: its calls then run in worker threads). It
            must keep a journal; it is not closed by the server.
        root: the only directory the tools may read inputs from and write videos to; the
            current one by default. Created if missing.
        max_cost_per_call: refuse a generation whose quote is over this many USD.
        budget: refuse a generation once the quotes of this server's generations would go
            over this many USD in total.
        max_wait_s: the longest one `wait_for_job` call may block.
        eta_wait_s: how long `start_generation` waits for the first progress report (the ETA).
        name: the server's name, as clients show it.

    Raises:
        ValueError: the client has no journal, or a limit is negative.
    """
    return build_server(
        client,
        root=Path(root) if root is not None else Path.cwd(),
        max_cost_per_call=max_cost_per_call,
        budget=budget,
        max_wait_s=max_wait_s,
        eta_wait_s=eta_wait_s,
        name=name,
    )
