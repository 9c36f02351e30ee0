"""Polling cost and promptness: the SDK's paced waits against a fixed 5-second loop.

Runs the same batch of jobs twice on the local server (loopback only), once through
`AsyncVeniceVideo.generate()` and once through a plain loop that polls every 5 seconds, and
prints, side by side:

- retrieve requests per job;
- the delay between a job becoming ready (the server's own record, `/_local/jobs`) and its
  download starting, p50 and p95.

All times are server seconds. The server runs in its own process, `--speed` times faster
than real time, and the loop sleeps 5 *server* seconds, so both arms see the workload the
real API would give, only faster. Jobs arrive as a Poisson stream, and each takes the
server's simulated time: a uniform spread (`--spreads`) around the model's typical time.

    python benchmarks/bench_polling.py             # 100 jobs, spreads 0.05 and 0.15
    python benchmarks/bench_polling.py --jobs 30 --spreads 0.25 --details
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx

from venice_video import AsyncVeniceVideo, Progress, RateLimitPolicy

MODEL = "grok-imagine-1-5-text-to-video-private"
CLIP: dict[str, Any] = {"duration": "1s", "resolution": "480p", "aspect_ratio": "16:9"}
KEY = "bench-polling"
AUTH = {"Authorization": f"Bearer {KEY}"}
LOOP_INTERVAL = 5.0  # server seconds
DETAILS = False


class Server:
    """The local server in its own process (its own CPU and GIL), and its clock.

    The server's clock runs `speed` times real time from a fixed origin, so server time
    is a linear function of this process's monotonic clock; `server_time()` evaluates it
    from one calibration against `/_local/stats`.
    """

    def __init__(self, config: dict[str, Any], tmp: Path) -> None:
        self.speed = float(config["speed"])
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        path = tmp / "server.json"
        path.write_text(json.dumps({**config, "data_dir": str(tmp / "server")}))
        self.root_url = f"http://127.0.0.1:{port}"
        self.base_url = f"{self.root_url}/api/v1"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "venice_video.server",
                "--config",
                str(path),
                "--port",
                str(port),
                "--log-level",
                "error",
                "--no-access-log",
            ],
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{self.root_url}/_local/ping", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        best = None
        for _ in range(5):
            before = time.monotonic()
            stats = httpx.get(f"{self.root_url}/_local/stats", headers=AUTH).json()
            after = time.monotonic()
            if best is None or after - before < best[0]:
                best = (after - before, (before + after) / 2, stats["server_time"])
        assert best is not None
        _, mono, wall = best
        self._origin: float = float(wall) - mono * self.speed

    def server_time(self) -> float:
        return self._origin + time.monotonic() * self.speed

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


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
class ArmResult:
    name: str
    requests_per_job: float
    delays: list[float]

    def p(self, q: float) -> float:
        ordered = sorted(self.delays)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def sdk_arm(server: Server, arrivals: list[float], out: Path) -> dict[str, Any]:
    counting = CountingTransport()
    started: dict[str, float] = {}
    async with AsyncVeniceVideo(
        api_key=KEY,
        base_url=server.base_url,
        journal=out / "journal.sqlite3",
        cache_dir=False,
        transport=counting,
        rate_limit=RateLimitPolicy(max_failures=None),
        rand=random.Random(5).random,
        wait_timeout=3600,
    ) as client:
        await client.models()

        async def one(index: int) -> None:
            def hook(progress: Progress) -> None:
                if progress.phase == "downloading" and progress.queue_id not in started:
                    started[str(progress.queue_id)] = server.server_time()

            await client.generate(
                model=MODEL,
                prompt=f"kite {index}",
                **CLIP,
                output=out / f"sdk-{index}.mp4",
                on_progress=hook,
            )

        await _arrive(server, arrivals, one)
    return {"retrieves": counting.retrieves, "started": started}


async def loop_arm(server: Server, arrivals: list[float], out: Path) -> dict[str, Any]:
    """What many scripts do: poll every 5 seconds until the video comes back."""
    speed = server.speed
    retrieves: Counter[str] = Counter()
    started: dict[str, float] = {}
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=60) as http:

        async def one(index: int) -> None:
            body = {"model": MODEL, "prompt": f"kite {index}", **CLIP}
            queued = (await http.post("/video/queue", json=body)).json()
            ask = {"model": MODEL, "queue_id": queued["queue_id"]}
            while True:
                retrieves[queued["queue_id"]] += 1
                async with http.stream("POST", "/video/retrieve", json=ask) as response:
                    if response.headers.get("content-type", "").startswith("video/"):
                        started[queued["queue_id"]] = server.server_time()
                        (out / f"loop-{index}.mp4").write_bytes(await response.aread())
                        break
                    await response.aread()
                await anyio.sleep(LOOP_INTERVAL / speed)
            await http.post("/video/complete", json=ask)

        await _arrive(server, arrivals, one)
    return {"retrieves": retrieves, "started": started}


async def _arrive(
    server: Server, arrivals: list[float], one: Callable[[int], Coroutine[Any, Any, None]]
) -> None:
    speed = server.speed
    begin = time.monotonic()
    async with anyio.create_task_group() as tg:
        for index, at in enumerate(arrivals):
            await anyio.sleep(max(0.0, begin + at / speed - time.monotonic()))
            tg.start_soon(one, index)


def run_arm(
    name: str,
    arm: Callable[[Server, list[float], Path], Awaitable[dict[str, Any]]],
    *,
    speed: float,
    spread: float,
    scale: float,
    arrivals: list[float],
    seed: int,
) -> ArmResult:
    with tempfile.TemporaryDirectory() as tmp:
        config = {
            "speed": speed,
            "seed": seed,
            "execution_time_spread": spread,
            "execution_time_scale": scale,
        }
        server = Server(config, Path(tmp))
        try:
            out = Path(tmp) / "out"
            out.mkdir()
            seen = anyio.run(arm, server, arrivals, out)
            jobs = httpx.get(f"{server.root_url}/_local/jobs", headers=AUTH).json()["data"]
        finally:
            server.close()
    ready = {j["queue_id"]: j["ready_at"] for j in jobs}
    delays = [seen["started"][q] - ready[q] for q in seen["started"]]
    if DETAILS:
        order = sorted(jobs, key=lambda j: j["created_at"])
        print(
            name,
            [
                (
                    i,
                    round(seen["started"][j["queue_id"]] - j["ready_at"], 1),
                    seen["retrieves"][j["queue_id"]],
                )
                for i, j in enumerate(order)
            ],
        )
    per_job = sum(seen["retrieves"].values()) / len(arrivals)
    return ArmResult(name, per_job, delays)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--speed", type=float, default=10.0, help="server speed (x real time)")
    parser.add_argument("--spreads", default="0.05,0.15", help="job time spreads to try")
    parser.add_argument("--scale", type=float, default=4.0, help="job length multiplier")
    parser.add_argument("--gap", type=float, default=2.0, help="mean arrival gap (server s)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--details", action="store_true", help="print each job's numbers")
    args = parser.parse_args()
    global DETAILS
    DETAILS = args.details

    rng = random.Random(args.seed)
    arrivals = [0.0]
    for _ in range(args.jobs - 1):
        arrivals.append(arrivals[-1] + rng.expovariate(1.0 / args.gap))

    print(
        f"{args.jobs} jobs of {MODEL} {CLIP['resolution']} {CLIP['duration']}, "
        f"server speed {args.speed:g}x, arrivals every {args.gap:g} server s on average"
    )
    print(
        f"{'spread':>7} {'client':<14} {'retrieves/job':>14} {'p50 delay s':>12} "
        f"{'p95 delay s':>12}"
    )
    for spread in (float(s) for s in args.spreads.split(",")):
        results = [
            run_arm(
                name,
                arm,
                speed=args.speed,
                spread=spread,
                scale=args.scale,
                arrivals=arrivals,
                seed=args.seed,
            )
            for name, arm in (("venice-video", sdk_arm), ("5 s loop", loop_arm))
        ]
        for r in results:
            print(
                f"{spread:>7.2f} {r.name:<14} {r.requests_per_job:>14.2f} "
                f"{r.p(0.50):>12.2f} {r.p(0.95):>12.2f}"
            )
        sdk, loop = results
        ok = sdk.requests_per_job <= loop.requests_per_job / 2 and sdk.p(0.95) <= loop.p(0.95) / 2
        print(
            f"{'':>7} target (at most half the requests and half the p95 delay): "
            f"{'met' if ok else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
