"""A team on one machine: the local server (its own process, rate limits on), worker processes,
submitter processes, and the figures that say whether anything went wrong.

Used by the fleet tests and by benchmarks/bench_workers.py.

Server time runs at real speed (`speed=1`), so the rate-limit headers (reset timestamps,
Retry-After) mean what they say; the jobs are made quick instead (`execution_time_scale`) and
the key's window is short (`window_s`), so a hundred jobs take tens of seconds.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

PYTHON = sys.executable
CLI = str(Path(PYTHON).parent / "venice-video")
MODEL = "grok-imagine-text-to-video-private"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Team:
    """One run: a server, a journal, workers and submitters."""

    journal_url: str
    root: Path
    workers: int = 4
    concurrency: int = 8
    lease_s: float = 5.0
    window_s: float = 2.0
    queue_limit: int = 40
    retrieve_limit: int = 120
    execution_scale: float = 0.02
    api_key: str = field(default_factory=lambda: f"team-{random.getrandbits(48):012x}")
    server: subprocess.Popen[bytes] | None = None
    base_url: str = ""
    procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: list[Any] = field(default_factory=list)
    started_workers: int = 0
    kills: int = 0

    # ------------------------------------------------------------------ processes

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VENICE")}
        env.update(
            VENICE_API_KEY=self.api_key,
            VENICE_VIDEO_CONFIG=str(self.root / "no-config.toml"),
            VENICE_VIDEO_JOURNAL=self.journal_url,
            VENICE_VIDEO_TRUST_IDEMPOTENCY="1",
            VENICE_VIDEO_CACHE_DIR=str(self.root / "cache"),
            XDG_CACHE_HOME=str(self.root / "cache"),
        )
        return env

    def start_server(self) -> None:
        config = {
            "data_dir": str(self.root / "server"),
            "speed": 1.0,
            "execution_time_scale": self.execution_scale,
            "rate_limits": {
                "enabled": True,
                "window_s": self.window_s,
                "queue_per_window": self.queue_limit,
                "retrieve_per_window": self.retrieve_limit,
            },
        }
        path = self.root / "server.json"
        path.write_text(json.dumps(config))
        port = free_port()
        self.server = subprocess.Popen(
            [PYTHON, "-m", "venice_video.server", "--host", "127.0.0.1", "--port", str(port),
             "--config", str(path), "--log-level", "warning", "--no-access-log"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        root = f"http://127.0.0.1:{port}"
        self.base_url = f"{root}/api/v1"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{root}/_local/ping", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the local server did not start")

    def cli(self, *args: str) -> list[str]:
        return [CLI, "--base-url", self.base_url, "--json", "-q", *args]

    def start_worker(self, slot: int) -> None:
        self.started_workers += 1
        log = (self.root / f"worker-{slot}-{self.started_workers}.log").open("wb")
        self.logs.append(log)
        self.procs[slot] = subprocess.Popen(
            self.cli(
                "worker", "--concurrency", str(self.concurrency),
                "--output-dir", str(self.root / "shared"), "--lease", str(self.lease_s),
                "--queue-limit", str(self.queue_limit),
                "--retrieve-limit", str(self.retrieve_limit),
                "--rate-window", str(self.window_s), "--name", f"w{slot}-{self.started_workers}",
            ),
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip

    def kill_worker(self, slot: int) -> None:
        """kill -9, then a new worker in its place."""
        proc = self.procs[slot]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        self.kills += 1
        self.start_worker(slot)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in self.logs:
            log.close()
        if self.server is not None and self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()

    # ------------------------------------------------------------------ work

    def write_batch(self, name: str, rows: int) -> Path:
        path = self.root / f"{name}.jsonl"
        lines = [
            json.dumps({"prompt": f"{name} shot {i}", "model": MODEL, "duration": "1s",
                        "resolution": "480p"})
            for i in range(rows)
        ]  # fmt: skip
        path.write_text("\n".join(lines) + "\n")
        return path

    def submit(self, batches: list[Path], *, budget: str) -> list[dict[str, Any]]:
        """Run one `batch FILE --detach` per file, all at once; their JSON summaries."""
        procs = [
            subprocess.Popen(
                self.cli(
                    "batch", str(path), "--detach", "--budget", budget, "--out-dir", path.stem
                ),
                env=self.env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )  # fmt: skip
            for path in batches
        ]
        summaries = []
        for proc in procs:
            out, err = proc.communicate(timeout=300)
            if proc.returncode not in (0, 9):
                raise RuntimeError(f"a submitter failed ({proc.returncode}): {err.decode()}")
            summaries.append(json.loads(out))
        return summaries

    def stats(self) -> dict[str, Any]:
        root = self.base_url.rsplit("/api/v1", 1)[0]
        response = httpx.get(
            f"{root}/_local/stats", headers={"Authorization": f"Bearer {self.api_key}"}, timeout=30
        )
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def wait_for(
        self,
        journal: Any,
        keys: list[str],
        *,
        timeout: float,
        tick: Callable[[float], None] | None = None,
    ) -> float:
        """Seconds until every key is finished (or needs attention); `tick(elapsed)` runs about
        every half second meanwhile (chaos goes there)."""
        begun = time.monotonic()
        wanted = set(keys)
        while True:
            elapsed = time.monotonic() - begun
            entries = [e for e in journal.list() if e.key in wanted]
            if len(entries) == len(wanted) and all(
                e.is_finished or e.needs_attention for e in entries
            ):
                return elapsed
            if elapsed > timeout:
                counts: dict[str, int] = {}
                for e in entries:
                    counts[e.status] = counts.get(e.status, 0) + 1
                stuck = [e.key for e in entries if not (e.is_finished or e.needs_attention)]
                detail = journal.run(
                    lambda conn, stuck=stuck: conn.execute(
                        "SELECT j.key, j.status, j.worker, j.lease_until - clock_timestamp(), "
                        "p.id, p.status, p.attempts, p.scheduled_at - now(), p.worker_id "
                        "FROM jobs j LEFT JOIN procrastinate_jobs p ON p.queueing_lock = j.key "
                        "OR p.lock = j.key WHERE j.key = ANY(%s)",
                        (stuck[:10],),
                    ).fetchall(),
                    tx=False,
                )
                raise TimeoutError(f"not finished after {timeout:.0f} s: {counts}; {detail}")
            if tick is not None:
                tick(elapsed)
            time.sleep(0.5)


def figures(team: Team, journal: Any, fleet: Any, keys: list[str], budget: str) -> dict[str, Any]:
    """The five figures of a run, and what they rest on."""
    import hashlib

    stats = team.stats()
    entries = {e.key: e for e in journal.list() if e.key in set(keys)}
    per_key = stats["idempotency_keys"]
    queued_twice = sum(1 for k in keys if per_key.get(k, {}).get("jobs_created", 0) > 1)
    lost = 0
    for key in keys:
        entry = entries.get(key)
        path = Path(entry.output_path) if entry and entry.output_path else None
        if (
            entry is None
            or entry.status != "COMPLETED"
            or path is None
            or not path.is_file()
            or hashlib.sha256(path.read_bytes()).hexdigest() != entry.sha256
        ):
            lost += 1
    prices = [entries[k].quote_usd or 0.0 for k in keys if k in entries]
    [status] = fleet.budgets([budget])
    return {
        "jobs": len(keys),
        "queued_twice": queued_twice,
        "jobs_created": stats["jobs_created"],
        "queue_requests": stats["queue_requests"],
        "queue_replays": stats["queue_replays"],
        "lost": lost,
        "rate_limit_violations": sum(stats["rate_limited"].values()),
        "budget_limit": status.limit_usd,
        "budget_used": round(status.reserved_usd + status.settled_usd, 6),
        "budget_exceeded": status.reserved_usd + status.settled_usd > status.limit_usd + 1e-9,
        "spent_server": round(100.0 - stats["account"]["balance_usd"], 6),
        "spent_journal": journal.total_spent(),
        "sum_of_prices": round(sum(prices), 6),
        "workers": sorted({e.worker for e in entries.values() if e.worker}),
        "unknown": sum(1 for e in entries.values() if e.status == "UNKNOWN"),
    }
