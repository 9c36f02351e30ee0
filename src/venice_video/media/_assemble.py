"""Assemble many shots into one film: normalised picture, joined sound, captions.

:func:`assemble` takes a :class:`FilmSpec` (the film's size and frame rate, its clips in order
with trims and transitions, an optional soundtrack, captions) and writes one H.264/AAC mp4:

* every shot is fitted to the film (scaled to fit and letterboxed, converted to yuv420p at the
  film's frame rate); cuts, crossfades (the two shots overlap, so the film is shorter by the
  crossfade) and fades through black (no overlap) join them;
* the shots' own sound is joined without gaps or clicks (a shot without sound gets silence),
  with the soundtrack, if any, mixed under it (see :mod:`._mixdown`);
* captions become ``film.srt`` and ``film.vtt`` beside ``film.mp4``, a soft subtitle track
  inside it, and, with ``burn_in``, text drawn into the picture.

Smart rendering: frames are only re-encoded where they must be. Where shots share their codec
parameters (H.264 with the same size, pixel format, frame rate and codec data) their compressed
frames are copied into the film untouched, timestamps rebased; around a crossfade, a fade, a
burned-in caption or a trim off a keyframe, the frames from the last keyframe before to the
next keyframe after are decoded, composed and encoded again with the local engine's encoder
settings, which give the same codec data as the engine's shots. If they ever did not, or a
shot cannot be copied for any other reason, that shot, or if need be the whole film, is simply
re-encoded. Sound is always mixed and encoded afresh: a shot's AAC frames line up with the
film's only by chance, and every join needs its short fades. With cuts, that is most of
the work.

The film is written to a temporary file beside ``output``, flushed to disk, verified (its
frames and samples counted, the frames at every join decoded), and only then renamed into place.

This module needs only the standard library to import (the film's description, its timeline);
:func:`assemble` imports PyAV, numpy and Pillow (the ``[media]`` extra) and the modules that
write the film (:mod:`._writer` and those it uses) when it is called.
"""

from __future__ import annotations

import math
import os
import secrets
import stat
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Final, Literal

from ._av import import_av
from ._errors import AssemblyError
from ._plan import ClipLayout, film_frames, layout

__all__ = [
    "AssemblyResult",
    "Clip",
    "Cue",
    "FilmSpec",
    "PlacedClip",
    "Soundtrack",
    "Transition",
    "assemble",
    "probe_duration",
    "timeline",
]

_MAX_FPS: Final = 240


@dataclass(frozen=True)
class Transition:
    """How a clip passes into the next one.

    ``cut``: straight on; ``crossfade``: the two clips overlap by ``seconds`` and blend (the film
    is shorter by that much); ``fade``: the first clip fades out to black over its last
    ``seconds`` and the next fades in from black over its first ``seconds`` (no overlap). The
    last clip has no next one: a fade or crossfade there fades the film out to black.
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

    ``volume`` is a linear gain; ``fade_in``/``fade_out`` in seconds (the fade out ends where
    the film, or the music if shorter, ends). With ``duck_under_speech`` the music drops by
    ``duck_db`` under speech: during the film's cues when it has any, otherwise wherever the
    shots' own sound is loud.
    """

    path: Path
    volume: float = 1.0
    fade_in: float = 1.0
    fade_out: float = 1.0
    duck_under_speech: bool = False
    duck_db: float = -12.0


@dataclass(frozen=True)
class FilmSpec:
    """What to assemble: the film's picture format, its clips in order, sound and captions.

    ``width`` and ``height`` must be even (yuv420p); ``fps`` is the film's frame rate.
    """

    width: int
    height: int
    fps: Fraction
    clips: tuple[Clip, ...]
    soundtrack: Soundtrack | None = None
    cues: tuple[Cue, ...] = ()
    burn_in: bool = False


@dataclass(frozen=True)
class PlacedClip:
    """Where clip ``index`` sits on the film's timeline, in seconds (``end`` exclusive)."""

    index: int
    start: float
    end: float


@dataclass(frozen=True)
class AssemblyResult:
    """What :func:`assemble` wrote.

    ``copied_streams`` is true when compressed video was copied from the shots rather than all
    of it re-encoded. ``srt_path`` and ``vtt_path`` are None for a film without cues.
    """

    path: Path
    duration: float
    placed: tuple[PlacedClip, ...]
    srt_path: Path | None
    vtt_path: Path | None
    copied_streams: bool


def _check_spec(spec: FilmSpec) -> None:
    for name, value in (("width", spec.width), ("height", spec.height)):
        if not isinstance(value, int) or value < 2 or value % 2:
            raise ValueError(f"the film's {name} must be an even number >= 2, got {value!r}")
    fps = Fraction(spec.fps)
    if not 0 < fps <= _MAX_FPS:
        raise ValueError(f"the film's fps must be above 0 and at most {_MAX_FPS}, got {fps}")
    if not spec.clips:
        raise ValueError("a film needs at least one clip")
    music = spec.soundtrack
    if music is not None:
        checks: tuple[tuple[str, float], ...] = (
            ("volume", music.volume),
            ("fade_in", music.fade_in),
            ("fade_out", music.fade_out),
        )
        for label, number in checks:
            if not math.isfinite(number) or number < 0:
                raise ValueError(f"soundtrack {label} must be a finite number >= 0, got {number!r}")
        if not math.isfinite(music.duck_db) or music.duck_db > 0:
            raise ValueError(f"soundtrack duck_db must be <= 0 dB, got {music.duck_db!r}")


