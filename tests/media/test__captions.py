"""Captions: merged spans, SubRip/WebVTT text, the timed-text track, burned-in boxes."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from media_helpers import parse_timed_text, subtitle_samples

from venice_video.media import Cue
from venice_video.media._captions import (
    CaptionPainter,
    add_caption_stream,
    caption_packets,
    caption_spans,
    check_cues,
    srt_text,
    vtt_text,
)
from venice_video.media._pictures import add_h264_stream, black_frame, planes, to_video_frame


def test_overlapping_cues_share_the_screen() -> None:
    cues = [Cue(0.0, 2.0, "one"), Cue(1.0, 3.0, "two"), Cue(5.0, 9.0, "  three \n\n x ")]

    assert caption_spans(cues, 6.0) == [
        (0.0, 1.0, "one"),
        (1.0, 2.0, "one\ntwo"),
        (2.0, 3.0, "two"),
        (5.0, 6.0, "three\nx"),  # cut at the film's end, blank lines dropped
    ]
    assert caption_spans([Cue(0.0, 1.0, "   ")], 5.0) == []


def test_srt_and_vtt_text_is_in_time_order() -> None:
    cues = [Cue(2.0, 3.5, "later"), Cue(0.25, 1.0, "first <b>")]

    srt, vtt = srt_text(cues), vtt_text(cues)
    assert srt.startswith("1\n00:00:00,250 --> 00:00:01,000\nfirst <b>\n")
    assert vtt.startswith("WEBVTT\n")
    assert parse_timed_text(vtt) == [(0.25, 1.0, "first &lt;b&gt;"), (2.0, 3.5, "later")]
    assert parse_timed_text(srt) == [(0.25, 1.0, "first <b>"), (2.0, 3.5, "later")]


@pytest.mark.parametrize(
    ("cue", "message"),
    [
        (Cue(-1.0, 1.0, "x"), "invalid time"),
        (Cue(1.0, 1.0, "x"), "not after its start"),
        (Cue(9.0, 11.0, "x"), "after the film's end"),
        (Cue(float("nan"), 1.0, "x"), "invalid time"),
    ],
)
def test_bad_cues_are_named(cue: Cue, message: str) -> None:
    with pytest.raises(ValueError, match=f"cue 1 .*{message}"):
        check_cues([Cue(0.0, 1.0, "fine"), cue], 5.0)


def test_the_subtitle_track_keeps_text_exactly(tmp_path: Path) -> None:
    path = tmp_path / "subs.mp4"
    spans = [(0.5, 1.25, "Braces {\\an8} stay, and a back\\slash"), (2.0, 2.5, "ünïcödé ✓")]
    with av.open(str(path), "w", format="mp4") as out:
        video = add_h264_stream(out, 64, 64, Fraction(24))
        stream = add_caption_stream(out, language="eng")
        out.start_encoding()
        for k in range(72):
            out.mux(video.encode(to_video_frame(black_frame(64, 64), k, Fraction(24))))
        out.mux(video.encode(None))
        for packet in caption_packets(stream, spans):
            out.mux(packet)

    assert subtitle_samples(path) == spans
    with av.open(str(path)) as container:
        track = container.streams.subtitles[0]
        assert track.codec_context.name == "mov_text"
        assert track.language == "eng"


def test_a_burned_in_caption_is_a_box_at_the_bottom() -> None:
    width, height = 320, 180
    frame = black_frame(width, height)
    painter = CaptionPainter(width, height)
    y, u, v = planes(frame, width, height)
    painter.draw((y, u, v), "A caption long enough to wrap onto a second line of the frame")

    rows = np.flatnonzero((y != 16).any(axis=1))
    assert rows.min() > height // 2 and rows.max() < height  # the bottom half only
    assert y.max() > 200  # white text
    cols = np.flatnonzero((y != 16).any(axis=0))
    assert abs((cols.min() + cols.max()) / 2 - width / 2) < 4  # centred
    assert np.abs(u.astype(int) - 128).max() <= 3  # grey and white: no colour
