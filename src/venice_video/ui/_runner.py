"""Jobs driven in the background while the gallery runs, and the changes the page is told of.

A generation started from the page is journaled (tagged `{"via": "ui"}`) and queued by the
SDK, then driven to its end (wait, download, verify, clean up) by a task in the app's task
group. Each progress report and each end marks the job as changed; the page's event stream
sends the changed jobs. When the gallery starts, unfinished jobs it queued before are driven
again, so closing it loses nothing and never pays twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import anyio.to_thread

from .._client import AsyncVeniceVideo
from .._exceptions import JobTimeoutError, VeniceVideoError
from .._models import Progress, VideoJob
from .._types import UNFINISHED_STATUSES
from ..journal import JournalEntry, JournalStore
from ._views import clean_url, scrub

__all__ = ["UI_TAG", "Changes", "Runner", "Tracker"]

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


@dataclass
class Tracker:
    """What the gallery knows about a job it drives, beyond the journal."""

    key: str
    running: bool = True
    progress: Progress | None = None
    progress_at: float = 0.0
    error: str | None = None
    job: VideoJob | None = None


class Runner:
    """Starts and drives the gallery's jobs. Strictly private.

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
        self.api = clean_url(client.base_url)
        self.clock = clock
        self.changes = Changes()
        self.trackers: dict[str, Tracker] = {}
        self._tg: anyio.abc.TaskGroup | None = None
        self.closing = anyio.Event()

    # ------------------------------------------------------------------ lifetime

    @asynccontextmanager
    async def running(self, *, resume: bool = True) -> AsyncIterator[Runner]:
        """Drive jobs while the app runs; resume the gallery's unfinished jobs at the start."""
        self.closing = anyio.Event()
        self.changes = Changes()
        async with anyio.create_task_group() as tg:
            self._tg = tg
            if resume:
                # Before serving: the page's first listing already shows them followed.
                await self._resume_unfinished()
            try:
                yield self
            finally:
                self.closing.set()
                self._tg = None
                # The jobs stay journaled; the next start picks them up where they were.
                tg.cancel_scope.cancel()
        for tracker in self.trackers.values():
            tracker.running = False

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
    ) -> VideoJob:
        """Quote, check `max_cost`, journal and queue a resolved body; then drive it.

        Raises:
            VeniceVideoError: the SDK or the API refused; see the SDK's `submit`.
        """
        self._require_tg()
        fields = dict(body)
        model = str(fields.pop("model"))
        job = await self.client.submit(
            model=model,
            extra=fields,
            output=output,
            max_cost=max_cost,
            tags={**dict(tags or {}), UI_TAG[0]: UI_TAG[1]},
            idempotency_key=key,
        )
        self.changes.mark(key)
        self._start(key)
        return job

    def _require_tg(self) -> anyio.abc.TaskGroup:
        if self._tg is None:
            raise RuntimeError("the gallery is not running (its lifespan has not started)")
        return self._tg

    def _start(self, key: str) -> Tracker:
        tracker = Tracker(key=key)
        self.trackers[key] = tracker
        self._require_tg().start_soon(self._drive, tracker)
        return tracker

    # ------------------------------------------------------------------ driving

    def resumable(self, entry: JournalEntry) -> tuple[bool, str | None]:
        """Whether this gallery can drive an unfinished job now, and if not, why."""
        if entry.status not in UNFINISHED_STATUSES:
            return False, "the job has ended"
        if clean_url(entry.base_url) != self.api:
            return False, "the job was sent to another API; resume it from there"
        if entry.queue_id is None:
            return False, "whether the job was created is unknown; check the account first"
        if entry.output_path is None:
            return False, "the journal does not say where to save the file"
        if self.is_driving(entry.key):
            return False, "the job is being followed now"
        return True, None

    def is_driving(self, key: str) -> bool:
        tracker = self.trackers.get(key)
        return tracker is not None and tracker.running

    def drive(self, entry: JournalEntry) -> bool:
        """Drive an unfinished job of this API to its end; returns whether it was started."""
        ok, _ = self.resumable(entry)
        if not ok or self._tg is None:
            return False
        self._start(entry.key)
        self.changes.mark(entry.key)
        return True

    def _on_progress(self, tracker: Tracker) -> Callable[[Progress], None]:
        def update(progress: Progress) -> None:
            tracker.progress = progress
            tracker.progress_at = self.clock()
            self.changes.mark(tracker.key)

        return update

    async def _drive(self, tracker: Tracker) -> None:
        try:
            while True:
                try:
                    tracker.job = await self.client.download(
                        tracker.key, timeout=None, on_progress=self._on_progress(tracker)
                    )
                    tracker.error = None
                    return
                except JobTimeoutError:
                    continue  # a long job keeps running: keep following it
        except VeniceVideoError as exc:
            hide = await self._download_url(tracker.key)
            tracker.error = scrub(str(exc), [hide])
            logger.warning("job %s did not finish: %s", tracker.key, tracker.error)
        except Exception as exc:
            logger.exception("job %s: unexpected error", tracker.key)
            tracker.error = scrub(f"{type(exc).__name__}: {exc}")
        finally:
            tracker.running = False
            self.changes.mark(tracker.key)

    async def _download_url(self, key: str) -> str | None:
        with anyio.CancelScope(shield=True):
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
        tracker = self.trackers.get(key)
        if tracker is None:
            return {}
        facts: dict[str, Any] = {"driving": tracker.running, "error": tracker.error}
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
        tracker = self.trackers.get(key)
        return tracker.progress if tracker is not None and tracker.running else None
