"""The error tree: one class per status, data parsed from both body shapes, no secrets."""

from __future__ import annotations

import email.utils

import httpx
import pytest

from venice_video import (
    APIStatusError,
    ContentPolicyError,
    QueueOutcomeUnknownError,
    ServerError,
    SpendLimitError,
    ValidationError,
    VeniceVideoError,
)
from venice_video._exceptions import make_status_error, parse_retry_after, redact_request
from venice_video._validation import Issue

SECRET = "sk-secret-0123456789abcdef"


def response(status: int, body: object = None, **headers: str) -> httpx.Response:
    request = httpx.Request(
        "POST",
        "http://fake.test/api/v1/video/queue",
        headers={"Authorization": f"Bearer {SECRET}"},
    )
    if body is None:
        return httpx.Response(status, headers=headers, request=request)
    return httpx.Response(status, json=body, headers=headers, request=request)


@pytest.mark.parametrize(
    ("status", "cls"),
    [(418, APIStatusError), (504, ServerError), (599, ServerError)],
)
def test_unlisted_statuses_get_the_family_class(status: int, cls: type) -> None:
    error = make_status_error(response(status, {"error": "x"}))
    assert type(error) is cls
    assert isinstance(error, VeniceVideoError)


def test_content_policy_reads_the_string_shape() -> None:
    error = make_status_error(
        response(422, {"error": "Prompt violates policy", "suggested_prompt": "a dog"})
    )
    assert isinstance(error, ContentPolicyError)
    assert error.suggested_prompt == "a dog"
    assert error.message == "Error code: 422 - Prompt violates policy"


def test_bad_request_reads_issues_from_zod_details_when_issues_are_absent() -> None:
    body = {
        "error": "Invalid request parameters",
        "details": {"_errors": [], "elements": {"0": {"video_url": {"_errors": ["bad url"]}}}},
    }
    error = make_status_error(response(400, body))
    (issue,) = error.issues  # type: ignore[attr-defined]
    assert issue.path == ("elements", 0, "video_url")
    assert issue.message == "bad url"


def test_a_non_json_body_is_kept_as_text() -> None:
    request = httpx.Request("GET", "http://fake.test/x")
    error = make_status_error(httpx.Response(502, text="<html>Bad gateway</html>", request=request))
    assert error.body == "<html>Bad gateway</html>"
    assert "Bad gateway" in str(error)


def test_errors_carry_no_credentials() -> None:
    error = make_status_error(response(401, {"error": "Authentication failed"}))
    assert error.request is not None
    assert "authorization" not in error.request.headers
    assert "authorization" not in error.response.request.headers
    assert SECRET not in repr(error) + str(error) + repr(vars(error))


def test_redact_request_drops_credentials_and_signatures() -> None:
    request = httpx.Request(
        "GET",
        "https://cdn.test/v.mp4?X-Amz-Signature=abc&X-Amz-Credential=def",
        headers={"Authorization": "Bearer x", "Accept": "video/mp4"},
    )
    clean = redact_request(request)
    assert "authorization" not in clean.headers and clean.headers["accept"] == "video/mp4"
    assert "Signature" not in str(clean.url)


def test_parse_retry_after_reads_every_form() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after({"retry-after": "12"}, now=now) == 12.0
    assert parse_retry_after({"retry-after-ms": "1500"}, now=now) == 1.5
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after({"x-ratelimit-reset-requests": str(now + 8)}, now=now) == 8.0
    assert parse_retry_after({"x-ratelimit-reset-requests": "4"}, now=now) == 4.0
    assert parse_retry_after({}, now=now) is None


def test_validation_error_lists_field_value_allowed_and_suggestion() -> None:
    issue = Issue(
        path=("duration",),
        message="Invalid duration",
        received="6s",
        allowed=("5s", "10s"),
        suggestion="5s",
    )
    error = ValidationError([issue])
    assert isinstance(error, ValueError)
    assert str(error) == (
        "The request is invalid (1 problem):\n"
        "  - duration: Invalid duration; got '6s'; allowed: '5s', '10s'; did you mean '5s'?"
    )


def test_queue_outcome_unknown_says_what_to_check() -> None:
    error = QueueOutcomeUnknownError(
        idempotency_key="abc123", model="m", journal_path="/tmp/j.sqlite3"
    )
    text = str(error)
    assert "abc123" in text and "/tmp/j.sqlite3" in text and "venice-video jobs" in text
    assert "NOT queue it again" in text
    assert error.job_id == "abc123"


def test_spend_limit_error_carries_the_numbers() -> None:
    error = SpendLimitError(0.42, 0.25, model="m")
    assert (error.quote_usd, error.max_cost) == (0.42, 0.25)
    assert "nothing was queued" in str(error)
