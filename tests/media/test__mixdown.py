"""A film's sound: loud parts found, AAC encoded in spans that join seamlessly."""

from __future__ import annotations

import io
import itertools
import math
import threading
import time
from collections.abc import Callable
from typing import Any

import av
import numpy as np
import pytest
from numpy.typing import NDArray

from venice_video.media import _mixdown
from venice_video.media._mixdown import (
    RATE,
    AudioEncoder,
    FilmSound,
    _chunks,
    _encode_span,
    _Placer,
    limit,
    loud_spans,
)

F32 = NDArray[np.float32]


def _signal(seconds: float) -> F32:
    """A chord with a noise burst every 0.4 s: tonal and transient sound both."""
    n = round(seconds * RATE)
    t = np.arange(n) / RATE
    mono = 0.2 * np.sin(2 * math.pi * 220 * t) + 0.15 * np.sin(2 * math.pi * 277 * t)
    rng = np.random.default_rng(7)
    for start in range(0, n, round(0.4 * RATE)):
        burst = min(2000, n - start)
        mono[start : start + burst] += rng.standard_normal(burst) * np.exp(-np.arange(burst) / 300)
    return np.ascontiguousarray(np.stack([mono, mono * 0.8]).astype(np.float32))


def _decode(packets: list[Any]) -> F32:
    decoder: Any = av.CodecContext.create("aac", "r")
    decoder.sample_rate = RATE
    decoder.layout = "stereo"
    chunks = []
    for packet in packets:
        for frame in decoder.decode(av.Packet(bytes(packet))):
            chunks.append(frame.to_ndarray())
    out: F32 = np.concatenate(chunks, axis=1)[:, 1024:]  # drop the encoder's priming
    return out


def test_spans_encoded_apart_join_seamlessly() -> None:
    pcm = _signal(4.0)
    total = pcm.shape[1]
    whole = list(_encode_span(pcm, 0, total, last=True))
    cut = 107 * 1024
    parts = list(_encode_span(pcm, 0, cut, last=False)) + list(
        _encode_span(pcm, cut, total, last=True)
    )

    assert [p.pts for p in parts] == [p.pts for p in whole]
    one, two = _decode(whole)[:, :total], _decode(parts)[:, :total]

    def error(decoded: F32, lo: int, hi: int) -> float:
        return float(np.sqrt(np.mean((decoded[:, lo:hi] - pcm[:, lo:hi]) ** 2)))

    # The second encoder codes its first seconds a little differently (its rate control starts
    # afresh), but the join itself is no worse than its own frames: no click, no gap.
    assert error(two, cut - 1024, cut + 1024) < 2 * error(two, cut + 8192, cut + 40960)
    assert np.abs(two[:, cut - 2048 : cut + 2048] - pcm[:, cut - 2048 : cut + 2048]).max() < 0.05
    assert error(two, 0, total) < 1.5 * error(one, 0, total)
    # Without the sound around each span the join would be a step (checks the test can fail).
    naive = (
        list(_encode_span(pcm[:, :cut], 0, cut, last=True))[:-1]
        + [p for p in _encode_span(np.ascontiguousarray(pcm[:, cut:]), 0, total - cut, last=True)][
            1:
        ]
    )
    bad = _decode(naive)[:, :total]
    assert error(bad, cut - 1024, cut + 1024) > 3 * error(two, cut - 1024, cut + 1024)


def test_long_sound_is_split_in_frame_aligned_spans() -> None:
    assert _chunks(10 * RATE) == [(0, 10 * RATE)]
    spans = _chunks(120 * RATE)
    assert len(spans) == 4
    assert spans[0][0] == 0 and spans[-1][1] == 120 * RATE
    assert all(hi == lo for (_, hi), (lo, _) in zip(spans, spans[1:], strict=False))
    assert all(lo % 1024 == 0 for lo, _ in spans)
    assert len(_chunks(3600 * RATE)) == 4


