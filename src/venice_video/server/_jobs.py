"""Jobs: their life from queue to delivery, simulated execution time and the render pool.

A job is ready when two things have happened: its simulated execution time has passed on the
server clock, and the placeholder render has finished. Hot state lives in memory and every
transition is written through to SQLite, so a poll never touches the database and a restarted
server picks up where the last one stopped (unfinished renders run again).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import math
import os
import random
import shutil
import uuid
from collections import Counter, deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from .._catalog import VideoModel
from ._accounts import Accounts
from ._clock import Clock
from ._config import ServerConfig
from ._store import AccountRow, IdempotencyRow, Store

__all__ = ["Job", "JobManager", "JobState", "Outcome", "simulated_seconds"]

log = logging.getLogger("venice_video.server")

JobState = Literal["queued", "processing", "ready", "failed", "deleted"]
Outcome = Literal["ok", "provider_content_policy", "inference_failed"]


@dataclass
class Job:
    """One queued generation. Times are server Unix seconds."""

    queue_id: str
    seq: int
    account: str
    model: str
    vps: bool
    price_micro: int
    created: float
    sim_s: float
    #: Render settings: width, height, duration_s, prompt, seed, audio, upscale_factor.
    params: dict[str, Any]
    #: Input media by RenderSpec field, as file names under `inputs/<queue_id>/`.
    inputs: dict[str, list[str]]
    outcome: Outcome = "ok"
    state: JobState = "queued"
    started: float | None = None
    rendered_at: float | None = None
    ready_at: float | None = None
    failed_at: float | None = None
    deleted_at: float | None = None
    refunded: bool = False
    #: Complete deliveries: mp4 bodies sent by retrieve, or full downloads of download_url.
    delivered: int = 0
    downloads: int = 0
    delete_on_delivery: bool = False
    revoked: bool = False
    idempotency_key: str | None = None
    media_size: int = 0
    render_error: str | None = None

    @property
    def sim_end(self) -> float | None:
        return None if self.started is None else self.started + self.sim_s

    @property
    def finished_at(self) -> float | None:
        return self.ready_at if self.ready_at is not None else self.failed_at

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Job:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def _family_factor(model_id: str) -> float:
    if any(t in model_id for t in ("fast", "turbo", "flash", "mini", "distilled")):
        return 0.6
    if any(t in model_id for t in ("-pro", "-full", "4k", "enhanced")):
        return 1.5
    return 1.0


def simulated_seconds(model: VideoModel, params: Mapping[str, Any], *, scale: float = 1.0) -> float:
    """The typical execution time of a job, before the random spread.

    Tens of seconds for a short low-resolution clip, minutes for long high-resolution ones;
    an upscale grows with the input length and the square of the factor.
    """
    duration = float(params.get("duration_s") or 5.0)
    if params.get("upscale_factor"):
        factor = int(params["upscale_factor"])
        base = 15.0 + duration * factor * factor * 4.0
    else:
        pixels = float(params.get("width", 1280)) * float(params.get("height", 720))
        base = 20.0 + duration * 6.0 * (pixels / (1280 * 720)) ** 0.75
        if params.get("audio"):
            base *= 1.1
    return base * _family_factor(model.id) * scale


class JobManager:
    """Owns every job: creation, capacity, rendering, settling, delivery and deletion.

    Used from the event loop thread only; renders run in a thread pool.
    """

    def __init__(
        self,
        *,
        config: ServerConfig,
        clock: Clock,
        store: Store,
        accounts: Accounts,
        data_dir: Path,
        model_lookup: Callable[[str], VideoModel | None],
        render: Callable[[str, Mapping[str, Any], Mapping[str, list[str]], Path, Path], int],
    ) -> None:
        self.config = config
        self.clock = clock
        self.store = store
        self.accounts = accounts
        self.media_dir = data_dir / "media"
        self.inputs_dir = data_dir / "inputs"
        self.media_dir.mkdir(parents=True, exist_ok=True)
        self.inputs_dir.mkdir(parents=True, exist_ok=True)
        self._model = model_lookup
        self._render = render
        self.jobs: dict[str, Job] = {}
        self._processing: Counter[str] = Counter()
        self._waiting: dict[str, deque[str]] = {}
        self._due: list[tuple[float, str]] = []
        self._samples: dict[str, deque[float]] = {}
        self._p80: dict[str, float] = {}
        self._default_ms: dict[str, float] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._seq = 0
        self._executor: ThreadPoolExecutor | None = None
        self._ticker: asyncio.Task[None] | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Load the jobs of earlier runs and resume the unfinished ones."""
        self._executor = ThreadPoolExecutor(
            max_workers=self.config.workers or os.cpu_count() or 1,
            thread_name_prefix="venice-render",
        )
        for data in self.store.jobs():
            job = Job.from_json(data)
            self.jobs[job.queue_id] = job
            self._seq = max(self._seq, job.seq)
        for job in sorted(self.jobs.values(), key=lambda j: j.seq):
            if job.ready_at is not None:
                self._sample(job)
            if job.state == "ready" and not self.media_path(job).is_file():
                # The file vanished (or the last run stopped mid-write): render it again.
                job.state, job.ready_at, job.rendered_at = "processing", None, None
            if job.state == "processing":
                self._processing[job.model] += 1
                assert job.sim_end is not None
                heapq.heappush(self._due, (job.sim_end, job.queue_id))
                if job.outcome == "ok" and (
                    job.rendered_at is None or not self.media_path(job).is_file()
                ):
                    job.rendered_at = None
                    self._submit(job)
            elif job.state == "queued":
                self._waiting.setdefault(job.model, deque()).append(job.queue_id)
        for model in list(self._waiting):
            self._pump(model)
        self._sweep_inputs()
        self._ticker = asyncio.get_running_loop().create_task(self._tick_forever())

    def _sweep_inputs(self) -> None:
        """Remove input folders left with no live job (a crash after writing, before charging)."""
        for folder in self.inputs_dir.iterdir():
            job = self.jobs.get(folder.name)
            if job is None or job.state in ("failed", "deleted"):
                shutil.rmtree(folder, ignore_errors=True)

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        for task in list(self._tasks.values()):
            task.cancel()
        for task in list(self._tasks.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._executor is not None:
            executor = self._executor
            # Renders already running finish in their threads; queued ones are dropped and
            # run again by the next server on this data directory.
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(0.02)
            try:
                self.tick()
            except Exception:  # a bug here must not stop time
                log.exception("job tick failed")

    # --- creation --------------------------------------------------------------------------

    def new_queue_id(self) -> str:
        return str(uuid.uuid4())

    async def store_inputs(
        self, queue_id: str, media: Mapping[str, list[bytes]]
    ) -> dict[str, list[str]]:
        """Write a new job's input media under `inputs/<queue_id>/`; returns the file names.

        Done before the job is charged and recorded: a crash in between leaves only a folder
        that the next start sweeps away.
        """
        if not media:
            return {}
        try:
            return await asyncio.to_thread(_write_inputs, self.input_dir(queue_id), media)
        except BaseException:
            shutil.rmtree(self.input_dir(queue_id), ignore_errors=True)
            raise

    def create(
        self,
        *,
        queue_id: str,
        account: AccountRow,
        model: VideoModel,
        vps: bool,
        params: dict[str, Any],
        inputs: dict[str, list[str]],
        price_micro: int,
        outcome: Outcome,
        idempotency: IdempotencyRow | None = None,
    ) -> Job | None:
        """Charge `account` and record a new job, then start it (or queue it for capacity).

        The charge, the job and its idempotency record (if any) commit in one transaction:
        after a crash there is never money taken without a job, nor a job not paid for.
        Returns None, charging nothing and removing the job's inputs, when the balance is
        short of `price_micro`.
        """
        if price_micro > account.balance_micro:
            shutil.rmtree(self.input_dir(queue_id), ignore_errors=True)
            return None
        self._seq += 1
        rng = random.Random(f"{self.config.seed}:{self._seq}")
        spread = self.config.execution_time_spread
        sim = simulated_seconds(model, params, scale=self.config.execution_time_scale)
        job = Job(
            queue_id=queue_id,
            seq=self._seq,
            account=account.key_hash,
            model=model.id,
            vps=vps,
            price_micro=price_micro,
            created=self.clock.wall(),
            sim_s=sim * rng.uniform(1 - spread, 1 + spread),
            params=params,
            inputs=inputs,
            outcome=outcome,
            idempotency_key=None if idempotency is None else idempotency.key,
        )
        before = account.balance_micro, account.jobs_created
        account.balance_micro -= price_micro
        account.jobs_created += 1
        try:
            with self.store.transaction():
                self.accounts.save(account)
                self._save(job)
                if idempotency is not None:
                    self.store.save_idempotency(idempotency)
        except BaseException:
            account.balance_micro, account.jobs_created = before
            shutil.rmtree(self.input_dir(queue_id), ignore_errors=True)
            raise
        self.jobs[queue_id] = job
        self._waiting.setdefault(job.model, deque()).append(queue_id)
        self._pump(job.model)
        return job

    def input_dir(self, queue_id: str) -> Path:
        return self.inputs_dir / queue_id

    def media_path(self, job: Job) -> Path:
        return self.media_dir / f"{job.queue_id}.mp4"

    # --- capacity and progress -------------------------------------------------------------

    def capacity(self, model: str) -> int | None:
        return self.config.model_capacity.get(model, self.config.default_capacity)

    def _pump(self, model: str) -> None:
        waiting = self._waiting.get(model)
        cap = self.capacity(model)
        while waiting and (cap is None or self._processing[model] < cap):
            job = self.jobs.get(waiting.popleft())
            if job is None or job.state != "queued":
                continue
            job.state = "processing"
            job.started = self.clock.wall()
            self._processing[model] += 1
            heapq.heappush(self._due, (job.started + job.sim_s, job.queue_id))
            self._save(job)
            if job.outcome == "ok":
                self._submit(job)

    def _submit(self, job: Job) -> None:
        task = asyncio.get_running_loop().create_task(self._run_render(job))
        self._tasks[job.queue_id] = task
        queue_id = job.queue_id

        def forget(_task: asyncio.Task[None]) -> None:
            self._tasks.pop(queue_id, None)

        task.add_done_callback(forget)

    async def _run_render(self, job: Job) -> None:
        assert self._executor is not None
        loop = asyncio.get_running_loop()
        try:
            size = await loop.run_in_executor(
                self._executor,
                self._render,
                job.queue_id,
                dict(job.params),
                {k: list(v) for k, v in job.inputs.items()},
                self.input_dir(job.queue_id),
                self.media_path(job),
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # RenderError, ValueError, or a bug: the job fails either way
            if job.state != "processing":
                return
            log.warning("render of %s failed: %s", job.queue_id, exc)
            job.render_error = str(exc) or type(exc).__name__
            self._fail(job, "inference_failed")
            return
        if job.state != "processing":
            # Deleted while rendering: drop the file that was just written.
            self.media_path(job).unlink(missing_ok=True)
            return
        job.rendered_at = self.clock.wall()
        job.media_size = size
        self._settle(job)
        if job.state == "processing":
            self._save(job)

    def tick(self) -> None:
        """Settle every job whose simulated time has passed."""
        if not self._due:
            return
        now = self.clock.wall()
        while self._due and self._due[0][0] <= now:
            _, queue_id = heapq.heappop(self._due)
            job = self.jobs.get(queue_id)
            if job is not None:
                self._settle(job)

    def _settle(self, job: Job) -> None:
        if job.state != "processing" or job.sim_end is None:
            return
        if self.clock.wall() < job.sim_end:
            return
        if job.outcome != "ok":
            self._fail(job, job.outcome)
        elif job.rendered_at is not None:
            job.state = "ready"
            job.ready_at = max(job.sim_end, job.rendered_at)
            self._sample(job)
            self._release(job)
            self._save(job)

    def _fail(self, job: Job, outcome: Outcome) -> None:
        job.state = "failed"
        job.outcome = outcome
        job.failed_at = self.clock.wall()
        # The refund and the job's new state commit together: a crash in between would
        # otherwise refund it again on the next start.
        with self.store.transaction():
            if not job.refunded:
                job.refunded = True
                self.accounts.refund(job.account, job.price_micro)
            self._save(job)
        self._release(job)
        self._remove_inputs(job)

    def _release(self, job: Job) -> None:
        self._processing[job.model] -= 1
        self._pump(job.model)

    # --- timing ----------------------------------------------------------------------------

    def _sample(self, job: Job) -> None:
        if job.ready_at is None:
            return
        samples = self._samples.setdefault(job.model, deque(maxlen=self.config.average_window))
        samples.append((job.ready_at - job.created) * 1000)
        ordered = sorted(samples)
        self._p80[job.model] = ordered[max(0, math.ceil(0.8 * len(ordered)) - 1)]

    def average_ms(self, model: VideoModel) -> float:
        """P80 of the model's recent execution times, or its typical time when none."""
        known = self._p80.get(model.id)
        if known is not None:
            return known
        default = self._default_ms.get(model.id)
        if default is None:
            seconds = _shortest_duration(model)
            params = {"duration_s": seconds, "width": 1280, "height": 720, "audio": model.audio}
            if model.is_upscale:
                params = {"duration_s": 5.0, "upscale_factor": 2}
            default = 1000 * simulated_seconds(
                model, params, scale=self.config.execution_time_scale
            )
            self._default_ms[model.id] = default
        return default

    def execution_ms(self, job: Job) -> float:
        end = job.finished_at
        if end is None:
            end = self.clock.wall()
        return max(0.0, (end - job.created) * 1000)

    # --- delivery and deletion -------------------------------------------------------------

    def is_waiting(self, job: Job) -> bool:
        return job.state == "queued"

    def delivered(self, job: Job) -> None:
        job.delivered += 1
        if job.delete_on_delivery:
            self.delete(job)
        else:
            self._save(job)

    def delete(self, job: Job) -> None:
        """Delete the job's media; later retrieves get 404."""
        if job.state == "deleted":
            return
        was = job.state
        job.state = "deleted"
        job.deleted_at = self.clock.wall()
        if was == "processing":
            self._release(job)
            task = self._tasks.get(job.queue_id)
            if task is not None:
                task.cancel()
        self.media_path(job).unlink(missing_ok=True)
        self._remove_inputs(job)
        self._save(job)

    def revoke(self, job: Job) -> None:
        job.revoked = True
        self._save(job)

    def save(self, job: Job) -> None:
        self._save(job)

    def _remove_inputs(self, job: Job) -> None:
        shutil.rmtree(self.input_dir(job.queue_id), ignore_errors=True)

    def _save(self, job: Job) -> None:
        self.store.save_job(job.queue_id, job.seq, job.to_json())
        self.store.set_meta("clock_wall", repr(self.clock.wall()))

    def high_water(self) -> float:
        """The latest server time recorded on this data directory."""
        latest = 0.0
        for job in self.jobs.values():
            for value in (job.created, job.started, job.rendered_at, job.finished_at):
                if value is not None:
                    latest = max(latest, value)
        return latest

    # --- views -----------------------------------------------------------------------------

    def summary(self, job: Job) -> dict[str, Any]:
        """The job as the test-support endpoint lists it."""
        return {
            "queue_id": job.queue_id,
            "model": job.model,
            "state": job.state,
            "outcome": job.outcome,
            "rendered": job.rendered_at is not None,
            "download_url": job.vps,
            "price_usd": job.price_micro / 1_000_000,
            "refunded": job.refunded,
            "created_at": job.created,
            "started_at": job.started,
            "ready_at": job.ready_at,
            "failed_at": job.failed_at,
            "deleted_at": job.deleted_at,
            "execution_ms": round(self.execution_ms(job)),
            "simulated_ms": round(job.sim_s * 1000),
            "delivered_count": job.delivered,
            "download_count": job.downloads,
            "revoked": job.revoked,
            "idempotency_key": job.idempotency_key,
            "width": job.params.get("width"),
            "height": job.params.get("height"),
            "duration_s": job.params.get("duration_s"),
        }


def _write_inputs(folder: Path, media: Mapping[str, list[bytes]]) -> dict[str, list[str]]:
    names: dict[str, list[str]] = {}
    for target, blobs in media.items():
        for i, data in enumerate(blobs):
            folder.mkdir(parents=True, exist_ok=True)
            name = f"{target}-{i}"
            (folder / name).write_bytes(data)
            names.setdefault(target, []).append(name)
    return names


def _shortest_duration(model: VideoModel) -> float:
    seconds = [int(d[:-1]) for d in model.durations if d.endswith("s") and d[:-1].isdigit()]
    return float(min(seconds)) if seconds else 5.0
