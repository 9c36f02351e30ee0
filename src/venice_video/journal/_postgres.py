"""The PostgreSQL job journal: one journal shared by every machine of a team.

The same API and guarantees as the SQLite `Journal`:

- Every write is one transaction committed before the call returns (`synchronous_commit` as
  the server has it: on by default), so an intent is durable before the paid request is sent
  and a `queue_id` the moment it is recorded. `note()`, for progress that a lost write only
  makes someone redo, commits with `synchronous_commit` off for its own transaction.
- Writers change only the columns they name, so two machines updating different fields of
  one job never undo each other.
- Connections come from a `psycopg_pool.ConnectionPool`, checked before use. When the server
  restarts or a connection drops, a call is tried again for up to `retry_for` seconds: every
  write is safe to repeat (an update sets the same values again; an intent that did commit
  before the connection broke is recognised as ours).

Needs the `[postgres]` extra (psycopg 3 and its pool).
"""

from __future__ import annotations

import builtins
import logging
import math
import os
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

from .._config import is_local_engine_api
from .._exceptions import JournalError
from .._types import TERMINAL_STATUSES, JobStatus
from .._urls import clean_url
from ._base import JournalStore
from ._codec import (
    check_statuses,
    digest_data_urls,
    dump_json,
    has_tag,
    load_json,
    scrub,
    set_clause,
    tag_text,
)
from ._entry import JournalEntry
from ._pgschema import DEFAULT_SCHEMA, migrate_pg, valid_schema
from ._schema import JOB_COLUMNS

if TYPE_CHECKING:
    import psycopg
    import psycopg_pool

__all__ = ["PostgresJournal", "redact_url"]

logger = logging.getLogger("venice_video.journal")

T = TypeVar("T")

#: How long a call keeps trying while the database cannot be reached.
DEFAULT_RETRY_FOR: Final[float] = 60.0
_SELECT: Final[str] = f"SELECT {', '.join(JOB_COLUMNS)} FROM jobs"
_NEWEST_FIRST: Final[str] = "ORDER BY created_at DESC, seq DESC"


