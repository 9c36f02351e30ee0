"""The async driver on the scripted fake API: the same decisions as the sync client.

The decisions are shared code (see `test_client_edges.py` for all of them); these check
that the async driver performs the effects the same way: errors thrown into the flow,
bodies streamed and resumed, sleeps and cancellation awaited.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from sdk_helpers import FakeAPI, FakeClock, json_response, processing, video_response

from venice_video import (
    AsyncVeniceVideo,
    JobCancelledError,
    QueueOutcomeUnknownError,
    RetryPolicy,
)
from venice_video._catalog import bundled_catalog
from venice_video.journal import Journal

MODEL = "wan-2-7-text-to-video"
REQUEST: dict[str, Any] = {"model": MODEL, "prompt": "a cat", "duration": "5s"}
QUEUED = {"model": MODEL, "queue_id": "q-1"}
DOWNLOAD_URL = "https://cdn.fake.test/videos/q-1.mp4"


class _DroppingStream(httpx.AsyncByteStream):
    def __init__(self, data: bytes) -> None:
        self.data = data

    async def __aiter__(self) -> Any:
        yield self.data
        raise httpx.ReadError("connection reset by peer")


def async_client(api: FakeAPI, clock: FakeClock, tmp_path: Path, **kw: Any) -> AsyncVeniceVideo:
    async def handler(request: httpx.Request) -> httpx.Response:
        await request.aread()
        return api(request)

    options: dict[str, Any] = {
        "api_key": "test-key",
        "base_url": "http://fake.test/api/v1",
        "journal": tmp_path / "journal.sqlite3",
        "cache_dir": False,
        "catalog": bundled_catalog(),
        "transport": httpx.MockTransport(handler),
        "sleep": clock.asleep,
        "clock": clock,
        "rand": random.Random(1).random,
        "retry": RetryPolicy(max_attempts=4),
    }
    options.update(kw)
    return AsyncVeniceVideo(**options)


@pytest.fixture
def api() -> FakeAPI:
    return FakeAPI().on("/video/quote", json_response(200, {"quote": 0.35}))


async def test_queue_timeout_raises_outcome_unknown_and_never_resends(
    api: FakeAPI, tmp_path: Path
) -> None:
    api.on("/video/queue", httpx.ReadTimeout("timed out"))
    async with async_client(api, FakeClock(), tmp_path) as client:
        with pytest.raises(QueueOutcomeUnknownError):
            await client.submit(**REQUEST, idempotency_key="key-1")
    assert len(api.calls("/video/queue")) == 1
    with Journal(tmp_path / "journal.sqlite3") as journal:
        entry = journal.get("key-1")
    assert entry is not None and entry.status == "UNKNOWN"


async def test_download_url_resumes_with_range_after_a_drop_and_sends_no_key(
    api: FakeAPI, tmp_path: Path, tiny_mp4: bytes
) -> None:
    cut = len(tiny_mp4) // 2

    def first(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            headers={"content-type": "video/mp4", "content-length": str(len(tiny_mp4))},
            stream=_DroppingStream(tiny_mp4[:cut]),
        )

    def rest(request: httpx.Request) -> httpx.Response:
        assert request.headers["range"] == f"bytes={cut}-"
        total = len(tiny_mp4)
        return video_response(
            tiny_mp4[cut:], 206, **{"content-range": f"bytes {cut}-{total - 1}/{total}"}
        )

    api.on("/video/queue", json_response(200, {**QUEUED, "download_url": DOWNLOAD_URL}))
    done = {"status": "COMPLETED", "average_execution_time": 1, "execution_duration": 1}
    api.on("/video/retrieve", json_response(200, done))
    api.on(DOWNLOAD_URL, first, rest, httpx.Response(204))
    api.on("/video/complete", json_response(200, {"success": True}))
    async with async_client(api, FakeClock(), tmp_path) as client:
        job = await client.generate(**REQUEST, output=tmp_path / "v.mp4")
    downloads = [r for r in api.requests if r.url.host == "cdn.fake.test"]
    assert [r.method for r in downloads] == ["GET", "GET"]
    assert all("authorization" not in r.headers for r in downloads)
    assert (tmp_path / "v.mp4").read_bytes() == tiny_mp4
    assert job.status == "COMPLETED"


async def test_an_anyio_event_cancels_the_wait_and_keeps_the_job(
    api: FakeAPI, tmp_path: Path
) -> None:
    api.on("/video/queue", json_response(200, QUEUED))
    api.on("/video/retrieve", processing(average_ms=60_000, execution_ms=1_000))
    cancel = anyio.Event()
    async with async_client(api, FakeClock(), tmp_path) as client:
        job = await client.submit(**REQUEST)

        def stop_after_two(progress: Any) -> None:
            if len(api.calls("/video/retrieve")) >= 2:
                cancel.set()

        with pytest.raises(JobCancelledError):
            await client.wait(job, cancel=cancel, on_progress=stop_after_two)
        assert [j.queue_id for j in await client.jobs(unfinished=True)] == ["q-1"]


async def test_a_cancelled_task_leaves_the_job_resumable(
    api: FakeAPI, tmp_path: Path, tiny_mp4: bytes
) -> None:
    api.on("/video/queue", json_response(200, QUEUED))
    api.on("/video/retrieve", processing())
    async with async_client(api, FakeClock(), tmp_path) as client:
        with anyio.CancelScope() as scope:
            # The task is cancelled at its next await, as a timeout or a Ctrl+C would.
            await client.generate(
                **REQUEST,
                idempotency_key="key-t",
                output=tmp_path / "t.mp4",
                on_progress=lambda p: scope.cancel() if p.phase == "processing" else None,
            )
        assert scope.cancelled_caught
        api.on("/video/retrieve", video_response(tiny_mp4))
        api.on("/video/complete", json_response(200, {"success": True}))
        (resumed,) = await client.resume()
    assert resumed.status == "COMPLETED"
    assert (tmp_path / "t.mp4").read_bytes() == tiny_mp4
    assert len(api.calls("/video/queue")) == 1
