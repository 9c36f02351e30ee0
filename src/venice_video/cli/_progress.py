"""Live progress for one job: status, elapsed, ETA from the server's estimate, then a download bar.

On a terminal it draws with rich; elsewhere it writes a plain line when the phase changes,
so logs of a pipeline stay short.
"""

from __future__ import annotations

import sys
import threading
from types import TracebackType
from typing import Any, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from .._models import Progress as JobProgress

__all__ = ["JobDisplay", "fmt_seconds"]


def fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class JobDisplay:
    """Feeds a job's progress callbacks to the screen. Use as a context manager."""

    def __init__(self, *, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.console = Console(file=self.stream, stderr=self.stream is sys.stderr)
        self.live = enabled and self.console.is_terminal
        self.enabled = enabled
        self._lock = threading.Lock()
        self._last_phase: str | None = None
        self._wait_task: TaskID | None = None
        self._download_task: TaskID | None = None
        self._progress: Progress | None = None
        if self.live:
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[detail]}"),
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
            eta = f", eta {fmt_seconds(event.eta_s)}" if event.eta_s is not None else ""
            line = f"processing{eta}"
        else:
            size = f" ({event.bytes_total / 1e6:.1f} MB)" if event.bytes_total else ""
            line = f"downloading{size}"
        print(line, file=self.stream, flush=True)

    def _rich(self, event: JobProgress) -> None:
        progress = self._progress
        assert progress is not None
        if event.phase in ("queued", "processing"):
            fraction = _fraction(event)
            detail = f"eta {fmt_seconds(event.eta_s)}" if event.eta_s is not None else ""
            description = f"{event.status.lower():<10}"
            if self._wait_task is None:
                self._wait_task = progress.add_task(description, total=100, detail=detail)
            progress.update(
                self._wait_task,
                description=description,
                completed=100 * fraction if fraction is not None else 0,
                detail=detail,
            )
        elif event.phase == "downloading":
            if self._wait_task is not None:
                progress.update(self._wait_task, description="ready     ", completed=100, detail="")
            if self._download_task is None:
                self._download_task = progress.add_task(
                    "download  ", total=event.bytes_total, detail=""
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
                    progress.update(task, completed=total or 100)


def _megabytes(done: int, total: int | None) -> str:
    if total:
        return f"{done / 1e6:.1f}/{total / 1e6:.1f} MB"
    return f"{done / 1e6:.1f} MB"


def _fraction(event: JobProgress) -> float | None:
    if not event.average_execution_ms or event.execution_ms is None:
        return None
    # The estimate is a P80, so a job may run past it; hold just short of full until done.
    return min(0.99, event.execution_ms / event.average_execution_ms)


def plain_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A fixed-width text table for when stdout is not a terminal."""
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in columns)]
    for row in rows:
        lines.append("  ".join(str(row.get(c, "")).ljust(widths[c]) for c in columns))
    return "\n".join(lines)
