"""The SQLite job journal: one row per job, written before money is spent and kept until cleaned.

Durability and sharing:

- WAL mode and `synchronous=FULL`: a write that returned is on disk, and a crash (even a
  `SIGKILL` or power loss mid-write) leaves the last committed state. `note()`, for progress
  that a lost write only makes someone redo (PROCESSING, READY, COMPLETED), commits with
  `synchronous=NORMAL`: no sync of its own, on disk with the next write that syncs (WAL
  frames are synced in order) or the next checkpoint; only a power cut can lose it.
- Every write is one short transaction that takes the database lock at its start (`BEGIN
  IMMEDIATE`, or a single statement, which SQLite runs as one such transaction), so writers
  queue on the lock instead of failing halfway, and a busy timeout lets several processes (a
  CLI batch, a resume in another terminal, the MCP server) share one file. An entry's write
  returns the entry as written in the same statement (`RETURNING`, SQLite 3.35 and later).
- One connection per `Journal`, guarded by a lock, so a `Journal` can be shared by threads.
  A child process made by `fork()` opens its own connection instead of reusing the parent's.
"""

from __future__ import annotations

import builtins
import contextlib
import math
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final, cast

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
    is_url,
    load_json,
    scrub,
    set_clause,
    tag_text,
)
from ._entry import JournalEntry, spent
from ._schema import JOB_COLUMNS, migrate

__all__ = [
    "ENV_JOURNAL_PATH",
    "Journal",
    "JournalEntry",
    "default_journal_path",
    "digest_data_urls",
    "spent",
]

#: Environment variable that overrides the default journal location.
ENV_JOURNAL_PATH: Final[str] = "VENICE_VIDEO_JOURNAL"

#: How long a write waits for another process to release the database lock.
BUSY_TIMEOUT_S: Final[float] = 30.0

_SELECT: Final[str] = f"SELECT {', '.join(JOB_COLUMNS)} FROM jobs"
#: SQLite 3.35 and later hand back the row a write made in the same statement: one
#: statement, one transaction, where older ones take a BEGIN, a SELECT and a COMMIT more.
_RETURNING: Final[bool] = sqlite3.sqlite_version_info >= (3, 35, 0)
_RETURN_ROW: Final[str] = f" RETURNING {', '.join(JOB_COLUMNS)}"
_NEWEST_FIRST: Final[str] = "ORDER BY created_at DESC, rowid DESC"


def default_journal_path() -> Path:
    """`$VENICE_VIDEO_JOURNAL` if set, else `journal.sqlite3` in the user's state directory."""
    override = os.environ.get(ENV_JOURNAL_PATH)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_state_dir("venice-video")) / "journal.sqlite3"


