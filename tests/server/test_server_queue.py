"""POST /video/queue: auth, validation, money, policy, consent, limits and idempotency."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from _server_helpers import (
    INLINE_BODY,
    INLINE_MODEL,
    VPS_BODY,
    VPS_MODEL,
    assert_error_shape,
    data_url,
    png,
    queue,
)

from venice_video.server import ManualClock, ServerThread

SEEDANCE_I2V = "seedance-2-0-image-to-video-basic"


def test_queue_returns_a_uuid_and_charges_the_quote(client: httpx.Client) -> None:
    priced = {k: v for k, v in INLINE_BODY.items() if k != "prompt"}  # the quote takes no prompt
    price = client.post("/video/quote", json=priced).json()["quote"]
    response = client.post("/video/queue", json=INLINE_BODY)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"model", "queue_id"}
    assert body["model"] == INLINE_MODEL
    assert str(uuid.UUID(body["queue_id"])) == body["queue_id"]
    assert response.headers["x-venice-balance-usd"] == "100.000000"
    after = client.get("/models", params={"type": "video"}).headers["x-venice-balance-usd"]
    assert float(after) == pytest.approx(100 - price)


def test_queue_adds_a_download_url_for_vps_models(
    client: httpx.Client, server: ServerThread
) -> None:
    body = queue(client, VPS_BODY)
    assert set(body) == {"model", "queue_id", "download_url"}
    assert body["download_url"].startswith(f"{server.root_url}/media/")


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Basic abc", "Token xyz"])
def test_queue_without_a_valid_key_is_401(server: ServerThread, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = httpx.post(f"{server.base_url}/video/queue", json=VPS_BODY, headers=headers)
    assert assert_error_shape(response, 401) == {"error": "Authentication failed"}


def test_queue_with_an_accounts_file_accepts_only_its_keys(
    server_factory: Any, tmp_path: Path
) -> None:
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps({"accounts": [{"key": "known", "balance_usd": 1.5}]}))
    running = server_factory(accounts_file=accounts)
    url = f"{running.base_url}/video/queue"
    assert (
        httpx.post(url, json=VPS_BODY, headers={"Authorization": "Bearer other"}).status_code == 401
    )
    ok = httpx.post(url, json=VPS_BODY, headers={"Authorization": "Bearer known"})
    assert ok.status_code == 200
    assert ok.headers["x-venice-balance-usd"] == "1.500000"
    assert running.app.config.data_dir is not None
    stored = (running.app.config.data_dir / "server.sqlite3").read_bytes()
    assert b"known" not in stored


def test_queue_is_402_when_the_balance_is_short(server_factory: Any, api_key: str) -> None:
    running = server_factory(starting_balance_usd=0.01)
    response = httpx.post(f"{running.base_url}/video/queue", json=INLINE_BODY,
                          headers={"Authorization": f"Bearer {api_key}"})  # fmt: skip
    body = assert_error_shape(response, 402)
    assert body["error"].startswith("Insufficient balance")
    assert body["code"] == "INSUFFICIENT_BALANCE"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model": INLINE_MODEL, "prompt": "x", "duration": "7s"}, "duration"),
        ({"model": INLINE_MODEL, "duration": "5s"}, "prompt"),
        (
            {"model": INLINE_MODEL, "prompt": "x", "duration": "5s", "resolution": "4k"},
            "resolution",
        ),
        ({"model": "nope", "prompt": "x", "duration": "5s"}, "model"),
        ({"model": INLINE_MODEL, "prompt": 5, "duration": "5s"}, "prompt"),
        (
            {"model": INLINE_MODEL, "prompt": "x", "duration": "5s", "image_url": "ftp://x"},
            "image_url",
        ),
        ({"model": "wan-2.6-image-to-video", "prompt": "x", "duration": "5s"}, "image_url"),
    ],  # fmt: skip
)
def test_queue_validation_errors_are_400_with_issues(
    client: httpx.Client, body: dict[str, Any], field: str
) -> None:
    response = client.post("/video/queue", json=body)
    error = assert_error_shape(response, 400)
    assert error["error"] == "Invalid request parameters"
    assert field in [issue["path"][0] for issue in error["issues"] if issue["path"]]
    assert field in error["details"]


def test_queue_rejects_bad_media_before_charging(client: httpx.Client) -> None:
    body = {"model": "wan-2.6-image-to-video", "prompt": "x", "duration": "5s",
            "image_url": data_url("image/png", b"not an image")}  # fmt: skip
    error = assert_error_shape(client.post("/video/queue", json=body), 400)
    assert error["issues"][0]["path"] == ["image_url"]
    balance = client.get("/models", params={"type": "video"}).headers["x-venice-balance-usd"]
    assert balance == "100.000000"


def test_queue_rejects_a_reference_image_below_the_model_minimum(client: httpx.Client) -> None:
    body = {"model": "happyhorse-1-0-image-to-video", "prompt": "x", "duration": "3s",
            "image_url": data_url("image/png", png(120, 80))}  # fmt: skip
    error = assert_error_shape(client.post("/video/queue", json=body), 400)
    assert "300" in error["issues"][0]["message"]


def test_queue_refuses_loopback_urls_by_default(client: httpx.Client) -> None:
    body = {"model": "wan-2.6-image-to-video", "prompt": "x", "duration": "5s",
            "image_url": "http://127.0.0.1:9/secret.png"}  # fmt: skip
    error = assert_error_shape(client.post("/video/queue", json=body), 400)
    assert error["issues"][0]["path"] == ["image_url"]


def test_queue_blocked_terms_are_422_with_a_suggested_prompt(
    server_factory: Any, api_key: str
) -> None:
    running = server_factory(blocked_terms=["forbidden"])
    body = VPS_BODY | {"prompt": "a Forbidden paper boat"}
    response = httpx.post(f"{running.base_url}/video/queue", json=body,
                          headers={"Authorization": f"Bearer {api_key}"})  # fmt: skip
    error = assert_error_shape(response, 422)
    assert error["suggested_prompt"] == "a paper boat"


def test_queue_consent_models_answer_409_without_consent(server_factory: Any, api_key: str) -> None:
    running = server_factory(consent_models=[SEEDANCE_I2V])
    body: dict[str, Any] = {"model": SEEDANCE_I2V, "prompt": "x", "duration": "4s",
                            "resolution": "480p",
                            "image_url": data_url("image/png", png(480, 320))}  # fmt: skip
    headers = {"Authorization": f"Bearer {api_key}"}
    response = httpx.post(f"{running.base_url}/video/queue", json=body, headers=headers)
    assert response.status_code == 409
    conflict = response.json()
    assert conflict["error"]["code"] == "needs_consent"
    assert conflict["consent_flow"] == "seedance"
    assert conflict["face_media_roles"] == ["image"]
    assert set(conflict["consent"]) == {"consent_version", "policy_text"}
    assert conflict["docs_url"]
    body["consents"] = {"seedance": {"confirmed_terms_and_privacy": True,
                                     "confirmed_legal_right": True,
                                     "confirmed_screening_acknowledged": True}}  # fmt: skip
    assert (
        httpx.post(f"{running.base_url}/video/queue", json=body, headers=headers).status_code == 200
    )


@pytest.mark.parametrize("kind", ["queue", "retrieve"])
def test_rate_limits_answer_429_with_headers(server_factory: Any, api_key: str, kind: str) -> None:
    # A still clock: at speed 1000 a one-minute window would pass in 60 ms of real time.
    running = server_factory(
        rate_limits={"enabled": True, f"{kind}_per_window": 2}, clock=ManualClock()
    )
    with httpx.Client(base_url=running.base_url,
                      headers={"Authorization": f"Bearer {api_key}"}) as client:  # fmt: skip
        if kind == "queue":
            answers = [client.post("/video/queue", json=VPS_BODY) for _ in range(3)]
        else:
            job = queue(client, VPS_BODY)
            ids = {"model": VPS_MODEL, "queue_id": job["queue_id"]}
            answers = [client.post("/video/retrieve", json=ids) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[0].headers["x-ratelimit-limit-requests"] == "2"
    assert answers[0].headers["x-ratelimit-remaining-requests"] == "1"
    assert answers[0].headers["x-ratelimit-type"] == f"video_{kind}"
    limited = answers[2]
    assert_error_shape(limited, 429)
    assert int(limited.headers["retry-after"]) >= 1
    reset = int(limited.headers["x-ratelimit-reset-requests"])
    assert reset % 60 == 0 and reset > 1_000_000_000


def test_queue_body_over_35_mb_is_413(client: httpx.Client) -> None:
    body = json.dumps(VPS_BODY | {"negative_prompt": "x" * (36 * 1024 * 1024)}).encode()
    response = client.post("/video/queue", content=body,
                           headers={"Content-Type": "application/json"})  # fmt: skip
    assert assert_error_shape(response, 413)["code"] == "PAYLOAD_TOO_LARGE"


def test_queue_chunked_body_is_cut_off_at_the_limit(server_factory: Any, api_key: str) -> None:
    running = server_factory(max_queue_body_bytes=10_000)

    def chunks() -> Any:
        for _ in range(100):
            yield b"x" * 1000

    response = httpx.post(f"{running.base_url}/video/queue", content=chunks(),
                          headers={"Authorization": f"Bearer {api_key}"})  # fmt: skip
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert assert_error_shape(response, 413)["code"] == "PAYLOAD_TOO_LARGE"


def test_idempotency_key_replays_the_first_response(
    client: httpx.Client, server: ServerThread
) -> None:
    headers = {"Idempotency-Key": "order-1"}
    first = client.post("/video/queue", json=VPS_BODY, headers=headers)
    again = client.post("/video/queue", json=dict(reversed(VPS_BODY.items())), headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    stats = client.get(f"{server.root_url}/_local/stats").json()
    assert stats["idempotency_keys"]["order-1"] == {
        "requests": 2, "jobs_created": 1, "queue_id": first.json()["queue_id"]
    }  # fmt: skip
    assert stats["jobs_created"] == stats["jobs_total"] == 1


def test_idempotency_key_with_a_different_body_is_422(client: httpx.Client) -> None:
    headers = {"Idempotency-Key": "order-2"}
    assert client.post("/video/queue", json=VPS_BODY, headers=headers).status_code == 200
    changed = client.post("/video/queue", json=VPS_BODY | {"prompt": "other"}, headers=headers)
    assert "different request body" in assert_error_shape(changed, 422)["error"]


def test_concurrent_requests_with_one_key_create_one_job(
    server: ServerThread, api_key: str
) -> None:
    headers = {"Authorization": f"Bearer {api_key}", "Idempotency-Key": "burst"}
    # A data: image makes each request spend a while fetching and decoding, so they overlap.
    body = {"model": "grok-imagine-image-to-video-private", "prompt": "x", "duration": "1s",
            "resolution": "480p", "image_url": data_url("image/png", png(1920, 1080))}  # fmt: skip
    answers: list[httpx.Response] = []

    def send() -> None:
        answers.append(httpx.post(f"{server.base_url}/video/queue", json=body, headers=headers,
                                  timeout=30))  # fmt: skip

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [200] * 6
    assert len({a.json()["queue_id"] for a in answers}) == 1
    stats = httpx.get(f"{server.root_url}/_local/stats", headers=headers).json()
    assert stats["jobs_total"] == 1
    assert stats["idempotency_keys"]["burst"]["requests"] == 6


def test_idempotency_key_must_be_short_and_printable(client: httpx.Client) -> None:
    response = client.post("/video/queue", json=VPS_BODY, headers={"Idempotency-Key": "k" * 300})
    assert_error_shape(response, 400)
