"""The journal's SQLite schema: a numbered list of migrations, applied in order, exactly once.

The current version is kept twice: in `PRAGMA user_version` (cheap to read with the sqlite3
shell) and in the `schema_migrations` table (which also says when each step ran). A journal
written by a newer release than this one is refused rather than guessed at.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from .._exceptions import JournalError

__all__ = ["JOB_COLUMNS", "MIGRATIONS", "SCHEMA_VERSION", "Migration", "migrate"]


@dataclass(frozen=True)
class Migration:
    """One step of the schema: `statements` take the journal from `version - 1` to `version`."""

    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: Final[tuple[Migration, ...]] = (
    Migration(
        version=1,
        description="jobs table",
        statements=(
            """
            CREATE TABLE jobs (
                key                  TEXT PRIMARY KEY NOT NULL,
                model                TEXT NOT NULL,
                status               TEXT NOT NULL,
                base_url             TEXT NOT NULL,
                request              TEXT NOT NULL,
                queue_id             TEXT,
                download_url         TEXT,
                quote_usd            REAL,
                output_path          TEXT,
                size_bytes           INTEGER,
                sha256               TEXT,
                error                TEXT,
                created_at           REAL NOT NULL,
                updated_at           REAL NOT NULL,
                queued_at            REAL,
                ready_at             REAL,
                downloaded_at        REAL,
                completed_at         REAL,
                average_execution_ms REAL,
                execution_ms         REAL,
                tags                 TEXT NOT NULL DEFAULT '{}'
            )
            """,
            "CREATE INDEX jobs_queue_id ON jobs (queue_id)",
            "CREATE INDEX jobs_status ON jobs (status)",
            "CREATE INDEX jobs_created_at ON jobs (created_at)",
        ),
    ),
    Migration(
        version=2,
        description="api_id: the API a job belongs to; overwrite: it may replace its file",
        statements=(
            "ALTER TABLE jobs ADD COLUMN api_id TEXT",
            "ALTER TABLE jobs ADD COLUMN overwrite INTEGER NOT NULL DEFAULT 0",
        ),
    ),
    Migration(
        version=3,
        description="worker: the worker that holds (or last held) a job, in a shared journal",
        statements=("ALTER TABLE jobs ADD COLUMN worker TEXT",),
    ),
)

SCHEMA_VERSION: Final[int] = MIGRATIONS[-1].version

#: Columns of `jobs`, in the order `JournalEntry` declares its fields.
JOB_COLUMNS: Final[tuple[str, ...]] = (
    "key",
    "model",
    "status",
    "base_url",
    "request",
    "queue_id",
    "download_url",
    "quote_usd",
    "output_path",
    "size_bytes",
    "sha256",
    "error",
    "created_at",
    "updated_at",
    "queued_at",
    "ready_at",
    "downloaded_at",
    "completed_at",
    "average_execution_ms",
    "execution_ms",
    "tags",
    "api_id",
    "overwrite",
    "worker",
)

_CREATE_MIGRATIONS_TABLE: Final[str] = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER PRIMARY KEY NOT NULL,
    description TEXT NOT NULL,
    applied_at  REAL NOT NULL
)
"""


def _current_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def migrate(conn: sqlite3.Connection, *, clock: Callable[[], float] = time.time) -> int:
    """Bring the schema up to `SCHEMA_VERSION` and return the version found before.

    `conn` must be in autocommit mode (`isolation_level=None`). The whole upgrade runs inside one
    `BEGIN IMMEDIATE` transaction, so two processes opening a fresh journal at once cannot both
    apply the same step: the second waits for the lock, then sees the new version and does nothing.
    """
    # Fast path without taking the write lock: the common case is an up-to-date journal.
    found = _current_version(conn)
    if found == SCHEMA_VERSION:
        return found
    if found > SCHEMA_VERSION:
        raise JournalError(
            f"the journal has schema version {found}, newer than this release understands "
            f"({SCHEMA_VERSION}); upgrade venice-video"
        )
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = _current_version(conn)
        if found > SCHEMA_VERSION:
            raise JournalError(
                f"the journal has schema version {found}, newer than this release understands "
                f"({SCHEMA_VERSION}); upgrade venice-video"
            )
        conn.execute(_CREATE_MIGRATIONS_TABLE)
        for step in MIGRATIONS:
            if step.version <= found:
                continue
            for statement in step.statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)",
                (step.version, step.description, clock()),
            )
        # PRAGMA takes no bound parameters; the value is our own integer constant.
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return found
