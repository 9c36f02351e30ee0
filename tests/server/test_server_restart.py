"""State survives a restart on the same data directory."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx
from _server_helpers import VPS_BODY, VPS_MODEL, queue, wait_done

from venice_video.server import ManualClock, ServerConfig, ServerThread


def test_jobs_accounts_and_idempotency_survive_a_restart(tmp_path: Path, api_key: str) -> None:
    headers = {"Authorization": f"Bearer {api_key}"}
    # The first server holds its jobs: a still clock, and room for one job at a time, so
    # the second job has not even started rendering when the server stops.
    first = ServerConfig(data_dir=tmp_path, model_capacity={VPS_MODEL: 1})
    with ServerThread(first, clock=ManualClock()) as server:
        with httpx.Client(base_url=server.base_url, headers=headers) as client:
            running = queue(client, VPS_BODY)
            waiting = queue(client, VPS_BODY, headers={"Idempotency-Key": "again"})
            assert (
                client.post(
                    "/video/retrieve", json={"model": VPS_MODEL, "queue_id": waiting["queue_id"]}
                ).status_code
                == 503
            )
            balance = client.get("/models", params={"type": "video"}).headers[
                "x-venice-balance-usd"
            ]

    # Whatever the first process rendered is lost too: the second must render both jobs.
    for clip in (tmp_path / "media").glob("*.mp4"):
        clip.unlink()
    second = ServerConfig(data_dir=tmp_path, speed=1000)
    with ServerThread(second) as server:
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
            assert (
                client.get("/models", params={"type": "video"}).headers["x-venice-balance-usd"]
                == balance
            )
            for job in (running, waiting):
                done = wait_done(client, VPS_MODEL, job["queue_id"])
                assert done.json()["status"] == "COMPLETED"
            # The token of the download_url issued by the first process still works (on the
            # new process's port).
            path = urlsplit(waiting["download_url"]).path
            assert httpx.get(f"{server.root_url}{path}").content[4:8] == b"ftyp"
            replay = client.post("/video/queue", json=VPS_BODY,
                                 headers={"Idempotency-Key": "again"})  # fmt: skip
            assert replay.json() == waiting
            stats = client.get(f"{server.root_url}/_local/stats").json()
            assert stats["jobs_total"] == 2
