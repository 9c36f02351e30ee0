"""Outside URLs, through real HTTP: the server's fetcher never reaches an internal address.

Two canary servers listen on the same port: one on 127.0.0.1 (an internal service that must
never be reached) and one on 127.0.0.2, which these tests make the address checks treat as a
public internet host. A patched resolver plays a DNS server for `rebind.test`, and every
outgoing connection to anything but 127.0.0.0/8 is refused and recorded, so nothing leaves the
machine whatever the server does.
"""

from __future__ import annotations

import ipaddress
import socket
import tempfile
import threading
from collections.abc import Iterator
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from _server_helpers import assert_error_shape, data_url, png

from speech_fixture import assert_mostly_heard
from venice_video.server import ServerThread
from venice_video.server import _stt as stt

SPEECH = Path(__file__).resolve().parents[1] / "fixtures" / "speech.wav"
PUBLIC = "127.0.0.2"
REFUSED = "not a public internet address"

needs_stt = pytest.mark.skipif(not stt.is_available(), reason="the [stt] extra is not installed")


@lru_cache(maxsize=1)
def speech_mp4() -> bytes:
    from venice_video.server._render import RenderSpec, render

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "talk.mp4"
        render(RenderSpec(96, 64, 4.0, audio_track=SPEECH.read_bytes(), caption=False), out)
        return out.read_bytes()


