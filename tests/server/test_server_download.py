"""The pre-signed download_url: GET with ranges, DELETE, expiry and removal."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from _server_helpers import VPS_BODY, VPS_MODEL, assert_error_shape, queue, wait_done

from venice_video.server import ManualClock, ServerThread


def _ready(client: httpx.Client) -> dict[str, Any]:
    job = queue(client, VPS_BODY)
    assert wait_done(client, VPS_MODEL, job["queue_id"]).json()["status"] == "COMPLETED"
    return job


@pytest.fixture(scope="module")
def shared_job(server: ServerThread) -> dict[str, Any]:
    """One finished job that read-only tests share."""
    with httpx.Client(base_url=server.base_url, timeout=30,
                      headers={"Authorization": "Bearer download-tests"}) as client:  # fmt: skip
        return _ready(client)


@pytest.fixture
def ready_job(client: httpx.Client) -> dict[str, Any]:
    """A finished job of this test's own, for tests that change or delete it."""
    return _ready(client)


def test_download_url_serves_the_file_without_auth(shared_job: dict[str, Any]) -> None:
    response = httpx.get(shared_job["download_url"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    assert response.headers["accept-ranges"] == "bytes"
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.content[4:8] == b"ftyp"
    head = httpx.head(shared_job["download_url"])
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == response.headers["content-length"]


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [("bytes=0-99", 0, 99), ("bytes=100-", 100, None), ("bytes=-50", None, None),
     ("bytes=10-10", 10, 10), ("bytes=0-999999999", 0, None)],
)  # fmt: skip
def test_download_url_honours_ranges(
    shared_job: dict[str, Any], header: str, first: int | None, last: int | None
) -> None:
    whole = httpx.get(shared_job["download_url"]).content
    size = len(whole)
    response = httpx.get(shared_job["download_url"], headers={"Range": header})
    assert response.status_code == 206
    start = size - 50 if first is None else first
    end = size - 1 if last is None else last
    assert response.headers["content-range"] == f"bytes {start}-{end}/{size}"
    assert response.content == whole[start : end + 1]


@pytest.mark.parametrize("header", ["bytes=999999999-", "bytes=5-2", "bytes=abc", "bytes=-0"])
def test_download_url_bad_ranges_are_416(shared_job: dict[str, Any], header: str) -> None:
    response = httpx.get(shared_job["download_url"], headers={"Range": header})
    assert_error_shape(response, 416)
    assert response.headers["content-range"].startswith("bytes */")


def test_delete_revokes_the_download_url(ready_job: dict[str, Any]) -> None:
    deleted = httpx.delete(ready_job["download_url"])
    assert deleted.status_code == 204 and deleted.content == b""
    assert_error_shape(httpx.get(ready_job["download_url"]), 410)
    assert_error_shape(httpx.delete(ready_job["download_url"]), 410)


def test_download_url_expires_after_24_hours(server_factory: Any, api_key: str) -> None:
    clock = ManualClock()
    running: ServerThread = server_factory(clock=clock)
    with httpx.Client(base_url=running.base_url,
                      headers={"Authorization": f"Bearer {api_key}"}) as client:  # fmt: skip
        job = queue(client, VPS_BODY)
        clock.advance(600)
        assert wait_done(client, VPS_MODEL, job["queue_id"]).json()["status"] == "COMPLETED"
        assert httpx.get(job["download_url"]).status_code == 200
        clock.advance(24 * 3600)
        assert "expired" in assert_error_shape(httpx.get(job["download_url"]), 410)["error"]


def test_download_url_is_404_before_ready_and_after_deletion(
    server_factory: Any, api_key: str
) -> None:
    clock = ManualClock()
    running: ServerThread = server_factory(clock=clock)
    with httpx.Client(base_url=running.base_url,
                      headers={"Authorization": f"Bearer {api_key}"}) as client:  # fmt: skip
        job = queue(client, VPS_BODY)
        assert_error_shape(httpx.get(job["download_url"]), 404)
        clock.advance(600)
        wait_done(client, VPS_MODEL, job["queue_id"])
        assert (
            client.post(
                "/video/complete", json={"model": VPS_MODEL, "queue_id": job["queue_id"]}
            ).status_code
            == 200
        )
        assert_error_shape(httpx.get(job["download_url"]), 404)


@pytest.mark.parametrize(
    "token", ["nope", "a.b", "AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA", "../../etc/passwd",
              "x" * 3000],
)  # fmt: skip
def test_unknown_or_forged_tokens_are_404(server: ServerThread, token: str) -> None:
    assert_error_shape(httpx.get(f"{server.root_url}/media/{token}"), 404)


def test_tampered_token_is_404(shared_job: dict[str, Any]) -> None:
    url: str = shared_job["download_url"]
    tampered = url[:-2] + ("AA" if not url.endswith("AA") else "BB")
    assert_error_shape(httpx.get(tampered), 404)


def test_delete_media_on_completion_removes_a_download_after_it_is_fetched(
    client: httpx.Client,
) -> None:
    job = queue(client, VPS_BODY)
    done = wait_done(client, VPS_MODEL, job["queue_id"], delete_media_on_completion=True)
    assert done.json()["status"] == "COMPLETED"
    assert httpx.get(job["download_url"]).status_code == 200
    assert httpx.get(job["download_url"]).status_code == 404
    assert_error_shape(
        client.post("/video/retrieve", json={"model": VPS_MODEL, "queue_id": job["queue_id"]}), 404
    )


def test_download_fetch_limit_answers_429(server_factory: Any, api_key: str) -> None:
    running: ServerThread = server_factory(download_fetch_limit=1)
    with httpx.Client(base_url=running.base_url,
                      headers={"Authorization": f"Bearer {api_key}"}) as client:  # fmt: skip
        job = queue(client, VPS_BODY)
        wait_done(client, VPS_MODEL, job["queue_id"])
        assert httpx.get(job["download_url"]).status_code == 200
        assert_error_shape(httpx.get(job["download_url"]), 429)
