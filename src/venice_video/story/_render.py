"""Rendering a story: flows over the client's public methods, driven by either twin
(see `_flow`).

A render has three steps:

1. prepare (`_prepare_flow`): check the story against the catalog, read each shot's state
   from the journal, quote the shots never queued, check the budget and the output. Nothing
   is spent before this has passed.
2. the shots (`_shot_flow`, scheduled by `_Scheduler`): independent shots run at once, up
   to `concurrency`; a chained shot starts when its predecessor's file is verified, from that
   file's last frame. Each shot's job is journaled under a key made from its digest, so a
   later run reuses it, follows it, or (with an API that honours `Idempotency-Key`) asks for
   it again under the same key, and never pays twice. A shot handed to workers
   (`story render --detach`) is followed through the journal, never sent from here; its
   verified file is copied from the workers' shared folder.
3. finish (`_finish.finish_flow`): assemble the film (unless it is already up to date), caption it,
   and write the manifest.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from .._exceptions import JobCancelledError, QueueOutcomeUnknownError, VeniceVideoError
from .._models import Progress, VideoJob
from ._errors import Problem, StoryBudgetError, StoryError, StoryRenderError
from ._film import check_output
from ._finish import finish_flow
from ._flow import Api, Flow, Work, adrive, drive
from ._frames import file_sha256, last_frame_png
from ._model import Story
from ._plan import StoryPlan, plan_story
from ._result import Film, ShotPhase, ShotProgress
from ._run import (
    Run,
    ShotState,
    _file_for,
    away_text,
    import_file,
    import_shared,
    inspect_shots,
    locate_shared,
    refuse_blocked,
)

if TYPE_CHECKING:
    from .._async_client import AsyncVeniceVideo
    from .._client import VeniceVideo
    from ..journal import JournalEntry, JournalStore

__all__ = [
    "ShotQuote",
    "StoryQuote",
    "arender_story",
    "prepare_flow",
    "render_for",
    "rerender_indexes",
    "render_story",
    "story_quote",
]

ShotCallback = Callable[[ShotProgress], None]


# ------------------------------------------------------------------ quoting


@dataclass(frozen=True)
class ShotQuote:
    """One shot's price, and whether it is already paid for."""

    number: int
    name: str
    model: str
    cost: float | None
    state: str  # new, done, inflight, failed, lost, elsewhere


@dataclass(frozen=True)
class StoryQuote:
    """What a story costs: every shot's price, what is new and what is already spent."""

    title: str
    shots: tuple[ShotQuote, ...]
    total: float
    new: float
    committed: float
    budget: float | None

    @property
    def within_budget(self) -> bool:
        return self.budget is None or self.total <= self.budget + 1e-9


def story_quote(run: Run) -> StoryQuote:
    """What a prepared run costs, shot by shot, against the story's budget."""
    shots = tuple(
        ShotQuote(s.shot.number, s.shot.name, s.shot.model, s.price, s.state) for s in run.shots
    )
    return StoryQuote(
        title=run.plan.story.title,
        shots=shots,
        total=round(run.committed_usd + run.new_usd, 6),
        new=run.new_usd,
        committed=run.committed_usd,
        budget=run.plan.story.budget,
    )


# ------------------------------------------------------------------ 1. prepare


