"""The prices a client has just been told, shared by the jobs it starts. Strictly private.

Before each job the client asks `POST /video/quote`, to journal the price and check
`max_cost`. A batch, a story or a busy gallery asks the same question many times a minute:
the same model, length, resolution and inputs. Prices change with releases, not from one
minute to the next, so a price is reused for `max_age` seconds (by default 60; 0 asks
every time), and of many jobs asking at once only one request goes out: the others wait for
its answer (single-flight, as for the model catalog). A failed quote is not kept.

An explicit `client.quote()` always asks the API, and what it learns is kept for the jobs.
(The day-long, on-disk quotes that rank models by price, `_modelcache.QuoteCache`, are another
matter: a ranking may be a little stale, a job's price may not.)
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from ._effects import Flag, Flow, sleep
from ._endpoints import quote_flow
from ._models import QuoteRequest, QuoteResponse

if TYPE_CHECKING:
    from ._base_client import BaseClient

__all__ = ["DEFAULT_QUOTE_MAX_AGE", "SharedQuotes", "job_quote_flow", "quote_and_keep_flow"]

#: How long a quoted price is reused for the next job of the same shape, in seconds.
DEFAULT_QUOTE_MAX_AGE = 60.0


class SharedQuotes:
    """Prices by request, each with the client clock's time it was quoted; thread-safe."""

    def __init__(self, max_age: float) -> None:
        if max_age < 0:
            raise ValueError(f"quote_max_age must be 0 or more seconds, not {max_age!r}")
        self.max_age = max_age
        self._lock = threading.Lock()
        self._prices: dict[str, tuple[float, QuoteResponse]] = {}
        self._flights: dict[str, Flag] = {}

    @staticmethod
    def key(base_url: str, request: QuoteRequest) -> str:
        return json.dumps([base_url, request.to_body()], sort_keys=True, default=str)

    def fresh(self, key: str, now: float) -> QuoteResponse | None:
        with self._lock:
            found = self._prices.get(key)
        if found is None or now - found[0] >= self.max_age:
            return None
        return found[1]

    def keep(self, key: str, now: float, quote: QuoteResponse) -> None:
        if self.max_age <= 0:
            return
        with self._lock:
            # Old prices go when a new one comes; a client asks of few shapes.
            self._prices = {k: v for k, v in self._prices.items() if now - v[0] < self.max_age}
            self._prices[key] = (now, quote)

    def lead(self, key: str, new_flag: Callable[[], Flag]) -> tuple[Flag, bool]:
        """The flight for `key`, and whether this caller leads it (asks the API)."""
        with self._lock:
            flight = self._flights.get(key)
            if flight is not None:
                return flight, False
            flight = self._flights[key] = new_flag()
            return flight, True

    def land(self, key: str, flight: Flag) -> None:
        with self._lock:
            if self._flights.get(key) is flight:
                del self._flights[key]
        flight.set()


def job_quote_flow(client: BaseClient, request: QuoteRequest) -> Flow[QuoteResponse]:
    """The price a job is started at: one asked for at most `max_age` seconds ago, else asked
    now, by one caller for all of those asking at once."""
    cache = client._quotes
    if cache.max_age <= 0:
        return (yield from quote_flow(client, request))
    key = cache.key(client.base_url, request)
    while True:
        found = cache.fresh(key, client._clock())
        if found is not None:
            return found
        flight, leading = cache.lead(key, client._new_event)
        if leading:
            break
        while not flight.is_set():  # another job is asking: its answer is ours
            yield from sleep(0.05, flight)
    try:
        return (yield from quote_and_keep_flow(client, request))
    finally:
        cache.land(key, flight)


def quote_and_keep_flow(client: BaseClient, request: QuoteRequest) -> Flow[QuoteResponse]:
    """Ask the API for the price (always), and keep it for the jobs that follow."""
    quote = yield from quote_flow(client, request)
    client._quotes.keep(client._quotes.key(client.base_url, request), client._clock(), quote)
    return quote
