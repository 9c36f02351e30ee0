"""Rate limits shared by every worker on one key: token buckets in PostgreSQL.

Venice counts requests per key (40 queues and 120 retrieves a minute at the documented tier).
Each (key, endpoint) has one bucket row; every request of every worker takes a token from it
in one statement, timed by the database's clock, so machines whose clocks disagree still share
one budget of requests. The key itself is never stored: rows are named by a keyed digest.

The bucket holds at most `burst` tokens and refills at `(limit - burst)` per window plus some
slack for network jitter: in any stretch of one window it lets through at most `limit`
requests, so a server counting fixed windows never sees more than its limit, and over time it
keeps close to the limit (39 queues a minute of 40, about 96%, at the documented tier).

What the server says wins, for everyone at once: `x-ratelimit-remaining-requests` caps the
tokens, a quota at its end holds the bucket until `x-ratelimit-reset-requests`, and a 429's
`Retry-After` holds it for its length. A changed `x-ratelimit-limit-requests` resizes it.

`SharedLimiter` plugs into a client in place of its own limiter, with the same two calls
(`reserve`, `release`); it keeps the client's limiter for what is per process (the failed
request guard). A single-machine scheduler with the same interface can wrap it the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import threading
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import httpx

from .._exceptions import JournalError, parse_retry_after
from .._polling import RequestLimiter

if TYPE_CHECKING:
    import psycopg

    from venice_video import AsyncVeniceVideo, VeniceVideo

    from ..journal._postgres import PostgresJournal

__all__ = [
    "RequestLimiter",
    "SharedLimiter",
    "SharedRateLimits",
    "SharedRatePolicy",
    "attach_shared_limits",
    "fingerprint",
]

logger = logging.getLogger("venice_video.workers")

#: Seconds to wait when the database cannot be asked: never send without a token.
_UNREACHABLE_WAIT: Final[float] = 0.5


@dataclass(frozen=True)
class SharedRatePolicy:
    """The per-key limits the buckets start from, before any header says otherwise.

    Attributes:
        limits: requests per window, by endpoint bucket (`queue`, `retrieve`).
        window_s: the server's counting window, in seconds.
        burst: requests that may go out at once (a larger burst lowers the steady rate).
        margin: stretch the window by this share, and by at least `slack_s` seconds, so
            requests delayed on the way still land in the window they were counted for.
        reserve: keep this many requests of a reported quota unused until it resets.
        max_wait_s: the longest any server-directed pause holds the bucket.
    """

    limits: Mapping[str, int] = field(default_factory=lambda: {"queue": 40, "retrieve": 120})
    window_s: float = 60.0
    burst: int = 1
    margin: float = 0.02
    slack_s: float = 0.25
    reserve: int = 1
    max_wait_s: float = 120.0

    def shape(self, limit: int) -> tuple[float, float]:
        """`(capacity, refill_per_s)` for a limit of `limit` requests per window.

        At most `capacity + refill * window` whole tokens fit in one window, never more
        than `limit`."""
        capacity = float(max(1, min(self.burst, limit)))
        stretched = self.window_s + max(self.margin * self.window_s, self.slack_s)
        return capacity, max(limit - capacity, 1.0) / stretched


def fingerprint(api_key: str, salt: bytes) -> str:
    """A keyed digest naming an API key's buckets: it proves nothing about the key to anyone
    without the database's salt, and the key itself is never written anywhere."""
    return hmac.new(salt, api_key.encode(), hashlib.sha256).hexdigest()[:32]


