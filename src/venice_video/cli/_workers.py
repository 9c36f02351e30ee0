"""`worker`, `workers`, `journal migrate`, and `batch --detach`: running on many machines.

All of them need a shared journal: `--journal postgresql://...` or `VENICE_VIDEO_JOURNAL`.
"""

from __future__ import annotations

import hashlib
import signal
import sys
from pathlib import Path
from typing import Any

import click

from ._errors import CLIError
from ._group import State, pass_state
from ._progress import plain_table

__all__ = ["submit_batch"]


def _shared_url(state: State) -> str:
    target = state.settings.journal_path
    if target is None or not str(target).lower().startswith(("postgres://", "postgresql://")):
        raise CLIError(
            "this needs the shared journal",
            family="usage",
            hint="pass --journal postgresql://USER@HOST/DB, or set VENICE_VIDEO_JOURNAL",
        )
    return str(target)


def _needs_extra() -> None:
    try:
        import procrastinate  # noqa: F401
        import psycopg  # noqa: F401
    except ImportError as error:
        raise CLIError(
            "workers need the [postgres] extra", hint="pip install 'venice-video[postgres]'"
        ) from error


# ------------------------------------------------------------------------------ worker


@click.command()
@click.option("-c", "--concurrency", type=click.IntRange(1, 256), default=4, show_default=True)
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The shared folder files are saved under (default: the config's output_dir).",
)
@click.option("--name", help="This worker's name in the journal (default: host-pid-random).")
@click.option(
    "--lease",
    type=click.FloatRange(1.0, 3600.0),
    default=30.0,
    show_default=True,
    help="Seconds a job stays this worker's without a renewal (its takeover time after a crash).",
)
@click.option("--queue-limit", type=click.IntRange(1), default=40, show_default=True)
@click.option("--retrieve-limit", type=click.IntRange(1), default=120, show_default=True)
@click.option(
    "--rate-window",
    type=click.FloatRange(0.1),
    default=60.0,
    show_default=True,
    help="Seconds the key's limits are counted over (headers adjust the limits).",
)
@pass_state
def worker(
    state: State,
    concurrency: int,
    output_dir: Path | None,
    name: str | None,
    lease: float,
    queue_limit: int,
    retrieve_limit: int,
    rate_window: float,
) -> None:
    """Take jobs from the shared journal and make them; run one on every machine.

    Jobs come from `batch FILE --detach` and from programs using the SDK's WorkQueue. Each
    is queued once, waited for, downloaded into the output folder, verified and completed.
    Stop with Ctrl-C: jobs in hand are finished or, after their lease, taken over.
    """
    url = _shared_url(state)
    _needs_extra()
    settings = state.settings
    if settings.uses_local_engine:
        raise CLIError(
            "a worker needs an API that every machine reaches",
            family="usage",
            hint="set VENICE_API_KEY (the real API) or --base-url (e.g. `venice-video serve`)",
        )
    import anyio

    from ..workers import SharedRatePolicy, WorkerConfig, run_worker

    config = WorkerConfig(
        journal_url=url,
        api_key=settings.api_key,
        base_url=settings.base_url or "https://api.venice.ai/api/v1",
        output_dir=(output_dir or settings.output_dir).absolute(),
        concurrency=concurrency,
        lease_s=lease,
        trust_idempotency=settings.trust_idempotency,
        rate_policy=SharedRatePolicy(
            limits={"queue": queue_limit, "retrieve": retrieve_limit}, window_s=rate_window
        ),
    )
    if name:
        config.name = name

    async def main() -> int:
        stop = anyio.Event()

        async def on_signal() -> None:
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    state.say("stopping: finishing the jobs in hand")
                    stop.set()
                    return

        async with anyio.create_task_group() as tg:
            tg.start_soon(on_signal)
            done = await run_worker(config, stop=stop)
            tg.cancel_scope.cancel()
        return done

    state.say(f"worker {config.name}: {concurrency} at a time, files under {config.output_dir}")
    done = anyio.run(main)
    state.emit({"worker": config.name, "jobs_ended": done}, f"{config.name}: {done} jobs ended")


# ------------------------------------------------------------------------------ workers


