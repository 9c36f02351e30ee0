"""The HTTP client a venice-video client makes for itself: it reads cookies only from
responses that set one, and still keeps and sends back those it is given
(`_http.own_client`); it keeps an idle connection for a minute (`CLIENT_LIMITS`); its
requests are built from headers merged once, as `build_request` would build them."""

from __future__ import annotations

import http.cookiejar
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpcore._async.http11 as async_http11
import httpcore._backends.anyio as anyio_backend
import httpcore._backends.sync as sync_backend
import httpcore._sync.http11 as http11
import httpx
import pytest
from sdk_helpers import BASE_URL, FakeAPI, FakeClock, json_response, mock_client

from venice_video import AsyncVeniceVideo, VeniceVideo
from venice_video._catalog import bundled_catalog
from venice_video._http import own_client
from venice_video.server import ServerThread

QUOTE = {"model": "wan-2-7-text-to-video", "duration": "5s"}


@pytest.fixture
def jar_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URLs whose responses went through `http.cookiejar`."""
    reads: list[str] = []
    original = http.cookiejar.CookieJar.extract_cookies

    def counted(self: http.cookiejar.CookieJar, response: object, request: object) -> None:
        reads.append(request.get_full_url())  # type: ignore[attr-defined]
        original(self, response, request)  # type: ignore[arg-type]

    monkeypatch.setattr(http.cookiejar.CookieJar, "extract_cookies", counted)
    return reads


def test_a_cookie_set_is_kept_and_sent_back_and_other_answers_skip_the_jar(
    jar_reads: list[str],
) -> None:
    sent: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers.get("cookie"))
        if request.url.path == "/set":
            return httpx.Response(200, headers={"set-cookie": "cf=abc; Path=/"})
        return httpx.Response(200, json={"ok": True})

    with own_client(httpx.Client, timeout=5.0, transport=httpx.MockTransport(answer)) as http:
        http.get("https://h.test/plain")
        http.get("https://h.test/set")
        http.get("https://h.test/plain")
    assert sent == [None, None, "cf=abc"]
    assert jar_reads == ["https://h.test/set"]
    assert dict(http.cookies) == {"cf": "abc"}


def test_a_client_given_by_the_caller_is_left_as_it_is(
    tmp_path: Path, jar_reads: list[str]
) -> None:
    api = FakeAPI().on("/video/quote", json_response(200, {"quote": 0.5}))
    with httpx.Client(transport=api.transport()) as http:
        before = http.cookies
        with mock_client(api, FakeClock(), tmp_path, http_client=http) as client:
            client.quote(**QUOTE)  # type: ignore[arg-type]
        assert type(http.cookies) is httpx.Cookies and http.cookies is before
    assert jar_reads == [f"{BASE_URL}/video/quote"]


@pytest.mark.parametrize("twin", [VeniceVideo, AsyncVeniceVideo])
@pytest.mark.parametrize("authenticated", [True, False])
def test_requests_built_from_headers_merged_once_are_those_build_request_makes(
    twin: type[VeniceVideo] | type[AsyncVeniceVideo], authenticated: bool
) -> None:
    client = twin(api_key="test-key", base_url=BASE_URL, journal=False, cache_dir=False)
    body = {"model": "m", "queue_id": "q-1", "prompt": "ünïcode"}
    fast = client._build("POST", "/video/retrieve", json=body, authenticated=authenticated)
    # Any header of the caller's own takes the general way, through `build_request`.
    general = client._build(
        "POST", "/video/retrieve", json=body, headers={}, authenticated=authenticated
    )
    again = client._build("POST", "/video/retrieve", json=body, authenticated=authenticated)
    for request in (fast, again):
        assert request.headers.multi_items() == general.headers.multi_items()
        assert (request.method, request.url, request.content) == (
            general.method,
            general.url,
            general.content,
        )
        assert request.extensions == general.extensions
    assert ("authorization" in fast.headers) is authenticated
    fast.headers["x-changed"] = "1"  # a request's headers are its own
    assert "x-changed" not in again.headers
    assert "x-changed" not in client._build("POST", "/video/retrieve", json=body).headers


def _quotes_setting_a_cookie_once() -> FakeAPI:
    quote = json_response(200, {"quote": 0.5})
    with_cookie = json_response(200, {"quote": 0.5}, {"set-cookie": "cf=abc; Path=/"})
    return FakeAPI().on("/video/quote", quote, with_cookie, quote)


def test_the_client_made_by_venice_video_skips_the_jar_and_keeps_a_set_cookie(
    tmp_path: Path, jar_reads: list[str]
) -> None:
    api = _quotes_setting_a_cookie_once()
    with mock_client(api, FakeClock(), tmp_path, quote_max_age=0) as client:
        for _ in range(3):
            assert client.quote(**QUOTE).quote == 0.5  # type: ignore[arg-type]
    assert [r.headers.get("cookie") for r in api.calls("/video/quote")] == [None, None, "cf=abc"]
    assert len(jar_reads) == 1


async def test_the_async_twin_does_the_same(tmp_path: Path, jar_reads: list[str]) -> None:
    api = _quotes_setting_a_cookie_once()

    async def handler(request: httpx.Request) -> httpx.Response:
        await request.aread()
        return api(request)

    async with AsyncVeniceVideo(
        api_key="test-key", base_url=BASE_URL, journal=False, cache_dir=False,
        catalog=bundled_catalog(), transport=httpx.MockTransport(handler), quote_max_age=0,
    ) as client:  # fmt: skip
        for _ in range(3):
            assert (await client.quote(**QUOTE)).quote == 0.5  # type: ignore[arg-type]
    assert [r.headers.get("cookie") for r in api.calls("/video/quote")] == [None, None, "cf=abc"]
    assert len(jar_reads) == 1


@pytest.fixture
def pool_clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The connection pools' clock, faked: nothing waits."""
    now = [1000.0]
    fake = SimpleNamespace(monotonic=lambda: now[0])
    monkeypatch.setattr(http11, "time", fake)
    monkeypatch.setattr(async_http11, "time", fake)
    return now


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The hosts each TCP connection opened went to, by either twin."""
    opened: list[str] = []
    sync_connect = sync_backend.SyncBackend.connect_tcp
    async_connect = anyio_backend.AnyIOBackend.connect_tcp

    def counted(self: Any, host: str, *args: Any, **kwargs: Any) -> Any:
        opened.append(host)
        return sync_connect(self, host, *args, **kwargs)

    async def acounted(self: Any, host: str, *args: Any, **kwargs: Any) -> Any:
        opened.append(host)
        return await async_connect(self, host, *args, **kwargs)

    monkeypatch.setattr(sync_backend.SyncBackend, "connect_tcp", counted)
    monkeypatch.setattr(anyio_backend.AnyIOBackend, "connect_tcp", acounted)
    return opened


def test_an_idle_connection_is_reused_for_a_minute_then_replaced(
    server: ServerThread, api_key: str, pool_clock: list[float], connects: list[str]
) -> None:
    """Polls further apart than httpx's 5 s keep the connection; over TLS each new one would
    cost a handshake."""
    with VeniceVideo(
        api_key=api_key, base_url=server.base_url, journal=False, cache_dir=False,
        catalog=bundled_catalog(), quote_max_age=0,
    ) as client:  # fmt: skip
        client.quote(**QUOTE)  # type: ignore[arg-type]
        pool_clock[0] += 45  # idle 45 s: kept
        client.quote(**QUOTE)  # type: ignore[arg-type]
        assert len(connects) == 1
        pool_clock[0] += 61  # idle over a minute: a new connection
        client.quote(**QUOTE)  # type: ignore[arg-type]
    assert connects == ["127.0.0.1", "127.0.0.1"]


async def test_the_async_twin_keeps_an_idle_connection_as_long(
    server: ServerThread, api_key: str, pool_clock: list[float], connects: list[str]
) -> None:
    async with AsyncVeniceVideo(
        api_key=api_key, base_url=server.base_url, journal=False, cache_dir=False,
        catalog=bundled_catalog(), quote_max_age=0,
    ) as client:  # fmt: skip
        await client.quote(**QUOTE)  # type: ignore[arg-type]
        pool_clock[0] += 45
        await client.quote(**QUOTE)  # type: ignore[arg-type]
        assert len(connects) == 1
        pool_clock[0] += 61
        await client.quote(**QUOTE)  # type: ignore[arg-type]
    assert connects == ["127.0.0.1", "127.0.0.1"]
