"""`status`, `download`, `complete` and `jobs`: the jobs in the journal, one or all."""

from __future__ import annotations

import click

from .._client import VeniceVideo
from .._models import VideoJob
from .._output import STDOUT, output_path
from .._types import JOB_STATUSES, TERMINAL_STATUSES
from ..journal import spent
from ._errors import CLIError
from ._group import State, interrupted, job_data, pass_state
from ._progress import JobDisplay, plain_table

__all__ = ["complete", "download", "jobs", "status"]


def _find(state: State, client: VeniceVideo, job_id: str) -> VideoJob:
    matches = [
        j
        for j in client.jobs()
        if job_id in (j.queue_id, j.idempotency_key)
        or (j.queue_id or "").startswith(job_id)
        or j.idempotency_key.startswith(job_id)
    ]
    if not matches:
        raise CLIError(
            f"no job {job_id!r} in the journal",
            family="usage",
            hint="`venice-video jobs` lists them",
        )
    if len(matches) > 1:
        raise CLIError(
            f"{job_id!r} matches {len(matches)} jobs; give more of the id", family="usage"
        )
    return matches[0]


@click.command()
@click.argument("job_id")
@pass_state
def status(state: State, job_id: str) -> None:
    """Ask the API where a job is (one free poll)."""
    with state.client() as client:
        job = _find(state, client, job_id)
        data = job_data(job)
        if job.queue_id and job.status not in ("COMPLETED", "FAILED", "CANCELLED", "DOWNLOADED"):
            remote = client.retrieve(job.model, job.queue_id)
            data["server_status"] = remote.status
            data["average_execution_ms"] = remote.average_execution_time
            data["execution_ms"] = remote.execution_duration
    text = "\n".join(f"{k}: {v}" for k, v in data.items() if v is not None)
    state.emit(data, text)


def _saved_file(job: VideoJob) -> bool:
    """Whether the job's video is saved and its file still the one that was verified."""
    if job.status not in ("DOWNLOADED", "COMPLETED") or job.path is None:
        return False
    try:
        return job.path.is_file() and job.size_bytes in (None, job.path.stat().st_size)
    except OSError:
        return False


@click.command()
@click.argument("job_id")
@click.option(
    "-o",
    "--output",
    type=click.Path(allow_dash=True),
    help="File or directory to save to; - writes the video to standard output.",
)
@click.option("--overwrite", is_flag=True, help="Replace a file already at --output.")
@click.option("--timeout", type=float, default=None, help="Seconds to wait for the job.")
@pass_state
def download(
    state: State, job_id: str, output: str | None, overwrite: bool, timeout: float | None
) -> None:
    """Wait for a job if needed, save its video, verify it, then clean up the server copy."""
    with state.client() as client:
        job = _find(state, client, job_id)
        if _saved_file(job):
            assert job.path is not None
            elsewhere = output is not None and output_path(output, job.model, job.id) != job.path
            if not elsewhere:
                state.say(f"already saved at {job.path}")
                if job.status == "DOWNLOADED":  # the server's copy is still to be deleted
                    job = client.download(job)
                state.emit(job_data(job), str(job.path))
                return
            if job.status == "COMPLETED":
                raise CLIError(
                    f"job {job.id} is already saved at {job.path}, and its server copy was "
                    "deleted after that, so it cannot be downloaded again",
                    family="usage",
                    hint=f"copy {job.path} to {output}",
                )
        display = JobDisplay(enabled=not (state.quiet or state.as_json))
        try:
            with display:
                job = client.download(
                    job, output, timeout=timeout, on_progress=display, overwrite=overwrite
                )
        except KeyboardInterrupt:
            interrupted(state, job.id)
    state.emit(job_data(job), None if str(job.path) == STDOUT else str(job.path))


@click.command()
@click.argument("job_id")
@pass_state
def complete(state: State, job_id: str) -> None:
    """Delete a job's media from the server (only once its file is safely saved)."""
    with state.client() as client:
        job = _find(state, client, job_id)
        if job.status == "COMPLETED":
            where = f"; its file is {job.path}" if job.path else ""
            state.say(f"job {job.id} is already completed (its server copy is deleted){where}")
            state.emit({"id": job.id, "success": True, "already": True}, f"completed {job.id}")
            return
        if job.status not in ("DOWNLOADED", "COMPLETED"):
            raise CLIError(
                f"job {job.id} has no verified local file (status {job.status}); completing "
                "it would delete the only copy",
                family="usage",
                hint=f"`venice-video download {job.id}` first",
            )
        if job.queue_id is None:
            raise CLIError(f"job {job.id} was never queued", family="usage")
        result = client.complete(job.model, job.queue_id)
    state.emit({"id": job.id, "success": result.success}, f"completed {job.id}")


