"""Handing work to the workers from any program: a batch, a story's shots, a script.

```python
from venice_video import VeniceVideo
from venice_video.workers import WorkQueue

with VeniceVideo() as client, WorkQueue("postgresql://studio@db/venice", client) as queue:
    queue.set_budget("story:harbour", 12.50)
    for n, prompt in enumerate(shots):
        queue.submit({"model": "wan-2-7-text-to-video", "prompt": prompt, "duration": "5s"},
                     output=f"harbour/{n:03d}.mp4", budgets=["story:harbour"])
    done = queue.wait([...keys...])

    # a story: every shot under the key a local render gives it, chained shots held until
    # the shot they continue from is done, all reserved in the budget `story:<story id>`
    submitted = queue.submit_story("harbour.yaml")
    queue.wait(submitted.keys)
    film = client.render_story("harbour.yaml")   # assembles the workers' files, pays nothing
```

Each `submit` validates the request against the catalog and asks its price (both free), then
records it, reserves its price in every named budget and hands it out, in one transaction. The
workers do the rest: queue, wait, download, verify, complete.
"""

from __future__ import annotations

import builtins
import os
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._client import VeniceVideo
from .._exceptions import InputError, SpendLimitError
from ..journal import JournalEntry, JournalStore, open_journal
from ._fleet import BudgetStatus, Fleet, Submitted, WorkItem

if TYPE_CHECKING:
    from ..journal._postgres import PostgresJournal
    from ..story import Story, StoryQuote
    from ._stories import StorySubmission

__all__ = ["WorkQueue"]


