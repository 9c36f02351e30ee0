"""The form's "cheapest that can do it" choice: named and priced before paying, paid as shown."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from PIL import Image
from ui_helpers import Gallery, GalleryFactory, wait_idle

from venice_video import AsyncVeniceVideo, PricedModel
from venice_video.server import ServerThread

PROMPT = "A lighthouse at night, waves below"
# Only two models make 1 s clips at 480p with sound, and they render in a few hundred ms.
QUICK: dict[str, Any] = {
    "model": "cheapest",
    "prompt": PROMPT,
    "duration": "1s",
    "resolution": "480p",
    "aspect_ratio": "16:9",
    "audio": True,
}


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 360), "teal").save(buffer, format="PNG")
    return buffer.getvalue()


def _cents(usd: float | None) -> int:
    assert usd is not None
    return round(usd * 100)


async def _priced(
    server: ServerThread, api_key: str, *, needs: list[str], inputs: list[str], **shape: Any
) -> list[PricedModel]:
    """The capable models and their quotes, cheapest first, from a client of its own."""
    async with AsyncVeniceVideo(
        api_key=api_key, base_url=server.base_url, journal=False, cache_dir=False
    ) as sdk:
        priced = await sdk.models_by_price(needs=needs, inputs_given=inputs, **shape)
    return [p for p in priced if p.quote_usd is not None]


async def _queue_requests(server: ServerThread, api_key: str) -> int:
    """How many queue requests (the paid call) this test's account has sent."""
    async with httpx.AsyncClient() as http:
        stats = await http.get(
            f"{server.root_url}/_local/stats", headers={"Authorization": f"Bearer {api_key}"}
        )
    count: int = stats.json()["queue_requests"]
    return count


async def _check(gallery: Gallery, fields: dict[str, Any]) -> dict[str, Any]:
    response = await gallery.post("/api/check", json={"fields": fields})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_models_offer_cheapest_with_every_choice_some_model_takes(
    make_gallery: GalleryFactory,
) -> None:
    async with make_gallery() as gallery:
        answer = (await gallery.http.get("/api/models")).json()
    union = answer["cheapest"]
    assert union["id"] == "cheapest" and union["name"] == "Cheapest that can do it"
    assert union["durations"][0] == "1s" and union["durations"][-1] == "30s"
    assert {"360p", "480p", "720p", "768p", "1080p", "4k"} <= set(union["resolutions"])
    assert union["resolutions"].index("480p") < union["resolutions"].index("4k")
    assert "auto" not in union["aspect_ratios"] and {"16:9", "9:16"} <= set(union["aspect_ratios"])
    assert union["inputs"] == ["text", "image", "end_image", "reference_images", "video", "audio"]
    assert union["audio_configurable"] is True and union["is_upscale"] is False
    assert "cheapest" not in {m["id"] for m in answer["models"]}


@pytest.mark.parametrize(
    ("extra", "needs", "inputs"),
    [
        ({"duration": "5s", "resolution": "720p", "audio": True}, ["audio"], []),
        ({"duration": "5s", "resolution": "720p", "audio": False}, ["silent"], []),
        ({"duration": "5s", "resolution": "720p", "aspect_ratio": None}, ["image", "audio"],
         ["image"]),
    ],
    ids=["sound", "silent", "first-frame"],
)  # fmt: skip
async def test_check_names_the_cheapest_capable_model_and_its_price(
    make_gallery: GalleryFactory,
    server: ServerThread,
    api_key: str,
    extra: dict[str, Any],
    needs: list[str],
    inputs: list[str],
) -> None:
    fields: dict[str, Any] = {**QUICK, "audio": True, **extra}
    shape = {k: fields.get(k) for k in ("duration", "resolution", "aspect_ratio")}
    priced = await _priced(server, api_key, needs=needs, inputs=inputs, **shape)
    assert len(priced) > 1 and _cents(priced[0].quote_usd) < _cents(priced[-1].quote_usd)
    async with make_gallery() as gallery:
        if "image" in inputs:
            upload = await gallery.post("/api/uploads?kind=image", content=_png())
            fields["image"] = upload.json()["id"]
        answer = await _check(gallery, fields)
    assert answer["valid"] is True, answer["issues"]
    assert answer["chosen_model"] == priced[0].id != "cheapest"
    assert _cents(answer["quote_usd"]) == _cents(priced[0].quote_usd)
    assert answer["chosen_shape"] == priced[0].shape
    assert answer["choice_error"] is None


