"""Jobs driven in the background while the gallery runs, and the changes the page is told of.

A generation started from the page is journaled (tagged `{"via": "ui"}`) and queued by the
SDK, then driven to its end (wait, download, verify, clean up) by the SDK's `Follower`. Each
progress report and each end marks the job as changed; the page's event stream sends the
changed jobs. When the gallery starts, unfinished jobs it queued before are driven again, so
closing it loses nothing and never pays twice.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from .._async_client import AsyncVeniceVideo
from .._exceptions import VeniceVideoError
from .._follow import Followed, Follower, can_follow
from .._models import Progress, QueueRequest, QuoteResponse, VideoJob
from .._types import UNFINISHED_STATUSES
from ..journal import JournalEntry, JournalStore
from ._views import scrub

__all__ = ["UI_TAG", "Changes", "Runner"]

logger = logging.getLogger("venice_video.ui")

#: The tag every job started from the gallery carries in the journal.
UI_TAG = ("via", "ui")


class Changes:
    """A version counter of changed jobs that event streams wait on.

    Only touched from the event loop's thread.
    """

    def __init__(self) -> None:
        self.version = 0
        self._versions: dict[str, int] = {}
        self._event = anyio.Event()

    def mark(self, key: str | None = None) -> None:
        """Record that a job changed (or, with no key, that the list did)."""
        self.version += 1
        if key is not None:
            self._versions[key] = self.version
        event, self._event = self._event, anyio.Event()
        event.set()

    def since(self, version: int) -> list[str]:
        """The jobs changed after `version`, oldest change first."""
        changed = [(v, k) for k, v in self._versions.items() if v > version]
        return [k for _, k in sorted(changed)]

    async def wait(self, version: int, timeout_s: float) -> bool:
        """Wait up to `timeout_s` for a change after `version`; returns whether one came."""
        if self.version > version:
            return True
        with anyio.move_on_after(timeout_s):
            await self._event.wait()
        return self.version > version


class Runner:
    """Starts the gallery's jobs and follows them (with the SDK's `Follower`). Strictly private.

    Args:
        client: the SDK client; it must keep a journal.
        clock: monotonic seconds, for ETAs; tests may inject one.
    """

    def __init__(
        self, client: AsyncVeniceVideo, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        journal = client.journal
        if journal is None:
            raise ValueError("the gallery needs a client with a journal (journal=False)")
        self.client = client
        self.journal: JournalStore = journal
        self.api = client.api_id
        self.clock = clock
        self.changes = Changes()
        self.follower = Follower(
            self._finish, on_change=self._changed, on_end=self._ended, clock=clock
        )
        self.closing = anyio.Event()

    # ------------------------------------------------------------------ lifetime

    @asynccontextmanager
    async def running(self, *, resume: bool = True) -> AsyncIterator[Runner]:
        """Drive jobs while the app runs; resume the gallery's unfinished jobs at the start."""
        self.closing = anyio.Event()
        self.changes = Changes()
        async with self.follower.running():
            if resume:
                # Before serving: the page's first listing already shows them followed.
                await self._resume_unfinished()
            try:
                yield self
            finally:
                # The jobs stay journaled; the next start picks them up where they were.
                self.closing.set()

    async def blocking(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run blocking work (the journal, files) in a worker thread."""
        return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))

    # ------------------------------------------------------------------ starting

    async def submit(
        self,
        body: Mapping[str, Any],
        *,
        key: str,
        output: Path,
        max_cost: float | None,
        tags: Mapping[str, Any] | None = None,
        quote_usd: float | None = None,
    ) -> VideoJob:
        """Check `max_cost`, journal and queue a resolved, checked body; then drive it.

        `quote_usd` is the price the user was shown; without it the body is priced again.

        Raises:
            VeniceVideoError: the SDK or the API refused; see the SDK's `submit`.
        """
        if not self.follower.is_running:
            raise RuntimeError("the gallery is not running (its lifespan has not started)")
        job = await self.client.submit(
            request=QueueRequest.model_validate(dict(body)),
            quote=QuoteResponse(quote=quote_usd) if quote_usd is not None else None,
            output=output,
            max_cost=max_cost,
            tags={**dict(tags or {}), UI_TAG[0]: UI_TAG[1]},
            idempotency_key=key,
        )
        self.changes.mark(key)
        self.follower.follow(key, output=job.path)
        return job

    # ------------------------------------------------------------------ driving

    def resumable(self, entry: JournalEntry) -> tuple[bool, str | None]:
        """Whether this gallery can drive an unfinished job now, and if not, why."""
        if entry.status in UNFINISHED_STATUSES and entry.api != self.api:
            return False, "the job was sent to another API; resume it from there"
        ok, why = can_follow(entry)
        if ok and self.is_driving(entry.key):
            return False, "the job is being followed now"
        return ok, why

    def is_driving(self, key: str) -> bool:
        return self.follower.is_driving(key)

    def drive(self, entry: JournalEntry) -> bool:
        """Drive an unfinished job of this API to its end; returns whether it was started."""
        ok, _ = self.resumable(entry)
        return ok and self.follower.adopt(entry)

    async def _finish(self, key: str, report: Callable[[Progress], None]) -> VideoJob:
        return await self.client.download(key, timeout=math.inf, on_progress=report)

    def _changed(self, key: str) -> None:
        self.changes.mark(key)

    async def _ended(self, followed: Followed) -> None:
        exc = followed.error
        if exc is None:
            followed.notes.pop("error", None)
        elif isinstance(exc, VeniceVideoError):
            hide = await self._download_url(followed.key)
            followed.notes["error"] = scrub(str(exc), [hide])
            logger.warning("job %s did not finish: %s", followed.key, followed.notes["error"])
        else:
            followed.notes["error"] = scrub(f"{type(exc).__name__}: {exc}")

    async def _download_url(self, key: str) -> str | None:
        entry = await self.blocking(self.journal.get, key)
        return entry.download_url if entry is not None else None

    async def _resume_unfinished(self) -> None:
        try:
            entries: list[JournalEntry] = await self.blocking(
                self.journal.list, unfinished=True, tag=UI_TAG
            )
        except VeniceVideoError as exc:
            logger.warning("could not read the journal to resume jobs: %s", exc)
            return
        resumed = sum(self.drive(entry) for entry in entries)
        if resumed:
            logger.info("resumed %d unfinished job(s) from the journal", resumed)

    # ------------------------------------------------------------------ live facts

    def live(self, key: str) -> dict[str, Any]:
        """Progress, ETA and last error of a job this gallery drives (empty if none)."""
        tracker = self.follower.get(key)
        if tracker is None:
            return {}
        facts: dict[str, Any] = {"driving": tracker.running, "error": tracker.notes.get("error")}
        progress = tracker.progress
        if progress is not None and tracker.running:
            facts["phase"] = progress.phase
            if progress.eta_s is not None:
                left = progress.eta_s - (self.clock() - tracker.progress_at)
                facts["eta_s"] = round(max(left, 0.0), 1)
            if progress.bytes_total:
                facts["bytes_done"] = progress.bytes_done
                facts["bytes_total"] = progress.bytes_total
        return facts

    def progress_of(self, key: str) -> Progress | None:
        tracker = self.follower.get(key)
        return tracker.progress if tracker is not None and tracker.running else None
