"""A story's shots handed to the workers, and chained shots released from their predecessor.

`submit_story` checks and quotes a story exactly as a render does (nothing is spent before
that has passed), then records every shot not yet rendered under the journal key a local
render gives it, reserving its price in the story's budget (`story:<story id>`), all in one
transaction. Unchained shots are handed out at once. A chained shot starts from its
predecessor's last frame, which exists only once that file is verified: it is submitted held.

`release_successors` is what the worker that finishes a shot does next (and what the reaper
does for a worker that died before doing it): the held shots waiting for that shot get its
last frame in their body, inlined as `prepare()` inlines an image, and are handed out. When
the shot failed, they are cancelled instead, and their reservations released.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from .._inputs import resolve_image
from ..journal import JournalEntry
from ._fleet import BudgetStatus, Fleet, Submitted, WorkItem
from ._holds import DONE

if TYPE_CHECKING:
    from ..story import Story, StoryQuote
    from ..story._run import Run, ShotState
    from ._submit import WorkQueue

__all__ = [
    "StorySubmission",
    "SubmittedShot",
    "frame_url",
    "release_successors",
    "story_budget_name",
    "submit_story",
]

logger = logging.getLogger("venice_video.workers")

#: Where a chained shot's first frame goes in its queue body.
FRAME_FIELD: Final[str] = "image_url"
#: Stands in for the first frame while a held shot is validated and priced.
_PLACEHOLDER_FRAME: Final[str] = "data:image/png;base64,iVBORw0KGgo="


@dataclass(frozen=True)
class SubmittedShot:
    """One shot of a detached story.

    Attributes:
        number, name, model: the shot.
        key: its journal key (the same a local render gives it).
        state: `new` (handed out), `held` (handed out once the shot it continues from is
            done), `exists` (submitted before, or in flight), `done` (already rendered).
        cost: its price in USD.
        output: its file, relative to the workers' shared folder (`None` unless submitted).
        after: the number of the shot it continues from, if any.
    """

    number: int
    name: str
    model: str
    key: str
    state: str
    cost: float | None
    output: str | None = None
    after: int | None = None


@dataclass(frozen=True)
class StorySubmission:
    """What `submit_story` did: every shot's state, what it reserved and the story's budget."""

    story_id: str
    title: str
    shots: tuple[SubmittedShot, ...]
    budget: BudgetStatus | None

    @property
    def submitted(self) -> int:
        """Shots recorded now (handed out or held)."""
        return sum(1 for s in self.shots if s.state in ("new", "held"))

    @property
    def reserved_usd(self) -> float:
        """What this submission reserved: the prices of the shots recorded now."""
        return round(sum(s.cost or 0.0 for s in self.shots if s.state in ("new", "held")), 6)

    @property
    def keys(self) -> list[str]:
        return [s.key for s in self.shots]


def story_budget_name(story_id: str) -> str:
    """The shared budget a detached story's shots are reserved in."""
    return f"story:{story_id}"


def submit_story(
    queue: WorkQueue,
    story: Story | str | os.PathLike[str],
    *,
    output: str | os.PathLike[str] | None = None,
    folder: str | None = None,
    budgets: Sequence[str] = (),
    confirm: Callable[[StoryQuote], bool] | None = None,
    overwrite: bool = False,
    retry_failed: bool = False,
) -> StorySubmission:
    """`WorkQueue.submit_story`; see there."""
    from ..story import Story, StoryError, StoryRenderError
    from ..story._errors import Problem
    from ..story._flow import drive
    from ..story._render import prepare_flow, story_quote

    if not isinstance(story, Story):
        story = Story.load(story)
    client = queue.client
    run: Run = drive(
        client,
        prepare_flow(
            story, api_id=client.api_id, journal=queue.journal, output=output,
            overwrite=overwrite, retry_failed=retry_failed, files_away=True,
        ),
    )  # fmt: skip
    # Predecessors first: a held shot names a job already recorded.
    order = [index for wave in run.plan.waves for index in wave]
    new = [run.shots[i] for i in order if run.shots[i].state == "new"]
    if new and confirm is not None and not confirm(story_quote(run)):
        raise StoryRenderError(["declined; nothing was submitted"])
    plan = run.plan
    where = folder.strip("/") if folder else f"stories/{plan.story_id}"
    problems = []
    for state in new:
        before = _before(run, state)
        if before is not None and before.state == "inflight" and not _detached(before):
            problems.append(
                Problem(
                    f"it continues from shot {before.shot.number}, whose job is in flight "
                    "outside the workers; finish it first (`venice-video story render`), then "
                    "submit again",
                    story.source,
                    story.line_of("shots", state.shot.index),
                    state.shot.number,
                    state.shot.name,
                )  # fmt: skip
            )
    if problems:
        raise StoryError(problems)

    items = [_item(queue, run, state, where) for state in new]
    names = list(dict.fromkeys(budgets))
    budget_name = None
    if story.budget is not None:
        budget_name = story_budget_name(plan.story_id)
        queue.set_budget(budget_name, _budget_limit(queue.fleet, run, budget_name, story.budget))
        names.append(budget_name)
    done: dict[str, Submitted] = {}
    if items:
        results = queue.fleet.submit_many(
            items, base_url=client.base_url, budgets=names, api_id=client.api_id
        )
        done = {r.key: r for r in results}
    _release_here(queue.fleet, run, client.base_url)

    outputs = {item.key: item.output for item in items}
    shots = []
    for state in run.shots:
        shot = state.shot
        result = done.get(state.key)
        kind = result.state if result is not None else ("done" if state.state == "done"
                                                        else "exists")  # fmt: skip
        shots.append(
            SubmittedShot(
                number=shot.number,
                name=shot.name,
                model=shot.model,
                key=state.key,
                state=kind,
                cost=state.price,
                output=outputs.get(state.key),
                after=shot.after + 1 if shot.after is not None else None,
            )  # fmt: skip
        )
    status = queue.fleet.budgets([budget_name])[0] if budget_name is not None else None
    return StorySubmission(plan.story_id, story.title, tuple(shots), status)


