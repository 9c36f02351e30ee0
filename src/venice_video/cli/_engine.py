"""Connects a command to an API: the real one, a configured one, or the embedded local engine."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from .._client import VeniceVideo
from ._settings import Settings

__all__ = ["LOCAL_ENGINE_KEY", "Endpoint", "endpoint", "local_engine_dir", "open_client"]

#: The key the CLI presents to its own embedded engine. Not a secret: the engine listens
#: on loopback only, for the length of one command.
LOCAL_ENGINE_KEY = "local-engine"


def local_engine_dir() -> Path:
    """Where the embedded engine keeps its jobs and media between commands."""
    return Path(platformdirs.user_data_dir("venice-video")) / "local-engine"


@dataclass(frozen=True)
class Endpoint:
    api_key: str | None
    base_url: str | None
    is_local: bool

    def client_kwargs(self, settings: Settings) -> dict[str, Any]:
        kw: dict[str, Any] = {"api_key": self.api_key, "base_url": self.base_url}
        if settings.journal_path is not None:
            kw["journal"] = settings.journal_path
        if self.is_local or settings.trust_idempotency:
            # The local engine honours Idempotency-Key, so an unknown queue outcome can be
            # settled by asking again with the same key.
            kw["idempotent_queue_retries"] = True
        return kw


@contextlib.contextmanager
def endpoint(settings: Settings, *, quiet: bool = False) -> Iterator[Endpoint]:
    """The API to talk to; starts the embedded local engine when none is configured."""
    if not settings.uses_local_engine:
        yield Endpoint(settings.api_key, settings.base_url, is_local=False)
        return
    try:
        from ..server import ServerConfig, ServerThread
    except ImportError as error:  # pragma: no cover - depends on the install
        raise SystemExit(
            "No VENICE_API_KEY is set and the local engine is not installed: "
            "pip install 'venice-video[server]', or set VENICE_API_KEY"
        ) from error
    config = ServerConfig(data_dir=local_engine_dir(), speed=settings.local_speed)
    with contextlib.ExitStack() as stack:
        try:
            engine = stack.enter_context(ServerThread(config, port=settings.local_port))
        except (OSError, RuntimeError):
            # The usual port is taken (another command is running): any free port will do.
            engine = stack.enter_context(ServerThread(config, port=0))
        if not quiet:
            print(
                f"No VENICE_API_KEY set: using the local engine at {engine.base_url} "
                "(placeholder videos for development, not AI video)",
                file=sys.stderr,
            )
        yield Endpoint(LOCAL_ENGINE_KEY, engine.base_url, is_local=True)


@contextlib.contextmanager
def open_client(
    settings: Settings, *, quiet: bool = False, **client_kw: Any
) -> Iterator[VeniceVideo]:
    """A sync client for the settings in force (see `endpoint`)."""
    with endpoint(settings, quiet=quiet) as api:
        kw = api.client_kwargs(settings) | client_kw
        with VeniceVideo(**kw) as client:
            yield client
