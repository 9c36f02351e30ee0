"""One job as the journal knows it (`JournalEntry`), and what a list of them cost (`spent`)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from .._config import api_id_of, is_local_engine_api
from .._types import TERMINAL_STATUSES, JobStatus

__all__ = ["DETACHED_TAG", "OUTPUT_TAG", "JournalEntry", "spent"]

#: The tag that marks an entry as work handed to workers (`venice_video.workers`).
DETACHED_TAG: Final[str] = "detached"
#: The tag that holds a handed-out job's file name, relative to the workers' shared folder.
OUTPUT_TAG: Final[str] = "output"

# Statuses whose quote was never charged.
_UNCHARGED: Final[frozenset[str]] = frozenset({"QUOTED", "CANCELLED"})


@dataclass(frozen=True)
class JournalEntry:
    """One job as the journal knows it. Read-only: change it with `Journal.update`.

    Attributes:
        key: the `Idempotency-Key` (uuid4 hex); it exists before the job is queued.
        model: the model the job was (or is to be) queued for.
        status: where the job stands (see `docs/journal.md` for what each means for money).
        base_url: the server the job was sent to, without credentials.
        request: the queue body, with large `data:` URLs replaced by digests.
        queue_id: the server's id for the job, once it has one.
        download_url: the pre-signed URL the file is served from, for models that use one.
        quote_usd: the price quoted before queueing.
        output_path: where the file is to be, or was, saved.
        size_bytes: the size of the saved file.
        sha256: the hex digest of the saved file.
        error: the last error, in words.
        created_at: when the entry was made (`time.time()`).
        updated_at: when it last changed.
        queued_at: when a `queue_id` arrived.
        ready_at: when the server first had the file.
        downloaded_at: when the file was saved and verified.
        completed_at: when the server's copy was deleted after the download.
        average_execution_ms: the server's estimate of the total run time.
        execution_ms: how long the server had been running the job, as last seen.
        tags: free-form labels (batch id, row number, name).
        api_id: the API the job belongs to, whatever its URL is now: the embedded local
            engine is `local-engine:<data folder>`; `None` for entries written before
            API ids existed (their `base_url` stands in).
        overwrite: the job was asked to replace a file already at its output.
        worker: the worker that holds (or last held) the job, in a shared journal.
    """

    key: str
    model: str
    status: JobStatus
    base_url: str
    request: dict[str, Any]
    queue_id: str | None = None
    download_url: str | None = None
    quote_usd: float | None = None
    output_path: str | None = None
    size_bytes: int | None = None
    sha256: str | None = None
    error: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    queued_at: float | None = None
    ready_at: float | None = None
    downloaded_at: float | None = None
    completed_at: float | None = None
    average_execution_ms: float | None = None
    execution_ms: float | None = None
    tags: dict[str, Any] = field(default_factory=dict)
    api_id: str | None = None
    overwrite: bool = False
    worker: str | None = None

    @property
    def api(self) -> str:
        """The API the job belongs to: `api_id`, else its cleaned `base_url`."""
        return self.api_id or api_id_of(self.base_url)

    @property
    def is_local_engine(self) -> bool:
        """True for a job of the embedded local engine, whose spending is not money."""
        return is_local_engine_api(self.api_id)

    @property
    def shared_output(self) -> str | None:
        """For a job handed to workers, its file's name relative to their shared folder."""
        name = self.tags.get(OUTPUT_TAG) if self.tags.get(DETACHED_TAG) is True else None
        return name if isinstance(name, str) and name else None

    @property
    def is_finished(self) -> bool:
        """True when nothing more will happen to the job: COMPLETED, FAILED or CANCELLED."""
        return self.status in TERMINAL_STATUSES

    @property
    def needs_attention(self) -> bool:
        """True when the queue outcome is UNKNOWN: the job may exist and be charged."""
        return self.status == "UNKNOWN"


def spent(entries: Iterable[JournalEntry], *, local: bool | None = False) -> float:
    """What these jobs cost, counted as `Journal.total_spent` counts: queued jobs' quotes.

    `local=False` counts real spending only, `True` only the local engine's (not money),
    `None` both.
    """
    amounts = [
        float(e.quote_usd)
        for e in entries
        if e.queue_id is not None
        and e.quote_usd is not None
        and e.status not in _UNCHARGED
        and (local is None or e.is_local_engine == local)
    ]
    return round(math.fsum(amounts), 6)
