"""The gallery over real loopback HTTP: its event stream, and `run()` as the CLI calls it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from ui_helpers import FAST_FIELDS

from venice_video import AsyncVeniceVideo
from venice_video._settings import Settings
from venice_video.server import ServerThread
from venice_video.ui import create_app, run
from venice_video.ui._serve import GalleryThread


async def _events(response: httpx.Response) -> Any:
    """Yield `(event, data)` pairs from a server-sent event stream."""
    name, data = "message", ""
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()
        elif line == "":
            if data:
                yield name, json.loads(data)
            name, data = "message", ""


async def test_event_stream_reports_a_started_job_until_it_is_done(
    tmp_path: Path, server: ServerThread, api_key: str
) -> None:
    client = AsyncVeniceVideo(
        api_key=api_key, base_url=server.base_url, journal=tmp_path / "j.sqlite3", cache_dir=False
    )
    app = create_app(
        client,
        output_dir=tmp_path / "out",
        cache_dir=tmp_path / "cache",
        csrf_token="t",
        close_client=True,
    )
    states: list[str] = []
    with GalleryThread(app) as gallery:
        async with httpx.AsyncClient(base_url=gallery.url, timeout=30) as http:
            async with http.stream("GET", "/api/events") as stream:
                assert stream.headers["content-type"].startswith("text/event-stream")
                quote = (
                    await http.post(
                        "/api/check", json={"fields": FAST_FIELDS}, headers={"X-CSRF-Token": "t"}
                    )
                ).json()["quote_usd"]
                started = await http.post(
                    "/api/generate",
                    json={"fields": FAST_FIELDS, "max_cost_usd": quote},
                    headers={"X-CSRF-Token": "t"},
                )
                assert started.status_code == 201
                key = started.json()["key"]
                with anyio.fail_after(30):
                    async for name, view in _events(stream):
                        assert name == "job" and view["key"] == key
                        states.append(view["state"])
                        if view["state"] == "done":
                            break
    # A fast job may be done by the first event; each event is the job's state at sending.
    assert set(states) <= {"queueing", "running", "downloading", "done"}
    assert states[-1] == "done"


def test_run_serves_the_gallery_over_the_local_engine_without_a_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("venice_video._settings.local_engine_dir", lambda: tmp_path / "engine")
    seen: dict[str, Any] = {}

    async def check(app: Any) -> None:
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765") as http,
        ):
            seen["info"] = (await http.get("/api/info")).json()
            seen["models"] = len((await http.get("/api/models")).json()["models"])
            seen["foreign"] = (await http.get("/", headers={"Host": "evil.test"})).status_code

    serve = uvicorn.Server.run

    def fake_run(self: uvicorn.Server, sockets: Any = None) -> None:
        if not isinstance(self.config.app, Starlette):  # the local engine: serve it
            serve(self, sockets=sockets)
            return
        seen["host"], seen["port"] = self.config.host, self.config.port
        anyio.run(check, self.config.app)
        self.should_exit = True

    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    settings = Settings(
        output_dir=tmp_path / "videos",
        journal_path=tmp_path / "journal.sqlite3",
        local_port=0,
        local_speed=1000.0,
        max_cost=2.5,
    )
    run(settings=settings, port=8799)
    assert (seen["host"], seen["port"]) == ("127.0.0.1", 8799)
    info = seen["info"]
    assert info["local_engine"] is True and info["api"] == "local engine"
    assert info["output_dir"] == str(tmp_path / "videos")
    assert info["max_cost_usd"] == 2.5
    assert seen["models"] > 10
    assert seen["foreign"] == 421
