"""Where each shot of a story stands, from the journal, before anything is spent.

A shot's journal key comes from its digest and the API it is rendered by (the client's
`api_id`: the local engine is known by its folder, whatever port it listens on), so a later run
finds it again: finished shots (their file still there and matching its digest) are reused,
jobs in flight are followed, and only shots never queued are quoted and queued. A shot
whose job failed, or whose file was lost after the server deleted its copy, is paid for
again only when asked (`retry_failed`), under a new key.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .._models import VideoJob
from ._errors import Problem, StoryError
from ._frames import file_sha256
from ._plan import PlannedShot, StoryPlan

if TYPE_CHECKING:
    from ..journal import JournalEntry, JournalStore

__all__ = [
    "Run",
    "ShotState",
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

    def job(self) -> VideoJob:
        """The finished job of a `done` shot, from the journal or the manifest."""
        if self.entry is not None:
            return VideoJob.from_entry(self.entry)
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


def inspect_shots(
    plan: StoryPlan, journal: JournalStore, api_id: str, output: Path, *, retry_failed: bool
) -> list[ShotState]:
    """Each shot's state from the journal (blocking: it reads the journal and hashes files)."""
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
        state = _state(shot, base, entries, output, mine, retry_failed=retry_failed)
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
                     float(cost) if cost is not None else None, found, record=record)  # fmt: skip


def _state(
    shot: PlannedShot,
    base: str,
    entries: list[JournalEntry],
    output: Path,
    api_id: str,
    *,
    retry_failed: bool,
) -> ShotState:
    for attempt, entry in enumerate(entries):
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
    return ShotState(shot, entry.key, state, path, entry, entry.quote_usd, attempt=attempt)


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
