"""The live display of one job: its ETA counts down between polls and says when it is late."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cli_helpers import Run

from venice_video._models import Progress
from venice_video.cli._progress import JobDisplay, eta_text
from venice_video.server import ServerThread

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def test_the_eta_counts_down_and_says_past_estimate_when_late(
    run: Run, server_factory: Any, tmp_path: Path
) -> None:
    # A fresh server estimates a model by its shortest clip at 720p, so a longer clip runs
    # past the estimate; at speed 10 the job takes a few real seconds.
    slow: ServerThread = server_factory(speed=10)
    out = tmp_path / "clip.mp4"
    result = run("generate", "a fox", "-m", "grok-imagine-text-to-video-private", "-d", "4s",
                 "-r", "720p", "-o", str(out), "--yes", VENICE_BASE_URL=slow.base_url,
                 FORCE_COLOR="1", COLUMNS="120")  # fmt: skip
    assert result.exit_code == 0, result.output
    frames = ANSI.sub("", result.stderr)
    seen = re.findall(r"eta (\d+)s|past estimate \(\+(\d+)s\)", frames)
    etas = [int(a) for a, _ in seen if a]
    assert len(set(etas)) >= 2  # redrawn between polls, not only when one answers
    assert any(b for _, b in seen)  # and said so once the estimate had passed


def test_the_countdown_runs_on_the_display_clock_alone() -> None:
    now = [100.0]
    display = JobDisplay(enabled=False, clock=lambda: now[0])
    display(Progress(phase="processing", status="PROCESSING", elapsed_s=1.0, eta_s=10.0,
                     average_execution_ms=20_000, execution_ms=10_000))  # fmt: skip
    deadline = display._eta.deadline
    assert eta_text(deadline, now[0]) == "eta 10s"
    now[0] += 4
    assert eta_text(deadline, now[0]) == "eta 6s"
    now[0] += 9
    assert eta_text(deadline, now[0]) == "past estimate (+3s)"
