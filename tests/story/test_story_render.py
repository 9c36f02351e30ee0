"""Rendering stories through real HTTP against the local server: one film, every shot paid once,
only edited shots rendered again, nothing spent over budget or on a bad story."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from story_helpers import FRAME, edit, frames, local_stats, mean_diff

from venice_video import AsyncVeniceVideo, VeniceVideo
from venice_video.journal import Journal
from venice_video.server import ServerThread
from venice_video.story import (
    Film,
    ShotProgress,
    Story,
    StoryBudgetError,
    StoryError,
    StoryRenderError,
)
from venice_video.story._flow import drive
from venice_video.story._render import prepare_flow, story_quote

pytestmark = pytest.mark.slow


def _clip_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.duration is not None
        return float(stream.duration * stream.time_base)


def _audio(path: Path) -> tuple[np.ndarray[Any, Any], int]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        chunks = [
            f.to_ndarray().reshape(-1, f.samples).mean(axis=0) for f in container.decode(stream)
        ]
        return np.concatenate(chunks), stream.rate


def _subtitles(path: Path) -> list[tuple[float, float, str]]:
    """The cues of the film's soft subtitle track (mov_text: a length, then UTF-8 text)."""
    with av.open(str(path)) as container:
        (stream,) = container.streams.subtitles
        cues = []
        for packet in container.demux(stream):
            data = bytes(packet)
            if packet.pts is None or len(data) <= 2:
                continue
            size = int.from_bytes(data[:2], "big")
            start = float(packet.pts * stream.time_base)
            end = start + float((packet.duration or 0) * stream.time_base)
            if size:
                cues.append((start, end, data[2 : 2 + size].decode("utf-8")))
        return cues


