"""The `venice-video` command line, assembled: the group (`_group`) and every command.

A command lives in a module of its own that imports `_group` (never this module), and is
added here; the order below is the order of `--help`'s list, which click sorts anyway.
"""

from __future__ import annotations

from ._batch import batch
from ._generate import generate, quote
from ._group import cli, config
from ._jobs import complete, download, jobs, status
from ._models import models
from ._servers import mcp, serve, ui
from ._story import story
from ._transcribe import transcribe
from ._workers import journal, worker, workers

__all__ = ["cli", "main"]

for _command in (
    generate, quote, models, status, download, complete, jobs, batch, story, transcribe,
    serve, mcp, ui, worker, workers, journal, config,
):  # fmt: skip
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `venice-video` command (see `venice_video.cli.main`)."""
    cli.main(args=argv, prog_name="venice-video")
