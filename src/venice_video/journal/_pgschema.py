"""The shared journal's PostgreSQL schema: numbered migrations, applied in order, exactly once.

Everything lives in its own schema (`venice_video` unless told otherwise), so the journal can
share a database with other applications. Each connection sets `search_path` to it.

Migrations run inside one transaction holding an advisory lock: any number of machines may
start at once against a fresh database, and exactly one of them applies each step. A database
written by a newer release than this one is refused rather than guessed at.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from .._exceptions import JournalError
from ._schema import Migration

if TYPE_CHECKING:
    import psycopg

__all__ = ["DEFAULT_SCHEMA", "PG_MIGRATIONS", "PG_SCHEMA_VERSION", "migrate_pg", "valid_schema"]

DEFAULT_SCHEMA: Final[str] = "venice_video"
_SCHEMA_NAME: Final[re.Pattern[str]] = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

PG_MIGRATIONS: Final[tuple[Migration, ...]] = (
    Migration(
        version=1,
        description="jobs table",
        statements=(
            """
            CREATE TABLE jobs (
                key                  TEXT PRIMARY KEY,
                model                TEXT NOT NULL,
                status               TEXT NOT NULL,
                base_url             TEXT NOT NULL,
                request              TEXT NOT NULL,
                queue_id             TEXT,
                download_url         TEXT,
                quote_usd            DOUBLE PRECISION,
                output_path          TEXT,
                size_bytes           BIGINT,
                sha256               TEXT,
                error                TEXT,
                created_at           DOUBLE PRECISION NOT NULL,
                updated_at           DOUBLE PRECISION NOT NULL,
                queued_at            DOUBLE PRECISION,
                ready_at             DOUBLE PRECISION,
                downloaded_at        DOUBLE PRECISION,
                completed_at         DOUBLE PRECISION,
                average_execution_ms DOUBLE PRECISION,
                execution_ms         DOUBLE PRECISION,
                tags                 TEXT NOT NULL DEFAULT '{}',
                seq                  BIGSERIAL NOT NULL
            )
            """,
            "CREATE INDEX jobs_queue_id ON jobs (queue_id)",
            "CREATE INDEX jobs_status ON jobs (status)",
            "CREATE INDEX jobs_created_at ON jobs (created_at DESC, seq DESC)",
        ),
    ),
    Migration(
        version=2,
        description="workers, leases, budgets, ledger and shared rate limits",
        statements=(
            # Which worker holds a job, and until when (the database's clock: one for all).
            "ALTER TABLE jobs ADD COLUMN worker TEXT, ADD COLUMN lease_until TIMESTAMPTZ",
            "CREATE INDEX jobs_worker ON jobs (worker) WHERE worker IS NOT NULL",
            """
            CREATE TABLE workers (
                name         TEXT PRIMARY KEY,
                host         TEXT NOT NULL,
                pid          INTEGER NOT NULL,
                concurrency  INTEGER NOT NULL,
                base_url     TEXT NOT NULL,
                output_dir   TEXT NOT NULL,
                lease_s      DOUBLE PRECISION NOT NULL,
                started_at   TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
                heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
                stopped_at   TIMESTAMPTZ
            )
            """,
            """
            CREATE TABLE budgets (
                name        TEXT PRIMARY KEY,
                limit_micro BIGINT NOT NULL CHECK (limit_micro >= 0),
                updated_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
            )
            """,
            # One row per (budget, job): reserved at quote time, settled once the job has a
            # queue_id (the API charged it), released when it provably never will be.
            """
            CREATE TABLE budget_ledger (
                budget       TEXT NOT NULL REFERENCES budgets (name) ON DELETE CASCADE,
                job_key      TEXT NOT NULL,
                state        TEXT NOT NULL CHECK (state IN ('reserved', 'settled', 'released')),
                amount_micro BIGINT NOT NULL CHECK (amount_micro >= 0),
                reserved_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
                settled_at   TIMESTAMPTZ,
                PRIMARY KEY (budget, job_key)
            )
            """,
            "CREATE INDEX budget_ledger_job ON budget_ledger (job_key)",
            # The full queue body of a job left for a worker (the journal keeps only digests of
            # large inline media); dropped once the job is queued.
            """
            CREATE TABLE payloads (
                key  TEXT PRIMARY KEY,
                body TEXT NOT NULL
            )
            """,
            # The settlement happens in the same transaction as the journal write that
            # proves it, whoever writes it (a worker, a resume, the SDK).
            """
            CREATE FUNCTION settle_ledger() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.queue_id IS NOT NULL AND OLD.queue_id IS NULL THEN
                    DELETE FROM payloads WHERE key = NEW.key;
                    UPDATE budget_ledger
                       SET state = 'settled',
                           amount_micro = COALESCE(round(NEW.quote_usd * 1000000)::BIGINT,
                                                   amount_micro),
                           settled_at = clock_timestamp()
                     WHERE job_key = NEW.key AND state = 'reserved';
                ELSIF NEW.queue_id IS NULL AND NEW.status IN ('FAILED', 'CANCELLED')
                      AND OLD.status <> NEW.status THEN
                    UPDATE budget_ledger
                       SET state = 'released', settled_at = clock_timestamp()
                     WHERE job_key = NEW.key AND state = 'reserved';
                END IF;
                RETURN NEW;
            END
            $$
            """,
            """
            CREATE TRIGGER jobs_settle_ledger AFTER UPDATE OF queue_id, status ON jobs
                FOR EACH ROW EXECUTE FUNCTION settle_ledger()
            """,
            # Token buckets per (key fingerprint, endpoint); the key itself is never stored.
            """
            CREATE TABLE rate_buckets (
                key_fp        TEXT NOT NULL,
                endpoint      TEXT NOT NULL,
                tokens        DOUBLE PRECISION NOT NULL,
                capacity      DOUBLE PRECISION NOT NULL,
                refill_per_s  DOUBLE PRECISION NOT NULL,
                updated_at    TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
                blocked_until TIMESTAMPTZ NOT NULL DEFAULT '-infinity',
                taken         BIGINT NOT NULL DEFAULT 0,
                limited       BIGINT NOT NULL DEFAULT 0,
                PRIMARY KEY (key_fp, endpoint)
            )
            """,
            # The salt of the keyed fingerprints, made once per database.
            """
            CREATE TABLE secrets (
                name  TEXT PRIMARY KEY,
                value BYTEA NOT NULL
            )
            """,
        ),
    ),
    Migration(
        version=3,
        description="api_id: the API a job belongs to; overwrite: it may replace its file",
        statements=(
            "ALTER TABLE jobs ADD COLUMN api_id TEXT, "
            "ADD COLUMN overwrite BOOLEAN NOT NULL DEFAULT false",
        ),
    ),
    Migration(
        version=4,
        description="holds: a submitted job that waits for another job's verified file",
        statements=(
            # A chained story shot starts from its predecessor's last frame, which exists only
            # once that job's file is verified: the shot is recorded and reserved, but handed
            # out only when `released_at` is set (its body then carries the frame).
            """
            CREATE TABLE job_holds (
                key         TEXT PRIMARY KEY,
                after_key   TEXT NOT NULL,
                frame_field TEXT NOT NULL,
                created_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
                released_at TIMESTAMPTZ
            )
            """,
            "CREATE INDEX job_holds_waiting ON job_holds (after_key) WHERE released_at IS NULL",
        ),
    ),
)

PG_SCHEMA_VERSION: Final[int] = PG_MIGRATIONS[-1].version

_CREATE_MIGRATIONS_TABLE: Final[str] = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at  DOUBLE PRECISION NOT NULL
)
"""


