"""Client CPU per job: the SDK's `generate()` against a plain httpx loop, in the same run.

A local server runs in its own process on 127.0.0.1 (its CPU is not counted). In this
process, N jobs run through each client, `--concurrency` at a time on threads, and the
process CPU time (user + system, all threads) is measured around each run, after imports,
a warm-up job and a garbage collection:

- the plain loop: quote, queue, retrieve every `--poll` seconds until the video comes, write
  the file, complete. No validation, no journal, no fsync, no verification;
- the SDK: `VeniceVideo.generate()` with everything on (validation, journal, fsync,
  verification, cleanup), as users run it.

The server clock is scaled (`--speed`), so both clients see the same job times; their
request and retrieve counts are printed too, since each request costs CPU, with the CPU per
request and the mean size of the files each saved (the same clips, so the same bytes).
`--tls` serves the local server over HTTPS with a throwaway certificate (`_tls.py`), as the
real API is only served: each new connection then costs a TLS handshake, as it does there.
`--profile` prints the top of a cProfile of the SDK run (use it with `--concurrency 1`:
cProfile sees one thread).

    python benchmarks/bench_cpu.py [--jobs 40] [--concurrency 10] [--speed 20] [--rounds 1]

At the real API's pace, as docs/benchmarks.md quotes it (the loop polls every 5 s); one
run's ratio moves by a tenth from run to run, so the figure is the median of alternating
rounds:

    python benchmarks/bench_cpu.py --jobs 20 --concurrency 20 --speed 1 --poll 5 --rounds 5
    python benchmarks/bench_cpu.py --jobs 20 --concurrency 20 --speed 1 --poll 5 --rounds 5 --tls

`--learned` starts the SDK from the job times an earlier batch saved in its cache folder, as
for a user's second batch of a kind onwards; by default each round starts from an empty one.

`--together` runs both clients' jobs at the same time instead of one client after the
other, and counts each client's CPU as the thread CPU of its own jobs (all of a job's work,
HTTP, journal, file and verification, runs on the thread that called it). A machine whose
speed drifts by half within minutes then slows both alike, where alternating rounds catch
each client in another state of it:

    python benchmarks/bench_cpu.py --jobs 20 --concurrency 20 --speed 1 --poll 5 --rounds 5 \
        --together
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import gc
import io
import pstats
import ssl
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

from _breakdown import Breakdown
from _tls import start_tls_server
from bench_batch import start_server
from venice_video import VeniceVideo
from venice_video._http import CLIENT_LIMITS
from venice_video.media import verify as verify_mp4

MODEL = "wan-3-0-text-to-video"
BODY = {"model": MODEL, "duration": "5s", "resolution": "480p", "aspect_ratio": "16:9"}
KEY = "bench-key"

#: What the clients trust: the system's authorities, or the `--tls` run's own.
Trust = ssl.SSLContext | bool


class Counter(httpx.BaseTransport):
    """A transport that counts the requests it sends: both clients send through one, so
    the SDK runs with the HTTP client it makes for itself, as users run it."""

    def __init__(self, verify: Trust, limits: httpx.Limits | None = None) -> None:
        self.retrieves = 0
        self.requests = 0
        self.lock = threading.Lock()
        self._inner = httpx.HTTPTransport(verify=verify, limits=limits or httpx.Limits())

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests += 1
            self.retrieves += request.url.path.endswith("/video/retrieve")
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()

    def reset(self) -> None:
        self.retrieves = self.requests = 0


def plain_job(http: httpx.Client, base: str, n: int, *, out: Path, poll_s: float) -> None:
    http.post(f"{base}/video/quote", json=BODY).raise_for_status()
    body = {**BODY, "prompt": f"scene {n}"}
    queued = http.post(f"{base}/video/queue", json=body)
    queued.raise_for_status()
    queue_id = queued.json()["queue_id"]
    while True:
        time.sleep(poll_s)
        answer = http.post(f"{base}/video/retrieve", json={"model": MODEL, "queue_id": queue_id})
        if answer.status_code == 200 and answer.headers.get("content-type") == "video/mp4":
            (out / f"plain-{n}.mp4").write_bytes(answer.content)
            break
        answer.raise_for_status()
    http.post(f"{base}/video/complete", json={"model": MODEL, "queue_id": queue_id})


def sdk_job(client: VeniceVideo, n: int, *, out: Path) -> None:
    client.generate(
        model=MODEL, prompt=f"scene {n}", duration="5s", resolution="480p",
        aspect_ratio="16:9", output=out / f"sdk-{n}.mp4",
    )  # fmt: skip


def measure(
    jobs: int,
    concurrency: int,
    run: Callable[[int], None],
    profiler: cProfile.Profile | None = None,
) -> tuple[float, float]:
    gc.collect()  # neither client pays for the other's garbage
    if profiler is not None:
        profiler.enable()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    try:
        if concurrency == 1:  # on this thread, so that --profile sees it
            for n in range(jobs):
                run(n)
        else:
            with ThreadPoolExecutor(concurrency) as pool:
                list(pool.map(run, range(jobs)))
        return time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        if profiler is not None:
            profiler.disable()


@dataclass
class Run:
    """One client's run: CPU and wall seconds, its counts, the mean file size."""

    cpu: float
    wall: float
    requests: int
    retrieves: int
    kb: float


