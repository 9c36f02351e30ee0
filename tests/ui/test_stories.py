"""Stories in the gallery, over real HTTP against the local server: the list and one story (its
film served, its shots in order, what they cost); a new take of one shot: priced first,
refused above the confirmed price, paid once, and the film assembled again with it; and
Finish, which puts a take the film lacks into it without paying for anything."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from ui_helpers import Gallery, GalleryFactory
from ui_story import THREE, render_three, stats

from venice_video import VeniceVideo
from venice_video.server import ServerThread
from venice_video.story import Film

pytestmark = pytest.mark.slow


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def film(tmp_path: Path, server: ServerThread, api_key: str) -> Film:
    # The same journal the gallery opens (see `open_gallery`).
    return render_three(tmp_path / "films", server, api_key, tmp_path / "journal.sqlite3")


async def _story(gallery: Gallery) -> dict[str, Any]:
    listing = (await gallery.http.get("/api/stories")).json()["stories"]
    (story,) = listing
    detail = await gallery.http.get(f"/api/stories/{story['id']}")
    assert detail.status_code == 200
    found: dict[str, Any] = detail.json()
    return found


async def test_a_rendered_story_is_one_film_with_its_shots_in_order(
    make_gallery: GalleryFactory, film: Film
) -> None:
    async with make_gallery() as gallery:
        listing = (await gallery.http.get("/api/stories")).json()["stories"]
        (summary,) = listing
        assert summary["title"] == "Three Shots"
        assert (summary["shot_count"], summary["shots_done"]) == (3, 3)
        assert summary["total_usd"] == pytest.approx(film.cost, abs=0.005)
        assert summary["film"]["ready"] and summary["status"] == "done"
        assert summary["film"]["path"] == str(film.path)

        story = await _story(gallery)
        shots = story["shots"]
        assert [s["number"] for s in shots] == [1, 2, 3]
        assert [s["name"] for s in shots] == ["kite", "boat", "harbour"]
        assert [s["key"] for s in shots] == [s.key for s in film.shots]
        starts = [s["start"] for s in shots]
        assert starts == sorted(starts) and starts[0] == pytest.approx(0.0, abs=0.01)
        for shown, made in zip(shots, film.shots, strict=True):
            assert shown["start"] == pytest.approx(made.start, abs=0.01)
            assert shown["end"] == pytest.approx(made.end, abs=0.01)
            assert shown["model"] == made.model and shown["duration"] == "1s"
            assert shown["state"] == "done" and shown["poster_url"]
        assert shots[2]["continues_from"] == 2
        total = sum(s["cost_usd"] for s in shots)
        assert story["total_usd"] == pytest.approx(total, abs=0.005)
        assert story["total_usd"] == pytest.approx(film.cost, abs=0.005)
        assert story["story_file"] == str(film.path.with_name("three.yaml"))
        assert story["can_rerender"] and story["rerender_note"] is None

        # The film, its poster and captions are served; a shot's poster by its job.
        served = await gallery.http.get(story["film"]["url"])
        assert served.status_code == 200 and served.headers["content-type"] == "video/mp4"
        assert sha256(served.content) == sha256(film.path.read_bytes())
        poster = await gallery.http.get(story["film"]["poster_url"])
        assert poster.status_code == 200 and poster.headers["content-type"] == "image/jpeg"
        captions = await gallery.http.get(story["film"]["captions_url"])
        assert captions.status_code == 200 and "Up it goes." in captions.text
        thumb = await gallery.http.get(shots[0]["poster_url"])
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
        ranged = await gallery.http.get(story["film"]["url"], headers={"Range": "bytes=0-99"})
        assert ranged.status_code == 206 and len(ranged.content) == 100

        for path in ("/api/stories/nope", "/media/stories/nope/film"):
            assert (await gallery.http.get(path)).status_code == 404


@pytest.mark.parametrize("change", ["story_id", "film"])
async def test_only_the_film_beside_a_manifest_of_the_same_story_is_served(
    make_gallery: GalleryFactory, film: Film, change: str
) -> None:
    manifest = json.loads(film.manifest_path.read_text("utf-8"))
    if change == "story_id":
        manifest["story_id"] = "someone-else"
    else:  # another video file than the film beside the manifest
        manifest["film"]["path"] = str(film.shots[0].path)
    film.manifest_path.write_text(json.dumps(manifest), "utf-8")
    async with make_gallery() as gallery:
        story = await _story(gallery)
        assert (story["film"] or {}).get("url") is None and not story["can_rerender"]
        for what in ("film", "poster.jpg", "captions.vtt"):
            served = await gallery.http.get(f"/media/stories/{story['id']}/{what}")
            assert served.status_code == 404


async def _wait(gallery: Gallery, story: str) -> None:
    task = gallery.app.state.gallery.stories.tasks[story]
    with anyio.fail_after(60):
        await task.done.wait()


async def test_a_new_take_of_one_shot_is_priced_confirmed_paid_once_and_cut_in(
    make_gallery: GalleryFactory, film: Film, server: ServerThread, api_key: str
) -> None:
    async with make_gallery() as gallery:
        story = await _story(gallery)
        path = f"/api/stories/{story['id']}/shots/1/rerender"
        before = stats(server, api_key)
        old_film = sha256(film.path.read_bytes())

        # First the price, to confirm: nothing is queued.
        asked = await gallery.post(path, json={})
        assert asked.status_code == 200
        quote = asked.json()
        assert quote["confirmed"] is False and [s["number"] for s in quote["shots"]] == [1]
        assert quote["quote_usd"] == pytest.approx(film.shots[0].cost or 0, abs=0.005)
        assert quote["take"] == film.shots[0].key

        # Below the price shown: refused, nothing queued.
        low = await gallery.post(path, json={"max_cost_usd": quote["quote_usd"] - 0.01})
        assert low.status_code == 409 and low.json()["kind"] == "price_changed"
        assert stats(server, api_key)["queue_requests"] == before["queue_requests"]

        started = await gallery.post(
            path, json={"max_cost_usd": quote["quote_usd"], "take": quote["take"]}
        )
        assert started.status_code == 202, started.text
        assert started.json()["story_view"]["rendering"] is True
        again = await gallery.post(path, json={"max_cost_usd": quote["quote_usd"]})
        assert again.status_code == 409  # one confirmation, one render
        await _wait(gallery, story["id"])

        after = stats(server, api_key)
        assert after["queue_requests"] == before["queue_requests"] + 1
        assert after["jobs_created"] == before["jobs_created"] + 1
        story = await _story(gallery)
        assert story["error"] is None and story["status"] == "done"
        shots = story["shots"]
        assert shots[0]["key"] != film.shots[0].key  # the new take is in the film
        assert [s["key"] for s in shots[1:]] == [s.key for s in film.shots[1:]]
        assert film.shots[0].path.is_file()  # the old take's file is kept
        manifest = json.loads(film.manifest_path.read_text("utf-8"))
        new_file = film.manifest_path.parent / manifest["shots"][0]["file"]
        assert new_file != film.shots[0].path and new_file.is_file()
        assert manifest["shots"][0]["sha256"] == sha256(new_file.read_bytes())
        # The film was assembled again, with the new take, and is what is served.
        served = await gallery.http.get(story["film"]["url"])
        assert sha256(served.content) == sha256(film.path.read_bytes())
        assert manifest["film"]["sha256"] == sha256(served.content) != old_film
        total = sum(s["cost_usd"] for s in shots)
        assert story["total_usd"] == pytest.approx(total, abs=0.005)

        # A confirmation of the take that was replaced starts nothing.
        stale = await gallery.post(
            path, json={"max_cost_usd": quote["quote_usd"], "take": quote["take"]}
        )
        assert stale.status_code == 409 and stale.json()["kind"] == "stale"
        assert stats(server, api_key)["queue_requests"] == after["queue_requests"]


async def test_a_new_take_over_the_galleries_cost_limit_is_refused(
    make_gallery: GalleryFactory, film: Film, server: ServerThread, api_key: str
) -> None:
    async with make_gallery(max_cost=0.01) as gallery:
        story = await _story(gallery)
        path = f"/api/stories/{story['id']}/shots/2/rerender"
        quote = (await gallery.post(path, json={})).json()
        assert [s["number"] for s in quote["shots"]] == [2, 3]  # the chain follows its head
        before = stats(server, api_key)["queue_requests"]
        refused = await gallery.post(path, json={"max_cost_usd": quote["quote_usd"]})
        assert refused.status_code == 409 and refused.json()["kind"] == "spend_limit"
        unknown = await gallery.post(f"/api/stories/{story['id']}/shots/9/rerender", json={})
        assert unknown.status_code == 422
        assert stats(server, api_key)["queue_requests"] == before
        assert "rendering" not in {s["state"] for s in (await _story(gallery))["shots"]}


async def test_a_new_take_needs_the_csrf_token(make_gallery: GalleryFactory, film: Film) -> None:
    async with make_gallery() as gallery:
        story = await _story(gallery)
        path = f"/api/stories/{story['id']}/shots/1/rerender"
        refused = await gallery.http.post(path, json={"max_cost_usd": 1.0})
        assert refused.status_code == 403


async def test_finish_puts_a_newer_take_in_the_film_and_never_pays(
    make_gallery: GalleryFactory, film: Film, server: ServerThread, api_key: str, tmp_path: Path
) -> None:
    # A new take of shot 1 was made, but the render stopped before the film was assembled
    # again: the film and its manifest are still the old ones.
    story_file = film.path.with_name("three.yaml")
    kept = {p: p.read_bytes() for p in (film.path, film.manifest_path)}
    with VeniceVideo(api_key=api_key, base_url=server.base_url, cache_dir=False,
                     journal=tmp_path / "journal.sqlite3") as client:  # fmt: skip
        client.render_story(story_file, rerender=[1])
    for path, data in kept.items():
        path.write_bytes(data)
    before = stats(server, api_key)["queue_requests"]
    async with make_gallery() as gallery:
        story = await _story(gallery)
        assert [s["newer_take"] for s in story["shots"]] == [True, False, False]
        assert story["can_finish"] and story["shots"][0]["key"] == film.shots[0].key
        # Another new take would pay again for a shot whose take waits: finish first.
        again = await gallery.post(f"/api/stories/{story['id']}/shots/1/rerender", json={})
        assert again.status_code == 409 and again.json()["kind"] == "unfinished"
        assert not story["can_rerender"]
        started = await gallery.post(f"/api/stories/{story['id']}/finish", json={})
        assert started.status_code == 202, started.text
        await _wait(gallery, story["id"])
        story = await _story(gallery)
        assert story["error"] is None and not story["can_finish"] and story["can_rerender"]
        assert story["shots"][0]["key"] != film.shots[0].key
        assert sha256(film.path.read_bytes()) != sha256(kept[film.path])

        # A story file changed since would need new shots: Finish refuses, spending nothing.
        story_file.write_text(THREE.replace("A red kite", "A blue kite"), "utf-8")
        refused = await gallery.post(f"/api/stories/{story['id']}/finish", json={})
        assert refused.status_code == 409 and refused.json()["kind"] == "would_pay"
    assert stats(server, api_key)["queue_requests"] == before
