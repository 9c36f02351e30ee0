"""Settings shared by every front-end (CLI, MCP server, gallery), and the API they reach.

Values come from flags (the arguments of `load_settings`), then the environment, then the
config file.

The config file is TOML at `<user config dir>/venice-video/config.toml` (or `VENICE_VIDEO_CONFIG`):

```toml
base_url = "https://api.venice.ai/api/v1"
model = "wan-2-7-text-to-video"
output_dir = "~/Videos/venice"
max_cost = 1.50
```

An `api_key` entry is read if present but never written, shown or logged.
"""

from __future__ import annotations

import contextlib
import os
import tomllib
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _local
from ._config import (
    API_KEY_ENV,
    BASE_URL_ENV,
    JOURNAL_ENV,
    LOCAL_PORT_ENV,
    LOCAL_SPEED_ENV,
    MAX_COST_ENV,
    MODEL_ENV,
    OUTPUT_DIR_ENV,
    TRUST_IDEMPOTENCY_ENV,
)
from ._env import config_file

__all__ = [
    "DEFAULT_MODEL",
    "Endpoint",
    "Settings",
    "config_path",
    "endpoint",
    "load_settings",
    "local_engine_dir",
]

DEFAULT_MODEL = "wan-2-7-text-to-video"
DEFAULT_LOCAL_SPEED = _local.DEFAULT_SPEED
#: The port the embedded engine tries first (any free one when it is taken: the journal
#: knows its jobs by the engine's folder, not its address).
DEFAULT_LOCAL_PORT = _local.DEFAULT_PORT


def config_path() -> Path:
    """The config file: `$VENICE_VIDEO_CONFIG`, else `config.toml` in the user config folder."""
    return Path(config_file())


@dataclass
class Settings:
    """What is in force for one command, and where each value came from."""

    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    model: str = DEFAULT_MODEL
    output_dir: Path = field(default_factory=Path.cwd)
    max_cost: float | None = None
    #: A SQLite file, or a `postgresql://` URL for a shared journal.
    journal_path: Path | str | None = None
    local_speed: float = DEFAULT_LOCAL_SPEED
    local_port: int = DEFAULT_LOCAL_PORT
    #: The server is known to honour `Idempotency-Key` on queue, so a job whose queue
    #: outcome is unknown may be asked for again with the same key.
    trust_idempotency: bool = False
    sources: dict[str, str] = field(default_factory=dict)
    config_file: Path = field(default_factory=config_path)

    @property
    def uses_local_engine(self) -> bool:
        """No key and no base URL: the command runs against the embedded local engine."""
        return not self.api_key and not self.base_url

    def describe(self) -> dict[str, Any]:
        """The settings for display: the key only as set / not set, never its value."""
        found = "found" if self.config_file.exists() else "absent"
        return {
            "api_key": (f"set (from {self.sources['api_key']})" if self.api_key else "not set"),
            "base_url": self.base_url
            or (
                "embedded local engine"
                if self.uses_local_engine
                else "https://api.venice.ai/api/v1"
            ),
            "model": self.model,
            "output_dir": str(self.output_dir),
            "max_cost": self.max_cost,
            "journal": _shown_journal(self.journal_path),
            "local_speed": self.local_speed,
            "trust_idempotency": self.trust_idempotency,
            "config_file": f"{self.config_file} ({found})",
            "sources": {k: v for k, v in self.sources.items()},
        }


def _is_database_url(value: object) -> bool:
    return str(value or "").lower().startswith(("postgres://", "postgresql://"))


def _shown_journal(value: Path | str | None) -> str:
    if not value:
        return "default"
    if _is_database_url(value):
        from .journal._postgres import redact_url

        return redact_url(str(value))
    return str(value)


def _read_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot read config file {path}: {exc}") from exc


