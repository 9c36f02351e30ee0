"""The SQLite job journal: one row per job, written before money is spent and kept until cleaned.

Durability and sharing:

- WAL mode and `synchronous=FULL`: a write that returned is on disk, and a crash (even a
  `SIGKILL` or power loss mid-write) leaves the last committed state.
- Every write is one short `BEGIN IMMEDIATE` transaction, so writers queue on the database lock
  instead of failing halfway, and a busy timeout lets several processes (a CLI batch, a resume in
  another terminal, the MCP server) share one file.
- One connection per `Journal`, guarded by a lock, so a `Journal` can be shared by threads.
  A child process made by `fork()` opens its own connection instead of reusing the parent's.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import contextlib
import hashlib
import json
import math
import os
import re
import sqlite3
import stat
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final, cast

from .._config import is_local_engine_api
from .._exceptions import JournalError
from .._types import JOB_STATUSES, TERMINAL_STATUSES, JobStatus
from .._urls import clean_url
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

# Data URLs up to this many characters are kept verbatim; they cost nothing to store.
_DATA_URL_INLINE_LIMIT: Final[int] = 1024
# Error texts can be whole HTML pages; the journal only needs enough to say what happened.
_MAX_ERROR_CHARS: Final[int] = 4000

_SECRET_KEYS: Final[frozenset[str]] = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "api_key",
        "apikey",
        "api-key",
        "x-api-key",
        "venice_api_key",
        "password",
        "secret",
        "token",
        "access_token",
    }
)
_BEARER: Final[re.Pattern[str]] = re.compile(r"(?i)\b(bearer)\s+[^\s'\",;]+")
_MIME: Final[re.Pattern[str]] = re.compile(r"^[\w.+-]+/[\w.+-]+$")
_REDACTED: Final[str] = "[redacted]"

_UPDATABLE: Final[frozenset[str]] = frozenset(JOB_COLUMNS) - {"key"}
# Entering one of these statuses stamps its time, unless the caller gave one.
_STATUS_STAMPS: Final[Mapping[str, str]] = {
    "QUEUED": "queued_at",
    "READY": "ready_at",
    "DOWNLOADED": "downloaded_at",
    "COMPLETED": "completed_at",
}


_SELECT: Final[str] = f"SELECT {', '.join(JOB_COLUMNS)} FROM jobs"
_NEWEST_FIRST: Final[str] = "ORDER BY created_at DESC, rowid DESC"


def default_journal_path() -> Path:
    """`$VENICE_VIDEO_JOURNAL` if set, else `journal.sqlite3` in the user's state directory."""
    override = os.environ.get(ENV_JOURNAL_PATH)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_state_dir("venice-video")) / "journal.sqlite3"


class Journal:
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
        self.path = Path(path).expanduser() if path is not None else default_journal_path()
        self._clock = clock
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self._closed = False
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
            "request": _dump_json(digest_data_urls(_scrub(request)), "request"),
            "quote_usd": quote_usd,
            "output_path": output_path,
            "created_at": now,
            "updated_at": now,
            "tags": _dump_json(_scrub(dict(tags or {})), "tags"),
            "api_id": api_id,
            "overwrite": int(overwrite),
        }
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self._write() as conn:
            try:
                conn.execute(f"INSERT INTO jobs ({columns}) VALUES ({marks})", tuple(row.values()))
            except sqlite3.IntegrityError as exc:
                raise JournalError(f"journal entry {key} already exists") from exc
            return self._fetch(conn, key)

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
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise TypeError(f"Journal.update() got unknown field(s): {', '.join(sorted(unknown))}")
        now = self._clock()
        values: dict[str, Any] = {k: _encode_field(k, v) for k, v in fields.items()}
        values.setdefault("updated_at", now)
        assignments = [f"{name} = ?" for name in values]
        params: list[Any] = list(values.values())
        status = fields.get("status")
        if status is not None:
            stamp = _STATUS_STAMPS.get(status)
            if stamp is not None and stamp not in fields:
                assignments.append(f"{stamp} = COALESCE({stamp}, ?)")
                params.append(now)
        with self._write() as conn:
            cursor = conn.execute(
                f"UPDATE jobs SET {', '.join(assignments)} WHERE key = ?", (*params, key)
            )
            if cursor.rowcount == 0:
                raise JournalError(f"no journal entry with key {key}")
            return self._fetch(conn, key)

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
        wanted = _check_statuses(statuses)
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
            wanted = _check_statuses(statuses)
            if not wanted:
                return []
            clauses.append(f"status IN ({', '.join('?' for _ in wanted)})")
            params.extend(wanted)
        if unfinished:
            clauses.append(f"status NOT IN ({', '.join('?' for _ in TERMINAL_STATUSES)})")
            params.extend(sorted(TERMINAL_STATUSES))
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
            name, value = tag
            entries = [e for e in entries if name in e.tags and e.tags[name] == value]
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
            wanted = _check_statuses(statuses)
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
        rows = self._read(
            f"SELECT quote_usd, tags, api_id FROM jobs WHERE {' AND '.join(clauses)}", params
        )
        amounts: builtins.list[float] = []
        for quote, tags_json, api_id in rows:
            if local is not None and is_local_engine_api(api_id) != local:
                continue
            if tag is not None:
                tags = _load_json(tags_json)
                if tag[0] not in tags or tags[tag[0]] != tag[1]:
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

    # ------------------------------------------------------------------ internals

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
            mode = str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
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

    def _read(self, sql: str, params: Iterable[Any] = ()) -> builtins.list[tuple[Any, ...]]:
        with self._lock:
            conn = self._connection()
            try:
                return conn.execute(sql, tuple(params)).fetchall()
            except sqlite3.Error as exc:
                raise JournalError(f"cannot read the journal at {self.path}: {exc}") from exc

    @staticmethod
    def _fetch(conn: sqlite3.Connection, key: str) -> JournalEntry:
        row = conn.execute(f"{_SELECT} WHERE key = ?", (key,)).fetchone()
        if row is None:  # pragma: no cover - the caller just wrote it in this transaction
            raise JournalError(f"no journal entry with key {key}")
        return _entry(row)


