"""`serve`, `mcp` and `ui`: the servers the command line starts (the local API, the MCP
tools, the gallery), each through its package's public names."""

from __future__ import annotations

from pathlib import Path

import click

from ._errors import CLIError
from ._group import State, pass_state

__all__ = ["mcp", "serve", "ui"]


@click.command(
    context_settings={
        "ignore_unknown_options": True,
        "allow_extra_args": True,
        "help_option_names": [],
    }
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def serve(args: tuple[str, ...]) -> None:
    """Run the local Venice-compatible video server (placeholder videos, for development).

    Options: --host, --port, --speed N, --data-dir DIR, --accounts FILE, --config FILE,
    --workers N, --allow-private-urls, --ephemeral; `venice-video serve --help` lists them.
    """
    from ..server import main as server_main

    _announce_server(list(args))
    raise SystemExit(server_main(list(args)))


def _announce_server(args: list[str]) -> None:
    """Say how a client reaches the server: its base URL (with /api/v1) and which keys work."""
    if any(a in ("-h", "--help") for a in args):
        return
    from ..server import config_from_argv

    try:
        parsed, config = config_from_argv(args)
        open_accounts = config.all_accounts() is None
    except (SystemExit, OSError, ValueError):
        return  # the server reports the mistake itself
    host = "127.0.0.1" if parsed.host in ("0.0.0.0", "::", "") else parsed.host
    host = f"[{host}]" if ":" in host else host
    if parsed.port:
        click.echo(
            f"Client base URL: http://{host}:{parsed.port}/api/v1 "
            "(give it as VENICE_BASE_URL or --base-url)",
            err=True,
        )
    if open_accounts:
        click.echo(
            f"API key: any non-empty key works (each key is an account with "
            f"${config.starting_balance_usd:.2f}; placeholder videos, not money)",
            err=True,
        )
    else:
        click.echo("API key: only the keys in the accounts file work", err=True)


@click.command()
@click.option(
    "--http", "http_bind", metavar="HOST:PORT", help="Serve streamable HTTP instead of stdio."
)
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The only directory the tools may read inputs from and write videos to.",
)
@click.option("--max-cost-per-call", type=float, default=None, help="USD cap on one generation.")
@click.option("--budget", type=float, default=None, help="USD cap on all generations of this run.")
@pass_state
def mcp(
    state: State,
    http_bind: str | None,
    root: Path | None,
    max_cost_per_call: float | None,
    budget: float | None,
) -> None:
    """Run the MCP server (tools for AI agents), over stdio or streamable HTTP."""
    try:
        from ..mcp_server import run as run_mcp
    except ImportError as error:
        raise CLIError(
            "the MCP server needs the [mcp] extra", hint="pip install 'venice-video[mcp]'"
        ) from error
    run_mcp(
        settings=state.settings,
        http=http_bind,
        root=root or Path.cwd(),
        max_cost_per_call=max_cost_per_call,
        budget=budget,
    )


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=int, default=8765, show_default=True)
@click.option("--open", "open_browser", is_flag=True, help="Open the page in a browser.")
@pass_state
def ui(state: State, host: str, port: int, open_browser: bool) -> None:
    """Serve the local gallery: watch, compare and manage videos in the browser."""
    try:
        from ..ui import run as run_ui
    except ImportError as error:
        raise CLIError(
            "the gallery needs the [ui] extra", hint="pip install 'venice-video[ui]'"
        ) from error
    run_ui(settings=state.settings, host=host, port=port, open_browser=open_browser)
