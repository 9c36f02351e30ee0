from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from pg_cluster import pg_url, postgres  # noqa: F401  (fixtures)
from venice_video.cli._app import cli


@pytest.fixture
def env(pg_url: str, server: Any, api_key: str, tmp_path: Path) -> dict[str, str]:  # noqa: F811
    """The CLI's environment: the local server, its key and the shared journal."""
    return {
        "VENICE_API_KEY": api_key,
        "VENICE_BASE_URL": server.base_url,
        "VENICE_VIDEO_JOURNAL": pg_url,
        "VENICE_VIDEO_CONFIG": str(tmp_path / "absent.toml"),
    }


@pytest.fixture
def run(env: dict[str, str]) -> Callable[..., Result]:
    """`run(*args, **extra_env)`: the CLI in-process, in that environment."""

    def invoke(*args: str, **extra_env: str) -> Result:
        return CliRunner().invoke(cli, list(args), env={**env, **extra_env},
                                  catch_exceptions=False)  # fmt: skip

    return invoke
