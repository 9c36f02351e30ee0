"""Helpers for the CLI tests: the cheapest clip, the server's counters, an mp4 check."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import httpx
from click.testing import Result

from venice_video.server import ServerThread

MODEL = "wan-3-0-text-to-video"  # 5s, 480p: a cheap clip to render ($0.26)
SHORT = ["-m", MODEL, "-d", "5s", "-r", "480p"]
#: 1 s at 480p, no aspect ratios, audio always on: an image-to-video model.
I2V = "grok-imagine-image-to-video-private"

#: `run(*args, input=None, **extra_env)`: the CLI in-process, against the local server.
Run = Callable[..., Result]


def stats(server: ServerThread, api_key: str) -> dict[str, Any]:
    response = httpx.get(f"{server.root_url}/_local/stats",
                         headers={"Authorization": f"Bearer {api_key}"})  # fmt: skip
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


def assert_valid_mp4(path: Path, *, width: int | None = None, height: int | None = None) -> None:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video=0))
        assert frames == video.frames > 0
        if width is not None:
            assert (video.width, video.height) == (width, height)


def assert_valid_mp4_bytes(data: bytes) -> None:
    import io

    with av.open(io.BytesIO(data)) as container:
        video = container.streams.video[0]
        assert sum(1 for _ in container.decode(video=0)) == video.frames > 0