def load_settings(
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    model: str | None = None,
    output_dir: str | None = None,
    max_cost: float | None = None,
    journal: str | None = None,
    local_speed: float | None = None,
    trust_idempotency: bool | None = None,
) -> Settings:
    """Merge flags (the arguments), then environment, then the config file."""
    path = config_path()
    file = _read_file(path)
    settings = Settings(config_file=path)

    def pick(name: str, flag: Any, env: str | None) -> Any:
        if flag is not None:
            settings.sources[name] = "flag"
            return flag
        if env and os.environ.get(env):
            settings.sources[name] = f"env {env}"
            return os.environ[env]
        if name in file:
            settings.sources[name] = "config file"
            return file[name]
        return None

    settings.api_key = pick("api_key", api_key, API_KEY_ENV) or None
    settings.base_url = pick("base_url", base_url, BASE_URL_ENV) or None
    if settings.base_url:
        _check_base_url(settings.base_url, settings.sources["base_url"])
    settings.model = pick("model", model, MODEL_ENV) or DEFAULT_MODEL
    out = pick("output_dir", output_dir, OUTPUT_DIR_ENV)
    settings.output_dir = Path(out).expanduser() if out else Path.cwd()
    cost = pick("max_cost", max_cost, MAX_COST_ENV)
    settings.max_cost = _amount(cost, settings.sources.get("max_cost", ""))
    jpath = pick("journal", journal, JOURNAL_ENV)
    settings.journal_path = (
        str(jpath) if _is_database_url(jpath) else Path(jpath).expanduser() if jpath else None
    )
    speed = pick("local_speed", local_speed, LOCAL_SPEED_ENV)
    settings.local_speed = float(speed) if speed is not None else DEFAULT_LOCAL_SPEED
    trust = pick("trust_idempotency", trust_idempotency, TRUST_IDEMPOTENCY_ENV)
    settings.trust_idempotency = str(trust).lower() in ("1", "true", "yes") if trust else False
    port = pick("local_port", None, LOCAL_PORT_ENV)
    settings.local_port = int(port) if port is not None else DEFAULT_LOCAL_PORT
    return settings


def _where(source: str) -> str:
    if source == "flag":
        return "--base-url"
    if source.startswith("env "):
        return source.removeprefix("env ")
    return f"base_url in {config_path()}"


def _check_base_url(url: str, source: str) -> None:
    """A base URL with no path is always a mistake: the API lives under `/api/v1`."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(
            f"{_where(source)} {url!r} is not an http(s) URL; for example "
            "https://api.venice.ai/api/v1, or http://127.0.0.1:8000/api/v1 for `venice-video serve`"
        )
    if parsed.path.strip("/") == "":
        fixed = url.rstrip("/") + "/api/v1"
        raise ValueError(
            f"{_where(source)} {url!r} has no path, but the API (Venice's, and the local "
            f"server's) answers under /api/v1: use {fixed}"
        )


def _amount(value: Any, source: str) -> float | None:
    if value is None:
        return None
    try:
        amount = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"max_cost ({source}) must be a number of USD, not {value!r}") from None
    if amount < 0 or amount != amount:
        raise ValueError(f"max_cost ({source}) must be 0 or more USD, not {value!r}")
    return amount


# --------------------------------------------------------------------------- the API to reach


def local_engine_dir() -> Path:
    """Where the embedded engine keeps its jobs and media between commands."""
    return _local.default_dir()


@dataclass(frozen=True)
class Endpoint:
    """The API a front-end talks to, and how a client should be made for it."""

    api_key: str | None = field(repr=False)
    base_url: str | None
    is_local: bool
    #: The API id journal entries are matched by (the local engine's folder).
    api_id: str | None = None
    #: Another process started the engine and shares it.
    shared: bool = False

    def client_kwargs(self, settings: Settings) -> dict[str, Any]:
        """The `VeniceVideo`/`AsyncVeniceVideo` arguments for this API and `settings`."""
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
def endpoint(
    settings: Settings, *, on_wait: Callable[[], None] | None = None
) -> Iterator[Endpoint]:
    """The API to talk to; the embedded local engine when none is configured.

    The engine is the one serving the local engine folder: reused when another process
    runs it, else started here (on `local_port`, or any free port if that is taken) and
    kept until every process using it is done.

    Args:
        settings: the settings in force.
        on_wait: called once if this process must wait for others to release the engine.

    Raises:
        ImportError: no API is configured and the `[server]` extra is not installed.
    """
    if not settings.uses_local_engine:
        yield Endpoint(settings.api_key, settings.base_url, is_local=False)
        return
    try:
        engine = _local.acquire(
            local_engine_dir(),
            speed=settings.local_speed,
            port=settings.local_port,
            on_wait=on_wait,
        )
    except ImportError as error:  # pragma: no cover - depends on the install
        raise ImportError(
            f"No {API_KEY_ENV} is set and the local engine is not installed: "
            f"pip install 'venice-video[server]', or set {API_KEY_ENV}"
        ) from error
    with engine:
        yield Endpoint(
            engine.api_key,
            engine.base_url,
            is_local=True,
            api_id=engine.api_id,
            shared=not engine.owner,
        )