def test_the_example_story_renders_to_one_film(
    venice: VeniceVideo, story_file: Path, server: ServerThread, api_key: str
) -> None:
    seen: list[ShotProgress] = []
    film = venice.render_story(story_file, on_shot=seen.append)
    story = Story.load(story_file)

    # One mp4 whose length is the shots' less the crossfades' overlaps (within a frame).
    assert film.path == story_file.parent / "lighthouse.mp4" and film.path.is_file()
    shot_seconds = [_clip_seconds(s.path) for s in film.shots]
    overlaps = sum(s.transition_out.seconds for s in story.shots
                   if s.transition_out.kind == "crossfade")  # fmt: skip
    assert overlaps == pytest.approx(1.5)
    assert abs(_clip_seconds(film.path) - (sum(shot_seconds) - overlaps)) <= FRAME
    assert film.duration == pytest.approx(sum(shot_seconds) - overlaps, abs=FRAME)

    # Chained shots start on their predecessor's last frame: a small difference (the
    # local engine's caption), unlike any two unrelated frames.
    clips = {s.number: frames(s.path) for s in film.shots}
    for before, after in ((3, 4), (4, 5)):
        assert mean_diff(clips[before][-1], clips[after][0]) < 6.0
    assert mean_diff(clips[1][-1], clips[4][0]) > 15.0

    # One subtitle track; each cue is its shot's line, shown inside that shot.
    cues = _subtitles(film.path)
    lined = [(s, sh) for s, sh in zip(story.shots, film.shots, strict=True) if s.line]
    assert [text for _, _, text in cues] == [s.line for s, _ in lined]
    for (start, end, _), (_, placed) in zip(cues, lined, strict=True):
        assert placed.start - 1e-3 <= start < end <= placed.end + 1e-3
    srt = film.srt_path.read_text("utf-8") if film.srt_path else ""
    assert all(s.line in srt for s, _ in lined)
    assert film.vtt_path is not None and film.vtt_path.read_text("utf-8").startswith("WEBVTT")

    # Continuous audio: it lasts as long as the picture, with no silent gap inside.
    pcm, rate = _audio(film.path)
    assert len(pcm) / rate == pytest.approx(film.duration, abs=0.05)
    window = rate // 50
    inner = pcm[int(0.1 * rate) : int((film.duration - 0.5) * rate)]
    rms = np.sqrt(np.mean(inner[: len(inner) // window * window].reshape(-1, window) ** 2, 1))
    assert rms.min() > 1e-3

    # Every shot paid once: the server made six jobs, the film cost their six quotes.
    stats = local_stats(server, api_key)
    assert stats["jobs_created"] == 6
    assert all(k["jobs_created"] == 1 for k in stats["idempotency_keys"].values())
    assert film.cost == pytest.approx(sum(s.cost or 0 for s in film.shots))
    assert film.spent == film.cost and not any(s.reused for s in film.shots)
    assert {p.phase for p in seen} >= {"pending", "queued", "done"}
    assert {p.number for p in seen if p.phase == "done"} == {1, 2, 3, 4, 5, 6}

    # The manifest: every shot's job, request, cost, file digest and place on the timeline.
    manifest = json.loads(film.manifest_path.read_text("utf-8"))
    assert manifest["status"] == "done" and manifest["cost_usd"] == pytest.approx(film.cost)
    for entry, shot in zip(manifest["shots"], film.shots, strict=True):
        assert entry["queue_id"] == shot.queue_id and entry["request"]["model"] == shot.model
        assert entry["sha256"] == shot.sha256 and entry["start"] == pytest.approx(shot.start)
    assert manifest["shots"][3]["continues_from"] == 3

    # The journal knows the story: its shots are tagged.
    with Journal(venice.journal.path if venice.journal else None) as journal:
        tagged = journal.list(tag=("story_title", "The Lighthouse Keeper"))
    assert sorted(e.tags["story_shot"] for e in tagged) == [1, 2, 3, 4, 5, 6]

    # Again: nothing to render, nothing to pay, the film is already up to date.
    again = venice.render_story(story_file)
    assert again.assembled is False and again.spent == 0
    assert all(s.reused for s in again.shots) and again.path == film.path
    assert local_stats(server, api_key)["jobs_created"] == 6


def test_editing_a_shot_renders_that_shot_and_its_chain_only(
    venice: VeniceVideo, story_file: Path, server: ServerThread, api_key: str
) -> None:
    first = venice.render_story(story_file)
    assert local_stats(server, api_key)["jobs_created"] == 6

    edit(story_file, "gulls circle the tower", "gulls circle the lamp")  # shot 6, unchained
    second = venice.render_story(story_file)
    assert local_stats(server, api_key)["jobs_created"] == 7
    assert [s.reused for s in second.shots] == [True] * 5 + [False]
    assert second.assembled and second.spent == pytest.approx(second.shots[5].cost)
    assert second.path == first.path and second.shots[5].path != first.shots[5].path

    edit(story_file, "its beam sweeping", "its beam slowly sweeping")  # shot 3, chain 3-4-5
    third = venice.render_story(story_file)
    assert local_stats(server, api_key)["jobs_created"] == 10
    assert [s.reused for s in third.shots] == [True, True, False, False, False, True]


def test_a_story_over_its_budget_spends_nothing(
    venice: VeniceVideo, story_file: Path, server: ServerThread, api_key: str
) -> None:
    edit(story_file, "budget: 5.00", "budget: 0.50")
    with pytest.raises(StoryBudgetError) as caught:
        venice.render_story(story_file)
    assert caught.value.quote_usd == pytest.approx(1.48)
    assert "over its budget of $0.5000; nothing was queued" in str(caught.value)
    stats = local_stats(server, api_key)
    assert stats["queue_requests"] == 0 and stats["jobs_created"] == 0
    assert not (story_file.parent / "lighthouse.mp4").exists()


def test_a_film_path_that_is_not_a_regular_file_is_refused_before_anything_is_spent(
    venice: VeniceVideo, story_file: Path, server: ServerThread, api_key: str, tmp_path: Path
) -> None:
    folder = tmp_path / "a-folder.mp4"
    folder.mkdir()
    link = tmp_path / "link.mp4"
    link.symlink_to(tmp_path / "elsewhere.mp4")
    for target in (folder, link):
        with pytest.raises(StoryError, match="is not a regular file"):
            venice.render_story(story_file, output=target, overwrite=True)
    assert local_stats(server, api_key)["queue_requests"] == 0
    assert folder.is_dir() and link.is_symlink()


def test_a_bad_story_is_refused_before_anything_is_paid(
    venice: VeniceVideo, story_file: Path, server: ServerThread, api_key: str
) -> None:
    edit(story_file, "    model: vidu-q3-image-to-video\n    continue_from: previous\n"
         "    prompt: The beam", "    model: vidu-q3-text-to-video\n    continue_from: previous\n"
         "    prompt: The beam")  # fmt: skip
    with pytest.raises(StoryError) as caught:
        venice.render_story(story_file)
    (problem,) = caught.value.problems
    assert (problem.line, problem.shot, problem.shot_name) == (49, 4, "boat")
    assert local_stats(server, api_key)["queue_requests"] == 0


def test_a_film_this_story_did_not_make_is_not_replaced(
    venice: VeniceVideo, story_file: Path, server: ServerThread, api_key: str
) -> None:
    theirs = story_file.parent / "lighthouse.mp4"
    theirs.write_bytes(b"someone else's film")
    with pytest.raises(StoryError, match="already exists"):
        venice.render_story(story_file)
    assert local_stats(server, api_key)["queue_requests"] == 0
    assert theirs.read_bytes() == b"someone else's film"


def test_an_unknown_queue_outcome_stops_the_render_and_a_trusted_rerun_pays_once(
    server_factory: Any, story_file: Path, tmp_path: Path, api_key: str
) -> None:
    # The fifth queue request is the first chained shot (after shots 1, 2, 3 and 6): the
    # server makes the job, then drops the connection before the answer.
    server = server_factory(
        faults={
            "endpoints": {"queue": {"drop_after_create": 1.0, "skip_first": 4, "max_faults": 1}}
        }  # fmt: skip
    )
    options: dict[str, Any] = {
        "api_key": api_key, "base_url": server.base_url,
        "journal": tmp_path / "journal.sqlite3", "cache_dir": False,
    }  # fmt: skip
    with VeniceVideo(**options, idempotent_queue_retries=False) as careful:
        with pytest.raises(StoryRenderError) as caught:
            careful.render_story(story_file, concurrency=4)
    assert caught.value.outcome_unknown
    assert "shot 4 (boat)" in str(caught.value) and "Idempotency-Key" in str(caught.value)
    assert "shot 5 (harbour): not rendered" in str(caught.value)
    assert local_stats(server, api_key)["jobs_created"] == 5
    with VeniceVideo(**options, idempotent_queue_retries=True) as trusting:
        film = trusting.render_story(story_file)
    stats = local_stats(server, api_key)
    assert stats["jobs_created"] == 6
    assert all(k["jobs_created"] == 1 for k in stats["idempotency_keys"].values())
    assert [s.reused for s in film.shots] == [True, True, True, False, False, True]


def test_shots_are_known_by_the_api_id_not_the_port_of_the_engine(
    server_factory: Any, story_file: Path, tmp_path: Path, api_key: str
) -> None:
    # The local engine is known by its folder: restarted on another port, it is the same API,
    # and the story's shots (journal keys, manifest) are still its own.
    folder = tmp_path / "engine"
    options: dict[str, Any] = {
        "api_key": api_key, "journal": tmp_path / "journal.sqlite3", "cache_dir": False,
        "api_id": f"local-engine:{folder}", "idempotent_queue_retries": True,
    }  # fmt: skip
    first = server_factory(data_dir=folder)
    with VeniceVideo(base_url=first.base_url, **options) as client:
        made = client.render_story(story_file)
    assert local_stats(first, api_key)["jobs_created"] == 6
    first.stop()
    second = server_factory(data_dir=folder)
    with VeniceVideo(base_url=second.base_url, **options) as client:
        again = client.render_story(story_file)
    assert all(s.reused for s in again.shots) and again.spent == 0 and not again.assembled
    assert [s.key for s in again.shots] == [s.key for s in made.shots]
    manifest = json.loads(made.manifest_path.read_text("utf-8"))
    assert manifest["api"] == f"local-engine:{folder}"


async def test_the_async_twin_renders_a_chained_story(
    server: ServerThread, api_key: str, tmp_path: Path
) -> None:
    story = tmp_path / "two.yaml"
    story.write_text(
        """\
title: Two
defaults: {model: vidu-q3-text-to-video, resolution: 360p, duration: 3s, audio: false}
shots:
  - prompt: A red kite over the dunes
    line: Up it goes.
  - model: vidu-q3-image-to-video
    continue_from: previous
    prompt: The kite dives toward the sea
""",
        "utf-8",
    )
    async with AsyncVeniceVideo(api_key=api_key, base_url=server.base_url, cache_dir=False,
                                journal=tmp_path / "journal.sqlite3") as client:  # fmt: skip
        film: Film = await client.render_story(story, concurrency=2)
    assert film.path == tmp_path / "two.mp4" and len(film.shots) == 2
    assert film.duration == pytest.approx(6.0, abs=FRAME)
    pictures = [frames(s.path) for s in film.shots]
    assert mean_diff(pictures[0][-1], pictures[1][0]) < 6.0
    assert local_stats(server, api_key)["jobs_created"] == 2


def test_a_lost_shot_is_paid_for_again_only_when_asked(
    venice: VeniceVideo, story_file: Path, server: ServerThread, api_key: str
) -> None:
    film = venice.render_story(story_file)
    film.shots[5].path.unlink()  # the server deleted its copy after the download
    with pytest.raises(StoryError) as caught:
        venice.render_story(story_file)
    (problem,) = caught.value.problems
    assert problem.shot == 6 and "--retry-failed" in problem.message
    assert local_stats(server, api_key)["jobs_created"] == 6
    again = venice.render_story(story_file, retry_failed=True)
    assert [s.reused for s in again.shots] == [True] * 5 + [False]
    assert again.shots[5].path.is_file() and again.spent == pytest.approx(again.shots[5].cost)
    assert local_stats(server, api_key)["jobs_created"] == 7
    # The budget caps everything the story cost, the lost take included.
    flow = prepare_flow(Story.load(story_file), api_id=venice.api_id,
                        journal=venice.journal, output=None, for_render=False)  # fmt: skip
    priced = story_quote(drive(venice, flow))
    assert priced.new == 0 and priced.committed == pytest.approx(1.48 + 0.27)


def test_shots_survive_a_cleaned_journal_through_the_manifest(
    venice: VeniceVideo, story_file: Path, server: ServerThread, api_key: str
) -> None:
    first = venice.render_story(story_file)
    assert venice.journal is not None
    assert venice.journal.clean() == 6  # `venice-video jobs clean` forgets finished jobs
    again = venice.render_story(story_file)
    assert all(s.reused for s in again.shots) and again.spent == 0 and not again.assembled
    assert [s.queue_id for s in again.shots] == [s.queue_id for s in first.shots]
    assert local_stats(server, api_key)["jobs_created"] == 6
    edit(story_file, "line: And every morning, it rested.", "line: And then it rested.")
    recut = venice.render_story(story_file)
    assert recut.assembled and recut.spent == 0
    manifest = json.loads(recut.manifest_path.read_text("utf-8"))
    assert [s["queue_id"] for s in manifest["shots"]] == [s.queue_id for s in first.shots]
    assert all(s["request"] for s in manifest["shots"])
