"""`venice-video story`: check, quote, render and follow a story (many shots, one film).

```
venice-video story check examples/lighthouse.yaml
venice-video story render examples/lighthouse.yaml -o film.mp4 --yes
venice-video story render examples/lighthouse.yaml --detach --yes   # to the workers
```
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import click

from .._catalog import Catalog, bundled_catalog
from ..story import (
    Film,
    Run,
    ShotProgress,
    Story,
    StoryBudgetError,
    StoryQuote,
    StoryRenderError,
    current_film,
    drive,
    film_cut,
    plan_story,
    prepare_flow,
    read_manifest,
    schema_text,
    story_quote,
)
from ._errors import CLIError
from ._group import State, pass_state
from ._progress import fmt_seconds, plain_table

__all__ = ["story"]

_STORY_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group()
def story() -> None:
    """Many shots, one film, paid once: check, quote, render and follow a story file.

    A story (YAML or JSON) lists a film's shots, its cast, its soundtrack and captions;
    `venice-video story schema` prints its JSON Schema. See docs/stories.md.
    """


@story.command("schema")
def schema_cmd() -> None:
    """Print the story file's JSON Schema (for editors: validation and completion)."""
    click.echo(schema_text(), nl=False)


@story.command()
@click.argument("file", type=_STORY_FILE)
@pass_state
def check(state: State, file: Path) -> None:
    """Check FILE offline and print the plan: each shot's model, length and inputs, and which
    shots run at once. Nothing is sent and nothing is spent."""
    story = Story.load(file)
    plan = plan_story(story, _offline_catalog(state))
    lines = [f"{file}: {story.title}: {len(plan.shots)} shots, all valid", *plan.describe()]
    state.emit(
        {
            "valid": True,
            "title": story.title,
            "output": str(story.output_path()),
            "shots": [
                {
                    "number": s.number,
                    "name": s.name,
                    "model": s.model,
                    "duration_s": s.duration_s,
                    "continues_from": s.after + 1 if s.after is not None else None,
                    "cast": list(s.cast),
                    "digest": s.digest,
                }
                for s in plan.shots
            ],
            "waves": [[i + 1 for i in wave] for wave in plan.waves],
        },
        "\n".join(lines),
    )


@story.command()
@click.argument("file", type=_STORY_FILE)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path))
@pass_state
def quote(state: State, file: Path, output: Path | None) -> None:
    """Price every shot of FILE (free) and the total; refuses a story over its budget."""
    story = Story.load(file)
    with state.client() as client:
        run = drive(
            client,
            prepare_flow(
                story,
                api_id=client.api_id,
                journal=client.journal,
                output=output,
                for_render=False,
            ),  # fmt: skip
        )
    priced = story_quote(run)
    state.emit(_quote_data(priced), _quote_text(priced) + _local_note(state))
    if not priced.within_budget:
        assert priced.budget is not None
        raise StoryBudgetError(
            total=priced.total, budget=priced.budget, new=priced.new, committed=priced.committed
        )


@story.command()
@click.argument("file", type=_STORY_FILE)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="The film's file (default: the story's output).")  # fmt: skip
@click.option("-c", "--concurrency", type=click.IntRange(1, 64), default=4, show_default=True)
@click.option("-y", "--yes", is_flag=True, help="Spend without asking.")
@click.option("--overwrite", is_flag=True, help="Replace a film this story did not make.")
@click.option("--retry-failed", is_flag=True,
              help="Pay again for shots whose job failed or whose file was lost.")  # fmt: skip
@click.option("--timeout", type=float, default=None, help="Seconds to wait for each shot.")
@click.option("--rerender", type=click.IntRange(1), multiple=True, metavar="N",
              help="Pay for a new take of shot N (and the shots chained after it); "
              "repeatable.")  # fmt: skip
@click.option("--detach", is_flag=True,
              help="Hand the shots to workers (shared journal) and return.")  # fmt: skip
@click.option("--budget", "budgets", multiple=True,
              help="With --detach: also reserve the shots in this shared budget.")  # fmt: skip
@click.option("--shared-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the workers' shared folder is here (default: where they saved "
              "each file).")  # fmt: skip
