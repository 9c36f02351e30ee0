"""The `venice-video` group: its options, the state they set up for every command, and
what commands share. Every command module imports this one; `_app` adds the commands.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

import click

from .._client import VeniceVideo
from .._models import VideoJob
from .._settings import Settings, load_settings
from ..journal import JournalStore, open_journal
from ._engine import open_client
from ._errors import report

__all__ = ["State", "cli", "config", "interrupted", "job_data", "pass_state"]

F = TypeVar("F", bound=Callable[..., Any])


class State:
    """What the group options set up for every command."""

    def __init__(self, settings: Settings, *, as_json: bool, debug: bool, quiet: bool) -> None:
        self.settings = settings
        self.as_json = as_json
        self.debug = debug
        self.quiet = quiet

    @contextmanager
    def client(self, **kw: Any) -> Iterator[VeniceVideo]:
        with open_client(self.settings, quiet=self.quiet or self.as_json, **kw) as client:
            yield client

    def journal(self) -> JournalStore:
        return open_journal(self.settings.journal_path)

    def say(self, message: str) -> None:
        """A human message on stderr (not in --json or --quiet mode)."""
        if not (self.quiet or self.as_json):
            click.echo(message, err=True)

    def emit(self, data: Any, text: str | None = None) -> None:
        """The command's result on stdout: JSON, or text."""
        if self.as_json:
            click.echo(json.dumps(data, default=str, indent=None))
        elif text is not None:
            click.echo(text)


pass_state = click.make_pass_decorator(State)


#: Global flags also accepted after the command (`venice-video jobs --json`).
_ANYWHERE = frozenset({"--json", "-q", "--quiet", "--debug"})


class _Group(click.Group):
    """Turns errors into one line and an exit code; tracebacks only with --debug."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if ctx.parent is None:
            args = _globals_first(args, set(self.commands))
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except Exception as error:
            state = ctx.find_object(State)
            if state is not None and state.debug:
                raise
            ctx.exit(report(error, as_json=bool(state and state.as_json)))


def _globals_first(args: list[str], commands: set[str]) -> list[str]:
    """Move `--json`, `-q` and `--debug` given after the command in front of it."""
    start = next((i for i, a in enumerate(args) if a in commands), None)
    if start is None or args[start] == "serve":
        return args  # `serve` hands its arguments to the server as they are
    head, tail = args[: start + 1], args[start + 1 :]
    end = tail.index("--") if "--" in tail else len(tail)
    moved = [a for a in tail[:end] if a in _ANYWHERE]
    kept = [a for a in tail[:end] if a not in _ANYWHERE] + tail[end:]
    return moved + head + kept


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--base-url",
    envvar=None,
    help="API root (default: $VENICE_BASE_URL, else the "
    "real API with a key, else the embedded local engine).",
)
@click.option(
    "--journal",
    type=click.Path(dir_okay=False),
    help="Job journal file, or a postgresql:// URL for a shared one.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (errors too).")
@click.option("-q", "--quiet", is_flag=True, help="No progress or notes on stderr.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.option(
    "--trust-idempotency",
    is_flag=True,
    default=None,
    help="The API honours Idempotency-Key: a job whose queue outcome is unknown (a crash "
    "mid-queue) is asked for again with the same key instead of being left for you to check.",
)
@click.version_option(package_name="venice-video")
@click.pass_context
def cli(
    ctx: click.Context,
    base_url: str | None,
    journal: str | None,
    as_json: bool,
    quiet: bool,
    debug: bool,
    trust_idempotency: bool | None,
) -> None:
    """Generate, fetch and transcribe videos with Venice.ai, safely and resumably.

    With no VENICE_API_KEY and no base URL, commands run against an embedded local engine
    that renders placeholder videos, so everything works offline.
    """
    try:
        settings = load_settings(
            base_url=base_url, journal=journal, trust_idempotency=trust_idempotency or None
        )
    except ValueError as error:
        raise click.UsageError(str(error)) from error
    ctx.obj = State(settings, as_json=as_json, debug=debug, quiet=quiet)


def job_data(job: VideoJob) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": job.id,
        "queue_id": job.queue_id,
        "key": job.idempotency_key,
        "model": job.model,
        "status": job.status,
        "cost_usd": job.cost,
        "path": str(job.path) if job.path else None,
        "size_bytes": job.size_bytes,
        "elapsed_s": job.elapsed_s,
    }
    if job.media is not None:
        data["media"] = {
            "width": job.media.width,
            "height": job.media.height,
            "duration_s": job.media.duration_s,
            "has_audio": job.media.has_audio,
        }
    if job.error:
        data["error"] = job.error
    return data


def interrupted(state: State, job_hint: str | None) -> NoReturn:
    where = f"job {job_hint} " if job_hint else "any queued job "
    click.echo(
        f"interrupted: {where}stays in the journal; finish it with `venice-video jobs resume`",
        err=True,
    )
    raise SystemExit(130)


@click.command("config")
@pass_state
def config(state: State) -> None:
    """Show the settings in force and where each came from (never the key itself)."""
    info = state.settings.describe()
    text = "\n".join(f"{k}: {v}" for k, v in info.items() if k != "sources")
    state.emit(info, text)
