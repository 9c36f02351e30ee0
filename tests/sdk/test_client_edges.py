"""Edge cases of the client lifecycle, on a scripted fake API (`httpx.MockTransport`).

Each test makes the API misbehave in one precise way a real server will not do on demand,
and checks what the client did: what it sent, what it slept, what it journaled, and what
it raised. No test waits: the clock and the sleep are fakes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from sdk_helpers import (
    BASE_URL,
    FakeAPI,
    FakeClock,
    json_response,
    mock_client,
    processing,
    video_response,
)

from venice_video import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConsentRequiredError,
    ContentPolicyError,
    DownloadVerificationError,
    GoneError,
    InternalServerError,
    JobCancelledError,
    JobFailedError,
    JobTimeoutError,
    NotFoundError,
    PayloadTooLargeError,
    PaymentRequiredError,
    PermissionDeniedError,
    QueueOutcomeUnknownError,
    QueueRequest,
    RateLimitError,
    RetryPolicy,
    ServerError,
    ServiceUnavailableError,
    SpendLimitError,
    ValidationError,
    VeniceVideo,
)
from venice_video.journal import Journal
from venice_video.journal._schema import JOB_COLUMNS

MODEL = "wan-2-7-text-to-video"
REQUEST: dict[str, Any] = {"model": MODEL, "prompt": "a cat", "duration": "5s"}
QUEUED = {"model": MODEL, "queue_id": "q-1"}
DOWNLOAD_URL = "https://cdn.fake.test/videos/q-1.mp4?X-Amz-Signature=abc"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def api() -> FakeAPI:
    return FakeAPI().on("/video/quote", json_response(200, {"quote": 0.35}))


def entry_for(tmp_path: Path, key: str) -> Any:
    with Journal(tmp_path / "journal.sqlite3") as journal:
        return journal.get(key)


# --------------------------------------------------------------------------- the paid step


def test_queue_timeout_raises_outcome_unknown_and_never_resends(
    api: FakeAPI, clock: FakeClock, tmp_path: Path
) -> None:
    api.on("/video/queue", httpx.ReadTimeout("timed out"))
    with mock_client(api, clock, tmp_path) as client:
        with pytest.raises(QueueOutcomeUnknownError) as info:
            client.submit(**REQUEST, idempotency_key="key-1")
    assert len(api.calls("/video/queue")) == 1
    assert info.value.idempotency_key == "key-1"
    assert "NOT queue it again" in str(info.value)
    assert "venice-video jobs" in str(info.value)
    assert entry_for(tmp_path, "key-1").status == "UNKNOWN"


def test_queue_dropped_after_sending_is_outcome_unknown(
    api: FakeAPI, clock: FakeClock, tmp_path: Path
) -> None:
    api.on("/video/queue", httpx.RemoteProtocolError("peer closed connection"))
    with mock_client(api, clock, tmp_path) as client, pytest.raises(QueueOutcomeUnknownError):
        client.submit(**REQUEST, idempotency_key="key-2")
    assert len(api.calls("/video/queue")) == 1


def test_queue_connect_error_is_resent_with_the_same_key(
    api: FakeAPI, clock: FakeClock, tmp_path: Path
) -> None:
    api.on("/video/queue", httpx.ConnectError("refused"), json_response(200, QUEUED))
    with mock_client(api, clock, tmp_path) as client:
        job = client.submit(**REQUEST, idempotency_key="key-3")
    sent = api.calls("/video/queue")
    assert job.queue_id == "q-1"
    assert [r.headers["idempotency-key"] for r in sent] == ["key-3", "key-3"]


def test_queue_429_waits_retry_after_and_resends_with_the_same_key(
    api: FakeAPI, clock: FakeClock, tmp_path: Path
) -> None:
    api.on(
        "/video/queue",
        json_response(429, {"error": "Rate limit exceeded"}, {"retry-after": "7"}),
        json_response(200, QUEUED),
    )
    with mock_client(api, clock, tmp_path) as client:
        job = client.submit(**REQUEST, idempotency_key="key-4")
    sent = api.calls("/video/queue")
    assert [r.headers["idempotency-key"] for r in sent] == ["key-4", "key-4"]
    assert any(7.0 <= s <= 7.0 * 1.1 for s in clock.sleeps)
    assert job.status == "QUEUED"
    assert entry_for(tmp_path, "key-4").queue_id == "q-1"


def test_queue_500_is_not_resent_by_default(api: FakeAPI, clock: FakeClock, tmp_path: Path) -> None:
    api.on("/video/queue", json_response(500, {"error": "Inference failed"}))
    with mock_client(api, clock, tmp_path) as client, pytest.raises(QueueOutcomeUnknownError):
        client.submit(**REQUEST, idempotency_key="key-5")
    assert len(api.calls("/video/queue")) == 1
    assert entry_for(tmp_path, "key-5").status == "UNKNOWN"


def test_queue_500_is_resent_with_the_same_key_when_the_server_honours_it(
    api: FakeAPI, clock: FakeClock, tmp_path: Path
) -> None:
    api.on(
        "/video/queue",
        json_response(500, {"error": "boom"}),
        httpx.ReadTimeout("slow"),
        json_response(200, QUEUED),
    )
    with mock_client(api, clock, tmp_path, idempotent_queue_retries=True) as client:
        job = client.submit(**REQUEST, idempotency_key="key-6")
    assert {r.headers["idempotency-key"] for r in api.calls("/video/queue")} == {"key-6"}
    assert len(api.calls("/video/queue")) == 3
    assert job.queue_id == "q-1"


def test_queue_503_was_not_taken_and_is_resent_with_the_same_key(
    api: FakeAPI, clock: FakeClock, tmp_path: Path
) -> None:
    busy = json_response(503, {"error": "Model at capacity"}, {"retry-after": "3"})
    api.on("/video/queue", busy, busy, json_response(200, QUEUED))
    with mock_client(api, clock, tmp_path) as client:
        job = client.submit(**REQUEST, idempotency_key="key-7")
    assert job.queue_id == "q-1"
    assert [r.headers["idempotency-key"] for r in api.calls("/video/queue")] == ["key-7"] * 3
    assert len(clock.sleeps) == 2 and all(3.0 <= s <= 3.3 for s in clock.sleeps)
    assert entry_for(tmp_path, "key-7").status == "QUEUED"


def test_queue_503_is_resent_a_bounded_number_of_times_then_the_entry_is_failed(
    api: FakeAPI, clock: FakeClock, tmp_path: Path
) -> None:
    api.on("/video/queue", json_response(503, {"error": "Model at capacity"}))
    retry = RetryPolicy(max_attempts=4)
    client = mock_client(api, clock, tmp_path, retry=retry)
    with client, pytest.raises(ServiceUnavailableError):
        client.submit(**REQUEST, idempotency_key="key-7b")
    assert len(api.calls("/video/queue")) == 4
    entry = entry_for(tmp_path, "key-7b")
    assert entry.status == "FAILED"
    assert entry.queue_id is None


def test_queue_is_journaled_before_it_is_sent(
    api: FakeAPI, clock: FakeClock, tmp_path: Path
) -> None:
    seen: list[Any] = []

    def queue(request: httpx.Request) -> httpx.Response:
        seen.append(entry_for(tmp_path, request.headers["idempotency-key"]))
        return json_response(200, QUEUED)

    api.on("/video/queue", queue)
    with mock_client(api, clock, tmp_path) as client:
        client.submit(**REQUEST, idempotency_key="key-8")
    assert seen[0] is not None and seen[0].status == "QUEUING"
    assert entry_for(tmp_path, "key-8").status == "QUEUED"


def test_spend_limit_refuses_before_queueing(
    api: FakeAPI, clock: FakeClock, tmp_path: Path
) -> None:
    api.on("/video/queue", json_response(200, QUEUED))
    with mock_client(api, clock, tmp_path) as client, pytest.raises(SpendLimitError) as info:
        client.generate(**REQUEST, max_cost=0.10)
    assert info.value.quote_usd == 0.35
    assert api.calls("/video/queue") == []


def test_validation_error_names_field_value_allowed_and_suggestion(
    api: FakeAPI, clock: FakeClock, tmp_path: Path
) -> None:
    with mock_client(api, clock, tmp_path) as client, pytest.raises(ValidationError) as info:
        client.submit(model=MODEL, prompt="a cat", duration="6s", resolution="720p")
    message = str(info.value)
    assert "duration" in message and "'6s'" in message
    assert "'5s'" in message and "'10s'" in message
    assert info.value.issues[0].suggestion in ("5s", "10s")
    assert api.requests == []


def test_validation_error_suggests_a_close_model(
    api: FakeAPI, clock: FakeClock, tmp_path: Path
) -> None:
    with mock_client(api, clock, tmp_path) as client, pytest.raises(ValidationError) as info:
        client.validate({"model": "wan-2.7-text-to-video", "prompt": "x", "duration": "5s"})
    assert info.value.issues[0].suggestion == "wan-2-7-text-to-video"


def test_request_too_large_is_refused_before_sending(
    api: FakeAPI, clock: FakeClock, tmp_path: Path
) -> None:
    api.on("/video/queue", json_response(200, QUEUED))
    big = "data:video/mp4;base64," + "A" * 36_000_000
    request = QueueRequest(model="topaz-video-upscale", video_url=big, upscale_factor=2)
    with mock_client(api, clock, tmp_path) as client, pytest.raises(ValidationError) as info:
        client.queue(request)
    assert "413" in str(info.value) and "video_url" in str(info.value)
    assert api.calls("/video/queue") == []


# --------------------------------------------------------------------------- error mapping


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (400, {"error": "Invalid request parameters"}, BadRequestError),
        (401, {"error": "Authentication failed"}, AuthenticationError),
        (402, {"error": "Insufficient USD or Diem balance"}, PaymentRequiredError),
        (403, {"error": "Model not available in your region"}, PermissionDeniedError),
        (404, {"error": "Media not found"}, NotFoundError),
        (409, {"error": {"code": "needs_consent", "message": "consent"}}, ConsentRequiredError),
        (410, {"error": "Gone"}, GoneError),
        (413, {"code": "PAYLOAD_TOO_LARGE", "error": "Too large"}, PayloadTooLargeError),
        (422, {"error": "Content policy", "suggested_prompt": "a dog"}, ContentPolicyError),
        (429, {"error": "Rate limit exceeded"}, RateLimitError),
        (500, {"error": "Inference failed"}, InternalServerError),
        (502, {"error": "Bad gateway"}, ServerError),
        (503, {"error": "Model at capacity"}, ServiceUnavailableError),
    ],
)
def test_complete_maps_each_status_to_its_error(
    api: FakeAPI, clock: FakeClock, tmp_path: Path, status: int, body: Any, cls: type
) -> None:
    api.on("/video/complete", json_response(status, body, {"cf-ray": "ray-1"}))
    client = mock_client(api, clock, tmp_path, retry=RetryPolicy(max_attempts=1))
    with client, pytest.raises(cls) as info:
        client.complete(MODEL, "q-1")
    error = info.value
    assert isinstance(error, APIStatusError)
    assert error.status_code == status
    assert error.request_id == "ray-1"
    assert type(error) is cls


def test_bad_request_parses_issues(api: FakeAPI, clock: FakeClock, tmp_path: Path) -> None:
    body = {
        "error": "Invalid request parameters",
        "details": {"_errors": [], "duration": {"_errors": ["Invalid enum value"]}},
        "issues": [
            {
                "code": "invalid_enum_value",
                "path": ["duration"],
                "received": "6s",
                "expected": "'5s' | '10s'",
                "message": "Invalid enum value",
            }
        ],
    }
    api.on("/video/quote", json_response(400, body))
    with mock_client(api, clock, tmp_path) as client, pytest.raises(BadRequestError) as info:
        client.quote(MODEL, duration="5s")
    issue = info.value.issues[0]
    assert issue.field == "duration"
    assert issue.allowed == ("5s", "10s")


def test_consent_error_carries_the_flow(api: FakeAPI, clock: FakeClock, tmp_path: Path) -> None:
    body = {
        "error": {"code": "needs_consent", "message": "Consent required"},
        "consent_flow": "seedance",
        "face_media_roles": ["image"],
        "consent": {"consent_version": "1", "policy_text": "..."},
        "docs_url": "https://docs.venice.ai/consent",
    }
    api.on("/video/queue", json_response(409, body))
    with mock_client(api, clock, tmp_path) as client, pytest.raises(ConsentRequiredError) as info:
        client.queue(QueueRequest(model=MODEL, prompt="x", duration="5s"))
    assert info.value.consent_flow == "seedance"
    assert info.value.face_media_roles == ["image"]
    assert info.value.docs_url == "https://docs.venice.ai/consent"
    assert info.value.code == "needs_consent"


def test_content_policy_error_reads_the_object_shape(
    api: FakeAPI, clock: FakeClock, tmp_path: Path
) -> None:
    body = {
        "error": {
            "message": "Refused by the provider",
            "type": "provider_content_policy",
            "recommended_model": "wan-2-7-text-to-video",
            "credits_refunded": True,
        }
    }
    api.on("/video/retrieve", json_response(422, body))
    with mock_client(api, clock, tmp_path) as client, pytest.raises(ContentPolicyError) as info:
        client.retrieve(MODEL, "q-1")
    assert info.value.recommended_model == "wan-2-7-text-to-video"
    assert info.value.credits_refunded is True
    assert "Refused by the provider" in str(info.value)


# --------------------------------------------------------------------------- free calls


def test_retry_after_is_honoured_with_the_injected_sleep(
    api: FakeAPI, clock: FakeClock, tmp_path: Path
) -> None:
    api.on(
        "/video/quote",
        json_response(429, {"error": "slow down"}, {"retry-after": "3"}),
        json_response(503, {"error": "busy"}, {"retry-after": "2"}),
        json_response(200, {"quote": 0.5}),
    )
    with mock_client(api, clock, tmp_path) as client:
        quote = client.quote(MODEL, duration="5s")
    assert quote.quote == 0.5
    assert 3.0 <= clock.sleeps[0] <= 3.3
    assert 2.0 <= clock.sleeps[1] <= 2.2


def test_retry_after_is_capped(api: FakeAPI, clock: FakeClock, tmp_path: Path) -> None:
    api.on(
        "/video/quote",
        json_response(429, {"error": "slow down"}, {"retry-after": "86400"}),
        json_response(200, {"quote": 0.5}),
    )
    with mock_client(api, clock, tmp_path) as client:
        client.quote(MODEL, duration="5s")
    assert max(clock.sleeps) <= 120 * 1.1


def test_free_calls_give_up_after_bounded_attempts(
    api: FakeAPI, clock: FakeClock, tmp_path: Path
) -> None:
    api.on("/video/complete", json_response(500, {"error": "boom"}))
    with mock_client(api, clock, tmp_path) as client, pytest.raises(InternalServerError):
        client.complete(MODEL, "q-1")
    assert len(api.calls("/video/complete")) == 4
    assert clock.sleeps == sorted(clock.sleeps) or len(clock.sleeps) == 3


def test_connection_errors_on_free_calls_are_retried(
    api: FakeAPI, clock: FakeClock, tmp_path: Path
) -> None:
    api.on("/video/quote", httpx.ReadError("reset"), json_response(200, {"quote": 1.0}))
    with mock_client(api, clock, tmp_path) as client:
        assert client.quote(MODEL, duration="5s").quote == 1.0


# --------------------------------------------------------------------------- waiting


def test_wait_backs_off_on_503_honouring_retry_after_and_carries_on(
    api: FakeAPI, clock: FakeClock, tmp_path: Path, tiny_mp4: bytes
) -> None:
    api.on("/video/queue", json_response(200, QUEUED))
    api.on(
        "/video/retrieve",
        processing(),
        json_response(503, {"error": "at capacity"}, {"retry-after": "4"}),
        json_response(500, {"error": "oops"}),
        httpx.ReadError("dropped"),
        video_response(tiny_mp4),
    )
    api.on("/video/complete", json_response(200, {"success": True}))
    with mock_client(api, clock, tmp_path) as client:
        job = client.generate(**REQUEST, output=tmp_path / "out.mp4")
    assert job.status == "COMPLETED"
    assert any(4.0 <= s <= 4.4 for s in clock.sleeps)
    assert (tmp_path / "out.mp4").read_bytes() == tiny_mp4


def test_wait_times_out_on_the_monotonic_deadline(
    api: FakeAPI, clock: FakeClock, tmp_path: Path
) -> None:
    api.on("/video/queue", json_response(200, QUEUED))
    api.on("/video/retrieve", processing(average_ms=600_000, execution_ms=1_000))
    with mock_client(api, clock, tmp_path) as client:
        job = client.submit(**REQUEST)
        with pytest.raises(JobTimeoutError) as info:
            client.wait(job, timeout=120)
    assert info.value.job_id == "q-1"
    assert 120 <= clock.now - 1000.0 <= 121


def test_a_look_on_the_way_to_the_window_is_not_sent_once_another_job_was_seen_running(
    api: FakeAPI, tmp_path: Path, tiny_mp4: bytes
) -> None:
    # Nothing learned and an estimate of 100 s: the window opens at 60 s, and a wait closes
    # in on it by halves. While it sleeps, other jobs of its kind are seen still running at
    # its age: none of those looks is sent, nor the one at the opening, and the first
    # retrieve goes one step (2 s) into the window.
    seen: dict[str, Any] = {}

    class Batch(FakeClock):
        def sleep(self, seconds: float) -> None:
            super().sleep(seconds)
            if seen:
                seen["client"]._stats.seen_running(seen["kind"], self.now - seen["queued"])

    clock = Batch()
    looks: list[float] = []

    def ready(request: httpx.Request) -> httpx.Response:
        looks.append(clock.now - seen["queued"])
        return video_response(tiny_mp4)

    api.on("/video/queue", json_response(200, QUEUED))
    api.on("/video/retrieve", ready)
    api.on("/video/complete", json_response(200, {"success": True}))
    with mock_client(api, clock, tmp_path) as client:
        client._stats.remember(MODEL, 100.0, 1.0)
        job = client.submit(**REQUEST)
        seen.update(client=client, kind=client._kinds[job.idempotency_key], queued=clock.now)
        client.wait(job)
    assert looks == [pytest.approx(62.0)]
    assert len(clock.sleeps) >= 2  # it did plan a look on the way, then slept on


def test_a_retrieve_kept_waiting_for_a_slot_asks_with_the_chance_its_job_gained(
    api: FakeAPI, clock: FakeClock, tmp_path: Path, tiny_mp4: bytes
) -> None:
    # Jobs of its kind finished at 90 to 98 s. The look after the one at the window's opening
    # is kept waiting three turns by the key's budget: each time it asks again, it asks as
    # the likelier, since its job may have finished in the meantime.
    queued: list[float] = []
    answers = iter(["running", "ready"])

    def retrieve(request: httpx.Request) -> httpx.Response:
        if next(answers) == "ready":
            return video_response(tiny_mp4)
        age_ms = (clock.now - queued[0]) * 1000
        return processing(average_ms=100_000, execution_ms=age_ms)

    api.on("/video/queue", json_response(200, QUEUED))
    api.on("/video/retrieve", retrieve)
    api.on("/video/complete", json_response(200, {"success": True}))
    asked: list[float] = []
    with mock_client(api, clock, tmp_path) as client:
        client._stats.remember(MODEL, 100.0, 1.0)
        reserve = client._limiter.reserve

        def busy(bucket: str, now: float, **kw: Any) -> float:
            if bucket != "retrieve":
                return reserve(bucket, now, **kw)
            asked.append(kw["priority"])
            if len(asked) in (2, 3, 4):  # the second look waits three turns
                return 2.0
            return reserve(bucket, now, **kw)

        client._limiter.reserve = busy  # type: ignore[method-assign]
        job = client.submit(**REQUEST)
        queued.append(clock.now)
        for finished in (90.0, 92.0, 94.0, 96.0, 98.0):
            client._stats.record(client._kinds[job.idempotency_key], finished, 100.0, keep=30)
        client.wait(job)
    assert asked[0] == pytest.approx(0.0)  # the window's opening: no job expected there yet
    waited = asked[1:]
    assert len(waited) == 4 and waited[0] > 0.0
    assert all(a < b for a, b in zip(waited, waited[1:], strict=False)), waited


def test_progress_callback_returning_false_cancels_and_keeps_the_job(
    api: FakeAPI, clock: FakeClock, tmp_path: Path
) -> None:
    api.on("/video/queue", json_response(200, QUEUED))
    api.on("/video/retrieve", processing())
    with mock_client(api, clock, tmp_path) as client:
        with pytest.raises(JobCancelledError):
            client.generate(**REQUEST, idempotency_key="key-c", on_progress=lambda p: False)
        assert [j.idempotency_key for j in client.jobs(unfinished=True)] == ["key-c"]


def test_a_set_cancel_event_stops_the_wait(api: FakeAPI, clock: FakeClock, tmp_path: Path) -> None:
    import threading

    api.on("/video/queue", json_response(200, QUEUED))
    api.on("/video/retrieve", processing())
    event = threading.Event()
    event.set()
    with mock_client(api, clock, tmp_path) as client, pytest.raises(JobCancelledError):
        client.generate(**REQUEST, cancel=event)


def test_retrieve_404_fails_the_job(api: FakeAPI, clock: FakeClock, tmp_path: Path) -> None:
    api.on("/video/queue", json_response(200, QUEUED))
    api.on("/video/retrieve", json_response(404, {"error": "Media not found"}))
    with mock_client(api, clock, tmp_path) as client, pytest.raises(JobFailedError) as info:
        client.generate(**REQUEST, idempotency_key="key-f")
    assert info.value.job.status == "FAILED"
    assert isinstance(info.value.__cause__, NotFoundError)
    assert entry_for(tmp_path, "key-f").status == "FAILED"


# --------------------------------------------------------------------------- downloading


class _DroppingStream(httpx.SyncByteStream):
    """Sends `data` in chunks, then fails as if the connection dropped."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __iter__(self) -> Any:
        yield self.data
        raise httpx.ReadError("connection reset by peer")


