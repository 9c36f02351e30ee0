"""The job journal: a durable record of every job, so no paid job is ever lost.

```python
from venice_video.journal import open_journal

with open_journal() as journal:  # SQLite by default; a postgresql:// URL for a shared one
    for entry in journal.unfinished():
        print(entry.key, entry.status, entry.queue_id)
```

See `docs/journal.md` for where it lives, what it stores, and what each status means, and
`docs/teams.md` for the shared PostgreSQL journal: `PostgresJournal`, and `copy_journal()`,
which copies a machine's journal into it (both are loaded on first use).
"""

from typing import TYPE_CHECKING, Any

from .._exceptions import JournalError
from ._base import JournalStore
from ._factory import is_database_url, open_journal
from ._store import ENV_JOURNAL_PATH, Journal, JournalEntry, default_journal_path, spent

if TYPE_CHECKING:
    from ._migrate import MigrationReport, copy_journal
    from ._postgres import PostgresJournal

__all__ = [
    "ENV_JOURNAL_PATH",
    "Journal",
    "JournalEntry",
    "JournalError",
    "JournalStore",
    "MigrationReport",
    "PostgresJournal",
    "copy_journal",
    "default_journal_path",
    "is_database_url",
    "open_journal",
    "spent",
]

for _name in ("Journal", "JournalEntry", "JournalStore"):
    globals()[_name].__module__ = __name__
del _name


def __getattr__(name: str) -> Any:
    # Loaded on first use: the PostgreSQL journal (and with it psycopg), and the copy into one.
    if name == "PostgresJournal":
        from ._postgres import PostgresJournal

        return PostgresJournal
    if name in ("MigrationReport", "copy_journal"):
        from . import _migrate

        return getattr(_migrate, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