def valid_schema(name: str) -> str:
    """`name` if it is a plain lower-case identifier (it is spliced into SQL), else an error."""
    if not _SCHEMA_NAME.match(name):
        raise JournalError(f"invalid schema name {name!r}: use lower-case letters, digits and _")
    return name


def _found_version(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not row or not row[0]:
        return 0
    got = conn.execute("SELECT COALESCE(max(version), 0) FROM schema_migrations").fetchone()
    return int(got[0]) if got else 0


def migrate_pg(
    conn: psycopg.Connection[Any],
    *,
    schema: str = DEFAULT_SCHEMA,
    clock: Callable[[], float] = time.time,
) -> int:
    """Bring the schema up to `PG_SCHEMA_VERSION`; return the version found before.

    `conn` must not be inside a transaction, and its `search_path` must name `schema`.
    """
    with conn.transaction():
        found = _found_version(conn)
    if found == PG_SCHEMA_VERSION:
        return found
    with conn.transaction():
        # One migrator at a time per database, whatever the machine.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('venice_video.migrate'))")
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{valid_schema(schema)}"')
        conn.execute(_CREATE_MIGRATIONS_TABLE)
        found = _found_version(conn)
        if found > PG_SCHEMA_VERSION:
            raise JournalError(
                f"the journal has schema version {found}, newer than this release understands "
                f"({PG_SCHEMA_VERSION}); upgrade venice-video"
            )
        for step in PG_MIGRATIONS:
            if step.version <= found:
                continue
            for statement in step.statements:
                conn.execute(statement.encode())
            conn.execute(
                "INSERT INTO schema_migrations (version, description, applied_at) "
                "VALUES (%s, %s, %s)",
                (step.version, step.description, clock()),
            )
        conn.execute(
            "INSERT INTO secrets (name, value) VALUES ('fingerprint', %s) "
            "ON CONFLICT (name) DO NOTHING",
            (secrets.token_bytes(32),),
        )
    return found
