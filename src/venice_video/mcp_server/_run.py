"""Running the server: over stdio (the default) or streamable HTTP, against the configured API."""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from .._async_client import AsyncVeniceVideo
from ._tools import build_server

if TYPE_CHECKING:
    from .._settings import Settings

__all__ = ["parse_bind", "run"]


def parse_bind(value: str) -> tuple[str, int]:
    """`HOST:PORT` (or `[IPv6]:PORT`) as a `(host, port)` pair.

    Raises:
        ValueError: the value is not `HOST:PORT` with a port from 1 to 65535.
    """
    host, sep, port_text = value.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"expected HOST:PORT (e.g. 127.0.0.1:8765), got {value!r}")
    return host, int(port_text)


def run(
    *,
    settings: Settings,
    http: str | None = None,
    root: Path | None = None,
    max_cost_per_call: float | None = None,
    budget: float | None = None,
) -> None:
    """Serve the MCP tools until the client goes away (stdio) or the process is stopped (HTTP).

    Without an API key or base URL in `settings`, the embedded local engine is started and
    used. Over stdio nothing but the protocol is written to stdout; notices go to stderr.

    Args:
        settings: the settings in force (API key, base URL, journal, local engine speed).
        http: `HOST:PORT` to serve streamable HTTP (at `/mcp`) instead of stdio.
        root: the only directory the tools may read from and write to; the current one by
            default.
        max_cost_per_call: the most one generation may cost, in USD.
        budget: the most all generations of this run may cost, in USD.
    """
    from .._settings import endpoint

    bind = parse_bind(http) if http else None
    with endpoint(settings) as api:
        client_kwargs = api.client_kwargs(settings)
        anyio.run(
            functools.partial(
                _serve,
                client_kwargs,
                bind=bind,
                root=root if root is not None else Path.cwd(),
                max_cost_per_call=max_cost_per_call,
                budget=budget,
            )
        )


async def _serve(
    client_kwargs: dict[str, Any],
    *,
    bind: tuple[str, int] | None,
    root: Path,
    max_cost_per_call: float | None,
    budget: float | None,
) -> None:
    # httpx logs every request URL at INFO, pre-signed download links included.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    async with AsyncVeniceVideo(**client_kwargs) as client:
        server = build_server(client, root=root, max_cost_per_call=max_cost_per_call, budget=budget)
        if bind is None:
            await server.run_stdio_async()
        else:
            host, port = bind
            await server.run_streamable_http_async(host=host, port=port)
