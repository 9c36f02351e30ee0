"""The video model catalog, cached on disk so validation needs no request most of the time.

One file per API base URL under the user's cache directory, refreshed after a TTL. When
the API cannot be reached, a stale copy is better than nothing, and the snapshot bundled
with the package is the last resort.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ._catalog import Catalog
from ._config import CACHE_DIR_ENV, MODEL_CACHE_TTL

__all__ = ["ModelCache", "default_cache_dir"]


def default_cache_dir() -> Path:
    """`$VENICE_VIDEO_CACHE_DIR`, else the user's cache directory for venice-video."""
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("venice-video"))


class ModelCache:
    """`GET /models?type=video` responses on disk, one file per base URL.

    Args:
        directory: where the files go; `None` for the default cache directory.
        ttl: seconds a copy stays fresh.
        clock: the wall clock (injectable for tests).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        *,
        ttl: float = MODEL_CACHE_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = Path(directory) if directory is not None else default_cache_dir()
        self.ttl = ttl
        self._clock = clock

    def path_for(self, base_url: str) -> Path:
        """The file that caches the catalog of `base_url`."""
        digest = hashlib.sha256(base_url.rstrip("/").encode()).hexdigest()[:16]
        return self.directory / f"models-video-{digest}.json"

    def load(self, base_url: str, *, allow_stale: bool = False) -> Catalog | None:
        """The cached catalog, if there is a fresh one (or any one, with `allow_stale`)."""
        path = self.path_for(base_url)
        try:
            record = json.loads(path.read_text("utf-8"))
            fetched_at = float(record["fetched_at"])
            payload = record["payload"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not allow_stale and self._clock() - fetched_at > self.ttl:
            return None
        try:
            catalog = Catalog.from_api(payload)
        except Exception:
            return None
        return catalog if len(catalog) else None

    def store(self, base_url: str, payload: Mapping[str, Any]) -> None:
        """Save a response atomically. A cache that cannot be written is silently skipped."""
        path = self.path_for(base_url)
        record = {"fetched_at": self._clock(), "base_url": base_url, "payload": payload}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".models-", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump(record, f)
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError:
            pass
