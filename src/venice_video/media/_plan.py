"""Frame arithmetic of a film: where each clip sits, what each frame shows, what can be copied.

Everything here is pure and counts in whole frames of the film's rate, so that a clip's place,
a crossfade's length and a copied run of compressed frames can never disagree by rounding.

A film frame shows one clip, or two during a crossfade, each with a weight; fades scale a clip's
weight towards black. A frame that shows exactly one compatible clip at full weight, with no
caption drawn on it, is *plain*: its compressed data can be copied from the clip, provided the
copied run starts on a keyframe that needs nothing before it. Every other frame is decoded,
composed and encoded again, in runs (:class:`EncodeRun`) that end where copying can resume.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._assemble import FilmSpec

__all__ = [
    "ClipLayout",
    "CopyRun",
    "CopySource",
    "EncodeRun",
    "Layer",
    "film_frames",
    "layers_at",
    "layout",
    "plan_runs",
]


@dataclass(frozen=True)
class ClipLayout:
    """One clip on the film's timeline, in film frames.

    ``skip`` is how many frames (at the film's rate) the trim drops from the clip's start;
    ``overlap_in``/``overlap_out`` are the crossfades shared with the previous/next clip, and
    ``fade_in``/``fade_out`` the frames faded from/to black at its start/end.
    """

    index: int
    start: int
    frames: int
    skip: int
    overlap_in: int = 0
    overlap_out: int = 0
    fade_in: int = 0
    fade_out: int = 0

    @property
    def end(self) -> int:
        return self.start + self.frames


@dataclass(frozen=True)
class Layer:
    """Clip ``clip``'s local frame ``local`` (0 = its first frame on the film) at ``weight``."""

    clip: int
    local: int
    weight: float


@dataclass(frozen=True)
class CopySource:
    """What the planner needs to know about a clip whose compressed frames may be copied.

    ``keyframes`` are the frame numbers (presentation order, film rate) where decoding can
    start from nothing; ``reorders`` is true when frames are stored out of presentation order
    (B-frames), in which case a group of pictures can only be copied whole.
    """

    frames: int
    keyframes: tuple[int, ...]
    reorders: bool


@dataclass(frozen=True)
class CopyRun:
    """Copy source frames ``first`` .. ``first + count - 1`` of ``clip`` to film frame ``at``."""

    clip: int
    first: int
    count: int
    at: int


@dataclass(frozen=True)
class EncodeRun:
    """Compose and encode film frames ``at`` .. ``at + count - 1``."""

    at: int
    count: int


def _frames(seconds: float, fps: Fraction) -> int:
    return round(Fraction(seconds) * fps)


def layout(spec: FilmSpec, durations: Sequence[float]) -> tuple[ClipLayout, ...]:
    """Place every clip of ``spec`` given each clip's full (untrimmed) duration in seconds.

    Durations and trims are rounded to whole film frames. A crossfade overlaps two clips by its
    length; a fade takes its length from the end of one clip and the start of the next. The last
    clip has no next clip: a fade or crossfade there fades the film out to black.

    Raises:
        ValueError: a clip is trimmed to nothing, or is too short for its crossfades, or a
            duration, trim or transition length is negative or not finite.
    """
    if len(durations) != len(spec.clips):
        raise ValueError(f"got {len(durations)} durations for {len(spec.clips)} clips")
    if not spec.clips:
        raise ValueError("a film needs at least one clip")
    fps = spec.fps
    count = len(spec.clips)
    lengths: list[int] = []
    skips: list[int] = []
    for i, (clip, duration) in enumerate(zip(spec.clips, durations, strict=True)):
        for name, value in (
            ("duration", duration),
            ("trim_start", clip.trim_start),
            ("trim_end", clip.trim_end),
            ("transition seconds", clip.transition.seconds),
        ):
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"clip {i}: {name} must be a finite number >= 0, got {value!r}")
        skip = _frames(clip.trim_start, fps)
        length = _frames(duration, fps) - skip - _frames(clip.trim_end, fps)
        if length < 1:
            raise ValueError(
                f"clip {i} ({clip.path}) is trimmed to nothing: {duration:.3f} s long, "
                f"trimmed by {clip.trim_start:g} s at the start and {clip.trim_end:g} s at the end"
            )
        lengths.append(length)
        skips.append(skip)

    overlaps = [0] * count  # overlaps[i]: crossfade between clip i and clip i + 1
    fades = [0] * count  # fades[i]: fade out of clip i (and into clip i + 1)
    for i, clip in enumerate(spec.clips):
        frames = _frames(clip.transition.seconds, fps)
        kind = clip.transition.kind
        if kind == "crossfade" and i + 1 < count:
            overlaps[i] = frames
        elif kind in ("crossfade", "fade"):
            fades[i] = frames
        elif kind != "cut":
            raise ValueError(
                f"clip {i}: unknown transition {kind!r}; expected cut, crossfade, fade"
            )

    placed: list[ClipLayout] = []
    start = 0
    for i in range(count):
        over_in = overlaps[i - 1] if i else 0
        over_out = overlaps[i]
        if over_in + over_out > lengths[i]:
            raise ValueError(
                f"clip {i} ({spec.clips[i].path}) is {float(lengths[i] / fps):.3f} s long on the "
                f"film, too short for its crossfades ({float(over_in / fps):.3f} s in, "
                f"{float(over_out / fps):.3f} s out)"
            )
        placed.append(
            ClipLayout(
                index=i,
                start=start,
                frames=lengths[i],
                skip=skips[i],
                overlap_in=over_in,
                overlap_out=over_out,
                fade_in=min(lengths[i], fades[i - 1] if i else 0),
                fade_out=min(lengths[i], fades[i]),
            )
        )
        start += lengths[i] - over_out
    return tuple(placed)


