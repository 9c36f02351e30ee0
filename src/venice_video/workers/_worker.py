"""A worker: takes jobs handed out through the shared journal and drives each one to its end.

One worker process runs one procrastinate loop with `concurrency` jobs at a time, and three
duties of its own:

- **leases**: every job it works on carries its name and a lease in the journal, renewed every
  quarter of the lease. If a renewal finds the lease gone (another worker took the job after
  the lease lapsed), the job's wait is cancelled here: only one worker ever drives a job.
- **reaping**: jobs whose worker stopped heart-beating (kill -9, power loss) are handed out
  again, and so are journal entries whose hand-out was lost, and held jobs (chained story
  shots) whose predecessor is done but whose release was lost.
- **shared limits**: every `queue` and `retrieve` request takes a token from the key's shared
  buckets, and every answer's rate-limit headers reach all workers.

Driving a job follows the SDK's own lifecycle. The paid step: the entry moves QUOTED ->
QUEUING (committed, and only while this worker holds the lease) before the queue request is
sent, exactly once. A job found in QUEUING with no `queue_id` may have reached the API, so it
is never sent again: it becomes UNKNOWN for a person to check, unless the API is trusted to
honour `Idempotency-Key` (then asking again with the same key returns the job it made).

A held job (it starts from another job's file) is never queued. The worker that finishes a
job releases the jobs held for it: their body gets its file's last frame and they are handed
out (or, when it failed, they are cancelled).
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from .._async_client import AsyncVeniceVideo
from .._exceptions import (
    APIError,
    JobCancelledError,
    JobFailedError,
    OutputError,
    QueueOutcomeUnknownError,
    VeniceVideoError,
)
from .._lifecycle import finish_flow
from .._models import QueueRequest, VideoJob
from .._output import check_target
from .._queueing import queue_flow
from ..journal import JournalEntry
from ..journal._entry import OUTPUT_TAG
from ..journal._postgres import PostgresJournal
from ._fleet import Fleet
from ._ratelimit import SharedRateLimits, SharedRatePolicy, attach_shared_limits
from ._stories import release_successors
from ._tasks import ensure_queue_schema, make_app, queue_name

if TYPE_CHECKING:
    import procrastinate

__all__ = ["WorkerConfig", "run_worker"]

logger = logging.getLogger("venice_video.workers")


class LeaseHeldElsewhere(VeniceVideoError):
    """Another live worker holds the job; procrastinate tries again later."""


class JobNotDone(VeniceVideoError):
    """The job is not finished yet (a passing failure); procrastinate tries again later."""


@dataclass
class WorkerConfig:
    """How one worker runs.

    Attributes:
        journal_url: the shared journal (`postgresql://...`).
        api_key: the Venice key this worker spends; never stored (buckets use a digest).
        base_url: the API; the worker takes only jobs submitted for it.
        output_dir: the shared folder files are saved under (each job names its file).
        concurrency: jobs driven at once.
        name: how the journal and `venice-video workers` name this worker.
        lease_s: how long a job stays this worker's without a renewal; after a crash, the
            jobs it held are taken over this long after its last heartbeat.
        trust_idempotency: the API honours `Idempotency-Key` on queue (the local server
            does): a queue whose outcome is unknown may be asked again with the same key.
        rate_policy: the key's limits before any header says otherwise.
        verify_downloads: decode each download to prove it whole (the SDK's default).
    """

    journal_url: str
    api_key: str | None
    base_url: str
    output_dir: Path
    concurrency: int = 4
    name: str = field(
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:4]}"
    )
    lease_s: float = 30.0
    trust_idempotency: bool = False
    rate_policy: SharedRatePolicy = field(default_factory=SharedRatePolicy)
    verify_downloads: bool = True
    wait_timeout: float = 3600.0


class Runtime:
    """What the `render` task needs: the client, the fleet, and this worker's leases."""

    def __init__(self, config: WorkerConfig, client: AsyncVeniceVideo, fleet: Fleet) -> None:
        self.config = config
        self.client = client
        self.fleet = fleet
        self.journal = fleet.journal
        #: The API this worker talks to: it takes only that API's jobs.
        self.api = client.api_id
        #: The jobs this worker drives now, each with the event that cancels its wait.
        self.held: dict[str, anyio.Event] = {}
        self.done = 0

    async def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))

    # ------------------------------------------------------------------ one job

    async def drive(self, key: str) -> str:
        """Drive the job `key` to its end; returns its status."""
        entry: JournalEntry | None = await self.call(self.journal.get, key)
        if entry is None:
            return "GONE"
        if entry.api != self.api:
            return entry.status  # another API's job: its own workers take it
        if entry.is_finished or (entry.needs_attention and not self.config.trust_idempotency):
            return entry.status
        if key in self.held:
            return entry.status  # this worker already drives it (a handed-out duplicate)
        if entry.status == "QUOTED" and await self.call(self.fleet.is_held, key):
            return "HELD"  # its release hands it out again, with its first frame
        status = await self.call(self.fleet.claim, key, self.config.name, self.config.lease_s)
        if status is None:
            raise LeaseHeldElsewhere(f"job {key} is held by another worker")
        cancel = anyio.Event()
        self.held[key] = cancel
        try:
            await self._drive_held(key, cancel)
        finally:
            self.held.pop(key, None)
            await self.call(self.fleet.release, key, self.config.name)
        latest: JournalEntry | None = await self.call(self.journal.get, key)
        final = latest.status if latest is not None else "GONE"
        if latest is not None and not (latest.is_finished or latest.needs_attention):
            if cancel.is_set():
                return final  # taken over by another worker: theirs now
            raise JobNotDone(f"job {key} stopped at {final}: {latest.error or 'will retry'}")
        self.done += 1
        if latest is not None and latest.is_finished:
            await self.follow_up(latest)
        return final

    async def follow_up(self, entry: JournalEntry) -> None:
        """Release (or cancel) the held jobs waiting for this one; the reaper does it later
        when this fails."""
        try:
            await self.call(
                release_successors,
                self.fleet,
                entry,
                output_dir=self.config.output_dir,
                base_url=self.config.base_url,
            )
        except Exception as exc:
            logger.warning("could not release the jobs waiting for %s: %s", entry.key, exc)

    async def _drive_held(self, key: str, cancel: anyio.Event) -> None:
        entry: JournalEntry | None = await self.call(self.journal.get, key)
        if entry is None or entry.is_finished:
            return
        output = self._output(entry)
        try:
            if entry.status == "QUOTED":
                await self._queue(entry, output)
            elif entry.queue_id is None:
                if not self.config.trust_idempotency:
                    if entry.status == "QUEUING":
                        # The request may have reached the API: never send it again.
                        await self.call(
                            self.journal.update,
                            key,
                            status="UNKNOWN",
                            error="a worker stopped while queueing; whether the job exists is "
                            "unknown. Check the account before queueing it again.",
                        )
                    return
                # The API honours Idempotency-Key: asking again with the same key returns the
                # job it made, or makes it once.
                await self._send_queue(entry, output)
            current: JournalEntry | None = await self.call(self.journal.get, key)
            if current is None or current.queue_id is None or current.is_finished:
                return
            job = VideoJob.from_entry(current)
            await self.client._drive(
                finish_flow(
                    self.client,
                    job,
                    output=output,
                    timeout=self.config.wait_timeout,
                    on_progress=None,
                    cancel=cancel,
                    cleanup=None,
                )
            )
        except (JobFailedError, QueueOutcomeUnknownError) as exc:
            logger.info("job %s ended: %s", key, exc)  # the journal says so already
        except JobCancelledError:
            logger.info("job %s was taken over by another worker", key)

    async def _queue(self, entry: JournalEntry, output: Path) -> None:
        body = await self.call(self.fleet.payload, entry.key)
        if body is None:
            await self.call(
                self.journal.update, entry.key, status="FAILED", error="its queue body is missing"
            )
            return
        quote = await self.client.quote(request=QueueRequest.model_validate(body))
        if entry.quote_usd is not None and quote.quote > entry.quote_usd + 1e-9:
            # The price rose after the budget was reserved: never spend more than reserved.
            await self.call(
                self.journal.update,
                entry.key,
                status="FAILED",
                error=f"not queued: the price rose from ${entry.quote_usd:.4f} "
                f"(reserved) to ${quote.quote:.4f}",
            )
            return
        try:
            # A file already at the output is kept unless the job may replace it: refused
            # before anything is paid, as the SDK refuses it.
            await self.call(lambda: check_target(output, overwrite=entry.overwrite))
        except OutputError as exc:
            await self.call(
                self.journal.update, entry.key, status="FAILED", error=f"not queued: {exc}"
            )
            return
        started = await self.call(
            self.fleet.start_queueing, entry.key, self.config.name, str(output)
        )
        if not started:
            raise JobNotDone(f"job {entry.key} left QUOTED or its lease lapsed before queueing")
        await self._send_queue(entry, output, body=body)

    async def _send_queue(
        self, entry: JournalEntry, output: Path, *, body: dict[str, Any] | None = None
    ) -> None:
        if body is None:
            body = await self.call(self.fleet.payload, entry.key)
        if body is None:
            body = dict(entry.request)  # digested media cannot be sent: the API refuses it
        try:
            await self.client._drive(
                queue_flow(
                    self.client,
                    body,
                    key=entry.key,
                    quote_usd=entry.quote_usd,
                    output_path=output,
                    tags=entry.tags,
                    journaled=True,
                )
            )
        except APIError as exc:
            logger.info("job %s was not queued: %s", entry.key, exc)  # journaled FAILED

    def _output(self, entry: JournalEntry) -> Path:
        name = entry.tags.get(OUTPUT_TAG)
        if isinstance(name, str) and name:
            return (self.config.output_dir / name).absolute()
        if entry.output_path:
            return Path(entry.output_path)
        return (self.config.output_dir / f"{entry.model}-{entry.key[:8]}.mp4").absolute()

    # ------------------------------------------------------------------ duties

    async def keep_leases(self) -> None:
        """Renew this worker's heartbeat and leases; cancel the jobs whose lease was lost."""
        every = self.config.lease_s / 4.0
        while True:
            await anyio.sleep(every)
            held = list(self.held)
            try:
                kept = await self.call(
                    self.fleet.renew,
                    self.config.name,
                    held,
                    self.config.lease_s,
                    retry_for=every,
                )
            except VeniceVideoError as exc:
                logger.warning("could not renew leases: %s", exc)
                continue
            for key in set(held) - kept:
                event = self.held.get(key)
                if event is not None:
                    logger.warning("lost the lease on %s; stopping work on it", key)
                    event.set()

    async def reap(self, app: procrastinate.App) -> None:
        """Hand out again the jobs of stalled workers, and entries whose hand-out was lost."""
        lease = self.config.lease_s
        queue = queue_name(self.config.base_url)
        while True:
            await anyio.sleep(lease / 2.0)
            try:
                stalled = await app.job_manager.get_stalled_jobs(
                    seconds_since_heartbeat=lease, queue=queue
                )
                for job in stalled:
                    try:
                        await app.job_manager.retry_job(job)
                        logger.info("handed out again the job of a stalled worker: %s", job.id)
                    except Exception as exc:  # another worker got there first
                        logger.debug("could not retry stalled job %s: %s", job.id, exc)
                orphans = await self.call(
                    self.fleet.orphans, self.config.base_url, idle_s=2 * lease
                )
                for key in orphans:
                    await self.call(self.fleet.defer, key, base_url=self.config.base_url)
                await self.release_lost()
            except Exception as exc:  # the database may be restarting: next round
                logger.info("reaping failed (%s); trying again", exc)

    async def release_lost(self) -> None:
        """Held jobs whose predecessor ended a lease ago and were not released (the worker
        that finished it died first): release or cancel them now."""
        lease = self.config.lease_s
        found = await self.call(self.fleet.releasable, self.config.base_url, idle_s=lease)
        for after in dict.fromkeys(a for _, a in found):
            entry: JournalEntry | None = await self.call(self.journal.get, after)
            if entry is None:
                continue
            released = await self.call(
                release_successors,
                self.fleet,
                entry,
                output_dir=self.config.output_dir,
                base_url=self.config.base_url,
            )
            if released:
                logger.info("released %d held job(s) waiting for %s", released, after)


