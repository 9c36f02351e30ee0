"""A worker run inside the test process, in its own thread and event loop."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio

from venice_video.workers import WorkerConfig, run_worker

MODEL = "grok-imagine-text-to-video-private"
FIELDS = {"model": MODEL, "prompt": "a lighthouse", "duration": "1s", "resolution": "480p"}


@contextmanager
def worker_thread(config: WorkerConfig) -> Iterator[dict[str, Any]]:
    """Run `run_worker(config)` until the block ends; yields `{"done": n}` once stopped."""
    stopping = threading.Event()
    result: dict[str, Any] = {}

    async def main() -> None:
        stop = anyio.Event()

        async def relay() -> None:
            while not stopping.is_set():
                await anyio.sleep(0.05)
            stop.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(relay)
            result["done"] = await run_worker(config, stop=stop)

    def target() -> None:
        try:
            anyio.run(main)
        except BaseException as exc:  # surfaced to the test below
            result["error"] = exc

    thread = threading.Thread(target=target, name=f"worker-{config.name}")
    thread.start()
    try:
        yield result
    finally:
        stopping.set()
        thread.join(timeout=60)
    assert not thread.is_alive(), "the worker did not stop"
    if "error" in result:
        raise result["error"]


def config(url: str, server: Any, api_key: str, out: Path, **overrides: Any) -> WorkerConfig:
    values: dict[str, Any] = {
        "journal_url": url,
        "api_key": api_key,
        "base_url": server.base_url,
        "output_dir": out,
        "concurrency": 4,
        "lease_s": 2.0,
        "trust_idempotency": False,
    }
    values.update(overrides)
    return WorkerConfig(**values)
