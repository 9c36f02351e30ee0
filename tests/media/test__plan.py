"""Frame arithmetic of a film: placement, what each frame shows, what can be copied."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from venice_video.media import Clip, FilmSpec, Transition
from venice_video.media._plan import (
    CopyRun,
    CopySource,
    EncodeRun,
    film_frames,
    layers_at,
    layout,
    plan_runs,
)


def spec(*clips: Clip) -> FilmSpec:
    return FilmSpec(64, 64, Fraction(24), clips)


def clip(kind: str = "cut", seconds: float = 0.0, **trims: float) -> Clip:
    return Clip(Path("x.mp4"), transition=Transition(kind, seconds), **trims)  # type: ignore[arg-type]


# 5 s shots at 24 fps with keyframes every 2 s, as the local engine writes them.
ENGINE = CopySource(frames=120, keyframes=(0, 48, 96), reorders=False)


def test_crossfades_overlap_and_fades_do_not() -> None:
    placed = layout(spec(clip("crossfade", 0.5), clip("fade", 0.25), clip()), [5.0, 5.0, 5.0])

    assert [(c.start, c.frames) for c in placed] == [(0, 120), (108, 120), (228, 120)]
    assert film_frames(placed) == 348
    assert (placed[0].overlap_out, placed[1].overlap_in) == (12, 12)
    assert (placed[1].fade_out, placed[2].fade_in) == (6, 6)


def test_a_crossfade_blends_with_weights_adding_to_one() -> None:
    placed = layout(spec(clip("crossfade", 0.5), clip()), [5.0, 5.0])

    weights = []
    for frame in range(108, 120):
        a, b = layers_at(placed, frame)
        assert a.weight + b.weight == pytest.approx(1.0)
        assert (a.clip, b.clip, b.local) == (0, 1, frame - 108)
        weights.append(b.weight)
    assert weights == sorted(weights) and 0 < weights[0] and weights[-1] < 1
    assert [layer.clip for layer in layers_at(placed, 107)] == [0]
    assert [layer.clip for layer in layers_at(placed, 120)] == [1]


def test_a_fade_reaches_black_and_comes_back() -> None:
    placed = layout(spec(clip("fade", 0.25), clip()), [2.0, 2.0])

    out = [layers_at(placed, f)[0].weight for f in range(42, 48)]
    back = [layers_at(placed, f)[0].weight for f in range(48, 54)]
    assert out[-1] == 0.0 and out == sorted(out, reverse=True)
    assert back[-1] == 1.0 and back == sorted(back) and back[0] > 0
    # The last clip's fade has nothing after it: the film fades out.
    end = layout(spec(clip(), clip("fade", 0.5)), [1.0, 1.0])
    assert layers_at(end, 47)[0].weight == 0.0


def test_plain_cuts_copy_everything() -> None:
    placed = layout(spec(clip(), clip(), clip()), [5.0, 5.0, 5.0])

    runs = plan_runs(placed, [ENGINE] * 3)
    assert runs == [CopyRun(0, 0, 120, 0), CopyRun(1, 0, 120, 120), CopyRun(2, 0, 120, 240)]


def test_a_crossfade_re_encodes_from_the_cut_to_the_next_keyframe() -> None:
    placed = layout(spec(clip("crossfade", 0.5), clip()), [5.0, 5.0])

    runs = plan_runs(placed, [ENGINE, ENGINE])
    # Frames only refer back, so the first shot is copied up to the crossfade; the second is
    # encoded until its next keyframe, as its frames there refer to frames that were blended.
    assert runs == [CopyRun(0, 0, 108, 0), EncodeRun(108, 48), CopyRun(1, 48, 72, 156)]


def test_b_frames_are_only_copied_in_whole_groups() -> None:
    placed = layout(spec(clip("crossfade", 0.5), clip()), [5.0, 5.0])
    reordered = CopySource(frames=120, keyframes=(0, 48, 96), reorders=True)

    runs = plan_runs(placed, [reordered, reordered])
    assert runs == [CopyRun(0, 0, 96, 0), EncodeRun(96, 60), CopyRun(1, 48, 72, 156)]


def test_trims_off_keyframes_and_captions_are_encoded() -> None:
    placed = layout(spec(clip(trim_start=0.5), clip()), [5.0, 5.0])
    runs = plan_runs(placed, [ENGINE, ENGINE], busy=[(150, 160)])

    assert runs == [
        EncodeRun(0, 36),  # 0.5 s trimmed: the first keyframe kept is 2 s into the shot
        CopyRun(0, 48, 72, 36),
        CopyRun(1, 0, 42, 108),
        EncodeRun(150, 54),  # a caption from frame 150 to 160, then on to the next keyframe
        CopyRun(1, 96, 24, 204),
    ]


def test_clips_that_cannot_be_copied_are_encoded_whole() -> None:
    placed = layout(spec(clip(), clip()), [5.0, 5.0])

    assert plan_runs(placed, [None, ENGINE]) == [EncodeRun(0, 120), CopyRun(1, 0, 120, 120)]


def test_impossible_layouts_are_refused() -> None:
    with pytest.raises(ValueError, match="clip 1 .* too short for its crossfades"):
        layout(spec(clip("crossfade", 1.0), clip("crossfade", 1.0), clip()), [5.0, 1.5, 5.0])
    with pytest.raises(ValueError, match="clip 0 .* trimmed to nothing"):
        layout(spec(clip(trim_start=1.0)), [1.0])
    with pytest.raises(ValueError, match="unknown transition 'wipe'"):
        layout(spec(clip("wipe", 1.0)), [1.0])
    with pytest.raises(ValueError, match="trim_end must be a finite number"):
        layout(spec(clip(trim_end=float("nan"))), [1.0])
