"""Per-account request limits over fixed windows of server time."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ._clock import Clock
from ._config import RateLimitConfig

__all__ = ["RateDecision", "RateLimiter"]


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    #: Server Unix time (seconds) at which the window resets.
    reset_wall: float
    kind: str

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [
            (b"x-ratelimit-limit-requests", str(self.limit).encode()),
            (b"x-ratelimit-remaining-requests", str(self.remaining).encode()),
            # A Unix timestamp in whole seconds, as the rate-limit docs describe it.
            (b"x-ratelimit-reset-requests", str(math.ceil(self.reset_wall)).encode()),
            (b"x-ratelimit-type", self.kind.encode()),
        ]


class RateLimiter:
    """Counts requests per (account, kind) in windows of `window_s` server seconds."""

    def __init__(self, config: RateLimitConfig, clock: Clock) -> None:
        self.config = config
        self._clock = clock
        self._windows: dict[tuple[str, str], tuple[int, int]] = {}
        #: Requests refused with 429, per (account, kind): the violations a client made.
        self.rejected: dict[tuple[str, str], int] = {}

    @property
    def enabled(self) -> bool:
        return self.config.enabled

    def check(self, account: str, kind: str) -> RateDecision | None:
        """Count one request; None when limits are off."""
        if not self.config.enabled:
            return None
        limit = self.config.queue_per_window if kind == "queue" else self.config.retrieve_per_window
        span = self.config.window_s
        wall = self._clock.wall()
        window = math.floor(wall / span)
        reset = (window + 1) * span
        current, used = self._windows.get((account, kind), (window, 0))
        if current != window:
            used = 0
        if used >= limit:
            self._windows[(account, kind)] = (window, used)
            self.rejected[(account, kind)] = self.rejected.get((account, kind), 0) + 1
            return RateDecision(False, limit, 0, reset, f"video_{kind}")
        used += 1
        self._windows[(account, kind)] = (window, used)
        return RateDecision(True, limit, limit - used, reset, f"video_{kind}")

    def retry_after(self, decision: RateDecision) -> int:
        """Whole server seconds until the window resets (at least 1)."""
        return max(1, math.ceil(decision.reset_wall - self._clock.wall()))
