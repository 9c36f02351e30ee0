"""Input fetching: data: URLs, SSRF refusals before any connection, limits, redirects."""

from __future__ import annotations

import base64
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anyio
import httpx
import pytest

from venice_video.server._fetch import (
    Fetcher,
    FetchError,
    FetchPolicy,
    decode_data_url,
    fetch_input,
    is_safe_public_host,
)

PNG_HEAD = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
PUBLIC_IP = "93.184.216.34"


class RecordingTransport(httpx.AsyncBaseTransport):
    """Answers from a script of responses and records every request that reached it."""

    def __init__(self, *responses: httpx.Response) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.responses:
            raise AssertionError(f"unexpected request to {request.url}")
        return self.responses.pop(0)


async def public_resolver(host: str, port: int) -> list[str]:
    return [PUBLIC_IP]


def policy(**kwargs: object) -> FetchPolicy:
    return FetchPolicy(**kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# data: URLs


def test_decode_data_url_returns_mime_and_bytes_for_base64() -> None:
    url = "data:image/png;base64," + base64.b64encode(PNG_HEAD).decode()
    assert decode_data_url(url, max_bytes=1000) == ("image/png", PNG_HEAD)


def test_decode_data_url_accepts_urlsafe_unpadded_base64_with_whitespace() -> None:
    raw = b"\xfb\xff\xfe"  # encodes to '+//+' in standard base64, '-__-' URL-safe
    assert decode_data_url("data:application/x-thing;base64,-_\n_-", max_bytes=10) == (
        "application/x-thing",
        raw,
    )
    assert decode_data_url("DATA:audio/wav;BASE64,AAE", max_bytes=10) == ("audio/wav", b"\x00\x01")


def test_decode_data_url_percent_decodes_plain_payloads_and_defaults_to_text_plain() -> None:
    assert decode_data_url("data:,hello%20world", max_bytes=100) == ("text/plain", b"hello world")
    assert decode_data_url("data:Text/HTML;charset=utf-8,%3Cb%3E", max_bytes=100) == (
        "text/html",
        b"<b>",
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("data:image/png;base64", "no ','"),
        ("data:image/png;base64,@@@@", "base64 payload is not valid"),
        ("data:png;base64,AAAA", "not type/subtype"),
        ("http://example.invalid/", "not a data: URL"),
    ],
)
def test_decode_data_url_rejects_malformed_urls(url: str, message: str) -> None:
    with pytest.raises(FetchError, match=message):
        decode_data_url(url, max_bytes=1000)


def test_decode_data_url_rejects_payload_over_the_limit_before_decoding() -> None:
    # Invalid base64 far over the limit: the size check must fire before validation does.
    url = "data:video/mp4;base64," + "!" * 4000
    with pytest.raises(FetchError, match="larger than the 1 KiB limit"):
        decode_data_url(url, max_bytes=1024)
    with pytest.raises(FetchError, match="larger than the 10 bytes limit"):
        decode_data_url("data:text/plain," + "a" * 11, max_bytes=10)


async def test_fetch_input_decodes_data_urls_and_names_the_field_on_error() -> None:
    url = "data:image/png;base64," + base64.b64encode(PNG_HEAD).decode()
    assert await fetch_input(url, policy=FetchPolicy()) == ("image/png", PNG_HEAD)
    with pytest.raises(FetchError) as info:
        await fetch_input("data:image/png;base64,%%%", policy=FetchPolicy(), field="image_url")
    assert info.value.field == "image_url"
    assert str(info.value).startswith("image_url: malformed data: URL")


# --------------------------------------------------------------------------------------------
# Refusals that must happen before any connection


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.invalid/x.png",
        "gopher://example.invalid/",
        "javascript:alert(1)",
    ],
)
async def test_fetch_input_refuses_non_http_schemes_without_connecting(url: str) -> None:
    transport = RecordingTransport()
    with pytest.raises(FetchError, match="unsupported URL scheme"):
        await fetch_input(url, policy=FetchPolicy(), field="image_url", transport=transport)
    assert transport.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://localhost/",
        "http://127.0.0.1:8080/",
        "http://[::1]/",
        "http://[::ffff:10.0.0.1]/",
        "http://0.0.0.0/",
        "http://100.64.0.1/",
        "https://192.168.1.1/x.mp4",
        "http://2130706433/",  # 127.0.0.1 as one decimal number
        "http://0x7f000001/",
        "http://127.1/",
    ],
)
async def test_fetch_input_refuses_internal_addresses_without_connecting(url: str) -> None:
    transport = RecordingTransport()
    with pytest.raises(FetchError, match="not a public internet address") as info:
        await fetch_input(url, policy=FetchPolicy(), field="video_url", transport=transport)
    assert transport.requests == []
    assert info.value.field == "video_url"