@pass_state
def render(
    state: State,
    file: Path,
    output: Path | None,
    concurrency: int,
    yes: bool,
    overwrite: bool,
    retry_failed: bool,
    timeout: float | None,
    rerender: tuple[int, ...],
    detach: bool,
    budgets: tuple[str, ...],
    shared_dir: Path | None,
) -> None:
    """Render FILE: each shot once (journaled, never queued twice), then the film.

    Shows a live table of the shots. Run it again after any interruption (Ctrl-C, a crash,
    a dead network): finished shots are reused and jobs in flight are followed, so nothing
    is paid twice. After an edit, only the edited shots (and those chained after them) are
    rendered again.

    With --detach (a shared PostgreSQL journal) the shots are checked, quoted, reserved in
    the budget `story:<id>` and handed to the workers, and the command returns. Run it
    again without --detach once they are done: it assembles the film from the workers'
    files, paying nothing again.
    """
    if detach:
        if rerender:
            raise CLIError("--rerender goes without --detach: a new take is rendered here",
                           family="usage")  # fmt: skip
        _needs_shared_journal(state)
    elif budgets:
        raise CLIError("--budget goes with --detach", family="usage")
    story = Story.load(file)
    board = _Board(enabled=not (state.quiet or state.as_json))

    def confirm(priced: StoryQuote) -> bool:
        state.say(_quote_text(priced) + _local_note(state))
        if yes or state.settings.uses_local_engine:
            return True
        if not sys.stdin.isatty():
            raise CLIError(
                f"the story's new shots are quoted ${priced.new:.4f}; not spending without "
                "confirmation",
                family="money",
                hint="pass --yes",
            )
        if not click.confirm(f"Spend ${priced.new:.4f}?", default=False, err=True):
            raise CLIError("declined; nothing was queued", family="money")
        return True

    if detach:
        return _submit(state, file, story, output=output, confirm=confirm, budgets=budgets,
                       overwrite=overwrite, retry_failed=retry_failed)  # fmt: skip
    with state.client() as client:
        try:
            with board:
                film = client.render_story(
                    story,
                    output=output,
                    concurrency=concurrency,
                    on_shot=board.update,
                    on_assembly=board.assembly,
                    confirm=confirm,
                    overwrite=overwrite,
                    retry_failed=retry_failed,
                    timeout=timeout,
                    rerender=rerender,
                    shared_dir=shared_dir,
                )
        except KeyboardInterrupt:
            click.echo(
                "interrupted: shots in flight stay in the journal; run the same command again "
                "to pick up where it stopped (nothing is paid twice)",
                err=True,
            )
            raise SystemExit(130) from None
        except StoryRenderError as error:
            family = "outcome_unknown" if error.outcome_unknown else "job_failed"
            raise CLIError(str(error), family=family) from None
    state.say(_film_text(film) + _local_note(state))
    state.emit(_film_data(film), str(film.path))


@story.command()
@click.argument("file", type=_STORY_FILE)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--shared-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the workers' shared folder is here (default: where they saved "
              "each file).")  # fmt: skip
@pass_state
def status(state: State, file: Path, output: Path | None, shared_dir: Path | None) -> None:
    """Where each shot of FILE stands (from the journal) and whether the film is up to date.

    Shots handed to workers show the worker that made (or holds) each one."""
    story = Story.load(file)
    with state.client() as client:
        run = drive(
            client,
            prepare_flow(
                story,
                api_id=client.api_id,
                journal=client.journal,
                output=output,
                for_render=False,
                price=False,
                shared_dir=shared_dir,
            ),  # fmt: skip
        )
    labels = {
        "done": "rendered",
        "inflight": "in flight",
        "new": "to render",
        "failed": "failed",
        "lost": "file lost",
        "elsewhere": "on another API",
    }
    rows = [
        {
            "shot": s.shot.number,
            "name": s.shot.name,
            "model": s.shot.model,
            "state": _with_workers(s) or labels[s.state],
            "cost": f"${s.price:.4f}" if s.price is not None else "-",
            "file": str(s.path) if s.state == "done" else "-",
            "worker": s.worker or (s.entry.worker if s.entry is not None else None) or "-",
        }
        for s in run.shots
    ]
    columns = ["shot", "name", "model", "state", "cost", "file"]
    if any(r["worker"] != "-" for r in rows):
        columns.insert(4, "worker")
    film_state = _film_state(run)
    data = {
        "title": story.title,
        "film": str(run.output),
        "film_state": film_state,
        "manifest": str(run.manifest_path),
        "shots": [{**r, "key": s.key} for r, s in zip(rows, run.shots, strict=True)],
        "spent_usd": run.committed_usd,
    }
    text = plain_table(rows, columns)
    text += f"\nfilm: {run.output} ({film_state}); spent so far ${run.committed_usd:.4f}"
    state.emit(data, text)


# ------------------------------------------------------------------ --detach


