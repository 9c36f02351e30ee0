"""From rendered shots to the film: the assembly spec, captions, and the manifest.

The manifest (`<film>.film.json`, beside the film) records every shot's job, request, cost,
file digest and place on the timeline, so a film can be rebuilt or audited. It is written
before the film is assembled (status `assembling`) and again after (status `done`, with the
film's digest). That is how a later run knows the film on disk is its own, safe to replace
after an edit, and whether it is already up to date.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from ._errors import Problem, StoryError
from ._frames import ClipInfo, file_sha256
from ._plan import PlannedShot, StoryPlan
from ._run import MANIFEST_FORMAT, Run, read_manifest

__all__ = [
    "MANIFEST_FORMAT",
    "assembly_digest",
    "check_output",
    "film_spec",
    "read_manifest",
    "script_cues",
    "transcript_cues",
    "write_manifest",
]


def check_output(run: Run, *, overwrite: bool) -> None:
    """Refuse, before anything is spent, to replace a film this story did not make."""
    output = run.output
    if output.is_symlink() or (output.exists() and not output.is_file()):
        # Assembly only ever renames over a regular file (a link, a device or a folder is
        # never replaced), with or without overwrite: say so before anything is paid.
        message = f"the film's path {output} exists and is not a regular file; choose another"
        raise StoryError([Problem(message, file=run.plan.story.source)])
    if not output.exists() or overwrite:
        return
    manifest = read_manifest(run.manifest_path)
    if manifest is not None and manifest.get("story_id") == run.plan.story_id:
        if manifest.get("status") == "assembling":
            return  # an earlier run of this story stopped while writing it
        recorded = (manifest.get("film") or {}).get("sha256")
        if recorded and recorded == file_sha256(output):
            return  # this story's own film, unchanged since: safe to replace
    raise StoryError(
        [
            Problem(
                f"{output} already exists and is not this story's film as it last made it; "
                "choose another output, or pass overwrite=True (--overwrite)",
                file=run.plan.story.source,
                line=run.plan.story.line_of("output"),
            )
        ]  # fmt: skip
    )


def write_manifest(path: Path, data: Mapping[str, Any]) -> None:
    """Write the manifest atomically (a temporary file, fsynced, renamed over)."""
    if path.exists() and not path.is_file():
        raise StoryError([Problem(f"{path} exists and is not a file")])
    text = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def film_spec(run: Run, infos: Sequence[ClipInfo], cues: Sequence[Any] = ()) -> Any:
    """The assembly's `FilmSpec` for the rendered shots."""
    from ..media import Clip, FilmSpec, Soundtrack, Transition

    story = run.plan.story
    first = infos[0]
    width, height = first.width, first.height
    if story.size:
        w, _, h = story.size.partition("x")
        width, height = int(w), int(h)
    fps = Fraction(story.fps) if story.fps else first.fps
    clips = tuple(
        Clip(
            path=state.path,
            trim_start=state.shot.trim[0],
            trim_end=state.shot.trim[1],
            transition=Transition(
                kind=state.shot.transition.kind, seconds=state.shot.transition.seconds
            ),
        )
        for state in run.shots
    )
    soundtrack = None
    if story.soundtrack is not None:
        track = story.soundtrack
        soundtrack = Soundtrack(
            path=story.resolve_path(track.file),
            volume=track.volume,
            fade_in=track.fade_in,
            fade_out=track.fade_out,
            duck_under_speech=track.duck_under_speech,
            duck_db=track.duck_db,
        )
    burn_in = bool(story.captions and story.captions.burn_in)
    return FilmSpec(
        width=width,
        height=height,
        fps=fps,
        clips=clips,
        soundtrack=soundtrack,
        cues=tuple(cues),
        burn_in=burn_in,
    )


def with_cues(spec: Any, cues: Sequence[Any]) -> Any:
    return replace(spec, cues=tuple(cues))


def script_cues(plan: StoryPlan, placed: Sequence[Any]) -> tuple[Any, ...]:
    """Each shot's line, shown while that shot (and no other) is on screen."""
    from ..media import Cue

    cues = []
    spans = sorted(placed, key=lambda p: p.index)
    for k, (shot, span) in enumerate(zip(plan.shots, spans, strict=True)):
        if not shot.line:
            continue
        start, end = span.start, span.end
        if k > 0:
            start = max(start, spans[k - 1].end)  # after the crossfade from the shot before
        if k + 1 < len(spans):
            end = min(end, spans[k + 1].start)  # before the crossfade into the next
        if end > start:
            cues.append(Cue(start=round(start, 3), end=round(end, 3), text=shot.line.strip()))
    return tuple(cues)