async def test_fetch_input_refuses_a_name_when_any_address_is_internal() -> None:
    async def split_horizon(host: str, port: int) -> list[str]:
        return [PUBLIC_IP, "10.1.2.3"]

    transport = RecordingTransport()
    with pytest.raises(FetchError, match=r"media\.example \(10\.1\.2\.3\)"):
        await fetch_input(
            "https://media.example/a.png",
            policy=FetchPolicy(),
            transport=transport,
            resolver=split_horizon,
        )
    assert transport.requests == []


async def test_fetch_input_refuses_urls_with_credentials_and_keeps_them_out_of_messages() -> None:
    transport = RecordingTransport()
    with pytest.raises(FetchError) as info:
        await fetch_input(
            "https://user:s3cret@media.example/a.png",
            policy=FetchPolicy(),
            transport=transport,
            resolver=public_resolver,
        )
    assert "credentials" in info.value.reason
    assert "s3cret" not in str(info.value)
    assert transport.requests == []


# --------------------------------------------------------------------------------------------
# Fetching through an injected transport


async def test_fetch_input_connects_to_the_checked_address_with_the_name_in_host() -> None:
    transport = RecordingTransport(
        httpx.Response(200, content=PNG_HEAD, headers={"content-type": "image/png; q=1"})
    )
    mime, data = await fetch_input(
        "https://media.example:8443/a.png?token=abc",
        policy=FetchPolicy(),
        transport=transport,
        resolver=public_resolver,
    )
    assert (mime, data) == ("image/png", PNG_HEAD)
    [request] = transport.requests
    assert request.url.host == PUBLIC_IP
    assert request.url.port == 8443
    assert request.url.query == b"token=abc"
    assert request.headers["host"] == "media.example:8443"
    assert request.extensions["sni_hostname"] == "media.example"
    assert "authorization" not in request.headers
    assert "cookie" not in request.headers


async def test_fetch_input_defaults_mime_to_octet_stream() -> None:
    transport = RecordingTransport(httpx.Response(200, content=b"abc"))
    mime, _ = await fetch_input(
        "http://media.example/x",
        policy=FetchPolicy(),
        transport=transport,
        resolver=public_resolver,
    )
    assert mime == "application/octet-stream"


async def test_fetch_input_refuses_redirect_to_internal_address_before_following_it() -> None:
    transport = RecordingTransport(
        httpx.Response(302, headers={"location": "http://169.254.169.254/latest/"}),
    )
    with pytest.raises(FetchError, match="169.254.169.254"):
        await fetch_input(
            "https://media.example/a.png",
            policy=FetchPolicy(),
            transport=transport,
            resolver=public_resolver,
        )
    assert len(transport.requests) == 1


async def test_fetch_input_refuses_redirect_to_file_scheme() -> None:
    transport = RecordingTransport(httpx.Response(301, headers={"location": "file:///etc/passwd"}))
    with pytest.raises(FetchError, match="unsupported URL scheme 'file'"):
        await fetch_input(
            "https://media.example/a.png",
            policy=FetchPolicy(),
            transport=transport,
            resolver=public_resolver,
        )
    assert len(transport.requests) == 1


async def test_fetch_input_does_not_carry_cookies_across_redirects() -> None:
    transport = RecordingTransport(
        httpx.Response(302, headers={"location": "/b.png", "set-cookie": "session=abc; Path=/"}),
        httpx.Response(200, content=b"ok"),
    )
    await fetch_input(
        "https://media.example/a.png",
        policy=FetchPolicy(),
        transport=transport,
        resolver=public_resolver,
    )
    assert [r.url.path for r in transport.requests] == ["/a.png", "/b.png"]
    assert "cookie" not in transport.requests[1].headers


async def test_fetch_input_stops_after_max_redirects() -> None:
    loops = [httpx.Response(302, headers={"location": f"/hop{k}"}) for k in range(5)]
    transport = RecordingTransport(*loops)
    with pytest.raises(FetchError, match=r"too many redirects \(more than 2\)"):
        await fetch_input(
            "https://media.example/start",
            policy=FetchPolicy(max_redirects=2),
            transport=transport,
            resolver=public_resolver,
        )
    assert len(transport.requests) == 3


async def test_fetch_input_rejects_declared_oversize_body_without_reading_it() -> None:
    async def body() -> AsyncIterator[bytes]:
        raise AssertionError("the body must not be read")
        yield b""  # pragma: no cover

    transport = RecordingTransport(
        httpx.Response(200, headers={"content-length": "5000"}, content=body())
    )
    with pytest.raises(FetchError, match="larger than the 1 KiB limit"):
        await fetch_input(
            "https://media.example/big.mp4",
            policy=FetchPolicy(max_bytes=1024),
            transport=transport,
            resolver=public_resolver,
        )


