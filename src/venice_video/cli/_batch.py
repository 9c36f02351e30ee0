"""`venice-video batch`: many jobs from a JSONL or YAML file, resumable after a crash.

Each row gets a deterministic `Idempotency-Key` made from the batch file's path, the row's
number and its content. Run the same command again after a crash or Ctrl-C and every row
is found in the journal by that key: finished rows are skipped, queued ones are waited
for and downloaded, and nothing is queued twice.

Every new row is checked before any money moves (its fields, its inputs, its output file,
its price); a bad row is reported as `FILE:LINE (row N): field: message`, and either stops
the batch or, with `--skip-invalid`, is left out.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import click

from .. import _exceptions as exc
from .._async_client import AsyncVeniceVideo
from .._models import QueueRequest, QuoteResponse, VideoJob
from .._output import check_target
from ..journal import JournalStore
from ._engine import endpoint
from ._errors import CLIError
from ._group import State, pass_state
from ._names import as_row_key, issue_text, rename
from ._options import request_fields
from ._progress import BatchDisplay

__all__ = ["BatchRow", "BatchSummary", "load_rows", "run_batch"]

FINISHED = ("COMPLETED", "DOWNLOADED")
ALIASES = {
    "aspect": "aspect_ratio",
    "negative": "negative_prompt",
    "audio_file": "audio_input",
    "end-image": "end_image",
    "refs": "reference_images",
    "ref": "reference_images",
    "scenes": "scene_images",
    "scene": "scene_images",
    "upscale": "upscale_factor",
}
KNOWN = {
    "prompt",
    "model",
    "duration",
    "aspect_ratio",
    "resolution",
    "audio",
    "negative_prompt",
    "image",
    "end_image",
    "audio_input",
    "video",
    "reference_images",
    "elements",
    "scene_images",
    "upscale_factor",
    "name",
    "output",
}
#: Row keys of the options `request_fields` may complain about.
_ROW_KEY = {"duration": "duration", "element": "elements"}
#: Mistakes in one row; anything else (the API unreachable, ...) stops the whole batch.
ROW_ERRORS = (
    exc.ValidationError,
    exc.InputError,
    exc.OutputError,
    exc.BadRequestError,
    click.BadParameter,
)


@dataclass
class BatchRow:
    index: int
    fields: dict[str, Any]
    name: str
    output: Path
    key: str
    line: int = 0
    status: str = "pending"  # pending, skipped, done, failed, unknown, invalid
    cost: float | None = None
    error: str | None = None
    path: Path | None = None
    request: QueueRequest | None = None
    quote: QuoteResponse | None = None
    #: What is wrong with the row, one `FILE:LINE (row N): field: message` each.
    problems: list[str] = field(default_factory=list)


@dataclass
class BatchSummary:
    rows: list[BatchRow] = field(default_factory=list)
    interrupted: bool = False

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)

    @property
    def cost(self) -> float:
        return sum(r.cost or 0.0 for r in self.rows if r.status in ("done", "skipped"))

    @property
    def ok(self) -> bool:
        return not self.interrupted and all(r.status in ("done", "skipped") for r in self.rows)

    def as_dict(self) -> dict[str, Any]:
        return {
            "done": self.count("done"),
            "skipped": self.count("skipped"),
            "failed": self.count("failed") + self.count("unknown"),
            "invalid": self.count("invalid"),
            "pending": self.count("pending"),
            "cost_usd": round(self.cost, 6),
            "rows": [
                {
                    "index": r.index,
                    "line": r.line,
                    "name": r.name,
                    "status": r.status,
                    "cost_usd": r.cost,
                    "path": str(r.path) if r.path else None,
                    "output": str(r.output),
                    "error": r.error,
                    "problems": r.problems,
                    "key": r.key,
                }
                for r in self.rows
            ],
        }


def _slug(text: str, limit: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:limit].rstrip("-") or "video"


def _file_safe(name: str, limit: int = 60) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    return safe[:limit].rstrip("-.") or "video"


def _parse(path: Path) -> list[tuple[int, Any]]:
    """The rows of the file, each with the line it starts on."""
    text = path.read_text("utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
            node = yaml.compose(text)
        except yaml.YAMLError as error:
            raise CLIError(f"{path}: not valid YAML ({error})", family="usage") from None
        if isinstance(data, Mapping) and "jobs" in data:
            data = data["jobs"]
            pairs = node.value if node is not None else []
            node = next((v for k, v in pairs if k.value == "jobs"), None)
        if not isinstance(data, list):
            raise CLIError(f"{path}: expected a list of jobs (or a `jobs:` list)", family="usage")
        lines = [item.start_mark.line + 1 for item in node.value] if node is not None else []
        return [(lines[i] if i < len(lines) else 0, row) for i, row in enumerate(data)]
    rows: list[tuple[int, Any]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            rows.append((number, json.loads(line)))
        except json.JSONDecodeError as error:
            rows.append((number, _Unreadable(f"not JSON ({error.msg})")))
    return rows


@dataclass
class _Unreadable:
    reason: str


def load_rows(
    path: Path,
    *,
    default_model: str,
    out_dir: Path,
    template: str,
    defaults: Mapping[str, Any],
) -> list[BatchRow]:
    """Read every row; what is wrong with one is kept in its `problems`, not raised."""
    batch_id = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    rows: list[BatchRow] = []
    for index, (line, raw) in enumerate(_parse(path)):
        number = index + 1
        where = f"{path}:{line} (row {number})"
        problems: list[str] = []
        values: dict[str, Any] = {}
        if isinstance(raw, str):
            raw = {"prompt": raw}
        if isinstance(raw, _Unreadable):
            problems.append(f"{where}: {raw.reason}")
        elif not isinstance(raw, Mapping):
            problems.append(f"{where}: expected an object (or a prompt), not {raw!r:.40}")
        else:
            values = {ALIASES.get(str(k), str(k)).replace("-", "_"): v for k, v in raw.items()}
        for name in sorted(set(values) - KNOWN):
            problems.append(f"{where}: {name}: not a field a row takes")
            values.pop(name)
        merged = {**defaults, **{k: v for k, v in values.items() if v is not None}}
        for name in ("duration", "upscale_factor"):
            if merged.get(name) is not None:
                merged[name] = str(merged[name])
        try:
            fields = request_fields(merged, default_model=default_model)
        except click.BadParameter as error:
            flag = str(error.param_hint or "").strip("'\"").lstrip("-").replace("-", "_")
            problems.append(f"{where}: {_ROW_KEY.get(flag, flag)}: {error.message}")
            # The row cannot run; its other fields still name it and its file.
            fields = request_fields(
                {k: v for k, v in merged.items() if k not in ("duration", "elements")},
                default_model=default_model,
            )
        if merged.get("prompt"):
            fields["prompt"] = str(merged["prompt"])
        canonical = json.dumps(fields, sort_keys=True, default=str)
        key = hashlib.sha256(f"{batch_id}:{index}:{canonical}".encode()).hexdigest()[:32]
        given = merged.get("name")
        name = str(given) if given else _slug(str(merged.get("prompt") or fields["model"]))
        filename = merged.get("output") or template.format(
            index=number,
            slug=_slug(str(merged.get("prompt") or "")),
            name=_file_safe(name),
            model=fields["model"],
            key=key[:8],
        )
        rows.append(
            BatchRow(
                index=number,
                fields=fields,
                name=name,
                output=(out_dir / str(filename)).absolute(),
                key=key,
                line=line,
                problems=problems,
            )
        )
    first: dict[Path, BatchRow] = {}
    for row in rows:
        other = first.setdefault(row.output, row)
        if other is not row:
            row.problems.append(
                f"{path}:{row.line} (row {row.index}): output: {row.output.name} is also row "
                f"{other.index}'s file; give each row its own name or output"
            )
    return rows


def _problem(path: Path, row: BatchRow, error: BaseException) -> list[str]:
    where = f"{path}:{row.line} (row {row.index})"
    if isinstance(error, exc.ValidationError) and error.issues:
        lines = []
        for issue in error.issues:
            line = f"{where}: {issue_text(issue, as_row_key)}"
            if issue.field == "model":
                line += " (`venice-video models` lists the models)"
            lines.append(line)
        return lines
    message = str(error) or type(error).__name__
    if isinstance(error, exc.InputError):
        name, sep, rest = message.partition(": ")
        if sep and " " not in name:
            return [f"{where}: {as_row_key(name)}: {rename(rest, as_row_key)}"]
    if isinstance(error, exc.OutputError):
        return [f"{where}: output: {message}"]
    return [f"{where}: {rename(message, as_row_key)}"]


async def _check_and_price(client: AsyncVeniceVideo, row: BatchRow, *, overwrite: bool) -> float:
    row.request = await client.prepare(**row.fields)
    await anyio.to_thread.run_sync(lambda: check_target(row.output, overwrite=overwrite))
    row.quote = await client.quote(request=row.request)
    return float(row.quote.quote)


def _entry_state(journal: JournalStore, client: AsyncVeniceVideo, row: BatchRow) -> str | None:
    """None for a new row; else what the journal says about it (`finished`, `resume`, ...)."""
    entry = journal.get(row.key)
    if entry is None:
        return None
    row.cost = entry.quote_usd
    if entry.status in FINISHED and entry.output_path and Path(entry.output_path).is_file():
        row.path = Path(entry.output_path)
        return "finished"
    if entry.api != client.api_id:
        row.error = (
            f"its journal entry belongs to another API ({entry.api}); resume it there with "
            "`venice-video jobs resume`"
        )
        return "elsewhere"
    if entry.status in ("FAILED", "CANCELLED"):
        row.error = f"it {entry.status.lower()} earlier ({entry.error or 'no reason given'}); "
        row.error += "change the row (or use another batch file) to run it again"
        return "ended"
    return "resume"


async def run_batch(
    client: AsyncVeniceVideo,
    journal: JournalStore,
    rows: list[BatchRow],
    *,
    source: Path,
    concurrency: int,
    max_total_cost: float | None,
    confirm: Callable[[float, int], bool],
    display: BatchDisplay,
    timeout: float | None = None,
    skip_invalid: bool = False,
    overwrite: bool = False,
) -> BatchSummary:
    """Check and quote every new row, check the budget, then run all rows `concurrency` at a
    time. Nothing is queued while a row is invalid, unless `skip_invalid` leaves it out."""
    summary = BatchSummary(rows=rows)
    new: list[BatchRow] = []
    for row in rows:
        if row.problems:
            continue
        state = _entry_state(journal, client, row)
        if state == "finished":
            row.status = "skipped"
            display.finish(row.index, row.name, ok=True, text=f"{row.path} (done before)")
        elif state in ("elsewhere", "ended"):
            row.status = "failed"
            display.finish(row.index, row.name, ok=False, text=row.error or "")
        elif state is None:
            new.append(row)
    committed = sum(r.cost or 0.0 for r in rows if r.status == "pending" and r not in new)

    prices: dict[int, float] = {}
    fatal: list[BaseException] = []
    limiter = anyio.CapacityLimiter(max(1, concurrency))

    async def check(row: BatchRow) -> None:
        async with limiter:
            try:
                prices[row.index] = await _check_and_price(client, row, overwrite=overwrite)
            except ROW_ERRORS as error:
                row.problems.extend(_problem(source, row, error))
            except exc.VeniceVideoError as error:
                fatal.append(error)

    async with anyio.create_task_group() as tg:
        for row in new:
            tg.start_soon(check, row)
    if fatal:
        raise fatal[0]
    invalid = [r for r in rows if r.problems]
    if invalid:
        lines = [p for r in invalid for p in r.problems]
        if not skip_invalid:
            raise CLIError(
                f"{len(invalid)} of {len(rows)} rows cannot run; nothing was queued:\n  "
                + "\n  ".join(lines),
                family="validation",
                hint="fix them, or pass --skip-invalid to run the other rows",
            )
        for row in invalid:
            row.status = "invalid"
            row.error = "; ".join(row.problems)
        for line in lines:
            display.note(f"skipped: {line}")
        new = [r for r in new if not r.problems]
    planned = sum(prices[r.index] for r in new)
    if max_total_cost is not None and committed + planned > max_total_cost + 1e-9:
        raise CLIError(
            f"the batch would cost ${committed + planned:.4f} (${planned:.4f} new, "
            f"${committed:.4f} already queued), over --max-total-cost ${max_total_cost:.4f}; "
            "nothing new was queued",
            family="money",
        )
    if new and not confirm(planned, len(new)):
        raise CLIError("declined; nothing new was queued", family="money")

    async def one(row: BatchRow) -> None:
        async with limiter:
            price = prices.get(row.index)
            on_progress = display.start(row.index, row.name, price if price else row.cost)
            try:
                if row in new:
                    job = await client.generate(
                        request=row.request,
                        quote=row.quote,
                        output=row.output,
                        overwrite=overwrite,
                        idempotency_key=row.key,
                        max_cost=prices[row.index] * 1.0001 + 1e-9,
                        timeout=timeout,
                        tags={"batch_row": row.index, "batch_name": row.name},
                        on_progress=on_progress,
                    )
                else:
                    resumed = await client.resume(
                        keys=[row.key], timeout=timeout, on_progress=on_progress
                    )
                    if not resumed:
                        raise CLIError("its journal entry could not be resumed")
                    job = resumed[0]
                _finish(row, job)
            except Exception as error:  # one row failing must not stop the others
                row.status = "failed"
                row.error = str(error) or type(error).__name__
            ok = row.status == "done"
            cost = f" (${row.cost:.4f})" if ok and row.cost is not None else ""
            display.finish(
                row.index, row.name, ok=ok, text=f"{row.path}{cost}" if ok else row.error or ""
            )

    try:
        async with anyio.create_task_group() as tg:
            for row in rows:
                if row.status == "pending":
                    tg.start_soon(one, row)
    except BaseException:
        summary.interrupted = True
        raise
    return summary


def _finish(row: BatchRow, job: VideoJob) -> None:
    row.cost = job.cost if job.cost is not None else row.cost
    if job.status in FINISHED and job.path is not None:
        row.status = "done"
        row.path = job.path
    elif job.status == "UNKNOWN":
        row.status = "unknown"
        row.error = job.error or "queue outcome unknown"
    else:
        row.status = "failed"
        row.error = job.error or f"ended as {job.status}"


def print_summary(summary: BatchSummary, *, stream: Any = None) -> None:
    """The totals, then every row: its status and its file (or why it has none)."""
    stream = stream or sys.stderr
    data = summary.as_dict()
    from rich.console import Console
    from rich.table import Table

    console = Console(file=stream)
    table = Table(title="batch summary")
    for column in ("done", "skipped", "failed", "invalid", "pending", "cost"):
        table.add_column(column, justify="right")
    table.add_row(
        str(data["done"]),
        str(data["skipped"]),
        str(data["failed"]),
        str(data["invalid"]),
        str(data["pending"]),
        f"${data['cost_usd']:.4f}",
    )
    console.print(table)
    for row in summary.rows:
        if row.status in ("done", "skipped"):
            what = str(row.path)
        elif row.status == "pending":
            what = f"not run (would be {row.output})"
        else:
            what = row.error or ""
        console.print(f"row {row.index} ({row.name}): {row.status}: {what}", markup=False,
                      highlight=False, soft_wrap=True)  # fmt: skip


# ------------------------------------------------------------------------------ the command


@click.command()
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