def transcript_cues(transcription: Any, duration: float) -> tuple[Any, ...]:
    """Cues from an `AudioTranscription` with segment timestamps."""
    from ..media import Cue

    stamps = getattr(transcription, "timestamps", None)
    segments = list(getattr(stamps, "segment", None) or ())
    cues = []
    for item in segments:
        text = str(getattr(item, "text", "") or "").strip()
        start = max(0.0, float(item.start))
        end = min(float(item.end), duration)
        # A segment of bare punctuation is noise heard in music, not a line to show.
        if any(ch.isalnum() for ch in text) and end > start:
            cues.append(Cue(start=round(start, 3), end=round(end, 3), text=text))
    return tuple(cues)


def assembly_digest(run: Run, spec: Any, shot_digests: Sequence[str]) -> str:
    """What the film is made of: if this is unchanged, so is the film."""
    story = run.plan.story
    track = None
    if spec.soundtrack is not None:
        track = {**asdict(spec.soundtrack), "path": file_sha256(Path(spec.soundtrack.path))}
    content = {
        "format": MANIFEST_FORMAT,
        "size": [spec.width, spec.height],
        "fps": str(spec.fps),
        "clips": [
            {**asdict(c), "path": digest}
            for c, digest in zip(spec.clips, shot_digests, strict=True)
        ],
        "soundtrack": track,
        "cues": [asdict(c) for c in spec.cues],
        "captions": story.captions_mode,
        "burn_in": spec.burn_in,
    }
    text = json.dumps(content, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def manifest(
    run: Run,
    *,
    status: str,
    digest: str,
    placed: Sequence[Any],
    entries: Mapping[int, Any],
    shas: Sequence[str],
    film: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest's content."""
    plan = run.plan
    story = plan.story
    home = run.manifest_path.parent

    def rel(path: Path) -> str:
        try:
            return os.path.relpath(path, home)
        except ValueError:  # another drive (Windows)
            return str(path)

    spans = {p.index: p for p in placed}
    shots: list[dict[str, Any]] = []
    for state, sha in zip(run.shots, shas, strict=True):
        shot: PlannedShot = state.shot
        entry = entries.get(shot.index)
        span = spans.get(shot.index)
        old = state.record or {}  # a shot the journal forgot: keep what the manifest knew
        shots.append(
            {
                "number": shot.number,
                "name": shot.name,
                "model": shot.model,
                "digest": shot.digest,
                "key": state.key if entry is not None else old.get("key", state.key),
                "queue_id": entry.queue_id if entry is not None else old.get("queue_id"),
                "request": entry.request if entry is not None else old.get("request"),
                "cost_usd": entry.quote_usd if entry is not None else state.price,
                "file": rel(state.path),
                "sha256": sha,
                # A shot handed to workers: who made its file, and where they saved it.
                "worker": entry.worker if entry is not None else old.get("worker"),
                "worker_file": (
                    entry.output_path
                    if entry is not None and entry.worker
                    else old.get("worker_file")
                ),
                "start": round(span.start, 6) if span is not None else None,
                "end": round(span.end, 6) if span is not None else None,
                "continues_from": shot.after + 1 if shot.after is not None else None,
                "transition": {"kind": shot.transition.kind, "seconds": shot.transition.seconds},
                "trim": {"start": shot.trim[0], "end": shot.trim[1]},
                "line": shot.line,
            }
        )
    total = round(sum(s["cost_usd"] or 0.0 for s in shots), 6)
    return {
        "format": MANIFEST_FORMAT,
        "status": status,
        "title": story.title,
        "story": str(story.source.resolve()) if story.source is not None else None,
        "story_id": plan.story_id,
        "api": run.api_id,
        "assembly_digest": digest,
        "cost_usd": total,
        "film": dict(film) if film is not None else {"path": rel(run.output)},
        "soundtrack": story.soundtrack.model_dump() if story.soundtrack is not None else None,
        "captions": story.captions_mode,
        "shots": shots,
    }
