"""`render_story()` for both clients: many shots, each paid once, joined into one film.

The work is in `venice_video.story` (loaded on first use); these mixins give the twins their
method, as `_choose` does for picking models by price.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from ._async_client import AsyncVeniceVideo
    from ._client import VeniceVideo
    from .story import Film, ShotProgress, Story, StoryQuote

__all__ = ["AsyncStoryMethods", "StoryMethods"]


class StoryMethods:
    """`render_story()` for `VeniceVideo`."""

    def render_story(
        self,
        story: Story | str | os.PathLike[str],
        *,
        output: str | os.PathLike[str] | None = None,
        concurrency: int = 4,
        on_shot: Callable[[ShotProgress], None] | None = None,
        on_assembly: Callable[[float], None] | None = None,
        confirm: Callable[[StoryQuote], bool] | None = None,
        overwrite: bool = False,
        retry_failed: bool = False,
        timeout: float | None = None,
        rerender: Iterable[int] = (),
        shared_dir: str | os.PathLike[str] | None = None,
    ) -> Film:
        """Render a story's shots, each paid once, and join them into one film.

        Checks the whole story first (offline), quotes the shots not yet paid for and
        refuses a story over its budget before anything is spent. Independent shots run at
        once; a chained shot waits for its predecessor's verified file. Run it again after
        any interruption: finished shots are reused, jobs in flight are followed. See
        `venice_video.story` and docs/stories.md.

        Args:
            story: a `Story`, or the path of a story file.
            output: the film's file; by default the story's `output`.
            concurrency: how many shots render at once.
            on_shot: called with each shot's `ShotProgress` as it moves on.
            on_assembly: called with the assembly's progress, 0 to 1.
            confirm: called with the `StoryQuote` before anything new is queued; returning
                `False` stops the render with nothing spent.
            overwrite: replace an existing film this story did not make.
            retry_failed: pay again for shots whose job failed or whose file was lost.
            timeout: seconds to wait for each shot's job.
            rerender: numbers of shots (from 1) to pay for a new take of, with the shots
                chained after them (they start from the new last frame). The current take's
                file is kept; the film is assembled again with the new takes. A shot whose
                take is still in flight is followed instead, never paid twice; each new take
                is priced and passed to `confirm` like any new shot.
            shared_dir: where the workers' shared folder is on this machine, for shots handed
                to workers (`WorkQueue.submit_story`); by default their files are looked for
                where the workers saved them. Each is checked against the journal's digest
                and copied into the film's shots folder; a shot still with the workers is
                waited for, never sent from here.

        Raises:
            StoryError: the story is invalid (or `rerender` names no shot of it); nothing
                was spent.
            StoryBudgetError: it would cost more than its budget; nothing was spent.
            StoryRenderError: some shots failed (the others are saved), or a queue outcome is
                unknown.
        """
        from .story._render import render_for

        return render_for(
            cast("VeniceVideo", self), story,
            output=output, concurrency=concurrency, on_shot=on_shot, on_assembly=on_assembly,
            confirm=confirm, overwrite=overwrite, retry_failed=retry_failed, timeout=timeout,
            rerender=tuple(rerender),
            shared_dir=shared_dir,
        )  # fmt: skip


class AsyncStoryMethods:
    """`render_story()` for `AsyncVeniceVideo`."""

    async def render_story(
        self,
        story: Story | str | os.PathLike[str],
        *,
        output: str | os.PathLike[str] | None = None,
        concurrency: int = 4,
        on_shot: Callable[[ShotProgress], None] | None = None,
        on_assembly: Callable[[float], None] | None = None,
        confirm: Callable[[StoryQuote], bool] | None = None,
        overwrite: bool = False,
        retry_failed: bool = False,
        timeout: float | None = None,
        rerender: Iterable[int] = (),
        shared_dir: str | os.PathLike[str] | None = None,
    ) -> Film:
        """Render a story's shots, each paid once, and join them into one film.

        Checks the whole story first (offline), quotes the shots not yet paid for and
        refuses a story over its budget before anything is spent. Independent shots run at
        once; a chained shot waits for its predecessor's verified file. Run it again after
        any interruption: finished shots are reused, jobs in flight are followed. See
        `venice_video.story` and docs/stories.md.

        Args:
            story: a `Story`, or the path of a story file.
            output: the film's file; by default the story's `output`.
            concurrency: how many shots render at once.
            on_shot: called with each shot's `ShotProgress` as it moves on.
            on_assembly: called with the assembly's progress, 0 to 1.
            confirm: called with the `StoryQuote` before anything new is queued; returning
                `False` stops the render with nothing spent.
            overwrite: replace an existing film this story did not make.
            retry_failed: pay again for shots whose job failed or whose file was lost.
            timeout: seconds to wait for each shot's job.
            rerender: numbers of shots (from 1) to pay for a new take of, with the shots
                chained after them (they start from the new last frame). The current take's
                file is kept; the film is assembled again with the new takes. A shot whose
                take is still in flight is followed instead, never paid twice; each new take
                is priced and passed to `confirm` like any new shot.
            shared_dir: where the workers' shared folder is on this machine, for shots handed
                to workers (`WorkQueue.submit_story`); by default their files are looked for
                where the workers saved them. Each is checked against the journal's digest
                and copied into the film's shots folder; a shot still with the workers is
                waited for, never sent from here.

        Raises:
            StoryError: the story is invalid (or `rerender` names no shot of it); nothing
                was spent.
            StoryBudgetError: it would cost more than its budget; nothing was spent.
            StoryRenderError: some shots failed (the others are saved), or a queue outcome is
                unknown.
        """
        from .story._render import render_for

        return await render_for(
            cast("AsyncVeniceVideo", self), story,
            output=output, concurrency=concurrency, on_shot=on_shot, on_assembly=on_assembly,
            confirm=confirm, overwrite=overwrite, retry_failed=retry_failed, timeout=timeout,
            rerender=tuple(rerender),
            shared_dir=shared_dir,
        )  # fmt: skip
