"""`batch`, `transcribe`, `serve` and `mcp`: the commands beyond one job."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any

import anyio
import click

from .._client import AsyncVeniceVideo
from .._subtitles import to_srt, to_vtt
from ._app import State, cli, pass_state
from ._batch import BatchRow, load_rows, print_summary, run_batch
from ._engine import endpoint
from ._errors import CLIError
from ._progress import BatchDisplay

__all__: list[str] = []


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-c", "--concurrency", type=click.IntRange(1, 500), default=8, show_default=True)
@click.option(
    "--max-total-cost",
    type=click.FloatRange(min=0),
    help="Refuse the batch if it would cost more (USD).",
)
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to save the videos (default: the config's output_dir, else here).",
)
@click.option(
    "--name",
    "template",
    default="{index:03d}-{name}.mp4",
    show_default=True,
    help="File name template: {index} {name} (the row's name, else its prompt) {slug} "
    "(its prompt) {model} {key}.",
)
@click.option("-m", "--model", help="Default model for rows that name none.")
@click.option("-d", "--duration", help="Default duration for rows that give none.")
@click.option("-r", "--resolution", help="Default resolution for rows that give none.")
@click.option("-a", "--aspect", "aspect_ratio", help="Default aspect ratio.")
@click.option("-y", "--yes", is_flag=True, help="Spend without asking.")
@click.option("--skip-invalid", is_flag=True, help="Run the valid rows when some are not.")
@click.option("--overwrite", is_flag=True, help="Replace files already at rows' outputs.")
@click.option("--timeout", type=float, default=None, help="Seconds to wait for each job.")
@click.option("--detach", is_flag=True, help="Hand the jobs to workers (shared journal).")
@click.option("--budget", "budgets", multiple=True, help="With --detach: reserve in this budget.")
@pass_state
def batch(
    state: State,
    file: Path,
    concurrency: int,
    max_total_cost: float | None,
    out_dir: Path | None,
    template: str,
    model: str | None,
    duration: str | None,
    resolution: str | None,
    aspect_ratio: str | None,
    yes: bool,
    skip_invalid: bool,
    overwrite: bool,
    timeout: float | None,
    detach: bool,
    budgets: tuple[str, ...],
) -> None:
    """Run every job in FILE (JSONL, one job a line, or YAML, a list); rerun to resume.

    Each row takes the generate options as keys: prompt, model, duration, aspect,
    resolution, audio, negative, image, end_image, audio_file, video, refs, elements,
    scenes, upscale, plus name and output (the file name). Every row is checked before
    anything is queued. With --detach the rows are priced, reserved and handed to
    `venice-video worker`s through the shared journal.
    """
    defaults = {
        k: v
        for k, v in {
            "model": model,
            "duration": duration,
            "resolution": resolution,
            "aspect_ratio": aspect_ratio,
        }.items()
        if v
    }
    if detach:
        from ._workers import submit_batch

        return submit_batch(state, file, out_dir=out_dir, template=template, defaults=defaults,
                            max_total_cost=max_total_cost, budgets=budgets, yes=yes,
                            skip_invalid=skip_invalid, overwrite=overwrite)  # fmt: skip
    out = out_dir or state.settings.output_dir
    try:
        rows = load_rows(
            file,
            default_model=state.settings.model,
            out_dir=out,
            template=template,
            defaults=defaults,
        )
    except (KeyError, IndexError, ValueError) as error:
        raise click.BadParameter(f"{template!r}: {error}", param_hint="--name") from None
    out.mkdir(parents=True, exist_ok=True)
    display = BatchDisplay(len(rows), enabled=not (state.quiet or state.as_json))
    display.note(f"{len(rows)} jobs from {file}, {concurrency} at a time, into {out}")
    with endpoint(state.settings, quiet=state.quiet or state.as_json) as api:
        summary = anyio.run(
            functools.partial(
                _run,
                state,
                api.client_kwargs(state.settings),
                rows,
                source=file,
                display=display,
                concurrency=concurrency,
                max_total_cost=max_total_cost,
                yes=yes or api.is_local,
                timeout=timeout,
                skip_invalid=skip_invalid,
                overwrite=overwrite,
            )
        )
    if state.as_json:
        state.emit(summary.as_dict())
    elif not state.quiet:
        print_summary(summary)
    if not summary.ok:
        raise SystemExit(9)


async def _run(
    state: State,
    client_kw: dict[str, Any],
    rows: list[BatchRow],
    *,
    source: Path,
    display: BatchDisplay,
    concurrency: int,
    max_total_cost: float | None,
    yes: bool,
    timeout: float | None,
    skip_invalid: bool,
    overwrite: bool,
) -> Any:
    def confirm(planned: float, count: int) -> bool:
        display.note(f"{count} new jobs, quoted ${planned:.4f} in total")
        if yes or max_total_cost is not None:
            return True
        if not sys.stdin.isatty():
            raise CLIError(
                f"the batch is quoted ${planned:.4f}; not spending without confirmation",
                family="money",
                hint="pass --yes or --max-total-cost",
            )
        return click.confirm(f"Spend ${planned:.4f}?", default=False, err=True)

    async with AsyncVeniceVideo(**client_kw) as client:
        journal = client.journal
        if journal is None:  # pragma: no cover - the CLI always keeps a journal
            raise CLIError("batch needs a journal", family="usage")
        with display:
            try:
                return await run_batch(
                    client,
                    journal,
                    rows,
                    source=source,
                    concurrency=concurrency,
                    max_total_cost=max_total_cost,
                    confirm=confirm,
                    display=display,
                    timeout=timeout,
                    skip_invalid=skip_invalid,
                    overwrite=overwrite,
                )
            except BaseException as error:
                if isinstance(error, KeyboardInterrupt | anyio.get_cancelled_exc_class()):
                    click.echo(
                        "interrupted: queued jobs stay in the journal; run the same "
                        "batch command again to finish them",
                        err=True,
                    )
                raise


@cli.command()
@click.argument("source")
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["json", "text", "srt", "vtt"]),
    default="text",
    show_default=True,
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--model", "stt_model", default=None, help="Speech model for local files.")
@click.option("--language", default=None, help="ISO 639-1 hint for local files.")
@pass_state
def transcribe(
    state: State,
    source: str,
    fmt: str,
    output: Path | None,
    stt_model: str | None,
    language: str | None,
) -> None:
    """Transcribe a video URL, or a local audio or video file (its audio track is extracted)."""
    is_url = source.startswith(("http://", "https://"))
    if not is_url and not Path(source).expanduser().exists():
        raise CLIError(f"{source}: no such file, and not an http(s) URL", family="usage")
    if is_url and fmt in ("srt", "vtt"):
        raise CLIError(
            f"--format {fmt} needs timestamps, which /video/transcriptions does not "
            "give; download the video and transcribe the file",
            family="usage",
        )
    with state.client() as client:
        if is_url:
            result = client.transcribe(source, response_format="json")
            data: dict[str, Any] = result.model_dump(mode="json", exclude_none=True)
            text = result.transcript
        else:
            kw: dict[str, Any] = {"timestamps": fmt in ("srt", "vtt", "json")}
            if stt_model:
                kw["model"] = stt_model
            if language:
                kw["language"] = language
            audio = client.transcribe_audio(Path(source).expanduser(), **kw)
            data = audio.model_dump(mode="json", exclude_none=True)
            text = audio.text
    if fmt == "json":
        rendered = json.dumps(data, indent=2)
    elif fmt in ("srt", "vtt"):
        segments = (data.get("timestamps") or {}).get("segment") or []
        rendered = to_srt(segments) if fmt == "srt" else to_vtt(segments)
    else:
        rendered = text.strip() + "\n"
    if output is not None:
        output.write_text(rendered, "utf-8")
        state.say(f"saved {output}")
    else:
        click.echo(rendered, nl=not rendered.endswith("\n"))


@cli.command(
    context_settings={
        "ignore_unknown_options": True,
        "allow_extra_args": True,
        "help_option_names": [],
    }
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def serve(args: tuple[str, ...]) -> None:
    """Run the local Venice-compatible video server (placeholder videos, for development).

    Options: --host, --port, --speed N, --data-dir DIR, --accounts FILE, --config FILE,
    --workers N, --allow-private-urls, --ephemeral; `venice-video serve --help` lists them.
    """
    from ..server import main as server_main

    _announce_server(list(args))
    raise SystemExit(server_main(list(args)))


def _announce_server(args: list[str]) -> None:
    """Say how a client reaches the server: its base URL (with /api/v1) and which keys work."""
    if any(a in ("-h", "--help") for a in args):
        return
    from ..server import config_from_argv

    try:
        parsed, config = config_from_argv(args)
        open_accounts = config.all_accounts() is None
    except (SystemExit, OSError, ValueError):
        return  # the server reports the mistake itself
    host = "127.0.0.1" if parsed.host in ("0.0.0.0", "::", "") else parsed.host
    host = f"[{host}]" if ":" in host else host
    if parsed.port:
        click.echo(
            f"Client base URL: http://{host}:{parsed.port}/api/v1 "
            "(give it as VENICE_BASE_URL or --base-url)",
            err=True,
        )
    if open_accounts:
        click.echo(
            f"API key: any non-empty key works (each key is an account with "
            f"${config.starting_balance_usd:.2f}; placeholder videos, not money)",
            err=True,
        )
    else:
        click.echo("API key: only the keys in the accounts file work", err=True)


@cli.command()
@click.option(
    "--http", "http_bind", metavar="HOST:PORT", help="Serve streamable HTTP instead of stdio."
)
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The only directory the tools may read inputs from and write videos to.",
)
@click.option("--max-cost-per-call", type=float, default=None, help="USD cap on one generation.")
@click.option("--budget", type=float, default=None, help="USD cap on all generations of this run.")
@pass_state
def mcp(
    state: State,
    http_bind: str | None,
    root: Path | None,
    max_cost_per_call: float | None,
    budget: float | None,
) -> None:
    """Run the MCP server (tools for AI agents), over stdio or streamable HTTP."""
    try:
        from ..mcp_server import run as run_mcp
    except ImportError as error:
        raise CLIError(
            "the MCP server needs the [mcp] extra", hint="pip install 'venice-video[mcp]'"
        ) from error
    run_mcp(
        settings=state.settings,
        http=http_bind,
        root=root or Path.cwd(),
        max_cost_per_call=max_cost_per_call,
        budget=budget,
    )


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=int, default=8765, show_default=True)
@click.option("--open", "open_browser", is_flag=True, help="Open the page in a browser.")
@pass_state
def ui(state: State, host: str, port: int, open_browser: bool) -> None:
    """Serve the local gallery: watch, compare and manage videos in the browser."""
    try:
        from ..ui import run as run_ui
    except ImportError as error:
        raise CLIError(
            "the gallery needs the [ui] extra", hint="pip install 'venice-video[ui]'"
        ) from error
    run_ui(settings=state.settings, host=host, port=port, open_browser=open_browser)