@click.group(invoke_without_command=True)
@click.option("--all", "everything", is_flag=True, help="Also list stopped and dead workers.")
@click.pass_context
def workers(ctx: click.Context, everything: bool) -> None:
    """The live workers, the jobs each holds (leases), and the budgets."""
    if ctx.invoked_subcommand is not None:
        return
    state = ctx.find_object(State)
    assert state is not None
    _needs_extra()
    from ..journal import PostgresJournal
    from ..workers import Fleet

    with PostgresJournal(_shared_url(state)) as journal:
        fleet = Fleet(journal)
        found = fleet.workers(include_gone=everything)
        leases = fleet.leases()
        budgets = fleet.budgets()
    if state.as_json:
        state.emit(
            {
                "workers": [w.__dict__ for w in found],
                "leases": [lease.__dict__ for lease in leases],
                "budgets": [{**b.__dict__, "available_usd": b.available_usd} for b in budgets],
            }
        )
        return
    rows = [
        {
            "worker": w.name,
            "host": w.host,
            "pid": w.pid,
            "jobs": f"{w.held}/{w.concurrency}",
            "heartbeat": f"{w.heartbeat_age_s:.1f}s ago",
            "state": "live" if w.live else ("stopped" if w.stopped else "gone"),
            "files": w.output_dir,
        }
        for w in found
    ]
    click.echo(
        plain_table(rows, ["worker", "host", "pid", "jobs", "heartbeat", "state", "files"])
        if rows
        else "no live workers"
    )
    if leases:
        click.echo("")
        click.echo(
            plain_table(
                [
                    {
                        "job": lease.queue_id or lease.key,
                        "status": lease.status,
                        "worker": lease.worker,
                        "lease": f"{lease.expires_in_s:.1f}s left",
                    }
                    for lease in leases
                ],
                ["job", "status", "worker", "lease"],
            )
        )
    if budgets:
        click.echo("")
        click.echo(
            plain_table(
                [
                    {
                        "budget": b.name,
                        "limit": f"${b.limit_usd:.4f}",
                        "reserved": f"${b.reserved_usd:.4f}",
                        "spent": f"${b.settled_usd:.4f}",
                        "left": f"${b.available_usd:.4f}",
                    }
                    for b in budgets
                ],
                ["budget", "limit", "reserved", "spent", "left"],
            )
        )


@workers.command("budget")
@click.argument("name")
@click.argument("limit_usd", type=click.FloatRange(0.0))
@pass_state
def workers_budget(state: State, name: str, limit_usd: float) -> None:
    """Set a shared budget (a team key's, a story's): submissions reserve their price in it."""
    _needs_extra()
    from ..journal import PostgresJournal
    from ..workers import Fleet

    with PostgresJournal(_shared_url(state)) as journal:
        Fleet(journal).set_budget(name, limit_usd)
    state.emit({"budget": name, "limit_usd": limit_usd}, f"budget {name}: ${limit_usd:.4f}")


# ------------------------------------------------------------------------------ journal


@click.group()
def journal() -> None:
    """Manage the job journal itself."""


