"""One way in: `open_journal()` picks the backend from what it is given.

A `postgresql://` (or `postgres://`) URL opens the shared PostgreSQL journal; anything else is
a SQLite file. With nothing given, `$VENICE_VIDEO_JOURNAL` decides, and without it the SQLite
file in the user's state directory is used.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from ._base import JournalStore
from ._codec import is_url
from ._store import ENV_JOURNAL_PATH, Journal

__all__ = ["is_database_url", "open_journal"]


def is_database_url(value: str | os.PathLike[str] | None) -> bool:
    """True for a `postgresql://` or `postgres://` URL."""
    return value is not None and is_url(os.fspath(value))


def open_journal(
    target: str | os.PathLike[str] | JournalStore | None = None,
    *,
    clock: Callable[[], float] = time.time,
    **options: Any,
) -> JournalStore:
    """Open the journal at `target`: a PostgreSQL URL, a SQLite path, or `None` for the default.

    An already open journal is returned as it is. `options` go to `PostgresJournal` (pool size,
    schema, retry time) and are refused for a SQLite file.

    ```python
    journal = open_journal("postgresql://studio@db.internal/venice")
    journal = open_journal("~/jobs.sqlite3")
    journal = open_journal()  # $VENICE_VIDEO_JOURNAL, else the default SQLite file
    ```

    Raises:
        JournalError: the journal cannot be opened (or the [postgres] extra is missing).
    """
    if isinstance(target, JournalStore):
        return target
    chosen = target if target is not None else os.environ.get(ENV_JOURNAL_PATH) or None
    if is_database_url(chosen):
        from ._postgres import PostgresJournal

        assert chosen is not None
        return PostgresJournal(os.fspath(chosen), clock=clock, **options)
    if options:
        raise TypeError(f"a SQLite journal takes no {', '.join(sorted(options))}")
    return Journal(chosen, clock=clock)
