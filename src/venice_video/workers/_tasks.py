"""The procrastinate side: the app, its one task, and where its tables come from.

procrastinate hands the work out: a submission defers one `render` job per video (in the same
transaction as the journal entry and the budget reservation), and any worker's procrastinate
loop fetches it. Its `queueing_lock` is the journal key, so one video never has two jobs
waiting. Everything that must hold for money (the paid step, the lease, the ledger) is in the
journal: a procrastinate job only says "drive this key to its end", and the journal's lease
makes sure one worker at a time does, so running one twice is harmless.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import procrastinate

    from ..journal._postgres import PostgresJournal

__all__ = ["TASK_NAME", "ensure_queue_schema", "hand_out", "make_app", "queue_name"]

TASK_NAME: Final[str] = "venice_video.render"
#: Every version of procrastinate's schema this release applies: a newer procrastinate may
#: need its migrations run first (see docs/teams.md).
_COMPONENT: Final[str] = "procrastinate"


def queue_name(base_url: str) -> str:
    """The procrastinate queue of one API: workers take only jobs of the API they talk to."""
    from .._urls import clean_url

    digest = hashlib.sha256(clean_url(base_url).encode()).hexdigest()
    return f"venice-video-{digest[:12]}"


def hand_out(app: Any, conn: Any, key: str, *, base_url: str) -> bool:
    """Defer the job of the journal entry `key` for a worker, inside `conn`'s transaction (in
    a savepoint of its own); False when a hand-out of it waits already."""
    import procrastinate.exceptions

    try:
        with conn.transaction():
            app.tasks[TASK_NAME].configure(
                queueing_lock=key, queue=queue_name(base_url), connection=conn
            ).defer(key=key)
    except procrastinate.exceptions.AlreadyEnqueued:
        return False
    return True


def make_app(
    connector: Any,
    render: Callable[..., Awaitable[Any]] | None = None,
) -> procrastinate.App:
    """A procrastinate app with the `render` task: `render(context, key)`.

    A submitter passes no `render` (it only defers); a worker passes its coroutine.
    """
    import procrastinate

    app = procrastinate.App(connector=connector)

    async def _unset(context: procrastinate.JobContext, key: str) -> None:
        raise RuntimeError("this process submits work; it does not render")

    app.task(
        name=TASK_NAME,
        pass_context=True,
        # A task that raised (a dropped database, an API outage) is tried again later; what
        # it found in the journal tells the next try where to pick up.
        retry=procrastinate.RetryStrategy(max_attempts=30, wait=1, linear_wait=2),
    )(render or _unset)
    return app


def ensure_queue_schema(journal: PostgresJournal) -> None:
    """Create procrastinate's tables in the journal's schema, once per database."""
    import procrastinate
    from procrastinate.schema import SchemaManager

    version = getattr(procrastinate, "__version__", "?")

    def apply(conn: Any) -> None:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('venice_video.procrastinate'))")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_components ("
            " name TEXT PRIMARY KEY, version TEXT NOT NULL,"
            " applied_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())"
        )
        found = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()
        if found and found[0]:
            return
        # Statements without parameters are sent as they are.
        conn.execute(SchemaManager.get_schema().encode())
        conn.execute(
            "INSERT INTO schema_components (name, version) VALUES (%s, %s) "
            "ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version",
            (_COMPONENT, version),
        )

    journal.run(apply)
