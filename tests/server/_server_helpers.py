"""Helpers for the local server's tests: polling, small media and data: URLs."""

from __future__ import annotations

import base64
import io
import tempfile
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx

#: A model with an inline mp4 result: 5 s, 480p, silent is a cheap clip ($0.26).
INLINE_MODEL = "wan-3-0-text-to-video"
INLINE_BODY: dict[str, Any] = {
    "model": INLINE_MODEL,
    "prompt": "a lighthouse at dusk",
    "duration": "5s",
    "resolution": "480p",
    "aspect_ratio": "16:9",
    "audio": False,
}
#: A download_url model: 1 s, 480p renders in a fraction of a second.
VPS_MODEL = "grok-imagine-text-to-video-private"
VPS_BODY: dict[str, Any] = {
    "model": VPS_MODEL,
    "prompt": "a paper boat on a pond",
    "duration": "1s",
    "resolution": "480p",
}


def queue(client: httpx.Client, body: dict[str, Any], **kw: Any) -> dict[str, Any]:
    response = client.post("/video/queue", json=body, **kw)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def wait_done(
    client: httpx.Client, model: str, queue_id: str, *, timeout_s: float = 60, **extra: Any
) -> httpx.Response:
    """Poll retrieve until the answer is anything but PROCESSING."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = client.post(
            "/video/retrieve", json={"model": model, "queue_id": queue_id, **extra}
        )
        is_json = response.headers.get("content-type", "").startswith("application/json")
        if not (
            response.status_code == 200 and is_json and response.json()["status"] == "PROCESSING"
        ):
            return response
        if time.monotonic() > deadline:
            raise AssertionError(f"job {queue_id} still processing after {timeout_s} s")
        # Rendering takes real time that no clock can skip; poll at a brisk pace meanwhile.
        time.sleep(0.02)


def data_url(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def png(width: int, height: int, colour: tuple[int, int, int] = (200, 80, 40)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


@lru_cache(maxsize=8)
def small_mp4(width: int = 160, height: int = 96, seconds: float = 1.0) -> bytes:
    """A tiny real mp4 made by the placeholder renderer."""
    from venice_video.server._render import RenderSpec, render

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "clip.mp4"
        render(RenderSpec(width, height, seconds, prompt="input clip", caption=False), out)
        return out.read_bytes()


def probe(data: bytes) -> Any:
    from venice_video.server._render import probe as probe_media

    return probe_media(data)


def offline(server: Any) -> None:
    """Keep a running server's outside fetches on the machine: its fetcher gets a resolver that
    refuses every name and a transport that answers 404 to every address."""

    async def no_dns(host: str, port: int) -> list[str]:
        raise OSError("no DNS in tests")

    state = server.app.state
    assert state is not None
    state.fetcher.resolver = no_dns
    state.fetcher.transport = httpx.MockTransport(lambda request: httpx.Response(404))


def assert_error_shape(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response has `status`, a JSON body with an `error`, and no traceback."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "Traceback" not in response.text
    body: dict[str, Any] = response.json()
    assert "error" in body
    return body
