"""Fault injection: errors, dropped connections, slow and truncated bodies."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from _server_helpers import INLINE_BODY, INLINE_MODEL, VPS_BODY, VPS_MODEL, queue, wait_done

from venice_video.server import FaultConfig, ServerThread
from venice_video.server._faults import Faults


def _client(running: ServerThread, api_key: str) -> httpx.Client:
    return httpx.Client(base_url=running.base_url, timeout=30,
                        headers={"Authorization": f"Bearer {api_key}"})  # fmt: skip


@pytest.mark.parametrize(("kind", "status"), [("error_500", 500), ("error_503", 503)])
def test_injected_errors_answer_with_json(
    server_factory: Any, api_key: str, kind: str, status: int
) -> None:
    running = server_factory(faults={"endpoints": {"models": {kind: 1.0, "max_faults": 1}}})
    with _client(running, api_key) as client:
        failed = client.get("/models", params={"type": "video"})
        assert failed.status_code == status and "error" in failed.json()
        if status == 503:
            assert failed.headers["retry-after"] == "1"
        assert client.get("/models", params={"type": "video"}).status_code == 200


def test_dropped_connection_raises_a_transport_error(server_factory: Any, api_key: str) -> None:
    running = server_factory(faults={"endpoints": {"quote": {"drop": 1.0, "max_faults": 1}}})
    body = {"model": INLINE_MODEL, "duration": "5s"}
    with _client(running, api_key) as client:
        with pytest.raises(httpx.TransportError):
            client.post("/video/quote", json=body)
        assert client.post("/video/quote", json=body).status_code == 200


def test_drop_after_create_then_retry_with_the_key_makes_one_job(
    server_factory: Any, api_key: str
) -> None:
    running = server_factory(
        faults={"endpoints": {"queue": {"drop_after_create": 1.0, "max_faults": 1}}}
    )
    headers = {"Idempotency-Key": "retry-me"}
    with _client(running, api_key) as client:
        with pytest.raises(httpx.TransportError):
            client.post("/video/queue", json=VPS_BODY, headers=headers)
        retried = client.post("/video/queue", json=VPS_BODY, headers=headers)
        assert retried.status_code == 200
        stats = client.get(f"{running.root_url}/_local/stats").json()
        assert stats["jobs_total"] == 1
        assert stats["idempotency_keys"]["retry-me"]["jobs_created"] == 1
        listed = client.get(f"{running.root_url}/_local/jobs").json()["data"]
        assert [job["queue_id"] for job in listed] == [retried.json()["queue_id"]]


def test_truncated_mp4_body_raises_and_keeps_the_media(server_factory: Any, api_key: str) -> None:
    running = server_factory(
        faults={"endpoints": {"retrieve": {"truncate": 1.0, "truncate_at": 0.3}}}
    )
    with _client(running, api_key) as client:
        job = queue(client, INLINE_BODY)
        with pytest.raises(httpx.TransportError):
            wait_done(client, INLINE_MODEL, job["queue_id"], delete_media_on_completion=True)
        listed = client.get(f"{running.root_url}/_local/jobs").json()["data"]
        # A body that never fully arrived is no delivery: nothing was deleted.
        assert listed[0]["state"] == "ready" and listed[0]["delivered_count"] == 0


def test_slow_bodies_arrive_whole_but_late(server_factory: Any, api_key: str) -> None:
    running = server_factory(
        faults={"endpoints": {"download": {"slow_body_s": 0.1, "slow_chunks": 4}}}
    )
    with _client(running, api_key) as client:
        job = queue(client, VPS_BODY)
        wait_done(client, VPS_MODEL, job["queue_id"])
        started = time.monotonic()
        response = httpx.get(job["download_url"])
        assert response.status_code == 200
        assert time.monotonic() - started >= 0.3
        assert int(response.headers["content-length"]) == len(response.content)


def test_fault_sequences_repeat_for_a_seed() -> None:
    config = FaultConfig.model_validate(
        {"seed": 7, "endpoints": {"retrieve": {"error_500": 0.3, "error_503": 0.3}}}
    )
    first, second = Faults(config), Faults(config)
    run = [getattr(first.draw("retrieve"), "kind", None) for _ in range(50)]
    assert run == [getattr(second.draw("retrieve"), "kind", None) for _ in range(50)]
    assert {"error_500", "error_503", None} == set(run)
    other = Faults(config.model_copy(update={"seed": 8}))
    assert run != [getattr(other.draw("retrieve"), "kind", None) for _ in range(50)]


def test_skip_first_and_max_faults_bound_the_faults() -> None:
    config = FaultConfig.model_validate(
        {"endpoints": {"queue": {"error_500": 1.0, "skip_first": 2, "max_faults": 1}}}
    )
    faults = Faults(config)
    kinds = [getattr(faults.draw("queue"), "kind", None) for _ in range(5)]
    assert kinds == [None, None, "error_500", None, None]
    assert faults.draw("models") is None