def film_frames(placed: Sequence[ClipLayout]) -> int:
    """The film's length in frames."""
    return max(clip.end for clip in placed)


def layers_at(placed: Sequence[ClipLayout], frame: int) -> list[Layer]:
    """What film frame ``frame`` shows: one layer, or two during a crossfade.

    Weights of a crossfade's two layers add up to one; a fade scales its layer's weight down
    towards black (reaching zero on the last frame of a fade out).
    """
    layers: list[Layer] = []
    for clip in placed:
        if not clip.start <= frame < clip.end:
            continue
        local = frame - clip.start
        weight = 1.0
        if local < clip.overlap_in:
            weight = (local + 1) / (clip.overlap_in + 1)
        elif local >= clip.frames - clip.overlap_out:
            weight = (clip.frames - local) / (clip.overlap_out + 1)
        if local < clip.fade_in:
            weight *= (local + 1) / clip.fade_in
        if local >= clip.frames - clip.fade_out:
            weight *= (clip.frames - 1 - local) / clip.fade_out
        layers.append(Layer(clip.index, local, weight))
    return layers


def _plain_spans(clip: ClipLayout, busy: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Local frame spans of ``clip`` shown alone, at full weight and not under a caption."""
    lo = max(clip.overlap_in, clip.fade_in)
    hi = clip.frames - max(clip.overlap_out, clip.fade_out)
    spans: list[tuple[int, int]] = []
    cursor = lo
    for b_start, b_end in sorted(busy):
        s, e = b_start - clip.start, b_end - clip.start
        if e <= cursor or s >= hi:
            continue
        if s > cursor:
            spans.append((cursor, s))
        cursor = max(cursor, e)
    if cursor < hi:
        spans.append((cursor, hi))
    return spans


def _copyable(
    clip: ClipLayout, source: CopySource, span: tuple[int, int]
) -> tuple[int, int] | None:
    """The source frames of ``span`` whose compressed data can be copied, if any."""
    first, stop = clip.skip + span[0], clip.skip + span[1]
    keys = source.keyframes
    start = next((k for k in keys if first <= k < stop), None)
    if start is None:
        return None
    next_key = next((k for k in keys if k >= stop), source.frames)
    if next_key == stop or not source.reorders:
        # A whole group of pictures, or, when frames only refer back, the head of one.
        end = stop
    else:
        end = max(k for k in keys if k <= stop)
    return (start, end) if end > start else None


def plan_runs(
    placed: Sequence[ClipLayout],
    sources: Sequence[CopySource | None],
    busy: Sequence[tuple[int, int]] = (),
) -> list[CopyRun | EncodeRun]:
    """Split the film into runs of copied and of encoded frames, in film order.

    ``sources[i]`` is None when clip ``i`` cannot be copied at all; ``busy`` lists film frame
    spans ``[start, end)`` that must be encoded whatever they show (burned-in captions).
    """
    copies: list[CopyRun] = []
    for clip, source in zip(placed, sources, strict=True):
        if source is None:
            continue
        for span in _plain_spans(clip, busy):
            got = _copyable(clip, source, span)
            if got is not None:
                first, end = got
                at = clip.start + first - clip.skip
                copies.append(CopyRun(clip.index, first, end - first, at))
    runs: list[CopyRun | EncodeRun] = []
    cursor = 0
    for copy in sorted(copies, key=lambda c: c.at):
        if copy.at > cursor:
            runs.append(EncodeRun(cursor, copy.at - cursor))
        runs.append(copy)
        cursor = copy.at + copy.count
    total = film_frames(placed)
    if cursor < total:
        runs.append(EncodeRun(cursor, total - cursor))
    return runs
