"""Helpers for the SDK tests: a scripted fake API, a fake clock, local-server records."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio.lowlevel
import httpx

from local_checks import local_stats  # noqa: F401  (for the tests)
from venice_video import PollPolicy, RateLimitPolicy, RetryPolicy, VeniceVideo
from venice_video._catalog import bundled_catalog
from venice_video.server import ServerThread

#: A model the local server answers inline (the video is the retrieve body).
INLINE_MODEL = "grok-imagine-1-5-text-to-video-private"
#: A model the local server answers with a pre-signed download_url.
URL_MODEL = "grok-imagine-text-to-video-private"
#: The smallest clip those models make.
SMALL: dict[str, Any] = {"duration": "1s", "resolution": "480p", "aspect_ratio": "16:9"}


def local_jobs(server: ServerThread, api_key: str) -> list[dict[str, Any]]:
    """The server's jobs for this account, with their timings."""
    response = httpx.get(
        f"{server.root_url}/_local/jobs", headers={"Authorization": f"Bearer {api_key}"}
    )
    response.raise_for_status()
    data: list[dict[str, Any]] = response.json()["data"]
    return data


# --------------------------------------------------------------------------- fakes


class PathCounter:
    """An httpx request hook (sync, or `.hook` for async clients) counting the requests to
    one API path, from any thread."""

    def __init__(self, suffix: str) -> None:
        self.suffix = suffix
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> None:
        if request.url.path.endswith(self.suffix):
            with self._lock:
                self.count += 1

    async def hook(self, request: httpx.Request) -> None:
        self(request)


class FakeClock:
    """A monotonic clock that only moves when something sleeps on it."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)
        await anyio.lowlevel.checkpoint()  # a real sleep is where cancellation lands


Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeAPI:
    """Answers the video endpoints from per-path scripts; records every request.

    `script[path]` is a list of responses (or callables taking the request) used in order;
    the last one repeats. Paths are relative to the API root (`/video/queue`), or a full
    URL for download links.
    """

    script: dict[str, list[httpx.Response | Handler | Exception]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def on(self, path: str, *answers: httpx.Response | Handler | Exception) -> FakeAPI:
        self.script[path] = list(answers)
        return self

    def calls(self, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if _path(r) == path or str(r.url) == path]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        key = str(request.url.copy_with(query=None))
        answers = self.script.get(key) or self.script.get(_path(request))
        if not answers:
            return httpx.Response(404, json={"error": f"no script for {_path(request)}"})
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer) and not isinstance(answer, httpx.Response):
            return answer(request)
        return httpx.Response(
            answer.status_code,
            headers=answer.headers,
            content=answer.content,
        )

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def _path(request: httpx.Request) -> str:
    path = request.url.path
    return path[len("/api/v1") :] if path.startswith("/api/v1") else path


BASE_URL = "http://fake.test/api/v1"


def mock_client(api: FakeAPI, clock: FakeClock, tmp_path: Path, **kwargs: Any) -> VeniceVideo:
    """A sync client on the fake API: no waiting, a journal under `tmp_path`."""
    options: dict[str, Any] = {
        "api_key": "test-key",
        "base_url": BASE_URL,
        "journal": tmp_path / "journal.sqlite3",
        "cache_dir": False,
        "catalog": bundled_catalog(),
        "transport": api.transport(),
        "sleep": clock.sleep,
        "clock": clock,
        "rand": random.Random(1).random,
        "retry": RetryPolicy(max_attempts=4),
        "poll": PollPolicy(),
        "rate_limit": RateLimitPolicy(),
    }
    options.update(kwargs)
    return VeniceVideo(**options)


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json", **(headers or {})},
    )


def processing(average_ms: float = 10_000, execution_ms: float = 1_000) -> httpx.Response:
    return json_response(
        200,
        {
            "status": "PROCESSING",
            "average_execution_time": average_ms,
            "execution_duration": execution_ms,
        },
    )


def video_response(data: bytes, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, content=data, headers={"content-type": "video/mp4", **headers})
