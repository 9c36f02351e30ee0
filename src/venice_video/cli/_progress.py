"""Live progress: one job (`JobDisplay`) or a batch of them (`BatchDisplay`).

On a terminal they draw with rich: the status, a bar, and an ETA from the server's own
estimate that counts down between polls and says "past estimate" once the job runs late,
then a download bar. Notes are printed above the live area. Elsewhere they write a plain
line when something changes, so logs of a pipeline stay short.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from .._models import Progress as JobProgress

__all__ = ["BatchDisplay", "JobDisplay", "eta_text", "fmt_seconds", "plain_table"]

Clock = Callable[[], float]


def fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def eta_text(deadline: float | None, now: float) -> str:
    """`eta 12s` before the server's estimate, `past estimate (+5s)` after it."""
    if deadline is None:
        return ""
    left = deadline - now
    if left >= 0.5:
        return f"eta {fmt_seconds(left)}"
    return f"past estimate (+{fmt_seconds(-left)})"


@dataclass
class _Eta:
    """When one job's estimate runs out, on the display's clock."""

    deadline: float | None = None

    def update(self, event: JobProgress, now: float) -> None:
        if event.eta_s is None:
            return
        if event.eta_s > 0:
            self.deadline = now + event.eta_s
        elif self.deadline is None and _overdue(event):
            # Past the estimate the answer says 0: keep the moment it ran out.
            self.deadline = now


class _DetailColumn(ProgressColumn):
    """The ETA, counted down at every refresh, or the task's own detail text."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self._clock = clock

    def render(self, task: Task) -> Text:
        deadline = task.fields.get("deadline")
        if deadline is not None:
            return Text(eta_text(deadline, self._clock()))
        return Text(str(task.fields.get("detail", "")))


def _overdue(event: JobProgress) -> bool:
    average, execution = event.average_execution_ms, event.execution_ms
    return average is not None and execution is not None and execution >= average


def _megabytes(done: int, total: int | None) -> str:
    if total:
        return f"{done / 1e6:.1f}/{total / 1e6:.1f} MB"
    return f"{done / 1e6:.1f} MB"


def _fraction(event: JobProgress) -> float | None:
    if not event.average_execution_ms or event.execution_ms is None:
        return None
    # The estimate is a P80, so a job may run past it; hold just short of full until done.
    return min(0.99, event.execution_ms / event.average_execution_ms)


class JobDisplay:
    """Feeds a job's progress callbacks to the screen. Use as a context manager."""

    def __init__(
        self, *, stream: TextIO | None = None, enabled: bool = True, clock: Clock = time.monotonic
    ) -> None:
        self.stream = stream or sys.stderr
        self.console = Console(file=self.stream, stderr=self.stream is sys.stderr)
        self.live = enabled and self.console.is_terminal
        self.enabled = enabled
        self.clock = clock
        self._lock = threading.Lock()
        self._last_phase: str | None = None
        self._eta = _Eta()
        self._wait_task: TaskID | None = None
        self._download_task: TaskID | None = None
        self._progress: Progress | None = None
        if self.live:
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                _DetailColumn(clock),
                TimeElapsedColumn(),
                console=self.console,
                transient=False,
            )

    def __enter__(self) -> JobDisplay:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def note(self, message: str) -> None:
        """A line of text above the live display (or plain, off a terminal)."""
        if not self.enabled:
            return
        if self._progress is not None:
            self._progress.console.print(message, markup=False, highlight=False)
        else:
            print(message, file=self.stream, flush=True)

    def __call__(self, event: JobProgress) -> None:
        with self._lock:
            self._eta.update(event, self.clock())
            if self._progress is None:
                self._plain(event)
            else:
                self._rich(event)

    def _plain(self, event: JobProgress) -> None:
        if not self.enabled or event.phase == self._last_phase or event.phase == "done":
            return
        self._last_phase = event.phase
        if event.phase == "queued":
            line = f"queued {event.queue_id or ''}".rstrip()
        elif event.phase == "processing":
            eta = eta_text(self._eta.deadline, self.clock())
            line = f"processing, {eta}" if eta else "processing"
        else:
            size = f" ({event.bytes_total / 1e6:.1f} MB)" if event.bytes_total else ""
            line = f"downloading{size}"
        print(line, file=self.stream, flush=True)

    def _rich(self, event: JobProgress) -> None:
        progress = self._progress
        assert progress is not None
        if event.phase in ("queued", "processing"):
            fraction = _fraction(event)
            description = f"{event.status.lower():<10}"
            if self._wait_task is None:
                self._wait_task = progress.add_task(
                    description, total=100, detail="", deadline=None
                )
            progress.update(
                self._wait_task,
                description=description,
                completed=100 * fraction if fraction is not None else 0,
                deadline=self._eta.deadline,
            )
        elif event.phase == "downloading":
            if self._wait_task is not None:
                progress.update(
                    self._wait_task, description="ready     ", completed=100, deadline=None
                )
            if self._download_task is None:
                self._download_task = progress.add_task(
                    "download  ", total=event.bytes_total, detail="", deadline=None
                )
            progress.update(
                self._download_task,
                completed=event.bytes_done,
                total=event.bytes_total,
                detail=_megabytes(event.bytes_done, event.bytes_total),
            )
        elif event.phase == "done":
            for task in (self._wait_task, self._download_task):
                if task is not None:
                    total = progress.tasks[task].total if task < len(progress.tasks) else None
                    progress.update(task, completed=total or 100, deadline=None)


