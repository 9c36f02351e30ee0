"""The model catalog cache: fresh within its TTL, stale as a fallback, bundled as a last resort."""

from __future__ import annotations

from pathlib import Path

import httpx

from venice_video import VeniceVideo
from venice_video._catalog import bundled_catalog
from venice_video._modelcache import ModelCache

URL = "http://fake.test/api/v1"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def payload(*ids: str) -> dict[str, object]:
    catalog = bundled_catalog().to_api()
    catalog["data"] = [m for m in catalog["data"] if m["id"] in ids]
    return catalog


def test_a_fresh_copy_is_used_and_an_old_one_only_when_allowed(tmp_path: Path) -> None:
    clock = Clock()
    cache = ModelCache(tmp_path, ttl=60, clock=clock)
    cache.store(URL, payload("wan-2-7-text-to-video"))
    assert cache.load(URL) is not None
    clock.now += 61
    assert cache.load(URL) is None
    stale = cache.load(URL, allow_stale=True)
    assert stale is not None and stale.ids == ("wan-2-7-text-to-video",)
    assert cache.load("http://other.test/api/v1") is None


def test_a_corrupt_file_is_ignored(tmp_path: Path) -> None:
    cache = ModelCache(tmp_path)
    cache.path_for(URL).write_text("{not json")
    assert cache.load(URL, allow_stale=True) is None


def test_models_fetches_once_then_reads_the_disk_cache(tmp_path: Path) -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json=payload("wan-2-7-text-to-video"))

    for _ in range(2):
        with VeniceVideo(
            api_key="k",
            base_url=URL,
            journal=False,
            cache_dir=tmp_path,
            transport=httpx.MockTransport(handler),
        ) as client:
            assert client.models().ids == ("wan-2-7-text-to-video",)
    assert len(calls) == 1
    assert calls[0].url.params["type"] == "video"


def test_models_falls_back_to_a_stale_copy_then_the_bundled_snapshot(tmp_path: Path) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("no route")

    ModelCache(tmp_path, clock=lambda: 0.0).store(URL, payload("wan-2-7-text-to-video"))
    with VeniceVideo(
        api_key="k",
        base_url=URL,
        journal=False,
        cache_dir=tmp_path,
        transport=httpx.MockTransport(down),
        sleep=lambda s: None,
    ) as client:
        assert client.models().ids == ("wan-2-7-text-to-video",)
    with VeniceVideo(
        api_key="k",
        base_url=URL,
        journal=False,
        cache_dir=False,
        transport=httpx.MockTransport(down),
        sleep=lambda s: None,
    ) as client:
        assert len(client.models()) == len(bundled_catalog())
