"""The shared state of a team of workers, in the journal's PostgreSQL database.

- **Submissions**: a job priced by its submitter is recorded as QUOTED with its full queue body,
  its budget reservations and its procrastinate job, all in one transaction: either the job is
  there, reserved and handed out, or nothing happened.
- **Budgets**: one ledger row per (budget, job). A reservation locks the budget's row, so
  concurrent submitters queue on it and the sum of reservations and settlements never passes
  the limit. The journal's trigger settles a row when the job gets a `queue_id` and releases it
  when the job provably never will.
- **Leases**: a worker holds a job by writing its name and a lease (in the database's clock)
  on the journal entry, and renews it while it works. Another worker may take the job over
  only once the lease has lapsed.
- **Workers**: each running worker keeps a row with its heartbeat, for `venice-video workers`.
"""

from __future__ import annotations

import builtins
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from .._config import api_id_of
from .._exceptions import SpendLimitError
from .._urls import clean_url
from ..journal._codec import digest_data_urls, dump_json, scrub
from ._tasks import TASK_NAME, make_app, queue_name

if TYPE_CHECKING:
    import psycopg

    from ..journal._postgres import PostgresJournal

__all__ = [
    "BudgetExceededError",
    "BudgetStatus",
    "Fleet",
    "LeaseInfo",
    "Submitted",
    "WorkItem",
    "WorkerInfo",
]

MICRO: Final[int] = 1_000_000
#: The tag that marks a journal entry as work for the workers (and holds its file name).
DETACHED_TAG: Final[str] = "detached"
OUTPUT_TAG: Final[str] = "output"
_ACTIVE: Final[tuple[str, ...]] = (
    "QUOTED", "QUEUING", "QUEUED", "PROCESSING", "READY", "DOWNLOADED",
)  # fmt: skip


class BudgetExceededError(SpendLimitError):
    """A reservation would take a budget past its limit; nothing was submitted."""

    def __init__(self, budget: str, needed_usd: float, available_usd: float) -> None:
        self.budget = budget
        self.available_usd = available_usd
        super().__init__(needed_usd, available_usd, model=None)
        self.message = (
            f"budget {budget!r} has ${available_usd:.4f} left, the job needs ${needed_usd:.4f}; "
            "nothing was submitted"
        )
        self.args = (self.message,)

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class WorkItem:
    """One video to make: its key, its full queue body, its price and where its file goes.

    Attributes:
        key: the journal key and `Idempotency-Key` (stable, so a resubmission is a no-op).
        body: the `/video/queue` body, media already inlined.
        quote_usd: the price quoted for it; this much is reserved in each budget.
        output: the file name, relative to each worker's output folder.
        tags: free-form labels kept in the journal (batch, story, shot...).
        overwrite: the worker may replace a file already at `output` (journaled, so any
            worker that finishes the job may).
    """

    key: str
    body: Mapping[str, Any]
    quote_usd: float
    output: str
    tags: Mapping[str, Any] = field(default_factory=dict)
    overwrite: bool = False


@dataclass(frozen=True)
class Submitted:
    """What became of one `WorkItem`: `new` (reserved and handed out) or `exists`."""

    key: str
    state: str
    status: str


@dataclass(frozen=True)
class BudgetStatus:
    name: str
    limit_usd: float
    reserved_usd: float
    settled_usd: float

    @property
    def available_usd(self) -> float:
        return round(self.limit_usd - self.reserved_usd - self.settled_usd, 6)


@dataclass(frozen=True)
class WorkerInfo:
    name: str
    host: str
    pid: int
    concurrency: int
    base_url: str
    output_dir: str
    heartbeat_age_s: float
    live: bool
    held: int
    stopped: bool


@dataclass(frozen=True)
class LeaseInfo:
    key: str
    queue_id: str | None
    status: str
    worker: str
    expires_in_s: float


