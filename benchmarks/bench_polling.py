"""Polling cost and promptness: the SDK against a fixed 5-second loop, job lengths x spreads.

For every cell of the grid (typical job length 10 s, 30 s, 1 min, 3 min, 10 min; job times
spread uniformly within ±5%, ±10%, ±15%, ±25% of it), the same stream of jobs runs twice on
the local server (real HTTP on 127.0.0.1): once through `AsyncVeniceVideo.generate()`, a
fresh client that has learned nothing yet, and once through a plain loop that polls every
5 seconds. It prints, side by side, retrieve requests per job and the p95 delay between a
job becoming ready (the server's own record) and its download starting, with the ratios.
Then the frontier of the SDK's knob, `PollPolicy.target_lag`, on a few cells.

Server time runs at speed 1 in *virtual time* (see `_virtual_time.py`): the server's clock
is a `ManualClock`, both clients sleep on it, and it jumps ahead whenever everyone is
asleep, so a figure is exactly what `--speed 1` would give, without the hours.

Jobs arrive as a Poisson stream, on average one every fifth of a job length (at least
every 3 s: the API queues at most 40 a minute), so about five run at once and the
first few of each run are followed before any job of their kind has finished.

    python benchmarks/bench_polling.py                 # the grid (100 jobs a cell) + frontier
    python benchmarks/bench_polling.py --jobs 40 --lengths 10,60 --spreads 0.05,0.25
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from _virtual_time import VirtualTime, local_server
from venice_video import AsyncVeniceVideo, PollPolicy, Progress
from venice_video.server import ServerThread

MODEL = "grok-imagine-1-5-text-to-video-private"
# The model's default shape: the server's first estimate, before any job of the model has
# finished, is then the typical time of these jobs (as the real API's estimate would be).
CLIP: dict[str, Any] = {"duration": "1s", "resolution": "720p", "aspect_ratio": "16:9"}
KEY = "bench-polling"
AUTH = {"Authorization": f"Bearer {KEY}"}
LOOP_INTERVAL = 5.0  # server seconds
LENGTHS = (10.0, 30.0, 60.0, 180.0, 600.0)
SPREADS = (0.05, 0.10, 0.15, 0.25)
FRONTIER_LAGS = (0.5, 1.0, 2.0, 3.0, 4.0, 6.0)
FRONTIER_CELLS = ((60.0, 0.15), (600.0, 0.25))


class CountingTransport(httpx.AsyncBaseTransport):
    """Counts `/video/retrieve` requests per queue id."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.retrieves: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/video/retrieve"):
            self.retrieves[json.loads(request.content)["queue_id"]] += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class Result:
    retrieves_per_job: float
    lags: list[float]

    def p(self, q: float) -> float:
        ordered = sorted(self.lags)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


Arm = Callable[[ServerThread, VirtualTime, list[float], Path], Awaitable[dict[str, Any]]]


def sdk_arm(policy: PollPolicy) -> Arm:
    async def arm(
        server: ServerThread, vt: VirtualTime, arrivals: list[float], out: Path
    ) -> dict[str, Any]:
        counting = CountingTransport()
        started: dict[str, float] = {}
        async with AsyncVeniceVideo(
            api_key=KEY,
            base_url=server.base_url,
            journal=out / "journal.sqlite3",
            cache_dir=False,
            transport=counting,
            poll=policy,
            sleep=vt.sleep,
            clock=vt.now,
            wall_clock=vt.now,
            rand=random.Random(5).random,
            wait_timeout=24 * 3600,
        ) as client:

            async def one(index: int) -> None:
                def hook(progress: Progress) -> None:
                    if progress.phase == "downloading" and progress.queue_id not in started:
                        started[str(progress.queue_id)] = vt.now()

                await client.generate(
                    model=MODEL,
                    prompt=f"kite {index}",
                    **CLIP,
                    output=out / f"sdk-{index}.mp4",
                    on_progress=hook,
                )

            await _arrive(vt, arrivals, one)
        return {"retrieves": counting.retrieves, "started": started}

    return arm


async def loop_arm(
    server: ServerThread, vt: VirtualTime, arrivals: list[float], out: Path
) -> dict[str, Any]:
    """What many scripts do: poll every 5 seconds until the video comes back."""
    retrieves: Counter[str] = Counter()
    started: dict[str, float] = {}
    async with httpx.AsyncClient(base_url=server.base_url, headers=AUTH, timeout=60) as http:

        async def one(index: int) -> None:
            body = {"model": MODEL, "prompt": f"kite {index}", **CLIP}
            queued = (await http.post("/video/queue", json=body)).json()
            ask = {"model": MODEL, "queue_id": queued["queue_id"]}
            while True:
                retrieves[queued["queue_id"]] += 1
                async with http.stream("POST", "/video/retrieve", json=ask) as response:
                    if response.headers.get("content-type", "").startswith("video/"):
                        started[queued["queue_id"]] = vt.now()
                        (out / f"loop-{index}.mp4").write_bytes(await response.aread())
                        break
                    await response.aread()
                await vt.sleep(LOOP_INTERVAL)
            await http.post("/video/complete", json=ask)

        await _arrive(vt, arrivals, one)
    return {"retrieves": retrieves, "started": started}


async def _arrive(
    vt: VirtualTime, arrivals: list[float], one: Callable[[int], Awaitable[None]]
) -> None:
    begin = vt.now()
    tasks = []
    for index, at in enumerate(arrivals):
        await vt.sleep(max(0.0, begin + at - vt.now()))
        tasks.append(vt.spawn(one(index)))
    await vt.join(tasks)


