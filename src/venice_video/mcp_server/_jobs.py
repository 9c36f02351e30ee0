"""Generations in the background: start them, follow them, find them again after a restart.

A started job is journaled (tagged `{"via": "mcp"}`) before it is queued, then driven to the
end (wait, download, verify, clean up) by the SDK's `Follower`. The tools read
the journal for the status and the task's last `Progress` for the live part (progress, ETA).
When the server starts, unfinished jobs it (or an earlier run) queued are driven again, so a
restart loses nothing and never pays twice.
"""

from __future__ import annotations

import logging
import math
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio

from .._exceptions import QueueOutcomeUnknownError, VeniceVideoError
from .._follow import Followed, Follower
from .._models import Progress, QueueRequest, VideoJob
from .._types import STAGE_OF_STATUS, STAGES
from ..journal import JournalEntry
from ..media import MediaInfo, verify
from ._backend import Backend
from ._budget import Budget
from ._errors import describe_error, scrub
from ._sandbox import Sandbox

__all__ = ["MCP_TAG", "JobRunner", "default_video_name"]

logger = logging.getLogger("venice_video.mcp_server")

#: The tag every job started through MCP carries in the journal.
MCP_TAG = ("via", "mcp")
_STATES = STAGE_OF_STATUS
#: The states `list_jobs` filters on, in the order a job passes through them.
STATES = STAGES
_PROMPT_CHARS = 120


def default_video_name(model: str, key: str) -> str:
    """`<model>-<first 8 of key>.mp4`, safe as a file name whatever the model id holds."""
    return f"{re.sub(r'[^A-Za-z0-9._-]+', '-', model)}-{key[:8]}.mp4"


