"""The MCP story tools: check, quote, start and follow, inside the sandbox and the spend gates."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from story_helpers import copy_example, edit, local_stats

from venice_video import AsyncVeniceVideo
from venice_video.mcp_server import create_server
from venice_video.server import ServerThread

STORY = "films/lighthouse.yaml"


@asynccontextmanager
async def session(
    server: ServerThread, api_key: str, tmp_path: Path, **limits: Any
) -> AsyncIterator[Client]:
    async with AsyncVeniceVideo(
        api_key=api_key, base_url=server.base_url, journal=tmp_path / "journal.sqlite3",
        cache_dir=False, idempotent_queue_retries=True,
    ) as venice:  # fmt: skip
        mcp_server = create_server(venice, root=tmp_path / "root", **limits)
        async with Client(mcp_server) as client:
            yield client


async def call(client: Client, tool: str, **arguments: Any) -> tuple[bool, dict[str, Any]]:
    result = await client.call_tool(tool, arguments)
    payload = json.loads("".join(getattr(b, "text", "") for b in result.content))
    return bool(result.is_error), payload


@pytest.fixture
def root(tmp_path: Path) -> Path:
    copy_example(tmp_path / "root" / "films")
    return tmp_path / "root"


async def test_check_and_quote_a_story(
    server: ServerThread, api_key: str, tmp_path: Path, root: Path
) -> None:
    async with session(server, api_key, tmp_path, max_cost_per_call=0.10) as client:
        failed, checked = await call(client, "check_story", path=STORY)
        assert not failed, checked
        assert checked["valid"] and "shot 5 waits for shot 4" in checked["plan"]
        failed, quoted = await call(client, "quote_story", path=STORY)
        assert not failed and quoted["total_usd"] == pytest.approx(1.48)
        assert quoted["allowed"] is False and "per-call maximum" in quoted["refusal"]
    assert local_stats(server, api_key)["queue_requests"] == 0


async def test_a_story_over_the_operators_budget_spends_nothing(
    server: ServerThread, api_key: str, tmp_path: Path, root: Path
) -> None:
    async with session(server, api_key, tmp_path, budget=0.5) as client:
        failed, answer = await call(client, "start_story", path=STORY)
    assert failed and answer["error"] == "spend_limit", answer
    assert local_stats(server, api_key)["queue_requests"] == 0


async def test_a_story_naming_files_outside_the_root_is_refused(
    server: ServerThread, api_key: str, tmp_path: Path, root: Path
) -> None:
    (tmp_path / "secret.png").write_bytes((root / "films/lighthouse/cast/keeper.png").read_bytes())
    edit(root / STORY, "images: [lighthouse/cast/keeper.png]", "images: [../../secret.png]")
    async with session(server, api_key, tmp_path) as client:
        failed, answer = await call(client, "check_story", path=STORY)
        assert failed and answer["error"] == "sandbox", answer
        failed, answer = await call(client, "start_story", path="../secret.yaml")
        assert failed and answer["error"] == "sandbox"
    assert local_stats(server, api_key)["queue_requests"] == 0


@pytest.mark.slow
async def test_start_and_follow_a_story_to_its_film(
    server: ServerThread, api_key: str, tmp_path: Path, root: Path
) -> None:
    async with session(server, api_key, tmp_path, budget=2.0) as client:
        failed, started = await call(client, "start_story", path=STORY, output="out/film.mp4")
        assert not failed, started
        story_id = started["story_id"]
        view: dict[str, Any] = started
        for _ in range(30):
            failed, view = await call(client, "follow_story", story_id=story_id, timeout_s=10)
            assert not failed, view
            if view["state"] != "running":
                break
        assert view["state"] == "done", view
        assert view["film"]["path"] == "out/film.mp4" and (root / "out/film.mp4").is_file()
        assert view["film"]["cost_usd"] == pytest.approx(1.48)
        assert view["limits"]["spent_usd"] == pytest.approx(1.48)
        assert {s["phase"] for s in view["shots"]} == {"done"}
        # Starting it again pays nothing: every shot is reused.
        failed, again = await call(client, "start_story", path=STORY, output="out/film.mp4")
        assert not failed
        failed, view = await call(client, "follow_story", story_id=again["story_id"])
        assert view["state"] == "done" and view["film"]["spent_usd"] == 0
        # A new take of shot 1 pays for that one shot, and the film is rebuilt with it.
        film = (root / "out/film.mp4").read_bytes()
        failed, answer = await call(client, "rerender_story_shots", path=STORY, shots=[9])
        assert failed and "no shot 9" in answer["message"], answer
        failed, started = await call(
            client, "rerender_story_shots", path=STORY, shots=[1], output="out/film.mp4"
        )
        assert not failed, started
        for _ in range(30):
            failed, view = await call(client, "follow_story", story_id=started["story_id"])
            if view["state"] != "running":
                break
        assert view["state"] == "done", view
        assert 0 < view["film"]["spent_usd"] < 1.48
        assert view["limits"]["spent_usd"] == pytest.approx(1.48 + view["film"]["spent_usd"])
        assert (root / "out/film.mp4").read_bytes() != film
    assert local_stats(server, api_key)["jobs_created"] == 7