async def test_a_named_model_has_no_choice_in_the_check(make_gallery: GalleryFactory) -> None:
    async with make_gallery() as gallery:
        answer = await _check(gallery, {**QUICK, "model": "grok-imagine-text-to-video-private"})
    assert answer["valid"] is True and answer["chosen_model"] is None


async def test_generate_with_cheapest_runs_and_journals_the_model_chosen(
    make_gallery: GalleryFactory, server: ServerThread, api_key: str
) -> None:
    [best, *_] = await _priced(
        server, api_key, needs=["audio"], inputs=[], duration="1s", resolution="480p",
        aspect_ratio="16:9",
    )  # fmt: skip
    async with make_gallery() as gallery:
        check = await _check(gallery, QUICK)
        assert check["chosen_model"] == best.id
        response = await gallery.post(
            "/api/generate",
            json={
                "fields": QUICK,
                "max_cost_usd": check["quote_usd"],
                "chosen_model": check["chosen_model"],
            },
        )
        assert response.status_code == 201, response.text
        started = response.json()
        assert started["model"] == best.id
        await wait_idle(gallery, started["key"])
        job = (await gallery.http.get(f"/api/jobs/{started['key']}")).json()
        listing = (await gallery.http.get("/api/jobs")).json()
        entry = gallery.client.journal.get(started["key"])  # type: ignore[union-attr]
    assert job["state"] == "done" and job["file"]["exists"] is True
    assert job["model"] == job["request"]["model"] == best.id
    assert job["request"]["duration"] == "1s" and job["request"]["resolution"] == "480p"
    assert _cents(job["quote_usd"]) == _cents(check["quote_usd"])
    assert job["tags"]["model_choice"] == "cheapest"
    assert job["file"]["path"].split("/")[-1].startswith(f"{best.id}-")
    assert listing["models"] == [best.id]
    assert entry is not None and entry.model == best.id
    assert "cheapest" not in (entry.model, entry.request["model"])
    assert await _queue_requests(server, api_key) == 1


async def test_when_no_model_can_do_it_the_error_says_what_was_asked_and_nothing_is_queued(
    make_gallery: GalleryFactory, server: ServerThread, api_key: str
) -> None:
    fields = {**QUICK, "duration": "30s", "resolution": "360p"}
    assert await _priced(server, api_key, needs=["audio"], inputs=[], duration="30s",
                         resolution="360p", aspect_ratio="16:9") == []  # fmt: skip
    async with make_gallery() as gallery:
        check = await _check(gallery, fields)
        generate = await gallery.post(
            "/api/generate",
            json={"fields": fields, "max_cost_usd": 100.0, "chosen_model": "any"},
        )
        journal = gallery.client.journal.list()  # type: ignore[union-attr]
    assert check["valid"] is False and check["quote_usd"] is None
    assert check["chosen_model"] is None
    message = check["choice_error"]
    assert message.startswith("no model can make a 30s 360p 16:9 video with sound;")
    assert check["issues"] == [{"field": "model", "message": message, "kind": "no_model"}]
    assert generate.status_code == 422
    assert generate.json()["error"] == message and generate.json()["kind"] == "no_model"
    assert journal == []
    assert await _queue_requests(server, api_key) == 0


