"""Jobs of one shape share a recent quote: one `/video/quote` for many jobs, never an old one.

The decisions on a fake clock and a scripted API; the single flight against the local server
over real HTTP, its quote answer slowed down so that the jobs overlap it for certain.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from sdk_helpers import FakeAPI, FakeClock, PathCounter, json_response, mock_client

from venice_video import AsyncVeniceVideo, VeniceVideo
from venice_video.journal import Journal

REQUEST: dict[str, Any] = {
    "model": "wan-2-7-text-to-video",
    "prompt": "a gondola at dawn",
    "duration": "5s",
    "resolution": "720p",
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def api() -> FakeAPI:
    queued = iter(range(1000))

    def queue(_: httpx.Request) -> httpx.Response:
        return json_response(200, {"model": REQUEST["model"], "queue_id": f"q{next(queued)}"})

    return (
        FakeAPI().on("/video/quote", json_response(200, {"quote": 0.35})).on("/video/queue", queue)
    )


def costs(tmp_path: Path) -> list[float | None]:
    with Journal(tmp_path / "journal.sqlite3") as journal:
        return [e.quote_usd for e in journal.list()]


def test_jobs_of_one_shape_share_a_recent_quote(
    api: FakeAPI, clock: FakeClock, tmp_path: Path
) -> None:
    with mock_client(api, clock, tmp_path) as client:
        for n in range(3):
            client.submit(**{**REQUEST, "prompt": f"shot {n}"})  # the prompt is not priced
        assert len(api.calls("/video/quote")) == 1
        clock.now += 59.0
        client.submit(**REQUEST)
        assert len(api.calls("/video/quote")) == 1
        clock.now += 1.0  # 60 s after it was quoted: too old
        client.submit(**REQUEST)
    assert len(api.calls("/video/quote")) == 2
    assert len(api.calls("/video/queue")) == 5
    assert costs(tmp_path) == [0.35] * 5


def test_another_shape_is_quoted_for_itself(api: FakeAPI, clock: FakeClock, tmp_path: Path) -> None:
    api.on(
        "/video/quote",
        lambda r: json_response(200, {"quote": 0.7 if b'"10s"' in r.content else 0.35}),
    )
    with mock_client(api, clock, tmp_path) as client:
        five = client.submit(**REQUEST)
        ten = client.submit(**{**REQUEST, "duration": "10s"})
        again = client.submit(**{**REQUEST, "duration": "10s"})
    assert len(api.calls("/video/quote")) == 2
    assert (five.quote_usd, ten.quote_usd, again.quote_usd) == (0.35, 0.7, 0.7)


def test_a_max_age_of_zero_quotes_every_job(api: FakeAPI, clock: FakeClock, tmp_path: Path) -> None:
    with mock_client(api, clock, tmp_path, quote_max_age=0) as client:
        for _ in range(3):
            client.submit(**REQUEST)
    assert len(api.calls("/video/quote")) == 3


def test_a_negative_max_age_is_refused(api: FakeAPI, clock: FakeClock, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="quote_max_age"):
        mock_client(api, clock, tmp_path, quote_max_age=-1)
    assert api.requests == []


def test_a_failed_quote_is_not_kept(api: FakeAPI, clock: FakeClock, tmp_path: Path) -> None:
    api.on(
        "/video/quote",
        json_response(400, {"error": "bad duration"}),
        json_response(200, {"quote": 0.35}),
    )
    with mock_client(api, clock, tmp_path) as client:
        with pytest.raises(Exception, match="bad duration"):
            client.submit(**REQUEST)
        job = client.submit(**REQUEST)
    assert len(api.calls("/video/quote")) == 2
    assert job.quote_usd == 0.35
    assert len(api.calls("/video/queue")) == 1


def test_the_cap_is_checked_against_the_shared_price(
    api: FakeAPI, clock: FakeClock, tmp_path: Path
) -> None:
    with mock_client(api, clock, tmp_path) as client:
        client.submit(**REQUEST, max_cost=1.0)
        with pytest.raises(Exception, match="0.35"):
            client.submit(**REQUEST, max_cost=0.30)
    assert len(api.calls("/video/quote")) == 1
    assert len(api.calls("/video/queue")) == 1


def test_an_explicit_quote_always_asks_and_is_shared(
    api: FakeAPI, clock: FakeClock, tmp_path: Path
) -> None:
    api.on(
        "/video/quote",
        json_response(200, {"quote": 0.35}),
        json_response(200, {"quote": 0.40}),
    )
    with mock_client(api, clock, tmp_path) as client:
        first = client.quote(REQUEST["model"], duration="5s", resolution="720p")
        second = client.quote(REQUEST["model"], duration="5s", resolution="720p")
        job = client.submit(**REQUEST)
    assert (first.quote, second.quote) == (0.35, 0.40)
    assert len(api.calls("/video/quote")) == 2
    assert job.quote_usd == 0.40  # the newest price, without asking a third time


# --------------------------------------------------------------------------- one flight

SLOW_QUOTE = {"endpoints": {"quote": {"slow_body_s": 0.1, "slow_chunks": 3}}}
JOBS = 8


@pytest.fixture
def slow_server(server_factory: Any) -> Any:
    return server_factory(faults=SLOW_QUOTE)


def test_jobs_started_at_once_share_one_quote_sync(
    slow_server: Any, api_key: str, tmp_path: Path
) -> None:
    counter = PathCounter("/video/quote")
    http = httpx.Client(event_hooks={"request": [counter]}, timeout=30)
    with (
        http,
        VeniceVideo(
            api_key=api_key, base_url=slow_server.base_url, journal=tmp_path / "j.sqlite3",
            cache_dir=False, http_client=http,
        ) as client,
        ThreadPoolExecutor(JOBS) as pool,
    ):  # fmt: skip
        client.models()
        jobs = list(pool.map(lambda n: client.submit(**REQUEST, output=tmp_path), range(JOBS)))
    assert counter.count == 1
    assert len({j.queue_id for j in jobs}) == JOBS
    assert len({j.quote_usd for j in jobs}) == 1 and jobs[0].quote_usd is not None


def test_jobs_started_at_once_share_one_quote_async(
    slow_server: Any, api_key: str, tmp_path: Path
) -> None:
    counter = PathCounter("/video/quote")

    async def main() -> list[Any]:
        http = httpx.AsyncClient(event_hooks={"request": [counter.hook]}, timeout=30)
        async with (
            http,
            AsyncVeniceVideo(
                api_key=api_key, base_url=slow_server.base_url,
                journal=tmp_path / "j.sqlite3", cache_dir=False, http_client=http,
            ) as client,
        ):  # fmt: skip
            await client.models()
            jobs: list[Any] = []

            async def one() -> None:
                jobs.append(await client.submit(**REQUEST, output=tmp_path))

            async with anyio.create_task_group() as tg:
                for _ in range(JOBS):
                    tg.start_soon(one)
            return jobs

    jobs = anyio.run(main)
    assert counter.count == 1
    assert len({j.queue_id for j in jobs}) == JOBS