@dataclass
class Session:
    """A client ready to run measured jobs: warmed up, its counts reset."""

    run: Callable[[int], None]
    count: Counter
    out: Path

    def result(self, cpu: float, wall: float, jobs: int) -> Run:
        return Run(cpu, wall, self.count.requests, self.count.retrieves, _mean_kb(self.out, n=jobs))


@contextlib.contextmanager
def plain_session(
    args: argparse.Namespace, base: str, out: Path, trust: Trust
) -> Iterator[Session]:
    count = Counter(trust)
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(headers=headers, timeout=60, transport=count) as http:
        out.mkdir()
        plain_job(http, base, -1, out=out, poll_s=args.poll)  # warm-up
        (out / "plain--1.mp4").unlink()
        count.reset()
        yield Session(
            functools.partial(plain_job, http, base, out=out, poll_s=args.poll), count, out
        )


@contextlib.contextmanager
def sdk_session(base: str, root: Path, trust: Trust, cache: Path) -> Iterator[Session]:
    count = Counter(trust, CLIENT_LIMITS)  # the pool the SDK's own client has
    out = root / "sdk"
    out.mkdir(parents=True)
    with VeniceVideo(
        api_key=KEY, base_url=base, journal=root / "journal.sqlite3",
        cache_dir=cache, transport=count,
    ) as client:  # fmt: skip
        sdk_job(client, -1, out=out)  # warm-up: the catalog, the journal
        (out / "sdk--1.mp4").unlink()
        count.reset()
        yield Session(functools.partial(sdk_job, client, out=out), count, out)


def run_alone(
    args: argparse.Namespace,
    session: contextlib.AbstractContextManager[Session],
    split: Breakdown | None,
    profiler: cProfile.Profile | None = None,
) -> Run:
    """One client's jobs, the process's CPU counted."""
    with session as ready:
        run = ready.run
        if split is not None:
            split.reset()
            run = split.job(run)
        cpu, wall = measure(args.jobs, args.concurrency, run, profiler)
        return ready.result(cpu, wall, args.jobs)


