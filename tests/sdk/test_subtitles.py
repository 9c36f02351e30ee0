from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from venice_video._subtitles import to_srt, to_vtt


@dataclass(frozen=True)
class _Segment:
    start: float
    end: float
    text: str


TUPLES = [(0.0, 1.5, "Hello from Venice."), (1.5, 3.25, "This video was rendered locally.")]

EXPECTED_SRT = (
    "1\n"
    "00:00:00,000 --> 00:00:01,500\n"
    "Hello from Venice.\n"
    "\n"
    "2\n"
    "00:00:01,500 --> 00:00:03,250\n"
    "This video was rendered locally.\n"
)

EXPECTED_VTT = (
    "WEBVTT\n"
    "\n"
    "00:00:00.000 --> 00:00:01.500\n"
    "Hello from Venice.\n"
    "\n"
    "00:00:01.500 --> 00:00:03.250\n"
    "This video was rendered locally.\n"
)


def test_to_srt_renders_tuples_exactly() -> None:
    assert to_srt(TUPLES) == EXPECTED_SRT


def test_to_vtt_renders_tuples_exactly() -> None:
    assert to_vtt(TUPLES) == EXPECTED_VTT


def test_to_srt_accepts_objects_with_start_end_text() -> None:
    assert to_srt([_Segment(*item) for item in TUPLES]) == EXPECTED_SRT


def test_to_vtt_accepts_mappings() -> None:
    mappings = [{"start": s, "end": e, "text": t} for s, e, t in TUPLES]
    assert to_vtt(mappings) == EXPECTED_VTT


def test_to_srt_accepts_a_whole_transcription_response() -> None:
    response: dict[str, Any] = {
        "text": "Hello from Venice. This video was rendered locally.",
        "timestamps": {
            "segment": [{"start": s, "end": e, "text": t} for s, e, t in TUPLES],
            "word": [{"start": 0.0, "end": 0.4, "word": "Hello"}],
        },
    }
    assert to_srt(response) == EXPECTED_SRT
    assert to_srt(response["timestamps"]) == EXPECTED_SRT


def test_to_srt_makes_one_cue_per_word_item() -> None:
    words = [
        {"start": 0.0, "end": 0.4, "word": " Hello"},
        {"start": 0.4, "end": 0.9, "word": "there"},
    ]
    assert to_srt(words) == (
        "1\n00:00:00,000 --> 00:00:00,400\nHello\n\n2\n00:00:00,400 --> 00:00:00,900\nthere\n"
    )


def test_blank_segments_are_skipped_and_numbering_stays_sequential() -> None:
    segments = [(0.0, 1.0, "One"), (1.0, 2.0, "   "), (2.0, 3.0, ""), (3.0, 4.0, "Two")]
    assert to_srt(segments) == (
        "1\n00:00:00,000 --> 00:00:01,000\nOne\n\n2\n00:00:03,000 --> 00:00:04,000\nTwo\n"
    )


def test_timestamps_carry_into_minutes_and_hours_and_round_to_milliseconds() -> None:
    segments = [(61.25, 3723.4567, "Long"), (3599.9996, 3600.0, "Edge")]
    assert to_srt(segments) == (
        "1\n00:01:01,250 --> 01:02:03,457\nLong\n\n2\n01:00:00,000 --> 01:00:00,000\nEdge\n"
    )
    assert "00:01:01.250 --> 01:02:03.457" in to_vtt(segments)


def test_interior_blank_lines_are_removed_so_cues_stay_whole() -> None:
    assert to_srt([(0, 1, "  first line\n\n  second line  ")]) == (
        "1\n00:00:00,000 --> 00:00:01,000\nfirst line\nsecond line\n"
    )


def test_to_vtt_escapes_markup_characters() -> None:
    assert to_vtt([(0, 1, "Tom & Jerry <3 --> end")]) == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nTom &amp; Jerry &lt;3 --&gt; end\n"
    )


def test_no_segments_gives_empty_srt_and_header_only_vtt() -> None:
    assert to_srt([]) == ""
    assert to_vtt([]) == "WEBVTT\n"
    assert to_srt({"timestamps": {"segment": [], "word": []}}) == ""


@pytest.mark.parametrize(
    ("segments", "message"),
    [
        ([(2.0, 1.0, "backwards")], "ends"),
        ([(-1.0, 1.0, "negative")], "invalid time"),
        ([(0.0, float("nan"), "nan")], "invalid time"),
        ([("soon", 1.0, "text")], "not a number"),
        ([{"end": 1.0, "text": "no start"}], "no start"),
        ([(0.0, 1.0)], "start, end, text"),
        ({"text": "no timestamps"}, "segment"),
    ],
)
def test_invalid_segments_raise_value_error(segments: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        to_srt(segments)