class Fleet:
    """The team's shared state, over a `PostgresJournal` (its pool and its retries)."""

    def __init__(self, journal: PostgresJournal) -> None:
        self.journal = journal
        self._app: Any = None

    # ------------------------------------------------------------------ budgets

    def set_budget(self, name: str, limit_usd: float) -> None:
        """Create a budget, or change its limit (lowering it never cancels what is reserved)."""
        if not name or not math.isfinite(limit_usd) or limit_usd < 0:
            raise ValueError("a budget needs a name and a limit of at least 0 USD")
        self.journal.run(
            lambda conn: conn.execute(
                "INSERT INTO budgets (name, limit_micro) VALUES (%s, %s) ON CONFLICT (name) "
                "DO UPDATE SET limit_micro = EXCLUDED.limit_micro, updated_at = clock_timestamp()",
                (name, _micro(limit_usd)),
            )
        )

    def budgets(self, names: Iterable[str] | None = None) -> builtins.list[BudgetStatus]:
        """Each budget with what is reserved and settled against it."""
        wanted = sorted(set(names)) if names is not None else None
        rows = self.journal.run(
            lambda conn: conn.execute(
                """
                SELECT b.name, b.limit_micro,
                       COALESCE(sum(l.amount_micro) FILTER (WHERE l.state = 'reserved'), 0),
                       COALESCE(sum(l.amount_micro) FILTER (WHERE l.state = 'settled'), 0)
                  FROM budgets b LEFT JOIN budget_ledger l ON l.budget = b.name
                 WHERE %(names)s::text[] IS NULL OR b.name = ANY(%(names)s::text[])
                 GROUP BY b.name, b.limit_micro ORDER BY b.name
                """,
                {"names": wanted},
            ).fetchall(),
            tx=False,
        )
        return [
            BudgetStatus(r[0], r[1] / MICRO, int(r[2]) / MICRO, int(r[3]) / MICRO) for r in rows
        ]

    # ------------------------------------------------------------------ submitting

    def submit(
        self,
        item: WorkItem,
        *,
        base_url: str,
        budgets: Sequence[str] = (),
        api_id: str | None = None,
    ) -> Submitted:
        """Record, reserve and hand out one job, in one transaction.

        A key already in the journal is left as it is (`state="exists"`): submitting the same
        work twice costs nothing. `api_id` is the API the job belongs to (by default its
        cleaned `base_url`): workers take only their own API's jobs.

        Raises:
            BudgetExceededError: a budget cannot take the job's price; nothing was recorded.
            JournalError: a budget does not exist, or the database refused the work.
        """
        app = self._procrastinate()
        amount = _micro(item.quote_usd)
        names = sorted(set(budgets))
        now = self.journal.now()
        tags = {**dict(item.tags), DETACHED_TAG: True, OUTPUT_TAG: item.output}
        row = {
            "key": item.key,
            "model": str(item.body.get("model")),
            "status": "QUOTED",
            "base_url": clean_url(base_url),
            "request": dump_json(digest_data_urls(scrub(item.body)), "request"),
            "quote_usd": item.quote_usd,
            "output_path": None,
            "created_at": now,
            "updated_at": now,
            "tags": dump_json(scrub(tags), "tags"),
            "api_id": api_id or api_id_of(base_url),
            "overwrite": item.overwrite,
        }
        body = json.dumps(dict(item.body), ensure_ascii=False, sort_keys=True)
        queue = queue_name(base_url)

        def write(conn: psycopg.Connection[Any]) -> Submitted:
            existing = conn.execute(
                "SELECT status FROM jobs WHERE key = %s", (item.key,)
            ).fetchone()
            if existing is not None:
                return Submitted(item.key, "exists", str(existing[0]))
            for name in names:
                # The row lock is what makes concurrent reservations add up.
                limit = conn.execute(
                    "SELECT limit_micro FROM budgets WHERE name = %s FOR UPDATE", (name,)
                ).fetchone()
                if limit is None:
                    from .._exceptions import JournalError

                    raise JournalError(f"no budget named {name!r}: set one first")
                used = conn.execute(
                    "SELECT COALESCE(sum(amount_micro), 0) FROM budget_ledger "
                    "WHERE budget = %s AND state IN ('reserved', 'settled')",
                    (name,),
                ).fetchone()
                available = int(limit[0]) - int(used[0] if used else 0)
                if amount > available:
                    raise BudgetExceededError(name, item.quote_usd, available / MICRO)
            self.journal.insert_entry(conn, row)
            conn.execute("INSERT INTO payloads (key, body) VALUES (%s, %s)", (item.key, body))
            for name in names:
                conn.execute(
                    "INSERT INTO budget_ledger (budget, job_key, state, amount_micro) "
                    "VALUES (%s, %s, 'reserved', %s)",
                    (name, item.key, amount),
                )
            app.tasks[TASK_NAME].configure(
                queueing_lock=item.key, queue=queue, connection=conn
            ).defer(key=item.key)
            return Submitted(item.key, "new", "QUOTED")

        return self.journal.run(write)

    def defer(self, key: str, *, base_url: str) -> bool:
        """Hand a journal entry out again (its procrastinate job was lost); False if one waits."""
        import procrastinate.exceptions

        app = self._procrastinate()

        def write(conn: psycopg.Connection[Any]) -> bool:
            try:
                with conn.transaction():
                    app.tasks[TASK_NAME].configure(
                        queueing_lock=key, queue=queue_name(base_url), connection=conn
                    ).defer(key=key)
            except procrastinate.exceptions.AlreadyEnqueued:
                return False
            return True

        return self.journal.run(write)

    def payload(self, key: str) -> dict[str, Any] | None:
        """The full queue body of a submitted job, until it is queued."""
        row = self.journal.run(
            lambda conn: conn.execute(
                "SELECT body FROM payloads WHERE key = %s", (key,)
            ).fetchone(),
            tx=False,
        )
        return json.loads(row[0]) if row else None

    def ledger(self, key: str) -> builtins.list[tuple[str, str, float]]:
        """`(budget, state, amount_usd)` for one job."""
        rows = self.journal.run(
            lambda conn: conn.execute(
                "SELECT budget, state, amount_micro FROM budget_ledger WHERE job_key = %s "
                "ORDER BY budget",
                (key,),
            ).fetchall(),
            tx=False,
        )
        return [(r[0], r[1], r[2] / MICRO) for r in rows]

    # ------------------------------------------------------------------ leases

    def claim(self, key: str, worker: str, lease_s: float) -> str | None:
        """Take (or keep) the lease on a job; its status, or `None` if a live lease is another's."""
        row = self.journal.run(
            lambda conn: conn.execute(
                """
                UPDATE jobs SET worker = %(w)s,
                       lease_until = clock_timestamp() + make_interval(secs => %(s)s)
                 WHERE key = %(k)s
                   AND (worker IS NULL OR worker = %(w)s OR lease_until IS NULL
                        OR lease_until < clock_timestamp())
                RETURNING status
                """,
                {"w": worker, "s": lease_s, "k": key},
            ).fetchone()
        )
        return str(row[0]) if row else None

    def start_queueing(self, key: str, worker: str, output_path: str) -> bool:
        """QUOTED -> QUEUING, only while `worker` holds the lease: the last word before the paid
        request. Committed before it is sent; nobody else will ever send it."""
        now = self.journal.now()
        row = self.journal.run(
            lambda conn: conn.execute(
                """
                UPDATE jobs SET status = 'QUEUING', output_path = %(o)s, updated_at = %(t)s
                 WHERE key = %(k)s AND status = 'QUOTED' AND worker = %(w)s
                   AND lease_until > clock_timestamp()
                RETURNING key
                """,
                {"o": output_path, "t": now, "k": key, "w": worker},
            ).fetchone()
        )
        return row is not None

    def release(self, key: str, worker: str) -> None:
        """Give the lease back; the entry keeps the worker's name (who has the file)."""
        self.journal.run(
            lambda conn: conn.execute(
                "UPDATE jobs SET lease_until = NULL WHERE key = %s AND worker = %s",
                (key, worker),
            )
        )

    def renew(
        self, worker: str, keys: Sequence[str], lease_s: float, *, retry_for: float
    ) -> set[str]:
        """Extend the worker's leases and heartbeat; returns the keys it still holds."""

        def write(conn: psycopg.Connection[Any]) -> set[str]:
            conn.execute(
                "UPDATE workers SET heartbeat_at = clock_timestamp() WHERE name = %s", (worker,)
            )
            if not keys:
                return set()
            rows = conn.execute(
                """
                UPDATE jobs SET lease_until = clock_timestamp() + make_interval(secs => %(s)s)
                 WHERE key = ANY(%(k)s) AND worker = %(w)s AND lease_until IS NOT NULL
                RETURNING key
                """,
                {"s": lease_s, "k": list(keys), "w": worker},
            ).fetchall()
            return {str(r[0]) for r in rows}

        return self.journal.run(write, retry_for=retry_for)

    def orphans(self, base_url: str, *, idle_s: float, limit: int = 200) -> builtins.list[str]:
        """Detached jobs of this API, unfinished, held by nobody for a while, with no
        procrastinate job waiting: their hand-out was lost (a submitter died mid-way), or the
        run that had it ended without finishing it and cannot be retried."""
        stale = self.journal.now() - idle_s
        rows = self.journal.run(
            lambda conn: conn.execute(
                """
                SELECT j.key FROM jobs j
                 WHERE j.status = ANY(%(active)s) AND j.base_url = %(u)s
                   AND (j.tags::jsonb ->> %(tag)s) = 'true'
                   AND (j.lease_until IS NULL OR j.lease_until < clock_timestamp())
                   AND j.updated_at < %(stale)s
                   AND NOT EXISTS (
                       SELECT 1 FROM procrastinate_jobs p
                        WHERE p.queueing_lock = j.key AND p.status = 'todo')
                 ORDER BY j.created_at LIMIT %(n)s
                """,
                {
                    "active": list(_ACTIVE),
                    "u": clean_url(base_url),
                    "tag": DETACHED_TAG,
                    "stale": stale,
                    "n": limit,
                },
            ).fetchall(),
            tx=False,
        )
        return [str(r[0]) for r in rows]

    def leases(self) -> builtins.list[LeaseInfo]:
        """Every job a worker holds right now."""
        rows = self.journal.run(
            lambda conn: conn.execute(
                """
                SELECT key, queue_id, status, worker,
                       EXTRACT(EPOCH FROM lease_until - clock_timestamp())
                  FROM jobs WHERE lease_until IS NOT NULL AND lease_until > clock_timestamp()
                 ORDER BY worker, created_at
                """
            ).fetchall(),
            tx=False,
        )
        return [LeaseInfo(r[0], r[1], r[2], r[3], float(r[4])) for r in rows]

    # ------------------------------------------------------------------ workers

    def register(
        self,
        name: str,
        *,
        host: str,
        pid: int,
        concurrency: int,
        base_url: str,
        output_dir: str,
        lease_s: float,
    ) -> None:
        self.journal.run(
            lambda conn: conn.execute(
                """
                INSERT INTO workers (name, host, pid, concurrency, base_url, output_dir, lease_s)
                VALUES (%s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT (name) DO UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid,
                    concurrency = EXCLUDED.concurrency, base_url = EXCLUDED.base_url,
                    output_dir = EXCLUDED.output_dir, lease_s = EXCLUDED.lease_s,
                    started_at = clock_timestamp(), heartbeat_at = clock_timestamp(),
                    stopped_at = NULL
                """,
                (name, host, pid, concurrency, clean_url(base_url), output_dir, lease_s),
            )
        )

    def unregister(self, name: str) -> None:
        self.journal.run(
            lambda conn: conn.execute(
                "UPDATE workers SET stopped_at = clock_timestamp() WHERE name = %s", (name,)
            ),
            retry_for=5.0,
        )

    def workers(self, *, include_gone: bool = False) -> builtins.list[WorkerInfo]:
        """Workers whose heartbeat is within their lease (and, on request, the others)."""
        rows = self.journal.run(
            lambda conn: conn.execute(
                """
                SELECT w.name, w.host, w.pid, w.concurrency, w.base_url, w.output_dir,
                       EXTRACT(EPOCH FROM clock_timestamp() - w.heartbeat_at),
                       w.stopped_at IS NULL AND w.heartbeat_at
                           > clock_timestamp() - make_interval(secs => w.lease_s),
                       (SELECT count(*) FROM jobs j WHERE j.worker = w.name
                           AND j.lease_until > clock_timestamp()),
                       w.stopped_at IS NOT NULL
                  FROM workers w ORDER BY w.started_at
                """
            ).fetchall(),
            tx=False,
        )
        found = [
            WorkerInfo(
                name=r[0],
                host=r[1],
                pid=r[2],
                concurrency=r[3],
                base_url=r[4],
                output_dir=r[5],
                heartbeat_age_s=float(r[6]),
                live=bool(r[7]),
                held=int(r[8]),
                stopped=bool(r[9]),
            )
            for r in rows
        ]
        return found if include_gone else [w for w in found if w.live]

    # ------------------------------------------------------------------ internals

    def _procrastinate(self) -> Any:
        if self._app is None:
            from procrastinate import SyncPsycopgConnector

            from ._tasks import ensure_queue_schema

            ensure_queue_schema(self.journal)
            # Only used with our own connections (`connection=`), inside our transactions.
            self._app = make_app(SyncPsycopgConnector())
        return self._app


def _micro(usd: float) -> int:
    return round(usd * MICRO)
