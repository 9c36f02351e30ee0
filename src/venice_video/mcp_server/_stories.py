"""MCP tools for stories: check, quote, start and follow a film of many shots.

The same rules as single generations hold: every file a story names (the story itself, its
cast's pictures, its inputs and soundtrack, the film) must be inside the allowed directory,
and the operator's gates apply before anything is queued: no shot may cost more than the
per-call maximum, and the story's new shots together must fit in what is left of the
budget. A story renders in the background; its shots are journaled like any job, so a
restart of the server loses nothing, and starting the same story again picks up where it
stopped without paying twice.
"""

# No `from __future__ import annotations`: the SDK reads the tools' annotations at
# registration (see _tools.py).

import functools
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import anyio
import anyio.abc
from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations
from pydantic import Field

from .._async_client import AsyncVeniceVideo
from .._exceptions import VeniceVideoError
from ..story import (
    Film,
    Run,
    ShotProgress,
    Story,
    adrive,
    arender_story,
    plan_story,
    prepare_flow,
    story_quote,
)
from ._backend import Backend
from ._budget import Budget, SpendRefused
from ._errors import describe_error
from ._sandbox import Sandbox, SandboxError

__all__ = ["StoryRunner", "register_story_tools"]

FilmOutput = Annotated[
    str | None,
    Field(
        description="Where to save the film (.mp4), relative to the allowed directory. "
        "Default: the story's own output."
    ),
]

StoryPath = Annotated[
    str,
    Field(description="The story file (YAML or JSON), relative to the allowed directory."),
]


@dataclass
class _Task:
    """A story rendering in the background."""

    story_id: str
    title: str
    file: Path
    output: Path
    held: float
    new_keys: dict[str, float]
    shots: dict[int, ShotProgress] = field(default_factory=dict)
    done: anyio.Event = field(default_factory=anyio.Event)
    film: Film | None = None
    error: dict[str, Any] | None = None
    cancel: Any = None


