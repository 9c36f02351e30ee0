"""A story's shots among the videos, over real HTTP against the local server: a story is one
card under Stories, so the listing leaves its shots out (but for those that need the user) and
lists them when asked (`stories=1`); a shot's own view names its story and its place in it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ui_helpers import FAST_MODEL, Gallery, GalleryFactory
from ui_story import render_three

from venice_video.journal import Journal
from venice_video.server import ServerThread
from venice_video.story import Film


@dataclass
class Rendered:
    """The three-shot story and a plain job, in a journal the tests here only read."""

    journal: Path
    film: Film


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory, server: ServerThread) -> Rendered:
    # Rendered once for the module: every test opens its own gallery on this journal.
    folder = tmp_path_factory.mktemp("story-shots")
    journal_path = folder / "journal.sqlite3"
    film = render_three(folder / "films", server, f"test-{uuid.uuid4().hex}", journal_path)
    journal = Journal(journal_path)
    journal.record_intent(key="plain", model=FAST_MODEL, base_url=server.base_url,
                          request={"model": FAST_MODEL, "prompt": "A plain job"},
                          quote_usd=0.5, output_path=None)  # fmt: skip
    journal.record_queued("plain", queue_id="q-plain", download_url=None)
    journal.update("plain", status="COMPLETED")
    journal.close()
    return Rendered(journal_path, film)


async def _listing(gallery: Gallery, query: str = "") -> dict[str, Any]:
    response = await gallery.http.get(f"/api/jobs?{query}")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def _story_id(gallery: Gallery) -> str:
    (story,) = (await gallery.http.get("/api/stories")).json()["stories"]
    assert story["title"] == "Three Shots" and story["shot_count"] == 3
    return str(story["id"])


async def test_the_videos_leave_a_storys_shots_to_its_card_and_list_a_plain_job(
    make_gallery: GalleryFactory, rendered: Rendered
) -> None:
    async with make_gallery(journal=rendered.journal) as gallery:
        await _story_id(gallery)  # the story is there, as one card with its three shots
        listing = await _listing(gallery)
        assert [j["key"] for j in listing["jobs"]] == ["plain"]
        assert listing["jobs"][0]["story"] is None
        assert (listing["count"], listing["story_shots_hidden"]) == (1, 3)
        assert listing["all_count"] == 4
        assert listing["total_usd"] == pytest.approx(0.5)
        assert listing["all_total_usd"] == pytest.approx(0.5 + rendered.film.cost, abs=0.005)
        # Other filters still apply first: only the shots they match are counted as left out.
        kite = await _listing(gallery, "q=kite")
        assert (kite["jobs"], kite["story_shots_hidden"]) == ([], 1)
        for off in ("stories=0", "stories="):
            assert [j["key"] for j in (await _listing(gallery, off))["jobs"]] == ["plain"]
        wrong = await gallery.http.get("/api/jobs?stories=maybe")
        assert wrong.status_code == 400 and "stories" in wrong.json()["error"]


async def test_asked_for_the_videos_list_a_storys_shots_with_their_story(
    make_gallery: GalleryFactory, rendered: Rendered
) -> None:
    async with make_gallery(journal=rendered.journal) as gallery:
        story = await _story_id(gallery)
        listing = await _listing(gallery, "stories=1")
        shots = {s.key: s for s in rendered.film.shots}
        assert {j["key"] for j in listing["jobs"]} == {"plain", *shots}
        assert (listing["count"], listing["story_shots_hidden"]) == (4, 0)
        for job in listing["jobs"]:
            if job["key"] == "plain":
                assert job["story"] is None
                continue
            number = shots[job["key"]].number
            assert job["story"] == {
                "id": story,
                "title": "Three Shots",
                "shot": number,
                "shot_name": ["kite", "boat", "harbour"][number - 1],
                "in_film": True,
                "attention": None,
            }
        # With a search: the shots it matches, and the plain job if it does.
        harbour = await _listing(gallery, "stories=1&q=harbour")
        assert [j["story"]["shot"] for j in harbour["jobs"]] == [3]
        assert (await _listing(gallery, "stories=true"))["count"] == 4


async def test_a_shots_own_view_names_its_story_and_plays(
    make_gallery: GalleryFactory, rendered: Rendered
) -> None:
    async with make_gallery(journal=rendered.journal) as gallery:
        story = await _story_id(gallery)
        shot = rendered.film.shots[1]
        response = await gallery.http.get(f"/api/jobs/{shot.key}")
        assert response.status_code == 200
        view = response.json()
        assert view["story"]["id"] == story and view["story"]["title"] == "Three Shots"
        assert (view["story"]["shot"], view["story"]["shot_name"]) == (2, "boat")
        assert view["story"]["in_film"] is True and view["story"]["attention"] is None
        assert view["request"]["prompt"] == "A small boat on a grey sea"
        video = await gallery.http.get(view["video_url"])
        assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
        plain = (await gallery.http.get("/api/jobs/plain")).json()
        assert plain["story"] is None


async def test_a_story_shot_that_needs_you_stays_among_the_videos(
    make_gallery: GalleryFactory, tmp_path: Path, server: ServerThread
) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")  # the journal the gallery opens
    rows = [
        # key, shot, status, created at
        ("first-try", 1, "FAILED", 1000.0),  # a newer take of shot 1 was made since
        ("retake", 1, "COMPLETED", 1001.0),
        ("failed", 2, "FAILED", 1002.0),  # no newer take: it needs you
        ("unknown", 3, "UNKNOWN", 1003.0),  # was it queued (and paid)? Check the account
        ("stalled", 4, "QUEUED", 1004.0),  # paid, unfinished, nothing here follows it
        ("dropped", 5, "CANCELLED", 1005.0),
    ]
    for key, shot, status, created in rows:
        journal.record_intent(key=key, model=FAST_MODEL, base_url=server.base_url,
                              request={"model": FAST_MODEL, "prompt": f"shot {shot}"},
                              quote_usd=0.25, output_path=str(tmp_path / f"{key}.mp4"),
                              tags={"story": "s1", "story_title": "Half Done",
                                    "story_shot": shot, "story_shot_name": f"n{shot}"})  # fmt: skip
        journal.record_queued(key, queue_id=f"q-{key}", download_url=None)
        journal.update(key, status=status, created_at=created)
    journal.close()
    async with make_gallery() as gallery:
        listing = await _listing(gallery)
        listed = {j["key"]: j for j in listing["jobs"]}
        assert set(listed) == {"failed", "unknown", "stalled"}
        assert listing["story_shots_hidden"] == 3
        assert "failed" in listed["failed"]["story"]["attention"]
        assert "unknown" in listed["unknown"]["story"]["attention"]
        stalled = (await gallery.http.get("/api/jobs/stalled")).json()
        assert "unfinished" in stalled["story"]["attention"] and stalled["can_resume"]
        assert stalled["story"]["title"] == "Half Done" and stalled["story"]["in_film"] is None
        everything = await _listing(gallery, "stories=1")
        assert everything["count"] == 6 and everything["story_shots_hidden"] == 0
        assert {j["key"] for j in everything["jobs"] if j["story"]["attention"]} == set(listed)
