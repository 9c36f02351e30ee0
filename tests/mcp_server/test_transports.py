"""The server as a separate process: over stdio (the default) and over streamable HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp_helpers import GROK, call

from venice_video.journal import Journal
from venice_video.mcp_server.__main__ import main
from venice_video.mcp_server._run import parse_bind
from venice_video.server import ServerThread


def _environment(tmp_path: Path, api_key: str) -> dict[str, str]:
    """A clean environment: this test's key, and no user config, cache or journal."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_DATA_HOME": str(home / "data"),
        "VENICE_API_KEY": api_key,
    }


def _arguments(server: ServerThread, root: Path, journal: Path, *extra: str) -> list[str]:
    return [
        "-m", "venice_video.mcp_server",
        "--base-url", server.base_url,
        "--root", str(root),
        "--journal", str(journal),
        *extra,
    ]  # fmt: skip


async def test_stdio_subprocess_generates_a_file_and_refuses_over_budget(
    server: ServerThread, api_key: str, tmp_path: Path, mcp_root: Path, journal_path: Path
) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=_arguments(server, mcp_root, journal_path, "--budget", "0.10"),
        env=_environment(tmp_path, api_key),
        cwd=str(tmp_path),
    )
    errors = tmp_path / "stderr.log"
    with errors.open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog)) as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
            failed, started = await call(client, "start_generation", GROK)
            refused_failed, refused = await call(client, "start_generation", GROK)
            _, done = await call(client, "wait_for_job", {"job_id": started["job_id"]})
    assert "start_generation" in tools and "transcribe_file" in tools
    assert not failed and started["quote_usd"] == pytest.approx(0.06)
    assert refused_failed and refused["reason"] == "budget"
    assert done["state"] == "done"
    assert (mcp_root / done["file"]["path"]).stat().st_size == done["file"]["size_bytes"]
    with Journal(journal_path) as journal:
        (entry,) = journal.list()
    assert entry.tags == {"via": "mcp"} and entry.status == "COMPLETED"
    assert api_key not in errors.read_text()


async def test_stdio_without_a_key_uses_the_embedded_engine_and_keeps_stdout_clean(
    tmp_path: Path, mcp_root: Path, journal_path: Path
) -> None:
    env = _environment(tmp_path, api_key="")
    del env["VENICE_API_KEY"]
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "venice_video.mcp_server", "--root", str(mcp_root),
              "--journal", str(journal_path)],
        env=env,
        cwd=str(tmp_path),
    )  # fmt: skip
    garbled: list[Exception] = []

    async def on_message(message: object) -> None:
        if isinstance(message, Exception):  # a stdout line that was not protocol
            garbled.append(message)

    with (tmp_path / "stderr.log").open("w") as errlog:
        transport = stdio_client(params, errlog=errlog)
        async with Client(transport, message_handler=on_message) as client:
            failed, quoted = await call(
                client, "quote", {"model": GROK["model"], "duration": "1s", "resolution": "480p"}
            )
    assert not failed and quoted["quote_usd"] == pytest.approx(0.06)
    assert garbled == []


@pytest.fixture
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def http_process(
    server: ServerThread,
    api_key: str,
    tmp_path: Path,
    mcp_root: Path,
    journal_path: Path,
    free_port: int,
) -> Iterator[str]:
    """The MCP server over streamable HTTP in a child process; yields its URL."""
    log = (tmp_path / "http.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            *_arguments(server, mcp_root, journal_path, "--http", f"127.0.0.1:{free_port}"),
        ],
        env=_environment(tmp_path, api_key),
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (tmp_path / "http.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", free_port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the HTTP server did not start"
                time.sleep(0.05)
        yield f"http://127.0.0.1:{free_port}/mcp"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


async def test_streamable_http_serves_the_tools(http_process: str) -> None:
    async with Client(http_process) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        failed, quoted = await call(
            client, "quote", {"model": GROK["model"], "duration": "1s", "resolution": "480p"}
        )
    assert "wait_for_job" in tools
    assert not failed and quoted["quote_usd"] == pytest.approx(0.06)


def test_parse_bind_reads_host_and_port() -> None:
    assert parse_bind("127.0.0.1:8765") == ("127.0.0.1", 8765)
    assert parse_bind("[::1]:9000") == ("::1", 9000)
    for bad in ("8765", "host:", "host:0", "host:70000", ":80"):
        with pytest.raises(ValueError, match="HOST:PORT"):
            parse_bind(bad)


def test_main_refuses_bad_arguments_before_starting(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--http", "nonsense"]) == 2
    assert main(["--budget", "-1"]) == 2
    assert "HOST:PORT" in capsys.readouterr().err
