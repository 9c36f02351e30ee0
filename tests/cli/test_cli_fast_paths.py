"""The answers given without loading the command line: top-level help, cached listings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from venice_video.cli import _fast
from venice_video.cli._app import cli

# Runs `venice-video ARGS...` in a fresh interpreter and says on stderr whether click loaded.
_PROBE = (
    "import sys\n"
    "from venice_video.cli import main\n"
    "try:\n"
    "    main(sys.argv[1:])\n"
    "finally:\n"
    "    print('CLICK_LOADED' if 'click' in sys.modules else 'CLICK_NOT_LOADED', file=sys.stderr)\n"
)


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VENICE_")}
    return subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_kept_help_is_what_click_renders() -> None:
    result = CliRunner().invoke(cli, ["--help"], prog_name="venice-video", terminal_width=78)
    assert result.exit_code == 0
    assert _fast.help_text() == result.output, (
        "the top-level help changed: run scripts/update-cli-help"
    )


def test_help_is_answered_without_loading_the_command_line(tmp_path: Path) -> None:
    done = _cli(["--help"], {"COLUMNS": "120", "VENICE_VIDEO_CACHE_DIR": str(tmp_path)})
    assert done.returncode == 0
    assert done.stdout == _fast.help_text()
    assert "CLICK_NOT_LOADED" in done.stderr


def test_a_narrow_terminal_gets_clicks_own_wrapping(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    assert _fast.try_fast(["--help"]) is False
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    "args",
    [["models", "--refresh"], ["models", "--diff"], ["jobs"], ["--json", "jobs"], ["models", "-h"]],
)
def test_only_plain_listings_are_kept(args: list[str]) -> None:
    assert _fast._listing_path(args) is None


def test_a_repeated_listing_is_the_same_and_loads_nothing(
    env: dict[str, str], tmp_path: Path
) -> None:
    env = env | {"VENICE_VIDEO_CACHE_DIR": str(tmp_path / "cache"), "COLUMNS": "120"}
    first = _cli(["models", "--no-prices"], env)
    assert first.returncode == 0, first.stderr
    assert "CLICK_LOADED" in first.stderr
    assert "wan-3-0-text-to-video" in first.stdout
    again = _cli(["models", "--no-prices"], env)
    assert again.returncode == 0
    assert again.stdout == first.stdout
    assert "CLICK_NOT_LOADED" in again.stderr
    kept = list((tmp_path / "cache" / "cli").glob("listing-*.json"))
    assert len(kept) == 1
    assert env["VENICE_API_KEY"] not in kept[0].read_text()
    # Another shape of output is another entry, answered in full the first time.
    as_json = _cli(["--json", "models", "--no-prices"], env)
    assert "CLICK_LOADED" in as_json.stderr
    assert any(m["id"] == "wan-3-0-text-to-video" for m in json.loads(as_json.stdout))


def test_a_changed_catalog_cache_is_listed_afresh(env: dict[str, str], tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    env = env | {"VENICE_VIDEO_CACHE_DIR": str(cache), "COLUMNS": "120"}
    assert _cli(["models", "--no-prices"], env).returncode == 0
    catalogs = [p for p in cache.glob("*.json")]
    assert catalogs
    os.utime(catalogs[0], ns=(1, 1))  # as if another command refreshed it
    again = _cli(["models", "--no-prices"], env)
    assert again.returncode == 0
    assert "CLICK_LOADED" in again.stderr


def test_a_failed_listing_is_not_kept(env: dict[str, str], tmp_path: Path) -> None:
    env = env | {"VENICE_VIDEO_CACHE_DIR": str(tmp_path / "cache"), "COLUMNS": "120"}
    failed = _cli(["models", "--no-prices", "--type", "no-such-type"], env)
    assert failed.returncode != 0
    assert not list((tmp_path / "cache").glob("cli/listing-*.json"))
