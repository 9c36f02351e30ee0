"""Background jobs: they survive a restart of the MCP server, and waits are bounded."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client
from mcp_helpers import GROK, WAN, MakeVenice, ServerFactory, call

from venice_video import VeniceVideo
from venice_video.journal import Journal
from venice_video.mcp_server import create_server
from venice_video.server import ManualClock, ServerThread


async def test_jobs_survive_a_restart_of_the_mcp_server(
    server_factory: ServerFactory, make_venice: MakeVenice, mcp_root: Path, journal_path: Path
) -> None:
    clock = ManualClock()
    local = server_factory(clock=clock)  # server time stands still: the job cannot finish yet
    async with make_venice(local) as venice:
        async with Client(create_server(venice, root=mcp_root, eta_wait_s=0.5)) as client:
            failed, started = await call(client, "start_generation", WAN)
        assert not failed and started["state"] == "running"
    with Journal(journal_path) as journal:
        (entry,) = journal.list()
    assert entry.status in ("QUEUED", "PROCESSING") and entry.tags == {"via": "mcp"}

    clock.advance(3600)  # the job is done on the server while no MCP server runs
    async with make_venice(local) as venice:
        async with Client(create_server(venice, root=mcp_root)) as client:
            _, listed = await call(client, "list_jobs")
            failed, done = await call(client, "wait_for_job", {"job_id": started["job_id"]})
    assert [job["job_id"] for job in listed["jobs"]] == [started["job_id"]]
    assert not failed and done["state"] == "done", done
    assert (mcp_root / done["file"]["path"]).stat().st_size == done["file"]["size_bytes"]
    with Journal(journal_path) as journal:
        assert journal.get(entry.key).status == "COMPLETED"  # type: ignore[union-attr]
        assert len(journal.list()) == 1  # resumed, not queued again


async def test_a_restart_leaves_jobs_outside_the_new_root_alone(
    server_factory: ServerFactory, make_venice: MakeVenice, tmp_path: Path, journal_path: Path
) -> None:
    clock = ManualClock()
    local = server_factory(clock=clock)
    first_root, second_root = tmp_path / "first", tmp_path / "second"
    async with make_venice(local) as venice:
        async with Client(create_server(venice, root=first_root, eta_wait_s=0.1)) as client:
            _, started = await call(client, "start_generation", GROK)
    clock.advance(3600)
    async with make_venice(local) as venice:
        async with Client(create_server(venice, root=second_root)) as client:
            _, job = await call(client, "wait_for_job", {"job_id": started["job_id"]})
    assert job["state"] == "running" and job["driven"] is False
    assert job["output"].startswith(str(first_root))
    assert not list(second_root.rglob("*.mp4"))


async def test_wait_for_job_is_bounded_and_clamps_long_timeouts(
    server_factory: ServerFactory, make_venice: MakeVenice, mcp_root: Path
) -> None:
    local = server_factory(clock=ManualClock())
    async with make_venice(local) as venice:
        server = create_server(venice, root=mcp_root, max_wait_s=0.2, eta_wait_s=0.1)
        async with Client(server) as client:
            _, started = await call(client, "start_generation", GROK)
            failed, waited = await call(
                client, "wait_for_job", {"job_id": started["job_id"], "timeout_s": 3600}
            )
    assert not failed
    assert waited["finished"] is False and waited["state"] == "running"
    assert waited["timeout_clamped_to_s"] == 0.2
    assert waited["waited_s"] < 5
    assert "wait_for_job" in waited["next"]


async def test_start_generation_reports_progress_and_an_eta(
    server_factory: ServerFactory, make_venice: MakeVenice, mcp_root: Path
) -> None:
    local = server_factory(clock=ManualClock())
    async with make_venice(local) as venice:
        async with Client(create_server(venice, root=mcp_root)) as client:
            _, started = await call(client, "start_generation", WAN)
            _, job = await call(client, "get_job", {"job_id": started["job_id"]})
    assert started["eta_s"] is not None and started["eta_s"] > 0
    assert 0.0 <= started["progress"] < 1.0
    assert job["state"] == "running" and job["driven"] is True


@pytest.mark.parametrize("budget", [None, 1.0])
async def test_a_sync_client_drives_generations_in_worker_threads(
    server: ServerThread,
    api_key: str,
    journal_path: Path,
    mcp_root: Path,
    budget: float | None,
) -> None:
    with VeniceVideo(
        api_key=api_key, base_url=server.base_url, journal=journal_path, cache_dir=False
    ) as venice:
        async with Client(create_server(venice, root=mcp_root, budget=budget)) as client:
            failed, started = await call(client, "start_generation", GROK)
            _, done = await call(client, "wait_for_job", {"job_id": started["job_id"]})
    assert not failed
    assert done["state"] == "done"
    assert done["file"]["duration_s"] == pytest.approx(1.0, abs=0.1)
    assert (mcp_root / done["file"]["path"]).is_file()


def test_create_server_needs_a_journal(server: ServerThread, mcp_root: Path) -> None:
    with VeniceVideo(api_key="k", base_url=server.base_url, journal=False) as venice:
        with pytest.raises(ValueError, match="journal"):
            create_server(venice, root=mcp_root)


async def test_wait_for_job_sends_progress_notifications(
    server_factory: ServerFactory, make_venice: MakeVenice, mcp_root: Path
) -> None:
    clock = ManualClock()
    local = server_factory(clock=clock)
    reports: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        reports.append((progress, total, message))

    async with make_venice(local) as venice:
        server = create_server(venice, root=mcp_root, max_wait_s=1.5, eta_wait_s=0.5)
        async with Client(server) as client:
            _, started = await call(client, "start_generation", WAN)
            clock.advance(5)  # part of the way: the job reports progress but is not done
            result = await client.call_tool(
                "wait_for_job",
                {"job_id": started["job_id"], "timeout_s": 1.5},
                progress_callback=on_progress,
            )
    assert not result.is_error
    assert reports, "no progress notification arrived"
    progress, total, message = reports[-1]
    assert 0.0 <= progress < 1.0 and total == 1.0 and message == "processing"
