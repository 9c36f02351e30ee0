"""The CLI in-process (click's runner), pointed at the shared local server."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import Run
from click.testing import CliRunner, Result

from venice_video.cli._app import cli
from venice_video.server import ServerThread


@pytest.fixture
def env(server: ServerThread, api_key: str, tmp_path: Path) -> dict[str, str]:
    return {
        "VENICE_API_KEY": api_key,
        "VENICE_BASE_URL": server.base_url,
        "VENICE_VIDEO_JOURNAL": str(tmp_path / "journal.sqlite3"),
        "VENICE_VIDEO_CONFIG": str(tmp_path / "absent.toml"),
        "VENICE_VIDEO_OUTPUT_DIR": str(tmp_path / "out"),
    }


@pytest.fixture
def run(env: dict[str, str]) -> Run:
    def invoke(*args: str, input: str | None = None, **extra_env: str) -> Result:
        runner = CliRunner()
        return runner.invoke(cli, list(args), env={**env, **extra_env}, input=input,
                             catch_exceptions=False)  # fmt: skip

    return invoke
