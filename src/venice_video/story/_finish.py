"""The last step of a render: the film from the verified shots, then the manifest.

The film is assembled only when the one on disk is not already exactly what these shots,
transitions, sound and captions make (the manifest keeps that digest). With `captions:
transcribe` it is assembled, its speech transcribed into cues, then assembled with them.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._models import VideoJob
from ._film import (
    assembly_digest,
    film_spec,
    manifest,
    read_manifest,
    script_cues,
    transcript_cues,
    with_cues,
    write_manifest,
)
from ._flow import Api, Flow, Work
from ._frames import ClipInfo, clip_info, file_sha256
from ._result import Film, FilmShot
from ._run import Run

if TYPE_CHECKING:
    from ..journal import JournalStore

__all__ = ["FilmCut", "current_film", "film_cut", "finish_flow"]


def finish_flow(
    run: Run,
    journal: JournalStore,
    jobs: dict[int, VideoJob],
    on_assembly: Callable[[float], None] | None,
) -> Flow[Film]:
    """Assemble the film unless the one on disk is already exactly this; write the manifest."""
    from ..media import assemble

    for state in run.shots:
        job = jobs[state.shot.index]
        assert job.path is not None
        state.path = job.path
    cut: FilmCut = yield Work(functools.partial(film_cut, run))
    spec, placed, shas, digest = cut.spec, cut.placed, cut.shas, cut.digest
    mode = run.plan.story.captions_mode
    entries = yield Work(lambda: {s.shot.index: journal.get(s.key) for s in run.shots})
    known = yield Work(functools.partial(read_manifest, run.manifest_path))
    film_info = current_film(run, known, digest)
    if film_info is None:
        ctx_args = {"placed": placed, "entries": entries, "shas": shas}
        yield Work(
            functools.partial(
                write_manifest, run.manifest_path,
                manifest(run, status="assembling", digest=digest, **ctx_args),
            )
        )  # fmt: skip
        run.output.parent.mkdir(parents=True, exist_ok=True)
        result = yield Work(
            functools.partial(assemble, spec, run.output, overwrite=True, on_progress=on_assembly)
        )
        if mode == "transcribe":
            heard = yield Api("transcribe_audio", (result.path,), {"timestamps": True})
            cues = transcript_cues(heard, result.duration)
            if cues:
                result = yield Work(
                    functools.partial(assemble, with_cues(spec, cues), run.output, overwrite=True)
                )
        film_sha = yield Work(functools.partial(file_sha256, run.output))
        home = run.manifest_path.parent
        film_info = {
            "path": _rel(run.output, home),
            "sha256": film_sha,
            "duration_s": round(result.duration, 6),
            "width": spec.width,
            "height": spec.height,
            "fps": str(spec.fps),
            "srt": _rel(result.srt_path, home) if result.srt_path else None,
            "vtt": _rel(result.vtt_path, home) if result.vtt_path else None,
            "copied_streams": result.copied_streams,
        }
        yield Work(
            functools.partial(
                write_manifest, run.manifest_path,
                manifest(run, status="done", digest=digest, film=film_info, **ctx_args),
            )
        )  # fmt: skip
        placed = result.placed
        assembled = True
    else:
        assembled = False
    return _film(run, jobs, placed, film_info, assembled)


@dataclass(frozen=True)
class FilmCut:
    """What the film is made of: the assembly spec, where each shot sits, the shots' file
    digests, and the digest of all that (equal digests make equal films)."""

    spec: Any
    placed: Any
    shas: list[str]
    digest: str


def film_cut(run: Run) -> FilmCut:
    """The film the shots on disk make (blocking: it probes and hashes the shots)."""
    from ..media import timeline

    infos: list[ClipInfo] = [clip_info(s.path) for s in run.shots]
    shas = [s.sha256 or file_sha256(s.path) for s in run.shots]
    spec = film_spec(run, infos)
    placed = timeline(spec, [i.duration_s for i in infos])
    if run.plan.story.captions_mode == "script":
        spec = with_cues(spec, script_cues(run.plan, placed))
    return FilmCut(spec, placed, shas, assembly_digest(run, spec, shas))


def current_film(run: Run, known: dict[str, Any] | None, digest: str) -> dict[str, Any] | None:
    """The manifest's film record when the film on disk is exactly what this run would make."""
    if known is None or known.get("status") != "done" or known.get("assembly_digest") != digest:
        return None
    film = known.get("film") or {}
    try:
        if film.get("sha256") != file_sha256(run.output):
            return None
    except OSError:
        return None
    return dict(film)


def _rel(path: Path, home: Path) -> str:
    try:
        return os.path.relpath(path, home)
    except ValueError:
        return str(path)


def _film(
    run: Run,
    jobs: dict[int, VideoJob],
    placed: Any,
    film: Mapping[str, Any],
    assembled: bool,
) -> Film:
    home = run.manifest_path.parent
    spans = {p.index: p for p in placed}
    shots = []
    for state in run.shots:
        shot, job = state.shot, jobs[state.shot.index]
        span = spans[shot.index]
        shots.append(
            FilmShot(
                number=shot.number,
                name=shot.name,
                model=shot.model,
                digest=shot.digest,
                key=state.key,
                queue_id=job.queue_id,
                cost=job.cost if job.cost is not None else state.price,
                reused=state.state == "done",
                path=state.path,
                sha256=state.sha256 or "",
                start=span.start,
                end=span.end,
                worker=state.worker,
            )
        )
    spent = sum(s.cost or 0.0 for s, st in zip(shots, run.shots, strict=True) if st.state == "new")
    srt, vtt = film.get("srt"), film.get("vtt")
    return Film(
        path=run.output,
        manifest_path=run.manifest_path,
        srt_path=(home / srt) if srt else None,
        vtt_path=(home / vtt) if vtt else None,
        duration=float(film.get("duration_s") or 0.0),
        shots=tuple(shots),
        cost=round(sum(s.cost or 0.0 for s in shots), 6),
        spent=round(float(spent), 6),
        assembled=assembled,
        copied_streams=bool(film.get("copied_streams")),
    )