class SharedRateLimits:
    """The buckets of one API key, shared through the journal's database.

    Args:
        journal: the shared journal (its pool).
        api_key: the key whose limits these are; only its fingerprint leaves this object.
        policy: the starting limits.
    """

    def __init__(
        self,
        journal: PostgresJournal,
        api_key: str,
        policy: SharedRatePolicy | None = None,
        *,
        rand: Any = random.random,
    ) -> None:
        self.journal = journal
        self.policy = policy or SharedRatePolicy()
        self._rand = rand
        self._lock = threading.Lock()
        row = journal.run(
            lambda conn: conn.execute(
                "SELECT value FROM secrets WHERE name = 'fingerprint'"
            ).fetchone(),
            tx=False,
        )
        if row is None:
            raise JournalError("the journal has no fingerprint salt; open it once to migrate")
        self.key_fp = fingerprint(api_key, bytes(row[0]))
        self._limits: dict[str, int] = dict(self.policy.limits)
        shapes = [(e, *self.policy.shape(limit)) for e, limit in self._limits.items()]

        def create(conn: psycopg.Connection[Any]) -> None:
            for endpoint, capacity, refill in shapes:
                conn.execute(
                    "INSERT INTO rate_buckets (key_fp, endpoint, tokens, capacity, refill_per_s) "
                    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (key_fp, endpoint) DO UPDATE "
                    "SET capacity = EXCLUDED.capacity, refill_per_s = EXCLUDED.refill_per_s",
                    (self.key_fp, endpoint, capacity, capacity, refill),
                )

        journal.run(create)

    @property
    def endpoints(self) -> frozenset[str]:
        return frozenset(self._limits)

    def take(self, endpoint: str) -> float:
        """Take one token (0.0), or say how many seconds until one may be there."""
        try:
            row = self.journal.run(
                lambda conn: conn.execute(_TAKE, {"fp": self.key_fp, "e": endpoint}).fetchone(),
                retry_for=0.0,
                timeout=0.25,
            )
        except JournalError as exc:
            logger.info("shared rate limits unreachable (%s); holding requests back", exc)
            return _UNREACHABLE_WAIT
        if row is None:
            return 0.0  # no bucket for this endpoint: not limited
        wait = float(row[0])
        # A little spread, so waiters do not all come back in the same millisecond.
        return 0.0 if wait <= 0 else wait * (1.0 + 0.2 * self._rand())

    def observe(
        self,
        endpoint: str,
        *,
        status: int | None,
        headers: httpx.Headers | Mapping[str, str] | None,
        wall_now: float,
    ) -> None:
        """Apply what a response said to the bucket, for every worker at once."""
        if headers is None or endpoint not in self._limits:
            return
        h = headers if isinstance(headers, httpx.Headers) else httpx.Headers(headers)
        p = self.policy
        limit = _int(h.get("x-ratelimit-limit-requests"))
        if limit is not None and limit > 0 and limit != self._limits.get(endpoint):
            self._resize(endpoint, limit)
        remaining = _int(h.get("x-ratelimit-remaining-requests"))
        cap: float | None = None
        block = 0.0
        capacity, _ = p.shape(self._limits[endpoint])
        if remaining is not None and remaining - p.reserve < capacity:
            cap = float(max(0, remaining - p.reserve))
            if remaining <= p.reserve:
                reset = parse_retry_after(
                    {"x-ratelimit-reset-requests": h.get("x-ratelimit-reset-requests", "")},
                    now=wall_now,
                )
                # A fixed window resets within one window, whatever a skewed clock says.
                block = min(reset if reset is not None else p.window_s, p.window_s)
        if status == 429:
            retry = parse_retry_after(h, now=wall_now)
            block = max(block, min(retry if retry is not None else 1.0, p.max_wait_s))
            cap = 0.0
        if cap is None and block <= 0 and status != 429:
            return
        try:
            self.journal.run(
                lambda conn: _observe(conn, self.key_fp, endpoint, cap, block, status == 429),
                retry_for=0.0,
                timeout=0.25,
            )
        except JournalError as exc:
            logger.info("could not share a rate-limit answer (%s)", exc)

    def stats(self) -> dict[str, dict[str, float]]:
        """Per endpoint: tokens taken, 429s seen, and the bucket's shape."""
        rows = self.journal.run(
            lambda conn: conn.execute(
                "SELECT endpoint, taken, limited, capacity, refill_per_s FROM rate_buckets "
                "WHERE key_fp = %s",
                (self.key_fp,),
            ).fetchall(),
            tx=False,
        )
        return {
            r[0]: {"taken": r[1], "limited": r[2], "capacity": r[3], "refill_per_s": r[4]}
            for r in rows
        }

    def _resize(self, endpoint: str, limit: int) -> None:
        with self._lock:
            self._limits[endpoint] = limit
        capacity, refill = self.policy.shape(limit)
        try:
            self.journal.run(
                lambda conn: conn.execute(
                    "UPDATE rate_buckets SET capacity = %s, refill_per_s = %s, "
                    "tokens = LEAST(tokens, %s) WHERE key_fp = %s AND endpoint = %s",
                    (capacity, refill, capacity, self.key_fp, endpoint),
                ),
                retry_for=0.0,
                timeout=0.25,
            )
        except JournalError as exc:
            logger.info("could not resize the shared bucket (%s)", exc)


