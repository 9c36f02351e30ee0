"""`generate` and `quote`: make one video, or price it."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from .. import _exceptions as exc
from .._client import VeniceVideo
from .._models import QueueRequest, QuoteResponse
from .._output import STDOUT, check_target, output_path
from ._errors import CLIError
from ._group import State, interrupted, job_data, pass_state
from ._models import CHEAPEST, pick_cheapest
from ._options import request_fields, request_options
from ._progress import JobDisplay, fmt_seconds

__all__ = ["generate", "quote"]


def _fill_defaults(state: State, client: VeniceVideo, fields: dict[str, Any]) -> None:
    """Pick the model's shortest duration when none is given (the API requires one)."""
    model = client.models().get(fields["model"])
    if model is None or "duration" in fields or model.auto_duration or not model.durations:
        return
    seconds = [d for d in model.durations if d.endswith("s") and d[:-1].isdigit()]
    if seconds:
        fields["duration"] = min(seconds, key=lambda d: int(d[:-1]))
        state.say(f"duration: {fields['duration']} (the shortest {model.id} takes; -d to choose)")


def _price(
    client: VeniceVideo, fields: dict[str, Any]
) -> tuple[QueueRequest | None, QuoteResponse]:
    """Prepare the full request (inputs read and checked) and ask its price; nothing is queued.

    Without a prompt (`venice-video quote` often has none) only the priced fields are checked,
    and there is no request to queue.
    """
    model = client.models().get(fields["model"])
    if "prompt" in fields or (model is not None and not model.needs_prompt):
        request = client.prepare(**fields)
        return request, client.quote(request=request)
    priced = ("duration", "aspect_ratio", "resolution", "upscale_factor", "audio")
    return None, client.quote(fields["model"], **{k: fields[k] for k in priced if k in fields})


def _choose_cheapest(client: VeniceVideo, fields: dict[str, Any]) -> None:
    """`--model cheapest`: pick the model, and say which and at what price, before any spend."""
    choice = pick_cheapest(client, fields)
    # Shown even with --quiet or --json: it says where the money would go.
    click.echo(
        f"model: {choice.id}, the cheapest that can make this video "
        f"(${choice.quote_usd:.2f} for {choice.shape})",
        err=True,
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


def _require_prompt(client: VeniceVideo, fields: dict[str, Any]) -> None:
    """`generate` without a prompt is a usage mistake, said before anything is priced."""
    model = client.models().get(fields["model"])
    if "prompt" not in fields and (model is None or model.needs_prompt):
        raise click.UsageError(
            f"generate needs a PROMPT ({fields['model']} makes a video from one), e.g. "
            'venice-video generate "A fox runs through fresh snow"'
        )


def _target(output: str | None, model: str, *, overwrite: bool, as_json: bool) -> None:
    """Refuse an output that cannot be written, before anything is priced."""
    if output is None:
        return
    if output == STDOUT and as_json:
        raise click.UsageError("--json and -o - would both write to standard output")
    if output.endswith(("/", os.sep)) or Path(output).expanduser().is_dir():
        return  # a folder: the file gets a fresh name in it
    check_target(output_path(output, model, key=""), overwrite=overwrite)


@click.command()
@click.argument("prompt", required=False)
@request_options
@click.option(
    "-o",
    "--output",
    type=click.Path(allow_dash=True),
    help="File or directory to save to; - writes the video to standard output.",
)
@click.option("--overwrite", is_flag=True, help="Replace a file already at --output.")
@click.option(
    "--max-cost",
    type=click.FloatRange(min=0),
    help="Refuse if the quote is above this many USD.",
)
@click.option("-y", "--yes", is_flag=True, help="Spend without asking.")
@click.option("--dry-run", is_flag=True, help="Validate and quote only; nothing is queued.")
@click.option("--timeout", type=float, default=None, help="Seconds to wait for the job.")
@pass_state
def generate(
    state: State,
    /,
    prompt: str | None,
    output: str | None,
    overwrite: bool,
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
    _target(output, fields["model"], overwrite=overwrite, as_json=state.as_json)
    with state.client() as client:
        if fields["model"] == CHEAPEST:
            _choose_cheapest(client, fields)
        _require_prompt(client, fields)
        _fill_defaults(state, client, fields)
        prepared, priced = _price(client, fields)
        quote = float(priced.quote)
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
                    **({"request": prepared, "quote": priced} if prepared else fields),
                    output=output,
                    max_cost=cap,
                    on_progress=progress,
                    timeout=timeout,
                    overwrite=overwrite,
                )
        except KeyboardInterrupt:
            interrupted(state, keys[0] if keys else None)
    where = "standard output" if str(job.path) == STDOUT else str(job.path)
    state.say(f"saved {where} ({fmt_seconds(job.elapsed_s)}, ${job.cost or 0:.4f})")
    state.emit(job_data(job), None if str(job.path) == STDOUT else str(job.path))


@click.command()
@click.argument("prompt", required=False)
@request_options
@pass_state
def quote(state: State, /, prompt: str | None, **request: Any) -> None:
    """Price a video without making it (same options as generate)."""
    fields = request_fields(request, default_model=state.settings.model)
    if prompt:
        fields["prompt"] = prompt
    with state.client() as client:
        if fields["model"] == CHEAPEST:
            _choose_cheapest(client, fields)
        _fill_defaults(state, client, fields)
        price = float(_price(client, fields)[1].quote)
    state.emit({"model": fields["model"], "quote_usd": price}, f"${price:.4f}")
