"""Connects a command to an API: the real one, a configured one, or the embedded local engine.

The choice itself is the SDK's (`venice_video._settings.endpoint`); this adds what a command
says about it on stderr.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from .. import _settings
from .._client import VeniceVideo
from .._settings import Endpoint, Settings

__all__ = ["Endpoint", "endpoint", "open_client"]


@contextlib.contextmanager
def endpoint(settings: Settings, *, quiet: bool = False) -> Iterator[Endpoint]:
    """The API to talk to (see `venice_video._settings.endpoint`), announced on stderr."""

    def waiting() -> None:
        if not quiet:
            print(
                "waiting for other commands using the local engine to finish "
                "(Ctrl-C stops it; their jobs stay in the journal)",
                file=sys.stderr,
            )

    with contextlib.ExitStack() as stack:
        try:
            api = stack.enter_context(_settings.endpoint(settings, on_wait=waiting))
        except ImportError as error:  # pragma: no cover - depends on the install
            raise SystemExit(str(error)) from error
        if api.is_local and not quiet:
            shared = ", shared with another command" if api.shared else ""
            print(
                f"No VENICE_API_KEY set: using the local engine at {api.base_url}{shared} "
                "(placeholder videos for development, not AI video)",
                file=sys.stderr,
            )
        yield api


@contextlib.contextmanager
def open_client(
    settings: Settings, *, quiet: bool = False, **client_kw: Any
) -> Iterator[VeniceVideo]:
    """A sync client for the settings in force (see `endpoint`)."""
    with endpoint(settings, quiet=quiet) as api:
        kw = api.client_kwargs(settings) | client_kw
        with VeniceVideo(**kw) as client:
            yield client