class SharedLimiter:
    """A client's limiter whose `queue` and `retrieve` requests also take shared tokens.

    Args:
        local: the client's own limiter (kept for its per-process failure guard).
        shared: the key's shared buckets.
    """

    def __init__(self, local: RequestLimiter, shared: SharedRateLimits) -> None:
        self.local = local
        self.shared = shared

    def reserve(
        self, bucket: str, now: float, *, ticket: Hashable | None = None, priority: float = 1.0
    ) -> float:
        wait = self.local.reserve(bucket, now, ticket=ticket, priority=priority)
        if wait > 0 or bucket not in self.shared.endpoints:
            return wait
        wait = self.shared.take(bucket)
        if wait > 0:
            # No shared token: hand the local slot back unused.
            self.local.release(bucket, now, status=None, headers=None, wall_now=0.0)
        return wait

    def release(
        self,
        bucket: str,
        now: float,
        *,
        status: int | None,
        headers: httpx.Headers | Mapping[str, str] | None,
        wall_now: float,
    ) -> None:
        self.local.release(bucket, now, status=status, headers=headers, wall_now=wall_now)
        self.shared.observe(bucket, status=status, headers=headers, wall_now=wall_now)

    def leave(self, ticket: Hashable) -> None:
        """The job named `ticket` waits no more (see the client's own limiter)."""
        self.local.leave(ticket)

    @property
    def announced_rate(self) -> float | None:
        """The clock rate the server announced, as the client's own limiter read it."""
        return self.local.announced_rate


def attach_shared_limits(client: VeniceVideo | AsyncVeniceVideo, shared: SharedRateLimits) -> None:
    """Make `client` (a `VeniceVideo` or `AsyncVeniceVideo`) take its tokens from `shared`."""
    client._limiter = SharedLimiter(client._limiter, shared)


# One statement: refill by the time passed (database clock), take a token if one is there and
# the bucket is not held, and say how long until the next one otherwise.
_TAKE: Final[str] = """
WITH b AS (
    SELECT key_fp, endpoint, clock_timestamp() AS now, blocked_until, refill_per_s,
           LEAST(capacity, tokens + refill_per_s
                 * GREATEST(0, EXTRACT(EPOCH FROM clock_timestamp() - updated_at))) AS avail
      FROM rate_buckets WHERE key_fp = %(fp)s AND endpoint = %(e)s FOR UPDATE
), t AS (
    SELECT b.*, (b.blocked_until <= b.now AND b.avail >= 1) AS ok FROM b
)
UPDATE rate_buckets r
   SET tokens = CASE WHEN t.ok THEN t.avail - 1 ELSE t.avail END,
       updated_at = t.now,
       taken = r.taken + CASE WHEN t.ok THEN 1 ELSE 0 END
  FROM t WHERE r.key_fp = t.key_fp AND r.endpoint = t.endpoint
RETURNING CASE WHEN t.ok THEN 0.0
               WHEN t.blocked_until > t.now
                   THEN EXTRACT(EPOCH FROM t.blocked_until - t.now)::float8
               ELSE (1 - t.avail) / t.refill_per_s END
"""


def _observe(
    conn: psycopg.Connection[Any],
    key_fp: str,
    endpoint: str,
    cap: float | None,
    block_s: float,
    limited: bool,
) -> None:
    conn.execute(
        """
        UPDATE rate_buckets
           SET tokens = LEAST(capacity, tokens + refill_per_s
                   * GREATEST(0, EXTRACT(EPOCH FROM clock_timestamp() - updated_at)),
                   COALESCE(%(cap)s, capacity)),
               updated_at = clock_timestamp(),
               blocked_until = GREATEST(blocked_until,
                   clock_timestamp() + make_interval(secs => %(block)s)),
               limited = limited + %(limited)s
         WHERE key_fp = %(fp)s AND endpoint = %(e)s
        """,
        {"cap": cap, "block": block_s, "limited": 1 if limited else 0, "fp": key_fp, "e": endpoint},
    )


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None
