"""Held jobs: a job that starts from another job's file (a chained story shot) is recorded and
reserved, not handed out, until that file is verified.

Whoever sees the predecessor's file verified (the worker that finished it, or any worker's
reaper when that worker died first) puts its last frame in the held job's body and hands the
job out, in one transaction; a held job whose predecessor failed is cancelled, with the jobs
held on it, and their reservations are released. Part of `Fleet`.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from .._urls import clean_url
from ..journal._codec import digest_data_urls, dump_json, scrub
from ._tasks import hand_out

if TYPE_CHECKING:
    import psycopg

    from ..journal._postgres import PostgresJournal

__all__ = ["DONE", "HeldJobs"]

#: The statuses of a job whose file was saved and verified.
DONE: Final[tuple[str, ...]] = ("DOWNLOADED", "COMPLETED")


class HeldJobs:
    """The holds of a `Fleet`'s jobs (`job_holds`, in the journal's database)."""

    journal: PostgresJournal

    def _procrastinate(self) -> Any:
        raise NotImplementedError

    def is_held(self, key: str) -> bool:
        """Whether the job waits for another job's file (it is not to be queued yet)."""
        row = self.journal.run(
            lambda conn: conn.execute(
                "SELECT 1 FROM job_holds WHERE key = %s AND released_at IS NULL", (key,)
            ).fetchone(),
            tx=False,
        )
        return row is not None

    def holds(self, keys: Sequence[str]) -> dict[str, str]:
        """`{held key: the key it waits for}`, among `keys`."""
        rows = self.journal.run(
            lambda conn: conn.execute(
                "SELECT key, after_key FROM job_holds WHERE key = ANY(%s) AND released_at IS NULL",
                (list(keys),),
            ).fetchall(),
            tx=False,
        )
        return {str(r[0]): str(r[1]) for r in rows}

    def waiting_on(self, key: str) -> builtins.list[str]:
        """The held jobs that wait for `key`'s file."""
        rows = self.journal.run(
            lambda conn: conn.execute(
                "SELECT key FROM job_holds WHERE after_key = %s AND released_at IS NULL "
                "ORDER BY created_at",
                (key,),
            ).fetchall(),
            tx=False,
        )
        return [str(r[0]) for r in rows]

    def release_hold(self, key: str, *, frame_url: str, base_url: str) -> bool:
        """Put the frame (a `data:` URL of the predecessor's last frame) in the held job's
        body and hand the job out, in one transaction. False when it is not held any more
        (another worker released it), or the job it waits for is not done."""
        app = self._procrastinate()
        now = self.journal.now()

        def write(conn: psycopg.Connection[Any]) -> bool:
            hold = conn.execute(
                "SELECT after_key, frame_field FROM job_holds "
                "WHERE key = %s AND released_at IS NULL FOR UPDATE",
                (key,),
            ).fetchone()
            if hold is None:
                return False
            after = conn.execute("SELECT status FROM jobs WHERE key = %s", (hold[0],)).fetchone()
            if after is None or after[0] not in DONE:
                return False
            job = conn.execute(
                "SELECT status FROM jobs WHERE key = %s FOR UPDATE", (key,)
            ).fetchone()
            payload = conn.execute("SELECT body FROM payloads WHERE key = %s", (key,)).fetchone()
            conn.execute(
                "UPDATE job_holds SET released_at = clock_timestamp() WHERE key = %s", (key,)
            )
            if job is None or job[0] != "QUOTED" or payload is None:
                return False  # cancelled meanwhile: nothing to hand out
            body = json.loads(payload[0])
            body[str(hold[1])] = frame_url
            conn.execute(
                "UPDATE payloads SET body = %s WHERE key = %s",
                (json.dumps(body, ensure_ascii=False, sort_keys=True), key),
            )
            conn.execute(
                "UPDATE jobs SET request = %s, updated_at = %s WHERE key = %s",
                (dump_json(digest_data_urls(scrub(body)), "request"), now, key),
            )
            # False: a hand-out waits already; it will find the job released.
            hand_out(app, conn, key, base_url=base_url)
            return True

        return self.journal.run(write)

    def cancel_held(self, key: str, reason: str) -> builtins.list[str]:
        """Cancel the held jobs that wait for `key` (it failed: they can never start), and
        those that wait for them; their reservations are released. Returns their keys."""
        now = self.journal.now()

        def write(conn: psycopg.Connection[Any]) -> builtins.list[str]:
            cancelled: builtins.list[str] = []
            frontier = [key]
            while frontier:
                rows = conn.execute(
                    "UPDATE job_holds SET released_at = clock_timestamp() "
                    "WHERE after_key = ANY(%s) AND released_at IS NULL RETURNING key",
                    (frontier,),
                ).fetchall()
                frontier = [str(r[0]) for r in rows]
                if frontier:
                    conn.execute(
                        "UPDATE jobs SET status = 'CANCELLED', error = %s, updated_at = %s "
                        "WHERE key = ANY(%s) AND status = 'QUOTED'",
                        (reason, now, frontier),
                    )
                cancelled.extend(frontier)
            return cancelled

        return self.journal.run(write)

    def releasable(
        self, base_url: str, *, idle_s: float, limit: int = 200
    ) -> builtins.list[tuple[str, str]]:
        """`(held key, the key it waits for)` for this API's held jobs whose predecessor
        ended (done, failed or cancelled) at least `idle_s` ago: their release (or their
        cancellation) was lost, say with the worker that finished the predecessor."""
        stale = self.journal.now() - idle_s
        rows = self.journal.run(
            lambda conn: conn.execute(
                """
                SELECT h.key, h.after_key FROM job_holds h
                  JOIN jobs j ON j.key = h.key
                  JOIN jobs p ON p.key = h.after_key
                 WHERE h.released_at IS NULL AND j.base_url = %(u)s
                   AND p.status = ANY(%(ended)s) AND p.updated_at < %(stale)s
                 ORDER BY h.created_at LIMIT %(n)s
                """,
                {
                    "u": clean_url(base_url),
                    "ended": [*DONE, "FAILED", "CANCELLED"],
                    "stale": stale,
                    "n": limit,
                },
            ).fetchall(),
            tx=False,
        )
        return [(str(r[0]), str(r[1])) for r in rows]
