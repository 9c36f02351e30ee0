"""Where each shot of a story stands, from the journal, before anything is spent.

A shot's journal key comes from its digest and the API it is rendered by (the client's
`api_id`: the local engine is known by its folder, whatever port it listens on), so a later run
finds it again: finished shots (their file still there and matching its digest) are reused,
jobs in flight are followed, and only shots never queued are quoted and queued. A shot
whose job failed, or whose file was lost after the server deleted its copy, is paid for
again only when asked (`retry_failed`), under a new key.

A shot may have several takes (attempts 0, 1, ...; keys `<key>`, `<key>.1`, ...): a new one
is made when an earlier one failed, or when a new take is asked for (`rerender`). The latest
take decides when it is verified or still in flight; when it failed or was lost, the latest
verified take before it stands. Earlier takes' files are kept.

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
from collections.abc import Collection
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
    #: What earlier attempts at this shot (failed, or whose file was lost) were charged,
    #: by their job key.
    sunk_takes: dict[str, float] = field(default_factory=dict)
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
    def sunk(self) -> float:
        """What earlier attempts at this shot were charged, in all."""
        return round(sum(self.sunk_takes.values()), 6)

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
    rerender: Collection[int] = (),
    shared_dir: Path | None = None,
    files_away: bool = False,
) -> list[ShotState]:
    """Each shot's state from the journal (blocking: it reads the journal and hashes files).

    `rerender`: the indexes of shots to pay for a new take of. Their current take (done,
    failed or lost) stays on disk, no longer used; a shot in flight is followed instead.
    A worker's file is looked for under `shared_dir` and where the worker saved it. With
    `files_away`, a shot the workers finished is `done` even when its file is not seen here
    (`away`): enough to hand more work to them, not to assemble the film.
    """
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
        takes, free = _probe(journal, base, output, shot, 0)
        record = recorded.get(shot.digest)
        at = _attempt_of(str(record.get("key") or base), base) if record is not None else 0
        if any(a == at for a, _ in takes):
            record = None  # the journal has that take itself
        elif record is not None and at >= free:
            # Takes after the manifest's, past attempts the journal no longer has.
            later, free = _probe(journal, base, output, shot, at + 1)
            takes += later
        vouched = (at, record) if record is not None else None
        state = _state(
            shot, base, takes, vouched, output, mine, retry_failed=retry_failed,
            shared_dir=shared_dir, files_away=files_away,
        )  # fmt: skip
        if shot.index in rerender and state.state in ("done", "failed", "lost"):
            nxt = max([free, *(a + 1 for a, _ in takes), at + 1 if record is not None else 0])
            state = ShotState(shot, _attempt_key(base, nxt), "new", _file_for(output, shot, nxt),
                              attempt=nxt)  # fmt: skip
        state.sunk_takes = {
            e.key: e.quote_usd or 0.0 for _, e in takes if e.queue_id and e is not state.entry
        }
        if record is not None and state.record is not record:
            # A take only the manifest knew.
            key = str(record.get("key") or base)
            state.sunk_takes[key] = float(record.get("cost_usd") or 0.0)
        states.append(state)
    return states


def _probe(
    journal: JournalStore, base: str, output: Path, shot: PlannedShot, start: int
) -> tuple[list[tuple[int, JournalEntry]], int]:
    """The journaled takes from attempt `start` on, and the first attempt after them with
    neither an entry nor a file. An attempt whose entry was cleaned but whose file is still
    there is passed over, so the takes after it are still found."""
    found: list[tuple[int, JournalEntry]] = []
    attempt = start
    while attempt < _MAX_ATTEMPTS:
        entry = journal.get(_attempt_key(base, attempt))
        if entry is not None:
            found.append((attempt, entry))
        elif not _file_for(output, shot, attempt).exists():
            break
        attempt += 1
    return found, attempt


def _attempt_of(key: str, base: str) -> int:
    head, _, tail = key.rpartition(".")
    return int(tail) if head == base and tail.isdigit() else 0


def _from_manifest(shot: PlannedShot, base: str, record: dict[str, Any]) -> ShotState | None:
    path = Path(record["file"])
    try:
        found = file_sha256(path)
    except OSError:
        return None
    if found != record.get("sha256"):
        return None
    cost = record.get("cost_usd")
    return ShotState(shot, str(record.get("key") or base), "done", path, None,
                     float(cost) if cost is not None else None, found, record=record,
                     worker=record.get("worker"))  # fmt: skip


def _state(
    shot: PlannedShot,
    base: str,
    takes: list[tuple[int, JournalEntry]],
    vouched: tuple[int, dict[str, Any]] | None,
    output: Path,
    api_id: str,
    *,
    retry_failed: bool,
    shared_dir: Path | None = None,
    files_away: bool = False,
) -> ShotState:
    # Every take known, oldest first: the journal's, and the one only the manifest knows.
    known: list[tuple[int, JournalEntry | dict[str, Any]]] = [*takes]
    if vouched is not None:
        known = sorted([*known, vouched], key=lambda take: take[0])
    for position, (attempt, take) in enumerate(reversed(known)):
        if isinstance(take, dict):
            from_manifest = _from_manifest(shot, base, take)
            if from_manifest is not None:
                return from_manifest
            continue
        if take.shared_output is not None:
            # A worker's file: the film's own copy, under shared_dir, or where it was saved.
            copy = _file_for(output, shot, attempt)
            found = locate_shared(take, copy, shared_dir)
            if found is not None:
                path, sha = found
                return ShotState(shot, take.key, "done", path, take, take.quote_usd, sha,
                                 attempt, worker=take.worker,
                                 source=None if path == copy else path)  # fmt: skip
            if files_away and take.status in _FINISHED and take.sha256:
                return ShotState(shot, take.key, "done", Path(take.output_path or copy), take,
                                 take.quote_usd, take.sha256, attempt, worker=take.worker,
                                 away=True)  # fmt: skip
            digest = None
        else:
            digest = _verified(take)
        if digest is not None:
            assert take.output_path is not None
            return ShotState(shot, take.key, "done", Path(take.output_path), take,
                             take.quote_usd, digest, attempt)  # fmt: skip
        if position == 0 and take.status not in ("COMPLETED", "FAILED", "CANCELLED"):
            # The latest take is in flight: follow it.
            path = Path(take.output_path) if take.output_path else _file_for(output, shot, attempt)
            where: State = "elsewhere" if take.api != api_id else "inflight"
            return ShotState(shot, take.key, where, path, take, take.quote_usd,
                             attempt=attempt, worker=take.worker)  # fmt: skip
        # Else an earlier verified take stands (a later one failed or was lost).
    if not takes:
        return ShotState(shot, base, "new", _file_for(output, shot, 0))
    attempt, entry = takes[-1]
    path = Path(entry.output_path) if entry.output_path else _file_for(output, shot, attempt)
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
