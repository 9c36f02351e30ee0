"""`Follower`: one loop follows background jobs to their end, and keeps the money rule."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from venice_video import JobFailedError, JobTimeoutError, Progress, VideoJob
from venice_video._follow import Follower, can_follow
from venice_video.journal import Journal


def _job(key: str) -> VideoJob:
    return VideoJob(idempotency_key=key, model="m", status="COMPLETED", queue_id=f"q-{key}")


async def test_a_followed_job_reports_progress_then_ends_with_its_job() -> None:
    gate = anyio.Event()
    changes: list[str] = []

    async def finish(key: str, report: Callable[[Progress], None]) -> VideoJob:
        report(Progress(phase="processing", status="PROCESSING", elapsed_s=0.0, eta_s=3.0))
        await gate.wait()
        return _job(key)

    follower = Follower(finish, on_change=changes.append, clock=lambda: 5.0)
    async with follower.running():
        followed = follower.follow("k1", output=Path("/tmp/a.mp4"))
        await followed.seen.wait()
        assert follower.is_driving("k1") and followed.progress is not None
        assert follower.taken_outputs() == {Path("/tmp/a.mp4")}
        assert follower.follow("k1") is followed  # one driver per job
        gate.set()
        assert await follower.wait("k1", 5.0)
    assert followed.job is not None and followed.job.queue_id == "q-k1"
    assert followed.error is None and not followed.running
    assert changes.count("k1") >= 2  # the progress report and the end


async def test_a_deadline_does_not_stop_following_and_errors_are_kept() -> None:
    calls: list[int] = []
    ended: list[Any] = []

    async def finish(key: str, report: Callable[[Progress], None]) -> VideoJob:
        calls.append(1)
        if len(calls) < 3:
            raise JobTimeoutError("not yet", job_id=key, timeout=1.0)
        raise JobFailedError("the API reported FAILED")

    async def on_end(followed: Any) -> None:
        ended.append(followed.error)

    follower = Follower(finish, on_end=on_end)
    async with follower.running():
        follower.follow("k2")
        assert await follower.wait("k2", 5.0)
    assert len(calls) == 3
    assert isinstance(follower.followed["k2"].error, JobFailedError)
    assert len(ended) == 1 and isinstance(ended[0], JobFailedError)


async def test_following_needs_the_follower_running() -> None:
    async def finish(key: str, report: Callable[[Progress], None]) -> VideoJob:
        return _job(key)

    with pytest.raises(RuntimeError, match="not running"):
        Follower(finish).follow("k")


def test_a_job_without_a_queue_id_is_never_followed(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite3") as journal:
        entry = journal.record_intent(
            key="k", model="m", base_url="http://h/api/v1", request={"model": "m"},
            quote_usd=0.1, output_path=str(tmp_path / "v.mp4"), tags=None,
        )  # fmt: skip
        assert can_follow(entry) == (
            False,
            "whether the job was created is unknown; check the account first",
        )
        queued = journal.record_queued("k", queue_id="q", download_url=None)
        assert can_follow(queued) == (True, None)
        done = journal.update("k", status="COMPLETED")
        assert can_follow(done)[0] is False
