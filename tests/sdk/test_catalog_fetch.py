"""One catalog fetch per client: concurrent callers share it, and the disk cache is honoured.

Against the local server over real HTTP; its `/models` answer is slowed down so that the
callers overlap the fetch for certain.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from sdk_helpers import PathCounter

from venice_video import AsyncVeniceVideo, VeniceVideo

SLOW_MODELS = {"endpoints": {"models": {"slow_body_s": 0.1, "slow_chunks": 3}}}
CALLERS = 20


@pytest.fixture
def slow_server(server_factory: Any) -> Any:
    return server_factory(faults=SLOW_MODELS)


def sync_fetches(server: Any, api_key: str, cache_dir: Path | bool) -> int:
    counter = PathCounter("/models")
    http = httpx.Client(event_hooks={"request": [counter]}, timeout=30)
    with (
        http,
        VeniceVideo(
            api_key=api_key,
            base_url=server.base_url,
            journal=False,
            cache_dir=cache_dir,  # type: ignore[arg-type]
            http_client=http,
        ) as client,
        ThreadPoolExecutor(CALLERS) as pool,
    ):
        catalogs = list(pool.map(lambda _: client.models(), range(CALLERS)))
    assert all(c is catalogs[0] for c in catalogs)
    assert len(catalogs[0]) > 0
    return counter.count


def async_fetches(server: Any, api_key: str, cache_dir: Path | bool) -> int:
    counter = PathCounter("/models")

    async def main() -> list[Any]:
        http = httpx.AsyncClient(event_hooks={"request": [counter.hook]}, timeout=30)
        async with (
            http,
            AsyncVeniceVideo(
                api_key=api_key,
                base_url=server.base_url,
                journal=False,
                cache_dir=cache_dir,  # type: ignore[arg-type]
                http_client=http,
            ) as client,
        ):
            catalogs: list[Any] = []

            async def one() -> None:
                catalogs.append(await client.models())

            async with anyio.create_task_group() as tg:
                for _ in range(CALLERS):
                    tg.start_soon(one)
            return catalogs

    catalogs = anyio.run(main)
    assert len(catalogs) == CALLERS and all(c is catalogs[0] for c in catalogs)
    return counter.count


@pytest.mark.parametrize("twin", [sync_fetches, async_fetches], ids=["sync", "async"])
def test_concurrent_callers_share_one_fetch(slow_server: Any, api_key: str, twin: Any) -> None:
    assert twin(slow_server, api_key, False) == 1


@pytest.mark.parametrize("twin", [sync_fetches, async_fetches], ids=["sync", "async"])
def test_the_disk_cache_is_honoured(
    slow_server: Any, api_key: str, twin: Any, tmp_path: Path
) -> None:
    assert twin(slow_server, api_key, tmp_path) == 1  # fetched once, and written
    assert list(tmp_path.glob("models-video-*.json"))
    assert twin(slow_server, api_key, tmp_path) == 0  # a fresh client reads the file


def test_a_refresh_fetches_again_once(slow_server: Any, api_key: str) -> None:
    counter = PathCounter("/models")
    http = httpx.Client(event_hooks={"request": [counter]}, timeout=30)
    with (
        http,
        VeniceVideo(
            api_key=api_key,
            base_url=slow_server.base_url,
            journal=False,
            cache_dir=False,
            http_client=http,
        ) as client,
    ):
        client.models()
        client.models()
        assert counter.count == 1
        with ThreadPoolExecutor(5) as pool:
            list(pool.map(lambda _: client.models(refresh=True), range(5)))
        assert 2 <= counter.count <= 6  # refreshes overlapping one in flight join it
