"""Where each shot of a story stands, from the journal, before anything is spent.

A shot's journal key comes from its digest and the API it is rendered by (the client's
`api_id`: the local engine is known by its folder, whatever port it listens on), so a later run
finds it again: finished shots (their file still there and matching its digest) are reused,
jobs in flight are followed, and only shots never queued are quoted and queued. A shot
whose job failed, or whose file was lost after the server deleted its copy, is paid for
again only when asked (`retry_failed`), under a new key.

Shots handed to workers (`story render --detach`) are journaled under the same keys. A worker
saves its file in the workers' shared folder; a render finds it where the worker saved it
(when that path exists here) or under `shared_dir`, checks it against the journal's digest,
and copies (or links) it into the film's shots folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .._models import VideoJob
from ._errors import Problem, StoryError, StoryRenderError
from ._frames import file_sha256
from ._plan import PlannedShot, StoryPlan

if TYPE_CHECKING:
    from ..journal import JournalEntry, JournalStore

__all__ = [
    "Run",
    "ShotState",
    "import_shared",
    "inspect_shots",
    "manifest_path_for",
    "read_manifest",
    "refuse_blocked",
    "shots_dir_for",
]

State = Literal["done", "inflight", "new", "failed", "lost", "elsewhere"]
MANIFEST_FORMAT = "venice-video-film/1"
_FINISHED = ("DOWNLOADED", "COMPLETED")
_MAX_ATTEMPTS = 100


@dataclass
class ShotState:
    """One shot and what the journal says about it.

    `state` is one of: `done` (a verified file exists: reuse it), `inflight` (a job exists
    or may exist: follow it), `new` (never queued: quote and queue it), `failed` (its job
    failed), `lost` (its file is gone and so is the server's copy), `elsewhere` (in flight
    on another API).
    """

    shot: PlannedShot
    key: str
    state: State
    path: Path
    entry: JournalEntry | None = None
    price: float | None = None
    sha256: str | None = None
    attempt: int = 0
    #: The film manifest's record of this shot, when that (not the journal) vouches for it.
    record: dict[str, Any] | None = None
    #: What earlier attempts at this shot (failed, or whose file was lost) were charged.
    sunk: float = 0.0
    #: The worker that made its file (a shot handed to workers).
    worker: str | None = None
    #: A worker's verified file, still to be copied into the film's shots folder.
    source: Path | None = None
    #: `done` by the workers, its file not seen on this machine (when handing out work).
    away: bool = False

    def job(self) -> VideoJob:
        """The finished job of a `done` shot, from the journal or the manifest."""
        if self.entry is not None:
            return VideoJob.from_entry(self.entry).replace(path=self.path, sha256=self.sha256)
        record = self.record or {}
        return VideoJob(
            idempotency_key=str(record.get("key") or self.key),
            model=self.shot.model,
            status="COMPLETED",
            queue_id=record.get("queue_id"),
            quote_usd=self.price,
            path=self.path,
            sha256=self.sha256,
        )

    @property
    def committed(self) -> bool:
        """Its cost is already spent (or in flight): it counts against the budget as paid."""
        return self.state in ("done", "inflight")


@dataclass
class Run:
    """A render in preparation: the plan, the journal's view of it, and where files go."""

    plan: StoryPlan
    #: The API the shots are rendered by (`VeniceVideo.api_id`).
    api_id: str
    output: Path
    shots: list[ShotState]
    tags: dict[str, Any] = field(default_factory=dict)

    @property
    def manifest_path(self) -> Path:
        return manifest_path_for(self.output)

    @property
    def committed_usd(self) -> float:
        """What the story's shots already cost: those done or in flight, and earlier
        attempts that were charged (the budget is a cap on all of it)."""
        paid = sum(s.price or 0.0 for s in self.shots if s.committed)
        return round(paid + sum(s.sunk for s in self.shots), 6)

    @property
    def new_usd(self) -> float:
        return round(sum(s.price or 0.0 for s in self.shots if s.state == "new"), 6)

    def shot_tags(self, shot: PlannedShot) -> dict[str, Any]:
        return {
            **self.tags,
            "story_shot": shot.number,
            "story_shot_name": shot.name,
            "story_digest": shot.digest[:16],
        }


def read_manifest(path: Path) -> dict[str, Any] | None:
    """A film manifest (`<film>.film.json`), or `None` when there is none or it is not one."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == MANIFEST_FORMAT else None


def shots_dir_for(output: Path) -> Path:
    """Where a film's shots are saved: `<film>.shots/` beside it."""
    return output.with_name(f"{output.stem}.shots")


def manifest_path_for(output: Path) -> Path:
    """The manifest beside a film: `<film>.film.json`."""
    return output.with_name(f"{output.stem}.film.json")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:32] or "shot"


