"""POST /video/retrieve and POST /video/complete."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from _server_helpers import (
    INLINE_BODY,
    INLINE_MODEL,
    VPS_BODY,
    VPS_MODEL,
    assert_error_shape,
    probe,
    queue,
    wait_done,
)

from venice_video.server import ManualClock, ServerThread

NOT_FOUND = "Media could not be found. Request may be invalid, expired, or deleted."


def _client(running: ServerThread, api_key: str) -> httpx.Client:
    return httpx.Client(base_url=running.base_url, timeout=30,
                        headers={"Authorization": f"Bearer {api_key}"})  # fmt: skip


def test_retrieve_reports_processing_with_server_clock_times(
    server_factory: Any, api_key: str
) -> None:
    clock = ManualClock()
    running = server_factory(clock=clock)
    with _client(running, api_key) as client:
        job = queue(client, INLINE_BODY)
        clock.advance(12.5)
        response = client.post("/video/retrieve", json=job)
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"status", "average_execution_time", "execution_duration"}
        assert body["status"] == "PROCESSING"
        assert body["execution_duration"] == 12_500
        # No finished job of this model yet: the model's typical time, tens of seconds.
        assert 10_000 < body["average_execution_time"] < 300_000


def test_retrieve_streams_the_mp4_once_ready(client: httpx.Client) -> None:
    job = queue(client, INLINE_BODY)
    response = wait_done(client, INLINE_MODEL, job["queue_id"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    assert int(response.headers["content-length"]) == len(response.content)
    info = probe(response.content)
    assert (info.width, info.height) == (854, 480)
    assert info.duration_s == pytest.approx(5.0, abs=0.1)
    # Polling again serves the same file until it is deleted.
    assert wait_done(client, INLINE_MODEL, job["queue_id"]).content == response.content


def test_retrieve_reports_completed_for_download_url_jobs(client: httpx.Client) -> None:
    job = queue(client, VPS_BODY)
    response = wait_done(client, VPS_MODEL, job["queue_id"])
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "COMPLETED"
    assert body["execution_duration"] > 0 and body["average_execution_time"] > 0
    video = httpx.get(job["download_url"])
    assert video.status_code == 200 and probe(video.content).height == 480


def test_average_execution_time_is_the_p80_of_finished_jobs(
    server_factory: Any, api_key: str
) -> None:
    running = server_factory()
    with _client(running, api_key) as client:
        first = queue(client, VPS_BODY)
        done = wait_done(client, VPS_MODEL, first["queue_id"]).json()
        assert done["average_execution_time"] == done["execution_duration"]
        second = queue(client, VPS_BODY)
        polled = client.post("/video/retrieve", json=_ids(second)).json()
        assert polled["average_execution_time"] == done["execution_duration"]


def test_delete_media_on_completion_deletes_after_delivery(client: httpx.Client) -> None:
    job = queue(client, INLINE_BODY)
    response = wait_done(client, INLINE_MODEL, job["queue_id"], delete_media_on_completion=True)
    assert response.headers["content-type"] == "video/mp4"
    again = client.post("/video/retrieve", json=job)
    assert assert_error_shape(again, 404) == {"error": NOT_FOUND}


@pytest.mark.parametrize(
    "queue_id",
    [
        "00000000-0000-4000-8000-000000000000",
        "../../etc/passwd",
        "x" * 5000,
        "",
        "ünïcødé",
        "123e4567-e89b-12d3-a456-426614174000/../../x",
    ],
)
def test_retrieve_unknown_or_malformed_ids_are_404(client: httpx.Client, queue_id: str) -> None:
    response = client.post("/video/retrieve", json={"model": INLINE_MODEL, "queue_id": queue_id})
    if queue_id == "":
        assert_error_shape(response, 400)
    else:
        assert assert_error_shape(response, 404) == {"error": NOT_FOUND}


def test_malformed_ids_can_be_400_request_id_not_found(server_factory: Any, api_key: str) -> None:
    running = server_factory(malformed_id_status=400)
    with _client(running, api_key) as client:
        bad = client.post("/video/retrieve", json={"model": INLINE_MODEL, "queue_id": "nope"})
        assert assert_error_shape(bad, 400) == {
            "error": "Request ID is invalid.", "code": "REQUEST_ID_NOT_FOUND"
        }  # fmt: skip
        unknown = client.post(
            "/video/retrieve",
            json={"model": INLINE_MODEL, "queue_id": "00000000-0000-4000-8000-000000000000"},
        )
        assert unknown.status_code == 404


def test_a_job_is_invisible_to_other_accounts(client: httpx.Client, server: ServerThread) -> None:
    job = queue(client, VPS_BODY)
    other = httpx.post(f"{server.base_url}/video/retrieve",
                       json={"model": VPS_MODEL, "queue_id": job["queue_id"]},
                       headers={"Authorization": "Bearer someone-else"})  # fmt: skip
    assert assert_error_shape(other, 404) == {"error": NOT_FOUND}


@pytest.mark.parametrize(
    "body",
    [
        {"queue_id": "00000000-0000-4000-8000-000000000000"},
        {"model": INLINE_MODEL},
        {"model": INLINE_MODEL, "queue_id": 5},
        {"model": INLINE_MODEL, "queue_id": "x", "delete_media_on_completion": "yes"},
        {"model": INLINE_MODEL, "queue_id": "x", "extra": 1},
        [],
        "text",
    ],
)
def test_retrieve_body_errors_are_400(client: httpx.Client, body: Any) -> None:
    response = client.post("/video/retrieve", json=body)
    assert assert_error_shape(response, 400)["error"] == "Invalid request parameters"


def test_retrieve_without_a_key_is_401(server: ServerThread) -> None:
    response = httpx.post(f"{server.base_url}/video/retrieve", json={"model": "m", "queue_id": "q"})
    assert_error_shape(response, 401)


def test_provider_policy_rejection_is_422_and_refunded(server_factory: Any, api_key: str) -> None:
    running = server_factory(provider_blocked_terms=["volcano"],
                             provider_recommended_model="wan-2-7-text-to-video")  # fmt: skip
    with _client(running, api_key) as client:
        job = queue(client, VPS_BODY | {"prompt": "a volcano erupting"})
        response = wait_done(client, VPS_MODEL, job["queue_id"])
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["type"] == "provider_content_policy"
        assert error["credits_refunded"] is True
        assert error["recommended_model"] == "wan-2-7-text-to-video"
        assert isinstance(error["message"], str)
        assert response.headers["x-venice-balance-usd"] == "100.000000"


def test_failing_terms_make_inference_fail_with_500_and_refund(
    server_factory: Any, api_key: str
) -> None:
    running = server_factory(failing_terms=["glitch"])
    with _client(running, api_key) as client:
        job = queue(client, VPS_BODY | {"prompt": "a glitch in time"})
        response = wait_done(client, VPS_MODEL, job["queue_id"])
        assert "Inference processing failed" in assert_error_shape(response, 500)["error"]
        assert response.headers["x-venice-balance-usd"] == "100.000000"


def test_jobs_over_model_capacity_wait_and_answer_503(server_factory: Any, api_key: str) -> None:
    clock = ManualClock()
    running = server_factory(model_capacity={VPS_MODEL: 1}, clock=clock)
    with _client(running, api_key) as client:
        first = queue(client, VPS_BODY)
        second = queue(client, VPS_BODY)
        assert client.post("/video/retrieve", json=_ids(first)).json()["status"] == "PROCESSING"
        waiting = client.post("/video/retrieve", json=_ids(second))
        assert_error_shape(waiting, 503)
        assert int(waiting.headers["retry-after"]) >= 1
        clock.advance(3600)
        assert wait_done(client, VPS_MODEL, first["queue_id"]).json()["status"] == "COMPLETED"
        clock.advance(3600)
        assert wait_done(client, VPS_MODEL, second["queue_id"]).json()["status"] == "COMPLETED"


def _ids(job: dict[str, Any]) -> dict[str, Any]:
    return {"model": job["model"], "queue_id": job["queue_id"]}


def test_complete_deletes_the_media(client: httpx.Client) -> None:
    job = queue(client, INLINE_BODY)
    assert wait_done(client, INLINE_MODEL, job["queue_id"]).status_code == 200
    done = client.post("/video/complete", json=job)
    assert done.status_code == 200 and done.json() == {"success": True}
    assert_error_shape(client.post("/video/retrieve", json=job), 404)
    assert_error_shape(client.post("/video/complete", json=job), 404)


def test_complete_works_for_download_url_jobs_by_default(client: httpx.Client) -> None:
    job = queue(client, VPS_BODY)
    wait_done(client, VPS_MODEL, job["queue_id"])
    assert client.post("/video/complete", json=_ids(job)).json() == {"success": True}
    assert httpx.get(job["download_url"]).status_code == 404


def test_complete_can_reject_download_url_jobs(server_factory: Any, api_key: str) -> None:
    running = server_factory(vps_complete_rejects=True)
    with _client(running, api_key) as client:
        job = queue(client, VPS_BODY)
        response = client.post("/video/complete", json=_ids(job))
        assert assert_error_shape(response, 400)["error"] == "Request ID is invalid."


@pytest.mark.parametrize(
    "body", [{"model": INLINE_MODEL}, {"model": INLINE_MODEL, "queue_id": "q", "x": 1}, []]
)
def test_complete_body_errors_are_400(client: httpx.Client, body: Any) -> None:
    assert_error_shape(client.post("/video/complete", json=body), 400)
