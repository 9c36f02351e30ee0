"""Film assembly: shots joined by cuts, crossfades and fades, with sound and captions."""

from __future__ import annotations

import math
import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from media_helpers import (
    RATE,
    H,
    W,
    make_clip,
    parse_timed_text,
    read_film,
    subtitle_samples,
    tone,
    video_packets,
)

from venice_video.media import (
    AssemblyError,
    Clip,
    Cue,
    FilmSpec,
    MediaError,
    Soundtrack,
    Transition,
    assemble,
    probe_duration,
    timeline,
    verify,
)
from venice_video.media._plan import CopyRun
from venice_video.media._writer import check_film

FPS = Fraction(24)
FRAME = 1 / 24


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Clips in the local engine's encoding (keyframes every 2 s), made once for the module."""
    d = tmp_path_factory.mktemp("clips")
    return {
        # 1 s each: frame k of "a" at luma 40 + 4k, of "b" at 150 + 2k. "a" ends on a peak of
        # its 100 Hz tone and "b" starts on a trough, so a hard join would step by 0.8.
        "a": make_clip(d / "a.mp4", sound=tone(100, phase=math.pi / 2)),
        "b": make_clip(
            d / "b.mp4", luma=lambda k: 150 + 2 * k, sound=tone(100, phase=-math.pi / 2)
        ),
        "silent": make_clip(d / "silent.mp4", luma=lambda k: 200),
        # 2.5 s, flat: keyframes at 0 and 2 s.
        "dark": make_clip(d / "dark.mp4", seconds=2.5, luma=lambda k: 60, sound=tone(220)),
        "light": make_clip(d / "light.mp4", seconds=2.5, luma=lambda k: 180, sound=tone(330)),
    }


def film(*clips: Clip, **fields: object) -> FilmSpec:
    return FilmSpec(W, H, FPS, tuple(clips), **fields)  # type: ignore[arg-type]


def no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.endswith(".part")]


# --------------------------------------------------------------------------------------------
# Cuts: copied, continuous