def test_download_url_resumes_with_range_after_a_drop_and_sends_no_key(
    api: FakeAPI, clock: FakeClock, tmp_path: Path, tiny_mp4: bytes
) -> None:
    cut = len(tiny_mp4) // 3

    def first(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            headers={"content-type": "video/mp4", "content-length": str(len(tiny_mp4))},
            stream=_DroppingStream(tiny_mp4[:cut]),
        )

    def rest(request: httpx.Request) -> httpx.Response:
        assert request.headers["range"] == f"bytes={cut}-"
        return video_response(
            tiny_mp4[cut:],
            206,
            **{"content-range": f"bytes {cut}-{len(tiny_mp4) - 1}/{len(tiny_mp4)}"},
        )

    api.on("/video/queue", json_response(200, {**QUEUED, "download_url": DOWNLOAD_URL}))
    api.on(
        "/video/retrieve",
        json_response(
            200, {"status": "COMPLETED", "average_execution_time": 1, "execution_duration": 1}
        ),
    )
    api.on(DOWNLOAD_URL.split("?")[0], first, rest, httpx.Response(204))
    api.on("/video/complete", json_response(400, {"error": "Request ID is invalid."}))
    with mock_client(api, clock, tmp_path) as client:
        job = client.generate(**REQUEST, output=tmp_path / "v.mp4")
    downloads = [r for r in api.requests if r.url.host == "cdn.fake.test"]
    assert [r.method for r in downloads] == ["GET", "GET", "DELETE"]
    assert all("authorization" not in r.headers for r in downloads)
    assert (tmp_path / "v.mp4").read_bytes() == tiny_mp4
    assert job.status == "COMPLETED"