async def run_worker(config: WorkerConfig, *, stop: anyio.Event | None = None) -> int:
    """Run a worker until `stop` is set (or the task is cancelled); returns the jobs it ended."""
    from procrastinate import PsycopgConnector

    config.output_dir.mkdir(parents=True, exist_ok=True)
    journal = PostgresJournal(config.journal_url, max_connections=config.concurrency + 4)
    fleet = Fleet(journal)
    try:
        await anyio.to_thread.run_sync(ensure_queue_schema, journal)
        await anyio.to_thread.run_sync(
            lambda: fleet.register(
                config.name,
                host=socket.gethostname(),
                pid=os.getpid(),
                concurrency=config.concurrency,
                base_url=config.base_url,
                output_dir=str(config.output_dir.absolute()),
                lease_s=config.lease_s,
            )
        )
        async with AsyncVeniceVideo(
            api_key=config.api_key,
            base_url=config.base_url,
            journal=journal,
            idempotent_queue_retries=config.trust_idempotency,
            verify_downloads=config.verify_downloads,
            wait_timeout=config.wait_timeout,
        ) as client:
            if config.api_key:
                limits = await anyio.to_thread.run_sync(
                    lambda: SharedRateLimits(journal, str(config.api_key), config.rate_policy)
                )
                attach_shared_limits(client, limits)
            runtime = Runtime(config, client, fleet)

            async def render(context: procrastinate.JobContext, key: str) -> str:
                return await runtime.drive(key)

            kwargs = journal.connection_kwargs()
            kwargs.pop("autocommit", None)
            connector = PsycopgConnector(
                conninfo=config.journal_url,
                kwargs=kwargs,
                min_size=1,
                max_size=4,
            )  # procrastinate checks each connection before use: a restart is survived
            app = make_app(connector, render)
            async with app.open_async(), anyio.create_task_group() as tg:
                tg.start_soon(runtime.keep_leases)
                tg.start_soon(runtime.reap, app)
                tg.start_soon(_loop, app, runtime, tg.cancel_scope, stop)
            return runtime.done
    finally:
        try:
            await anyio.to_thread.run_sync(fleet.unregister, config.name)
        except VeniceVideoError:
            pass
        journal.close()