def test_plain_cuts_copy_the_compressed_frames_untouched(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "film.mp4"
    result = assemble(film(Clip(clips["a"]), Clip(clips["b"]), Clip(clips["a"])), out)

    assert result.copied_streams
    assert result.path == out and out.is_file() and no_temp_files(tmp_path)
    sources = video_packets(clips["a"]) + video_packets(clips["b"]) + video_packets(clips["a"])
    assert video_packets(out) == sources
    assert result.srt_path is None and result.vtt_path is None


def test_a_chain_of_cuts_plays_continuously(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "film.mp4"
    result = assemble(film(Clip(clips["a"]), Clip(clips["b"]), Clip(clips["silent"])), out)

    got = read_film(out)
    expected = read_film(clips["a"]).lumas + read_film(clips["b"]).lumas + [200.0] * 24
    assert len(got.lumas) == 72
    assert got.lumas == pytest.approx(expected, abs=0.5)
    steps = np.diff(got.pts_seconds)
    assert steps == pytest.approx([FRAME] * 71, abs=1e-4)
    assert result.duration == pytest.approx(3.0, abs=FRAME)
    assert got.duration == pytest.approx(3.0, abs=FRAME)
    assert [p.start for p in result.placed] == pytest.approx([0.0, 1.0, 2.0])


# --------------------------------------------------------------------------------------------
# Transitions


def test_crossfade_overlaps_blends_and_copies_the_rest(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "film.mp4"
    spec = film(Clip(clips["dark"], transition=Transition("crossfade", 0.5)), Clip(clips["light"]))
    result = assemble(spec, out)

    assert result.duration == pytest.approx(2.5 + 2.5 - 0.5, abs=FRAME)
    got = read_film(out)
    assert len(got.lumas) == 108
    assert got.duration == pytest.approx(4.5, abs=FRAME)
    # Clip 1 starts 0.5 s before clip 0 ends.
    assert result.placed[1].start == pytest.approx(2.0)
    assert result.placed[0].end == pytest.approx(2.5)
    blend = got.lumas[48:60]
    assert all(60 + 2 < v < 180 - 2 for v in blend)
    assert all(b > a for a, b in zip(blend, blend[1:], strict=False))
    assert got.lumas[:48] == pytest.approx([60] * 48, abs=1.5)
    assert got.lumas[60:] == pytest.approx([180] * 48, abs=1.5)
    # Both shots' first two seconds hold frames outside the crossfade that start on a keyframe.
    assert result.copied_streams


def test_fade_goes_through_black_without_overlap(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "film.mp4"
    spec = film(Clip(clips["dark"], transition=Transition("fade", 0.25)), Clip(clips["light"]))
    result = assemble(spec, out)

    assert result.duration == pytest.approx(5.0, abs=FRAME)
    got = read_film(out)
    assert len(got.lumas) == 120
    assert min(got.lumas) == pytest.approx(16, abs=2)  # video black
    darkest = int(np.argmin(got.lumas))
    assert 54 <= darkest <= 62
    assert got.lumas[56] < got.lumas[54] < got.lumas[50]  # going down into the fade
    assert got.lumas[60] < got.lumas[62] < got.lumas[66]  # and up out of it
    # The sound dips with the picture.
    at = round(2.5 * RATE)
    assert np.abs(got.pcm[:, at - 200 : at + 200]).max() < 0.05


def test_smart_and_full_re_encode_look_alike(clips: dict[str, Path], tmp_path: Path) -> None:
    spec = film(
        Clip(clips["dark"], transition=Transition("crossfade", 0.5)),
        Clip(clips["light"], transition=Transition("fade", 0.25)),
        Clip(clips["a"]),
    )
    smart = assemble(spec, tmp_path / "smart.mp4")
    full = assemble(spec, tmp_path / "full.mp4", smart=False)

    assert smart.copied_streams and not full.copied_streams
    a, b = read_film(smart.path), read_film(full.path)
    assert len(a.lumas) == len(b.lumas) == round(smart.duration * 24)
    assert a.lumas == pytest.approx(b.lumas, abs=2)
    assert smart.placed == full.placed


def test_trims_drop_frames_at_both_ends(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "film.mp4"
    spec = film(Clip(clips["a"], trim_start=0.25, trim_end=0.25), Clip(clips["b"], trim_end=0.5))
    result = assemble(spec, out)

    assert result.duration == pytest.approx(0.5 + 0.5, abs=FRAME)
    got = read_film(out)
    source_a, source_b = read_film(clips["a"]).lumas, read_film(clips["b"]).lumas
    assert got.lumas == pytest.approx(source_a[6:18] + source_b[:12], abs=1.5)


def test_shots_of_another_size_and_rate_are_fitted(clips: dict[str, Path], tmp_path: Path) -> None:
    square = make_clip(
        tmp_path / "square.mp4",
        fps=30,
        size=(64, 64),
        luma=lambda k: 200,
        sound=tone(440, amplitude=0.3),
        audio_rate=44_100,
    )
    out = tmp_path / "film.mp4"
    result = assemble(film(Clip(clips["a"]), Clip(square)), out)

    assert result.duration == pytest.approx(2.0, abs=FRAME)
    got = read_film(out, keep_frames=True)
    assert len(got.frames) == 48
    frame = got.frames[-1]
    assert frame.shape == (H * 3 // 2, W)
    assert frame[:H, :8].mean() == pytest.approx(16, abs=2)  # black bars at the sides
    assert frame[:H, W // 2 - 10 : W // 2 + 10].mean() == pytest.approx(200, abs=3)
    # The first shot is still copied; only the foreign one is re-encoded.
    assert result.copied_streams
    # Its 44.1 kHz sound is resampled into place, neither shifted nor stretched.
    assert _level(got.pcm, 440, 1.1, 1.9) == pytest.approx(0.3, rel=0.05)
    assert _level(got.pcm, 440, 0.1, 0.9) < 0.01
    assert got.pcm.shape[1] >= 2.0 * RATE


# --------------------------------------------------------------------------------------------
# Sound


def test_sound_has_no_gaps_and_no_clicks_at_cuts(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "film.mp4"
    result = assemble(film(Clip(clips["a"]), Clip(clips["b"]), Clip(clips["a"])), out)

    pcm = read_film(out).pcm
    expected = result.duration * RATE
    # Decoders may add the encoder's padding of the last AAC frame (under 1024 samples).
    assert expected <= pcm.shape[1] < expected + 1024
    for join in (1.0, 2.0):  # "a" ends on +0.4 and "b" starts on -0.4
        at = round(join * RATE)
        window = pcm[:, at - 960 : at + 960]
        assert np.abs(np.diff(window, axis=1)).max() < 0.05
    # No gap: every 20 ms of the film carries sound.
    hop = RATE // 50
    mono = pcm[0, : int(expected) // hop * hop].reshape(-1, hop)
    rms = np.sqrt((mono**2).mean(axis=1))
    assert rms[1:-1].min() > 0.05


def test_crossfaded_sound_ramps_across_without_a_gap(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    # "dark" plays 220 Hz and "light" 330 Hz, both at 0.4; they overlap from 2.0 s to 2.5 s.
    spec = film(Clip(clips["dark"], transition=Transition("crossfade", 0.5)), Clip(clips["light"]))
    result = assemble(spec, tmp_path / "film.mp4")
    pcm = read_film(result.path).pcm

    assert result.duration * RATE <= pcm.shape[1] < result.duration * RATE + 1024
    assert _level(pcm, 220, 1.5, 1.95) == pytest.approx(0.4, rel=0.05)
    assert _level(pcm, 330, 1.5, 1.95) < 0.01
    assert _level(pcm, 330, 2.55, 3.0) == pytest.approx(0.4, rel=0.05)
    assert _level(pcm, 220, 2.55, 3.0) < 0.01
    # Across the overlap one goes down as the other comes up, the two adding up to the whole.
    for start in (2.0, 2.1, 2.2, 2.3, 2.4):
        out, into = _level(pcm, 220, start, start + 0.1), _level(pcm, 330, start, start + 0.1)
        assert out + into == pytest.approx(0.4, rel=0.08)
        assert into == pytest.approx(0.4 * (start + 0.05 - 2.0) / 0.5, abs=0.03)
    hop = RATE // 50
    mono = pcm[0, : int(result.duration * RATE) // hop * hop].reshape(-1, hop)
    assert np.sqrt((mono**2).mean(axis=1))[1:-1].min() > 0.1  # no gap anywhere


def test_the_sound_of_shots_laid_in_is_final_before_the_rest_is_decoded(
    clips: dict[str, Path],
) -> None:
    from venice_video.media._mixdown import film_audio
    from venice_video.media._plan import film_frames, layout
    from venice_video.media._shots import probe_shot

    clip_list = (
        Clip(clips["dark"], transition=Transition("crossfade", 0.5)),
        Clip(clips["light"], transition=Transition("fade", 0.25)),
        Clip(clips["a"]),
        Clip(clips["silent"], transition=Transition("crossfade", 0.25)),
        Clip(clips["b"]),
    )
    shots = [probe_shot(i, c.path) for i, c in enumerate(clip_list)]
    placed = layout(film(*clip_list), [shot.duration for shot in shots])
    frames = film_frames(placed)
    out = np.zeros((2, round(frames / FPS * RATE)), np.float32)
    seen: list[tuple[int, np.ndarray]] = []
    mix = film_audio(
        placed, shots, FPS, frames, out=out, final=lambda n: seen.append((n, out[:, :n].copy()))
    )

    assert mix is out
    finals = [n for n, _ in seen]
    assert finals == sorted(finals) and finals[-1] == mix.shape[1] and len(finals) == 5
    for n, snapshot in seen:  # what was said to be final did not change afterwards
        assert np.array_equal(snapshot, mix[:, :n])
    assert np.array_equal(mix, film_audio(placed, shots, FPS, frames))


def test_silent_shots_get_silence(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "film.mp4"
    result = assemble(film(Clip(clips["a"]), Clip(clips["silent"]), Clip(clips["b"])), out)

    pcm = read_film(out).pcm
    assert pcm.shape[1] >= result.duration * RATE
    silent = pcm[:, round(1.05 * RATE) : round(1.95 * RATE)]
    loud = pcm[:, round(0.05 * RATE) : round(0.95 * RATE)]
    assert np.abs(silent).max() < 0.01
    assert np.sqrt((loud**2).mean()) > 0.2


def _level(pcm: np.ndarray, freq: float, start: float, end: float) -> float:
    """Amplitude of ``freq`` in the left channel between two times."""
    seg = pcm[0, round(start * RATE) : round(end * RATE)].astype(np.float64)
    t = np.arange(seg.size) / RATE
    return float(2 * abs(np.mean(seg * np.exp(-2j * np.pi * freq * t))))


def test_soundtrack_is_mixed_under_faded_and_ducked(tmp_path: Path) -> None:
    shot = make_clip(tmp_path / "shot.mp4", seconds=4.0)  # no sound of its own
    music = make_clip(tmp_path / "music.mp4", seconds=6.0, sound=tone(1000, amplitude=0.5))
    spec = FilmSpec(
        W,
        H,
        FPS,
        (Clip(shot),),
        soundtrack=Soundtrack(music, volume=0.8, fade_in=0.5, fade_out=0.5, duck_under_speech=True),
        cues=(Cue(1.5, 2.5, "Speech here"),),
    )
    result = assemble(spec, tmp_path / "film.mp4")
    pcm = read_film(result.path).pcm

    full = _level(pcm, 1000, 0.7, 1.1)
    assert full == pytest.approx(0.5 * 0.8, rel=0.1)
    ducked = _level(pcm, 1000, 1.8, 2.3)
    assert 20 * math.log10(ducked / full) == pytest.approx(-12, abs=1.5)
    assert _level(pcm, 1000, 3.0, 3.4) == pytest.approx(full, rel=0.1)  # back up after
    assert _level(pcm, 1000, 0.0, 0.1) < full / 3  # fading in
    assert np.abs(pcm[:, round(3.99 * RATE) : round(4.0 * RATE)]).max() < 0.05  # faded out


def test_ducking_without_cues_follows_the_shots_loud_parts(tmp_path: Path) -> None:
    quiet = make_clip(tmp_path / "quiet.mp4", seconds=1.5)
    loud = make_clip(tmp_path / "loud.mp4", seconds=1.5, sound=tone(300, amplitude=0.3))
    music = make_clip(tmp_path / "music.mp4", seconds=4.0, sound=tone(1000, amplitude=0.3))
    spec = FilmSpec(
        W,
        H,
        FPS,
        (Clip(quiet), Clip(loud)),
        soundtrack=Soundtrack(music, fade_in=0, fade_out=0, duck_under_speech=True, duck_db=-20),
    )
    pcm = read_film(assemble(spec, tmp_path / "film.mp4").path).pcm

    before, during = _level(pcm, 1000, 0.3, 1.1), _level(pcm, 1000, 2.0, 2.8)
    assert 20 * math.log10(during / before) == pytest.approx(-20, abs=2)


# --------------------------------------------------------------------------------------------
# Captions


def test_captions_become_a_subtitle_track_and_srt_and_vtt_files(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    clip_list = (
        Clip(clips["dark"], transition=Transition("crossfade", 0.5)),
        Clip(clips["light"]),
        Clip(clips["a"]),
    )
    spec = film(*clip_list)
    placed = timeline(spec, [probe_duration(c.path) for c in clip_list])
    lines = ["First {shot} & <more>", "Second shot\non two lines", "Third: café"]
    # Each inside its shot, clear of the crossfade where two shots share the screen.
    spans = [(placed[0].start + 0.1, placed[1].start - 0.1), (placed[0].end + 0.1, 4.4)]
    spans.append((placed[2].start + 0.1, placed[2].end - 0.1))
    cues = tuple(Cue(a, b, text) for (a, b), text in zip(spans, lines, strict=True))
    out = tmp_path / "film.mp4"
    result = assemble(FilmSpec(W, H, FPS, clip_list, cues=cues), out)

    assert result.placed == placed
    assert ("subtitle", "mov_text") in read_film(out).streams
    samples = subtitle_samples(out)
    assert [s[2] for s in samples] == lines
    for (start, end, _), cue, p in zip(samples, cues, placed, strict=True):
        assert start == pytest.approx(cue.start, abs=0.001)
        assert end == pytest.approx(cue.end, abs=0.001)
        assert p.start <= start < end <= p.end
    assert result.srt_path == tmp_path / "film.srt"
    assert result.vtt_path == tmp_path / "film.vtt"
    srt = parse_timed_text(result.srt_path.read_text(encoding="utf-8"))
    vtt_text = result.vtt_path.read_text(encoding="utf-8")
    assert vtt_text.startswith("WEBVTT")
    vtt = parse_timed_text(vtt_text)
    for parsed in (srt, vtt):
        times = [t for c in parsed for t in c[:2]]
        assert times == pytest.approx([t for c in cues for t in (c.start, c.end)], abs=1e-3)
    assert [c[2] for c in srt] == lines
    assert vtt[0][2] == "First {shot} &amp; &lt;more&gt;"


def test_burned_in_captions_are_drawn_into_the_picture(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    clip_list = (Clip(clips["dark"]), Clip(clips["light"]))
    cues = (Cue(0.5, 1.5, "Hello there"),)
    plain = assemble(FilmSpec(W, H, FPS, clip_list, cues=cues), tmp_path / "plain.mp4")
    burned = assemble(
        FilmSpec(W, H, FPS, clip_list, cues=cues, burn_in=True), tmp_path / "burned.mp4"
    )

    a = read_film(plain.path, keep_frames=True).frames
    b = read_film(burned.path, keep_frames=True).frames
    assert len(a) == len(b) == 120

    def bottom(frame: np.ndarray) -> np.ndarray:
        return frame[H // 2 : H].astype(np.int16)

    assert np.abs(bottom(a[24]) - bottom(b[24])).max() > 60  # text at 1.0 s
    assert np.abs(bottom(a[6]) - bottom(b[6])).max() <= 3  # none at 0.25 s
    assert np.abs(bottom(a[100]) - bottom(b[100])).max() <= 3
    assert burned.copied_streams  # the second shot, after the caption, is still copied


# --------------------------------------------------------------------------------------------
# Other encodings


def test_shots_with_b_frames_are_copied_when_nothing_needs_encoding(tmp_path: Path) -> None:
    options = {"preset": "fast", "bf": "2", "g": "12"}
    one = make_clip(tmp_path / "one.mp4", engine_settings=False, options=options)
    two = make_clip(
        tmp_path / "two.mp4", luma=lambda k: 200 - 3 * k, engine_settings=False, options=options
    )
    cuts = assemble(film(Clip(one), Clip(two)), tmp_path / "cuts.mp4")

    assert cuts.copied_streams
    assert video_packets(cuts.path) == video_packets(one) + video_packets(two)
    got = read_film(cuts.path)
    assert got.lumas == pytest.approx(read_film(one).lumas + read_film(two).lumas, abs=0.5)

    # A crossfade needs encoded frames, which cannot share these shots' codec data.
    spec = film(Clip(one, transition=Transition("crossfade", 0.25)), Clip(two))
    blended = assemble(spec, tmp_path / "blend.mp4")
    assert not blended.copied_streams
    assert len(read_film(blended.path).lumas) == 48 - 6


def test_shots_whose_frames_are_not_evenly_spaced_are_not_copied(tmp_path: Path) -> None:
    from venice_video.media._pictures import add_h264_stream
    from venice_video.media._shots import probe_shot

    def clip(path: Path, late: int | None) -> Path:
        # Frame times in 1/48ths of a second: every other tick, one frame half a frame late.
        with av.open(str(path), "w", format="mp4") as out:
            video = add_h264_stream(out, W, H, FPS)
            video.codec_context.time_base = Fraction(1, 48)
            for k in range(24):
                frame = av.VideoFrame.from_ndarray(
                    np.full((H * 3 // 2, W), 100, np.uint8), format="yuv420p"
                )
                frame.pts = 2 * k + (k == late)
                frame.time_base = Fraction(1, 48)
                out.mux(video.encode(frame))
            out.mux(video.encode(None))
        return path

    steady = probe_shot(0, clip(tmp_path / "steady.mp4", None))
    uneven = probe_shot(1, clip(tmp_path / "uneven.mp4", 10))
    assert steady.frames == uneven.frames == 24
    assert steady.constant_rate and steady.copy_key() is not None
    assert not uneven.constant_rate and uneven.copy_key() is None


def test_shots_in_other_containers_are_read_with_their_streams_analysed(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    from venice_video.media._shots import probe_shot

    # A shot remuxed into Matroska: no MP4 index to rely on when it is opened again.
    mkv = tmp_path / "b.mkv"
    with av.open(str(clips["b"])) as source, av.open(str(mkv), "w", format="matroska") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in source.streams}
        for packet in source.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
    assert probe_shot(0, clips["b"]).indexed and not probe_shot(1, mkv).indexed

    result = assemble(film(Clip(clips["a"]), Clip(mkv)), tmp_path / "film.mp4")
    got = read_film(result.path)
    expected = read_film(clips["a"]).lumas + read_film(clips["b"]).lumas
    assert got.lumas == pytest.approx(expected, abs=0.5)
    assert _level(got.pcm, 100, 1.1, 1.9) == pytest.approx(0.4, rel=0.05)  # b's sound, in place


def test_shots_from_the_local_engine_are_copied_around_a_crossfade(tmp_path: Path) -> None:
    render_module = pytest.importorskip("venice_video.server._render")
    shots = []
    for k in range(2):
        path = tmp_path / f"engine-{k}.mp4"
        spec = render_module.RenderSpec(W, H, 2.5, prompt=f"shot {k}", seed=k, audio=True)
        render_module.render(spec, path)
        shots.append(path)
    spec = film(Clip(shots[0], transition=Transition("crossfade", 0.5)), Clip(shots[1]))
    result = assemble(spec, tmp_path / "film.mp4")

    assert result.copied_streams
    # The frames copied from the second shot's keyframe on are its own packets.
    assert video_packets(result.path)[-12:] == video_packets(shots[1])[-12:]
    # Spliced with runs encoded apart (on one x264 thread where the engine uses two), the film
    # decodes from end to end, and shows what a full re-encode shows.
    assert verify(result.path, decode="all").frames == 108
    full = assemble(spec, tmp_path / "full.mp4", smart=False)
    a, b = read_film(result.path), read_film(full.path)
    assert len(a.lumas) == len(b.lumas) == 108
    assert a.lumas == pytest.approx(b.lumas, abs=2)
    assert result.duration == pytest.approx(4.5, abs=FRAME)


# --------------------------------------------------------------------------------------------
# Errors and safety


def test_a_missing_or_corrupt_shot_is_a_clear_error(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "film.mp4"
    missing = tmp_path / "nowhere.mp4"
    with pytest.raises(AssemblyError, match=r"clip 1 \(.*nowhere\.mp4\): file not found") as e:
        assemble(film(Clip(clips["a"]), Clip(missing)), out)
    assert e.value.clip == 1
    assert isinstance(e.value, MediaError)  # in the SDK's error tree

    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(os.urandom(4096))
    with pytest.raises(AssemblyError, match=r"clip 0 \(.*garbage\.mp4\) could not be"):
        assemble(film(Clip(garbage)), out)

    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(clips["a"].read_bytes()[:3000])
    with pytest.raises(AssemblyError, match=r"clip 1 \(.*truncated\.mp4\)"):
        assemble(film(Clip(clips["a"]), Clip(truncated)), out)

    with pytest.raises(AssemblyError, match="soundtrack .* not found"):
        assemble(film(Clip(clips["a"]), soundtrack=Soundtrack(missing)), out)
    with pytest.raises(AssemblyError, match=r"soundtrack \(.*garbage\.mp4\) could not be"):
        assemble(film(Clip(clips["a"]), soundtrack=Soundtrack(garbage)), out)
    assert not out.exists() and no_temp_files(tmp_path)


def test_impossible_specs_are_refused_before_any_work(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "film.mp4"
    with pytest.raises(ValueError, match="even"):
        assemble(FilmSpec(W + 1, H, FPS, (Clip(clips["a"]),)), out)
    with pytest.raises(ValueError, match="too short for its crossfades"):
        assemble(
            film(Clip(clips["a"], transition=Transition("crossfade", 1.5)), Clip(clips["b"])), out
        )
    with pytest.raises(ValueError, match="trimmed to nothing"):
        assemble(film(Clip(clips["a"], trim_start=0.6, trim_end=0.6)), out)
    with pytest.raises(ValueError, match="cue 0 .* after the film's end"):
        assemble(film(Clip(clips["a"]), cues=(Cue(1.5, 2.0, "late"),)), out)
    assert not out.exists() and no_temp_files(tmp_path)


def test_nothing_is_replaced_unless_asked_and_never_a_non_file(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    spec = film(Clip(clips["a"]), cues=(Cue(0.1, 0.5, "hi"),))
    out = tmp_path / "film.mp4"
    out.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        assemble(spec, out)
    assert out.read_bytes() == b"precious"

    (tmp_path / "other.srt").write_text("mine")
    with pytest.raises(FileExistsError):
        assemble(spec, tmp_path / "other.mp4")
    assert not (tmp_path / "other.mp4").exists()

    result = assemble(spec, out, overwrite=True)
    assert result.copied_streams and out.read_bytes() != b"precious"

    folder = tmp_path / "folder.mp4"
    folder.mkdir()
    link = tmp_path / "link.mp4"
    link.symlink_to(out)
    for target in (folder, link):
        with pytest.raises(FileExistsError, match="not a regular file"):
            assemble(film(Clip(clips["a"])), target, overwrite=True)
    assert folder.is_dir() and link.is_symlink() and no_temp_files(tmp_path)


def test_verification_catches_frames_that_do_not_fit_the_stream(tmp_path: Path) -> None:
    good = make_clip(tmp_path / "good.mp4", sound=tone(200))
    foreign = make_clip(tmp_path / "foreign.mp4", engine_settings=False, options={"bf": "0"})
    spliced = tmp_path / "spliced.mp4"
    # The second clip's frames under the first clip's codec data: what a careless copy makes.
    with av.open(str(spliced), "w", format="mp4") as out:
        with av.open(str(good)) as source:
            video = out.add_stream_from_template(source.streams.video[0])
            audio = out.add_stream_from_template(source.streams.audio[0])
        number = 0
        for path in (good, foreign):
            with av.open(str(path)) as source:
                for packet in source.demux(source.streams.video[0]):
                    if packet.size:
                        packet.stream, packet.time_base = video, Fraction(1, 24)
                        packet.pts = packet.dts = number
                        number += 1
                        out.mux(packet)
        with av.open(str(good)) as source:
            for packet in source.demux(source.streams.audio[0]):
                if packet.size:
                    packet.stream = audio
                    out.mux(packet)
    runs = [CopyRun(0, 0, 24, 0), CopyRun(1, 0, 24, 24)]
    with pytest.raises(AssemblyError, match="does not decode"):
        check_film(spliced, film(Clip(good), Clip(foreign)), 48, runs, captions=False)
    # The same check passes the clips themselves.
    check_film(good, film(Clip(good)), 24, [CopyRun(0, 0, 24, 0)], captions=False)


def test_a_splice_that_does_not_fit_falls_back_to_a_full_re_encode(
    clips: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import venice_video.media._splice as splice
    import venice_video.media._writer as writer

    def mismatch(*args: object) -> None:
        raise splice.SpliceMismatch("simulated")

    monkeypatch.setattr(writer, "splice_piece", mismatch)
    spec = film(Clip(clips["dark"], transition=Transition("crossfade", 0.5)), Clip(clips["light"]))
    result = assemble(spec, tmp_path / "film.mp4")

    assert not result.copied_streams
    assert len(read_film(result.path).lumas) == 108
    assert no_temp_files(tmp_path)


def test_progress_runs_from_zero_to_one(clips: dict[str, Path], tmp_path: Path) -> None:
    seen: list[float] = []
    spec = film(Clip(clips["dark"], transition=Transition("crossfade", 0.5)), Clip(clips["a"]))
    assemble(spec, tmp_path / "film.mp4", on_progress=seen.append)

    assert seen[0] == 0.0 and seen[-1] == 1.0
    assert seen == sorted(seen)
    assert len(seen) >= 3


# --------------------------------------------------------------------------------------------
# The timeline alone


def test_timeline_places_clips_from_durations_alone() -> None:
    spec = film(
        Clip(Path("a.mp4"), trim_start=0.5, transition=Transition("crossfade", 1.0)),
        Clip(Path("b.mp4"), transition=Transition("fade", 0.5)),
        Clip(Path("c.mp4"), trim_end=1.0),
    )
    placed = timeline(spec, [5.0, 4.0, 3.0])

    assert [(p.index, p.start, p.end) for p in placed] == [
        (0, 0.0, 4.5),
        (1, 3.5, 7.5),
        (2, 7.5, 9.5),
    ]
    # Durations are rounded to whole frames of the film.
    odd = timeline(film(Clip(Path("a.mp4")), Clip(Path("b.mp4"))), [1.01, 1.0])
    assert odd[1].start == pytest.approx(1.0)
    with pytest.raises(ValueError, match="2 durations for 3 clips"):
        timeline(spec, [1.0, 2.0])
    with pytest.raises(ValueError, match="clip 1: duration must be"):
        timeline(spec, [1.0, -2.0, 3.0])