def run_together(
    args: argparse.Namespace,
    plain: contextlib.AbstractContextManager[Session],
    sdk: contextlib.AbstractContextManager[Session],
) -> tuple[Run, Run]:
    """Both clients' jobs at once, each client's CPU the thread CPU of its own jobs."""
    with plain as a, sdk as b:
        readies = (a, b)
        clocks = (Breakdown(), Breakdown())  # not installed: each job's thread CPU alone
        ended: tuple[list[float], list[float]] = ([], [])

        def job(i: int, n: int) -> None:
            clocks[i].job(readies[i].run)(n)
            ended[i].append(time.perf_counter())

        gc.collect()
        began = time.perf_counter()
        with ThreadPoolExecutor(2 * args.concurrency) as pool:
            # Interleaved, so that neither client's jobs all start first.
            futures = [pool.submit(job, i, n) for n in range(args.jobs) for i in (0, 1)]
            for future in futures:
                future.result()
        return (
            a.result(clocks[0].total, max(ended[0]) - began, args.jobs),
            b.result(clocks[1].total, max(ended[1]) - began, args.jobs),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--speed", type=float, default=20.0)
    parser.add_argument("--poll", type=float, default=0.25, help="the plain loop's interval")
    parser.add_argument(
        "--rounds", type=int, default=1, help="alternating runs of each client; the median ratio"
    )
    parser.add_argument(
        "--tls", action="store_true", help="the server over HTTPS, as the real API (cryptography)"
    )
    parser.add_argument(
        "--learned",
        action="store_true",
        help="the SDK starts from the job times an earlier batch saved (each round's client "
        "shares one cache folder, after one unmeasured batch); by default each round's "
        "client starts with an empty cache, as on a new install",
    )
    parser.add_argument(
        "--together",
        action="store_true",
        help="both clients' jobs at once, each counted by its jobs' thread CPU (see above)",
    )
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sort", default="tottime", help="the profile's order (pstats keys)")
    parser.add_argument(
        "--breakdown", action="store_true", help="each client's thread CPU by category"
    )
    args = parser.parse_args()
    if args.together and (args.breakdown or args.profile):
        parser.error("--together measures thread CPU alone: no --breakdown or --profile")
    split = Breakdown() if args.breakdown else None
    if split is not None:
        split.install()
    splits: dict[str, list[str]] = {}
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    rounds: list[tuple[Run, Run]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        trust: Trust = True
        if args.tls:
            proc, server, ca = start_tls_server(args.speed, root / "server")
            trust = ssl.create_default_context(cafile=str(ca))
        else:
            proc, server = start_server(args.speed, root / "server")
        base = f"{server}/api/v1"
        try:
            if args.learned:  # a user's earlier batch: its job times are saved, not measured
                run_alone(args, sdk_session(base, root / "earlier", trust, root / "cache"), None)
            for n in range(args.rounds):
                here = root / f"round-{n}"
                here.mkdir()
                cache = root / "cache" if args.learned else here / "cache"
                plain_ready = plain_session(args, base, here / "plain", trust)
                sdk_ready = sdk_session(base, here, trust, cache)
                if args.together:
                    rounds.append(run_together(args, plain_ready, sdk_ready))
                    continue
                plain = run_alone(args, plain_ready, split)
                if split is not None:
                    splits["plain loop"] = split.lines(args.jobs)
                sdk = run_alone(args, sdk_ready, split, profiler)
                if split is not None:
                    splits["SDK"] = split.lines(args.jobs)
                rounds.append((plain, sdk))
            # What the loop does not do: the verification of one saved file, alone.
            saved = root / "round-0" / "sdk" / "sdk-0.mp4"
            cpu0 = time.process_time()
            for _ in range(20):
                verify_mp4(saved)
            verify_ms = (time.process_time() - cpu0) / 20 * 1000
        finally:
            proc.kill()
            proc.wait()
    n = args.jobs
    history = "job times saved by earlier batches" if args.learned else "an empty cache"
    how = "together, thread CPU" if args.together else "alternating"
    print(f"{n} jobs, {args.concurrency} at a time, server speed {args.speed:g}x, "
          f"{args.rounds} round(s), the clients {how}; the SDK from {history}")  # fmt: skip
    print(f"{'client':<14}{'CPU ms/job':>12}{'requests/job':>14}{'retrieves/job':>15}"
          f"{'ms/request':>12}{'KB/file':>9}{'wall s':>9}")  # fmt: skip
    ratios = []
    for plain, sdk in rounds:
        for name, run in (("plain loop", plain), ("SDK", sdk)):
            print(f"{name:<14}{1000 * run.cpu / n:>12.1f}{run.requests / n:>14.2f}"
                  f"{run.retrieves / n:>15.2f}{1000 * run.cpu / run.requests:>12.2f}"
                  f"{run.kb:>9.0f}{run.wall:>9.2f}")  # fmt: skip
        ratios.append(sdk.cpu / plain.cpu)
    each = ", ".join(f"{r:.2f}x" for r in ratios)
    print(f"SDK CPU per job / plain loop's: {statistics.median(ratios):.2f}x (median; {each})")
    summed = sum(sdk.cpu for _, sdk in rounds) / sum(plain.cpu for plain, _ in rounds)
    print(f"over all rounds, each client's CPU summed: {summed:.2f}x")
    print(f"of which verifying one saved file: {verify_ms:.1f} ms")
    for name, lines in splits.items():
        print(f"{name}, thread CPU by category, last round (with the timing's own cost):")
        print("\n".join(lines))
    if profiler is not None:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats(args.sort).print_stats(40)
        print(text.getvalue(), file=sys.stderr)


def _mean_kb(folder: Path, *, n: int) -> float:
    """The mean size of the videos a client saved: both must have saved `n` alike."""
    sizes = [p.stat().st_size for p in folder.glob("*.mp4")]
    assert len(sizes) == n, f"{folder.name}: {len(sizes)} files for {n} jobs"
    return sum(sizes) / len(sizes) / 1024


if __name__ == "__main__":
    main()
