"""`VeniceVideo` against the local server over loopback HTTP.

The twin of `test_async_client.py`: the same test names, the same checks, awaited there.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sdk_helpers import INLINE_MODEL, SMALL, URL_MODEL, local_jobs, local_stats

from venice_video import (
    ContentPolicyError,
    InputError,
    JobFailedError,
    NotFoundError,
    Progress,
    QueueRequest,
    SpendLimitError,
    ValidationError,
    VeniceVideo,
)
from venice_video.media import verify as verify_mp4
from venice_video.server import ServerThread

FIXTURES = Path(__file__).parent.parent / "fixtures"


def test_generate_saves_a_verified_video_and_completes(
    venice: VeniceVideo, server: ServerThread, api_key: str, tmp_path: Path
) -> None:
    job = venice.generate(
        model=INLINE_MODEL, prompt="a red kite", **SMALL, output=tmp_path / "kite.mp4"
    )
    assert job.status == "COMPLETED"
    assert job.path == tmp_path / "kite.mp4"
    assert job.media is not None and job.media.height == 480
    assert verify_mp4(job.path).frames == job.media.frames
    assert job.cost is not None and job.cost > 0
    assert job.elapsed_s is not None and job.queued_at is not None
    stats = local_stats(server, api_key)
    assert stats["idempotency_keys"][job.idempotency_key]["jobs_created"] == 1
    assert stats["jobs_by_state"] == {"deleted": 1}


def test_generate_with_download_url_fetches_and_revokes(
    venice: VeniceVideo, server: ServerThread, api_key: str, tmp_path: Path
) -> None:
    job = venice.generate(
        model=URL_MODEL, prompt="a blue kite", **SMALL, output=tmp_path / "kite.mp4"
    )
    assert job.status == "COMPLETED"
    assert job.download_url is not None
    assert "download_url" not in repr(job)
    assert verify_mp4(tmp_path / "kite.mp4").frames > 0
    (record,) = local_jobs(server, api_key)
    assert record["download_count"] >= 1
    assert record["deleted_at"] is not None or record["revoked"]


def test_quote_returns_a_price(venice: VeniceVideo) -> None:
    quote = venice.quote(INLINE_MODEL, **SMALL)
    assert quote.quote > 0


def test_models_returns_the_catalog(venice: VeniceVideo, tmp_path: Path) -> None:
    catalog = venice.models()
    assert INLINE_MODEL in catalog
    assert catalog[URL_MODEL].model_type == "text-to-video"
    assert list((tmp_path / "cache").glob("models-video-*.json"))


def test_validate_rejects_a_bad_resolution_with_a_suggestion(venice: VeniceVideo) -> None:
    with pytest.raises(ValidationError) as info:
        venice.validate(
            {"model": INLINE_MODEL, "prompt": "x", "duration": "1s", "resolution": "480"}
        )
    (issue,) = info.value.issues
    assert issue.field == "resolution"
    assert issue.suggestion == "480p"
    assert "'480'" in str(info.value)


def test_validate_returns_the_typed_request(venice: VeniceVideo) -> None:
    request = venice.validate(QueueRequest(model=INLINE_MODEL, prompt="x", **SMALL))
    assert request.duration == "1s"


def test_submit_then_wait_then_download(venice: VeniceVideo, tmp_path: Path) -> None:
    job = venice.submit(model=INLINE_MODEL, prompt="a yellow kite", **SMALL)
    assert job.status == "QUEUED" and job.queue_id
    ready = venice.wait(job)
    assert ready.status == "READY"
    saved = venice.download(ready, tmp_path / "out.mp4")
    assert saved.status == "COMPLETED"
    assert saved.path == tmp_path / "out.mp4"
    assert verify_mp4(tmp_path / "out.mp4").frames > 0


def test_retrieve_polls_once_and_saves_when_ready(venice: VeniceVideo, tmp_path: Path) -> None:
    job = venice.submit(model=INLINE_MODEL, prompt="a green kite", **SMALL)
    assert job.queue_id is not None
    venice.wait(job)
    status = venice.retrieve(job.model, job.queue_id, output=tmp_path / "r.mp4")
    assert status.is_ready
    assert status.path == tmp_path / "r.mp4"
    assert status.size_bytes == (tmp_path / "r.mp4").stat().st_size


def test_complete_deletes_the_media(venice: VeniceVideo) -> None:
    job = venice.submit(model=INLINE_MODEL, prompt="a grey kite", **SMALL)
    assert job.queue_id is not None
    venice.wait(job)
    assert venice.complete(job.model, job.queue_id).success
    with pytest.raises(NotFoundError):
        venice.retrieve(job.model, job.queue_id)


def test_resume_finishes_jobs_another_client_left(
    venice: VeniceVideo, server: ServerThread, api_key: str, tmp_path: Path
) -> None:
    submitted = [
        venice.submit(
            model=INLINE_MODEL, prompt=f"kite {i}", **SMALL, output=tmp_path / f"kite-{i}.mp4"
        )
        for i in range(3)
    ]
    with VeniceVideo(
        api_key=api_key,
        base_url=server.base_url,
        journal=tmp_path / "journal.sqlite3",
        cache_dir=False,
    ) as other:
        resumed = other.resume()
    assert sorted(j.idempotency_key for j in resumed) == sorted(
        j.idempotency_key for j in submitted
    )
    assert {j.status for j in resumed} == {"COMPLETED"}
    assert all(verify_mp4(tmp_path / f"kite-{i}.mp4").frames > 0 for i in range(3))
    assert venice.resume() == []


def test_jobs_lists_the_journal(venice: VeniceVideo) -> None:
    job = venice.submit(model=INLINE_MODEL, prompt="a kite", **SMALL)
    listed = venice.jobs()
    assert [j.idempotency_key for j in listed] == [job.idempotency_key]
    assert listed[0].quote_usd == job.quote_usd
    assert venice.jobs(statuses=["COMPLETED"]) == []


def test_spend_limit_stops_before_queueing(
    venice: VeniceVideo, server: ServerThread, api_key: str
) -> None:
    with pytest.raises(SpendLimitError):
        venice.generate(model=INLINE_MODEL, prompt="a kite", **SMALL, max_cost=0.000001)
    assert local_stats(server, api_key)["queue_requests"] == 0


def test_progress_reports_each_phase(venice: VeniceVideo, tmp_path: Path) -> None:
    seen: list[Progress] = []
    venice.generate(
        model=INLINE_MODEL,
        prompt="a kite",
        **SMALL,
        output=tmp_path / "p.mp4",
        on_progress=seen.append,
    )
    phases = [p.phase for p in seen]
    assert phases[0] == "queued" and phases[-1] == "done"
    assert "downloading" in phases
    assert seen[-1].bytes_done == (tmp_path / "p.mp4").stat().st_size


def test_content_policy_refusal_raises_with_a_suggestion(
    server_factory: Any, api_key: str, tmp_path: Path
) -> None:
    server = server_factory(blocked_terms=["forbidden"])
    with VeniceVideo(
        api_key=api_key, base_url=server.base_url, journal=False, cache_dir=False
    ) as client:
        with pytest.raises(ContentPolicyError) as info:
            client.generate(
                model=INLINE_MODEL, prompt="a forbidden kite", **SMALL, output=tmp_path / "x.mp4"
            )
    assert info.value.status_code == 422


def test_failed_inference_fails_the_job(server_factory: Any, api_key: str, tmp_path: Path) -> None:
    server = server_factory(failing_terms=["explode"])
    with VeniceVideo(
        api_key=api_key, base_url=server.base_url, journal=tmp_path / "j.sqlite3", cache_dir=False
    ) as client:
        with pytest.raises(JobFailedError) as info:
            client.generate(
                model=INLINE_MODEL, prompt="an explode kite", **SMALL, output=tmp_path / "x.mp4"
            )
        assert info.value.job.status == "FAILED"
        assert client.jobs()[0].status == "FAILED"


def test_canary_key_never_leaks_over_a_real_lifecycle(
    server: ServerThread, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    canary = f"sk-canary-{uuid.uuid4().hex}"
    texts: list[str] = []
    with VeniceVideo(
        api_key=canary,
        base_url=server.base_url,
        journal=tmp_path / "canary.sqlite3",
        cache_dir=tmp_path / "cache",
    ) as client:
        job = client.generate(model=URL_MODEL, prompt="a kite", **SMALL, output=tmp_path / "c.mp4")
        texts += [repr(client), repr(job), str(job), repr(vars(client))]
        with pytest.raises(NotFoundError) as info:
            client.retrieve(INLINE_MODEL, str(uuid.uuid4()))
        texts += [str(info.value), repr(info.value), repr(vars(info.value))]
        texts += [repr(dict(info.value.response.request.headers))]
    texts.append(caplog.text)
    stored = b"".join(
        p.read_bytes() for p in tmp_path.rglob("*") if p.suffix != ".mp4" and p.is_file()
    )
    assert not [t for t in texts if canary in t]
    assert canary.encode() not in stored


@pytest.mark.stt
def test_transcribe_audio_returns_text(venice: VeniceVideo) -> None:
    pytest.importorskip("faster_whisper")
    result = venice.transcribe_audio(FIXTURES / "speech.wav", timestamps=True)
    assert result.text.strip()
    assert result.duration is None or result.duration > 0


def test_prepare_once_then_generate_with_its_quote_asks_the_price_once(
    server: ServerThread, api_key: str, tmp_path: Path
) -> None:
    paths: list[str] = []
    http = httpx.Client(event_hooks={"request": [lambda r: paths.append(r.url.path)]})
    with VeniceVideo(
        api_key=api_key, base_url=server.base_url, journal=tmp_path / "j.sqlite3",
        cache_dir=tmp_path / "cache", http_client=http,
    ) as venice:  # fmt: skip
        request = venice.prepare(model=INLINE_MODEL, prompt="a red kite", **SMALL)
        price = venice.quote(request=request)
        job = venice.generate(request=request, quote=price, output=tmp_path / "kite.mp4")
    http.close()
    assert isinstance(request, QueueRequest) and request.prompt == "a red kite"
    assert job.status == "COMPLETED" and job.quote_usd == price.quote
    assert sum(p.endswith("/video/quote") for p in paths) == 1
    assert sum(p.endswith("/video/queue") for p in paths) == 1


def test_prepare_refuses_a_bad_request_before_anything_is_sent(venice: VeniceVideo) -> None:
    with pytest.raises(ValidationError) as caught:
        venice.prepare(model=INLINE_MODEL, prompt="a red kite", duration="999s")
    assert any(issue.field == "duration" for issue in caught.value.issues)


def test_a_request_and_its_fields_together_are_refused(venice: VeniceVideo) -> None:
    request = venice.prepare(model=INLINE_MODEL, prompt="a red kite", **SMALL)
    with pytest.raises(InputError, match="not both"):
        venice.submit(request=request, prompt="another")