def _placed(layouts: Sequence[ClipLayout], fps: Fraction) -> tuple[PlacedClip, ...]:
    return tuple(PlacedClip(c.index, float(c.start / fps), float(c.end / fps)) for c in layouts)


def timeline(spec: FilmSpec, durations: Sequence[float]) -> tuple[PlacedClip, ...]:
    """Where each clip of ``spec`` will sit on the film, given each clip's full duration.

    ``durations`` are the clips' untrimmed lengths in seconds (as :func:`probe_duration` reads
    them); they and the trims are rounded to whole frames of the film. The film's duration is
    the last clip's ``end``. Pure: nothing is read.

    Raises:
        ValueError: the spec is impossible (see :func:`assemble`).
    """
    _check_spec(spec)
    return _placed(layout(spec, durations), Fraction(spec.fps))


def probe_duration(path: Path) -> float:
    """A shot's length as assembly counts it: its video frames over its frame rate.

    Raises:
        ImportError: PyAV is not installed.
        AssemblyError: the file is missing or is not readable video.
    """
    import_av()
    from ._shots import probe_shot

    return probe_shot(0, Path(path)).duration


# --------------------------------------------------------------------------------------------
# Output files


def _check_target(path: Path, overwrite: bool) -> None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(info.st_mode):
        raise FileExistsError(f"{path} exists and is not a regular file: it will not be replaced")
    if not overwrite:
        raise FileExistsError(f"{path} already exists (pass overwrite=True to replace it)")


def _temp_beside(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}.part")


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # some platforms cannot open a directory; the rename is done regardless
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


# --------------------------------------------------------------------------------------------
# Entry point


def assemble(
    spec: FilmSpec,
    output: Path,
    *,
    overwrite: bool = False,
    on_progress: Callable[[float], None] | None = None,
    smart: bool = True,
) -> AssemblyResult:
    """Assemble ``spec`` into an mp4 at ``output`` (and its captions beside it).

    Blocking and CPU-bound: call it from a worker thread. ``on_progress`` is called with the
    fraction done, from 0 to 1. ``smart=False`` re-encodes every frame instead of copying
    what can be copied (for comparison; the result looks the same).

    With cues, ``output.with_suffix(".srt")`` and ``.vtt`` are written too. Nothing is
    replaced unless ``overwrite`` is true, and never anything but a regular file.

    Raises:
        ImportError: PyAV is not installed (the `[media]` extra).
        ValueError: the spec is impossible: an odd size, a clip trimmed to nothing or too
            short for its crossfades, a cue outside the film.
        FileExistsError: ``output`` or a caption file exists (and ``overwrite`` is false), or
            is not a regular file.
        AssemblyError: a shot or the soundtrack is missing, unreadable or not decodable.
    """
    report = on_progress or (lambda fraction: None)
    _check_spec(spec)
    import_av()  # PyAV, or an ImportError naming the extra, before anything is written
    from . import _writer
    from ._captions import caption_spans, check_cues, srt_text, vtt_text
    from ._shots import probe_shot
    from ._splice import SpliceMismatch

    output = Path(output)
    srt_path = output.with_suffix(".srt") if spec.cues else None
    vtt_path = output.with_suffix(".vtt") if spec.cues else None
    targets = [p for p in (output, srt_path, vtt_path) if p is not None]
    for target in targets:
        _check_target(target, overwrite)
    if spec.soundtrack is not None and not Path(spec.soundtrack.path).is_file():
        raise AssemblyError(f"soundtrack ({spec.soundtrack.path}): file not found")

    # Probing is mostly demuxing and decoding, which release the GIL: two at a time.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="film-probe") as pool:
        paths = [Path(clip.path) for clip in spec.clips]
        shots = list(pool.map(probe_shot, range(len(paths)), paths))
    placed = layout(spec, [shot.duration for shot in shots])
    fps = Fraction(spec.fps)
    total = film_frames(placed)
    duration = float(total / fps)
    check_cues(spec.cues, duration)
    report(0.0)

    output.parent.mkdir(parents=True, exist_ok=True)
    temps: dict[Path, Path] = {target: _temp_beside(target) for target in targets}
    try:
        tmp = temps[output]
        try:
            copied, runs = _writer.write_film(
                spec, shots, placed, tmp, smart=smart, progress=report
            )
        except SpliceMismatch:
            tmp.unlink(missing_ok=True)
            copied, runs = _writer.write_film(
                spec, shots, placed, tmp, smart=False, progress=report
            )
        _fsync_file(tmp)
        _writer.check_film(
            tmp, spec, total, runs, captions=bool(caption_spans(spec.cues, duration))
        )
        if srt_path is not None and vtt_path is not None:
            _write_text(temps[srt_path], srt_text(spec.cues))
            _write_text(temps[vtt_path], vtt_text(spec.cues))
        for target in targets:  # again: something may have appeared meanwhile
            _check_target(target, overwrite)
        for target in reversed(targets):  # the film last, once its captions are in place
            os.replace(temps.pop(target), target)
        _fsync_dir(output.parent)
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
    report(1.0)
    return AssemblyResult(
        path=output,
        duration=duration,
        placed=_placed(placed, fps),
        srt_path=srt_path,
        vtt_path=vtt_path,
        copied_streams=copied,
    )