class WorkQueue:
    """Submit jobs for the workers of a shared journal, and follow them.

    Args:
        journal: a `postgresql://` URL, or an open `PostgresJournal`.
        client: the client that validates and prices each job (its API is the one the
            workers will use: they take only jobs of the API they talk to).
    """

    def __init__(self, journal: str | JournalStore, client: VeniceVideo) -> None:
        store = open_journal(journal) if isinstance(journal, str) else journal
        from ..journal._postgres import PostgresJournal

        if not isinstance(store, PostgresJournal):
            raise InputError(
                "workers share a PostgreSQL journal: give a postgresql:// URL "
                "(--journal or VENICE_VIDEO_JOURNAL)"
            )
        self.journal: PostgresJournal = store
        self._owned = isinstance(journal, str)
        self.client = client
        self.fleet = Fleet(store)

    def set_budget(self, name: str, limit_usd: float) -> None:
        """Create a budget (a batch's, a story's, a team key's) or change its limit."""
        self.fleet.set_budget(name, limit_usd)

    def budgets(self, names: Sequence[str] | None = None) -> builtins.list[BudgetStatus]:
        return self.fleet.budgets(names)

    def price(self, fields: Mapping[str, Any]) -> tuple[dict[str, Any], float]:
        """The queue body (media inlined, validated) and its quoted price. Free."""
        request = self.client.prepare(**fields)
        quote = self.client.quote(request=request).quote
        return request.to_body(), float(quote)

    def submit(
        self,
        fields: Mapping[str, Any],
        *,
        output: str | os.PathLike[str],
        key: str | None = None,
        tags: Mapping[str, Any] | None = None,
        budgets: Sequence[str] = (),
        max_cost: float | None = None,
        priced: tuple[Mapping[str, Any], float] | None = None,
        overwrite: bool = False,
    ) -> Submitted:
        """Validate, price, record, reserve and hand out one job.

        Args:
            fields: the request, as `generate()` takes it (`model`, `prompt`, media...).
            output: the file name, relative to each worker's output folder.
            key: a stable key (a batch row's, a shot's) makes resubmitting a no-op.
            tags: labels kept in the journal.
            budgets: the budgets the job's price is reserved in.
            max_cost: refuse a quote above this, before anything is recorded.
            priced: `(body, quote)` from `price()`, to skip pricing again.
            overwrite: the worker may replace a file already at `output`.

        Raises:
            ValidationError: the request is invalid; nothing was recorded.
            SpendLimitError: the quote is over `max_cost`, or a budget cannot take it
                (`BudgetExceededError`); nothing was recorded.
        """
        name = os.fspath(output)
        if not name or os.path.isabs(name) or ".." in name.replace("\\", "/").split("/"):
            raise InputError(f"output: {name!r} must be a relative path inside the output folder")
        body, quote = priced if priced is not None else self.price(fields)
        if max_cost is not None and quote > max_cost:
            raise SpendLimitError(quote, max_cost, model=str(body.get("model")))
        item = WorkItem(
            key=key or uuid.uuid4().hex,
            body=dict(body),
            quote_usd=quote,
            output=name,
            tags=dict(tags or {}),
            overwrite=overwrite,
        )
        return self.fleet.submit(
            item, base_url=self.client.base_url, budgets=budgets, api_id=self.client.api_id
        )

    def submit_story(
        self,
        story: Story | str | os.PathLike[str],
        *,
        output: str | os.PathLike[str] | None = None,
        folder: str | None = None,
        budgets: Sequence[str] = (),
        confirm: Callable[[StoryQuote], bool] | None = None,
        overwrite: bool = False,
        retry_failed: bool = False,
    ) -> StorySubmission:
        """Hand a story's shots to the workers: each shot once, under the journal key a local
        render gives it, its price reserved in the story's budget.

        The story is checked and quoted as `render_story` checks it (an invalid story, one
        over its budget or a declined `confirm` submits nothing). A budget named
        `story:<story id>` is set to the story's `budget` (less what its shots already cost
        outside the workers), so the workers can never overrun it. Then every shot not yet
        rendered is recorded, reserved and handed out, all in one transaction. A chained
        shot is held until the shot it continues from is done: the worker that finishes that
        one puts its last frame in the held shot's body and hands it out. Submitting again
        adds only what is missing.

        When the workers are done, `client.render_story(story)` on a client of the same
        journal assembles the film from their files, paying nothing again.

        Args:
            story: a `Story`, or the path of a story file.
            output: the film's file (its shots' names come from it, as in a render).
            folder: where the shots' files go, inside the workers' shared folder (default
                `stories/<story id>`).
            budgets: more budgets to reserve each shot's price in (a team key's).
            confirm: called with the `StoryQuote` before anything new is submitted.
            overwrite: replace an existing film this story did not make, when assembling.
            retry_failed: pay again for shots whose job failed or whose file was lost.

        Raises:
            StoryError: the story is invalid, or a shot cannot go on without a decision.
            StoryBudgetError: it would cost more than its budget; nothing was submitted.
            BudgetExceededError: a budget cannot take the shots; nothing was submitted.
            StoryRenderError: `confirm` declined; nothing was submitted.
        """
        from ._stories import submit_story

        return submit_story(
            self, story, output=output, folder=folder, budgets=budgets, confirm=confirm,
            overwrite=overwrite, retry_failed=retry_failed,
        )  # fmt: skip

    def status(self, keys: Sequence[str]) -> builtins.list[JournalEntry | None]:
        """The journal entries of these keys, in order (`None` for an unknown key)."""
        return [self.journal.get(k) for k in keys]

    def wait(
        self,
        keys: Sequence[str],
        *,
        timeout: float | None = None,
        interval: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> builtins.list[JournalEntry | None]:
        """Read the journal until every job is finished or needs attention (UNKNOWN)."""
        deadline = None if timeout is None else clock() + timeout
        while True:
            entries = self.status(keys)
            if all(e is None or e.is_finished or e.needs_attention for e in entries):
                return entries
            if deadline is not None and clock() >= deadline:
                return entries
            sleep(interval)

    def close(self) -> None:
        if self._owned:
            self.journal.close()

    def __enter__(self) -> WorkQueue:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