class StoryRunner:
    """Checks, quotes and renders the stories of one MCP server. Strictly private."""

    def __init__(self, backend: Backend, sandbox: Sandbox, gates: Budget) -> None:
        self.backend = backend
        self.sandbox = sandbox
        self.gates = gates
        self.tasks: dict[str, _Task] = {}
        self._tg: anyio.abc.TaskGroup | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator["StoryRunner"]:
        async with anyio.create_task_group() as tg:
            self._tg = tg
            try:
                yield self
            finally:
                self._tg = None
                for task in self.tasks.values():
                    if task.cancel is not None:
                        task.cancel.set()  # waits end; every shot stays journaled
                tg.cancel_scope.cancel()

    # ------------------------------------------------------------------ reading a story

    async def load(self, path: str) -> Story:
        file = self.sandbox.input_file(path, "path")
        story = await self.backend.blocking(Story.load, file)
        outside = [
            (where, value)
            for where, value in _local_paths(story)
            if not self.sandbox.contains(story.resolve_path(value))
        ]
        if outside:
            where, value = outside[0]
            raise SandboxError(
                where,
                value,
                "the story names a file outside the allowed directory.",
                "Keep the story's pictures, sounds and film inside the allowed directory, "
                "with paths relative to the story file.",
            )
        return story

    def output_of(self, story: Story, output: str | None) -> Path:
        """The film's path, inside the allowed directory. An existing film is not refused
        here: the render replaces only a film the same story made (or with overwrite)."""
        given = output if output is not None else str(story.output_path())
        return self.sandbox.output_file(given, "film.mp4", overwrite=True)

    async def prepare(self, story: Story, output: Path | None, *, for_render: bool) -> Run:
        client = self.backend.client
        flow = prepare_flow(
            story,
            api_id=client.api_id,
            journal=self.backend.journal,
            output=output,
            for_render=for_render,
        )
        run: Run = await adrive(client, flow)
        return run

    # ------------------------------------------------------------------ the gates

    def check_gates(self, run: Run) -> float:
        """Refuse a story the operator's gates do not allow; returns what to hold."""
        limit = self.gates.max_cost_per_call
        for state in run.shots:
            if state.state == "new" and limit is not None and (state.price or 0) > limit + 1e-9:
                raise SpendRefused(
                    "per_call_max",
                    state.price or 0.0,
                    f"Shot {state.shot.number} ({state.shot.name}) is quoted "
                    f"${state.price:.2f}, over the operator's per-call maximum ${limit:.2f}; "
                    "nothing was queued.",
                    self.gates.describe(),
                )
        self.gates.check(run.new_usd)
        return run.new_usd

    # ------------------------------------------------------------------ rendering

    async def start(
        self, story: Story, output: Path, *, overwrite: bool, rerender: Sequence[int] = ()
    ) -> _Task:
        """Render `story` in the background (a new take of each shot in `rerender`); a render
        of the same story still running is returned as it is."""
        if self._tg is None:
            raise RuntimeError("the story runner is not running (outside the server's lifespan)")
        client = self.backend.client
        run = await adrive(
            client,
            prepare_flow(
                story,
                api_id=client.api_id,
                journal=self.backend.journal,
                output=output,
                overwrite=overwrite,
                rerender=rerender,
            ),  # fmt: skip
        )
        existing = self.tasks.get(run.plan.story_id)
        if existing is not None and not existing.done.is_set():
            if rerender:
                raise VeniceVideoError(
                    f"story {existing.story_id!r} is still rendering; wait for it with "
                    "follow_story, then ask for the new takes (nothing was queued)"
                )
            return existing
        held = self.check_gates(run)
        self.gates.hold(held)
        new_keys = {s.key: s.price or 0.0 for s in run.shots if s.state == "new"}
        cancel = anyio.Event() if isinstance(client, AsyncVeniceVideo) else threading.Event()
        task = _Task(run.plan.story_id, story.title, story.source or Path(), run.output, held,
                     new_keys, cancel=cancel)  # fmt: skip
        self.tasks[task.story_id] = task
        self._tg.start_soon(self._render, task, story, overwrite, tuple(rerender))
        return task

    async def started(
        self, path: str, output: str | None, *, overwrite: bool, rerender: Sequence[int] = ()
    ) -> dict[str, Any]:
        """`start` for a tool: the story at `path` loaded, its film placed, the answer."""
        story = await self.load(path)
        task = await self.start(
            story, self.output_of(story, output), overwrite=overwrite, rerender=rerender
        )
        view = self.describe(task)
        view["next"] = "Call follow_story with this story_id until state is done."
        return view

    async def _render(
        self, task: _Task, story: Story, overwrite: bool, rerender: tuple[int, ...]
    ) -> None:
        def seen(progress: ShotProgress) -> None:
            task.shots[progress.number] = progress

        try:
            task.film = await arender_story(
                self.backend.client,
                story,
                output=task.output,
                on_shot=seen,
                overwrite=overwrite,
                cancel=task.cancel,
                rerender=rerender,
            )
        except Exception as exc:
            task.error = describe_error(exc)
        finally:
            charged = await self.backend.blocking(self._charged, task)
            self.gates.settle(task.held, charged)
            task.done.set()

    def _charged(self, task: _Task) -> float:
        """What this render queued: its new shots that the journal says got a queue id."""
        total = 0.0
        for key, price in task.new_keys.items():
            entry = self.backend.journal.get(key)
            if entry is not None and entry.queue_id is not None:
                total += entry.quote_usd if entry.quote_usd is not None else price
        return round(total, 6)

    def describe(self, task: _Task) -> dict[str, Any]:
        state = "running"
        if task.done.is_set():
            state = "done" if task.film is not None else "failed"
        shots = [
            {
                "number": p.number,
                "name": p.name,
                "phase": p.phase,
                "model": p.model,
                "cost_usd": p.cost,
                "eta_s": round(p.eta_s, 1) if p.eta_s is not None else None,
                "error": p.error,
            }
            for _, p in sorted(task.shots.items())
        ]
        view: dict[str, Any] = {
            "story_id": task.story_id,
            "title": task.title,
            "state": state,
            "shots": shots,
            "limits": self.gates.describe(),
        }
        film = task.film
        if film is not None:
            view["film"] = {
                "path": self.sandbox.show(film.path),
                "duration_s": round(film.duration, 3),
                "manifest": self.sandbox.show(film.manifest_path),
                "captions": self.sandbox.show(film.srt_path) if film.srt_path else None,
                "cost_usd": film.cost,
                "spent_usd": film.spent,
            }
            view["next"] = "The film is ready at film.path."
        elif task.error is not None:
            view["error"] = task.error
            view["next"] = "Fix what the error says, then start_story again: finished shots "
            view["next"] += "are reused and nothing is paid twice."
        else:
            view["next"] = "Call follow_story again to wait for the rest."
        return view


def _local_paths(story: Story) -> list[tuple[str, str]]:
    """Every local file a story names, with where it is named."""
    from .._inputs import is_url

    found: list[tuple[str, str]] = []
    for name, member in story.cast.items():
        found += [(f"cast.{name}.images", v) for v in member.images if not is_url(v)]
    for index, shot in enumerate(story.shots):
        for attr in ("image", "end_image", "audio"):
            value = getattr(shot, attr)
            if isinstance(value, str) and not is_url(value):
                found.append((f"shots.{index}.{attr}", value))
    if story.soundtrack is not None and not is_url(story.soundtrack.file):
        found.append(("soundtrack.file", story.soundtrack.file))
    if story.output:
        found.append(("output", story.output))
    return found


