"""Request bodies leave out what is unset; the job handle hides its pre-signed URL."""

from __future__ import annotations

import pydantic
import pytest

from venice_video import (
    Consents,
    Element,
    Keyframe,
    QueueRequest,
    QuoteRequest,
    RetrieveStatus,
    SeedanceConsent,
    VideoJob,
)
from venice_video._catalog import bundled_catalog
from venice_video._validation import validate_queue


def test_to_body_sends_only_what_was_given() -> None:
    request = QueueRequest(
        model="m",
        prompt="p",
        duration="5s",
        elements=[Element(frontal_image_url="https://x/a.png")],
        keyframes=[Keyframe(image_url="https://x/k.png", frame_index=0)],
        consents=Consents(seedance=SeedanceConsent()),
        upscale_factor=None,
    )
    assert request.to_body() == {
        "model": "m",
        "prompt": "p",
        "duration": "5s",
        "elements": [{"frontal_image_url": "https://x/a.png"}],
        "keyframes": [{"image_url": "https://x/k.png", "frame_index": 0}],
        "consents": {
            "seedance": {
                "confirmed_terms_and_privacy": True,
                "confirmed_legal_right": True,
                "confirmed_screening_acknowledged": True,
            }
        },
    }


def test_values_are_left_to_the_catalog_but_types_are_checked() -> None:
    # A value newer than the spec's enums (the 2026-09 catalog's `2k`) builds a request...
    assert QueueRequest(model="m", resolution="2k", duration="30s").resolution == "2k"
    # ...and the catalog in force decides: no model takes "7 seconds".
    issues = validate_queue(
        {"model": "wan-3-0-text-to-video", "prompt": "p", "duration": "7 seconds"},
        bundled_catalog(),
    )
    assert [i.field for i in issues] == ["duration"]
    with pytest.raises(pydantic.ValidationError):
        QueueRequest(model="m", duration=7)  # type: ignore[arg-type]


def test_a_quote_keeps_only_the_fields_that_feed_the_price() -> None:
    request = QueueRequest(
        model="m",
        prompt="p",
        duration="5s",
        resolution="720p",
        audio=True,
        video_url="data:video/mp4;base64,AAAA",
        image_url="https://x/a.png",
    )
    assert QuoteRequest.from_queue(request).to_body() == {
        "model": "m",
        "duration": "5s",
        "resolution": "720p",
        "audio": True,
    }
    linked = request.model_copy(update={"video_url": "https://x/v.mp4"})
    assert QuoteRequest.from_queue(linked).video_url == "https://x/v.mp4"


def test_retrieve_status_is_a_closed_set() -> None:
    assert RetrieveStatus(status="COMPLETED").is_ready
    with pytest.raises(pydantic.ValidationError):
        RetrieveStatus(status="DONE")


def test_video_job_hides_its_download_url_and_reports_cost() -> None:
    job = VideoJob(
        idempotency_key="k",
        model="m",
        status="COMPLETED",
        queue_id="q",
        quote_usd=0.25,
        download_url="https://cdn/x?X-Amz-Signature=secret",
    )
    assert "secret" not in repr(job)
    assert job.cost == 0.25 and job.is_finished and job.id == "q"
    assert job.replace(status="FAILED").status == "FAILED"