@journal.command("migrate")
@click.option(
    "--from",
    "source",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The SQLite journal to copy (default: this machine's).",
)
@click.option("--to", "target", help="The PostgreSQL journal (default: --journal).")
@pass_state
def journal_migrate(state: State, source: Path | None, target: str | None) -> None:
    """Copy a SQLite journal into the shared PostgreSQL one (safe to run again)."""
    _needs_extra()
    from ..journal import Journal, PostgresJournal, copy_journal, default_journal_path

    url = target or _shared_url(state)
    if not url.lower().startswith(("postgres://", "postgresql://")):
        raise CLIError(f"--to must be a postgresql:// URL, not {url!r}", family="usage")
    if source is None:
        local = state.settings.journal_path
        source = Path(local) if isinstance(local, Path) else _default_sqlite(default_journal_path)
    if not source.is_file():
        raise CLIError(f"no SQLite journal at {source}", family="usage")
    with Journal(source) as old, PostgresJournal(url) as new:
        report = copy_journal(old, new)
        location = new.location
    state.emit(
        {"from": str(source), "to": location, **report.__dict__},
        f"copied {report.copied} entries from {source} to {location} ({report.skipped} were "
        f"there already; {report.unfinished} unfinished, ${report.spent_usd:.4f} spent)",
    )


def _default_sqlite(default: Any) -> Path:
    # The default path ignores a URL in the environment variable: the local file is wanted.
    import os

    from ..journal import ENV_JOURNAL_PATH

    saved = os.environ.pop(ENV_JOURNAL_PATH, None)
    try:
        return Path(default())
    finally:
        if saved is not None:
            os.environ[ENV_JOURNAL_PATH] = saved


# ------------------------------------------------------------------------------ batch --detach


def submit_batch(
    state: State,
    file: Path,
    *,
    out_dir: Path | None,
    template: str,
    defaults: dict[str, Any],
    max_total_cost: float | None,
    budgets: tuple[str, ...],
    yes: bool,
    skip_invalid: bool = False,
    overwrite: bool = False,
) -> None:
    """`batch FILE --detach`: check and price every row, reserve, and hand the rows to the
    workers. Nothing is submitted while a row is invalid, unless `skip_invalid` leaves it out."""
    url = _shared_url(state)
    _needs_extra()
    from ._batch import ROW_ERRORS, _problem, load_rows

    folder = out_dir if out_dir is not None else Path(file.stem)
    if folder.is_absolute() or ".." in folder.parts:
        raise CLIError(
            "--out-dir of a detached batch is a folder inside each worker's output folder",
            family="usage",
        )
    try:
        rows = load_rows(
            file, default_model=state.settings.model, out_dir=folder, template=template,
            defaults=defaults,
        )  # fmt: skip
    except (KeyError, IndexError, ValueError) as error:
        raise click.BadParameter(f"{template!r}: {error}", param_hint="--name") from None
    # Rows name their files under `folder`, relative to each worker's output folder.
    here = Path.cwd().absolute()
    outputs: dict[int, str] = {}
    for row in rows:
        try:
            outputs[row.index] = row.output.relative_to(here).as_posix()
        except ValueError:
            row.problems.append(
                f"{file}:{row.line} (row {row.index}): output: {row.output} is not inside "
                "the workers' output folder"
            )
    from ..workers import WorkQueue

    batch_id = hashlib.sha256(str(file.resolve()).encode()).hexdigest()[:16]
    names = list(budgets)
    with state.client() as client, WorkQueue(url, client) as queue:
        priced: dict[int, tuple[dict[str, Any], float]] = {}
        for row in rows:
            if row.problems:
                continue
            try:
                priced[row.index] = queue.price(row.fields)
            except ROW_ERRORS as error:
                row.problems.extend(_problem(file, row, error))
        invalid = [r for r in rows if r.problems]
        if invalid:
            lines = [p for r in invalid for p in r.problems]
            if not skip_invalid:
                raise CLIError(
                    f"{len(invalid)} of {len(rows)} rows cannot run; nothing was submitted:\n  "
                    + "\n  ".join(lines),
                    family="validation",
                    hint="fix them, or pass --skip-invalid to submit the other rows",
                )
            for line in lines:
                state.say(f"skipped: {line}")
        valid = [r for r in rows if not r.problems]
        planned = sum(priced[r.index][1] for r in valid)
        state.say(f"{len(valid)} jobs, quoted ${planned:.4f} in total")
        if max_total_cost is not None:
            name = f"batch:{batch_id}"
            queue.set_budget(name, max_total_cost)
            names.append(name)
        elif not (yes or names or state.settings.uses_local_engine):
            if not sys.stdin.isatty():
                raise CLIError(
                    f"the batch is quoted ${planned:.4f}; not spending without confirmation",
                    family="money",
                    hint="pass --yes, --max-total-cost or --budget",
                )
            if not click.confirm(f"Spend ${planned:.4f}?", default=False, err=True):
                raise CLIError("declined; nothing was submitted", family="money")
        results: list[dict[str, Any]] = [
            {"index": r.index, "key": r.key, "error": "; ".join(r.problems)} for r in invalid
        ]
        for row in valid:
            try:
                done = queue.submit(
                    row.fields,
                    output=outputs[row.index],
                    key=row.key,
                    tags={"batch_row": row.index, "batch_name": row.name, "batch": batch_id},
                    budgets=names,
                    priced=priced[row.index],
                    overwrite=overwrite,
                )
                results.append({"index": row.index, "key": row.key, "state": done.state})
            except Exception as error:  # a full budget refuses the rest, row by row
                results.append({"index": row.index, "key": row.key, "error": str(error)})
    results.sort(key=lambda r: int(r["index"]))
    refused = [r for r in results if "error" in r]
    new = sum(1 for r in results if r.get("state") == "new")
    summary = {"batch": batch_id, "submitted": new, "already": len(results) - new - len(refused),
               "refused": len(refused), "rows": results}  # fmt: skip
    text = f"submitted {new} jobs for the workers ({summary['already']} already submitted)"
    if refused:
        text += f"; {len(refused)} refused: {refused[0]['error']}"
    state.emit(summary, text)
    if refused:
        raise SystemExit(9)