async def _loop(
    app: procrastinate.App, runtime: Runtime, scope: anyio.CancelScope, stop: anyio.Event | None
) -> None:
    """Run procrastinate's worker; start it again when it stops on its own (its database
    connection broke), until `stop` is set. Then let the jobs in hand finish (for up to half a
    lease: any left are taken over by others once their lease lapses) and end every duty."""
    from procrastinate.worker import Worker

    config = runtime.config
    current: list[Worker] = []
    stopping = False

    async def watch() -> None:
        nonlocal stopping
        if stop is None:
            return
        await stop.wait()
        stopping = True
        for worker in current:
            worker.stop()  # type: ignore[no-untyped-call]

    async with anyio.create_task_group() as tg:
        tg.start_soon(watch)
        while not stopping:
            worker = Worker(
                app=app,
                queues=[queue_name(config.base_url)],
                name=config.name,
                concurrency=config.concurrency,
                additional_context={"runtime": runtime},
                install_signal_handlers=False,
                update_heartbeat_interval=config.lease_s / 4.0,
                stalled_worker_timeout=config.lease_s,
                fetch_job_polling_interval=1.0,
                abort_job_polling_interval=config.lease_s,
                shutdown_graceful_timeout=config.lease_s / 2.0,
            )
            current[:] = [worker]
            try:
                await worker.run()  # type: ignore[no-untyped-call]
            except Exception as exc:
                logger.warning("the job loop stopped (%s); starting it again", exc)
            if not stopping:
                await anyio.sleep(1.0)
        tg.cancel_scope.cancel()
    scope.cancel()