def prepare_flow(
    story: Story,
    *,
    api_id: str,
    journal: JournalStore | None,
    output: str | os.PathLike[str] | None,
    overwrite: bool = False,
    retry_failed: bool = False,
    for_render: bool = True,
    price: bool = True,
    rerender: Iterable[int] = (),
    shared_dir: str | os.PathLike[str] | None = None,
    files_away: bool = False,
) -> Flow[Run]:
    """Check, inspect and quote a story; for a render, also check budget and output.

    `price=False` skips the quotes (for a status report). `rerender`: the numbers of shots
    to pay for a new take of (see `render_story`). `shared_dir` is where the workers'
    shared folder is on this machine (their files are also looked for where they saved them).
    `files_away` counts the shots the workers finished as done even where their files are
    not seen (for handing out more work).
    """
    catalog = yield Api("models")
    plan = yield Work(functools.partial(plan_story, story, catalog))
    again = rerender_indexes(plan, rerender)
    target = Path(output).expanduser() if output is not None else story.output_path()
    target = target.absolute()
    if journal is not None:
        states = yield Work(
            functools.partial(
                inspect_shots, plan, journal, api_id, target, retry_failed=retry_failed,
                rerender=again, shared_dir=_shared(shared_dir), files_away=files_away,
            )
        )  # fmt: skip
    else:
        from ._run import _file_for

        states = [ShotState(s, s.key(api_id), "new", _file_for(target, s, 0)) for s in plan.shots]
    run = Run(
        plan=plan,
        api_id=api_id,
        output=target,
        shots=states,
        # The film's path too: the journal then says where each shot's film (and manifest) is.
        tags={"story": plan.story_id, "story_title": story.title, "story_film": str(target)},
    )
    if for_render:
        refuse_blocked(run)
        yield Work(functools.partial(check_output, run, overwrite=overwrite))
    for state in run.shots if price else ():
        if state.state == "new" or state.price is None:
            answer = yield Api("quote", (state.shot.model,), _quote_kwargs(state))
            state.price = float(answer.quote)
    budget = story.budget
    if for_render and budget is not None:
        total = run.committed_usd + run.new_usd
        if total > budget + 1e-9:
            raise StoryBudgetError(
                total=total, budget=budget, new=run.new_usd, committed=run.committed_usd
            )
    return run


def rerender_indexes(plan: StoryPlan, numbers: Iterable[int]) -> frozenset[int]:
    """The indexes of the shots to render again: those numbered, and the shots chained
    after them (each starts from its predecessor's new last frame).

    Raises:
        StoryError: a number is not one of the story's shots; nothing was spent.
    """
    count = len(plan.shots)
    chosen: set[int] = set()
    for number in numbers:
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= count:
            message = f"there is no shot {number!r} to render again; the story has {count}"
            raise StoryError([Problem(message, file=plan.story.source)])
        chosen.add(number - 1)
    grown = True
    while grown:  # a shot may continue from one later in the film: until nothing is added
        follow = {s.index for s in plan.shots if s.after in chosen and s.index not in chosen}
        chosen |= follow
        grown = bool(follow)
    return frozenset(chosen)


def _quote_kwargs(state: ShotState) -> dict[str, Any]:
    return {k: v for k, v in state.shot.quote_fields.items() if k != "model"}


# ------------------------------------------------------------------ 2. the shots


class _ShotUnknown(VeniceVideoError):
    """A shot's queue outcome is unknown: the render stops."""


@dataclass
class _Context:
    run: Run
    journal: JournalStore
    on_shot: ShotCallback | None
    cancel: Any
    trusted: bool
    timeout: float | None
    lock: threading.Lock = field(default_factory=threading.Lock)
    started: dict[int, float] = field(default_factory=dict)
    #: Where the workers' shared folder is on this machine, if given.
    shared_dir: Path | None = None

    def emit(self, state: ShotState, phase: ShotPhase, **extra: Any) -> None:
        if self.on_shot is None:
            return
        shot = state.shot
        began = self.started.get(shot.index)
        elapsed = time.monotonic() - began if began is not None else None
        progress = ShotProgress(
            number=shot.number,
            name=shot.name,
            phase=phase,
            model=shot.model,
            cost=state.price,
            elapsed_s=elapsed,
            **extra,
        )
        with self.lock:
            self.on_shot(progress)

    def reporter(self, state: ShotState) -> Callable[[Progress], None]:
        def report(progress: Progress) -> None:
            phase: ShotPhase = "downloading" if progress.phase == "done" else progress.phase
            self.emit(state, phase, eta_s=progress.eta_s, queue_id=progress.queue_id)

        return report


