"""What the local server accepts and ignores, and the one rule quote and queue share."""

from __future__ import annotations

from typing import Any

import httpx
from _server_helpers import assert_error_shape, data_url, png, probe, queue, wait_done

from venice_video.server import ServerThread

I2V = "grok-imagine-image-to-video-private"  # no aspect ratios, audio always on


def _body(**extra: Any) -> dict[str, Any]:
    return {"model": I2V, "prompt": "it moves", "duration": "1s", "resolution": "480p",
            "image_url": data_url("image/png", png(320, 180)), **extra}  # fmt: skip


def test_aspect_ratio_for_a_model_without_ratios_is_accepted_and_ignored(
    client: httpx.Client,
) -> None:
    queued = queue(client, _body(aspect_ratio="9:16"))
    answer = wait_done(client, I2V, queued["queue_id"])
    url = queued.get("download_url")
    video = httpx.get(url, timeout=30).content if url else answer.content
    info = probe(video)
    assert info.width > info.height  # it follows the 16:9 input image, not the 9:16 asked


def test_a_strict_server_refuses_it(server_factory: Any, auth_headers: dict[str, str]) -> None:
    strict: ServerThread = server_factory(strict_aspect_ratio=True)
    with httpx.Client(base_url=strict.base_url, headers=auth_headers, timeout=30) as client:
        response = client.post("/video/queue", json=_body(aspect_ratio="16:9"))
    body = assert_error_shape(response, 400)
    assert body["issues"][0]["path"] == ["aspect_ratio"]


def test_quote_and_queue_both_refuse_silence_from_an_always_audio_model(
    client: httpx.Client,
) -> None:
    quote = {"model": I2V, "duration": "1s", "resolution": "480p", "audio": False}
    priced = client.post("/video/quote", json=quote)
    queued = client.post("/video/queue", json=_body(audio=False))
    for response in (priced, queued):
        assert assert_error_shape(response, 400)["issues"][0]["path"] == ["audio"]
