"""A batch under injected faults: every job ends with a valid file, none is queued twice.

The local server fails about a third of the retrieve requests (500 and 503), drops some
connections and cuts some video bodies short, on inline bodies and on download_url
downloads alike. The queue itself is left alone, so "one queue request per job" is exact.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import anyio
import pytest
from sdk_helpers import INLINE_MODEL, SMALL, URL_MODEL, local_jobs, local_stats

from venice_video import AsyncVeniceVideo, RateLimitPolicy, VeniceVideo, VideoJob
from venice_video.media import verify as verify_mp4

JOBS = 50
FAULTS: dict[str, Any] = {
    "seed": 11,
    "endpoints": {
        "retrieve": {"error_500": 0.15, "error_503": 0.15, "drop": 0.05, "truncate": 0.15},
        "download": {"drop": 0.1, "truncate": 0.2},
    },
}
# The local server never blocks a caller for failed requests, and this batch fails on
# purpose far more often than the real API's allowance (20 in 30 s) permits.
NO_FAILURE_GUARD = RateLimitPolicy(max_failures=None)


@pytest.mark.slow
async def test_a_faulty_batch_of_50_jobs_all_finish_with_one_queue_each(
    server_factory: Any, api_key: str, tmp_path: Path
) -> None:
    server = server_factory(faults=FAULTS)
    results: dict[int, VideoJob] = {}
    async with AsyncVeniceVideo(
        api_key=api_key,
        base_url=server.base_url,
        journal=tmp_path / "journal.sqlite3",
        cache_dir=False,
        rate_limit=NO_FAILURE_GUARD,
        rand=random.Random(3).random,
        wait_timeout=120,
    ) as client:
        await client.models()

        async def one(index: int) -> None:
            model = URL_MODEL if index % 3 == 0 else INLINE_MODEL
            results[index] = await client.generate(
                model=model,
                prompt=f"kite number {index}",
                **SMALL,
                output=tmp_path / f"out-{index}.mp4",
            )

        with anyio.fail_after(180):
            async with anyio.create_task_group() as tg:
                for index in range(JOBS):
                    tg.start_soon(one, index)
        unfinished = await client.jobs(unfinished=True)

    assert len(results) == JOBS
    assert {job.status for job in results.values()} == {"COMPLETED"}
    assert unfinished == []
    for index, job in results.items():
        assert job.path == tmp_path / f"out-{index}.mp4"
        assert verify_mp4(job.path).frames > 0
    stats = local_stats(server, api_key)
    keys = stats["idempotency_keys"]
    assert set(keys) == {job.idempotency_key for job in results.values()}
    assert all(k["jobs_created"] == 1 and k["requests"] == 1 for k in keys.values())
    assert stats["jobs_created"] == JOBS
    faulted = server.app.state.faults.fired
    assert faulted["retrieve"] > JOBS // 2 and faulted["download"] > 0


@pytest.mark.slow
def test_a_faulty_batch_on_threads_finishes_with_one_queue_each(
    server_factory: Any, api_key: str, tmp_path: Path
) -> None:
    """The sync client shared by a thread pool: the same guarantees."""
    from concurrent.futures import ThreadPoolExecutor

    server = server_factory(faults=FAULTS)
    with VeniceVideo(
        api_key=api_key,
        base_url=server.base_url,
        journal=tmp_path / "journal.sqlite3",
        cache_dir=False,
        rate_limit=NO_FAILURE_GUARD,
        wait_timeout=120,
    ) as client:

        def one(index: int) -> VideoJob:
            return client.generate(
                model=INLINE_MODEL if index % 2 else URL_MODEL,
                prompt=f"kite {index}",
                **SMALL,
                output=tmp_path / f"t-{index}.mp4",
            )

        with ThreadPoolExecutor(max_workers=10) as pool:
            jobs = list(pool.map(one, range(12)))
    assert {job.status for job in jobs} == {"COMPLETED"}
    assert all(verify_mp4(job.path).frames > 0 for job in jobs if job.path)
    records = local_jobs(server, api_key)
    assert len(records) == 12
    assert sorted(r["idempotency_key"] for r in records) == sorted(j.idempotency_key for j in jobs)
