"""Turn timed transcript segments into SubRip (SRT) or WebVTT subtitle text.

Pure functions, no I/O. Segments can be ``(start, end, text)`` tuples, objects with ``start``,
``end`` and ``text`` attributes (such as the local server's ``Segment``), or mappings with those
keys, which is what ``POST /audio/transcriptions`` returns under ``timestamps.segment`` when asked
for ``timestamps=true``. Word items (``{"start", "end", "word"}``) work too, one cue per word.

    >>> print(to_srt([(0.0, 1.5, "Hello."), (1.5, 3.0, "Goodbye.")]), end="")
    1
    00:00:00,000 --> 00:00:01,500
    Hello.
    <BLANKLINE>
    2
    00:00:01,500 --> 00:00:03,000
    Goodbye.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["to_srt", "to_vtt"]

SegmentLike = Any
"""A ``(start, end, text)`` tuple, an object with those attributes, or a mapping with those keys."""


def to_srt(segments: Iterable[SegmentLike] | Mapping[str, Any]) -> str:
    """Render segments as SubRip text.

    Cues are numbered from 1 in order; segments whose text is blank are skipped and do not take
    a number. The result ends with a newline, or is empty when no segment has text.

    Args:
        segments: the timed segments, in seconds. A whole transcription response
            (``{"timestamps": {"segment": [...]}}``) or its ``timestamps`` object is accepted too.

    Raises:
        ValueError: a time is negative or not finite, or a segment ends before it starts.
    """
    blocks = [
        f"{number}\n{_timestamp(start, ',')} --> {_timestamp(end, ',')}\n{text}\n"
        for number, (start, end, text) in enumerate(_cues(segments), start=1)
    ]
    return "\n".join(blocks)


def to_vtt(segments: Iterable[SegmentLike] | Mapping[str, Any]) -> str:
    """Render segments as WebVTT text.

    The text starts with the ``WEBVTT`` header; ``&``, ``<`` and ``>`` in cue text are escaped
    as WebVTT requires. Segments whose text is blank are skipped.

    Args:
        segments: as for :func:`to_srt`.

    Raises:
        ValueError: a time is negative or not finite, or a segment ends before it starts.
    """
    blocks = [
        f"{_timestamp(start, '.')} --> {_timestamp(end, '.')}\n{_escape_vtt(text)}\n"
        for start, end, text in _cues(segments)
    ]
    return "\n".join(["WEBVTT\n", *blocks])


def _cues(segments: Iterable[SegmentLike] | Mapping[str, Any]) -> list[tuple[float, float, str]]:
    cues: list[tuple[float, float, str]] = []
    for index, segment in enumerate(_unwrap(segments)):
        start, end, raw_text = _fields(segment, index)
        text = _clean_text(raw_text)
        if not text:
            continue
        if end < start:
            raise ValueError(f"segment {index} ends ({end}) before it starts ({start})")
        cues.append((start, end, text))
    return cues


def _unwrap(segments: Iterable[SegmentLike] | Mapping[str, Any]) -> Iterable[SegmentLike]:
    if not isinstance(segments, Mapping):
        return segments
    # Accept the transcription response as returned, so callers need not dig for the list.
    if "timestamps" in segments and isinstance(segments["timestamps"], Mapping):
        segments = segments["timestamps"]
    for key in ("segment", "segments"):
        value = segments.get(key)
        if value is not None:
            result: Iterable[SegmentLike] = value
            return result
    raise ValueError("expected a sequence of segments or a mapping with a 'segment' list")


def _fields(segment: SegmentLike, index: int) -> tuple[float, float, str]:
    if isinstance(segment, Mapping):
        start, end = segment.get("start"), segment.get("end")
        text = segment.get("text", segment.get("word"))
    elif isinstance(segment, tuple | list):
        if len(segment) != 3:
            raise ValueError(
                f"segment {index} must be (start, end, text), got {len(segment)} items"
            )
        start, end, text = segment
    else:
        start, end = getattr(segment, "start", None), getattr(segment, "end", None)
        text = getattr(segment, "text", getattr(segment, "word", None))
    if start is None or end is None:
        raise ValueError(f"segment {index} has no start or end time")
    return _seconds(start, index), _seconds(end, index), "" if text is None else str(text)


def _seconds(value: Any, index: int) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"segment {index} has a time that is not a number: {value!r}") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"segment {index} has an invalid time: {value!r}")
    return seconds


def _clean_text(text: str) -> str:
    # A blank line ends a cue in both formats, so interior blank lines must go.
    return "\n".join(line.strip() for line in text.strip().splitlines() if line.strip())


def _timestamp(seconds: float, decimal_mark: str) -> str:
    total_ms = round(seconds * 1000)
    hours, rest = divmod(total_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal_mark}{millis:03d}"


def _escape_vtt(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
