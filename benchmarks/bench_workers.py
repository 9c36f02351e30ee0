"""Workers sharing one key: makespan against the queue limit's bound, retrieves per job, and
the scaling from one worker to four.

Everything runs on this machine: a throwaway PostgreSQL cluster (initdb/pg_ctl, as the
`postgres` user when run as root), the local server in its own process with its rate limits
on, and `venice-video worker` processes. Server time runs at real speed so the rate-limit
headers mean what they say; jobs are made short instead (about 5 s) and the key's window is
10 s. The key's queue limit is set low enough (3 jobs a second) that the local server's own
render capacity on a small machine is not what binds: the limit is, as it is with Venice.

For each worker count, a fresh database and a fresh server account: N jobs are submitted
(not timed), then the workers start and the clock runs until the last file is saved and
completed. The bound is what the key's queue limit alone allows: N jobs at L per window.

    python benchmarks/bench_workers.py [--jobs 200] [--workers 1,2,4] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "workers")]

from fleet_harness import MODEL, Team, figures  # noqa: E402

from pg_cluster import Cluster, find_binaries  # noqa: E402
from venice_video import VeniceVideo  # noqa: E402
from venice_video.journal import PostgresJournal  # noqa: E402
from venice_video.workers import Fleet, SharedRateLimits, WorkQueue  # noqa: E402


def one_run(cluster: Cluster, args: argparse.Namespace, workers: int) -> dict[str, Any]:
    url = cluster.create_database()
    root = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    team = Team(
        url,
        root,
        workers=workers,
        concurrency=args.concurrency,
        window_s=args.window,
        queue_limit=args.queue_limit,
        retrieve_limit=args.retrieve_limit,
        execution_scale=args.scale,
    )
    try:
        team.start_server()
        with (
            VeniceVideo(api_key=team.api_key, base_url=team.base_url, journal=False) as client,
            WorkQueue(url, client) as queue,
        ):
            fields = {"model": MODEL, "prompt": "a harbour at dusk", "duration": "1s",
                      "resolution": "480p"}  # fmt: skip
            priced = queue.price(fields)
            queue.set_budget("bench", priced[1] * args.jobs)
            keys = [
                queue.submit(
                    fields, output=f"b/{i:04d}.mp4", key=f"job-{i:05d}", budgets=["bench"],
                    priced=priced,
                ).key
                for i in range(args.jobs)
            ]  # fmt: skip
        with PostgresJournal(url) as journal:
            begun = time.monotonic()
            for slot in range(workers):
                team.start_worker(slot)
            makespan = team.wait_for(journal, keys, timeout=args.timeout)
            result = figures(team, journal, Fleet(journal), keys, "bench")
            buckets = SharedRateLimits(journal, team.api_key).stats()
        result["makespan_s"] = makespan
        result["wall_s"] = time.monotonic() - begun
        result["retrieves_per_job"] = buckets["retrieve"]["taken"] / args.jobs
        return result
    finally:
        team.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=120)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--window", type=float, default=10.0, help="the key's window, seconds")
    parser.add_argument("--queue-limit", type=int, default=30, help="queues per window")
    parser.add_argument("--retrieve-limit", type=int, default=150, help="retrieves per window")
    parser.add_argument(
        "--scale", type=float, default=0.2, help="server execution-time scale (job length)"
    )
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args()
    bindir = find_binaries()
    if bindir is None:
        raise SystemExit("PostgreSQL is not installed: apt-get install postgresql")
    counts = [int(n) for n in args.workers.split(",")]
    bound = args.jobs / args.queue_limit * args.window
    print(
        f"bench_workers: {args.jobs} jobs of {MODEL} 1s 480p (execution scale {args.scale:g}), "
        f"{args.concurrency} per worker; "
        f"key limits {args.queue_limit} queues and {args.retrieve_limit} retrieves per "
        f"{args.window:g} s; bound set by the queue limit: {bound:.1f} s"
    )
    print(
        f"{'workers':>7}  {'makespan s':>10}  {'x bound':>7}  {'jobs/s':>6}  "
        f"{'retrieves/job':>13}  {'429s':>4}  {'queued twice':>12}  {'lost':>4}  {'speed-up':>8}"
    )
    cluster = Cluster(bindir)
    try:
        first: float | None = None
        for workers in counts:
            r = one_run(cluster, args, workers)
            first = first or r["makespan_s"]
            print(
                f"{workers:>7}  {r['makespan_s']:>10.1f}  {r['makespan_s'] / bound:>7.2f}  "
                f"{args.jobs / r['makespan_s']:>6.2f}  {r['retrieves_per_job']:>13.2f}  "
                f"{r['rate_limit_violations']:>4}  {r['queued_twice']:>12}  {r['lost']:>4}  "
                f"{first / r['makespan_s']:>7.2f}x",
                flush=True,
            )
    finally:
        cluster.destroy()
    print("makespan counts from the workers' start (each loads Python, the SDK and procrastinate)")


if __name__ == "__main__":
    main()
