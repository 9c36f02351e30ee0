"""What a story render reports as it goes (`ShotProgress`) and returns (`Film`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["Film", "FilmShot", "ShotPhase", "ShotProgress"]

ShotPhase = Literal[
    "pending",  # not started: waiting for a free slot or for the shot it continues from
    "reused",  # already rendered and verified: nothing to pay
    "queued",  # the job exists on the server
    "processing",  # the server is rendering it
    "downloading",  # the file is being saved and verified
    "done",  # saved and verified in this run
    "failed",  # the job failed, or its file could not be saved
    "skipped",  # not started: the shot it continues from failed, or the render stopped
    "unknown",  # the queue request's outcome is unknown: the render stops
]


@dataclass(frozen=True)
class ShotProgress:
    """One shot's progress, as `render_story(on_shot=...)` reports it.

    Attributes:
        number: the shot's place in the film, from 1.
        name: the shot's name.
        phase: where it is (see `ShotPhase`).
        model: the model rendering it.
        cost: its price in USD (the quote), once known.
        eta_s: seconds until the server expects it done, while it renders.
        elapsed_s: seconds since this run started following it.
        queue_id: the server's id for the job.
        error: why it failed or stopped.
    """

    number: int
    name: str
    phase: ShotPhase
    model: str
    cost: float | None = None
    eta_s: float | None = None
    elapsed_s: float | None = None
    queue_id: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class FilmShot:
    """One shot of a rendered film.

    Attributes:
        number, name, model: the shot.
        digest: the shot's identity (its resolved request and inputs).
        key: its journal key (and `Idempotency-Key`).
        queue_id: the server's id for its job.
        cost: what it cost in USD (its quote), paid once, whenever it was rendered.
        reused: it was rendered by an earlier run; this run paid nothing for it.
        path: its verified file.
        sha256: that file's digest.
        start, end: where it sits on the film's timeline, in seconds.
        worker: the worker that made its file, for a shot handed to workers.
    """

    number: int
    name: str
    model: str
    digest: str
    key: str
    queue_id: str | None
    cost: float | None
    reused: bool
    path: Path
    sha256: str
    start: float
    end: float
    worker: str | None = None


@dataclass(frozen=True)
class Film:
    """A rendered story: the film, its shots and what it cost.

    Attributes:
        path: the film.
        manifest_path: the `*.film.json` beside it: every shot's job, request, cost, file
            digest and place on the timeline.
        srt_path, vtt_path: the caption files beside the film, when it has captions.
        duration: the film's length in seconds.
        shots: every shot, in film order.
        cost: what all its shots cost, in USD, whenever they were rendered.
        spent: what this run queued (shots rendered before cost nothing again).
        assembled: the film was (re)assembled by this run; `False` when it was up to date.
        copied_streams: some of the shots' compressed video was copied, not re-encoded.
    """

    path: Path
    manifest_path: Path
    srt_path: Path | None
    vtt_path: Path | None
    duration: float
    shots: tuple[FilmShot, ...]
    cost: float
    spent: float
    assembled: bool
    copied_streams: bool
