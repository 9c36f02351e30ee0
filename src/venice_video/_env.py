"""The environment variables venice-video reads, named once. Standard library only.

Kept apart from `_config` (which needs httpx) so that the command line's fast paths can
read them, and find the folders they name, without importing anything heavy.
"""

from __future__ import annotations

import os
from typing import Final

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "CACHE_DIR_ENV",
    "CONFIG_ENV",
    "JOURNAL_ENV",
    "LOCAL_PORT_ENV",
    "LOCAL_SPEED_ENV",
    "MAX_COST_ENV",
    "MODEL_ENV",
    "OUTPUT_DIR_ENV",
    "TRUST_IDEMPOTENCY_ENV",
    "cache_dir",
    "config_file",
]

API_KEY_ENV: Final = "VENICE_API_KEY"
BASE_URL_ENV: Final = "VENICE_BASE_URL"
JOURNAL_ENV: Final = "VENICE_VIDEO_JOURNAL"
CACHE_DIR_ENV: Final = "VENICE_VIDEO_CACHE_DIR"
#: The settings every front-end reads (see `_settings`).
CONFIG_ENV: Final = "VENICE_VIDEO_CONFIG"
MODEL_ENV: Final = "VENICE_VIDEO_MODEL"
OUTPUT_DIR_ENV: Final = "VENICE_VIDEO_OUTPUT_DIR"
MAX_COST_ENV: Final = "VENICE_VIDEO_MAX_COST"
LOCAL_SPEED_ENV: Final = "VENICE_VIDEO_LOCAL_SPEED"
LOCAL_PORT_ENV: Final = "VENICE_VIDEO_LOCAL_PORT"
TRUST_IDEMPOTENCY_ENV: Final = "VENICE_VIDEO_TRUST_IDEMPOTENCY"


def cache_dir() -> str:
    """`$VENICE_VIDEO_CACHE_DIR`, else the user's cache folder for venice-video."""
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return os.path.expanduser(override)
    import platformdirs

    return str(platformdirs.user_cache_dir("venice-video"))


def config_file() -> str:
    """`$VENICE_VIDEO_CONFIG`, else `config.toml` in the user's config folder."""
    override = os.environ.get(CONFIG_ENV)
    if override:
        return os.path.expanduser(override)
    import platformdirs

    return os.path.join(platformdirs.user_config_dir("venice-video"), "config.toml")