def _needs_shared_journal(state: State) -> None:
    """Refuse --detach, before anything is priced or paid, without a shared journal and an
    API every worker reaches."""
    target = state.settings.journal_path
    if target is None or not str(target).lower().startswith(("postgres://", "postgresql://")):
        raise CLIError(
            "story render --detach hands the shots to workers through the shared PostgreSQL "
            "journal; this journal is not one, so nothing was submitted",
            family="usage",
            hint="pass --journal postgresql://USER@HOST/DB, or set VENICE_VIDEO_JOURNAL",
        )
    if state.settings.uses_local_engine:
        raise CLIError(
            "workers need an API that every machine reaches; nothing was submitted",
            family="usage",
            hint="set VENICE_API_KEY (the real API) or --base-url (e.g. `venice-video serve`)",
        )
    try:
        import procrastinate  # noqa: F401
        import psycopg  # noqa: F401
    except ImportError as error:
        raise CLIError(
            "workers need the [postgres] extra", hint="pip install 'venice-video[postgres]'"
        ) from error


_SUBMITTED = {"new": "handed out", "exists": "submitted before", "done": "rendered"}


def _submit(
    state: State,
    file: Path,
    story: Story,
    *,
    output: Path | None,
    confirm: Any,
    budgets: tuple[str, ...],
    overwrite: bool,
    retry_failed: bool,
) -> None:
    """`story render FILE --detach`: check, quote, reserve and hand the shots out."""
    from ..workers import WorkQueue

    url = str(state.settings.journal_path)
    with state.client() as client, WorkQueue(url, client) as queue:
        try:
            sub = queue.submit_story(
                story, output=output, budgets=budgets, confirm=confirm, overwrite=overwrite,
                retry_failed=retry_failed,
            )  # fmt: skip
        except StoryRenderError as error:
            raise CLIError(str(error), family="money") from None
    rows = [
        {
            "shot": s.number,
            "name": s.name,
            "model": s.model,
            "cost": f"${s.cost:.4f}" if s.cost is not None else "-",
            "state": f"held until shot {s.after} is done"
            if s.state == "held"
            else _SUBMITTED.get(s.state, s.state),
        }
        for s in sub.shots
    ]
    budget = sub.budget
    text = plain_table(rows, ["shot", "name", "model", "cost", "state"])
    text += (
        f"\nsubmitted {sub.submitted} of {len(sub.shots)} shots to the workers, "
        f"${sub.reserved_usd:.4f} reserved"
    )
    if budget is not None:
        text += (
            f" in the budget {budget.name} (the story's ${story.budget or 0:.4f}: "
            f"${budget.available_usd:.4f} left)"
        )
    text += (
        f"\nfollow it: venice-video story status {file}  (and `venice-video workers`)"
        f"\nthen assemble the film, paying nothing again: venice-video story render {file}"
        " [--shared-dir DIR, where the workers' folder is mounted here]"
    )
    data = {
        "story": sub.story_id,
        "title": sub.title,
        "submitted": sub.submitted,
        "reserved_usd": sub.reserved_usd,
        "budget": {**budget.__dict__, "available_usd": budget.available_usd}
        if budget is not None
        else None,
        "shots": [s.__dict__ for s in sub.shots],
    }
    state.emit(data, text)


def _with_workers(s: Any) -> str | None:
    """A shot handed to workers and not done, in words."""
    entry = s.entry
    if s.state != "inflight" or entry is None or entry.shared_output is None:
        return None
    if entry.status == "QUOTED" and s.shot.after is not None:
        return f"with the workers: waits for shot {s.shot.after + 1}"
    return f"with the workers: {entry.status.lower()}"


# ------------------------------------------------------------------ helpers


def _offline_catalog(state: State) -> Catalog:
    """The catalog without asking any API: the cached one for the configured API, else the
    one bundled with the package (which the local engine also serves)."""
    settings = state.settings
    if settings.uses_local_engine:
        return bundled_catalog()
    from .._config import DEFAULT_BASE_URL
    from .._modelcache import ModelCache

    cached = ModelCache().load(settings.base_url or DEFAULT_BASE_URL, allow_stale=True)
    return cached if cached is not None else bundled_catalog()


def _local_note(state: State) -> str:
    """What the local engine's prices mean, said next to them."""
    return (
        " (local engine: placeholder videos; not money)" if state.settings.uses_local_engine else ""
    )


def _film_state(run: Run) -> str:
    """`missing`, `current` (exactly what a render would make now) or `stale`."""
    if not run.output.is_file():
        return "missing"
    if any(s.state != "done" for s in run.shots):
        return "stale"
    digest = film_cut(run).digest
    return "current" if current_film(run, read_manifest(run.manifest_path), digest) else "stale"


