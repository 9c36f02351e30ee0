"""`venice-video story render` killed with SIGKILL at random moments, then run again: the same
film, and every shot paid exactly once.

Ten rounds (`VENICE_VIDEO_STORY_KILLS` sets how many), each on its own account, journal and
folder, against one local server. Each round starts the real command in a subprocess, kills
it after a random delay (seeded per round), and runs the same command again to the end. The
delays are stratified: each round draws from its own slice of an uninterrupted render's
life, so the rounds cover all of it (queueing, waiting, downloading, the chained shots,
assembling) where independent draws could bunch up. Every round must end with the film an
uninterrupted render makes (the same decoded frames: the local engine renders a keyed request
the same way every time) and with exactly six jobs created on the server, one per shot key.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from story_helpers import copy_example, frame_digest, local_stats

ROUNDS = int(os.environ.get("VENICE_VIDEO_STORY_KILLS", "10"))
# Kills land between these fractions of an uninterrupted render's time (the first part is
# the interpreter starting, before anything is asked of the server).
KILL_FROM, KILL_TO = 0.15, 1.0
# Slow answers widen the windows worth hitting: a queue answer in flight (the job exists but
# the journal does not know its id yet) and a video half downloaded.
SLOW = {
    "endpoints": {
        "queue": {"slow_body_s": 0.05, "slow_chunks": 3},
        "retrieve": {"slow_body_s": 0.02, "slow_chunks": 2},
    }
}


def _command(base_url: str, story: Path) -> list[str]:
    return [
        sys.executable, "-c", "from venice_video.cli import main; main()",
        "--base-url", base_url, "--trust-idempotency", "-q",
        "story", "render", str(story), "--yes",
    ]  # fmt: skip


def _env(home: Path, key: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VENICE_")}
    env.update(
        VENICE_API_KEY=key,
        VENICE_VIDEO_JOURNAL=str(home / "journal.sqlite3"),
        VENICE_VIDEO_CONFIG=str(home / "config.toml"),
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_DATA_HOME=str(home / "data"),
        XDG_STATE_HOME=str(home / "state"),
    )
    return env


def _render(base_url: str, home: Path, key: str) -> subprocess.CompletedProcess[str]:
    story = home / "story" / "lighthouse.yaml"
    return subprocess.run(
        _command(base_url, story), env=_env(home, key), capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip


@pytest.mark.slow
def test_sigkill_at_random_points_then_render_again_gives_the_same_film_paid_once(
    server_factory: Any, tmp_path: Path
) -> None:
    server = server_factory(faults=SLOW)
    tag = f"{os.getpid()}-{int(time.time())}"

    reference = tmp_path / "reference"
    copy_example(reference / "story")
    began = time.monotonic()
    done = _render(server.base_url, reference, f"kill-ref-{tag}")
    whole = time.monotonic() - began
    assert done.returncode == 0, done.stderr
    expected = frame_digest(reference / "story" / "lighthouse.mp4")

    killed_during: list[float] = []
    for round_ in range(ROUNDS):
        rng = random.Random(4200 + round_)
        home = tmp_path / f"round-{round_}"
        story = copy_example(home / "story")
        key = f"kill-{round_}-{tag}"
        process = subprocess.Popen(
            _command(server.base_url, story), env=_env(home, key),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        slice_ = (KILL_TO - KILL_FROM) / ROUNDS
        delay = whole * rng.uniform(KILL_FROM + round_ * slice_, KILL_FROM + (round_ + 1) * slice_)
        time.sleep(delay)  # real time: a real process is being interrupted
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        killed_during.append(round(delay / whole, 2))

        again = _render(server.base_url, home, key)
        assert again.returncode == 0, (round_, again.stderr)
        assert frame_digest(story.parent / "lighthouse.mp4") == expected, round_
        stats = local_stats(server, key)
        assert stats["jobs_created"] == 6, (round_, stats)
        per_key = stats["idempotency_keys"]
        assert len(per_key) == 6 and all(k["jobs_created"] == 1 for k in per_key.values())
    # The kills landed across the whole life of a render, not all at its start.
    assert max(killed_during) > 0.8 and min(killed_during) < 0.3, killed_during
