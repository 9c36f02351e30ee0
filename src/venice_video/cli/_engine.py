"""Connects a command to an API: the real one, a configured one, or the embedded local engine."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import _local
from .._client import VeniceVideo
from ._settings import Settings

__all__ = ["LOCAL_ENGINE_KEY", "Endpoint", "endpoint", "local_engine_dir", "open_client"]

#: The key the CLI presents to its own embedded engine. Not a secret: the engine listens
#: on loopback only.
LOCAL_ENGINE_KEY = _local.LOCAL_ENGINE_KEY


def local_engine_dir() -> Path:
    """Where the embedded engine keeps its jobs and media between commands."""
    return _local.default_dir()


@dataclass(frozen=True)
class Endpoint:
    api_key: str | None
    base_url: str | None
    is_local: bool
    #: The API id journal entries are matched by (the local engine's folder).
    api_id: str | None = None

    def client_kwargs(self, settings: Settings) -> dict[str, Any]:
        kw: dict[str, Any] = {"api_key": self.api_key, "base_url": self.base_url}
        if self.api_id is not None:
            kw["api_id"] = self.api_id
        if settings.journal_path is not None:
            kw["journal"] = settings.journal_path
        if self.is_local or settings.trust_idempotency:
            # The local engine honours Idempotency-Key, so an unknown queue outcome can be
            # settled by asking again with the same key.
            kw["idempotent_queue_retries"] = True
        return kw


@contextlib.contextmanager
def endpoint(settings: Settings, *, quiet: bool = False) -> Iterator[Endpoint]:
    """The API to talk to; the embedded local engine when none is configured.

    The engine is the one serving the local engine folder: reused when another command
    runs it, else started here (on `local_port`, or any free port if that is taken) and
    kept until the commands using it are done.
    """
    if not settings.uses_local_engine:
        yield Endpoint(settings.api_key, settings.base_url, is_local=False)
        return

    def waiting() -> None:
        if not quiet:
            print(
                "waiting for other commands using the local engine to finish "
                "(Ctrl-C stops it; their jobs stay in the journal)",
                file=sys.stderr,
            )

    try:
        engine = _local.acquire(
            local_engine_dir(),
            speed=settings.local_speed,
            port=settings.local_port,
            on_wait=waiting,
        )
    except ImportError as error:  # pragma: no cover - depends on the install
        raise SystemExit(
            "No VENICE_API_KEY is set and the local engine is not installed: "
            "pip install 'venice-video[server]', or set VENICE_API_KEY"
        ) from error
    with engine:
        if not quiet:
            shared = "" if engine.owner else ", shared with another command"
            print(
                f"No VENICE_API_KEY set: using the local engine at {engine.base_url}{shared} "
                "(placeholder videos for development, not AI video)",
                file=sys.stderr,
            )
        yield Endpoint(engine.api_key, engine.base_url, is_local=True, api_id=engine.api_id)


@contextlib.contextmanager
def open_client(
    settings: Settings, *, quiet: bool = False, **client_kw: Any
) -> Iterator[VeniceVideo]:
    """A sync client for the settings in force (see `endpoint`)."""
    with endpoint(settings, quiet=quiet) as api:
        kw = api.client_kwargs(settings) | client_kw
        with VeniceVideo(**kw) as client:
            yield client