def test_truncated_inline_body_is_retrieved_again_from_scratch(
    api: FakeAPI, clock: FakeClock, tmp_path: Path, tiny_mp4: bytes
) -> None:
    def cut(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            headers={"content-type": "video/mp4", "content-length": str(len(tiny_mp4))},
            stream=_DroppingStream(tiny_mp4[:100]),
        )

    api.on("/video/queue", json_response(200, QUEUED))
    api.on("/video/retrieve", cut, video_response(tiny_mp4))
    api.on("/video/complete", json_response(200, {"success": True}))
    with mock_client(api, clock, tmp_path) as client:
        job = client.generate(**REQUEST, output=tmp_path / "v.mp4")
    assert len(api.calls("/video/retrieve")) == 2
    assert job.size_bytes == len(tiny_mp4)
    assert len(api.calls("/video/complete")) == 1


def test_verification_failure_keeps_the_server_copy(
    api: FakeAPI, clock: FakeClock, tmp_path: Path
) -> None:
    api.on("/video/queue", json_response(200, QUEUED))
    api.on("/video/retrieve", video_response(b"\x00\x00\x00\x18ftypisom" + b"garbage" * 50))
    api.on("/video/complete", json_response(200, {"success": True}))
    with mock_client(api, clock, tmp_path) as client:
        with pytest.raises(DownloadVerificationError):
            client.generate(**REQUEST, idempotency_key="key-v", output=tmp_path / "v.mp4")
    assert api.calls("/video/complete") == []
    assert not (tmp_path / "v.mp4").exists()
    entry = entry_for(tmp_path, "key-v")
    assert entry.status == "READY"
    assert "download failed" in (entry.error or "")


