"""Server time: a clock that can run faster than real time, or be moved by hand in tests.

Every time the server reports or compares (job execution times, download-URL expiry, rate-limit
windows) comes from one :class:`Clock`, so `--speed 1000` makes a two-minute job take 120 ms of
real time while every response still reports two minutes.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "ManualClock", "ScaledClock"]


@runtime_checkable
class Clock(Protocol):
    """The server's notion of time, in seconds."""

    def now(self) -> float:
        """Monotonic server seconds: only differences mean anything."""
        ...

    def wall(self) -> float:
        """Server Unix time: used for anything stored or reported as a timestamp."""
        ...


class ScaledClock:
    """Real time multiplied by `speed` from the moment the clock was made.

    `wall()` starts at the real Unix time (or `start_wall`) and then advances `speed` seconds
    per real second. `advance_to()` moves the origin forward so that a server restarted on the
    same data directory never sees time go backwards.
    """

    def __init__(self, speed: float = 1.0, *, start_wall: float | None = None) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed!r}")
        self.speed = float(speed)
        self._real0 = time.monotonic()
        self._wall0 = time.time() if start_wall is None else float(start_wall)

    def now(self) -> float:
        return (time.monotonic() - self._real0) * self.speed

    def wall(self) -> float:
        return self._wall0 + self.now()

    def advance_to(self, wall: float) -> None:
        """Jump forward so that `wall()` is at least `wall`; never goes back."""
        lag = wall - self.wall()
        if lag > 0:
            self._wall0 += lag

    def seconds_to_real(self, server_seconds: float) -> float:
        """How many real seconds `server_seconds` of server time take."""
        return server_seconds / self.speed


class ManualClock:
    """A clock that moves only when told to: for tests.

    ```python
    clock = ManualClock()
    app = create_app(config, clock=clock)
    clock.advance(86_400)  # a day passes at once
    ```
    """

    speed = 1.0

    def __init__(self, start_wall: float = 1_800_000_000.0) -> None:
        self._lock = threading.Lock()
        self._start = float(start_wall)
        self._wall = float(start_wall)

    def now(self) -> float:
        return self._wall - self._start

    def wall(self) -> float:
        return self._wall

    def advance(self, seconds: float) -> None:
        """Move time forward by `seconds` (server seconds)."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            self._wall += seconds

    def advance_to(self, wall: float) -> None:
        with self._lock:
            self._wall = max(self._wall, wall)

    def seconds_to_real(self, server_seconds: float) -> float:
        # Nothing happens by itself on a manual clock; callers poll instead of sleeping long.
        return min(server_seconds, 0.05)
