"""Virtual time for the polling benchmarks: real HTTP, server time at speed 1, no waiting.

The local server runs on a thread with a `ManualClock`; the clients under test get that
clock as their own (`clock=`, `wall_clock=`) and a `sleep=` that parks the caller until
the clock reaches its wake time. Whenever every task is parked (and the server has no
render running), the clock jumps to the earliest wake time. So every figure is what a
server at `--speed 1` would give, with no scaling error from request latency: requests,
file writes and verification take no server time at all, and a 10-minute job takes as
long to run as its few hundred requests.

Not collected by pytest: a helper for `bench_polling.py` and `bench_ratelimit.py`.
"""

from __future__ import annotations

import asyncio
import heapq
import shutil
import tempfile
import threading
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from venice_video.server import ManualClock, ServerConfig, ServerThread

__all__ = ["VirtualTime", "local_server"]


class VirtualTime:
    """Moves a `ManualClock` forward whenever every task is asleep on it."""

    def __init__(self, clock: ManualClock, idle: Callable[[], bool] = lambda: True) -> None:
        self.clock = clock
        self._idle = idle  # the server has nothing running that takes server time
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0
        self._busy = 0
        self._changed: asyncio.Event | None = None

    def now(self) -> float:
        """Server seconds (its wall clock), as every party sees them."""
        return self.clock.wall()

    async def sleep(self, seconds: float) -> None:
        """Park until the clock reaches now + `seconds`."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, (self.now() + max(seconds, 0.0), self._seq, future))
        self._seq += 1
        self._set_busy(-1)
        await future  # the keeper counts us busy again before waking us

    def _set_busy(self, delta: int) -> None:
        self._busy += delta
        if self._changed is not None:
            self._changed.set()

    async def run(self, main: Coroutine[Any, Any, Any]) -> Any:
        """Run `main` (and whatever it starts through `spawn`) to its end in virtual time."""
        self._changed = asyncio.Event()
        self._set_busy(1)
        task = asyncio.ensure_future(self._counted(main, started=True))
        while not task.done():
            await self._changed.wait()
            self._changed.clear()
            if self._busy > 0 or task.done():
                continue
            # Let callbacks already scheduled run; a task may wake up from them.
            for _ in range(5):
                await asyncio.sleep(0)
            while not self._idle():
                await asyncio.sleep(0.0005)
            if self._busy > 0 or not self._heap:
                continue
            wake = self._heap[0][0]
            if wake > self.now():
                self.clock.advance(wake - self.now())
            while self._heap and self._heap[0][0] <= self.now():
                _, _, future = heapq.heappop(self._heap)
                self._busy += 1
                future.set_result(None)
            self._changed.set()
        return task.result()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Start `coro`, counted busy until it ends or sleeps."""
        self._set_busy(1)
        return asyncio.ensure_future(self._counted(coro, started=True))

    async def join(self, tasks: list[asyncio.Task[Any]]) -> list[Any]:
        """Wait for `tasks` without counting as busy meanwhile."""
        self._set_busy(-1)
        try:
            return await asyncio.gather(*tasks)
        finally:
            self._set_busy(1)

    async def _counted(self, coro: Awaitable[Any], *, started: bool) -> Any:
        try:
            return await coro
        finally:
            self._set_busy(-1)


def _copying_render(template: Path) -> Callable[..., int]:
    """A render that copies one real clip: these benchmarks measure waiting, not encoding."""
    lock = threading.Lock()

    def render(queue_id: str, params: Any, inputs: Any, input_dir: Path, out: Path) -> int:
        from venice_video.server._state import render_job

        with lock:
            if not template.exists():
                render_job(queue_id, params, inputs, input_dir, template)
        shutil.copyfile(template, out)
        return out.stat().st_size

    return render


class local_server:
    """The local server on a thread, on a `ManualClock`, with renders copied from one clip.

    ```python
    with local_server(execution_time_spread=0.1) as (server, vt):
        ...
    ```
    """

    def __init__(self, **config: Any) -> None:
        self._config = config
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._server: ServerThread | None = None

    def __enter__(self) -> tuple[ServerThread, VirtualTime]:
        self._tmp = tempfile.TemporaryDirectory(prefix="venice-bench-")
        tmp = Path(self._tmp.name)
        clock = ManualClock()
        config = ServerConfig.model_validate({"data_dir": tmp / "server", **self._config})
        server = self._server = ServerThread(config, clock=clock).start()
        state = server.app.state
        assert state is not None
        jobs = state.jobs
        jobs._render = _copying_render(tmp / "template.mp4")
        return server, VirtualTime(clock, idle=lambda: not jobs._tasks)

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
