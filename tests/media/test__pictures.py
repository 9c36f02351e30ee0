"""Frames blended plane by plane, straight from the decoded frames' memory."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from media_helpers import make_clip
from numpy.typing import NDArray

from venice_video.media._pictures import (
    Blender,
    black_frame,
    copy_frame,
    encode_run,
    encoder_extradata,
    frame_planes,
    planes,
)

U8 = NDArray[np.uint8]


def _frame(width: int, height: int, seed: int) -> av.VideoFrame:
    """A yuv420p frame of noise, built from a packed array (its rows may be padded)."""
    rng = np.random.default_rng(seed)
    packed = rng.integers(0, 256, size=(height * 3 // 2, width), dtype=np.uint8)
    return av.VideoFrame.from_ndarray(packed, format="yuv420p")


def _reference(layers: list[tuple[U8, int]], black_share: int, shape: tuple[int, int]) -> U8:
    """The blend in plain integer arithmetic, on packed arrays: shares of 256, rounded."""
    width, height = shape
    total = np.zeros((height * 3 // 2, width), np.int64)
    for packed, share in layers:
        total += packed.astype(np.int64) * share
    total += black_frame(width, height).astype(np.int64) * black_share
    out: U8 = ((total + 128) >> 8).astype(np.uint8)
    return out


@pytest.mark.parametrize("size", [(64, 48), (70, 34)])  # the second has padded rows
def test_frame_planes_are_views_of_the_frame(size: tuple[int, int]) -> None:
    width, height = size
    frame = _frame(width, height, 1)
    packed = frame.to_ndarray()
    y, u, v = frame_planes(frame)
    for view, expected in zip((y, u, v), planes(packed, width, height), strict=True):
        assert np.array_equal(view, expected)
    y[0, 0] = 255 - y[0, 0]  # writes go to the frame itself: no copy was made
    assert frame.to_ndarray()[0, 0] == y[0, 0]


def test_frame_planes_of_a_picture_stored_bottom_up() -> None:
    frame = _frame(32, 32, 7)
    graph = av.filter.Graph()
    source = graph.add_buffer(width=32, height=32, format="yuv420p", time_base=Fraction(1, 24))
    flip, sink = graph.add("vflip"), graph.add("buffersink")
    source.link_to(flip)
    flip.link_to(sink)
    graph.configure()
    frame.pts, frame.time_base = 0, Fraction(1, 24)
    graph.push(frame)
    flipped = graph.pull()
    assert isinstance(flipped, av.VideoFrame)
    assert flipped.planes[0].line_size < 0  # FFmpeg flips by walking the rows backwards
    for view, expected in zip(
        frame_planes(flipped), planes(flipped.to_ndarray(), 32, 32), strict=True
    ):
        assert np.array_equal(view, expected)


@pytest.mark.parametrize("size", [(64, 48), (70, 34)])
def test_a_crossfade_blend_is_the_rounded_weighted_sum(size: tuple[int, int]) -> None:
    width, height = size
    a, b = _frame(width, height, 2), _frame(width, height, 3)
    blender = Blender(width, height)
    for weight in (1 / 13, 0.5, 12 / 13):
        out = blender.blend([(a, 1 - weight), (b, weight)])
        share = round(weight * 256)
        expected = _reference(
            [(a.to_ndarray(), round((1 - weight) * 256)), (b.to_ndarray(), share)],
            0,
            (width, height),
        )
        assert np.array_equal(out.to_ndarray(), expected)
    # The inputs (decoded frames, in real use) are left as they were.
    assert np.array_equal(a.to_ndarray(), _frame(width, height, 2).to_ndarray())


def test_a_fade_gives_the_rest_of_the_weight_to_black() -> None:
    width, height = 64, 48
    frame = _frame(width, height, 4)
    blender = Blender(width, height)
    out = blender.blend([(frame, 0.25)])
    assert np.array_equal(out.to_ndarray(), _reference([(frame.to_ndarray(), 64)], 192, (64, 48)))
    gone = blender.blend([(frame, 0.0)])
    assert np.array_equal(gone.to_ndarray(), black_frame(width, height))
    whole = blender.blend([(frame, 1.0)])
    assert np.array_equal(whole.to_ndarray(), frame.to_ndarray())
    assert whole is not frame


def test_each_blend_is_a_new_frame_and_a_copy_can_be_drawn_on() -> None:
    width, height = 64, 48
    a, b = _frame(width, height, 5), _frame(width, height, 6)
    blender = Blender(width, height)
    first = blender.blend([(a, 0.5), (b, 0.5)])
    kept = first.to_ndarray()
    blender.blend([(b, 0.9), (a, 0.1)])  # the scratch memory is reused, the output is not
    assert np.array_equal(first.to_ndarray(), kept)

    copy = copy_frame(a)
    frame_planes(copy)[0][:] = 16
    assert not np.array_equal(copy.to_ndarray(), a.to_ndarray())
    assert np.array_equal(a.to_ndarray(), _frame(width, height, 5).to_ndarray())


def test_runs_are_encoded_with_the_engines_stream_parameters(tmp_path: Path) -> None:
    # A clip in the engine's encoding (two x264 threads) and a run encoded on its own (one):
    # the codec data must agree, or nothing could be copied around a transition.
    clip = make_clip(tmp_path / "engine.mp4", seconds=0.5)
    with av.open(str(clip)) as container:
        shot_extradata = bytes(container.streams.video[0].codec_context.extradata or b"")
        frames = list(container.decode(video=0))
    run = encode_run(frames, 160, 96, Fraction(24))

    assert run.extradata == shot_extradata == encoder_extradata(160, 96, Fraction(24))
    assert run.frames == list(range(len(frames)))
    assert run.packets[0].is_keyframe
