"""The job journal: a durable SQLite record of every job, so no paid job is ever lost.

```python
from venice_video.journal import Journal

with Journal() as journal:
    for entry in journal.unfinished():
        print(entry.key, entry.status, entry.queue_id)
```

See `docs/journal.md` for where it lives, what it stores, and what each status means.
"""

from .._exceptions import JournalError
from ._store import ENV_JOURNAL_PATH, Journal, JournalEntry, default_journal_path, spent

__all__ = [
    "ENV_JOURNAL_PATH",
    "Journal",
    "JournalEntry",
    "JournalError",
    "default_journal_path",
    "spent",
]

for _name in ("Journal", "JournalEntry"):
    globals()[_name].__module__ = __name__
del _name