# ---------------------------------------------------------------------- helpers


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


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


def _check_statuses(statuses: Iterable[str]) -> builtins.list[str]:
    # A lone string is one status, not an iterable of one-letter ones.
    wanted = sorted({statuses} if isinstance(statuses, str) else set(statuses))
    bad = [s for s in wanted if s not in JOB_STATUSES]
    if bad:
        raise JournalError(
            f"unknown job status {', '.join(map(repr, bad))}; known: {', '.join(JOB_STATUSES)}"
        )
    return wanted


def _redact_text(text: str) -> str:
    text = _BEARER.sub(rf"\1 {_REDACTED}", text)
    for name in ("VENICE_API_KEY", "VENICE_VIDEO_API_KEY"):
        secret = os.environ.get(name, "")
        if len(secret) >= 8 and secret in text:
            text = text.replace(secret, _REDACTED)
    return text


def _scrub(value: Any) -> Any:
    """A copy of `value` with secret-looking keys and bearer tokens replaced."""
    if isinstance(value, str):
        return _redact_text(value)
    if isinstance(value, Mapping):
        return {
            str(k): (_REDACTED if str(k).lower() in _SECRET_KEYS else _scrub(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def digest_data_urls(value: Any, *, inline_limit: int = _DATA_URL_INLINE_LIMIT) -> Any:
    """A copy of `value` with every `data:` URL longer than `inline_limit` replaced.

    The placeholder is `data:<mime>;sha256=<hex>;bytes=<n>`, where the digest and size are of
    the decoded payload: enough to prove what was sent without keeping megabytes of base64.
    Placeholders are short, so digesting twice changes nothing.
    """
    if isinstance(value, str):
        # A real data URL has its comma within the media type header, near the start; a long
        # prompt that merely begins with "data:" does not.
        if len(value) > inline_limit and value[:5].lower() == "data:" and "," in value[:256]:
            return _digest_data_url(value)
        return value
    if isinstance(value, Mapping):
        return {str(k): digest_data_urls(v, inline_limit=inline_limit) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [digest_data_urls(v, inline_limit=inline_limit) for v in value]
    return value


def _digest_data_url(url: str) -> str:
    header, _, payload = url[5:].partition(",")
    params = header.split(";")
    mime = params[0].strip().lower() or "text/plain"
    if not _MIME.match(mime):
        mime = "application/octet-stream"
    data: bytes
    if any(p.strip().lower() == "base64" for p in params[1:]):
        try:
            data = base64.b64decode(payload)
        except (binascii.Error, ValueError):
            data = payload.encode("utf-8", "surrogatepass")
    else:
        data = urllib.parse.unquote_to_bytes(payload)
    return f"data:{mime};sha256={hashlib.sha256(data).hexdigest()};bytes={len(data)}"


def _dump_json(value: Any, what: str) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise JournalError(f"the {what} cannot be stored as JSON: {exc}") from exc


def _load_json(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    loaded = json.loads(text)
    return loaded if isinstance(loaded, dict) else {}


def _encode_field(name: str, value: Any) -> Any:
    if name == "status":
        if value not in JOB_STATUSES:
            raise JournalError(f"unknown job status {value!r}; known: {', '.join(JOB_STATUSES)}")
        return value
    if name == "request":
        return _dump_json(digest_data_urls(_scrub(dict(value))), "request")
    if name == "tags":
        return _dump_json(_scrub(dict(value or {})), "tags")
    if name == "base_url":
        return clean_url(str(value))
    if name == "error" and value is not None:
        return _redact_text(str(value))[:_MAX_ERROR_CHARS]
    if name == "output_path" and value is not None:
        return os.fspath(value)
    return value


def _entry(row: tuple[Any, ...]) -> JournalEntry:
    values = dict(zip(JOB_COLUMNS, row, strict=True))
    values["request"] = _load_json(values["request"])
    values["tags"] = _load_json(values["tags"])
    values["status"] = cast(JobStatus, values["status"])
    values["overwrite"] = bool(values["overwrite"])
    return JournalEntry(**values)
