"""Story errors: every problem with its file, line and shot, all reported at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .._exceptions import InputError, SpendLimitError, VeniceVideoError

if TYPE_CHECKING:
    from ._model import Story

__all__ = ["Problem", "StoryBudgetError", "StoryError", "StoryRenderError", "problem_at"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a story.

    Attributes:
        message: what is wrong and, where it helps, what would be accepted.
        file: the story file, when the story came from one.
        line: the line in that file (1-based), when known.
        shot: the shot's number (1-based), when the problem belongs to one.
        shot_name: that shot's name.
        field: the dotted path of the offending value, e.g. `shots.2.duration`.
    """

    message: str
    file: Path | None = None
    line: int | None = None
    shot: int | None = None
    shot_name: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = str(self.file) if self.file is not None else "story"
        if self.line is not None:
            where += f":{self.line}"
        if self.shot is not None:
            where += f": shot {self.shot}"
            if self.shot_name:
                where += f" ({self.shot_name})"
        return f"{where}: {self.message}"


class StoryError(InputError):
    """A story cannot be rendered as written; nothing was paid.

    Attributes:
        problems: every problem found, each with its file, line and shot.
    """

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems) or "invalid story")


class StoryRenderError(VeniceVideoError):
    """Some shots could not be rendered; the others are saved and journaled.

    Running the render again reuses every finished shot and follows every job in flight.

    Attributes:
        failures: one line per shot that failed, naming the shot and the reason.
        outcome_unknown: a shot's queue request may have created a job whose id was never
            received; it is not queued again until that is settled.
    """

    def __init__(self, failures: Sequence[str], *, outcome_unknown: bool = False) -> None:
        self.failures = tuple(failures)
        self.outcome_unknown = outcome_unknown
        super().__init__("\n".join(self.failures))


class StoryBudgetError(SpendLimitError):
    """The story would cost more than its budget; nothing was queued.

    Attributes:
        quote_usd: what the whole story costs: shots already paid for plus new ones.
        max_cost: the budget.
        new_usd: what this render would queue.
        committed_usd: what earlier renders already spent on its shots.
    """

    def __init__(self, *, total: float, budget: float, new: float, committed: float) -> None:
        super().__init__(total, budget)
        self.new_usd = new
        self.committed_usd = committed
        message = (
            f"the story would cost ${total:.4f} (${new:.4f} for new shots, ${committed:.4f} "
            f"already spent), over its budget of ${budget:.4f}; nothing was queued"
        )
        self.args = (message,)

    def __str__(self) -> str:
        return str(self.args[0])


def problem_at(
    story: Story | None,
    path: Sequence[str | int],
    message: str,
    *,
    file: Path | None = None,
    shot: int | None = None,
) -> Problem:
    """A problem located at `path` in the story (file, line and shot filled in).

    `shot` (from 0) names the shot a problem belongs to when `path` is elsewhere (a default
    that does not suit the shot's model, say).
    """
    line = story.line_of(*path) if story is not None else None
    if len(path) >= 2 and path[0] == "shots" and isinstance(path[1], int):
        shot = path[1]
    shot_name = None
    if shot is not None and story is not None and shot < len(story.shots):
        shot_name = story.shots[shot].name
    source = file if file is not None else (story.source if story is not None else None)
    return Problem(
        message=message,
        file=source,
        line=line,
        shot=shot + 1 if shot is not None else None,
        shot_name=shot_name,
        field=".".join(str(p) for p in path) or None,
    )