def _shot_flow(ctx: _Context, state: ShotState, first_frame: Path | None) -> Flow[VideoJob]:
    """Render one shot, or follow its job, until its file is saved and verified."""
    shot = state.shot
    ctx.started[shot.index] = time.monotonic()
    follow = {"on_progress": ctx.reporter(state), "cancel": ctx.cancel, "timeout": ctx.timeout}
    entry = state.entry
    jobs: list[VideoJob] | None = None
    job: VideoJob
    if state.state == "inflight" and entry is not None and entry.shared_output is not None:
        # The workers render it: follow it through the journal, never send it from here.
        jobs = [(yield from _worker_shot_flow(ctx, state))]
    elif state.state == "inflight" and entry is not None:
        if entry.queue_id is None and not ctx.trusted:
            raise _ShotUnknown(_unknown_text(state))
        if entry.queue_id is not None or not _has_digests(entry.request):
            jobs = yield Api("resume", kwargs={"keys": [state.key], **follow})
            if not jobs:
                raise StoryRenderError([f"its journal entry {state.key} cannot be resumed here"])
        else:
            # The journal keeps only digests of large inline media (a chained shot's first
            # frame), so the request is built again, identical, and sent under the same key:
            # an API that honours Idempotency-Key answers with the job it already has.
            yield Work(functools.partial(ctx.journal.delete, state.key))
    if jobs is None:
        fields = dict(shot.fields)
        if first_frame is not None:
            fields["image"] = yield Work(functools.partial(last_frame_png, first_frame))
        ctx.emit(state, "queued")
        job = yield Api(
            "generate",
            kwargs={
                **fields,
                "output": state.path,
                # The shot's own file in the story's shots folder, named by its digest: one
                # there that no journal entry or manifest vouches for is a leftover of this
                # same shot (its entry cleaned before the film was made), not someone's file.
                "overwrite": True,
                "idempotency_key": state.key,
                "tags": ctx.run.shot_tags(shot),
                "max_cost": _cap(state.price),
                **follow,
            },
        )
    else:
        job = jobs[0]
    if job.status == "UNKNOWN":
        raise _ShotUnknown(_unknown_text(state))
    if job.status not in ("DOWNLOADED", "COMPLETED") or job.path is None:
        raise StoryRenderError([job.error or f"its job ended as {job.status}"])
    digest = yield Work(functools.partial(file_sha256, job.path))
    if job.sha256 is not None and digest != job.sha256:
        raise StoryRenderError([f"{job.path} does not match the file that was verified"])
    state.path, state.sha256 = job.path, digest
    return job


_WORKER_PHASES: dict[str, ShotPhase] = {
    "QUOTED": "pending",
    "QUEUING": "queued",
    "QUEUED": "queued",
    "PROCESSING": "processing",
    "READY": "downloading",
}


def _worker_shot_flow(ctx: _Context, state: ShotState) -> Flow[VideoJob]:
    """A shot the workers render: wait for its journal entry to end, then take the worker's
    verified file into the shots folder."""
    entry: JournalEntry = yield Work(functools.partial(_await_workers, ctx, state))
    worker = entry.worker or "(unknown)"
    state.entry, state.worker = entry, entry.worker
    if entry.status == "UNKNOWN":
        raise _ShotUnknown(
            f"the queue request its worker ({worker}) sent may have reached the API without "
            "an answer, so whether its job exists (and was paid for) is unknown. It is not "
            f"queued again: check the account, and the job {state.key} in `venice-video jobs`"
        )
    if entry.status not in ("DOWNLOADED", "COMPLETED"):
        why = entry.error or f"its job ended as {entry.status}"
        raise StoryRenderError([f"{why} (worker {worker})"])
    copy = _file_for(ctx.run.output, state.shot, state.attempt)
    found = yield Work(functools.partial(locate_shared, entry, copy, ctx.shared_dir))
    if found is None:
        raise StoryRenderError([away_text(entry)])
    state.path, state.sha256 = found
    state.source = found[0]
    path = yield Work(functools.partial(import_file, state, copy))
    return VideoJob.from_entry(entry).replace(path=path)


