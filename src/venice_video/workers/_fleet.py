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
- **Holds**: a job that starts from another job's file (a chained story shot) is submitted
  held: recorded and reserved, not handed out. Whoever sees that file verified puts its last
  frame in the held job's body and hands it out, in one transaction; a held job whose
  predecessor failed is cancelled (its reservation released).
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
from ..journal._entry import DETACHED_TAG, OUTPUT_TAG
from ._holds import HeldJobs
from ._tasks import TASK_NAME, hand_out, make_app, queue_name

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
        after: the key of a job whose verified file this one starts from (a chained shot):
            it is recorded and reserved but held, and handed out once that file's last frame
            is in its body under `frame_field`.
        frame_field: where the frame goes in the body (`image_url`).
    """

    key: str
    body: Mapping[str, Any]
    quote_usd: float
    output: str
    tags: Mapping[str, Any] = field(default_factory=dict)
    overwrite: bool = False
    after: str | None = None
    frame_field: str = "image_url"


@dataclass(frozen=True)
class Submitted:
    """What became of one `WorkItem`: `new` (reserved and handed out), `held` (reserved, handed
    out once the job it starts from is done) or `exists`."""

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


class Fleet(HeldJobs):
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
        [done] = self.submit_many([item], base_url=base_url, budgets=budgets, api_id=api_id)
        return done

    def submit_many(
        self,
        items: Sequence[WorkItem],
        *,
        base_url: str,
        budgets: Sequence[str] = (),
        api_id: str | None = None,
    ) -> builtins.list[Submitted]:
        """Record, reserve and hand out (or hold) several jobs in ONE transaction: all of
        them, or none when one is refused (a story's shots go together).

        An item with `after` is held: recorded and reserved, handed out by `release_hold` once
        the job it names is done. That job must be in the journal or among `items` (before
        it).

        Raises:
            BudgetExceededError: a budget cannot take an item's price; nothing was recorded.
            JournalError: a budget does not exist, an item waits for an unknown job, or the
                database refused the work.
        """
        app = self._procrastinate()
        names = sorted(set(budgets))
        now = self.journal.now()
        queue = queue_name(base_url)
        rows = [self._row(item, base_url, api_id, now) for item in items]

        def write(conn: psycopg.Connection[Any]) -> builtins.list[Submitted]:
            return [
                self._write(conn, app, item, row, names, queue)
                for item, row in zip(items, rows, strict=True)
            ]

        return self.journal.run(write)

    def _row(self, item: WorkItem, base_url: str, api_id: str | None, now: float) -> dict[str, Any]:
        tags = {**dict(item.tags), DETACHED_TAG: True, OUTPUT_TAG: item.output}
        return {
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

    def _write(
        self,
        conn: psycopg.Connection[Any],
        app: Any,
        item: WorkItem,
        row: Mapping[str, Any],
        names: Sequence[str],
        queue: str,
    ) -> Submitted:
        from .._exceptions import JournalError

        amount = _micro(item.quote_usd)
        existing = conn.execute("SELECT status FROM jobs WHERE key = %s", (item.key,)).fetchone()
        if existing is not None:
            return Submitted(item.key, "exists", str(existing[0]))
        for name in names:
            # The row lock is what makes concurrent reservations add up.
            limit = conn.execute(
                "SELECT limit_micro FROM budgets WHERE name = %s FOR UPDATE", (name,)
            ).fetchone()
            if limit is None:
                raise JournalError(f"no budget named {name!r}: set one first")
            used = conn.execute(
                "SELECT COALESCE(sum(amount_micro), 0) FROM budget_ledger "
                "WHERE budget = %s AND state IN ('reserved', 'settled')",
                (name,),
            ).fetchone()
            available = int(limit[0]) - int(used[0] if used else 0)
            if amount > available:
                raise BudgetExceededError(name, item.quote_usd, available / MICRO)
        if (
            item.after is not None
            and not conn.execute("SELECT 1 FROM jobs WHERE key = %s", (item.after,)).fetchone()
        ):
            raise JournalError(f"job {item.key} waits for {item.after}, which is not submitted")
        self.journal.insert_entry(conn, row)
        body = json.dumps(dict(item.body), ensure_ascii=False, sort_keys=True)
        conn.execute("INSERT INTO payloads (key, body) VALUES (%s, %s)", (item.key, body))
        for name in names:
            conn.execute(
                "INSERT INTO budget_ledger (budget, job_key, state, amount_micro) "
                "VALUES (%s, %s, 'reserved', %s)",
                (name, item.key, amount),
            )
        if item.after is not None:
            conn.execute(
                "INSERT INTO job_holds (key, after_key, frame_field) VALUES (%s, %s, %s)",
                (item.key, item.after, item.frame_field),
            )
            return Submitted(item.key, "held", "QUOTED")
        app.tasks[TASK_NAME].configure(queueing_lock=item.key, queue=queue, connection=conn).defer(
            key=item.key
        )
        return Submitted(item.key, "new", "QUOTED")

    def defer(self, key: str, *, base_url: str) -> bool:
        """Hand a journal entry out again (its procrastinate job was lost); False if one waits."""
        app = self._procrastinate()
        return self.journal.run(lambda conn: hand_out(app, conn, key, base_url=base_url))

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

    def budget_ledger(self, name: str) -> dict[str, tuple[str, float]]:
        """`{job key: (state, amount_usd)}` for one budget."""
        rows = self.journal.run(
            lambda conn: conn.execute(
                "SELECT job_key, state, amount_micro FROM budget_ledger WHERE budget = %s",
                (name,),
            ).fetchall(),
            tx=False,
        )
        return {str(r[0]): (str(r[1]), r[2] / MICRO) for r in rows}

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
        """QUOTED -> QUEUING, only while `worker` holds the lease and the job is not held: the
        last word before the paid request. Committed before it is sent; nobody else will ever
        send it."""
        now = self.journal.now()
        row = self.journal.run(
            lambda conn: conn.execute(
                """
                UPDATE jobs SET status = 'QUEUING', output_path = %(o)s, updated_at = %(t)s
                 WHERE key = %(k)s AND status = 'QUOTED' AND worker = %(w)s
                   AND lease_until > clock_timestamp()
                   AND NOT EXISTS (SELECT 1 FROM job_holds h
                                    WHERE h.key = jobs.key AND h.released_at IS NULL)
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
        run that had it ended without finishing it and cannot be retried. A held job is never
        one: it is handed out by its release."""
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
                   AND NOT EXISTS (
                       SELECT 1 FROM job_holds h WHERE h.key = j.key AND h.released_at IS NULL)
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