def _file_for(output: Path, shot: PlannedShot, attempt: int) -> Path:
    suffix = f"-{attempt}" if attempt else ""
    name = f"{shot.number:02d}-{_slug(shot.name)}-{shot.digest[:8]}{suffix}.mp4"
    return shots_dir_for(output) / name


def _attempt_key(base: str, attempt: int) -> str:
    return f"{base}.{attempt}" if attempt else base


def _verified(entry: JournalEntry) -> str | None:
    """The file's digest when the entry's file is there and unchanged, else `None`."""
    if entry.status not in _FINISHED or not entry.output_path:
        return None
    path = Path(entry.output_path)
    try:
        found = file_sha256(path)
    except OSError:
        return None
    return found if entry.sha256 is None or found == entry.sha256 else None


def locate_shared(
    entry: JournalEntry, copy: Path, shared_dir: Path | None
) -> tuple[Path, str] | None:
    """A worker's file for a finished entry, and its digest, when one that matches the
    journal's digest is here: the film's own copy, under `shared_dir`, or where the worker
    saved it (the shared folder mounted at the same path)."""
    name = entry.shared_output
    if entry.status not in _FINISHED or name is None or not entry.sha256:
        return None
    candidates = [copy]
    if shared_dir is not None:
        candidates.append(shared_dir / name)
    if entry.output_path:
        candidates.append(Path(entry.output_path))
    for path in dict.fromkeys(candidates):
        try:
            if file_sha256(path) == entry.sha256:
                return path, entry.sha256
        except OSError:
            continue
    return None


def import_shared(run: Run) -> None:
    """Copy (or hard-link) each worker's file into the film's shots folder, checked against
    its digest (blocking)."""
    for state in run.shots:
        if state.source is not None:
            state.path = import_file(state, _file_for(run.output, state.shot, state.attempt))


def import_file(state: ShotState, target: Path) -> Path:
    """One worker's file into the shots folder: a `.part` beside `target`, verified, renamed."""
    source = state.source or state.path
    if source.absolute() == target.absolute():
        state.source = None
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        try:
            os.link(source, part)
        except OSError:  # another file system, or links not allowed: copy
            shutil.copyfile(source, part)
        if file_sha256(part) != state.sha256:
            raise StoryRenderError(
                [f"shot {state.shot.number} ({state.shot.name}): the copy of {source} (made by "
                 f"worker {state.worker or 'unknown'}) does not match its journal digest"]
            )  # fmt: skip
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
    state.source = None
    return target


def inspect_shots(
    plan: StoryPlan,
    journal: JournalStore,
    api_id: str,
    output: Path,
    *,
    retry_failed: bool,
    shared_dir: Path | None = None,
    files_away: bool = False,
) -> list[ShotState]:
    """Each shot's state from the journal (blocking: it reads the journal and hashes files).

    A worker's file is looked for under `shared_dir` and where the worker saved it. With
    `files_away`, a shot the workers finished is `done` even when its file is not seen here
    (`away`): enough to hand more work to them, not to assemble the film."""
    mine = api_id
    recorded: dict[str, dict[str, Any]] = {}
    known = read_manifest(manifest_path_for(output))
    if known is not None and known.get("api") == mine:
        # The manifest vouches for files whose journal entries were cleaned away; shots made
        # by another API (the local engine's placeholders, say) are never taken for these.
        home = manifest_path_for(output).parent
        for record in known.get("shots") or ():
            if isinstance(record, dict) and record.get("digest") and record.get("file"):
                recorded[str(record["digest"])] = {**record, "file": home / str(record["file"])}
    states = []
    for shot in plan.shots:
        base = shot.key(mine)
        entries: list[JournalEntry] = []
        for attempt in range(_MAX_ATTEMPTS):
            entry = journal.get(_attempt_key(base, attempt))
            if entry is None:
                break
            entries.append(entry)
        state = _state(
            shot, base, entries, output, mine, retry_failed=retry_failed, shared_dir=shared_dir,
            files_away=files_away,
        )  # fmt: skip
        record = recorded.get(shot.digest)
        if not entries and record is not None:
            state = _from_manifest(state, record)
        state.sunk = round(
            sum(e.quote_usd or 0.0 for e in entries if e.queue_id and e is not state.entry), 6
        )
        states.append(state)
    return states


def _from_manifest(state: ShotState, record: dict[str, Any]) -> ShotState:
    path = Path(record["file"])
    try:
        found = file_sha256(path)
    except OSError:
        return state
    if found != record.get("sha256"):
        return state
    cost = record.get("cost_usd")
    return ShotState(state.shot, state.key, "done", path, None,
                     float(cost) if cost is not None else None, found, record=record,
                     worker=record.get("worker"))  # fmt: skip


