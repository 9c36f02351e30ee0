"""What comes out: decodable clips of the requested shape, upscales, and inputs that shape them."""

from __future__ import annotations

import io
from typing import Any

import av
import httpx
import pytest
from _server_helpers import data_url, png, probe, queue, small_mp4, wait_done


def test_a_5_second_720p_clip_decodes_fully_with_the_requested_shape(
    client: httpx.Client,
) -> None:
    body = {"model": "wan-3-0-text-to-video", "prompt": "waves on a beach", "audio": False,
            "duration": "5s", "resolution": "720p", "aspect_ratio": "16:9"}  # fmt: skip
    job = queue(client, body)
    response = wait_done(client, body["model"], job["queue_id"])
    assert response.headers["content-type"] == "video/mp4"
    info = probe(response.content)
    assert (info.width, info.height) == (1280, 720)
    assert info.duration_s == pytest.approx(5.0, abs=0.1)
    assert info.frames == 120
    # Decode every frame, not just the container's metadata.
    with av.open(io.BytesIO(response.content), "r") as container:
        decoded = list(container.decode(video=0))
    assert len(decoded) == 120
    assert (decoded[-1].width, decoded[-1].height) == (1280, 720)


def test_upscale_doubles_the_input_size(client: httpx.Client) -> None:
    clip = small_mp4(160, 96, 1.0)
    body: dict[str, Any] = {"model": "topaz-video-upscale", "upscale_factor": 2,
            "video_url": data_url("video/mp4", clip)}  # fmt: skip
    job = queue(client, body)
    response = wait_done(client, body["model"], job["queue_id"])
    assert response.status_code == 200, response.text
    source, result = probe(clip), probe(response.content)
    assert (result.width, result.height) == (2 * source.width, 2 * source.height)
    assert result.frames == source.frames


def test_image_to_video_follows_the_image_aspect_ratio(client: httpx.Client) -> None:
    body = {"model": "grok-imagine-image-to-video-private", "prompt": "slow zoom",
            "duration": "1s", "resolution": "480p",
            "image_url": data_url("image/png", png(400, 600))}  # fmt: skip
    job = queue(client, body)
    assert wait_done(client, body["model"], job["queue_id"]).json()["status"] == "COMPLETED"
    info = probe(httpx.get(job["download_url"]).content)
    assert (info.width, info.height) == (480, 720)


def test_portrait_aspect_ratio_swaps_the_sides(client: httpx.Client) -> None:
    body = {"model": "grok-imagine-text-to-video-private", "prompt": "a tall tower",
            "duration": "2s", "resolution": "480p", "aspect_ratio": "9:16"}  # fmt: skip
    job = queue(client, body)
    wait_done(client, body["model"], job["queue_id"])
    info = probe(httpx.get(job["download_url"]).content)
    assert (info.width, info.height) == (480, 854)
    assert info.duration_s == pytest.approx(2.0, abs=0.1)