def _before(run: Run, state: ShotState) -> ShotState | None:
    after = state.shot.after
    return run.shots[after] if after is not None else None


def _detached(state: ShotState) -> bool:
    return state.entry is not None and state.entry.shared_output is not None


def _item(queue: WorkQueue, run: Run, state: ShotState, folder: str) -> WorkItem:
    """One shot as work: its request built as a local render builds it, under its key."""
    from ..story._frames import last_frame_png
    from ..story._run import _file_for

    shot = state.shot
    fields = dict(shot.fields)
    before = _before(run, state)
    after = None
    if before is not None:
        if before.state == "done" and not before.away:
            # Its predecessor's verified file is here: start from its last frame now.
            fields["image"] = last_frame_png(before.path)
        else:
            after = before.key
            fields["image"] = _PLACEHOLDER_FRAME
    body = queue.client.prepare(**fields).to_body()
    if after is not None:
        body.pop(FRAME_FIELD, None)  # the frame goes in when the predecessor is done
    assert state.price is not None  # every new shot was quoted
    name = _file_for(run.output, shot, state.attempt).name
    return WorkItem(
        key=state.key,
        body=body,
        quote_usd=state.price,
        output=f"{folder}/{name}",
        tags=run.shot_tags(shot),
        # The shot's own file, named by its digest: one already there is a leftover of this
        # same shot, as in a local render's shots folder.
        overwrite=True,
        after=after,
        frame_field=FRAME_FIELD,
    )


def _budget_limit(fleet: Fleet, run: Run, name: str, budget: float) -> float:
    """The story's budget less what its shots cost outside the workers (rendered on one
    machine): the ledger then caps the whole story, not only its detached shots."""
    ledger = fleet.budget_ledger(name)
    paid = sum(s.price or 0.0 for s in run.shots if s.committed and s.key not in ledger)
    # Earlier failed attempts count too, those the workers made once: in the ledger.
    sunk = sum(usd for s in run.shots for key, usd in s.sunk_takes.items() if key not in ledger)
    return max(0.0, round(budget - paid - sunk, 6))


def _release_here(fleet: Fleet, run: Run, base_url: str) -> None:
    """Release shots held for a predecessor whose verified file is on this machine (done
    outside the workers, or by them into a folder mounted here)."""
    held = fleet.holds([s.key for s in run.shots])
    for state in run.shots:
        before = _before(run, state)
        if state.key in held and before is not None and before.state == "done" and not before.away:
            if held[state.key] == before.key:
                fleet.release_hold(state.key, frame_url=frame_url(before.path), base_url=base_url)


# ------------------------------------------------------------------ releasing held shots


def frame_url(path: Path) -> str:
    """The clip's last frame as the `data:` URL `prepare()` would make of it."""
    from ..story._frames import last_frame_png

    return resolve_image(last_frame_png(path), field=FRAME_FIELD)


def verified_file(entry: JournalEntry, output_dir: Path | None) -> Path | None:
    """The entry's file as this machine sees it, when it matches the journal's digest: under
    `output_dir` (this worker's view of the shared folder), else where it was saved."""
    from ..story._frames import file_sha256

    if entry.status not in DONE or not entry.sha256:
        return None
    candidates: list[Path] = []
    name = entry.shared_output
    if name is not None and output_dir is not None:
        candidates.append(output_dir / name)
    if entry.output_path:
        candidates.append(Path(entry.output_path))
    for path in candidates:
        try:
            if file_sha256(path) == entry.sha256:
                return path
        except OSError:
            continue
    return None


def release_successors(
    fleet: Fleet, entry: JournalEntry, *, output_dir: Path | None, base_url: str
) -> int:
    """Hand out the held jobs waiting for `entry` (done: with its last frame), or cancel
    them (it failed or was cancelled). Returns how many were handed out or cancelled.

    Safe to run twice or on two machines at once: a release is one transaction that finds
    the hold already gone the second time. When the file cannot be read here, nothing
    happens (another worker, or the reaper, will).
    """
    waiting = fleet.waiting_on(entry.key)
    if not waiting:
        return 0
    if entry.status in ("FAILED", "CANCELLED"):
        why = entry.error or entry.status.lower()
        reason = f"not started: the job it continues from ({entry.key}) ended: {why}"
        return len(fleet.cancel_held(entry.key, reason[:500]))
    if entry.status not in DONE:
        return 0
    path = verified_file(entry, output_dir)
    if path is None:
        logger.info(
            "cannot release the jobs waiting for %s: its file (worker %s) is not readable "
            "here with its digest",
            entry.key, entry.worker,
        )  # fmt: skip
        return 0
    frame = frame_url(path)
    return sum(1 for key in waiting if fleet.release_hold(key, frame_url=frame, base_url=base_url))