async def test_fetch_input_aborts_streaming_body_as_soon_as_limit_is_passed() -> None:
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        while True:
            sent += 1
            yield b"x" * 100

    transport = RecordingTransport(httpx.Response(200, content=endless()))
    with pytest.raises(FetchError, match="larger than the 1000 bytes limit"):
        await fetch_input(
            "https://media.example/stream",
            policy=FetchPolicy(max_bytes=1000),
            transport=transport,
            resolver=public_resolver,
        )
    assert sent == 11


async def test_fetch_input_reports_http_errors_with_status() -> None:
    transport = RecordingTransport(httpx.Response(404, content=b"nope"))
    with pytest.raises(FetchError, match="answered HTTP 404") as info:
        await fetch_input(
            "https://media.example/gone.png?sig=secret",
            policy=FetchPolicy(),
            field="image_url",
            transport=transport,
            resolver=public_resolver,
        )
    assert "secret" not in str(info.value)
    assert "https://media.example/gone.png" in str(info.value)


async def test_fetch_input_enforces_a_total_deadline() -> None:
    class Stalled(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            await anyio.sleep_forever()
            raise AssertionError("unreachable")

    with pytest.raises(FetchError, match="took longer than 0.05 s"):
        await fetch_input(
            "https://media.example/slow",
            policy=FetchPolicy(timeout_s=0.05),
            transport=Stalled(),
            resolver=public_resolver,
        )


async def test_fetch_input_reports_unresolvable_hosts() -> None:
    async def nxdomain(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(FetchError, match="could not be resolved"):
        await fetch_input("https://nowhere.example/", policy=FetchPolicy(), resolver=nxdomain)


# --------------------------------------------------------------------------------------------
# is_safe_public_host


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "[::1]",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:192.168.1.1",
        "::ffff:127.0.0.1",
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "::10.0.0.1",  # IPv4-compatible
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254
        "64:ff9b::808:808",  # NAT64, even of a public address
        "64:ff9b:1::a9fe:a9fe",  # local-use NAT64
        "::ffff:0:7f00:1",  # IPv4-translated
        "fec0::1",  # site-local
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo
        "2600::5efe:7f00:1",  # ISATAP interface id of 127.0.0.1
        "2600::200:5efe:a00:1",  # ISATAP (universal bit) of 10.0.0.1
        "ff0e::1",  # global multicast
        "localhost",
        "not a host name",
        "-bad-.example",
        "a" * 64 + ".example",
    ],
)
def test_is_safe_public_host_refuses_internal_addresses(host: str) -> None:
    assert is_safe_public_host(host) is False


@pytest.mark.parametrize(
    "host",
    ["8.8.8.8", PUBLIC_IP, "2606:4700:4700::1111", "[2001:4860::8888]",
     "2002:808:808::1", "2600::5efe:808:808"],
)  # fmt: skip
def test_is_safe_public_host_accepts_public_literals(host: str) -> None:
    assert is_safe_public_host(host) is True


def test_is_safe_public_host_allow_private_admits_loopback_but_not_multicast() -> None:
    assert is_safe_public_host("127.0.0.1", allow_private=True) is True
    assert is_safe_public_host("localhost", allow_private=True) is True
    assert is_safe_public_host("224.0.0.1", allow_private=True) is False