def test_loud_parts_are_found() -> None:
    pcm = np.zeros((2, 3 * RATE), np.float32)
    t = np.arange(RATE // 2) / RATE
    pcm[:, RATE : RATE + RATE // 2] = 0.3 * np.sin(2 * math.pi * 200 * t)
    pcm[:, 2 * RATE :] = 0.001  # faint hum, not loud

    spans = loud_spans(pcm)
    assert len(spans) == 1
    start, end = spans[0]
    assert math.isclose(start, 1.0, abs_tol=0.03) and math.isclose(end, 1.5, abs_tol=0.03)


def test_peaks_are_bent_within_full_scale_and_quiet_sound_untouched() -> None:
    quiet = np.full((2, 100), 0.5, np.float32)
    assert np.array_equal(limit(quiet.copy()), quiet)
    loud = np.array([[0.95, 1.5, -3.0, 0.2]], np.float32)
    out = limit(loud.copy())
    assert np.abs(out).max() <= 1.0
    assert out[0, 3] == np.float32(0.2)
    assert 0.9 < out[0, 0] < out[0, 1] < 1.0 and out[0, 2] < -0.9


def _frames(pcm: F32, sizes: list[int]) -> list[av.AudioFrame]:
    frames, at = [], 0
    for n in sizes:
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(pcm[:, at : at + n]), format="fltp", layout="stereo"
        )
        frame.sample_rate = RATE
        frames.append(frame)
        at += n
    return frames


def test_decoded_frames_are_laid_into_place_from_any_offset() -> None:
    pcm = _signal(0.1)
    sizes = [1024, 1000, 977, 1024, 775]  # 4800 samples in frames of any length
    for offset, count in ((0, 4800), (1500, 2000), (-300, 1000), (4000, 2000), (5000, 100)):
        out = np.zeros((2, count), np.float32)
        placer = _Placer(out, offset)
        for frame in _frames(pcm, sizes):
            placer.add(frame)
        padded = np.concatenate([np.zeros((2, max(0, -offset)), np.float32), pcm], axis=1)
        expected = padded[:, max(0, offset) : max(0, offset) + count]
        assert np.array_equal(out[:, : expected.shape[1]], expected)
        assert not out[:, expected.shape[1] :].any()  # past the sound: silence
        assert placer.full == (expected.shape[1] == count)


def _in_steps(pcm: F32, steps: int) -> Callable[[FilmSound], None]:
    """Work out ``pcm`` into a film's sound in a few steps, saying what is final after each."""

    def compute(sound: FilmSound) -> None:
        bounds = np.linspace(0, pcm.shape[1], steps + 1).astype(int)
        for lo, hi in itertools.pairwise(bounds):
            sound.pcm[:, lo:hi] = pcm[:, lo:hi]
            time.sleep(0.01)
            sound.finish(int(hi))

    return compute


def test_encoded_sound_is_handed_over_in_order_up_to_each_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_mixdown, "_CHUNK_S", 2.0)  # spans of 2 s: three for 7 s
    pcm = _signal(7.0)
    spans = _chunks(pcm.shape[1])
    assert len(spans) == 3
    last = len(spans) - 1
    expected = [
        p.pts for k, (lo, hi) in enumerate(spans) for p in _encode_span(pcm, lo, hi, k == last)
    ]
    with av.open(io.BytesIO(), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=RATE)
        encoder = AudioEncoder(pcm.shape[1], _in_steps(pcm, 5)).start()
        encoder.stream = stream
        try:
            got: list[int] = []
            before = -math.inf  # the first packet, the encoder's priming, starts before 0
            for seconds in (0.0, 0.5, 0.5, 1.9, 2.2, 5.0, 6.9, None):
                packets = encoder.until(seconds)
                times = [p.pts for p in packets]
                # Nothing from before the last call's time, nothing from after this one's.
                assert all(before * RATE <= t for t in times)
                if seconds is not None:
                    assert all(t < seconds * RATE for t in times)
                    before = seconds
                assert all(p.stream is stream for p in packets)
                got += times
            assert got == expected
            assert encoder.until(None) == []
        finally:
            encoder.close()


def test_a_failure_while_working_out_the_sound_is_raised_to_the_muxer() -> None:
    def broken(sound: FilmSound) -> None:
        sound.finish(RATE)  # the first second is there, and then it fails
        raise RuntimeError("no sound today")

    encoder = AudioEncoder(10 * RATE, broken).start()
    try:
        with pytest.raises(RuntimeError, match="no sound today"):
            encoder.until(5.0)
    finally:
        encoder.close()


def test_sound_becomes_final_in_order_and_is_limited_once() -> None:
    sound = FilmSound(1000)
    sound.pcm[:] = 0.95  # over the limit: bent towards 1.0
    sound.finish(400)
    bent = float(sound.pcm[0, 0])
    assert 0.9 < bent < 0.95 and np.all(sound.pcm[:, :400] == bent)
    assert np.all(sound.pcm[:, 400:] == np.float32(0.95))  # not final yet: untouched
    sound.finish(300)  # going back is nothing
    sound.finish(1000)
    assert np.all(sound.pcm == bent)  # every sample bent exactly once
    assert sound.wait(1000) and sound.wait(5000)

    waiting = FilmSound(1000)
    results: list[bool] = []
    waiter = threading.Thread(target=lambda: results.append(waiting.wait(500)))
    waiter.start()
    waiting.finish(499)
    time.sleep(0.05)
    assert not results  # still waiting for the 500th sample
    waiting.stop()
    waiter.join(5)
    assert results == [False]
