"""Errors as tool answers: actionable fields, and nothing secret."""

from __future__ import annotations

from venice_video import Issue, ValidationError
from venice_video.mcp_server._errors import argument_name, describe_error, error_result, scrub


def test_issue_names_map_back_to_tool_arguments() -> None:
    assert argument_name("image_url") == "image"
    assert argument_name("reference_image_urls.2") == "reference_images.2"
    assert argument_name("duration") == "duration"


def test_validation_payload_lists_allowed_values_and_a_fix() -> None:
    issues = [
        Issue(("resolution",), "not supported", received="4k", allowed=("480p", "720p")),
        Issue(("image_url",), "Required", received="undefined"),
        Issue(("end_image_url",), "bad", received="data:image/png;base64," + "A" * 5000),
    ]
    payload = describe_error(ValidationError(issues))
    assert payload["error"] == "validation"
    first, second, third = payload["issues"]
    assert first == {
        "field": "resolution",
        "message": "not supported",
        "value": "4k",
        "allowed": ["480p", "720p"],
    }
    assert second == {"field": "image", "message": "Required"}
    assert third["value"] == "<inline data>"
    assert payload["fix"].split("; ")[:2] == [
        "set resolution to one of '480p', '720p'",
        "add image",
    ]


def test_scrub_hides_query_strings_bearer_tokens_and_given_urls() -> None:
    text = (
        "GET https://cdn.example/v.mp4?X-Amz-Signature=abc failed; "
        "Authorization: Bearer sk-123; saw http://127.0.0.1:9/media/tok3n-xyz"
    )
    clean = scrub(text, ["http://127.0.0.1:9/media/tok3n-xyz?sig=1"])
    assert "abc" not in clean and "sk-123" not in clean and "tok3n" not in clean
    assert "https://cdn.example/v.mp4?[redacted]" in clean


def test_error_result_is_a_failed_call_with_the_payload_twice() -> None:
    result = error_result(ValidationError([Issue(("duration",), "bad", suggestion="5s")]))
    assert result.is_error
    assert result.structured_content is not None
    assert result.structured_content["fix"] == "set duration to '5s'"
    assert '"fix": "set duration to \'5s\'"' in result.content[0].text  # type: ignore[union-attr]


def test_unexpected_errors_say_only_their_type() -> None:
    payload = describe_error(RuntimeError("secret detail"))
    assert payload == {"error": "internal", "message": "RuntimeError"}
