"""What every journal backend offers: the API the SDK, the CLI, the MCP server and the gallery use.

Two backends implement it: `Journal` (SQLite, one machine, the default) and `PostgresJournal`
(PostgreSQL, shared by many machines). Both keep the same guarantees: an intent is durable
before the paid request is sent, a `queue_id` is durable the moment it is recorded, and a write
that returned is never lost, but for `note()`: progress that a lost write only makes someone
redo, which reaches the disk with the next durable write.
"""

from __future__ import annotations

import abc
import builtins
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .._exceptions import JournalError

if TYPE_CHECKING:
    from ._entry import JournalEntry

__all__ = ["JournalStore"]


class JournalStore(abc.ABC):
    """A durable record of every job. Thread-safe; see `Journal` for each method's contract."""

    @property
    @abc.abstractmethod
    def location(self) -> str:
        """Where the journal lives, for messages: a file path, or a URL without its password."""

    @abc.abstractmethod
    def record_intent(
        self,
        *,
        key: str,
        model: str,
        base_url: str,
        request: Mapping[str, Any],
        quote_usd: float | None,
        output_path: str | None,
        tags: Mapping[str, Any] | None = None,
        api_id: str | None = None,
        overwrite: bool = False,
    ) -> JournalEntry:
        """Record a job about to be queued (status QUEUING), durably, before the request.

        `api_id` names the API the job belongs to when its URL may change (the local engine);
        `overwrite` records that the job may replace a file already at `output_path`.
        """

    def record_queued(self, key: str, *, queue_id: str, download_url: str | None) -> JournalEntry:
        """Record the server's `queue_id` (status QUEUED). Call it the moment one exists."""
        return self.update(key, status="QUEUED", queue_id=queue_id, download_url=download_url)

    def update(self, key: str, **fields: Any) -> JournalEntry:
        """Change some fields of an entry and return it as it now stands.

        Only the given columns are written, so two writers changing different fields of one
        entry never undo each other. `updated_at` is set to now unless given. Moving to QUEUED,
        READY, DOWNLOADED or COMPLETED also stamps `queued_at`, `ready_at`, `downloaded_at` or
        `completed_at`, unless given or already set.

        Raises:
            TypeError: a field name is not a `JournalEntry` field, or is `key`.
            JournalError: no entry has this key, the status is unknown, or the write failed.
        """
        entry = self.update_existing(key, **fields)
        if entry is None:
            raise JournalError(f"no journal entry with key {key}")
        return entry

    @abc.abstractmethod
    def update_existing(self, key: str, **fields: Any) -> JournalEntry | None:
        """`update()`, or `None` (nothing written) when no entry has this key."""

    def note(self, key: str, **fields: Any) -> JournalEntry | None:
        """`update_existing()` for progress that a lost write only makes someone redo: a
        status seen on the way (PROCESSING, READY), the timings, the cleanup done.

        It may return before the write is on disk; it gets there with the next durable write,
        or soon after. A crash of the process loses nothing; a power cut (or, for PostgreSQL,
        a crash of the database server) may lose it, leaving the entry at its previous
        status, from which `resume()` redoes the step: one more poll, or a cleanup that finds
        nothing left to delete. Never for the intent, the `queue_id`, the saved file, or an
        outcome (a failure, an unknown queue outcome): those are written with `update()`.
        """
        return self.update_existing(key, **fields)

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove one entry. Removing a key that is not there does nothing."""

    @abc.abstractmethod
    def clean(
        self,
        *,
        statuses: Iterable[str] = ("COMPLETED", "FAILED", "CANCELLED"),
        older_than_s: float | None = None,
    ) -> int:
        """Delete entries in `statuses` not updated for `older_than_s` seconds; return how many."""

    @abc.abstractmethod
    def get(self, key: str) -> JournalEntry | None:
        """The entry with exactly this key, or `None`."""

    @abc.abstractmethod
    def find(self, id_or_key: str) -> JournalEntry | None:
        """The entry whose `queue_id` or key is `id_or_key`, or starts with it; else `None`."""

    @abc.abstractmethod
    def list(
        self,
        *,
        statuses: Iterable[str] | None = None,
        unfinished: bool = False,
        tag: tuple[str, Any] | None = None,
        limit: int | None = None,
    ) -> builtins.list[JournalEntry]:
        """Entries, newest first."""

    def unfinished(self) -> builtins.list[JournalEntry]:
        """Entries not COMPLETED, FAILED or CANCELLED, newest first: what `resume` looks at."""
        return self.list(unfinished=True)

    @abc.abstractmethod
    def total_spent(
        self,
        *,
        statuses: Iterable[str] | None = None,
        since: float | None = None,
        until: float | None = None,
        model: str | None = None,
        tag: tuple[str, Any] | None = None,
        local: bool | None = False,
    ) -> float:
        """The sum of `quote_usd` over jobs the server accepted, in US dollars.

        `local=False` (the default) counts real spending only, `True` only the embedded local
        engine's jobs (priced, but not money), `None` both.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connections. Later calls raise `JournalError`."""

    def __enter__(self) -> JournalStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