class JobRunner:
    """Starts and describes the jobs of one MCP server; the SDK's `Follower` drives them.

    Strictly private.

    Args:
        backend: the SDK client.
        sandbox: the allowed directory.
        budget: the operator's spend gates.
        eta_wait_s: how long `start` waits for the first progress report (its ETA).
        clock: monotonic seconds; tests may inject one.
    """

    def __init__(
        self,
        backend: Backend,
        sandbox: Sandbox,
        budget: Budget,
        *,
        eta_wait_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend = backend
        self.sandbox = sandbox
        self.budget = budget
        self.eta_wait_s = eta_wait_s
        self.clock = clock
        self.follower = Follower(self._finish, on_end=self._ended, clock=clock)
        # Outputs of jobs being queued now (not followed yet).
        self._queueing: dict[str, Path] = {}
        self._media: dict[tuple[str, int, int], MediaInfo | None] = {}
        self._api = backend.api_id

    # ------------------------------------------------------------------ lifetime

    @asynccontextmanager
    async def running(self) -> AsyncIterator[JobRunner]:
        """Run background jobs while the server runs; resume unfinished ones at the start."""
        self.backend.start()
        try:
            async with self.follower.running(), anyio.create_task_group() as tg:
                tg.start_soon(self._resume_unfinished)
                try:
                    yield self
                finally:
                    # Jobs stay journaled; the next start picks them up where they were.
                    tg.cancel_scope.cancel()
        finally:
            self.backend.stop()

    def taken_outputs(self) -> set[Path]:
        """Files that jobs still running (or being queued) will write."""
        return self.follower.taken_outputs() | set(self._queueing.values())

    # ------------------------------------------------------------------ starting

    async def start(
        self,
        request: QueueRequest,
        *,
        output: Path,
        key: str,
        quote_usd: float,
        overwrite: bool = False,
    ) -> dict[str, Any]:
        """Queue a validated, quoted request within the budget and drive it in the background.

        Raises:
            SpendRefused: the operator's gates do not allow `quote_usd`.
            VeniceVideoError: the SDK refused or the API did (nothing was charged, except for
                `QueueOutcomeUnknownError`).
        """
        if not self.follower.is_running:
            raise RuntimeError("the MCP server is not running (its lifespan has not started)")
        cap = self.budget.cap()
        self.budget.hold(quote_usd)
        self._queueing[key] = output
        try:
            job = await self.backend.submit(
                request,
                output=output,
                max_cost=cap,
                tags=dict([MCP_TAG]),
                key=key,
                quote_usd=quote_usd,
                overwrite=overwrite,
            )
        except QueueOutcomeUnknownError:
            # It may have been charged: count it, so the budget errs on the safe side.
            self.budget.settle(quote_usd, quote_usd)
            raise
        except VeniceVideoError:
            self.budget.settle(quote_usd, None)
            raise
        except BaseException:
            # Cancelled mid-queue: the job may exist. It is journaled (the next start resumes
            # it), and counted here so the budget errs on the safe side.
            self.budget.settle(quote_usd, quote_usd)
            raise
        finally:
            del self._queueing[key]
        self.budget.settle(quote_usd, job.quote_usd if job.quote_usd is not None else quote_usd)
        followed = self.follower.follow(key, output=output)
        # The first poll follows the queue at once; its answer carries the server's estimate.
        with anyio.move_on_after(self.eta_wait_s):
            await followed.seen.wait()
        return await self.describe_key(key)

    # ------------------------------------------------------------------ driving

    async def _finish(self, key: str, report: Callable[[Progress], None]) -> VideoJob:
        return await self.backend.finish(key, timeout=math.inf, on_progress=report)

    async def _ended(self, followed: Followed) -> None:
        exc = followed.error
        if exc is None:
            followed.notes.pop("error", None)
        elif isinstance(exc, VeniceVideoError):
            hide = await self._download_url(followed.key)
            logger.warning("job %s did not finish: %s", followed.key, scrub(str(exc), hide))
            followed.notes["error"] = describe_error(exc, hide)
        else:
            followed.notes["error"] = describe_error(exc)

    async def _download_url(self, key: str) -> list[str]:
        entry = await self.backend.blocking(self.backend.journal.get, key)
        return [entry.download_url] if entry is not None and entry.download_url else []

    def drive(self, entry: JournalEntry) -> bool:
        """Drive an unfinished job that nothing drives now; returns whether it was started.

        Jobs never queued (no `queue_id`) are left alone: whether they exist is unknown, and
        sending them again could pay twice (see `can_follow`). So are jobs whose file is
        outside the root.
        """
        if entry.output_path is None or not self.sandbox.contains(entry.output_path):
            return False
        return self.follower.adopt(entry)

    async def _resume_unfinished(self) -> None:
        try:
            entries = await self.backend.blocking(self._unfinished_entries)
        except VeniceVideoError as exc:
            logger.warning("could not read the journal to resume jobs: %s", exc)
            return
        resumed = sum(self.drive(entry) for entry in entries)
        if resumed:
            logger.info("resumed %d unfinished job(s) from the journal", resumed)

    def _unfinished_entries(self) -> list[JournalEntry]:
        entries = self.backend.journal.list(unfinished=True, tag=MCP_TAG)
        return [e for e in entries if self._is_mine(e)]

    # ------------------------------------------------------------------ waiting

    async def wait(self, entry: JournalEntry, timeout_s: float) -> bool:
        """Wait up to `timeout_s` for a job to end; returns whether it did.

        A job whose driver stopped on an error is driven again first, so waiting also retries.
        """
        if not self.follower.is_driving(entry.key):
            self.drive(entry)
        return await self.follower.wait(entry.key, timeout_s)

    def progress_of(self, key: str) -> Progress | None:
        followed = self.follower.get(key)
        return followed.progress if followed is not None else None

    # ------------------------------------------------------------------ finding

    def _is_mine(self, entry: JournalEntry) -> bool:
        return entry.tags.get(MCP_TAG[0]) == MCP_TAG[1] and entry.api == self._api

    async def find(self, job_id: str) -> JournalEntry | None:
        """The job of this server (on this API) with this id, or `None`."""
        entry = await self.backend.blocking(self.backend.journal.find, job_id)
        return entry if entry is not None and self._is_mine(entry) else None

    async def entries(self, *, states: set[str] | None, limit: int) -> list[JournalEntry]:
        def load() -> list[JournalEntry]:
            found = [e for e in self.backend.journal.list(tag=MCP_TAG) if self._is_mine(e)]
            if states is not None:
                found = [e for e in found if _STATES.get(e.status) in states]
            return found[:limit]

        return await self.backend.blocking(load)

    # ------------------------------------------------------------------ describing

    async def describe_key(self, key: str) -> dict[str, Any]:
        entry = await self.backend.blocking(self.backend.journal.get, key)
        if entry is None:  # pragma: no cover - the SDK journals before it queues
            return {"job_id": key, "status": "UNKNOWN", "state": "unknown"}
        return await self.describe(entry)

    async def describe(self, entry: JournalEntry, *, brief: bool = False) -> dict[str, Any]:
        """A job as the tools report it. Never includes the download URL."""
        tracker = self.follower.get(entry.key)
        state = _STATES.get(entry.status, "unknown")
        job_id = entry.queue_id or entry.key
        view: dict[str, Any] = {
            "job_id": job_id,
            "status": entry.status,
            "state": state,
            "model": entry.model,
            "prompt": _short_prompt(entry.request.get("prompt")),
            "quote_usd": entry.quote_usd,
            "output": self._show(entry.output_path),
        }
        live = tracker.progress if tracker is not None else None
        if state in ("queueing", "running", "downloading"):
            view["progress"] = _fraction(entry, live)
            view["eta_s"] = self._eta(tracker)
            view["elapsed_s"] = _elapsed(entry)
            view["driven"] = tracker is not None and tracker.running
        if state == "done":
            # A listing skips decoding each file; get_job and wait_for_job describe it fully.
            view["file"] = await self._file(entry, tracker, probe=not brief)
        error = tracker.notes.get("error") if tracker is not None else None
        if error is None and entry.error and state != "done":
            error = {"message": scrub(entry.error, [entry.download_url or ""])}
        if error is not None:
            view["error"] = error
        if not brief:
            view["next"] = _next_step(job_id, state, view)
        return view

    def _eta(self, tracker: Followed | None) -> float | None:
        if tracker is None or tracker.progress is None or tracker.progress.eta_s is None:
            return None
        left = tracker.progress.eta_s - (self.clock() - tracker.progress_at)
        return round(max(left, 0.0), 1)

    def _show(self, path: str | None) -> str | None:
        return self.sandbox.show(Path(path)) if path else None

    async def _file(
        self, entry: JournalEntry, tracker: Followed | None, *, probe: bool
    ) -> dict[str, Any] | None:
        if entry.output_path is None:
            return None
        path = Path(entry.output_path)
        media = tracker.job.media if tracker is not None and tracker.job is not None else None
        if media is None and probe:
            media = await self.backend.blocking(self._probe, path)
        try:
            size = path.stat().st_size
        except OSError:
            return {
                "path": self._show(entry.output_path),
                "missing": True,
                "note": "The file was saved but is no longer there.",
            }
        info: dict[str, Any] = {
            "path": self.sandbox.show(path),
            "absolute_path": str(path),
            "size_bytes": size,
        }
        if media is not None:
            info.update(
                duration_s=round(media.duration_s, 3),
                width=media.width,
                height=media.height,
                resolution=f"{media.width}x{media.height}",
                fps=round(media.fps, 3),
                has_audio=media.has_audio,
            )
        return info

    def _probe(self, path: Path) -> MediaInfo | None:
        try:
            stat = path.stat()
        except OSError:
            return None
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if key not in self._media:
            try:
                self._media[key] = verify(path)
            except VeniceVideoError:
                self._media[key] = None
        return self._media[key]


def new_key() -> str:
    return uuid.uuid4().hex


def _short_prompt(prompt: Any) -> str | None:
    if not isinstance(prompt, str):
        return None
    return prompt if len(prompt) <= _PROMPT_CHARS else prompt[: _PROMPT_CHARS - 3] + "..."


def _fraction(entry: JournalEntry, live: Progress | None) -> float:
    if entry.status in ("QUOTED", "QUEUING", "QUEUED"):
        return 0.0
    if live is not None and live.phase == "downloading" and live.bytes_total:
        return 0.99
    if entry.status == "READY":
        return 0.99
    average = live.average_execution_ms if live is not None else entry.average_execution_ms
    execution = live.execution_ms if live is not None else entry.execution_ms
    if average and execution is not None:
        return round(min(max(execution / average, 0.0), 0.98), 3)
    return 0.0


def _elapsed(entry: JournalEntry) -> float | None:
    if entry.queued_at is None:
        return None
    return round(max(0.0, time.time() - entry.queued_at), 1)


def _next_step(job_id: str, state: str, view: dict[str, Any]) -> str:
    if state in ("queueing", "running", "downloading"):
        if "error" in view:
            return (
                f"The last attempt to finish it failed; call wait_for_job(job_id={job_id!r}) "
                "to try again (the job is not paid twice)."
            )
        return (
            f"Call wait_for_job(job_id={job_id!r}) to wait for the file, or get_job to check "
            "progress later."
        )
    if state == "done":
        if view.get("file") and not view["file"].get("missing"):
            return (
                "The video is saved at file.path (relative to the allowed directory). "
                "transcribe_file can transcribe its speech."
            )
        return "The file is gone; start a new generation if it is needed."
    if state == "unknown":
        return (
            "Whether this job was created (and charged) is unknown. Do NOT start it again; "
            "tell the user to check the account."
        )
    return "Nothing more will happen to this job; start a new generation if needed."