# --------------------------------------------------------------------------------------------
# A real loopback server


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/image.png":
            self._send(200, PNG_HEAD, "image/png")
        elif self.path.startswith("/hop/"):
            left = int(self.path.rsplit("/", 1)[1])
            self.send_response(302)
            self.send_header("Location", "/image.png" if left == 0 else f"/hop/{left - 1}")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/big":
            self._send(200, b"z" * 5000, "video/mp4")
        elif self.path == "/echo-auth":
            self._send(200, (self.headers.get("Authorization") or "none").encode(), "text/plain")
        else:
            self._send(404, b"missing", "text/plain")

    def _send(self, status: int, body: bytes, mime: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", mime)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def loopback() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


LOOPBACK = FetchPolicy(allow_private=True, timeout_s=5.0)


async def test_fetch_input_downloads_from_loopback_server_when_private_is_allowed(
    loopback: str,
) -> None:
    assert await fetch_input(f"{loopback}/image.png", policy=LOOPBACK) == ("image/png", PNG_HEAD)


async def test_fetch_input_refuses_loopback_server_by_default(loopback: str) -> None:
    with pytest.raises(FetchError, match="not a public internet address"):
        await fetch_input(f"{loopback}/image.png", policy=FetchPolicy())


async def test_fetch_input_follows_redirects_on_loopback_up_to_the_limit(loopback: str) -> None:
    assert await fetch_input(f"{loopback}/hop/2", policy=LOOPBACK) == ("image/png", PNG_HEAD)
    with pytest.raises(FetchError, match="too many redirects"):
        await fetch_input(f"{loopback}/hop/3", policy=LOOPBACK)


async def test_fetch_input_on_loopback_reports_404_and_oversize(loopback: str) -> None:
    with pytest.raises(FetchError, match="HTTP 404"):
        await fetch_input(f"{loopback}/nothing", policy=LOOPBACK)
    small = FetchPolicy(allow_private=True, max_bytes=4096, timeout_s=5.0)
    with pytest.raises(FetchError, match="larger than the 4 KiB limit"):
        await fetch_input(f"{loopback}/big", policy=small)


async def test_fetch_input_sends_no_authorization_header(loopback: str) -> None:
    assert await fetch_input(f"{loopback}/echo-auth", policy=LOOPBACK) == ("text/plain", b"none")


async def test_fetch_input_resolves_localhost_when_private_is_allowed(loopback: str) -> None:
    port = loopback.rsplit(":", 1)[1]
    url = f"http://localhost:{port}/image.png"
    # localhost may resolve to ::1 first, where nothing listens: the next address is tried.
    assert await fetch_input(url, policy=LOOPBACK) == ("image/png", PNG_HEAD)


async def test_fetch_input_resolves_international_names_in_their_ascii_form() -> None:
    asked: list[str] = []

    async def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return [PUBLIC_IP]

    transport = RecordingTransport(httpx.Response(200, content=b"ok"))
    await fetch_input(
        "https://bücher.example/a.png", policy=FetchPolicy(), transport=transport, resolver=resolver
    )
    assert asked == ["xn--bcher-kva.example"]
    assert transport.requests[0].headers["host"] == "xn--bcher-kva.example"


# --------------------------------------------------------------------------------------------
# The Fetcher: one resolution per name in a session, checks before every connection


async def test_a_session_resolves_each_name_once_and_keeps_the_checked_answer() -> None:
    answers = iter([[PUBLIC_IP], ["127.0.0.1"]])
    asked: list[str] = []

    async def rebinding(host: str, port: int) -> list[str]:
        asked.append(host)
        return next(answers)

    transport = RecordingTransport(httpx.Response(200, content=b"a"), httpx.Response(200))
    session = Fetcher(resolver=rebinding, transport=transport).session()
    for _ in range(2):
        download = await session.open("https://media.example/a", max_bytes=10, timeout_s=5)
        await download.aclose()
    assert asked == ["media.example"]
    assert [r.url.host for r in transport.requests] == [PUBLIC_IP, PUBLIC_IP]


async def test_without_a_session_every_request_is_resolved_and_checked_again() -> None:
    answers = iter([[PUBLIC_IP], ["127.0.0.1"]])

    async def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    transport = RecordingTransport(httpx.Response(200, content=b"a"))
    fetcher = Fetcher(resolver=rebinding, transport=transport)
    await (await fetcher.open("https://media.example/a", max_bytes=10, timeout_s=5)).aclose()
    with pytest.raises(FetchError, match=r"media\.example \(127\.0\.0\.1\)"):
        await fetcher.open("https://media.example/a", max_bytes=10, timeout_s=5)
    assert len(transport.requests) == 1


async def test_open_returns_any_status_and_follows_a_303_with_a_get() -> None:
    transport = RecordingTransport(
        httpx.Response(303, headers={"location": "/next"}), httpx.Response(404, content=b"no")
    )
    fetcher = Fetcher(resolver=public_resolver, transport=transport)
    download = await fetcher.open(
        "https://media.example/form", method="POST", content=b"x=1", max_bytes=10, timeout_s=5,
        headers={"Authorization": "Bearer secret", "Cookie": "a=b", "X-Extra": "kept"},
    )  # fmt: skip
    assert (download.status, await download.read_all()) == (404, b"no")
    first, second = transport.requests
    assert (first.method, second.method, second.url.path) == ("POST", "GET", "/next")
    assert second.content == b""
    for request in transport.requests:
        assert "authorization" not in request.headers and "cookie" not in request.headers
        assert request.headers["x-extra"] == "kept"


async def test_a_download_stops_reading_at_its_limit() -> None:
    transport = RecordingTransport(httpx.Response(200, content=b"z" * 100))
    fetcher = Fetcher(resolver=public_resolver, transport=transport)
    download = await fetcher.open("https://media.example/big", max_bytes=10, timeout_s=5)
    with pytest.raises(FetchError, match="larger than the 10 bytes limit"):
        await download.read_all()
    assert download.closed
