"""The installed `venice-video` command, run as a real subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import av
import pytest


def _entry_point() -> str:
    found = shutil.which("venice-video", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("the venice-video entry point is not installed in this environment")
    return found


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VENICE")}
    env.update(
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        VENICE_VIDEO_LOCAL_PORT="0",
        VENICE_VIDEO_LOCAL_SPEED="200",
    )
    return env


def test_generate_without_a_key_uses_the_local_engine_and_writes_a_valid_mp4(
    tmp_path: Path,
) -> None:
    out = tmp_path / "first.mp4"
    done = subprocess.run(
        [_entry_point(), "generate", "A lighthouse on a cliff at dusk", "-r", "720p",
         "-o", str(out)],
        env=_clean_env(tmp_path), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "local engine" in done.stderr
    assert done.stdout.strip() == str(out)
    with av.open(str(out)) as container:
        video = container.streams.video[0]
        assert (video.width, video.height) == (1280, 720)
        assert sum(1 for _ in container.decode(video=0)) == video.frames == 120
    journal = tmp_path / "state" / "venice-video" / "journal.sqlite3"
    assert journal.exists()
    assert journal.stat().st_mode & 0o077 == 0


def test_help_lists_every_command(tmp_path: Path) -> None:
    done = subprocess.run([_entry_point(), "--help"], env=_clean_env(tmp_path),
                          capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    for command in ("generate", "quote", "models", "status", "download", "complete", "jobs",
                    "batch", "transcribe", "serve", "mcp", "config"):  # fmt: skip
        assert command in done.stdout
