"""A new take of one shot (`render_story(..., rerender=[n])`) through real HTTP against the local
server: paid once, its chain follows its new last frame, the old take's file is kept, and later
renders keep the new take."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from story_helpers import frames, local_stats, mean_diff

from venice_video import VeniceVideo
from venice_video.cli._app import cli
from venice_video.server import ServerThread
from venice_video.story import StoryError, StoryQuote, StoryRenderError

pytestmark = pytest.mark.slow

#: Three one-second shots on the local engine's fastest models; the third continues the second.
THREE = """\
title: Three Shots
defaults: {model: grok-imagine-text-to-video-private, resolution: 480p, duration: 1s,
           aspect_ratio: "16:9"}
shots:
  - name: kite
    prompt: A red kite over the dunes
  - name: boat
    prompt: A small boat on a grey sea
  - name: harbour
    model: grok-imagine-image-to-video-private
    continue_from: previous
    prompt: The boat reaches the harbour
"""


@pytest.fixture
def three(tmp_path: Path) -> Path:
    path = tmp_path / "three.yaml"
    path.write_text(THREE, "utf-8")
    return path


def _manifest(path: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(path.read_text("utf-8"))
    return data


def test_a_new_take_of_one_shot_is_paid_once_and_the_old_file_is_kept(
    venice: VeniceVideo, three: Path, server: ServerThread, api_key: str
) -> None:
    first = venice.render_story(three)
    before = local_stats(server, api_key)
    assert before["jobs_created"] == 3
    quotes: list[StoryQuote] = []

    def confirm(quote: StoryQuote) -> bool:
        quotes.append(quote)
        return True

    again = venice.render_story(three, rerender=[1], confirm=confirm)
    after = local_stats(server, api_key)
    assert after["jobs_created"] == 4
    assert after["queue_requests"] == before["queue_requests"] + 1
    (quote,) = quotes
    assert [s.state for s in quote.shots] == ["new", "done", "done"]
    assert quote.new == pytest.approx(first.shots[0].cost or 0, abs=0.005)
    assert [s.reused for s in again.shots] == [False, True, True]
    assert again.spent == pytest.approx(again.shots[0].cost or 0, abs=0.005)
    new, old = again.shots[0], first.shots[0]
    assert new.path != old.path and new.key != old.key and new.sha256 != old.sha256
    assert old.path.is_file()  # the earlier take is kept, never deleted
    assert again.assembled and again.path == first.path
    manifest = _manifest(again.manifest_path)
    shots = manifest["shots"]
    assert isinstance(shots, list) and shots[0]["key"] == new.key
    assert shots[0]["sha256"] == new.sha256
    assert again.cost == pytest.approx(sum(s.cost or 0 for s in again.shots), abs=0.005)

    # A plain render afterwards keeps the new take: nothing paid, nothing assembled.
    plain = venice.render_story(three)
    assert plain.spent == 0 and not plain.assembled and all(s.reused for s in plain.shots)
    assert plain.shots[0].path == new.path
    assert local_stats(server, api_key)["jobs_created"] == 4

    # Each shot's journal entry says where its film is.
    assert venice.journal is not None
    entry = venice.journal.get(new.key)
    assert entry is not None and entry.tags["story_film"] == str(first.path)


def test_a_new_take_of_a_chained_shot_renders_its_chain_from_the_new_last_frame(
    venice: VeniceVideo, three: Path, server: ServerThread, api_key: str
) -> None:
    first = venice.render_story(three)
    again = venice.render_story(three, rerender=[2])
    assert local_stats(server, api_key)["jobs_created"] == 5
    assert [s.reused for s in again.shots] == [True, False, False]
    assert again.shots[2].path != first.shots[2].path
    boat, harbour = frames(again.shots[1].path), frames(again.shots[2].path)
    assert mean_diff(boat[-1], harbour[0]) < 6.0
    assert mean_diff(frames(first.shots[1].path)[-1], harbour[0]) > mean_diff(boat[-1], harbour[0])


def test_a_new_take_after_the_journal_was_cleaned(
    venice: VeniceVideo, three: Path, server: ServerThread, api_key: str
) -> None:
    first = venice.render_story(three)
    assert venice.journal is not None and venice.journal.clean() == 3
    again = venice.render_story(three, rerender=[1])
    assert local_stats(server, api_key)["jobs_created"] == 4
    assert [s.reused for s in again.shots] == [False, True, True]
    assert first.shots[0].path.is_file() and again.shots[0].path != first.shots[0].path
    plain = venice.render_story(three)
    assert plain.spent == 0 and not plain.assembled
    assert plain.shots[0].path == again.shots[0].path
    assert local_stats(server, api_key)["jobs_created"] == 4


def test_a_new_take_declined_or_of_no_such_shot_spends_nothing(
    venice: VeniceVideo, three: Path, server: ServerThread, api_key: str
) -> None:
    venice.render_story(three)
    requests = local_stats(server, api_key)["queue_requests"]
    with pytest.raises(StoryRenderError, match="declined"):
        venice.render_story(three, rerender=[3], confirm=lambda quote: False)
    for number in (0, 4):
        with pytest.raises(StoryError, match=f"no shot {number} to render again"):
            venice.render_story(three, rerender=[number])
    assert local_stats(server, api_key)["queue_requests"] == requests


def test_the_cli_renders_a_new_take_with_rerender(
    three: Path, server: ServerThread, api_key: str, tmp_path: Path
) -> None:
    env = {
        "VENICE_API_KEY": api_key,
        "VENICE_BASE_URL": server.base_url,
        "VENICE_VIDEO_JOURNAL": str(tmp_path / "journal.sqlite3"),
        "VENICE_VIDEO_CONFIG": str(tmp_path / "absent.toml"),
    }

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

    assert run("story", "render", str(three), "--yes").exit_code == 0
    result = run("--json", "story", "render", str(three), "--rerender", "2", "--yes")
    assert result.exit_code == 0, result.output
    film = json.loads(result.stdout)
    assert [s["reused"] for s in film["shots"]] == [True, False, False]
    assert local_stats(server, api_key)["jobs_created"] == 5
    refused = run("story", "render", str(three), "--rerender", "0", "--yes")
    assert refused.exit_code == 2 and local_stats(server, api_key)["jobs_created"] == 5