def register_story_tools(server: MCPServer[Any], stories: StoryRunner) -> None:
    """Add check_story, quote_story, start_story and follow_story to `server`."""
    from ._tools import _tool_errors

    read_only = ToolAnnotations(readOnlyHint=True, openWorldHint=True)

    @server.tool(annotations=read_only)
    @_tool_errors
    async def check_story(path: StoryPath) -> dict[str, Any]:
        """Check a story file (a film of several shots) without sending anything. Free.

        Checks the schema, each shot against its model's rules, the cast and inputs, and the
        chains between shots. On a problem the call fails with every problem, each with its
        line and shot. Next: quote_story, then start_story.
        """
        story = await stories.load(path)
        catalog = await stories.backend.catalog()
        plan = await stories.backend.blocking(functools.partial(plan_story, story, catalog))
        return {
            "valid": True,
            "title": story.title,
            "plan": plan.describe(),
            "next": "Call quote_story for the price, then start_story to render it.",
        }

    @server.tool(annotations=read_only)
    @_tool_errors
    async def quote_story(path: StoryPath) -> dict[str, Any]:
        """Price every shot of a story and the total, in USD. Free; nothing is queued.

        Shots already rendered (by an earlier start_story) cost nothing again. The answer
        says whether the story's own budget and the operator's limits allow it.
        """
        story = await stories.load(path)
        run = await stories.prepare(story, None, for_render=False)
        priced = story_quote(run)
        refusal = None
        try:
            stories.check_gates(run)
        except SpendRefused as exc:
            refusal = exc.message
        if not priced.within_budget:
            refusal = (refusal + " " if refusal else "") + (
                f"The story costs ${priced.total:.2f}, over its own budget ${priced.budget:.2f}."
            )
        answer: dict[str, Any] = {
            "title": priced.title,
            "shots": [
                {
                    "number": s.number,
                    "name": s.name,
                    "model": s.model,
                    "cost_usd": s.cost,
                    "paid": s.state in ("done", "inflight"),
                }  # fmt: skip
                for s in priced.shots
            ],
            "total_usd": priced.total,
            "new_usd": priced.new,
            "budget_usd": priced.budget,
            "allowed": refusal is None,
            "limits": stories.gates.describe(),
        }
        if refusal:
            answer["refusal"] = refusal
        answer["next"] = (
            "Make the story cheaper (fewer, shorter or lower-resolution shots) and quote again."
            if refusal
            else "Call start_story to render it."
        )
        return answer

    @server.tool(annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=False,
                                             idempotentHint=True, openWorldHint=True))  # fmt: skip
    @_tool_errors
    async def start_story(
        path: StoryPath,
        output: FilmOutput = None,
        overwrite: Annotated[
            bool, Field(description="Replace an existing film this story did not make.")
        ] = False,
    ) -> dict[str, Any]:
        """Render a story into one film. THIS COSTS MONEY: each new shot's quote is charged.

        Checks and quotes it first and refuses (spending nothing) when the story's budget or
        the operator's limits do not allow it. Returns at once with story_id; the shots render
        in the background, then they are joined into the film. Calling it again for the same
        story never pays twice: finished shots are reused. Next: follow_story(story_id).
        """
        return await stories.started(path, output, overwrite=overwrite)

    @server.tool(annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=False,
                                             idempotentHint=False, openWorldHint=True))  # fmt: skip
    @_tool_errors
    async def rerender_story_shots(
        path: StoryPath,
        shots: Annotated[
            list[int],
            Field(
                description="The numbers of the shots to render again (1 is the first).",
                min_length=1,
            ),
        ],
        output: FilmOutput = None,
    ) -> dict[str, Any]:
        """Render shots of a story again, as new takes, and rebuild the film. THIS COSTS MONEY
        on every call: each listed shot is paid again, and so are the shots chained after it
        (they start from its new last frame).

        Priced and checked against the story's budget and the operator's limits first;
        refused, spending nothing, when they do not allow it. The old takes' files are kept;
        the film is replaced only once the new one is whole. Returns at once with story_id.
        Next: follow_story(story_id).
        """
        return await stories.started(path, output, overwrite=False, rerender=shots)

    @server.tool(annotations=read_only)
    @_tool_errors
    async def follow_story(
        story_id: Annotated[str, Field(description="The story_id from start_story.")],
        timeout_s: Annotated[
            float, Field(description="Most seconds to wait (at most 120).", ge=0)
        ] = 60.0,
    ) -> dict[str, Any]:
        """Wait until a story's film is ready, or timeout_s passes; report every shot. Free.

        state is running, done or failed; each shot has its phase and cost. When done: film
        with its path, length and cost.
        """
        task = stories.tasks.get(story_id)
        if task is None:
            raise VeniceVideoError(
                f"no story {story_id!r} was started by this server; start_story starts one "
                "(and picks up a story an earlier run left unfinished)"
            )
        with anyio.move_on_after(min(max(timeout_s, 0.0), 120.0)):
            await task.done.wait()
        return stories.describe(task)
