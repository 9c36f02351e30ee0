"""Money and jobs stay together when the server process is killed with SIGKILL mid-burst.

Each round starts `python -m venice_video.server` on 127.0.0.1 in its own process, on the same
data directory as the round before, checks the books left by the previous kill, fires a burst
of concurrent queues (half with an Idempotency-Key) and kills the process with SIGKILL once a
few answers are back, while the rest are still being handled.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import httpx
import pytest
from _server_helpers import data_url, png

KEY = "crash-test-key"
START_USD = 1000.0
ROUNDS = 6
BURST = 20
#: After how many answers each round's kill comes: early, while most requests are in flight.
KILL_AFTER = (1, 3, 2, 5, 1, 4)
MODEL = "wan-2.5-preview-image-to-video"


class _Process:
    """`python -m venice_video.server` in a child process, on a port it picks itself."""

    def __init__(self, config: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "venice_video.server", "--config", str(config),
             "--host", "127.0.0.1", "--port", "0", "--log-level", "info", "--no-access-log"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        self.log: list[str] = []
        found = threading.Event()
        self.root = ""

        def drain() -> None:
            assert self.proc.stderr is not None
            for raw in self.proc.stderr:
                line = raw.decode("utf-8", "replace")
                self.log.append(line)
                match = re.search(r"running on (http://127\.0\.0\.1:\d+)", line)
                if match and not found.is_set():
                    self.root = match.group(1)
                    found.set()

        self._reader = threading.Thread(target=drain, daemon=True)
        self._reader.start()
        if not found.wait(60):
            self.kill()
            raise AssertionError("the server did not start:\n" + "".join(self.log[-30:]))

    @property
    def base_url(self) -> str:
        return f"{self.root}/api/v1"

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)
        self._reader.join(10)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


def _body(round_no: int, i: int) -> dict[str, Any]:
    return {
        "model": MODEL,
        "prompt": f"round {round_no} clip {i}",
        "duration": "5s",
        "resolution": "480p",
        "image_url": data_url("image/png", png(320, 240, (i * 10 % 255, 90, 160))),
    }


def _books(server: _Process, headers: dict[str, str]) -> dict[str, Any]:
    """The account's balance and jobs as a restarted server reports them."""
    with httpx.Client(base_url=server.root, headers=headers, timeout=30) as http:
        stats = http.get("/_local/stats").json()
        jobs = http.get("/_local/jobs").json()["data"]
    return {"stats": stats, "jobs": jobs}


def _micro(usd: float) -> int:
    return round(usd * 1_000_000)


@pytest.fixture
def config_file(tmp_path: Path) -> Iterator[Path]:
    config = {
        "data_dir": str(tmp_path / "data"),
        "accounts": [{"key": KEY, "balance_usd": START_USD}],
        # One render at a time, and a clock so slow that no job finishes: the process spends
        # its time on queue requests, not on videos.
        "workers": 1,
        "default_capacity": 1,
        "speed": 0.001,
    }
    path = tmp_path / "server.json"
    path.write_text(json.dumps(config))
    yield path


@pytest.mark.slow
def test_sigkill_mid_burst_never_leaves_a_charge_without_a_job(
    config_file: Path, tmp_path: Path
) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    inputs_dir = tmp_path / "data" / "inputs"
    answered_200 = cut_off = 0
    replayed: dict[str, str] = {}  # Idempotency-Key -> queue_id answered before a kill
    for round_no in range(ROUNDS + 1):
        server = _Process(config_file)
        try:
            books = _books(server, headers)
            jobs = books["jobs"]
            charged = _micro(START_USD) - _micro(books["stats"]["account"]["balance_usd"])
            paid_for = sum(_micro(j["price_usd"]) for j in jobs if not j["refunded"])
            # No charge without a job, and no job without its charge.
            assert charged == paid_for, (round_no, charged, paid_for, len(jobs))
            assert books["stats"]["jobs_created"] == len(jobs)
            assert answered_200 <= len(jobs)
            # Each Idempotency-Key made at most one job, and answers given before a kill
            # are the jobs that exist.
            keys = Counter(j["idempotency_key"] for j in jobs if j["idempotency_key"])
            assert all(n == 1 for n in keys.values()), keys
            by_key = {j["idempotency_key"]: j["queue_id"] for j in jobs if j["idempotency_key"]}
            assert all(by_key.get(k) == q for k, q in replayed.items())
            # No input folder outlives a crash without its job.
            live = {j["queue_id"] for j in jobs if j["state"] in ("queued", "processing")}
            assert {p.name for p in inputs_dir.iterdir()} <= live
            if round_no == ROUNDS:
                print(f"{ROUNDS} kills; {answered_200} answered, {cut_off} cut off; "
                      f"{len(jobs)} jobs, ${charged / 1e6:.2f} charged")  # fmt: skip
                break
            ok, cut = _burst(server, headers, round_no, KILL_AFTER[round_no], replayed)
            answered_200 += ok
            cut_off += cut
        finally:
            server.kill()
    # The kills did land mid-burst: some requests never got an answer.
    assert answered_200 > 0 and cut_off > 0


def _burst(
    server: _Process,
    headers: dict[str, str],
    round_no: int,
    kill_after: int,
    replayed: dict[str, str],
) -> tuple[int, int]:
    """Queue BURST jobs at once; SIGKILL the server after `kill_after` answers.

    Returns how many requests were answered 200 and how many were cut off by the kill.
    """
    bodies = [_body(round_no, i) for i in range(BURST)]

    def send(i: int) -> tuple[str | None, httpx.Response | None]:
        key = f"r{round_no}-{i}" if i % 2 else None
        extra = {"Idempotency-Key": key} if key else {}
        try:
            response = httpx.post(f"{server.base_url}/video/queue", json=bodies[i],
                                  headers={**headers, **extra}, timeout=60)  # fmt: skip
        except httpx.TransportError:
            return key, None
        return key, response

    ok = cut = 0
    with ThreadPoolExecutor(BURST) as pool:
        futures = [pool.submit(send, i) for i in range(BURST)]
        answers = 0
        for future in as_completed(futures):
            key, response = future.result()
            if response is None:
                cut += 1
            else:
                assert response.status_code == 200, response.text
                ok += 1
                if key is not None:
                    replayed[key] = response.json()["queue_id"]
            answers += 1
            if answers == kill_after:
                server.kill()
        deadline = time.monotonic() + 60
        for future in futures:
            future.result(timeout=max(0.0, deadline - time.monotonic()))
    return ok, cut