def test_complete_runs_only_after_the_file_is_saved(
    api: FakeAPI, clock: FakeClock, tmp_path: Path, tiny_mp4: bytes
) -> None:
    output = tmp_path / "v.mp4"
    seen: list[bool] = []

    def complete(request: httpx.Request) -> httpx.Response:
        seen.append(output.exists() and output.read_bytes() == tiny_mp4)
        return json_response(200, {"success": True})

    api.on("/video/queue", json_response(200, QUEUED))
    api.on("/video/retrieve", video_response(tiny_mp4))
    api.on("/video/complete", complete)
    with mock_client(api, clock, tmp_path) as client:
        client.generate(**REQUEST, output=output)
    assert seen == [True]


class _SyncLog(Journal):
    """A journal that records each entry write: the status written, and whether it synced."""

    def __init__(self, path: Path) -> None:
        self.writes: list[tuple[str, str]] = []
        super().__init__(path)

    def _write_row(self, sql: str, params: tuple[Any, ...], key: str) -> tuple[Any, ...] | None:
        level = self._connection().execute("PRAGMA synchronous").fetchone()[0]
        row = super()._write_row(sql, params, key)
        if row is not None:
            self.writes.append((row[JOB_COLUMNS.index("status")], "FULL" if level == 2 else "-"))
        return row