def base_seconds() -> float:
    """The server's typical time for one `CLIP` job, before any scaling or spread."""
    with local_server(execution_time_spread=0.0) as (server, _):
        body = {"model": MODEL, "prompt": "probe", **CLIP}
        httpx.post(f"{server.base_url}/video/queue", json=body, headers=AUTH).raise_for_status()
        jobs = httpx.get(f"{server.root_url}/_local/jobs", headers=AUTH).json()["data"]
        return float(jobs[0]["simulated_ms"]) / 1000.0


def run_cell(
    arm: Arm, *, length: float, spread: float, base: float, arrivals: list[float], seed: int
) -> Result:
    config = {
        "seed": seed,
        "execution_time_spread": spread,
        "execution_time_scale": length / base,
    }
    with local_server(**config) as (server, vt), tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        seen = asyncio.run(vt.run(arm(server, vt, arrivals, out)))
        jobs = httpx.get(f"{server.root_url}/_local/jobs", headers=AUTH).json()["data"]
    ready = {j["queue_id"]: j["ready_at"] for j in jobs}
    lags = [seen["started"][q] - ready[q] for q in seen["started"]]
    assert len(lags) == len(arrivals), "every job must be downloaded"
    return Result(sum(seen["retrieves"].values()) / len(arrivals), lags)


def arrivals_for(length: float, jobs: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    gap = max(length / 5.0, 3.0)
    times = [0.0]
    for _ in range(jobs - 1):
        times.append(times[-1] + rng.expovariate(1.0 / gap))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100, help="jobs per cell")
    parser.add_argument("--lengths", default=",".join(f"{x:g}" for x in LENGTHS))
    parser.add_argument("--spreads", default=",".join(f"{x:g}" for x in SPREADS))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-frontier", action="store_true")
    args = parser.parse_args()
    lengths = [float(x) for x in args.lengths.split(",")]
    spreads = [float(x) for x in args.spreads.split(",")]
    began = time.monotonic()
    base = base_seconds()
    default = PollPolicy()
    print(
        f"{args.jobs} jobs a cell of {MODEL} {CLIP['resolution']} {CLIP['duration']}, "
        f"server time at speed 1 (virtual), arrivals every max(length/5, 3 s) on average; "
        f"SDK: PollPolicy(target_lag={default.target_lag:g}), a fresh client per cell"
    )
    print(
        f"{'length':>7} {'spread':>7} | {'SDK polls':>9} {'loop polls':>10} {'ratio':>6} | "
        f"{'SDK p95 s':>9} {'loop p95 s':>10} {'ratio':>6} | {'SDK p50 s':>9} {'loop p50 s':>10}"
    )
    worst_polls = worst_lag = 0.0
    loops: dict[tuple[float, float], Result] = {}
    for length in lengths:
        for spread in spreads:
            arrivals = arrivals_for(length, args.jobs, args.seed)
            cell = {"length": length, "spread": spread, "base": base, "arrivals": arrivals}
            sdk = run_cell(sdk_arm(default), seed=args.seed, **cell)
            loop = loops[(length, spread)] = run_cell(loop_arm, seed=args.seed, **cell)
            polls = sdk.retrieves_per_job / loop.retrieves_per_job
            lag = sdk.p(0.95) / loop.p(0.95)
            worst_polls, worst_lag = max(worst_polls, polls), max(worst_lag, lag)
            print(
                f"{length:>6g}s {spread:>6.0%} | {sdk.retrieves_per_job:>9.2f} "
                f"{loop.retrieves_per_job:>10.2f} {polls:>5.2f}x | {sdk.p(0.95):>9.2f} "
                f"{loop.p(0.95):>10.2f} {lag:>5.2f}x | {sdk.p(0.5):>9.2f} {loop.p(0.5):>10.2f}",
                flush=True,
            )
    ok = worst_polls <= 1.0 and worst_lag <= 0.5
    print(
        f"worst cell: {worst_polls:.2f}x the loop's retrieves, {worst_lag:.2f}x its p95 lag; "
        f"target (at most 1.0x and 0.5x in every cell): {'met' if ok else 'NOT met'}"
    )
    if not args.no_frontier:
        print()
        print("frontier of PollPolicy.target_lag (retrieves per job against p95 lag)")
        print(
            f"{'length':>7} {'spread':>7} {'target_lag':>10} | {'polls':>6} {'x loop':>7} | "
            f"{'p95 s':>6} {'x loop':>7}"
        )
        for length, spread in FRONTIER_CELLS:
            arrivals = arrivals_for(length, args.jobs, args.seed)
            cell = {"length": length, "spread": spread, "base": base, "arrivals": arrivals}
            loop = loops.get((length, spread)) or run_cell(loop_arm, seed=args.seed, **cell)
            for lag_knob in FRONTIER_LAGS:
                sdk = run_cell(sdk_arm(PollPolicy(target_lag=lag_knob)), seed=args.seed, **cell)
                print(
                    f"{length:>6g}s {spread:>6.0%} {lag_knob:>10g} | {sdk.retrieves_per_job:>6.2f} "
                    f"{sdk.retrieves_per_job / loop.retrieves_per_job:>6.2f}x | "
                    f"{sdk.p(0.95):>6.2f} {sdk.p(0.95) / loop.p(0.95):>6.2f}x",
                    flush=True,
                )
            print(
                f"{length:>6g}s {spread:>6.0%} {'5 s loop':>10} | {loop.retrieves_per_job:>6.2f} "
                f"{1.0:>6.2f}x | {loop.p(0.95):>6.2f} {1.0:>6.2f}x"
            )
    print(f"({time.monotonic() - began:.0f} s of real time)")


if __name__ == "__main__":
    main()
