"""`python -m venice_video.server`: run the local Venice-compatible video server."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from ._config import ENDPOINTS, ServerConfig
from ._run import default_data_dir, serve


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m venice_video.server",
        description="Run a local server that speaks the Venice.ai video API and renders "
        "placeholder clips for development and testing.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    parser.add_argument("--speed", type=float, help="server time runs N times faster")
    parser.add_argument(
        "--data-dir", type=Path, help=f"state folder (default {default_data_dir()})"
    )
    parser.add_argument(
        "--ephemeral", action="store_true", help="keep state in a temporary folder, removed on exit"
    )
    parser.add_argument("--accounts", type=Path, help="accounts JSON file (only its keys work)")
    parser.add_argument("--config", type=Path, help="server settings JSON file")
    parser.add_argument("--workers", type=int, help="render threads (default: CPU count)")
    parser.add_argument("--seed", type=int, help="seed for simulated execution times")
    parser.add_argument(
        "--allow-private-urls",
        action="store_true",
        help="let input URLs point at loopback and private hosts",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="ENDPOINT.SETTING=VALUE",
        help="inject faults, e.g. queue.drop_after_create=0.2 or retrieve.slow_body_s=0.5 "
        "(repeatable; endpoints: " + ", ".join(ENDPOINTS) + ")",
    )
    parser.add_argument("--fault-seed", type=int, help="seed for fault injection")
    parser.add_argument("--log-level", default="info", help="uvicorn log level (default info)")
    parser.add_argument("--no-access-log", action="store_true", help="no line per request")
    return parser


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    """The settings file (if any) with the command-line flags on top."""
    config = ServerConfig.from_file(args.config) if args.config else ServerConfig()
    updates: dict[str, object] = {}
    if args.speed is not None:
        updates["speed"] = args.speed
    if args.accounts is not None:
        updates["accounts_file"] = args.accounts
    if args.workers is not None:
        updates["workers"] = args.workers
    if args.seed is not None:
        updates["seed"] = args.seed
    if args.allow_private_urls:
        updates["allow_private_urls"] = True
    if args.ephemeral:
        updates["data_dir"] = None
    elif args.data_dir is not None:
        updates["data_dir"] = args.data_dir
    elif config.data_dir is None:
        updates["data_dir"] = default_data_dir()
    if args.fault or args.fault_seed is not None:
        faults = config.faults.model_dump()
        if args.fault_seed is not None:
            faults["seed"] = args.fault_seed
        for item in args.fault:
            target, sep, value = item.partition("=")
            endpoint, dot, setting = target.partition(".")
            if not sep or not dot or endpoint not in ENDPOINTS:
                raise ValueError(f"--fault {item!r}: expected ENDPOINT.SETTING=VALUE")
            faults["endpoints"].setdefault(endpoint, {})[setting] = value
        updates["faults"] = faults
    return ServerConfig.model_validate({**config.model_dump(), **updates})


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
        if config.accounts_file is not None:
            config.all_accounts()  # fail now, with a clear message, on a bad file
    except (OSError, ValueError, ValidationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    serve(
        config,
        args.host,
        args.port,
        log_level=args.log_level,
        access_log=not args.no_access_log,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
