"""Hostile and malformed requests get a clear 4xx, never a 500 or a traceback."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from _server_helpers import INLINE_MODEL, assert_error_shape

from venice_video.server import ServerThread

JSON_ENDPOINTS = ["/video/quote", "/video/queue", "/video/retrieve", "/video/complete",
                  "/video/transcriptions"]  # fmt: skip

RAW_BODIES = [
    b"",
    b"{",
    b"not json",
    b"\xff\xfe\x00garbage",
    b'{"model": "\xc3\x28"}',
    b"[" * 50_000 + b"]" * 50_000,
    b"null",
    b"[]",
    b'"just a string"',
    b"12345678901234567890123456789012345678901234567890",
    b'{"model": 1e999999}',
]


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS)
@pytest.mark.parametrize("raw", RAW_BODIES, ids=range(len(RAW_BODIES)))
def test_malformed_bodies_are_400(client: httpx.Client, endpoint: str, raw: bytes) -> None:
    response = client.post(endpoint, content=raw, headers={"Content-Type": "application/json"})
    assert_error_shape(response, 400)


@pytest.mark.parametrize(
    "body",
    [
        {"model": ["x"], "prompt": "p", "duration": "5s"},
        {"model": INLINE_MODEL, "prompt": {"a": 1}, "duration": 5},
        {"model": INLINE_MODEL, "prompt": "p", "duration": "5s", "elements": "x"},
        {
            "model": INLINE_MODEL,
            "prompt": "p",
            "duration": "5s",
            "keyframes": [{"frame_index": "a"}],
        },
        {"model": INLINE_MODEL, "prompt": "p", "duration": "5s", "audio": "yes"},
        {"model": INLINE_MODEL, "prompt": "p", "duration": "5s", "upscale_factor": 3},
        {
            "model": INLINE_MODEL,
            "prompt": "\u0000" * 10,
            "duration": "5s",
            "reference_image_urls": ["javascript:alert(1)"],
        },
        {"model": "../../etc/passwd", "prompt": "p", "duration": "5s"},
        {"model": "x" * 100_000, "prompt": "p", "duration": "5s"},
        {"model": INLINE_MODEL, "prompt": "p" * 30_000, "duration": "5s"},
    ],  # fmt: skip
)
def test_wrongly_typed_queue_bodies_are_400(client: httpx.Client, body: dict[str, Any]) -> None:
    assert_error_shape(client.post("/video/queue", json=body), 400)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:22/",
        "http://[::1]/x.png",
        "http://10.0.0.1/x.png",
        "https://user:pass@127.0.0.1/x.png",
        "data:image/png;base64,!!!!",
        "data:,",
    ],
)
def test_hostile_input_urls_are_400_naming_the_field(client: httpx.Client, url: str) -> None:
    body = {"model": "wan-2.6-image-to-video", "prompt": "x", "duration": "5s", "image_url": url}
    error = assert_error_shape(client.post("/video/queue", json=body), 400)
    assert error["issues"][0]["path"] == ["image_url"]


def test_unknown_paths_are_404_and_wrong_methods_405(server: ServerThread) -> None:
    assert_error_shape(httpx.get(f"{server.base_url}/video/nothing"), 404)
    assert_error_shape(httpx.get(f"{server.root_url}/{'a' * 5000}"), 404)
    wrong = httpx.get(f"{server.base_url}/video/queue")
    assert_error_shape(wrong, 405)
    assert wrong.headers["allow"] == "POST"
    assert_error_shape(httpx.put(f"{server.root_url}/media/abc"), 405)


def test_every_response_carries_a_request_id(server: ServerThread) -> None:
    first = httpx.get(f"{server.base_url}/nothing")
    second = httpx.get(f"{server.base_url}/models", params={"type": "video"})
    assert first.headers["cf-ray"] != second.headers["cf-ray"]
    assert first.headers["x-venice-version"] == second.headers["x-venice-version"]


def test_an_overlong_authorization_header_is_401(server: ServerThread) -> None:
    headers = {"Authorization": "Bearer " + "k" * 4000}
    assert_error_shape(httpx.post(f"{server.base_url}/video/queue", json={}, headers=headers), 401)