# ------------------------------------------------------------------------------ journal


@click.group(invoke_without_command=True)
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(JOB_STATUSES, case_sensitive=False),
    help="Only jobs with this status (any case; repeatable).",
)
@click.option("--unfinished", is_flag=True, help="Only jobs not yet finished.")
@click.option("-n", "--limit", type=int, default=None)
@click.pass_context
def jobs(
    ctx: click.Context, statuses: tuple[str, ...], unfinished: bool, limit: int | None
) -> None:
    """The journal of jobs: id, model, status, cost, file."""
    if ctx.invoked_subcommand is not None:
        return
    state = ctx.find_object(State)
    assert state is not None
    with state.journal() as journal:
        entries = journal.list(
            statuses=[s.upper() for s in statuses] or None, unfinished=unfinished, limit=limit
        )
    rows = [
        {
            "id": e.queue_id or e.key,
            "model": e.model,
            "status": e.status,
            "cost": _cost_text(e.quote_usd, local=e.is_local_engine),
            "file": e.output_path or "-",
            "worker": e.worker or "-",
            # A story's shots say which story and shot they are.
            "story": f"{e.tags['story_title']} #{e.tags.get('story_shot')}"
            if "story_title" in e.tags
            else "",
        }
        for e in entries
    ]
    real, local = spent(entries, local=False), spent(entries, local=True)
    # A shared journal says which worker holds (or saved) each job.
    columns = ["id", "model", "status", "cost", "file"] + (
        ["worker"] if any(e.worker for e in entries) else []
    )
    if state.as_json:
        state.emit(
            [
                {
                    "key": e.key,
                    "queue_id": e.queue_id,
                    "model": e.model,
                    "status": e.status,
                    "quote_usd": e.quote_usd,
                    "output_path": e.output_path,
                    "error": e.error,
                    "created_at": e.created_at,
                    "local_engine": e.is_local_engine,
                    "worker": e.worker,
                    "tags": e.tags,
                }
                for e in entries
            ]
        )
    elif not rows:
        click.echo("no jobs")
    else:
        if any(r["story"] for r in rows):
            columns.append("story")
        click.echo(plain_table(rows, columns))
        click.echo(f"spent: ${real:.4f}")
        if local:
            click.echo(f"local engine: ${local:.4f} (placeholder videos; not money)")


def _cost_text(quote: float | None, *, local: bool) -> str:
    if quote is None:
        return "-"
    return f"${quote:.4f} (local)" if local else f"${quote:.4f}"


@jobs.command("resume")
@click.option("--timeout", type=float, default=None, help="Seconds to wait for each job.")
@pass_state
def jobs_resume(state: State, timeout: float | None) -> None:
    """Finish every unfinished job: wait, download, verify, clean up. Never re-queues."""
    with state.client() as client:
        display = JobDisplay(enabled=not (state.quiet or state.as_json))
        with display:
            done = client.resume(timeout=timeout, on_progress=display)
    rows = [job_data(j) for j in done]
    failed = [r for r in rows if r["status"] not in ("COMPLETED", "DOWNLOADED")]
    state.emit(
        rows,
        "\n".join(
            f"{r['id']}  {r['status']}  "
            + (r["path"] if r not in failed else f"{r.get('error') or ''} ({r['path']})")
            for r in rows
        )
        or "nothing to resume",
    )
    if failed:
        raise SystemExit(9)


@jobs.command("clean")
@click.option("--all", "everything", is_flag=True, help="Also forget unfinished jobs (dangerous).")
@click.option("--older-than", type=float, default=None, help="Only entries older than N days.")
@pass_state
def jobs_clean(state: State, everything: bool, older_than: float | None) -> None:
    """Forget finished jobs (completed, failed, cancelled); files on disk are kept."""
    with state.journal() as journal:
        statuses = JOB_STATUSES if everything else TERMINAL_STATUSES
        removed = journal.clean(
            statuses=statuses, older_than_s=older_than * 86400 if older_than else None
        )
    state.emit({"removed": removed}, f"removed {removed} journal entries")
