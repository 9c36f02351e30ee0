"""The video model catalog, cached on disk so validation needs no request most of the time.

One file per API base URL under the user's cache directory, refreshed after a TTL. When
the API cannot be reached, a stale copy is better than nothing, and the snapshot bundled
with the package is the last resort. Quotes for the priced model listing (`QuoteCache`)
are kept the same way, one file per base URL, and so are the job times the pollers learned
(`LearnedTimes`), one file per API.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ._catalog import Catalog
from ._config import MODEL_CACHE_TTL
from ._env import cache_dir
from ._forecast import CompletionStats, Learned

__all__ = ["LearnedTimes", "ModelCache", "QuoteCache", "default_cache_dir"]


def default_cache_dir() -> Path:
    """`$VENICE_VIDEO_CACHE_DIR`, else the user's cache directory for venice-video."""
    return Path(cache_dir())


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
        return self.directory / f"models-video-{_digest(base_url.rstrip('/'))}.json"

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
            catalog = Catalog.from_api(payload, source="cache")
        except Exception:
            return None
        return catalog if len(catalog) else None

    def store(self, base_url: str, payload: Mapping[str, Any]) -> None:
        """Save a response atomically. A cache that cannot be written is silently skipped."""
        record = {"fetched_at": self._clock(), "base_url": base_url, "payload": payload}
        _write_atomically(self.path_for(base_url), record)


class QuoteCache:
    """`/video/quote` answers, by base URL and request body, fresh for a TTL.

    Kept in memory, and on disk next to the model catalog when a directory is given, so
    pricing the whole catalog a second time asks nothing. A quote is free, so a stale or
    unreadable file only costs asking again.

    Args:
        directory: where the files go; `None` to keep quotes in memory only.
        ttl: seconds a quote stays fresh.
        clock: the wall clock (injectable for tests).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        *,
        ttl: float = MODEL_CACHE_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = Path(directory) if directory is not None else None
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[str, dict[str, tuple[float, float]]] = {}
        self._loaded: set[str] = set()
        self._dirty: set[str] = set()

    def path_for(self, base_url: str) -> Path | None:
        """The file that caches the quotes of `base_url` (`None` when kept in memory)."""
        if self.directory is None:
            return None
        return self.directory / f"quotes-video-{_digest(base_url.rstrip('/'))}.json"

    def load(self, base_url: str) -> None:
        """Read the saved quotes of `base_url` once; later calls do nothing."""
        if base_url in self._loaded:
            return
        self._loaded.add(base_url)
        path = self.path_for(base_url)
        if path is None:
            return
        try:
            saved = json.loads(path.read_text("utf-8"))["quotes"]
            entries = {str(k): (float(v[0]), float(v[1])) for k, v in saved.items()}
        except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
            return
        self._entries.setdefault(base_url, {}).update(entries)

    def get(self, base_url: str, body: Mapping[str, Any]) -> float | None:
        """The fresh quote for this request body, if one is cached."""
        entry = self._entries.get(base_url, {}).get(_body_key(body))
        if entry is None or self._clock() - entry[0] > self.ttl:
            return None
        return entry[1]

    def put(self, base_url: str, body: Mapping[str, Any], quote: float) -> None:
        """Remember a quote (written by the next `save()`)."""
        self._entries.setdefault(base_url, {})[_body_key(body)] = (self._clock(), float(quote))
        self._dirty.add(base_url)

    def save(self, base_url: str) -> None:
        """Write the quotes of `base_url` atomically, if any changed; failures are skipped."""
        path = self.path_for(base_url)
        if path is None or base_url not in self._dirty:
            return
        now = self._clock()
        fresh = {k: v for k, v in self._entries.get(base_url, {}).items() if now - v[0] <= self.ttl}
        record = {"base_url": base_url, "quotes": {k: list(v) for k, v in fresh.items()}}
        if _write_atomically(path, record):
            self._dirty.discard(base_url)


class LearnedTimes:
    """What jobs took, kept on disk: one file per API, so that a new process (each command
    of the CLI is one) starts from the finish times of the jobs before it, not from the
    server's estimate alone, and polls accordingly less.

    `load()` reads the file once; `save()` writes what the client learned, merged with
    what other processes saved meanwhile. The file is a cache: one that cannot be read or
    written, or a write lost to another process's, costs a few polls and nothing more.

    Args:
        directory: where the file goes.
        api_id: the API the times were measured on (see `BaseClient.api_id`).
        max_age: seconds a finish time is kept; older ones are neither read nor written.
        keep: the finish times kept per kind (`PollPolicy.keep`).
        interval: while a client runs, the least seconds between two saves.
        clock: the wall clock (injectable for tests).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        api_id: str,
        *,
        max_age: float,
        keep: int,
        interval: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(directory) / f"job-times-video-{_digest(api_id)}.json"
        self.api_id = api_id
        self.max_age = max_age
        self.keep = keep
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self.loaded = False
        self._saved_at: float | None = None
        self._saved_changes = 0

    def load(self, stats: CompletionStats) -> None:
        """Add the saved times to `stats`, the first time only."""
        with self._lock:
            if not self.loaded:
                self._absorb_file(stats)
                self._saved_changes = stats.changes
                # Only now: a wait that finds it set (unlocked) begins with the saved times.
                self.loaded = True

    def due(self, stats: CompletionStats) -> bool:
        """Whether a running client should save now: it learned something, and its last
        save was `interval` seconds ago or never."""
        if stats.changes == self._saved_changes:
            return False
        return self._saved_at is None or self._clock() - self._saved_at >= self.interval

    def save(self, stats: CompletionStats) -> None:
        """Write what `stats` learned, if anything since the last save, with what the file
        gained meanwhile (which `stats` takes up too)."""
        with self._lock:
            changes = stats.changes
            if changes == self._saved_changes:
                return
            self._absorb_file(stats)
            since = self._clock() - self.max_age
            learned = stats.export()
            finishes = {
                kind: rows
                for kind, all_rows in learned["finishes"].items()
                if (rows := [row for row in all_rows if row[2] >= since])
            }
            estimates = {m: row for m, row in learned["estimates"].items() if row[1] >= since}
            record = {"api_id": self.api_id, "finishes": finishes, "estimates": estimates}
            if _write_atomically(self.path, record):
                self._saved_at, self._saved_changes = self._clock(), changes

    def _absorb_file(self, stats: CompletionStats) -> None:
        try:
            saved = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError):
            return
        if isinstance(saved, dict) and saved.get("api_id") == self.api_id:
            learned: Learned = saved
            stats.absorb(learned, keep=self.keep, since=self._clock() - self.max_age)


def _digest(name: str) -> str:
    """A short, stable file-name part for an API's URL or id."""
    return hashlib.sha256(name.encode()).hexdigest()[:16]


def _body_key(body: Mapping[str, Any]) -> str:
    return json.dumps(dict(body), sort_keys=True, separators=(",", ":"))


def _write_atomically(path: Path, record: Mapping[str, Any]) -> bool:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".cache-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(record, f)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError:
        return False
    return True