class Canary:
    """An HTTP server on one loopback address that records every request it gets."""

    def __init__(self, host: str, port: int, routes: dict[str, tuple[int, dict[str, str], bytes]]):
        self.requests: list[tuple[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append((self.path, self.headers.get("Host", "")))
                status, headers, body = routes.get(self.path, (404, {}, b"missing"))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_HEAD = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)


@pytest.fixture
def canaries() -> Iterator[tuple[Canary, Canary]]:
    """(internal canary on 127.0.0.1, "public" canary on 127.0.0.2), on the same port."""
    clip = (200, {"Content-Type": "video/mp4"}, speech_mp4())
    internal = Canary("127.0.0.1", 0, {"/clip.mp4": clip, "/secret.mp4": clip,
                                       "/secret.png": (200, {"Content-Type": "image/png"},
                                                       png(64, 64))})  # fmt: skip
    port = internal.port
    to_internal = f"http://127.0.0.1:{port}"
    page = f'<html><body><video src="{to_internal}/secret.mp4"></video></body></html>'
    public = Canary(
        PUBLIC,
        port,
        {
            "/clip.mp4": clip,
            "/redirect": (302, {"Location": f"{to_internal}/secret.mp4"}, b""),
            "/redirect.png": (302, {"Location": f"{to_internal}/secret.png"}, b""),
            "/page.html": (200, {"Content-Type": "text/html"}, page.encode()),
        },
    )
    yield internal, public
    public.close()
    internal.close()


@pytest.fixture
def pretend_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the address checks count 127.0.0.2 as a public internet address."""
    original = ipaddress.IPv4Address.is_global

    def is_global(self: ipaddress.IPv4Address) -> bool:
        return str(self) == PUBLIC or bool(original.fget(self))  # type: ignore[attr-defined]

    monkeypatch.setattr(ipaddress.IPv4Address, "is_global", property(is_global))


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every outgoing connection attempted; any outside 127.0.0.0/8 fails at once."""
    made: list[Any] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            made.append(address)
            if not str(address[0]).startswith("127."):
                raise OSError(101, f"test guard: no connection to {address[0]}")

    def connect(sock: socket.socket, address: Any) -> None:
        check(sock, address)
        real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        check(sock, address)
        return real_connect_ex(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    return made


@pytest.fixture
def rebinding_dns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """`rebind.test` answers 127.0.0.2 the first time it is asked, then 127.0.0.1."""
    real = socket.getaddrinfo
    answers: list[str] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in ("rebind.test", b"rebind.test"):
            address = PUBLIC if not answers else "127.0.0.1"
            answers.append(address)
            return real(address, port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


def _image_job(image_url: str) -> dict[str, Any]:
    return {"model": "wan-2.5-preview-image-to-video", "prompt": "a harbour", "duration": "5s",
            "resolution": "480p", "image_url": image_url}  # fmt: skip


def _balance(client: httpx.Client) -> str:
    return client.get("/models", params={"type": "video"}).headers["x-venice-balance-usd"]


@pytest.fixture
def client(server_factory: Any, api_key: str) -> Iterator[httpx.Client]:
    """A client of a fresh server with the default rule: public addresses only."""
    running: ServerThread = server_factory()
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=running.base_url, headers=headers, timeout=120) as http:
        yield http


# IPv6 forms that carry an internal IPv4 address (or lead into someone's network).
EMBEDDED = [
    "[2002:7f00:1::]",  # 6to4 of 127.0.0.1
    "[2002:a9fe:a9fe::]",  # 6to4 of 169.254.169.254
    "[64:ff9b::7f00:1]",  # NAT64 of 127.0.0.1
    "[64:ff9b:1::a9fe:a9fe]",  # local-use NAT64
    "[::127.0.0.1]",  # IPv4-compatible
    "[::ffff:127.0.0.1]",  # IPv4-mapped
    "[::ffff:0:7f00:1]",  # IPv4-translated
    "[fec0::1]",  # site-local
    "[2001:0:4136:e378:8000:63bf:80ff:fffe]",  # Teredo, client 127.0.0.1
    "[2600::5efe:7f00:1]",  # ISATAP interface id of 127.0.0.1
]


@pytest.mark.stt
@needs_stt
@pytest.mark.parametrize("host", EMBEDDED)
def test_transcription_refuses_ipv6_forms_of_internal_addresses_without_connecting(
    client: httpx.Client, connections: list[Any], host: str
) -> None:
    before = _balance(client)
    response = client.post("/video/transcriptions", json={"url": f"http://{host}:8080/a.mp4"})
    assert [c for c in connections if not str(c[0]).startswith("127.")] == []
    assert REFUSED in assert_error_shape(response, 400)["error"]
    assert _balance(client) == before


@pytest.mark.parametrize("host", EMBEDDED)
def test_queue_refuses_ipv6_forms_of_internal_addresses_without_connecting(
    client: httpx.Client, connections: list[Any], host: str
) -> None:
    before = _balance(client)
    body = _image_job(f"http://{host}:8080/a.png")
    error = assert_error_shape(client.post("/video/queue", json=body), 400)
    assert REFUSED in error["issues"][0]["message"]
    assert [c for c in connections if not str(c[0]).startswith("127.")] == []
    assert _balance(client) == before


@pytest.mark.stt
@needs_stt
def test_transcription_connects_to_the_address_it_checked_despite_dns_rebinding(
    client: httpx.Client,
    canaries: tuple[Canary, Canary],
    pretend_public: None,
    rebinding_dns: list[str],
    connections: list[Any],
) -> None:
    internal, public = canaries
    url = f"http://rebind.test:{internal.port}/clip.mp4"
    response = client.post("/video/transcriptions", json={"url": url})
    # The name was looked up once; every request went to the address that passed the check.
    assert internal.requests == []
    assert rebinding_dns == [PUBLIC]
    assert response.status_code == 200, response.text
    assert_mostly_heard(response.json()["transcript"])
    assert public.requests and all(h == f"rebind.test:{public.port}" for _, h in public.requests)


@pytest.mark.stt
@needs_stt
def test_transcription_checks_a_redirect_before_following_it(
    client: httpx.Client,
    canaries: tuple[Canary, Canary],
    pretend_public: None,
    connections: list[Any],
) -> None:
    internal, public = canaries
    before = _balance(client)
    url = f"http://{PUBLIC}:{public.port}/redirect"
    response = client.post("/video/transcriptions", json={"url": url})
    assert internal.requests == []
    assert [path for path, _ in public.requests] == ["/redirect"]
    assert REFUSED in assert_error_shape(response, 400)["error"]
    assert _balance(client) == before


@pytest.mark.stt
@needs_stt
def test_transcription_refuses_media_a_page_points_at_inside(
    client: httpx.Client,
    canaries: tuple[Canary, Canary],
    pretend_public: None,
    connections: list[Any],
) -> None:
    internal, public = canaries
    url = f"http://{PUBLIC}:{public.port}/page.html"
    response = client.post("/video/transcriptions", json={"url": url})
    assert response.status_code == 400, response.text
    assert internal.requests == []


def test_queue_checks_a_redirect_before_following_it(
    client: httpx.Client,
    canaries: tuple[Canary, Canary],
    pretend_public: None,
    connections: list[Any],
) -> None:
    internal, public = canaries
    body = _image_job(f"http://{PUBLIC}:{public.port}/redirect.png")
    error = assert_error_shape(client.post("/video/queue", json=body), 400)
    assert REFUSED in error["issues"][0]["message"]
    assert internal.requests == []


def test_loopback_inputs_work_when_private_urls_are_allowed(
    server_factory: Any, api_key: str, canaries: tuple[Canary, Canary]
) -> None:
    internal, _ = canaries
    running: ServerThread = server_factory(allow_private_urls=True)
    body = _image_job(f"http://127.0.0.1:{internal.port}/secret.png")
    response = httpx.post(f"{running.base_url}/video/queue", json=body,
                          headers={"Authorization": f"Bearer {api_key}"}, timeout=60)  # fmt: skip
    assert response.status_code == 200, response.text
    assert [path for path, _ in internal.requests] == ["/secret.png"]


def test_data_urls_need_no_network(client: httpx.Client, connections: list[Any]) -> None:
    body = _image_job(data_url("image/png", png(320, 240)))
    assert client.post("/video/queue", json=body).status_code == 200
    assert [c for c in connections if c[1] != int(client.base_url.port or 0)] == []
