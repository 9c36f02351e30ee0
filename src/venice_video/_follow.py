"""`Follower`: drives queued jobs to their end in the background, for long-running front-ends.

The MCP server and the gallery queue a job, answer at once, and follow the job in a task:
wait, download, verify, clean up. They also pick up, when they start, the jobs they left
unfinished. That loop is written once, here, with the money rule it must keep:

    A job without a `queue_id` is never driven. Whether it exists is unknown (the process
    stopped while queueing), and driving it could mean queueing it again: paying twice.

The follower runs on anyio, in a task group the front-end owns (`async with
follower.running(): ...`). It knows nothing of how a job is finished: it is given a coroutine
function, usually `client.download` with `timeout=math.inf`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc

from ._exceptions import JobTimeoutError, VeniceVideoError
from ._models import Progress, VideoJob
from ._types import UNFINISHED_STATUSES

if TYPE_CHECKING:
    from .journal import JournalEntry

__all__ = ["Finisher", "Followed", "Follower", "can_follow"]

logger = logging.getLogger("venice_video")

#: Finish one journaled job (by key), reporting progress: wait, download, verify, clean up.
Finisher = Callable[[str, Callable[[Progress], None]], Awaitable[VideoJob]]


@dataclass
class Followed:
    """One job a `Follower` drives, as far as the journal does not say.

    This object should be considered read-only outside of the `Follower`.
    """

    key: str
    output: Path | None = None
    running: bool = True
    progress: Progress | None = None
    progress_at: float = 0.0
    job: VideoJob | None = None
    """The finished job, once it ended well."""
    error: BaseException | None = None
    """What stopped the job, when it did not end well."""
    notes: dict[str, Any] = field(default_factory=dict)
    """Free room for the front-end (a rendered error, say)."""
    seen: anyio.Event = field(default_factory=anyio.Event)
    """Set at the first progress report, or at the end."""
    done: anyio.Event = field(default_factory=anyio.Event)


def can_follow(entry: JournalEntry) -> tuple[bool, str | None]:
    """Whether a journaled job may be driven at all, and if not, why (the money rule)."""
    if entry.status not in UNFINISHED_STATUSES:
        return False, "the job has ended"
    if entry.queue_id is None:
        return False, "whether the job was created is unknown; check the account first"
    if entry.output_path is None:
        return False, "the journal does not say where to save the file"
    return True, None


class Follower:
    """Follows jobs to their end in the background. Strictly private.

    Args:
        finish: drives one job to its end; `client.download(key, timeout=math.inf, ...)`.
        on_change: called (on the event loop) with a job's key at each progress report and
            at its end.
        on_end: awaited (shielded from cancellation) when a job's driver stops, ended well or
            not; the front-end renders errors there.
        clock: monotonic seconds, for `progress_at`; tests may inject one.
    """

    def __init__(
        self,
        finish: Finisher,
        *,
        on_change: Callable[[str], None] | None = None,
        on_end: Callable[[Followed], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._finish = finish
        self._on_change = on_change
        self._on_end = on_end
        self.clock = clock
        self.followed: dict[str, Followed] = {}
        self._tg: anyio.abc.TaskGroup | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Follower]:
        """Drive jobs while the block runs; on leaving, stop following (jobs stay journaled)."""
        async with anyio.create_task_group() as tg:
            self._tg = tg
            try:
                yield self
            finally:
                self._tg = None
                tg.cancel_scope.cancel()
        for followed in self.followed.values():
            followed.running = False

    @property
    def is_running(self) -> bool:
        return self._tg is not None

    def get(self, key: str) -> Followed | None:
        return self.followed.get(key)

    def is_driving(self, key: str) -> bool:
        followed = self.followed.get(key)
        return followed is not None and followed.running

    def taken_outputs(self) -> set[Path]:
        """The files that jobs still being driven will write."""
        return {f.output for f in self.followed.values() if f.output and f.running}

    def follow(self, key: str, *, output: Path | None = None) -> Followed:
        """Drive a queued job (by journal key) to its end; the one already driving it, if any.

        The caller has checked `can_follow()` (or just queued the job itself).

        Raises:
            RuntimeError: the follower is not running.
        """
        if self._tg is None:
            raise RuntimeError("the follower is not running (enter `running()` first)")
        current = self.followed.get(key)
        if current is not None and current.running:
            return current
        followed = Followed(key=key, output=output, progress_at=self.clock())
        self.followed[key] = followed
        self._tg.start_soon(self._drive, followed)
        return followed

    def adopt(self, entry: JournalEntry) -> bool:
        """Drive an unfinished journaled job nothing drives now; returns whether it started."""
        ok, _ = can_follow(entry)
        if not ok or self._tg is None or self.is_driving(entry.key):
            return False
        assert entry.output_path is not None
        self.follow(entry.key, output=Path(entry.output_path))
        self._changed(entry.key)
        return True

    async def wait(self, key: str, timeout_s: float) -> bool:
        """Wait up to `timeout_s` for a followed job to end; returns whether it has."""
        followed = self.followed.get(key)
        if followed is None or not followed.running:
            return True
        with anyio.move_on_after(timeout_s):
            await followed.done.wait()
        return not followed.running

    def failed(self, key: str, error: BaseException) -> Followed:
        """Record a job that stopped before it could be followed (its queueing failed)."""
        followed = Followed(key=key, running=False, error=error)
        followed.seen.set()
        followed.done.set()
        self.followed[key] = followed
        return followed

    # ------------------------------------------------------------------ driving

    def _changed(self, key: str) -> None:
        if self._on_change is not None:
            self._on_change(key)

    def _reporter(self, followed: Followed) -> Callable[[Progress], None]:
        def report(progress: Progress) -> None:
            followed.progress = progress
            followed.progress_at = self.clock()
            followed.seen.set()
            self._changed(followed.key)

        return report

    async def _drive(self, followed: Followed) -> None:
        try:
            while True:
                try:
                    followed.job = await self._finish(followed.key, self._reporter(followed))
                    followed.error = None
                    return
                except JobTimeoutError:
                    # Only a finisher with a deadline gets here; the job keeps running.
                    continue
        except Exception as exc:
            followed.error = exc
            if not isinstance(exc, VeniceVideoError):
                logger.exception("job %s: unexpected error", followed.key)
        finally:
            followed.running = False
            if self._on_end is not None:
                with anyio.CancelScope(shield=True):
                    await self._on_end(followed)
            followed.seen.set()
            followed.done.set()
            self._changed(followed.key)
