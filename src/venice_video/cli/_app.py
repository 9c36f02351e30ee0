"""The `venice-video` command line."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from .. import _exceptions as exc
from .._catalog import VideoModel
from .._client import VeniceVideo
from .._client import _resolve_fields as resolve_fields
from .._models import VideoJob
from .._types import JOB_STATUSES, TERMINAL_STATUSES
from ..journal import Journal
from ._engine import open_client
from ._errors import CLIError, report
from ._options import request_fields, request_options
from ._progress import JobDisplay, fmt_seconds, plain_table
from ._settings import Settings, load_settings

__all__ = ["cli", "main"]

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

    def journal(self) -> Journal:
        return Journal(self.settings.journal_path)

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


class _Group(click.Group):
    """Turns errors into one line and an exit code; tracebacks only with --debug."""

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


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--base-url",
    envvar=None,
    help="API root (default: $VENICE_BASE_URL, else the "
    "real API with a key, else the embedded local engine).",
)
@click.option("--journal", type=click.Path(dir_okay=False), help="Job journal file.")
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


# ------------------------------------------------------------------------------ generate


def _fill_defaults(state: State, client: VeniceVideo, fields: dict[str, Any]) -> None:
    """Pick the model's shortest duration when none is given (the API requires one)."""
    model = client.models().get(fields["model"])
    if model is None or "duration" in fields or model.auto_duration or not model.durations:
        return
    seconds = [d for d in model.durations if d.endswith("s") and d[:-1].isdigit()]
    if seconds:
        fields["duration"] = min(seconds, key=lambda d: int(d[:-1]))
        state.say(f"duration: {fields['duration']} (the shortest {model.id} takes; -d to choose)")


def _price(client: VeniceVideo, fields: dict[str, Any]) -> float:
    """Validate the full request (inputs read and checked) and ask its price; nothing is queued.

    Without a prompt (`venice-video quote` often has none) only the priced fields are checked.
    """
    model = client.models().get(fields["model"])
    if "prompt" in fields or (model is not None and not model.needs_prompt):
        request = client.validate(resolve_fields(fields))
        return float(client.quote(request=request).quote)
    priced = ("duration", "aspect_ratio", "resolution", "upscale_factor", "audio")
    return float(
        client.quote(fields["model"], **{k: fields[k] for k in priced if k in fields}).quote
    )


def _confirm_spend(state: State, quote: float, *, yes: bool, max_cost: float | None) -> float:
    """Decide whether to spend `quote`; returns the cap to hand the SDK."""
    if max_cost is not None and quote > max_cost:
        raise exc.SpendLimitError(quote_usd=quote, max_cost=max_cost)
    if yes or max_cost is not None or state.settings.uses_local_engine:
        return max_cost if max_cost is not None else quote
    if not sys.stdin.isatty():
        raise CLIError(
            f"the quote is ${quote:.4f}; not spending without confirmation",
            family="money",
            hint="pass --yes, or --max-cost USD",
        )
    if not click.confirm(f"This will cost ${quote:.4f}. Go ahead?", default=False, err=True):
        raise CLIError("declined; nothing was queued", family="money")
    return quote


def _job_data(job: VideoJob) -> dict[str, Any]:
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


def _interrupted(state: State, job_hint: str | None) -> NoReturn:
    where = f"job {job_hint} " if job_hint else "any queued job "
    click.echo(
        f"interrupted: {where}stays in the journal; finish it with `venice-video jobs resume`",
        err=True,
    )
    raise SystemExit(130)


@cli.command()
@click.argument("prompt", required=False)
@request_options
@click.option("-o", "--output", type=click.Path(), help="File or directory to save to.")
@click.option("--max-cost", type=float, help="Refuse if the quote is above this many USD.")
@click.option("-y", "--yes", is_flag=True, help="Spend without asking.")
@click.option("--dry-run", is_flag=True, help="Validate and quote only; nothing is queued.")
@click.option("--timeout", type=float, default=None, help="Seconds to wait for the job.")
@pass_state
def generate(
    state: State,
    /,
    prompt: str | None,
    output: str | None,
    max_cost: float | None,
    yes: bool,
    dry_run: bool,
    timeout: float | None,
    **request: Any,
) -> None:
    """Make a video from PROMPT (and any inputs) and save it."""
    fields = request_fields(request, default_model=state.settings.model)
    if prompt:
        fields["prompt"] = prompt
    max_cost = max_cost if max_cost is not None else state.settings.max_cost
    with state.client() as client:
        _fill_defaults(state, client, fields)
        quote = _price(client, fields)
        state.say(f"quote: ${quote:.4f} for {fields['model']}")
        if dry_run:
            state.emit(
                {"valid": True, "model": fields["model"], "quote_usd": quote},
                f"valid; quote ${quote:.4f}",
            )
            return
        cap = _confirm_spend(state, quote, yes=yes, max_cost=max_cost)
        if output is None and state.settings.output_dir != Path.cwd():
            output = str(state.settings.output_dir)
        display = JobDisplay(enabled=not (state.quiet or state.as_json))
        keys: list[str] = []

        def progress(event: Any) -> None:
            if event.queue_id and not keys:
                keys.append(event.queue_id)
            display(event)

        try:
            with display:
                job = client.generate(
                    **fields, output=output, max_cost=cap, on_progress=progress, timeout=timeout
                )
        except KeyboardInterrupt:
            _interrupted(state, keys[0] if keys else None)
    state.say(f"saved {job.path} ({fmt_seconds(job.elapsed_s)}, ${job.cost or 0:.4f})")
    state.emit(_job_data(job), str(job.path))


