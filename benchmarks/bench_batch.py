"""`venice-video batch` at scale: 200 jobs at concurrency 50 against the local server.

Runs, in one go, against a local server in its own process on 127.0.0.1 (fast clock):

1. a clean batch of N jobs: wall time, the CLI's CPU time per job, valid files, queues per job;
2. the same size of batch killed (SIGKILL) once half its files exist, then run again: the
   rerun finishes the rest, and the server's records show exactly one job per row.

As a baseline it times `venice-video generate --help` (the whole CLI's start-up cost) in the
same run.

    python benchmarks/bench_batch.py [--jobs 200] [--concurrency 50] [--speed 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from venice_video.media import verify as verify_mp4

PYTHON = sys.executable
CLI = str(Path(PYTHON).parent / "venice-video")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(speed: float, data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "venice_video.server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--speed",
            str(speed),
            "--data-dir",
            str(data_dir),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    root = f"http://127.0.0.1:{port}"
    wait_ready(proc, root)
    return proc, root


def wait_ready(
    proc: subprocess.Popen[bytes], root: str, verify: ssl.SSLContext | bool = True
) -> None:
    """Wait up to 30 s for the server at `root` to answer its ping; kill it if it never does."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{root}/_local/ping", timeout=1, verify=verify).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the local server did not start")


def write_batch(path: Path, jobs: int) -> None:
    rows = [{"prompt": f"batch scene number {i}", "name": f"scene-{i:03d}"} for i in range(jobs)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_cli(args: list[str], env: dict[str, str]) -> tuple[int, float, float, str]:
    cpu0, t0 = children_cpu(), time.perf_counter()
    done = subprocess.run([CLI, *args], env=env, capture_output=True, text=True, check=False)
    return done.returncode, time.perf_counter() - t0, children_cpu() - cpu0, done.stdout


def stats(root: str, key: str) -> dict[str, Any]:
    response = httpx.get(f"{root}/_local/stats", headers={"Authorization": f"Bearer {key}"})
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


def check_files(out: Path, expected: int) -> int:
    valid = 0
    for path in sorted(out.glob("*.mp4")):
        verify_mp4(path)
        valid += 1
    assert valid == expected, f"{valid} valid files, expected {expected}"
    return valid


def one_queue_per_job(root: str, key: str, jobs: int) -> tuple[int, int]:
    data = stats(root, key)
    per_key = [v["jobs_created"] for v in data["idempotency_keys"].values()]
    assert data["jobs_created"] == jobs, data["jobs_created"]
    assert all(n == 1 for n in per_key) and len(per_key) == jobs
    return data["jobs_created"], data["queue_requests"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--speed", type=float, default=1000.0)
    parser.add_argument("--model", default="grok-imagine-text-to-video-private")
    parser.add_argument("--duration", default="1s")
    parser.add_argument("--resolution", default="480p")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        server, root = start_server(args.speed, work / "server")
        try:
            # The local server honours Idempotency-Key, so rows caught mid-queue by the kill
            # are asked for again with their key (against an API that does not, they are
            # reported as unknown for the user to check, and never sent twice).
            base = [
                f"--base-url={root}/api/v1",
                "--trust-idempotency",
                "--quiet",
                "--json",
                "batch",
            ]
            opts = [
                "-c",
                str(args.concurrency),
                "-m",
                args.model,
                "-d",
                args.duration,
                "-r",
                args.resolution,
                "-y",
            ]

            def env_for(name: str) -> dict[str, str]:
                env = dict(os.environ)
                env.update(
                    VENICE_API_KEY=f"bench-{name}",
                    VENICE_VIDEO_JOURNAL=str(work / f"{name}.sqlite3"),
                    VENICE_VIDEO_CONFIG=str(work / "none.toml"),
                )
                return env

            # Baseline: the CLI's start-up and exit, measured the same way.
            code, help_wall, help_cpu, _ = run_cli(["generate", "--help"], env_for("help"))
            assert code == 0

            # 1. A clean run.
            batch = work / "clean.jsonl"
            write_batch(batch, args.jobs)
            out = work / "clean"
            code, wall, cpu, stdout = run_cli(
                [*base, str(batch), "--out-dir", str(out), *opts], env_for("clean")
            )
            assert code == 0, stdout[-2000:]
            summary = json.loads(stdout)
            assert summary["done"] == args.jobs, summary
            files = check_files(out, args.jobs)
            created, requests = one_queue_per_job(root, "bench-clean", args.jobs)

            # 2. Killed halfway, then run again.
            batch2 = work / "killed.jsonl"
            write_batch(batch2, args.jobs)
            out2 = work / "killed"
            env2 = env_for("killed")
            cpu0, t0 = children_cpu(), time.perf_counter()
            proc = subprocess.Popen(
                [CLI, *base, str(batch2), "--out-dir", str(out2), *opts],
                env=env2,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            while proc.poll() is None and len(list(out2.glob("*.mp4"))) < args.jobs // 2:
                time.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            first_wall = time.perf_counter() - t0
            at_kill = len(list(out2.glob("*.mp4")))
            queued_at_kill = stats(root, "bench-killed")["jobs_created"]
            code, rerun_wall, _, stdout = run_cli(
                [*base, str(batch2), "--out-dir", str(out2), *opts], env2
            )
            rerun_cpu = children_cpu() - cpu0
            bad = [r for r in json.loads(stdout)["rows"] if r["status"] not in ("done", "skipped")]
            assert code == 0, json.dumps(bad, indent=1)[:3000]
            rerun = json.loads(stdout)
            files2 = check_files(out2, args.jobs)
            created2, requests2 = one_queue_per_job(root, "bench-killed", args.jobs)
        finally:
            server.terminate()
            server.wait(timeout=30)

    n = args.jobs
    print(
        f"bench_batch: {n} jobs, concurrency {args.concurrency}, server speed {args.speed:g}x, "
        f"{args.model} {args.duration} {args.resolution}"
    )
    print(
        f"{'run':<28}{'wall s':>9}{'CLI CPU s':>11}{'CPU ms/job':>12}{'files':>7}"
        f"{'jobs':>6}{'queue reqs':>12}"
    )
    print(
        f"{'baseline: generate --help':<28}{help_wall:>9.2f}{help_cpu:>11.2f}"
        f"{'':>12}{'':>7}{'':>6}{'':>12}"
    )
    print(
        f"{'clean batch':<28}{wall:>9.2f}{cpu:>11.2f}{1000 * cpu / n:>12.1f}{files:>7}"
        f"{created:>6}{requests:>12}"
    )
    print(
        f"{'killed + rerun (total)':<28}{first_wall + rerun_wall:>9.2f}{rerun_cpu:>11.2f}"
        f"{1000 * rerun_cpu / n:>12.1f}{files2:>7}{created2:>6}{requests2:>12}"
    )
    print(
        f"killed after {first_wall:.2f} s with {at_kill} files saved and {queued_at_kill} jobs "
        f"queued; the rerun skipped {rerun['skipped']}, finished {rerun['done']}, "
        f"queued {created2 - queued_at_kill} new, re-queued 0"
    )
    print(
        f"CLI CPU per job over the start-up baseline: {1000 * (cpu - help_cpu) / n:.1f} ms "
        f"(clean run)"
    )


if __name__ == "__main__":
    main()
