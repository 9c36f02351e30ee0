"""How many `/video/retrieve` polls a second the local server answers.

Starts `python -m venice_video.server` on 127.0.0.1 in its own process, queues a few jobs,
waits for their renders to finish (so rendering does not compete for the CPU), then drives
concurrent keep-alive HTTP/1.1 pollers written on raw asyncio sockets, spread over worker
processes so the load generator is not the bottleneck. It measures a trivial endpoint
(`GET /_local/ping`) the same way as a baseline and prints both.

    python benchmarks/bench_server.py                  # 200 pollers, 20,000 polls, <= 20 s
    python benchmarks/bench_server.py --connections 50 --requests 5000

Traffic goes to 127.0.0.1 only, and every phase is bounded in request count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
API_KEY = "bench-key"
MODEL = "grok-imagine-text-to-video-private"


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    def line(self) -> str:
        return (
            f"{self.name:<10} {self.rps:9.0f} req/s  p50 {self.percentile(50):6.2f} ms  "
            f"p99 {self.percentile(99):7.2f} ms  requests {self.requests}  errors {self.errors}"
            f"  in {self.seconds:.2f} s"
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _http(method: str, url: str, body: dict[str, object] | None = None) -> dict[str, object]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {API_KEY}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        result: dict[str, object] = json.loads(response.read())
        return result


def _request_bytes(port: int, kind: str, jobs: list[str]) -> list[bytes]:
    """Pre-built raw requests; pollers cycle through them."""
    if kind == "ping":
        return [f"GET /_local/ping HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode()]
    requests = []
    for queue_id in jobs:
        body = json.dumps({"model": MODEL, "queue_id": queue_id}).encode()
        head = (
            f"POST /api/v1/video/retrieve HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
            f"Authorization: Bearer {API_KEY}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        requests.append(head + body)
    return requests


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
            break
    if length:
        await reader.readexactly(length)
    return status


async def _poller(
    port: int, requests: list[bytes], offset: int, quota: int, deadline: float,
    latencies: list[float], errors: list[int],
) -> None:  # fmt: skip
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        for i in range(quota):
            if time.perf_counter() > deadline:
                break
            started = time.perf_counter()
            writer.write(requests[(offset + i) % len(requests)])
            try:
                status = await _read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                errors[0] += 1
                writer.close()
                reader, writer = await asyncio.open_connection(HOST, port)
                continue
            latencies.append((time.perf_counter() - started) * 1000)
            if status != 200:
                errors[0] += 1
    finally:
        writer.close()


def _worker(
    port: int, kind: str, jobs: list[str], connections: int, quota: int, seconds: float,
    first: int, out: mp.Queue,  # type: ignore[type-arg]
) -> None:  # fmt: skip
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    requests = _request_bytes(port, kind, jobs)
    latencies: list[float] = []
    errors = [0]

    async def run() -> float:
        deadline = time.perf_counter() + seconds
        per = [quota // connections + (1 if i < quota % connections else 0)
               for i in range(connections)]  # fmt: skip
        started = time.perf_counter()
        await asyncio.gather(*(
            _poller(port, requests, first + i, per[i], deadline, latencies, errors)
            for i in range(connections)
        ))  # fmt: skip
        return time.perf_counter() - started

    elapsed = asyncio.run(run())
    out.put((len(latencies), errors[0], elapsed, latencies))


def measure(
    name: str, port: int, kind: str, jobs: list[str], *, connections: int, requests: int,
    seconds: float, processes: int,
) -> Result:  # fmt: skip
    out: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    per_conn = [connections // processes + (1 if i < connections % processes else 0)
                for i in range(processes)]  # fmt: skip
    per_req = [requests // processes + (1 if i < requests % processes else 0)
               for i in range(processes)]  # fmt: skip
    workers = [
        mp.Process(
            target=_worker,
            args=(port, kind, jobs, per_conn[i], per_req[i], seconds, i * 1000, out),
        )
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    done, errors, elapsed, latencies = 0, 0, 0.0, []
    for _ in workers:
        count, errs, secs, lats = out.get(timeout=seconds + 60)
        done += count
        errors += errs
        elapsed = max(elapsed, secs)
        latencies += lats
    for worker in workers:
        worker.join(timeout=10)
    return Result(name, done, errors, elapsed, latencies)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--processes", type=int, default=2, help="load generator processes")
    parser.add_argument("--jobs", type=int, default=8, help="jobs polled round-robin")
    args = parser.parse_args()

    port = _free_port()
    data_dir = tempfile.mkdtemp(prefix="venice-bench-")
    # Slow server time keeps every job PROCESSING for the whole run: the common poll.
    command = [
        sys.executable, "-m", "venice_video.server", "--host", HOST, "--port", str(port),
        "--speed", "0.1", "--data-dir", data_dir, "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    server = subprocess.Popen(command, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    root = f"http://{HOST}:{port}"
    try:
        for _ in range(300):
            try:
                _http("GET", f"{root}/_local/ping")
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("the server did not start")
        jobs = []
        for i in range(args.jobs):
            queued = _http("POST", f"{root}/api/v1/video/queue", {
                "model": MODEL, "prompt": f"benchmark clip {i}", "duration": "1s",
                "resolution": "480p",
            })  # fmt: skip
            jobs.append(str(queued["queue_id"]))
        # Wait for the renders so they do not compete with the pollers for the CPU.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            listed = _http("GET", f"{root}/_local/jobs")["data"]
            assert isinstance(listed, list)
            if all(job["rendered"] for job in listed):
                break
            time.sleep(0.2)
        status = _http(
            "POST", f"{root}/api/v1/video/retrieve", {"model": MODEL, "queue_id": jobs[0]}
        )
        print(f"server pid {server.pid}, {len(jobs)} jobs, poll answer: {status}")
        print(f"load: {args.connections} connections in {args.processes} processes, "
              f"at most {args.requests} requests or {args.seconds:g} s per phase")  # fmt: skip

        def run(name: str, kind: str, requests: int) -> Result:
            return measure(name, port, kind, jobs, connections=args.connections,
                           requests=requests, seconds=args.seconds,
                           processes=args.processes)  # fmt: skip

        run("warmup", "retrieve", min(2000, args.requests))
        baseline = run("ping", "ping", args.requests)
        polls = run("retrieve", "retrieve", args.requests)
        print(baseline.line())
        print(polls.line())
        ratio = polls.rps / baseline.rps if baseline.rps else float("nan")
        print(f"retrieve/ping throughput ratio: {ratio:.2f}")
        print(f"mean latency retrieve {statistics.fmean(polls.latencies_ms):.2f} ms")
        ok = polls.rps >= 1000 and polls.errors == 0
        print("PASS: >= 1000 polls/s" if ok else "FAIL: below 1000 polls/s or errors")
        return 0 if ok else 1
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        import shutil

        shutil.rmtree(Path(data_dir), ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
