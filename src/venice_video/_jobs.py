"""A job as the flows see it: journal updates, progress notes and cancellation.

Strictly private; shared by the stage modules (`_queueing`, `_waiting`, `_downloading`,
`_lifecycle`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias

from ._effects import CancelToken, Flow, call
from ._models import Progress, VideoJob

if TYPE_CHECKING:
    from ._base_client import BaseClient
    from .journal import JournalEntry, JournalStore

__all__ = [
    "ProgressCallback",
    "cancelled",
    "entry_job",
    "journal_of",
    "journal_update",
    "notify",
]

#: Called with each `Progress`; returning `False` cancels the wait (the job stays journaled).
ProgressCallback: TypeAlias = Callable[[Progress], "bool | None"]

_STAMPS = {"READY": "ready_at", "DOWNLOADED": "downloaded_at", "COMPLETED": "completed_at"}


def journal_of(client: BaseClient) -> Flow[JournalStore | None]:
    """The client's journal; its first opening (files, SQLite) is blocking work (Rule 2)."""
    if client._journal is not None or client._journal_arg is False:
        return client._journal
    return (yield from call(lambda: client.journal))


def journal_update(
    client: BaseClient, job: VideoJob, *, durable: bool = True, **fields: Any
) -> Flow[VideoJob]:
    """Change a job, and its journal entry when there is one. `durable=False` is for
    progress that a lost write only makes `resume()` redo (see `JournalStore.note`)."""
    journal = yield from journal_of(client)
    changes = dict(fields)
    if "path" in changes:
        path = changes.pop("path")
        changes["output_path"] = str(path) if path is not None else None
    if journal is not None:
        # A job built by hand (not queued through this journal) has no entry to update.
        write = journal.update_existing if durable else journal.note
        entry = yield from call(write, job.idempotency_key, **changes)
        if entry is not None:
            return _merge_entry(job, entry)
    now = client._wall()
    updated = job.replace(**{k: v for k, v in fields.items() if k != "output_path"})
    stamp = _STAMPS.get(str(fields.get("status")))
    if stamp and getattr(updated, stamp) is None:
        updated = updated.replace(**{stamp: now})
    return updated


def entry_job(client: BaseClient, job: VideoJob) -> Flow[VideoJob]:
    """The job as its journal entry has it now (the job itself without a journal)."""
    journal = yield from journal_of(client)
    if journal is None:
        return job
    entry = yield from call(journal.get, job.idempotency_key)
    return VideoJob.from_entry(entry) if entry is not None else job


def notify(callback: ProgressCallback | None, progress: Progress) -> bool:
    """Tell `callback`; `False` when it asked to stop."""
    if callback is None:
        return True
    return callback(progress) is not False


def cancelled(cancel: CancelToken | None) -> bool:
    return cancel is not None and cancel.is_set()


def _merge_entry(job: VideoJob, entry: JournalEntry) -> VideoJob:
    fresh = VideoJob.from_entry(entry)
    return fresh.replace(media=job.media, elapsed_s=fresh.elapsed_s or job.elapsed_s)
