"""Where the CLI's settings come from: flags, then environment, then the config file.

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

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

__all__ = ["DEFAULT_MODEL", "Settings", "config_path", "load_settings"]

DEFAULT_MODEL = "wan-2-7-text-to-video"
DEFAULT_LOCAL_SPEED = 30.0
#: The embedded engine's port: fixed, so jobs journaled against it can be resumed by a
#: later command (the journal remembers which API a job belongs to).
DEFAULT_LOCAL_PORT = 47615
KEY_ENV = "VENICE_API_KEY"
BASE_URL_ENV = "VENICE_BASE_URL"


def config_path() -> Path:
    override = os.environ.get("VENICE_VIDEO_CONFIG")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_config_dir("venice-video")) / "config.toml"


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
        from ..journal._postgres import redact_url

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

    settings.api_key = pick("api_key", api_key, KEY_ENV) or None
    settings.base_url = pick("base_url", base_url, BASE_URL_ENV) or None
    settings.model = pick("model", model, "VENICE_VIDEO_MODEL") or DEFAULT_MODEL
    out = pick("output_dir", output_dir, "VENICE_VIDEO_OUTPUT_DIR")
    settings.output_dir = Path(out).expanduser() if out else Path.cwd()
    cost = pick("max_cost", max_cost, "VENICE_VIDEO_MAX_COST")
    settings.max_cost = float(cost) if cost is not None else None
    jpath = pick("journal", journal, "VENICE_VIDEO_JOURNAL")
    settings.journal_path = (
        str(jpath) if _is_database_url(jpath) else Path(jpath).expanduser() if jpath else None
    )
    speed = pick("local_speed", local_speed, "VENICE_VIDEO_LOCAL_SPEED")
    settings.local_speed = float(speed) if speed is not None else DEFAULT_LOCAL_SPEED
    trust = pick("trust_idempotency", trust_idempotency, "VENICE_VIDEO_TRUST_IDEMPOTENCY")
    settings.trust_idempotency = str(trust).lower() in ("1", "true", "yes") if trust else False
    port = pick("local_port", None, "VENICE_VIDEO_LOCAL_PORT")
    settings.local_port = int(port) if port is not None else DEFAULT_LOCAL_PORT
    return settings