def _await_workers(ctx: _Context, state: ShotState, *, every: float = 0.5) -> JournalEntry:
    """Read the shot's journal entry until the workers end it (blocking)."""
    began = time.monotonic()
    seen: str | None = None
    while True:
        entry = ctx.journal.get(state.key)
        if entry is None:
            raise StoryRenderError([f"its journal entry {state.key} is gone"])
        if entry.is_finished or entry.needs_attention or entry.status == "DOWNLOADED":
            return entry
        if entry.status != seen:
            seen = entry.status
            ctx.emit(state, _WORKER_PHASES.get(entry.status, "queued"), queue_id=entry.queue_id)
        if ctx.cancel.is_set():
            raise JobCancelledError("interrupted; the workers carry on", job_id=entry.queue_id)
        if ctx.timeout is not None and time.monotonic() - began > ctx.timeout:
            raise StoryRenderError(
                [f"still with the workers after {ctx.timeout:g}s ({entry.status}); run the "
                 "render again to pick it up"]
            )  # fmt: skip
        time.sleep(every)


def _cap(price: float | None) -> float | None:
    # The quote was just taken; a price that moved up since is refused, not paid.
    return None if price is None else price * (1 + 1e-6) + 1e-9


def _has_digests(value: Any) -> bool:
    if isinstance(value, str):
        return value.startswith("data:") and ";sha256=" in value[:300]
    if isinstance(value, Mapping):
        return any(_has_digests(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_digests(v) for v in value)
    return False


def _unknown_text(state: ShotState) -> str:
    return (
        f"the queue request for this shot may have reached the API, but no answer came back, "
        f"so whether its job exists (and was paid for) is unknown. It is not queued again "
        f"blindly: check your account, then either forget the entry ({state.key}) with "
        f"`venice-video jobs clean --all` if no job was made, or, if the API honours "
        f"Idempotency-Key, render again with --trust-idempotency"
    )


class _Scheduler:
    """Which shots may start now, and what became of each. Shared by both twins."""

    def __init__(self, ctx: _Context) -> None:
        self.ctx = ctx
        self.run = ctx.run
        self.jobs: dict[int, VideoJob] = {}
        self.outcome: dict[int, str] = {}
        self.failures: list[str] = []
        self.running: set[int] = set()
        self.stopped = False
        self.unknown = False
        for state in self.run.shots:
            if state.state == "done":
                self.jobs[state.shot.index] = state.job()
                self.outcome[state.shot.index] = "ok"
                ctx.emit(state, "reused")
            else:
                ctx.emit(state, "pending")

    def ready(self) -> list[tuple[ShotState, Path | None]]:
        """Shots that can start now (each returned once), with the file to continue from."""
        found = []
        for state in self.run.shots:
            index = state.shot.index
            if index in self.outcome or index in self.running:
                continue
            after = state.shot.after
            if self.stopped:
                self.skip(state, "the render stopped before this shot started")
                continue
            if after is not None and after not in self.outcome:
                continue
            if after is not None and self.outcome[after] != "ok":
                self.skip(state, f"shot {after + 1}, which it continues from, did not finish")
                continue
            first = self.jobs[after].path if after is not None else None
            self.running.add(index)
            found.append((state, first))
        return found

    def skip(self, state: ShotState, reason: str) -> None:
        self.outcome[state.shot.index] = "skipped"
        self.ctx.emit(state, "skipped", error=reason)

    def finished(self, state: ShotState, job: VideoJob | None, error: BaseException | None) -> None:
        index = state.shot.index
        self.running.discard(index)
        label = f"shot {state.shot.number} ({state.shot.name})"
        if error is None and job is not None:
            self.jobs[index] = job
            self.outcome[index] = "ok"
            self.ctx.emit(state, "done", queue_id=job.queue_id)
            return
        if isinstance(error, _ShotUnknown | QueueOutcomeUnknownError):
            self.outcome[index] = "unknown"
            self.stopped = self.unknown = True
            self.failures.append(f"{label}: {error}")
            self.ctx.emit(state, "unknown", error=str(error))
            return
        if isinstance(error, JobCancelledError):
            self.outcome[index] = "cancelled"
            self.stopped = True
            self.failures.append(f"{label}: interrupted; its job stays in the journal")
            self.ctx.emit(state, "skipped", error="interrupted")
            return
        self.outcome[index] = "failed"
        reason = str(error) or type(error).__name__
        self.failures.append(f"{label}: {reason}")
        self.ctx.emit(state, "failed", error=reason)

    def result(self) -> dict[int, VideoJob]:
        if self.failures or len(self.jobs) != len(self.run.shots):
            skipped = [
                f"shot {s.shot.number} ({s.shot.name}): not rendered"
                for s in self.run.shots
                if self.outcome.get(s.shot.index) == "skipped"
            ]
            raise StoryRenderError(
                [*self.failures, *skipped, "finished shots are saved; run the render again "
                 "to pick up from here"], outcome_unknown=self.unknown
            )  # fmt: skip
        return self.jobs


def _schedule(client: VeniceVideo, ctx: _Context, concurrency: int) -> dict[int, VideoJob]:
    plan = _Scheduler(ctx)
    futures: dict[Future[VideoJob], ShotState] = {}
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="shot") as pool:

        def launch() -> None:
            for state, first in plan.ready():
                flow = _shot_flow(ctx, state, first)
                futures[pool.submit(drive, client, flow)] = state

        try:
            launch()
            while futures:
                done, _ = wait(futures, return_when=FIRST_COMPLETED)
                for future in done:
                    state = futures.pop(future)
                    error = future.exception()
                    plan.finished(state, None if error else future.result(), error)
                launch()
        except BaseException:
            # Ctrl-C: stop waiting; every job stays journaled for the next run.
            ctx.cancel.set()
            for future in futures:
                future.cancel()
            raise
    return plan.result()