async def test_the_no_model_error_names_the_inputs_given(make_gallery: GalleryFactory) -> None:
    async with make_gallery() as gallery:
        upload = (await gallery.post("/api/uploads?kind=image", content=_png())).json()
        fields = {**QUICK, "duration": "30s", "resolution": "360p", "image": upload["id"]}
        fields.pop("aspect_ratio")
        check = await _check(gallery, fields)
    assert check["choice_error"].startswith(
        "no model can make a 30s 360p video with sound from a first frame image;"
    )


async def test_generate_refuses_a_cheapest_price_above_the_one_confirmed(
    make_gallery: GalleryFactory, server: ServerThread, api_key: str
) -> None:
    async with make_gallery() as gallery:
        check = await _check(gallery, QUICK)
        shown = check["quote_usd"]
        response = await gallery.post(
            "/api/generate",
            json={
                "fields": QUICK,
                "max_cost_usd": round(shown - 0.01, 2),
                "chosen_model": check["chosen_model"],
            },
        )
        journal = gallery.client.journal.list()  # type: ignore[union-attr]
    assert response.status_code == 409
    assert response.json()["kind"] == "price_changed"
    assert _cents(response.json()["quote_usd"]) == _cents(shown)
    assert journal == []
    assert await _queue_requests(server, api_key) == 0


async def test_generate_pays_only_for_the_model_shown(
    make_gallery: GalleryFactory, server: ServerThread, api_key: str
) -> None:
    async with make_gallery() as gallery:
        check = await _check(gallery, QUICK)
        payload = {"fields": QUICK, "max_cost_usd": check["quote_usd"]}
        unconfirmed = await gallery.post("/api/generate", json=payload)
        other = await gallery.post(
            "/api/generate", json={**payload, "chosen_model": "wan-3-0-text-to-video"}
        )
        journal = gallery.client.journal.list()  # type: ignore[union-attr]
    assert unconfirmed.status_code == 400
    assert unconfirmed.json()["chosen_model"] == check["chosen_model"]
    assert other.status_code == 409
    assert other.json()["kind"] == "model_changed"
    assert other.json()["chosen_model"] == check["chosen_model"]
    assert "not the wan-3-0-text-to-video shown" in other.json()["error"]
    assert journal == []
    assert await _queue_requests(server, api_key) == 0


async def test_when_the_cheapest_changes_after_the_check_nothing_costs_more_than_shown(
    make_gallery: GalleryFactory, server: ServerThread, api_key: str
) -> None:
    first, second, *_ = await _priced(
        server, api_key, needs=["audio"], inputs=[], duration="1s", resolution="480p",
        aspect_ratio="16:9",
    )  # fmt: skip
    assert first.request is not None and _cents(first.quote_usd) < _cents(second.quote_usd)
    async with make_gallery() as gallery:
        seen = await _check(gallery, QUICK)
        assert seen["chosen_model"] == first.id
        # The first model's price goes up (as the gallery's client now knows it).
        quotes = gallery.client._quote_cache
        assert quotes is not None
        quotes.put(gallery.client.base_url, first.request.to_body(), 50.0)
        shown = {"max_cost_usd": seen["quote_usd"], "chosen_model": first.id}
        changed = await gallery.post("/api/generate", json={"fields": QUICK, **shown})
        dearer = await gallery.post(
            "/api/generate", json={"fields": QUICK, **shown, "chosen_model": second.id}
        )
        now = await _check(gallery, QUICK)
        journal = gallery.client.journal.list()  # type: ignore[union-attr]
    assert changed.status_code == 409 and changed.json()["kind"] == "model_changed"
    assert changed.json()["chosen_model"] == second.id
    assert dearer.status_code == 409 and dearer.json()["kind"] == "price_changed"
    assert _cents(dearer.json()["quote_usd"]) == _cents(second.quote_usd)
    assert now["chosen_model"] == second.id
    assert _cents(now["quote_usd"]) == _cents(second.quote_usd)
    assert journal == []
    assert await _queue_requests(server, api_key) == 0
