"""Moving a journal: every entry of one journal copied into another, exactly as it stands.

Used by `venice-video journal migrate` to move a machine's SQLite journal into the team's
PostgreSQL one. Entries already in the target (the same key) are left alone, so the copy can
be run again after an interruption, or while the old journal is still in use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ._base import JournalStore
from ._codec import dump_json
from ._schema import JOB_COLUMNS

if TYPE_CHECKING:
    import psycopg

    from ._postgres import PostgresJournal

__all__ = ["MigrationReport", "copy_journal"]


@dataclass(frozen=True)
class MigrationReport:
    """What a copy did: entries written, entries the target already had, and money moved."""

    copied: int
    skipped: int
    unfinished: int
    spent_usd: float


def copy_journal(
    source: JournalStore,
    target: PostgresJournal,
    *,
    on_entry: Callable[[str, bool], None] | None = None,
) -> MigrationReport:
    """Copy every entry of `source` into `target`, oldest first, keeping every field.

    Args:
        on_entry: called with each key and whether it was copied (False: already there).
    """
    entries = sorted(source.list(), key=lambda e: (e.created_at, e.key))
    copied = skipped = unfinished = 0
    batch: list[dict[str, Any]] = []

    def flush(conn: psycopg.Connection[Any], rows: list[dict[str, Any]]) -> list[bool]:
        done = []
        for row in rows:
            columns = ", ".join(row)
            marks = ", ".join("%s" for _ in row)
            cur = conn.execute(
                f"INSERT INTO jobs ({columns}) VALUES ({marks}) ON CONFLICT (key) DO NOTHING",
                tuple(row.values()),
            )
            done.append(cur.rowcount == 1)
        return done

    def write(rows: list[dict[str, Any]]) -> None:
        nonlocal copied, skipped
        for row, new in zip(rows, target.run(lambda conn: flush(conn, rows)), strict=True):
            copied += new
            skipped += not new
            if on_entry is not None:
                on_entry(row["key"], new)

    for entry in entries:
        values = {k: v for k, v in asdict(entry).items() if k in JOB_COLUMNS}
        values["request"] = dump_json(entry.request, "request")
        values["tags"] = dump_json(entry.tags, "tags")
        batch.append(values)
        unfinished += not entry.is_finished
        if len(batch) >= 200:
            write(batch)
            batch = []
    if batch:
        write(batch)
    return MigrationReport(copied, skipped, unfinished, source.total_spent())