def test_only_progress_is_journaled_without_a_sync(
    api: FakeAPI, clock: FakeClock, tmp_path: Path, tiny_mp4: bytes
) -> None:
    """The intent, the queue_id and the saved file are on disk when each write returns; what
    polling and cleanup learn reaches the disk with them, and is redone if a power cut
    loses it."""
    api.on("/video/queue", json_response(200, QUEUED))
    api.on("/video/retrieve", processing(), video_response(tiny_mp4))
    api.on("/video/complete", json_response(200, {"success": True}))
    with _SyncLog(tmp_path / "journal.sqlite3") as journal:
        with mock_client(api, clock, tmp_path, journal=journal) as client:
            client.generate(**REQUEST, output=tmp_path / "v.mp4")
        assert journal.writes == [
            ("QUEUING", "FULL"),
            ("QUEUED", "FULL"),
            ("PROCESSING", "-"),
            # A small inline video's READY comes with the saved file: see the next test.
            ("DOWNLOADED", "FULL"),
            ("COMPLETED", "-"),
        ]
        assert journal._connection().execute("PRAGMA synchronous").fetchone()[0] == 2


@pytest.mark.parametrize("quick", [True, False], ids=["quick body", "large body"])
def test_ready_is_journaled_alone_only_before_a_long_download(
    api: FakeAPI,
    clock: FakeClock,
    tmp_path: Path,
    tiny_mp4: bytes,
    quick: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While a large video streams, the journal says READY (others see it downloading); a
    small one is saved at once, and its ready time is written with it."""
    from venice_video import _waiting

    monkeypatch.setattr(_waiting, "_QUICK_BODY", len(tiny_mp4) if quick else len(tiny_mp4) - 1)
    api.on("/video/queue", json_response(200, QUEUED))
    api.on("/video/retrieve", processing(), video_response(tiny_mp4))
    api.on("/video/complete", json_response(200, {"success": True}))
    with _SyncLog(tmp_path / "journal.sqlite3") as journal:
        with mock_client(api, clock, tmp_path, journal=journal) as client:
            job = client.generate(**REQUEST, output=tmp_path / "v.mp4")
        statuses = [status for status, _ in journal.writes]
        entry = journal.get(job.idempotency_key)
    assert ("READY" in statuses) is not quick
    assert statuses[-2:] == ["DOWNLOADED", "COMPLETED"]
    assert entry is not None and entry.ready_at is not None and entry.downloaded_at is not None
    assert entry.queued_at is not None and entry.queued_at <= entry.ready_at <= entry.downloaded_at


def test_failed_cleanup_leaves_the_job_downloaded_for_resume(
    api: FakeAPI, clock: FakeClock, tmp_path: Path, tiny_mp4: bytes
) -> None:
    api.on("/video/queue", json_response(200, QUEUED))
    api.on("/video/retrieve", video_response(tiny_mp4))
    api.on("/video/complete", json_response(500, {"error": "down"}))
    with mock_client(api, clock, tmp_path) as client:
        job = client.generate(**REQUEST, output=tmp_path / "v.mp4")
        assert job.status == "DOWNLOADED"
        api.on("/video/complete", json_response(200, {"success": True}))
        resumed = client.resume()
    assert [j.status for j in resumed] == ["COMPLETED"]
    assert len(api.calls("/video/retrieve")) == 1


def test_resume_marks_an_interrupted_queue_unknown_without_resending(
    api: FakeAPI, clock: FakeClock, tmp_path: Path
) -> None:
    with Journal(tmp_path / "journal.sqlite3") as journal:
        journal.record_intent(
            key="key-r",
            model=MODEL,
            base_url=BASE_URL,
            request=REQUEST,
            quote_usd=0.35,
            output_path=str(tmp_path / "r.mp4"),
        )
    with mock_client(api, clock, tmp_path) as client:
        jobs = client.resume()
    assert [j.status for j in jobs] == ["UNKNOWN"]
    assert api.calls("/video/queue") == []


# --------------------------------------------------------------------------- secrets


CANARY = "sk-canary-7f3a9c1e5b2d4f6a8c0e"


def test_canary_key_never_leaks(
    api: FakeAPI,
    clock: FakeClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The key is in no log line, journal byte, exception text or repr."""
    caplog.set_level(logging.DEBUG)
    api.on("/video/queue", json_response(200, QUEUED))
    api.on(
        "/video/retrieve",
        processing(),
        httpx.ReadError("dropped"),
        json_response(422, {"error": {"message": "refused", "credits_refunded": True}}),
    )
    api.on("/video/complete", json_response(401, {"error": "Authentication failed"}))
    api.on("/video/transcriptions", httpx.ReadTimeout("slow"))
    texts: list[str] = []
    client = mock_client(api, clock, tmp_path, api_key=CANARY, retry=RetryPolicy(max_attempts=1))
    with client:
        texts.append(repr(client))
        texts.append(repr(vars(client)))
        try:
            client.generate(**REQUEST, idempotency_key="key-s")
        except JobFailedError as exc:
            texts += _exception_texts(exc)
        for call in (
            lambda: client.complete(MODEL, "q-1"),
            lambda: client.transcribe("https://youtu.be/x"),
        ):
            try:
                call()
            except APIStatusError as exc:
                texts += _exception_texts(exc)
                texts.append(repr(exc.response.request.headers))
                texts.append(repr(exc.request.headers if exc.request else ""))
            except APIConnectionError as exc:
                texts += _exception_texts(exc)
        texts += [repr(j) for j in client.jobs()]
    texts.append(caplog.text)
    journal_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("journal.sqlite3*"))
    assert all(api.requests[0].headers["authorization"] == f"Bearer {CANARY}" for _ in [0])
    assert len(texts) > 8
    assert not [t for t in texts if CANARY in t]
    assert CANARY.encode() not in journal_bytes


