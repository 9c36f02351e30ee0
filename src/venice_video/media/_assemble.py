"""Assemble many shots into one film: normalised picture, joined sound, captions.

This module holds the public description of a film (:class:`FilmSpec` and its parts) and the
:func:`assemble` entry point.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Literal

__all__ = [
    "AssemblyError",
    "AssemblyResult",
    "Clip",
    "Cue",
    "FilmSpec",
    "PlacedClip",
    "Soundtrack",
    "Transition",
    "assemble",
    "timeline",
]


class AssemblyError(Exception):
    """A film could not be assembled: a missing or undecodable shot, or an impossible spec."""


@dataclass(frozen=True)
class Transition:
    """How a clip passes into the next one.

    ``cut``: straight on; ``crossfade``: the two clips overlap by ``seconds`` and blend (the film
    is shorter by that much); ``fade``: the first clip fades out to black over its last
    ``seconds`` and the next fades in from black over its first ``seconds`` (no overlap).
    """

    kind: Literal["cut", "crossfade", "fade"] = "cut"
    seconds: float = 0.0


@dataclass(frozen=True)
class Clip:
    """One shot of the film: a media file, seconds trimmed off each end, the way into the next."""

    path: Path
    trim_start: float = 0.0
    trim_end: float = 0.0
    transition: Transition = field(default_factory=Transition)


@dataclass(frozen=True)
class Cue:
    """A caption, in seconds on the film's timeline."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Soundtrack:
    """Music mixed under the shots' own sound.

    ``volume`` is a linear gain; ``fade_in``/``fade_out`` in seconds; with ``duck_under_speech``
    the music drops by ``duck_db`` wherever the shots speak (their loud regions, or the cues).
    """

    path: Path
    volume: float = 1.0
    fade_in: float = 1.0
    fade_out: float = 1.0
    duck_under_speech: bool = False
    duck_db: float = -12.0


@dataclass(frozen=True)
class FilmSpec:
    """What to assemble: the film's picture format, its clips in order, sound and captions."""

    width: int
    height: int
    fps: Fraction
    clips: tuple[Clip, ...]
    soundtrack: Soundtrack | None = None
    cues: tuple[Cue, ...] = ()
    burn_in: bool = False


@dataclass(frozen=True)
class PlacedClip:
    """Where clip ``index`` sits on the film's timeline, in seconds."""

    index: int
    start: float
    end: float


@dataclass(frozen=True)
class AssemblyResult:
    """What :func:`assemble` wrote.

    ``copied_streams`` is true when at least some compressed video was copied from the shots
    rather than re-encoded.
    """

    path: Path
    duration: float
    placed: tuple[PlacedClip, ...]
    srt_path: Path | None
    vtt_path: Path | None
    copied_streams: bool


def timeline(spec: FilmSpec, durations: Sequence[float]) -> tuple[PlacedClip, ...]:
    """Place each clip on the film's timeline from the clips' (untrimmed) durations."""
    raise NotImplementedError


def assemble(
    spec: FilmSpec,
    output: Path,
    *,
    overwrite: bool = False,
    on_progress: Callable[[float], None] | None = None,
) -> AssemblyResult:
    """Assemble ``spec`` into an mp4 at ``output``."""
    raise NotImplementedError