def _quote_data(priced: StoryQuote) -> dict[str, Any]:
    return {
        "title": priced.title,
        "total_usd": priced.total,
        "new_usd": priced.new,
        "spent_usd": priced.committed,
        "budget_usd": priced.budget,
        "within_budget": priced.within_budget,
        "shots": [
            {
                "number": s.number,
                "name": s.name,
                "model": s.model,
                "cost_usd": s.cost,
                "state": s.state,
            }  # fmt: skip
            for s in priced.shots
        ],
    }


_QUOTE_STATES = {
    "done": "paid",
    "inflight": "paid",
    "new": "new",
    "failed": "failed (--retry-failed)",
    "lost": "lost (--retry-failed)",
    "elsewhere": "on another API",
}


def _quote_text(priced: StoryQuote) -> str:
    rows = [
        {
            "shot": s.number,
            "name": s.name,
            "model": s.model,
            "cost": f"${s.cost:.4f}" if s.cost is not None else "-",
            "state": _QUOTE_STATES[s.state],
        }
        for s in priced.shots
    ]
    budget = f" of a ${priced.budget:.4f} budget" if priced.budget is not None else ""
    return (
        plain_table(rows, ["shot", "name", "model", "cost", "state"])
        + f"\ntotal ${priced.total:.4f}{budget}: ${priced.new:.4f} new, "
        f"${priced.committed:.4f} already paid"
    )


def _film_data(film: Film) -> dict[str, Any]:
    return {
        "path": str(film.path),
        "manifest": str(film.manifest_path),
        "srt": str(film.srt_path) if film.srt_path else None,
        "vtt": str(film.vtt_path) if film.vtt_path else None,
        "duration_s": film.duration,
        "cost_usd": film.cost,
        "spent_usd": film.spent,
        "assembled": film.assembled,
        "shots": [
            {
                "number": s.number,
                "name": s.name,
                "queue_id": s.queue_id,
                "cost_usd": s.cost,
                "reused": s.reused,
                "path": str(s.path),
                "start": s.start,
                "end": s.end,
            }  # fmt: skip
            for s in film.shots
        ],
    }


def _film_text(film: Film) -> str:
    reused = sum(1 for s in film.shots if s.reused)
    what = "assembled" if film.assembled else "already up to date"
    return (
        f"film {what}: {film.path} ({film.duration:.2f}s, {len(film.shots)} shots, "
        f"{reused} reused); ${film.cost:.4f} in all, ${film.spent:.4f} spent now"
    )


class _Board:
    """The live table of shots on a terminal; one line per change of phase elsewhere."""

    def __init__(self, *, enabled: bool) -> None:
        from rich.console import Console

        self.enabled = enabled
        self.console = Console(stderr=True)
        self.live_mode = enabled and self.console.is_terminal
        self.shots: dict[int, ShotProgress] = {}
        self.assembled: float | None = None
        self.lock = threading.Lock()
        self.began = time.monotonic()
        self._live: Any = None

    def __enter__(self) -> _Board:
        if self.live_mode:
            from rich.live import Live

            self._live = Live(self._table(), console=self.console, refresh_per_second=8)
            self._live.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._live is not None:
            self._live.update(self._table())
            self._live.stop()

    def update(self, progress: ShotProgress) -> None:
        with self.lock:
            before = self.shots.get(progress.number)
            self.shots[progress.number] = progress
            if self._live is not None:
                self._live.update(self._table())
            elif self.enabled and (before is None or before.phase != progress.phase):
                why = f": {progress.error}" if progress.error else ""
                click.echo(f"shot {progress.number} ({progress.name}): {progress.phase}{why}",
                           err=True)  # fmt: skip

    def assembly(self, fraction: float) -> None:
        with self.lock:
            first = self.assembled is None
            self.assembled = fraction
            if self._live is not None:
                self._live.update(self._table())
            elif self.enabled and first:
                click.echo("assembling the film", err=True)

    def _table(self) -> Any:
        from rich.table import Table

        table = Table(title=f"story ({fmt_seconds(time.monotonic() - self.began)})")
        for column in ("#", "shot", "model", "phase", "eta", "cost"):
            table.add_column(column, justify="right" if column in ("#", "cost") else "left")
        for number in sorted(self.shots):
            p = self.shots[number]
            eta = fmt_seconds(p.eta_s) if p.eta_s is not None and p.phase == "processing" else ""
            cost = f"${p.cost:.4f}" if p.cost is not None else ""
            phase = p.phase if not p.error else f"{p.phase}: {p.error[:60]}"
            table.add_row(str(number), p.name, p.model, phase, eta, cost)
        if self.assembled is not None:
            table.caption = f"assembling the film: {self.assembled:.0%}"
        return table
