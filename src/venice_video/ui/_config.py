"""How one gallery runs, and the token that guards its writes."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from ._uploads import DEFAULT_MAX_UPLOAD_BYTES

__all__ = ["GalleryConfig", "new_token"]


@dataclass(frozen=True)
class GalleryConfig:
    """How one gallery runs; see `venice_video.ui.create_app` for each field."""

    output_dir: Path
    cache_dir: Path
    upload_dir: Path
    token: str
    max_cost: float | None = None
    default_model: str | None = None
    local_engine: bool = False
    allowed_hosts: frozenset[str] | None = None
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    resume_on_start: bool = True
    close_client: bool = False
    event_interval_s: float = 0.2
    event_stream_s: float = 300.0


def new_token() -> str:
    """A fresh CSRF token for one process."""
    return secrets.token_urlsafe(32)
