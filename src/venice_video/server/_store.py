"""SQLite persistence for accounts, jobs and idempotency records.

The server keeps its hot state in memory and writes every change through to this store, so
polling never reads the database while a restart on the same data directory loses nothing.
One connection is used, from the event loop thread only.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["AccountRow", "IdempotencyRow", "Store"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
    key_hash TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    balance_micro INTEGER NOT NULL,
    created_wall REAL NOT NULL,
    queue_requests INTEGER NOT NULL DEFAULT 0,
    queue_replays INTEGER NOT NULL DEFAULT 0,
    jobs_created INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS jobs (
    queue_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    account TEXT NOT NULL,
    key TEXT NOT NULL,
    body_hash TEXT NOT NULL,
    status INTEGER NOT NULL,
    response TEXT NOT NULL,
    queue_id TEXT,
    created_wall REAL NOT NULL,
    requests INTEGER NOT NULL DEFAULT 1,
    jobs_created INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account, key)
);
"""


@dataclass
class AccountRow:
    key_hash: str
    name: str
    balance_micro: int
    created_wall: float
    queue_requests: int = 0
    queue_replays: int = 0
    jobs_created: int = 0


@dataclass
class IdempotencyRow:
    account: str
    key: str
    body_hash: str
    status: int
    response: dict[str, Any]
    queue_id: str | None
    created_wall: float
    requests: int
    jobs_created: int


class Store:
    """The server's SQLite file (`server.sqlite3`)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # The loop thread is the only user, but the connection is opened on whichever thread
        # starts the app.
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Make every write inside the block commit together, or not at all.

        The block must not await: the connection is shared by every request on the loop.
        """
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # --- meta ----------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def secret(self) -> bytes:
        """The HMAC key for download tokens, made once per data directory."""
        value = self.meta("token_secret")
        if value is None:
            value = secrets.token_hex(32)
            self.set_meta("token_secret", value)
        return bytes.fromhex(value)

    # --- accounts --------------------------------------------------------------------------

    def accounts(self) -> Iterator[AccountRow]:
        for row in self._db.execute(
            "SELECT key_hash, name, balance_micro, created_wall, queue_requests, queue_replays,"
            " jobs_created FROM accounts"
        ):
            yield AccountRow(*row)

    def insert_account(self, account: AccountRow) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO accounts (key_hash, name, balance_micro, created_wall)"
            " VALUES (?, ?, ?, ?)",
            (account.key_hash, account.name, account.balance_micro, account.created_wall),
        )

    def save_account(self, account: AccountRow) -> None:
        self._db.execute(
            "UPDATE accounts SET name = ?, balance_micro = ?, queue_requests = ?,"
            " queue_replays = ?, jobs_created = ? WHERE key_hash = ?",
            (
                account.name,
                account.balance_micro,
                account.queue_requests,
                account.queue_replays,
                account.jobs_created,
                account.key_hash,
            ),
        )

    # --- jobs ------------------------------------------------------------------------------

    def jobs(self) -> Iterator[dict[str, Any]]:
        for (data,) in self._db.execute("SELECT data FROM jobs ORDER BY seq"):
            yield json.loads(data)

    def job_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])

    def save_job(self, queue_id: str, seq: int, data: Mapping[str, Any]) -> None:
        self._db.execute(
            "INSERT INTO jobs (queue_id, seq, data) VALUES (?, ?, ?) "
            "ON CONFLICT(queue_id) DO UPDATE SET data = excluded.data",
            (queue_id, seq, json.dumps(data, separators=(",", ":"))),
        )

    # --- idempotency -----------------------------------------------------------------------

    def idempotency(self, account: str, key: str) -> IdempotencyRow | None:
        row = self._db.execute(
            "SELECT account, key, body_hash, status, response, queue_id, created_wall, requests,"
            " jobs_created FROM idempotency WHERE account = ? AND key = ?",
            (account, key),
        ).fetchone()
        if row is None:
            return None
        values = list(row)
        values[4] = json.loads(values[4])
        return IdempotencyRow(*values)

    def idempotency_rows(self, account: str) -> list[IdempotencyRow]:
        rows = self._db.execute(
            "SELECT account, key, body_hash, status, response, queue_id, created_wall, requests,"
            " jobs_created FROM idempotency WHERE account = ? ORDER BY created_wall",
            (account,),
        ).fetchall()
        result = []
        for row in rows:
            values = list(row)
            values[4] = json.loads(values[4])
            result.append(IdempotencyRow(*values))
        return result

    def save_idempotency(self, row: IdempotencyRow) -> None:
        self._db.execute(
            "INSERT INTO idempotency (account, key, body_hash, status, response, queue_id,"
            " created_wall, requests, jobs_created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(account, key) DO UPDATE SET requests = excluded.requests,"
            " jobs_created = excluded.jobs_created",
            (
                row.account,
                row.key,
                row.body_hash,
                row.status,
                json.dumps(row.response, separators=(",", ":")),
                row.queue_id,
                row.created_wall,
                row.requests,
                row.jobs_created,
            ),
        )
