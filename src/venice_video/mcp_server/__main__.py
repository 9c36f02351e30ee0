"""`python -m venice_video.mcp_server`: the MCP server without the CLI around it.

The API key comes from `VENICE_API_KEY` only (never a flag, so it stays out of process lists).
With neither a key nor `--base-url`, the embedded local engine is used.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._run import parse_bind, run


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m venice_video.mcp_server",
        description="Serve the venice-video MCP tools over stdio (default) or streamable HTTP.",
    )
    parser.add_argument("--base-url", help="The API base URL (default: $VENICE_BASE_URL).")
    parser.add_argument(
        "--root",
        type=Path,
        default=None,
        help="The only directory the tools may use (default: the current one).",
    )
    parser.add_argument("--max-cost-per-call", type=float, help="USD cap on one generation.")
    parser.add_argument("--budget", type=float, help="USD cap on all generations of this run.")
    parser.add_argument("--journal", help="The job journal (default: $VENICE_VIDEO_JOURNAL).")
    parser.add_argument("--http", metavar="HOST:PORT", help="Serve streamable HTTP at /mcp.")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and serve until the client or a signal stops it."""
    from .._settings import load_settings

    args = _parser().parse_args(argv)
    if args.http:
        try:
            parse_bind(args.http)
        except ValueError as exc:
            print(f"error: --http: {exc}", file=sys.stderr)
            return 2
    for name in ("max_cost_per_call", "budget"):
        value = getattr(args, name)
        if value is not None and value < 0:
            print(f"error: --{name.replace('_', '-')} must not be negative", file=sys.stderr)
            return 2
    settings = load_settings(base_url=args.base_url, journal=args.journal)
    try:
        run(
            settings=settings,
            http=args.http,
            root=args.root,
            max_cost_per_call=args.max_cost_per_call,
            budget=args.budget,
        )
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