class Journal(JournalStore):
    """A durable record of every job, shared safely by threads and processes.

    ```python
    with Journal() as journal:
        entry = journal.record_intent(key=key, model=model, base_url=url, request=body,
                                      quote_usd=0.35, output_path="out.mp4")
        ...  # send the queue request with Idempotency-Key: key
        journal.record_queued(key, queue_id=queue_id, download_url=None)
        journal.update(key, status="DOWNLOADED", size_bytes=n, sha256=digest)
    ```

    The journal is synchronous. From async code call it through
    `anyio.to_thread.run_sync(journal.update, key, ...)` (or `functools.partial` for keywords).

    Args:
        path: the database file. Defaults to `$VENICE_VIDEO_JOURNAL`, else
            `journal.sqlite3` in `platformdirs.user_state_dir("venice-video")`.
        clock: the wall clock for timestamps; tests inject a fake one.

    Raises:
        JournalError: the file cannot be created or opened, or was written by a newer release.
    """

    path: Path

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        is_default = path is None and not os.environ.get(ENV_JOURNAL_PATH)
        if is_url(os.fspath(path) if path is not None else os.environ.get(ENV_JOURNAL_PATH)):
            raise JournalError(
                "a database URL is not a SQLite file: open it with "
                "venice_video.journal.open_journal(url)"
            )
        self.path = Path(path).expanduser() if path is not None else default_journal_path()
        self._clock = clock
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self._closed = False
        self._json: bool | None = None  # whether this SQLite has its JSON functions
        try:
            _prepare_file(self.path, own_parent=is_default)
        except OSError as exc:
            raise JournalError(f"cannot create the journal at {self.path}: {exc}") from exc
        with self._lock:
            self._connection()

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

        `api_id` names the API the job belongs to when its URL may change (the local engine);
        by default the cleaned `base_url` does. `overwrite` records that the job may replace
        a file already at `output_path`, so whoever finishes it may too.

        When this returns, the entry is on disk: if the process dies while the queue request is
        in flight, a later resume finds the key and can ask the server instead of paying twice.

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
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        written = self._write_row(
            f"INSERT INTO jobs ({columns}) VALUES ({marks})", tuple(row.values()), key
        )
        if written is None:  # pragma: no cover - an INSERT that returned writes its row
            raise JournalError(f"no journal entry with key {key}")
        return _entry(written)

    def record_queued(self, key: str, *, queue_id: str, download_url: str | None) -> JournalEntry:
        """Record the server's `queue_id` (status QUEUED). Call it the moment one exists."""
        return self.update(key, status="QUEUED", queue_id=queue_id, download_url=download_url)

    def update_existing(self, key: str, **fields: Any) -> JournalEntry | None:
        """`update()`, or `None` (nothing written) when no entry has this key."""
        assignments, params = set_clause(fields, self._clock(), "?")
        written = self._write_row(
            f"UPDATE jobs SET {assignments} WHERE key = ?", (*params, key), key
        )
        return _entry(written) if written is not None else None

    def note(self, key: str, **fields: Any) -> JournalEntry | None:
        """`update_existing()` without waiting for the disk: see `JournalStore.note`."""
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("PRAGMA synchronous = NORMAL")
            except sqlite3.Error as exc:
                raise JournalError(f"cannot write the journal at {self.path}: {exc}") from exc
            try:
                return self.update_existing(key, **fields)
            finally:
                try:
                    conn.execute("PRAGMA synchronous = FULL")
                except sqlite3.Error:
                    # Never keep a connection that does not sync: the next call opens one.
                    self._conn = None
                    with contextlib.suppress(sqlite3.Error):
                        conn.close()

    def delete(self, key: str) -> None:
        """Remove one entry. Removing a key that is not there does nothing."""
        with self._write() as conn:
            conn.execute("DELETE FROM jobs WHERE key = ?", (key,))

    def clean(
        self,
        *,
        statuses: Iterable[str] = ("COMPLETED", "FAILED", "CANCELLED"),
        older_than_s: float | None = None,
    ) -> int:
        """Delete entries in `statuses` not updated for `older_than_s` seconds; return how many.

        The default touches only finished jobs. Naming an unfinished status deletes the record
        that a job may still be running, and charged, on the server; do that only on purpose.
        """
        wanted = check_statuses(statuses)
        if not wanted:
            return 0
        sql = f"DELETE FROM jobs WHERE status IN ({', '.join('?' for _ in wanted)})"
        params: list[Any] = list(wanted)
        if older_than_s is not None:
            sql += " AND updated_at < ?"
            params.append(self._clock() - older_than_s)
        with self._write() as conn:
            return conn.execute(sql, params).rowcount

    # ------------------------------------------------------------------ reads

    def get(self, key: str) -> JournalEntry | None:
        """The entry with exactly this key, or `None`."""
        rows = self._read(f"{_SELECT} WHERE key = ?", (key,))
        return _entry(rows[0]) if rows else None

    def find(self, id_or_key: str) -> JournalEntry | None:
        """The entry whose `queue_id` or key is `id_or_key`, or starts with it; else `None`.

        An exact match wins over a prefix match, so a full id is never ambiguous.

        Raises:
            JournalError: the prefix matches more than one entry (the message lists them).
        """
        needle = id_or_key.strip()
        if not needle:
            return None
        rows = self._read(
            f"{_SELECT} WHERE key = ? OR queue_id = ? {_NEWEST_FIRST}", (needle, needle)
        )
        if rows:
            by_key = [r for r in rows if r[0] == needle]
            return _entry((by_key or rows)[0])
        n = len(needle)
        rows = self._read(
            f"{_SELECT} WHERE substr(key, 1, ?) = ? OR substr(queue_id, 1, ?) = ? "
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
        """Entries, newest first.

        Args:
            statuses: only these statuses.
            unfinished: only entries not COMPLETED, FAILED or CANCELLED.
            tag: only entries whose `tags[name] == value`, given as `(name, value)`.
            limit: at most this many.
        """
        clauses: builtins.list[str] = []
        params: builtins.list[Any] = []
        if statuses is not None:
            wanted = check_statuses(statuses)
            if not wanted:
                return []
            clauses.append(f"status IN ({', '.join('?' for _ in wanted)})")
            params.extend(wanted)
        if unfinished:
            clauses.append(f"status NOT IN ({', '.join('?' for _ in TERMINAL_STATUSES)})")
            params.extend(sorted(TERMINAL_STATUSES))
        self._narrow_to_tag(tag, clauses, params)
        sql = _SELECT
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += f" {_NEWEST_FIRST}"
        # Tags are JSON; matching them in Python keeps `==` exact for every JSON type.
        if limit is not None and tag is None:
            sql += " LIMIT ?"
            params.append(max(0, limit))
        entries = [_entry(row) for row in self._read(sql, params)]
        if tag is not None:
            entries = [e for e in entries if has_tag(e.tags, tag)]
            if limit is not None:
                entries = entries[: max(0, limit)]
        return entries

    def unfinished(self) -> builtins.list[JournalEntry]:
        """Entries not COMPLETED, FAILED or CANCELLED, newest first: what `resume` looks at."""
        return self.list(unfinished=True)

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

        A job counts once it has a `queue_id`, whatever happened next (a FAILED job may or may
        not have been refunded; the journal cannot know). Jobs never queued (QUOTED, QUEUING,
        CANCELLED, and UNKNOWN without a `queue_id`) cost nothing that the journal can prove.
        Jobs of the embedded local engine are priced but cost no money: they are left out
        unless asked for.

        Args:
            statuses: only jobs now in these statuses.
            since: only jobs created at or after this time (`time.time()` scale).
            until: only jobs created before this time.
            model: only jobs for this model.
            tag: only jobs whose `tags[name] == value`.
            local: `False` (the default): only real spending, no local-engine jobs; `True`:
                only local-engine jobs; `None`: both.
        """
        clauses = ["queue_id IS NOT NULL", "quote_usd IS NOT NULL", "status NOT IN (?, ?)"]
        params: builtins.list[Any] = ["QUOTED", "CANCELLED"]
        if statuses is not None:
            wanted = check_statuses(statuses)
            if not wanted:
                return 0.0
            clauses.append(f"status IN ({', '.join('?' for _ in wanted)})")
            params.extend(wanted)
        if since is not None:
            clauses.append("created_at >= ?")
            params.append(since)
        if until is not None:
            clauses.append("created_at < ?")
            params.append(until)
        if model is not None:
            clauses.append("model = ?")
            params.append(model)
        self._narrow_to_tag(tag, clauses, params)
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
        # fsum, then round to a millionth of a dollar, so ten 0.1 quotes add up to exactly 1.0.
        return round(math.fsum(amounts), 6)

    # ------------------------------------------------------------------ lifetime

    def close(self) -> None:
        """Close the database connection. Later calls raise `JournalError`."""
        with self._lock:
            self._closed = True
            conn, self._conn = self._conn, None
            if conn is not None and self._pid == os.getpid():
                conn.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"

    @property
    def location(self) -> str:
        """The database file's path."""
        return str(self.path)

    # ------------------------------------------------------------------ internals

    def _narrow_to_tag(
        self, tag: tuple[str, Any] | None, clauses: builtins.list[str], params: builtins.list[Any]
    ) -> None:
        """Leave out in SQL the rows whose tag cannot match, so only the others are decoded."""
        text = tag_text(tag)
        if text is None or tag is None or not self._has_json():
            return
        clauses.append("json_extract(tags, ?) = ?")
        params.extend([f'$."{tag[0]}"', text])

    def _has_json(self) -> bool:
        if self._json is None:
            try:
                self._read("SELECT json_extract('[1]', '$[0]')")
            except JournalError:
                self._json = False  # built without JSON: every row is matched in Python
            else:
                self._json = True
        return self._json

    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise JournalError("the journal is closed")
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        # After fork() the inherited connection belongs to the parent; closing it here could
        # disturb the parent's locks, so it is dropped and a new one opened.
        self._conn = None
        self._pid = os.getpid()
        try:
            conn = sqlite3.connect(
                str(self.path),
                timeout=BUSY_TIMEOUT_S,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise JournalError(f"cannot open the journal at {self.path}: {exc}") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000):d}")
            mode = _switch_to_wal(conn)
            if mode.lower() != "wal":
                raise JournalError(
                    f"the journal at {self.path} cannot use WAL mode (got {mode!r}); "
                    "put it on a local file system"
                )
            conn.execute("PRAGMA synchronous = FULL")
            migrate(conn, clock=self._clock)
        except sqlite3.Error as exc:
            conn.close()
            raise JournalError(f"cannot open the journal at {self.path}: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise JournalError(f"cannot write the journal at {self.path}: {exc}") from exc
            try:
                yield conn
            except sqlite3.Error as exc:
                _rollback(conn)
                raise JournalError(f"cannot write the journal at {self.path}: {exc}") from exc
            except BaseException:
                _rollback(conn)
                raise
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                _rollback(conn)
                raise JournalError(f"cannot write the journal at {self.path}: {exc}") from exc

    def _write_row(self, sql: str, params: tuple[Any, ...], key: str) -> tuple[Any, ...] | None:
        """Run one INSERT or UPDATE of the entry `key` as one transaction, durable when this
        returns; the row as written, or `None` when the UPDATE matched none."""
        with self._lock:
            conn = self._connection()
            try:
                if _RETURNING:
                    # One statement takes the write lock at its start, as BEGIN IMMEDIATE
                    # does, and commits once its row has been read.
                    rows = conn.execute(sql + _RETURN_ROW, params).fetchall()
                    return rows[0] if rows else None
                conn.execute("BEGIN IMMEDIATE")
                written = conn.execute(sql, params).rowcount
                row = conn.execute(f"{_SELECT} WHERE key = ?", (key,)).fetchone()
                conn.execute("COMMIT")
                return row if written else None
            except sqlite3.IntegrityError as exc:
                _rollback(conn)
                if sql.startswith("INSERT"):
                    raise JournalError(f"journal entry {key} already exists") from exc
                raise JournalError(f"cannot write the journal at {self.path}: {exc}") from exc
            except sqlite3.Error as exc:
                _rollback(conn)
                raise JournalError(f"cannot write the journal at {self.path}: {exc}") from exc
            except BaseException:
                _rollback(conn)
                raise

    def _read(self, sql: str, params: Iterable[Any] = ()) -> builtins.list[tuple[Any, ...]]:
        with self._lock:
            conn = self._connection()
            try:
                return conn.execute(sql, tuple(params)).fetchall()
            except sqlite3.Error as exc:
                raise JournalError(f"cannot read the journal at {self.path}: {exc}") from exc


# ---------------------------------------------------------------------- helpers


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def _switch_to_wal(
    conn: sqlite3.Connection,
    *,
    timeout: float = BUSY_TIMEOUT_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Set WAL mode and return the mode the file is in.

    Switching a new rollback-mode file needs its exclusive lock. When several connections switch
    it at once, each holds the shared lock it read the header under, so SQLite refuses all but
    one with `SQLITE_BUSY` at once (waiting could deadlock) instead of calling the busy handler.
    The refused ones hold nothing afterwards: each pauses and asks again, and usually finds the
    file already in WAL mode.
    """
    deadline = clock() + timeout
    pause = 0.002
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or clock() + pause > deadline:
                raise
        sleep(pause)
        pause = min(pause * 2, 0.1)


def _prepare_file(path: Path, *, own_parent: bool) -> None:
    """Create the directory (0700) and the file (0600) before SQLite ever touches them."""
    parent = path.parent
    if not parent.is_dir():
        parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        own_parent = True
    if own_parent:
        _tighten(parent, 0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    os.close(fd)
    # SQLite gives its -wal and -shm files the main file's mode, so fixing these fixes all.
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if candidate.exists():
            _tighten(candidate, 0o600)


def _tighten(path: Path, mode: int) -> None:
    # Only ever removes permissions, and only on files we own: never chmod someone else's /tmp.
    try:
        st = path.stat()
    except OSError:
        return
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        return
    if stat.S_IMODE(st.st_mode) & ~mode:
        with contextlib.suppress(OSError):
            os.chmod(path, stat.S_IMODE(st.st_mode) & mode)


def _entry(row: tuple[Any, ...]) -> JournalEntry:
    values = dict(zip(JOB_COLUMNS, row, strict=True))
    values["request"] = load_json(values["request"])
    values["tags"] = load_json(values["tags"])
    values["status"] = cast(JobStatus, values["status"])
    values["overwrite"] = bool(values["overwrite"])
    return JournalEntry(**values)
