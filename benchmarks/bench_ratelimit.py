"""One key's budget shared by a batch: 200 jobs at once against the server's rate limits.

The local server runs with its rate limits on (40 queue requests and 120 retrieves per
minute per key, answering `429` past that) and 200 `generate()` calls start together on one
`AsyncVeniceVideo`. Printed: the `429`s drawn, retrieves per job, and the makespan (first
queue to last video saved) against the bound the queue limit alone sets: a client that
queued 40 jobs each minute and saw every job the instant it was ready would finish at
max over jobs of (its queue slot + its execution time). For contrast, the same batch
through a plain loop that polls every 5 s and waits out every `Retry-After`.

Server time runs at speed 1 in virtual time (see `_virtual_time.py`): exact figures for
minutes of server time in seconds.

    python benchmarks/bench_ratelimit.py                  # 200 jobs of ~5 min, ±15%
    python benchmarks/bench_ratelimit.py --jobs 100 --length 120 --spread 0.25
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from _virtual_time import VirtualTime, local_server
from bench_polling import AUTH, CLIP, KEY, MODEL, base_seconds
from venice_video import AsyncVeniceVideo
from venice_video.server import ServerThread

QUEUE_LIMIT = 40
RETRIEVE_LIMIT = 120
WINDOW = 60.0


class Counting:
    """Counts requests and 429s per endpoint, and retrieves per job."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.limited: Counter[str] = Counter()
        self.retrieves: Counter[str] = Counter()

    async def request(self, request: httpx.Request) -> None:
        endpoint = request.url.path.rsplit("/", 1)[-1]
        self.requests[endpoint] += 1
        if endpoint == "retrieve":
            self.retrieves[json.loads(request.content)["queue_id"]] += 1

    async def response(self, response: httpx.Response) -> None:
        if response.status_code == 429:
            self.limited[response.request.url.path.rsplit("/", 1)[-1]] += 1


Arm = Callable[[ServerThread, VirtualTime, int, Path, Counting], Awaitable[float]]


async def sdk_arm(
    server: ServerThread, vt: VirtualTime, jobs: int, out: Path, counting: Counting
) -> float:
    hooks = {"request": [counting.request], "response": [counting.response]}
    async with (
        httpx.AsyncClient(event_hooks=hooks, timeout=60) as http,
        AsyncVeniceVideo(
            api_key=KEY,
            base_url=server.base_url,
            journal=out / "journal.sqlite3",
            cache_dir=False,
            http_client=http,
            sleep=vt.sleep,
            clock=vt.now,
            wall_clock=vt.now,
            rand=random.Random(5).random,
            wait_timeout=24 * 3600,
        ) as client,
    ):

        async def one(index: int) -> None:
            await client.generate(
                model=MODEL, prompt=f"kite {index}", **CLIP, output=out / f"{index}.mp4"
            )

        await vt.join([vt.spawn(one(i)) for i in range(jobs)])
    return vt.now()


async def loop_arm(
    server: ServerThread, vt: VirtualTime, jobs: int, out: Path, counting: Counting
) -> float:
    """Poll every 5 s; on a 429, wait its Retry-After and ask again."""
    hooks = {"request": [counting.request], "response": [counting.response]}
    async with httpx.AsyncClient(
        base_url=server.base_url, headers=AUTH, timeout=60, event_hooks=hooks
    ) as http:

        async def call(path: str, body: dict[str, Any]) -> httpx.Response:
            while True:
                response = await http.post(path, json=body)
                if response.status_code != 429:
                    return response
                await vt.sleep(float(response.headers.get("retry-after", "1")))

        async def one(index: int) -> None:
            body = {"model": MODEL, "prompt": f"kite {index}", **CLIP}
            queued = (await call("/video/queue", body)).json()
            ask = {"model": MODEL, "queue_id": queued["queue_id"]}
            while True:
                response = await call("/video/retrieve", ask)
                if response.headers.get("content-type", "").startswith("video/"):
                    (out / f"loop-{index}.mp4").write_bytes(response.content)
                    break
                await vt.sleep(5.0)
            await http.post("/video/complete", json=ask)

        await vt.join([vt.spawn(one(i)) for i in range(jobs)])
    return vt.now()


def run(
    arm: Arm, *, jobs: int, length: float, spread: float, base: float, seed: int
) -> dict[str, Any]:
    config = {
        "seed": seed,
        "execution_time_spread": spread,
        "execution_time_scale": length / base,
        "rate_limits": {
            "enabled": True,
            "queue_per_window": QUEUE_LIMIT,
            "retrieve_per_window": RETRIEVE_LIMIT,
            "window_s": WINDOW,
        },
    }
    counting = Counting()
    with local_server(**config) as (server, vt), tempfile.TemporaryDirectory() as tmp:
        ended = asyncio.run(vt.run(arm(server, vt, jobs, Path(tmp), counting)))
        listed = httpx.get(f"{server.root_url}/_local/jobs", headers=AUTH).json()["data"]
    listed.sort(key=lambda j: j["created_at"])
    assert len(listed) == jobs and all(j["delivered_count"] >= 1 for j in listed)
    start = listed[0]["created_at"]
    first_window = math.floor(start / WINDOW) * WINDOW
    # The i-th job could at best be queued in the (i // 40)-th window from the first.
    ideal = [
        (start if i < QUEUE_LIMIT else first_window + WINDOW * (i // QUEUE_LIMIT))
        + j["simulated_ms"] / 1000.0
        for i, j in enumerate(listed)
    ]
    return {
        "limited": sum(counting.limited.values()),
        "limited_by": dict(counting.limited),
        "retrieves_per_job": sum(counting.retrieves.values()) / jobs,
        "makespan": ended - start,
        "bound": max(ideal) - start,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--length", type=float, default=300.0, help="typical job, server s")
    parser.add_argument("--spreads", default="0.15,0.25")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-loop", action="store_true", help="skip the 5 s loop")
    args = parser.parse_args()
    began = time.monotonic()
    base = base_seconds()
    print(
        f"{args.jobs} jobs started at once on one key, {MODEL} {CLIP['resolution']} "
        f"{CLIP['duration']} of {args.length:g} s typical; server limits {QUEUE_LIMIT} "
        f"queues and {RETRIEVE_LIMIT} retrieves per {WINDOW:g} s; virtual time at speed 1"
    )
    print(
        f"{'spread':>7} {'client':<10} {'429s':>6} {'retrieves/job':>14} "
        f"{'makespan s':>11} {'bound s':>8} {'x bound':>8}"
    )
    arms: list[tuple[str, Arm]] = [("SDK", sdk_arm)]
    if not args.no_loop:
        arms.append(("5 s loop", loop_arm))
    for spread in (float(s) for s in args.spreads.split(",")):
        for name, arm in arms:
            r = run(
                arm, jobs=args.jobs, length=args.length, spread=spread, base=base, seed=args.seed
            )
            print(
                f"{spread:>6.0%} {name:<10} {r['limited']:>6} {r['retrieves_per_job']:>14.2f} "
                f"{r['makespan']:>11.1f} {r['bound']:>8.1f} {r['makespan'] / r['bound']:>7.3f}x",
                flush=True,
            )
    print("target: SDK draws no 429 and finishes within 1.15x the bound")
    print(f"({time.monotonic() - began:.0f} s of real time)")


if __name__ == "__main__":
    main()