def redact_url(url: str) -> str:
    """The URL without its password or query (which may carry one): safe to print."""
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    user = parts.username
    netloc = f"{user}@{host}" if user else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class PostgresJournal(JournalStore):
    """A journal in PostgreSQL, shared safely by threads, processes and machines.

    ```python
    from venice_video.journal import open_journal

    with open_journal("postgresql://studio@db.internal/venice") as journal:
        print(len(journal.unfinished()), "jobs in flight")
    ```

    Args:
        url: a libpq URL (`postgresql://user:password@host:5432/dbname`). The password may
            also come from `PGPASSWORD` or `~/.pgpass`, as libpq reads them.
        clock: the wall clock for timestamps; tests inject a fake one.
        schema: the PostgreSQL schema the tables live in.
        max_connections: the pool's size.
        retry_for: seconds to keep trying a call while the database cannot be reached.

    Raises:
        JournalError: psycopg is missing, the database cannot be reached, or it was written by
            a newer release.
    """

    def __init__(
        self,
        url: str,
        *,
        clock: Callable[[], float] = time.time,
        schema: str = DEFAULT_SCHEMA,
        max_connections: int = 8,
        retry_for: float = DEFAULT_RETRY_FOR,
        connect_timeout: float = 10.0,
    ) -> None:
        try:
            import psycopg  # noqa: F401
            import psycopg_pool  # noqa: F401
        except ImportError as exc:
            raise JournalError(
                "a PostgreSQL journal needs the [postgres] extra: "
                "pip install 'venice-video[postgres]'"
            ) from exc
        self.url = url
        self.schema = valid_schema(schema)
        self._clock = clock
        self._max = max(2, max_connections)
        self._retry_for = retry_for
        self._connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._pool: psycopg_pool.ConnectionPool[Any] | None = None
        self._pid = os.getpid()
        self._closed = False
        try:
            self.run(lambda conn: migrate_pg(conn, schema=self.schema, clock=self._clock), tx=False)
        except BaseException:
            self.close()  # the pool's threads must not outlive a journal that never opened
            raise

    # ------------------------------------------------------------------ connections

    @property
    def location(self) -> str:
        """The database URL without its password."""
        return redact_url(self.url)

    def connection_kwargs(self) -> dict[str, Any]:
        """What every connection to this journal is opened with: autocommit (a transaction is
        always explicit), and the journal's schema as `search_path`."""
        return {
            "autocommit": True,
            "options": f"-c search_path={self.schema}",
            "connect_timeout": max(1, math.ceil(self._connect_timeout)),
            "application_name": "venice-video",
        }

    @property
    def pool(self) -> psycopg_pool.ConnectionPool[Any]:
        """The connection pool (opened on first use; a forked child opens its own)."""
        with self._lock:
            if self._closed:
                raise JournalError("the journal is closed")
            if self._pool is not None and self._pid == os.getpid():
                return self._pool
            # After fork() the parent's pool (and its threads) are not ours to use or close.
            from psycopg_pool import ConnectionPool

            self._pid = os.getpid()
            self._pool = ConnectionPool(
                self.url,
                kwargs=self.connection_kwargs(),
                min_size=1,
                max_size=self._max,
                open=True,
                check=ConnectionPool.check_connection,
                timeout=self._connect_timeout,
                name="venice-video-journal",
            )
            return self._pool

    def run(
        self,
        fn: Callable[[psycopg.Connection[Any]], T],
        *,
        tx: bool = True,
        retry_for: float | None = None,
        timeout: float | None = None,
    ) -> T:
        """Call `fn(conn)` (inside one transaction when `tx`), trying again while the database
        cannot be reached. `fn` must be safe to repeat: its transaction may have committed
        just before the connection broke. `timeout` bounds the wait for a pooled connection.

        Raises:
            JournalError: the database stayed unreachable, or refused the work.
        """
        import psycopg

        deadline = time.monotonic() + (self._retry_for if retry_for is None else retry_for)
        delay = 0.05
        while True:
            try:
                with self.pool.connection(timeout=timeout) as conn:
                    if not tx:
                        return fn(conn)
                    with conn.transaction():
                        return fn(conn)
            except (psycopg.OperationalError, _pool_timeout()) as exc:
                if time.monotonic() + delay > deadline:
                    raise JournalError(
                        f"cannot reach the journal at {self.location}: {_one_line(exc)}"
                    ) from exc
                logger.info("journal unreachable (%s); trying again", _one_line(exc))
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
            except psycopg.Error as exc:
                raise JournalError(
                    f"the journal at {self.location} refused the request: {_one_line(exc)}"
                ) from exc

    def now(self) -> float:
        """The journal's clock (wall seconds): what its timestamps are written with."""
        return self._clock()

    # ------------------------------------------------------------------ writes

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
        """Record a job about to be queued (status QUEUING). Call it BEFORE sending the queue.

        `api_id` and `overwrite` are kept as `Journal.record_intent` keeps them.

        Raises:
            JournalError: `key` is already in the journal, or the write failed.
        """
        now = self._clock()
        row = {
            "key": key,
            "model": model,
            "status": "QUEUING",
            "base_url": clean_url(base_url),
            "request": dump_json(digest_data_urls(scrub(request)), "request"),
            "quote_usd": quote_usd,
            "output_path": output_path,
            "created_at": now,
            "updated_at": now,
            "tags": dump_json(scrub(dict(tags or {})), "tags"),
            "api_id": api_id,
            "overwrite": bool(overwrite),
        }
        attempts = 0

        def write(conn: psycopg.Connection[Any]) -> JournalEntry:
            nonlocal attempts
            attempts += 1
            return self.insert_entry(conn, row, retried=attempts > 1)

        return self.run(write)

    def insert_entry(
        self, conn: psycopg.Connection[Any], row: Mapping[str, Any], *, retried: bool = False
    ) -> JournalEntry:
        """Insert an encoded row inside the caller's transaction. When `retried`, an identical
        row already there is our own commit, seen again after a dropped connection."""
        columns = ", ".join(row)
        marks = ", ".join("%s" for _ in row)
        inserted = conn.execute(
            f"INSERT INTO jobs ({columns}) VALUES ({marks}) ON CONFLICT (key) DO NOTHING "
            f"RETURNING {', '.join(JOB_COLUMNS)}",
            tuple(row.values()),
        ).fetchone()
        if inserted is not None:
            return _entry(inserted)
        existing = conn.execute(f"{_SELECT} WHERE key = %s", (row["key"],)).fetchone()
        if existing is not None and retried:
            values = dict(zip(JOB_COLUMNS, existing, strict=True))
            if values["created_at"] == row["created_at"] and values["request"] == row["request"]:
                return _entry(existing)
        raise JournalError(f"journal entry {row['key']} already exists")

    def update_existing(self, key: str, **fields: Any) -> JournalEntry | None:
        """`update()`, or `None` (nothing written) when no entry has this key."""
        return self._update(key, fields, durable=True)

    def note(self, key: str, **fields: Any) -> JournalEntry | None:
        """`update_existing()` committed with `synchronous_commit` off: see `JournalStore.note`."""
        return self._update(key, fields, durable=False)

    def _update(self, key: str, fields: Mapping[str, Any], *, durable: bool) -> JournalEntry | None:
        assignments, params = set_clause(fields, self._clock(), "%s")
        sql = f"UPDATE jobs SET {assignments} WHERE key = %s RETURNING {', '.join(JOB_COLUMNS)}"

        def write(conn: psycopg.Connection[Any]) -> JournalEntry | None:
            if not durable:
                conn.execute("SET LOCAL synchronous_commit = off")
            row = conn.execute(sql, (*params, key)).fetchone()
            return _entry(row) if row is not None else None

        return self.run(write)

    def delete(self, key: str) -> None:
        """Remove one entry. Removing a key that is not there does nothing."""
        self.run(lambda conn: conn.execute("DELETE FROM jobs WHERE key = %s", (key,)))

    def clean(
        self,
        *,
        statuses: Iterable[str] = ("COMPLETED", "FAILED", "CANCELLED"),
        older_than_s: float | None = None,
    ) -> int:
        """Delete entries in `statuses` not updated for `older_than_s` seconds; return how many.

        The default touches only finished jobs, never a job a live worker holds, and never a
        job whose file a held job still waits for (a chained shot's first frame).
        """
        wanted = check_statuses(statuses)
        if not wanted:
            return 0
        sql = "DELETE FROM jobs WHERE status = ANY(%s)"
        params: list[Any] = [wanted]
        if older_than_s is not None:
            sql += " AND updated_at < %s"
            params.append(self._clock() - older_than_s)
        sql += " AND (lease_until IS NULL OR lease_until < clock_timestamp())"
        sql += (
            " AND NOT EXISTS (SELECT 1 FROM job_holds h"
            " WHERE h.after_key = jobs.key AND h.released_at IS NULL)"
        )
        return self.run(lambda conn: conn.execute(sql, params).rowcount)

    # ------------------------------------------------------------------ reads

    def get(self, key: str) -> JournalEntry | None:
        """The entry with exactly this key, or `None`."""
        rows = self._read(f"{_SELECT} WHERE key = %s", (key,))
        return _entry(rows[0]) if rows else None

    def find(self, id_or_key: str) -> JournalEntry | None:
        """The entry whose `queue_id` or key is `id_or_key`, or starts with it; else `None`.

        Raises:
            JournalError: the prefix matches more than one entry (the message lists them).
        """
        needle = id_or_key.strip()
        if not needle:
            return None
        rows = self._read(
            f"{_SELECT} WHERE key = %s OR queue_id = %s {_NEWEST_FIRST}", (needle, needle)
        )
        if rows:
            by_key = [r for r in rows if r[0] == needle]
            return _entry((by_key or rows)[0])
        n = len(needle)
        rows = self._read(
            f"{_SELECT} WHERE left(key, %s) = %s OR left(queue_id, %s) = %s "
            f"{_NEWEST_FIRST} LIMIT 6",
            (n, needle, n, needle),
        )
        if not rows:
            return None
        if len(rows) > 1:
            shown = ", ".join(str(r[5] or r[0]) for r in rows[:5])
            more = ", ..." if len(rows) > 5 else ""
            raise JournalError(
                f"{needle!r} matches more than one job ({shown}{more}); give more characters"
            )
        return _entry(rows[0])

    def list(
        self,
        *,
        statuses: Iterable[str] | None = None,
        unfinished: bool = False,
        tag: tuple[str, Any] | None = None,
        limit: int | None = None,
    ) -> builtins.list[JournalEntry]:
        """Entries, newest first (see `Journal.list`)."""
        clauses: builtins.list[str] = []
        params: builtins.list[Any] = []
        if statuses is not None:
            wanted = check_statuses(statuses)
            if not wanted:
                return []
            clauses.append("status = ANY(%s)")
            params.append(wanted)
        if unfinished:
            clauses.append("NOT (status = ANY(%s))")
            params.append(sorted(TERMINAL_STATUSES))
        _narrow_to_tag(tag, clauses, params)
        sql = _SELECT
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += f" {_NEWEST_FIRST}"
        if limit is not None and tag is None:
            sql += " LIMIT %s"
            params.append(max(0, limit))
        entries = [_entry(row) for row in self._read(sql, params)]
        if tag is not None:
            entries = [e for e in entries if has_tag(e.tags, tag)]
            if limit is not None:
                entries = entries[: max(0, limit)]
        return entries

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
        """The sum of `quote_usd` over jobs the server accepted (see `Journal.total_spent`)."""
        clauses = [
            "queue_id IS NOT NULL",
            "quote_usd IS NOT NULL",
            "NOT (status = ANY(%s))",
        ]
        params: builtins.list[Any] = [["QUOTED", "CANCELLED"]]
        if statuses is not None:
            wanted = check_statuses(statuses)
            if not wanted:
                return 0.0
            clauses.append("status = ANY(%s)")
            params.append(wanted)
        if since is not None:
            clauses.append("created_at >= %s")
            params.append(since)
        if until is not None:
            clauses.append("created_at < %s")
            params.append(until)
        if model is not None:
            clauses.append("model = %s")
            params.append(model)
        _narrow_to_tag(tag, clauses, params)
        rows = self._read(
            f"SELECT quote_usd, tags, api_id FROM jobs WHERE {' AND '.join(clauses)}", params
        )
        amounts: builtins.list[float] = []
        for quote, tags_json, api_id in rows:
            if local is not None and is_local_engine_api(api_id) != local:
                continue
            if tag is not None and not has_tag(load_json(tags_json), tag):
                continue
            amounts.append(float(quote))
        return round(math.fsum(amounts), 6)

    # ------------------------------------------------------------------ lifetime

    def close(self) -> None:
        """Close the pool. Later calls raise `JournalError`."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None and self._pid == os.getpid():
            pool.close()

    def __enter__(self) -> PostgresJournal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PostgresJournal({self.location!r})"

    def _read(self, sql: str, params: Iterable[Any] = ()) -> builtins.list[tuple[Any, ...]]:
        return self.run(lambda conn: conn.execute(sql, tuple(params)).fetchall(), tx=False)


def _narrow_to_tag(
    tag: tuple[str, Any] | None, clauses: builtins.list[str], params: builtins.list[Any]
) -> None:
    """Leave out in SQL the rows whose tag cannot match, so only the others are decoded."""
    text = tag_text(tag)
    if text is not None and tag is not None:
        clauses.append("(tags::jsonb ->> %s) = %s")
        params.extend([tag[0], text])


def _pool_timeout() -> type[Exception]:
    from psycopg_pool import PoolTimeout

    return PoolTimeout


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _entry(row: tuple[Any, ...] | Any) -> JournalEntry:
    values = dict(zip(JOB_COLUMNS, row, strict=True))
    values["request"] = load_json(values["request"])
    values["tags"] = load_json(values["tags"])
    values["status"] = cast(JobStatus, values["status"])
    values["overwrite"] = bool(values["overwrite"])
    return JournalEntry(**values)
