"""A process killed with SIGKILL anywhere in the lifecycle loses nothing and pays once.

Twenty times: a driver process (`kill_driver.py`) runs a few `generate()` calls against the
local server and is killed after a random delay (seeded per round). Then, in this process:

- at the moment of the kill, every job the server has completed (deleted) already had its
  file saved and verified: cleanup never runs ahead of the file;
- `resume()` drives every journal entry to its end, and every job the server created (and
  charged) ends with a valid file;
- no idempotency key ever created more than one job on the server.
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
from sdk_helpers import local_jobs, local_stats

from venice_video import VeniceVideo
from venice_video._exceptions import DownloadVerificationError
from venice_video.journal import Journal
from venice_video.media import verify as verify_mp4

ROUNDS = 20
JOBS_PER_ROUND = 3
DRIVER = Path(__file__).with_name("kill_driver.py")
# Slow answers widen the windows worth hitting: the queue answer in flight (the job exists
# but the journal does not know its id yet) and a video half downloaded.
SLOW = {
    "endpoints": {
        "queue": {"slow_body_s": 0.1, "slow_chunks": 4},
        "retrieve": {"slow_body_s": 0.05, "slow_chunks": 4},
        "download": {"slow_body_s": 0.05, "slow_chunks": 4},
    }
}


@pytest.mark.slow
def test_sigkill_at_random_points_then_resume_loses_nothing_and_pays_once(
    server_factory: Any, tmp_path: Path
) -> None:
    server = server_factory(faults=SLOW)
    interrupted_statuses: set[str] = set()
    for round_ in range(ROUNDS):
        rng = random.Random(9000 + round_)
        api_key = f"kill-{round_}-{os.getpid()}"
        journal_path = tmp_path / f"journal-{round_}.sqlite3"
        outputs = tmp_path / f"out-{round_}"
        process = subprocess.Popen(
            [
                sys.executable,
                str(DRIVER),
                server.base_url,
                str(journal_path),
                str(outputs),
                str(JOBS_PER_ROUND),
                str(round_),
            ],
            env={**os.environ, "VENICE_API_KEY": api_key},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.5, 2.2))  # real time: a real process is being interrupted
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

        entries = _entries(journal_path)
        interrupted_statuses |= {e.status for e in entries if not e.is_finished}
        _assert_no_cleanup_before_the_file_was_safe(server, api_key, entries)

        with VeniceVideo(
            api_key=api_key,
            base_url=server.base_url,
            journal=journal_path,
            cache_dir=False,
            idempotent_queue_retries=True,
            wait_timeout=60,
        ) as client:
            resumed = client.resume()
            assert all(job.status == "COMPLETED" for job in resumed), resumed
            after = {e.key: e for e in _entries(journal_path)}

        stats = local_stats(server, api_key)
        created = {k: v for k, v in stats["idempotency_keys"].items() if v["jobs_created"]}
        assert all(v["jobs_created"] == 1 for v in created.values()), created
        assert stats["jobs_created"] == len(created) == len(local_jobs(server, api_key))
        for key in created:  # every paid job: journaled, completed, with a valid file
            entry = after[key]
            assert entry.status == "COMPLETED", entry
            assert entry.output_path is not None
            assert verify_mp4(Path(entry.output_path)).frames > 0
        assert all(e.status == "COMPLETED" for e in after.values())
    # The rounds did interrupt jobs mid-way, not only before or after them.
    mid_way = {"QUEUING", "QUEUED", "PROCESSING", "READY", "DOWNLOADED"}
    assert len(interrupted_statuses & mid_way) >= 2, interrupted_statuses


def _entries(path: Path) -> list[Any]:
    if not path.exists():
        return []
    with Journal(path) as journal:
        return journal.list()


def _assert_no_cleanup_before_the_file_was_safe(
    server: Any, api_key: str, entries: list[Any]
) -> None:
    by_queue_id = {e.queue_id: e for e in entries if e.queue_id}
    for record in local_jobs(server, api_key):
        if record["deleted_at"] is None and not record["revoked"]:
            continue
        entry = by_queue_id.get(record["queue_id"])
        assert entry is not None, f"{record['queue_id']} was cleaned up but never journaled"
        assert entry.status in ("DOWNLOADED", "COMPLETED"), entry
        assert entry.output_path is not None
        try:
            verify_mp4(Path(entry.output_path))
        except DownloadVerificationError as exc:  # pragma: no cover - the failure we guard
            raise AssertionError(
                f"{record['queue_id']} cleaned up before its file was safe"
            ) from exc