async def _aschedule(
    client: AsyncVeniceVideo | VeniceVideo, ctx: _Context, concurrency: int
) -> dict[int, VideoJob]:
    import anyio

    plan = _Scheduler(ctx)
    limiter = anyio.CapacityLimiter(max(1, concurrency))
    send, receive = anyio.create_memory_object_stream[
        tuple[ShotState, VideoJob | None, BaseException | None]
    ](max_buffer_size=len(ctx.run.shots) + 1)

    async def one(state: ShotState, first: Path | None) -> None:
        async with limiter:
            try:
                job = await adrive(client, _shot_flow(ctx, state, first))
            except Exception as exc:
                await send.send((state, None, exc))
            else:
                await send.send((state, job, None))

    async with send, receive, anyio.create_task_group() as group:
        for state, first in plan.ready():
            group.start_soon(one, state, first)
        while plan.running:
            state, job, error = await receive.receive()
            plan.finished(state, job, error)
            for state, first in plan.ready():
                group.start_soon(one, state, first)
    return plan.result()


# ------------------------------------------------------------------ the twins' entry points


def _journal_of(client: VeniceVideo | AsyncVeniceVideo) -> JournalStore:
    journal = client.journal
    if journal is None:
        raise ValueError(
            "render_story needs a client with a journal (journal=False turns it off): it is "
            "what makes an interrupted render resumable without paying twice"
        )
    return journal


def render_story(
    client: VeniceVideo,
    story: Story | str | os.PathLike[str],
    *,
    output: str | os.PathLike[str] | None = None,
    concurrency: int = 4,
    on_shot: ShotCallback | None = None,
    on_assembly: Callable[[float], None] | None = None,
    confirm: Callable[[StoryQuote], bool] | None = None,
    overwrite: bool = False,
    retry_failed: bool = False,
    timeout: float | None = None,
    rerender: Iterable[int] = (),
    shared_dir: str | os.PathLike[str] | None = None,
) -> Film:
    """`VeniceVideo.render_story`; see there."""
    story = story if isinstance(story, Story) else Story.load(story)
    journal = _journal_of(client)
    run = drive(
        client,
        prepare_flow(
            story, api_id=client.api_id, journal=journal, output=output,
            overwrite=overwrite, retry_failed=retry_failed, rerender=rerender,
            shared_dir=shared_dir,
        ),
    )  # fmt: skip
    _confirm(run, confirm)
    drive(client, _import_flow(run))
    ctx = _Context(run, journal, on_shot, threading.Event(), client.idempotent_queue_retries,
                   timeout, shared_dir=_shared(shared_dir))  # fmt: skip
    jobs = _schedule(client, ctx, concurrency)
    return drive(client, finish_flow(ctx.run, ctx.journal, jobs, on_assembly))


