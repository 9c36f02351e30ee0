"""The gallery's HTTP API, through ASGITransport against the shared local server."""

from __future__ import annotations

import base64
import hashlib
import io
import os
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from ui_helpers import FAST_FIELDS, FAST_MODEL, GalleryFactory, wait_idle

from venice_video import AsyncVeniceVideo
from venice_video.journal import Journal
from venice_video.ui import create_app


def _png(width: int = 640, height: int = 360, color: str = "teal") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


async def _generate(gallery: Any, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    fields = fields or FAST_FIELDS
    check = (await gallery.post("/api/check", json={"fields": fields})).json()
    assert check["valid"], check["issues"]
    response = await gallery.post(
        "/api/generate", json={"fields": fields, "max_cost_usd": check["quote_usd"]}
    )
    assert response.status_code == 201, response.text
    job: dict[str, Any] = response.json()
    await wait_idle(gallery, job["key"])
    detail = await gallery.http.get(f"/api/jobs/{job['key']}")
    result: dict[str, Any] = detail.json()
    return result


# --------------------------------------------------------------------------- the page and guard


async def test_index_embeds_a_csrf_token_and_a_strict_content_security_policy(
    make_gallery: GalleryFactory,
) -> None:
    async with make_gallery(csrf_token="fixed-token") as gallery:
        page = await gallery.http.get("/")
        assert page.status_code == 200
        assert 'content="fixed-token"' in page.text
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert page.headers["x-content-type-options"] == "nosniff"
        script = await gallery.http.get("/static/app.js")
        assert script.status_code == 200 and "EventSource" in script.text


async def test_post_without_the_csrf_token_is_refused(make_gallery: GalleryFactory) -> None:
    async with make_gallery() as gallery:
        response = await gallery.http.post("/api/check", json={"fields": FAST_FIELDS})
        assert response.status_code == 403
        wrong = await gallery.http.post(
            "/api/check", json={"fields": FAST_FIELDS}, headers={"X-CSRF-Token": "guess"}
        )
        assert wrong.status_code == 403


async def test_post_from_another_origin_is_refused_even_with_the_token(
    make_gallery: GalleryFactory,
) -> None:
    async with make_gallery() as gallery:
        foreign = await gallery.post(
            "/api/check", json={"fields": FAST_FIELDS}, headers={"Origin": "http://evil.test"}
        )
        assert foreign.status_code == 403
        cross_site = await gallery.post(
            "/api/check", json={"fields": FAST_FIELDS}, headers={"Sec-Fetch-Site": "cross-site"}
        )
        assert cross_site.status_code == 403
        same = await gallery.post(
            "/api/check",
            json={"fields": FAST_FIELDS},
            headers={"Origin": "http://127.0.0.1:8765", "Sec-Fetch-Site": "same-origin"},
        )
        assert same.status_code == 200


async def test_a_request_naming_a_foreign_host_is_refused(make_gallery: GalleryFactory) -> None:
    async with make_gallery() as gallery:
        rebound = await gallery.http.get("/api/jobs", headers={"Host": "attacker.example:8765"})
        assert rebound.status_code == 421
        local = await gallery.http.get("/api/jobs", headers={"Host": "localhost:8765"})
        assert local.status_code == 200


async def test_other_methods_than_get_and_post_are_refused(make_gallery: GalleryFactory) -> None:
    async with make_gallery() as gallery:
        response = await gallery.http.delete("/api/jobs/x", headers=gallery.headers)
        assert response.status_code == 405


def test_create_app_refuses_a_client_without_a_journal(tmp_path: Path) -> None:
    client = AsyncVeniceVideo(api_key="k", base_url="http://127.0.0.1:9/api/v1", journal=False)
    with pytest.raises(ValueError, match="journal"):
        create_app(client, output_dir=tmp_path)


# --------------------------------------------------------------------------- the form


async def test_models_give_the_form_each_models_allowed_choices(
    make_gallery: GalleryFactory,
) -> None:
    async with make_gallery() as gallery:
        models = {m["id"]: m for m in (await gallery.http.get("/api/models")).json()["models"]}
        grok = models[FAST_MODEL]
        assert grok["durations"][0] == "1s" and "15s" in grok["durations"]
        assert grok["resolutions"] == ["480p", "720p"]
        assert "16:9" in grok["aspect_ratios"]
        assert grok["inputs"] == ["text"]
        assert "image" in models["grok-imagine-image-to-video-private"]["inputs"]


async def test_check_names_the_field_and_its_allowed_values_when_invalid(
    make_gallery: GalleryFactory,
) -> None:
    async with make_gallery() as gallery:
        fields = {**FAST_FIELDS, "duration": "20s", "resolution": "1080p"}
        answer = (await gallery.post("/api/check", json={"fields": fields})).json()
        assert answer["valid"] is False and answer["quote_usd"] is None
        by_field = {i["field"]: i for i in answer["issues"]}
        assert by_field["duration"]["suggestion"] == "15s"
        assert by_field["resolution"]["allowed"] == ["480p", "720p"]


async def test_check_quotes_a_valid_request(make_gallery: GalleryFactory) -> None:
    async with make_gallery(max_cost=5.0) as gallery:
        answer = (await gallery.post("/api/check", json={"fields": FAST_FIELDS})).json()
        assert answer["valid"] is True and answer["issues"] == []
        assert answer["quote_usd"] > 0
        assert answer["max_cost_usd"] == 5.0


async def test_check_reports_an_unknown_upload_on_its_field(make_gallery: GalleryFactory) -> None:
    async with make_gallery() as gallery:
        fields = {
            **FAST_FIELDS,
            "model": "grok-imagine-image-to-video-private",
            "image": "0" * 64 + ".png",
        }
        answer = (await gallery.post("/api/check", json={"fields": fields})).json()
        assert answer["valid"] is False
        assert answer["issues"][0]["field"] == "image"


async def test_generate_needs_the_price_the_user_confirmed(make_gallery: GalleryFactory) -> None:
    async with make_gallery() as gallery:
        response = await gallery.post("/api/generate", json={"fields": FAST_FIELDS})
        assert response.status_code == 400
        assert response.json()["quote_usd"] > 0
        assert Journal(gallery.client.journal.path).list() == []  # type: ignore[union-attr]


async def test_generate_refuses_when_the_price_is_above_the_confirmed_one(
    make_gallery: GalleryFactory,
) -> None:
    async with make_gallery() as gallery:
        response = await gallery.post(
            "/api/generate", json={"fields": FAST_FIELDS, "max_cost_usd": 0.001}
        )
        assert response.status_code == 409
        assert response.json()["kind"] == "price_changed"
        assert gallery.client.journal.list() == []  # type: ignore[union-attr]


async def test_generate_refuses_a_price_over_the_configured_limit(
    make_gallery: GalleryFactory,
) -> None:
    async with make_gallery(max_cost=0.01) as gallery:
        response = await gallery.post(
            "/api/generate", json={"fields": FAST_FIELDS, "max_cost_usd": 100.0}
        )
        assert response.status_code == 409
        assert response.json()["kind"] == "spend_limit"


async def test_generate_refuses_an_invalid_request_with_its_issues(
    make_gallery: GalleryFactory,
) -> None:
    async with make_gallery() as gallery:
        fields = {**FAST_FIELDS, "aspect_ratio": "5:1"}
        response = await gallery.post("/api/generate", json={"fields": fields, "max_cost_usd": 1.0})
        assert response.status_code == 422
        assert response.json()["issues"][0]["field"] == "aspect_ratio"


async def test_generate_runs_the_job_to_a_saved_video_served_with_ranges(
    make_gallery: GalleryFactory,
) -> None:
    async with make_gallery() as gallery:
        job = await _generate(gallery)
        assert job["state"] == "done" and job["status"] == "COMPLETED"
        assert job["file"]["exists"] is True
        assert Path(job["file"]["path"]).parent == gallery.output_dir
        assert job["media"]["duration_s"] == pytest.approx(1.0, abs=0.1)
        assert job["media"]["source_type"].startswith('video/mp4; codecs="avc1.')
        assert job["request"]["prompt"] == FAST_FIELDS["prompt"]
        assert job["tags"]["via"] == "ui"
        assert "download_url" not in str(job)
        video = await gallery.http.get(job["video_url"], headers={"Range": "bytes=0-99"})
        assert video.status_code == 206
        assert video.headers["content-type"] == "video/mp4"
        assert video.headers["content-range"].startswith("bytes 0-99/")
        assert len(video.content) == 100


async def test_poster_is_a_jpeg_frame_of_the_video(make_gallery: GalleryFactory) -> None:
    async with make_gallery() as gallery:
        job = await _generate(gallery)
        poster = await gallery.http.get(job["poster_url"])
        assert poster.status_code == 200
        image = Image.open(io.BytesIO(poster.content))
        assert image.format == "JPEG"
        assert image.size[0] <= 640 and image.size[0] > image.size[1]


async def test_preview_is_a_webm_copy_of_the_video(make_gallery: GalleryFactory) -> None:
    av = pytest.importorskip("av")
    async with make_gallery() as gallery:
        job = await _generate(gallery)
        preview = await gallery.http.get(job["preview_url"])
        assert preview.status_code == 200
        assert preview.headers["content-type"] == "video/webm"
        with av.open(io.BytesIO(preview.content)) as container:
            assert container.streams.video[0].codec_context.name == "vp8"
            assert float(container.duration) / 1e6 == pytest.approx(1.0, abs=0.1)


# --------------------------------------------------------------------------- uploads


async def test_upload_is_kept_under_its_content_digest(make_gallery: GalleryFactory) -> None:
    async with make_gallery() as gallery:
        data = _png()
        response = await gallery.post("/api/uploads?kind=image", content=data)
        assert response.status_code == 201
        stored = response.json()
        assert stored["id"] == f"{hashlib.sha256(data).hexdigest()}.png"
        assert (gallery.output_dir / "uploads" / stored["id"]).read_bytes() == data


async def test_upload_over_the_size_limit_is_refused(make_gallery: GalleryFactory) -> None:
    async with make_gallery(max_upload_bytes=1000) as gallery:
        response = await gallery.post("/api/uploads?kind=image", content=_png())
        assert response.status_code == 413
        leftovers = list((gallery.output_dir / "uploads").glob("*"))
        assert leftovers == []


async def test_upload_of_the_wrong_kind_is_refused(make_gallery: GalleryFactory) -> None:
    async with make_gallery() as gallery:
        response = await gallery.post("/api/uploads?kind=audio", content=_png())
        assert response.status_code == 400
        assert "WAV or MP3" in response.json()["error"]
        empty = await gallery.post("/api/uploads?kind=image", content=b"")
        assert empty.status_code == 400


async def test_an_image_job_can_run_again_from_its_kept_input(
    make_gallery: GalleryFactory,
) -> None:
    async with make_gallery() as gallery:
        upload = (await gallery.post("/api/uploads?kind=image", content=_png())).json()
        fields = {
            "model": "grok-imagine-image-to-video-private",
            "prompt": "The water starts to move",
            "duration": "1s",
            "resolution": "480p",
            "image": upload["id"],
        }
        job = await _generate(gallery, fields)
        assert job["state"] == "done"
        assert job["request"]["image_url"].startswith("data:image/")
        assert job["can_rerun"] is True
        quote = await gallery.post(f"/api/jobs/{job['key']}/rerun-quote")
        assert quote.status_code == 200 and quote.json()["quote_usd"] > 0


# --------------------------------------------------------------------------- actions


async def test_rerun_shows_a_quote_then_starts_a_new_job_with_the_same_request(
    make_gallery: GalleryFactory,
) -> None:
    async with make_gallery() as gallery:
        first = await _generate(gallery)
        quote = (await gallery.post(f"/api/jobs/{first['key']}/rerun-quote")).json()
        assert quote["quote_usd"] == first["quote_usd"]
        assert len(gallery.client.journal.list()) == 1  # type: ignore[union-attr]
        unconfirmed = await gallery.post(f"/api/jobs/{first['key']}/rerun", json={})
        assert unconfirmed.status_code == 400
        started = await gallery.post(
            f"/api/jobs/{first['key']}/rerun", json={"max_cost_usd": quote["quote_usd"]}
        )
        assert started.status_code == 201
        second = started.json()
        assert second["key"] != first["key"]
        assert second["tags"]["rerun_of"] == first["key"]
        await wait_idle(gallery, second["key"])
        detail = (await gallery.http.get(f"/api/jobs/{second['key']}")).json()
        assert detail["state"] == "done"
        assert detail["request"] == first["request"]


async def test_rerun_is_refused_when_an_input_was_not_kept(
    make_gallery: GalleryFactory, tmp_path: Path, server: Any
) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    digest = hashlib.sha256(b"gone").hexdigest()
    journal.record_intent(
        key="a" * 32,
        model="grok-imagine-image-to-video-private",
        base_url=server.base_url,
        request={
            "model": "grok-imagine-image-to-video-private",
            "prompt": "x",
            "duration": "1s",
            "image_url": f"data:image/png;sha256={digest};bytes=4",
        },
        quote_usd=0.1,
        output_path=str(tmp_path / "x.mp4"),
    )
    journal.close()
    async with make_gallery() as gallery:
        view = (await gallery.http.get("/api/jobs/" + "a" * 32)).json()
        assert view["can_rerun"] is False and "not kept" in view["rerun_note"]
        response = await gallery.post("/api/jobs/" + "a" * 32 + "/rerun-quote")
        assert response.status_code == 409


async def test_delete_file_removes_it_and_marks_the_entry(make_gallery: GalleryFactory) -> None:
    async with make_gallery() as gallery:
        job = await _generate(gallery)
        path = Path(job["file"]["path"])
        assert path.exists()
        without_token = await gallery.http.post(f"/api/jobs/{job['key']}/delete-file")
        assert without_token.status_code == 403 and path.exists()
        response = await gallery.post(f"/api/jobs/{job['key']}/delete-file")
        assert response.status_code == 200
        view = response.json()
        assert not path.exists()
        assert view["file"] == {
            "path": str(path),
            "exists": False,
            "size_bytes": None,
            "deleted_at": pytest.approx(view["file"]["deleted_at"]),
        }
        assert view["video_url"] is None and view["can_delete"] is False
        entry = gallery.client.journal.get(job["key"])  # type: ignore[union-attr]
        assert entry is not None and entry.output_path == str(path)
        assert entry.status == "COMPLETED" and "deleted_at" in entry.tags
        again = await gallery.post(f"/api/jobs/{job['key']}/delete-file")
        assert again.status_code == 404


async def test_resume_drives_an_unfinished_job_to_its_video(make_gallery: GalleryFactory) -> None:
    async with make_gallery() as gallery:
        queued = await gallery.client.submit(
            **FAST_FIELDS, output=gallery.output_dir / "resumed.mp4"
        )
        before = (await gallery.http.get(f"/api/jobs/{queued.idempotency_key}")).json()
        assert before["can_resume"] is True and before["state"] == "running"
        response = await gallery.post(f"/api/jobs/{queued.idempotency_key}/resume")
        assert response.status_code == 202
        await wait_idle(gallery, queued.idempotency_key)
        after = (await gallery.http.get(f"/api/jobs/{queued.idempotency_key}")).json()
        assert after["state"] == "done" and after["file"]["exists"] is True
        again = await gallery.post(f"/api/jobs/{queued.idempotency_key}/resume")
        assert again.status_code == 409


async def test_unfinished_gallery_jobs_are_resumed_when_it_starts(
    make_gallery: GalleryFactory, tmp_path: Path, server: Any, api_key: str
) -> None:
    async with AsyncVeniceVideo(
        api_key=api_key, base_url=server.base_url, journal=tmp_path / "journal.sqlite3"
    ) as client:
        mine = await client.submit(**FAST_FIELDS, output=tmp_path / "a.mp4", tags={"via": "ui"})
        other = await client.submit(**FAST_FIELDS, output=tmp_path / "b.mp4")
    async with make_gallery() as gallery:
        assert gallery.runner.is_driving(mine.idempotency_key)
        assert not gallery.runner.is_driving(other.idempotency_key)
        await wait_idle(gallery, mine.idempotency_key)
        assert (tmp_path / "a.mp4").exists()


async def test_resume_is_refused_for_a_job_sent_to_another_api(
    make_gallery: GalleryFactory, tmp_path: Path
) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    journal.record_intent(
        key="b" * 32,
        model=FAST_MODEL,
        base_url="https://api.example.test/api/v1",
        request={**FAST_FIELDS},
        quote_usd=0.1,
        output_path=str(tmp_path / "elsewhere.mp4"),
    )
    journal.record_queued("b" * 32, queue_id="q-1", download_url=None)
    journal.close()
    async with make_gallery() as gallery:
        view = (await gallery.http.get("/api/jobs/" + "b" * 32)).json()
        assert view["this_api"] is False and view["api"] == "api.example.test"
        assert view["can_resume"] is False and "another API" in view["resume_note"]
        response = await gallery.post("/api/jobs/" + "b" * 32 + "/resume")
        assert response.status_code == 409


async def test_samples_fill_an_empty_gallery_on_the_local_engine_only(
    make_gallery: GalleryFactory,
) -> None:
    async with make_gallery(local_engine=False) as gallery:
        refused = await gallery.post("/api/samples")
        assert refused.status_code == 403
    async with make_gallery(local_engine=True) as gallery:
        response = await gallery.post("/api/samples")
        assert response.status_code == 201
        jobs = response.json()["jobs"]
        assert len(jobs) == 3 and all(j["tags"]["sample"] is True for j in jobs)
        for job in jobs:
            await wait_idle(gallery, job["key"])
        listing = (await gallery.http.get("/api/jobs?state=done")).json()
        assert listing["count"] == 3


# --------------------------------------------------------------------------- files


async def test_only_journal_recorded_video_files_are_served(
    make_gallery: GalleryFactory, tmp_path: Path, server: Any
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the browser")
    disguised = tmp_path / "disguised.mp4"
    os.symlink(secret, disguised)
    journal = Journal(tmp_path / "journal.sqlite3")
    for key, path in (("c" * 32, secret), ("d" * 32, disguised)):
        journal.record_intent(
            key=key,
            model=FAST_MODEL,
            base_url=server.base_url,
            request=dict(FAST_FIELDS),
            quote_usd=None,
            output_path=str(path),
        )
        journal.update(key, status="COMPLETED")
    journal.close()
    async with make_gallery() as gallery:
        for key in ("c" * 32, "d" * 32, "e" * 32, "..%2F..%2Fetc%2Fpasswd"):
            response = await gallery.http.get(f"/media/{key}/video")
            assert response.status_code == 404, key
            assert b"not for the browser" not in response.content
        view = (await gallery.http.get("/api/jobs/" + "c" * 32)).json()
        assert view["video_url"] is None and view["file"]["exists"] is False


async def test_listing_filters_sorts_and_totals_the_spend(
    make_gallery: GalleryFactory, tmp_path: Path, server: Any
) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    rows = [
        ("k1", "wan-3-0-text-to-video", "a red boat", 0.5, "COMPLETED", True),
        ("k2", "wan-3-0-text-to-video", "a blue boat", 0.25, "FAILED", True),
        ("k3", FAST_MODEL, "a red kite", 0.75, "COMPLETED", True),
        ("k4", FAST_MODEL, "a red car", 2.0, "QUOTED", False),
    ]
    for index, (key, model, prompt, quote, status, queued) in enumerate(rows):
        journal.record_intent(
            key=key,
            model=model,
            base_url=server.base_url,
            request={"model": model, "prompt": prompt},
            quote_usd=quote,
            output_path=None,
        )
        if queued:
            journal.record_queued(key, queue_id=f"q{index}", download_url="https://x/y?sig=z")
        journal.update(key, status=status, created_at=1000.0 + index)
    journal.close()
    async with make_gallery() as gallery:

        async def listing(query: str) -> dict[str, Any]:
            response = await gallery.http.get(f"/api/jobs?{query}")
            assert response.status_code == 200, response.text
            result: dict[str, Any] = response.json()
            return result

        everything = await listing("")
        assert [j["key"] for j in everything["jobs"]] == ["k4", "k3", "k2", "k1"]
        assert everything["total_usd"] == pytest.approx(1.5)  # the unqueued quote is not spent
        red = await listing("q=red")
        assert {j["key"] for j in red["jobs"]} == {"k1", "k3", "k4"}
        assert red["total_usd"] == pytest.approx(1.25) and red["all_total_usd"] == 1.5
        wan = await listing("model=wan-3-0-text-to-video&state=done")
        assert [j["key"] for j in wan["jobs"]] == ["k1"] and wan["total_usd"] == 0.5
        by_cost = await listing("sort=cost-desc")
        assert [j["key"] for j in by_cost["jobs"]] == ["k4", "k3", "k1", "k2"]
        cheapest = await listing("sort=cost-asc&limit=1")
        assert [j["key"] for j in cheapest["jobs"]] == ["k2"] and cheapest["count"] == 4
        assert everything["models"] == [FAST_MODEL, "wan-3-0-text-to-video"]
        assert "sig=z" not in str(everything)
        bad = await gallery.http.get("/api/jobs?state=sleeping")
        assert bad.status_code == 400


async def test_an_unknown_job_is_404(make_gallery: GalleryFactory) -> None:
    async with make_gallery() as gallery:
        assert (await gallery.http.get("/api/jobs/nope")).status_code == 404
        assert (await gallery.post("/api/jobs/nope/resume")).status_code == 404
        assert (await gallery.post("/api/jobs/nope/delete-file")).status_code == 404
        assert (await gallery.http.get("/media/nope/poster.jpg")).status_code == 404


def test_uploaded_inputs_rehydrate_a_journaled_request(tmp_path: Path) -> None:
    from venice_video.journal._store import digest_data_urls
    from venice_video.ui._uploads import MissingInput, UploadStore

    store = UploadStore(tmp_path)
    data = _png(1200, 800)
    url = f"data:image/png;base64,{base64.b64encode(data).decode()}"
    store.keep_inline({"image_url": url})
    journaled = digest_data_urls({"model": "m", "image_url": url})
    assert journaled["image_url"].startswith("data:image/png;sha256=")
    assert store.rehydrate(journaled) == {"model": "m", "image_url": url}
    (tmp_path / f"{hashlib.sha256(data).hexdigest()}.png").write_bytes(b"changed")
    with pytest.raises(MissingInput, match="changed"):
        store.rehydrate(journaled)