@cli.command()
@click.argument("prompt", required=False)
@request_options
@pass_state
def quote(state: State, /, prompt: str | None, **request: Any) -> None:
    """Price a video without making it (same options as generate)."""
    fields = request_fields(request, default_model=state.settings.model)
    if prompt:
        fields["prompt"] = prompt
    with state.client() as client:
        _fill_defaults(state, client, fields)
        price = _price(client, fields)
    state.emit({"model": fields["model"], "quote_usd": price}, f"${price:.4f}")


# ------------------------------------------------------------------------------ models


def _model_row(m: VideoModel) -> dict[str, Any]:
    return {
        "id": m.id,
        "type": m.model_type,
        "durations": _compact(m.durations),
        "resolutions": " ".join(m.resolutions) or "-",
        "aspect_ratios": " ".join(m.aspect_ratios) or "-",
        "audio": ("configurable" if m.audio_configurable else "yes") if m.audio else "no",
        "inputs": " ".join(m.inputs),
    }


def _compact(durations: tuple[str, ...]) -> str:
    seconds = [int(d[:-1]) for d in durations if d.endswith("s") and d[:-1].isdigit()]
    if len(seconds) == len(durations) and len(seconds) > 3:
        if seconds == list(range(seconds[0], seconds[-1] + 1)):
            return f"{seconds[0]}-{seconds[-1]}s"
    return " ".join(durations) or "-"


@cli.command()
@click.option(
    "--type", "model_type", type=click.Choice(["text-to-video", "image-to-video", "video"])
)
@click.option(
    "--input", "needs_input", help="Only models taking this input (image, video, audio, ...)."
)
@click.option("--refresh", is_flag=True, help="Fetch the catalog again instead of the cached copy.")
@pass_state
def models(state: State, model_type: str | None, needs_input: str | None, refresh: bool) -> None:
    """List video models and what each accepts."""
    with state.client() as client:
        catalog = client.models(refresh=refresh)
    chosen = catalog.filter(model_type=model_type, needs_input=needs_input)
    if state.as_json:
        state.emit([m.model_dump(mode="json") for m in chosen])
        return
    rows = [_model_row(m) for m in chosen]
    columns = ["id", "type", "durations", "resolutions", "aspect_ratios", "audio", "inputs"]
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{len(rows)} video models", show_lines=False)
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(str(row[c]) for c in columns))
        Console().print(table)
    else:
        click.echo(plain_table(rows, columns))


# ------------------------------------------------------------------------------ one job


def _find(state: State, client: VeniceVideo, job_id: str) -> VideoJob:
    matches = [
        j
        for j in client.jobs()
        if job_id in (j.queue_id, j.idempotency_key)
        or (j.queue_id or "").startswith(job_id)
        or j.idempotency_key.startswith(job_id)
    ]
    if not matches:
        raise CLIError(
            f"no job {job_id!r} in the journal",
            family="usage",
            hint="`venice-video jobs` lists them",
        )
    if len(matches) > 1:
        raise CLIError(
            f"{job_id!r} matches {len(matches)} jobs; give more of the id", family="usage"
        )
    return matches[0]


@cli.command()
@click.argument("job_id")
@pass_state
def status(state: State, job_id: str) -> None:
    """Ask the API where a job is (one free poll)."""
    with state.client() as client:
        job = _find(state, client, job_id)
        data = _job_data(job)
        if job.queue_id and job.status not in ("COMPLETED", "FAILED", "CANCELLED", "DOWNLOADED"):
            remote = client.retrieve(job.model, job.queue_id)
            data["server_status"] = remote.status
            data["average_execution_ms"] = remote.average_execution_time
            data["execution_ms"] = remote.execution_duration
    text = "\n".join(f"{k}: {v}" for k, v in data.items() if v is not None)
    state.emit(data, text)


@cli.command()
@click.argument("job_id")
@click.option("-o", "--output", type=click.Path(), help="File or directory to save to.")
@click.option("--timeout", type=float, default=None, help="Seconds to wait for the job.")
@pass_state
def download(state: State, job_id: str, output: str | None, timeout: float | None) -> None:
    """Wait for a job if needed, save its video, verify it, then clean up the server copy."""
    with state.client() as client:
        job = _find(state, client, job_id)
        display = JobDisplay(enabled=not (state.quiet or state.as_json))
        try:
            with display:
                job = client.download(job, output, timeout=timeout, on_progress=display)
        except KeyboardInterrupt:
            _interrupted(state, job.id)
    state.emit(_job_data(job), str(job.path))