def _state(
    shot: PlannedShot,
    base: str,
    entries: list[JournalEntry],
    output: Path,
    api_id: str,
    *,
    retry_failed: bool,
    shared_dir: Path | None = None,
    files_away: bool = False,
) -> ShotState:
    for attempt, entry in enumerate(entries):
        if entry.shared_output is not None:
            copy = _file_for(output, shot, attempt)
            found = locate_shared(entry, copy, shared_dir)
            if found is not None:
                path, sha = found
                return ShotState(shot, entry.key, "done", path, entry, entry.quote_usd, sha,
                                 attempt, worker=entry.worker,
                                 source=None if path == copy else path)  # fmt: skip
            if files_away and entry.status in _FINISHED and entry.sha256:
                return ShotState(shot, entry.key, "done", Path(entry.output_path or copy), entry,
                                 entry.quote_usd, entry.sha256, attempt, worker=entry.worker,
                                 away=True)  # fmt: skip
            continue
        digest = _verified(entry)
        if digest is not None:
            assert entry.output_path is not None
            return ShotState(shot, entry.key, "done", Path(entry.output_path), entry,
                             entry.quote_usd, digest, attempt)  # fmt: skip
    if not entries:
        return ShotState(shot, base, "new", _file_for(output, shot, 0))
    attempt = len(entries) - 1
    entry = entries[-1]
    path = Path(entry.output_path) if entry.output_path else _file_for(output, shot, attempt)
    if entry.status not in ("COMPLETED", "FAILED", "CANCELLED"):
        if entry.api != api_id:
            return ShotState(shot, entry.key, "elsewhere", path, entry, entry.quote_usd,
                             attempt=attempt)  # fmt: skip
        return ShotState(shot, entry.key, "inflight", path, entry, entry.quote_usd,
                         attempt=attempt)  # fmt: skip
    never_queued = entry.queue_id is None
    if entry.status == "CANCELLED" or (entry.status == "FAILED" and never_queued):
        # Nothing was created on the server: a new attempt cannot pay twice.
        nxt = attempt + 1
        return ShotState(shot, _attempt_key(base, nxt), "new", _file_for(output, shot, nxt),
                         attempt=nxt)  # fmt: skip
    state: State = "failed" if entry.status == "FAILED" else "lost"
    if retry_failed:
        nxt = attempt + 1
        return ShotState(shot, _attempt_key(base, nxt), "new", _file_for(output, shot, nxt),
                         attempt=nxt)  # fmt: skip
    return ShotState(shot, entry.key, state, path, entry, entry.quote_usd, attempt=attempt,
                     worker=entry.worker)  # fmt: skip


def refuse_blocked(run: Run) -> None:
    """Stop before spending anything when a shot cannot go on without a decision."""
    problems = []
    story = run.plan.story
    for state in run.shots:
        shot = state.shot
        line = story.line_of("shots", shot.index)
        if state.state == "failed":
            reason = state.entry.error if state.entry is not None else None
            problems.append(
                Problem(
                    f"its job failed ({reason or 'no reason given'}); render again with "
                    "retry_failed (--retry-failed) to pay for a new attempt",
                    story.source,
                    line,
                    shot.number,
                    shot.name,
                )  # fmt: skip
            )
        elif state.state == "lost" and state.entry is not None and state.entry.shared_output:
            problems.append(
                Problem(
                    away_text(state.entry), story.source, line, shot.number, shot.name
                )  # fmt: skip
            )
        elif state.state == "lost":
            problems.append(
                Problem(
                    f"its file {state.path} is missing or changed, and the server no "
                    "longer has it; render again with retry_failed (--retry-failed) to "
                    "pay for it again",
                    story.source,
                    line,
                    shot.number,
                    shot.name,
                )  # fmt: skip
            )
        elif state.state == "elsewhere":
            entry = state.entry
            if entry is not None and entry.is_local_engine:
                where = f"the local engine ({entry.api})"
                how = "`venice-video jobs resume` without an API key or base URL"
            else:
                url = entry.base_url if entry is not None else "another API"
                where, how = url, f"`venice-video --base-url {url} jobs resume`"
            problems.append(
                Problem(
                    f"its job is in flight on {where}; finish it there ({how}) first",
                    story.source,
                    line,
                    shot.number,
                    shot.name,
                )  # fmt: skip
            )
    if problems:
        raise StoryError(problems)


def away_text(entry: JournalEntry) -> str:
    """Why a worker's file cannot be used here, and what to do; nothing is paid again."""
    return (
        f"its file was made by worker {entry.worker or '(unknown)'} and saved as "
        f"{entry.output_path or entry.shared_output}; no file matching its digest is there, "
        f"nor at {entry.shared_output} under the workers' folder given. Mount that folder "
        "here and pass shared_dir (--shared-dir DIR), or render again with retry_failed "
        "(--retry-failed) to pay for it again"
    )