class BatchDisplay:
    """A batch on screen: one live row per running job (phase, bar, ETA, cost) under an
    overall bar, with each finished row and every note printed above the live area.

    Off a terminal it writes one plain line per finished row.
    """

    def __init__(
        self,
        total: int,
        *,
        stream: TextIO | None = None,
        enabled: bool = True,
        clock: Clock = time.monotonic,
    ) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.console = Console(file=self.stream, stderr=self.stream is sys.stderr)
        self.enabled = enabled
        self.live = enabled and self.console.is_terminal
        self.clock = clock
        self.finished = 0
        self.failed = 0
        self._rows: dict[int, tuple[TaskID, _Eta]] = {}
        self._progress: Progress | None = None
        self._overall: TaskID | None = None
        if self.live:
            self._progress = Progress(
                TextColumn("{task.description}"),
                TextColumn("{task.fields[phase]}"),
                BarColumn(),
                _DetailColumn(clock),
                TextColumn("{task.fields[cost]}"),
                console=self.console,
                transient=True,
            )
            self._overall = self._progress.add_task(
                f"batch: 0/{total}", total=total, phase="", cost="", detail="", deadline=None
            )

    def __enter__(self) -> BatchDisplay:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def note(self, message: str) -> None:
        """A line above the live area (or a plain line, off a terminal)."""
        if not self.enabled:
            return
        if self._progress is not None:
            self._progress.console.print(message, markup=False, highlight=False)
        else:
            print(message, file=self.stream, flush=True)

    def start(self, index: int, name: str, cost: float | None) -> Callable[[JobProgress], None]:
        """Show a row that begins; returns its `on_progress` callback."""
        eta = _Eta()
        if self._progress is not None:
            task = self._progress.add_task(
                f"  {name}",
                total=100,
                phase="starting",
                cost=f"${cost:.4f}" if cost is not None else "",
                detail="",
                deadline=None,
            )
            self._rows[index] = (task, eta)

        def update(event: JobProgress) -> None:
            eta.update(event, self.clock())
            progress = self._progress
            if progress is None or index not in self._rows:
                return
            task = self._rows[index][0]
            if event.phase == "downloading":
                done = 100 * event.bytes_done / event.bytes_total if event.bytes_total else 0
                progress.update(task, phase="download", completed=done, deadline=None,
                                detail=_megabytes(event.bytes_done, event.bytes_total))  # fmt: skip
            elif event.phase in ("queued", "processing"):
                fraction = _fraction(event)
                done = 100 * fraction if fraction is not None else 0
                progress.update(
                    task, phase=event.status.lower(), deadline=eta.deadline, completed=done
                )

        return update

    def finish(self, index: int, name: str, *, ok: bool, text: str) -> None:
        """A row ended: it leaves the live area and is printed above it."""
        self.finished += 1
        self.failed += 0 if ok else 1
        word = "done" if ok else "failed"
        line = f"[{index}/{self.total}] {word}: {name} {text}".rstrip()
        if self._progress is not None:
            row = self._rows.pop(index, None)
            if row is not None:
                self._progress.remove_task(row[0])
            assert self._overall is not None
            self._progress.update(
                self._overall,
                advance=1,
                description=f"batch: {self.finished}/{self.total} ({self.failed} failed)",
            )
        self.note(line)


def plain_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A fixed-width text table for when stdout is not a terminal."""
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in columns)]
    for row in rows:
        lines.append("  ".join(str(row.get(c, "")).ljust(widths[c]) for c in columns))
    return "\n".join(lines)