@cli.command()
@click.argument("job_id")
@pass_state
def complete(state: State, job_id: str) -> None:
    """Delete a job's media from the server (only once its file is safely saved)."""
    with state.client() as client:
        job = _find(state, client, job_id)
        if job.status not in ("DOWNLOADED", "COMPLETED"):
            raise CLIError(
                f"job {job.id} has no verified local file (status {job.status}); completing "
                "it would delete the only copy",
                family="usage",
                hint=f"`venice-video download {job.id}` first",
            )
        if job.queue_id is None:
            raise CLIError(f"job {job.id} was never queued", family="usage")
        result = client.complete(job.model, job.queue_id)
    state.emit({"id": job.id, "success": result.success}, f"completed {job.id}")


# ------------------------------------------------------------------------------ journal


@cli.group(invoke_without_command=True)
@click.option("--status", "statuses", multiple=True, help="Only jobs with this status.")
@click.option("--unfinished", is_flag=True, help="Only jobs not yet finished.")
@click.option("-n", "--limit", type=int, default=None)
@click.pass_context
def jobs(
    ctx: click.Context, statuses: tuple[str, ...], unfinished: bool, limit: int | None
) -> None:
    """The journal of jobs: id, model, status, cost, file."""
    if ctx.invoked_subcommand is not None:
        return
    state = ctx.find_object(State)
    assert state is not None
    with state.journal() as journal:
        entries = journal.list(statuses=statuses or None, unfinished=unfinished, limit=limit)
    rows = [
        {
            "id": e.queue_id or e.key,
            "model": e.model,
            "status": e.status,
            "cost": f"${e.quote_usd:.4f}" if e.quote_usd is not None else "-",
            "file": e.output_path or "-",
            # A story's shots say which story and shot they are.
            "story": f"{e.tags['story_title']} #{e.tags.get('story_shot')}"
            if "story_title" in e.tags
            else "",
        }
        for e in entries
    ]
    if state.as_json:
        state.emit(
            [
                {
                    "key": e.key,
                    "queue_id": e.queue_id,
                    "model": e.model,
                    "status": e.status,
                    "quote_usd": e.quote_usd,
                    "output_path": e.output_path,
                    "error": e.error,
                    "created_at": e.created_at,
                    "tags": e.tags,
                }
                for e in entries
            ]
        )
    elif not rows:
        click.echo("no jobs")
    else:
        columns = ["id", "model", "status", "cost", "file"]
        click.echo(
            plain_table(rows, columns + (["story"] if any(r["story"] for r in rows) else []))
        )


@jobs.command("resume")
@click.option("--timeout", type=float, default=None, help="Seconds to wait for each job.")
@pass_state
def jobs_resume(state: State, timeout: float | None) -> None:
    """Finish every unfinished job: wait, download, verify, clean up. Never re-queues."""
    with state.client() as client:
        display = JobDisplay(enabled=not (state.quiet or state.as_json))
        with display:
            done = client.resume(timeout=timeout, on_progress=display)
    rows = [_job_data(j) for j in done]
    failed = [r for r in rows if r["status"] not in ("COMPLETED", "DOWNLOADED")]
    state.emit(
        rows,
        "\n".join(f"{r['id']}  {r['status']}  {r['path'] or r.get('error', '')}" for r in rows)
        or "nothing to resume",
    )
    if failed:
        raise SystemExit(9)


@jobs.command("clean")
@click.option("--all", "everything", is_flag=True, help="Also forget unfinished jobs (dangerous).")
@click.option("--older-than", type=float, default=None, help="Only entries older than N days.")
@pass_state
def jobs_clean(state: State, everything: bool, older_than: float | None) -> None:
    """Forget finished jobs (completed, failed, cancelled); files on disk are kept."""
    with state.journal() as journal:
        statuses = JOB_STATUSES if everything else TERMINAL_STATUSES
        removed = journal.clean(
            statuses=statuses, older_than_s=older_than * 86400 if older_than else None
        )
    state.emit({"removed": removed}, f"removed {removed} journal entries")


# ------------------------------------------------------------------------------ config


@cli.command("config")
@pass_state
def config_cmd(state: State) -> None:
    """Show the settings in force and where each came from (never the key itself)."""
    info = state.settings.describe()
    text = "\n".join(f"{k}: {v}" for k, v in info.items() if k != "sources")
    state.emit(info, text)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `venice-video` command."""
    from . import _more, _story  # noqa: F401  (registers batch, transcribe, serve, mcp, story)

    cli.main(args=argv, prog_name="venice-video")