def _exception_texts(exc: BaseException) -> list[str]:
    texts = []
    seen: BaseException | None = exc
    while seen is not None:
        texts += [str(seen), repr(seen), repr(vars(seen))]
        request = getattr(seen, "request", None)
        try:
            if request is not None:
                texts.append(repr(dict(request.headers)))
        except RuntimeError:
            pass
        seen = seen.__cause__ or seen.__context__
    return texts


def test_no_key_gives_a_hint_on_401(
    api: FakeAPI, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VENICE_API_KEY", raising=False)
    api.on("/video/quote", json_response(401, {"error": "Authentication failed"}))
    client = mock_client(api, clock, tmp_path, api_key=None)
    with client, pytest.raises(AuthenticationError) as info:
        client.quote(MODEL, duration="5s")
    assert "VENICE_API_KEY" in str(info.value)
    assert "authorization" not in api.requests[0].headers


def test_base_url_and_key_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VENICE_API_KEY", CANARY)
    monkeypatch.setenv("VENICE_BASE_URL", "http://127.0.0.1:9/api/v1/")
    client = VeniceVideo(journal=False, cache_dir=False)
    with client:
        assert client.base_url == "http://127.0.0.1:9/api/v1"
        assert CANARY not in repr(client)
        request = client._build("POST", "/video/quote")
        assert request.headers["authorization"] == f"Bearer {CANARY}"