async def arender_story(
    client: AsyncVeniceVideo | VeniceVideo,
    story: Story | str | os.PathLike[str],
    *,
    output: str | os.PathLike[str] | None = None,
    concurrency: int = 4,
    on_shot: ShotCallback | None = None,
    on_assembly: Callable[[float], None] | None = None,
    confirm: Callable[[StoryQuote], bool] | None = None,
    overwrite: bool = False,
    retry_failed: bool = False,
    timeout: float | None = None,
    rerender: Iterable[int] = (),
    cancel: Any = None,
    shared_dir: str | os.PathLike[str] | None = None,
) -> Film:
    """`AsyncVeniceVideo.render_story`; see there.

    Also takes the sync client (its calls then run in worker threads), and `cancel`: an
    event (`anyio.Event` for the async client, `threading.Event` for the sync one) that,
    once set, stops the waits; every job stays journaled for the next run.
    """
    import anyio
    import anyio.to_thread

    from .._async_client import AsyncVeniceVideo

    if not isinstance(story, Story):
        source = story
        story = await anyio.to_thread.run_sync(lambda: Story.load(source))
    journal = _journal_of(client)
    run = await adrive(
        client,
        prepare_flow(
            story, api_id=client.api_id, journal=journal, output=output,
            overwrite=overwrite, retry_failed=retry_failed, rerender=rerender,
            shared_dir=shared_dir,
        ),
    )  # fmt: skip
    _confirm(run, confirm)
    await adrive(client, _import_flow(run))
    if cancel is None:
        cancel = anyio.Event() if isinstance(client, AsyncVeniceVideo) else threading.Event()
    ctx = _Context(run, journal, on_shot, cancel, client.idempotent_queue_retries, timeout,
                   shared_dir=_shared(shared_dir))  # fmt: skip
    jobs = await _aschedule(client, ctx, concurrency)
    return await adrive(client, finish_flow(ctx.run, ctx.journal, jobs, on_assembly))


@overload
def render_for(client: VeniceVideo, story: Any, **options: Any) -> Film: ...
@overload
def render_for(client: AsyncVeniceVideo, story: Any, **options: Any) -> Awaitable[Film]: ...
def render_for(
    client: VeniceVideo | AsyncVeniceVideo, story: Any, **options: Any
) -> Film | Awaitable[Film]:
    """`render_story` for the sync client, `arender_story` (awaitable) for the async one: the
    twins' `render_story` methods read the same but for `await`. (The sync client's path
    never loads the async twin.)"""
    from .._client import VeniceVideo

    if isinstance(client, VeniceVideo):
        return render_story(client, story, **options)
    return arender_story(client, story, **options)


def _shared(folder: str | os.PathLike[str] | None) -> Path | None:
    return Path(folder).expanduser().absolute() if folder is not None else None


def _import_flow(run: Run) -> Flow[None]:
    """Workers' files found in their shared folder, copied into the film's shots folder."""
    if any(s.source is not None for s in run.shots):
        yield Work(functools.partial(import_shared, run))


def _confirm(run: Run, confirm: Callable[[StoryQuote], bool] | None) -> None:
    if confirm is None or run.new_usd <= 0 and not any(s.state == "new" for s in run.shots):
        return
    if not confirm(story_quote(run)):
        raise StoryRenderError(["declined; nothing was queued"])
