"""The httpx request log never carries a pre-signed URL's query."""

from __future__ import annotations

import logging

import httpx
import pytest

from venice_video import VeniceVideo
from venice_video._logs import LOGGERS, RedactQueries


def test_a_client_redacts_query_strings_in_httpx_request_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    signed = "https://cdn.example.test/v.mp4?X-Amz-Signature=secret-signature&X-Amz-Expires=86400"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"ok")

    client = VeniceVideo(api_key="k", transport=httpx.MockTransport(handler), journal=False)
    with caplog.at_level(logging.INFO, logger="httpx"), client:
        client._http.get(signed)
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "httpx")
    assert "cdn.example.test/v.mp4?[redacted]" in logged
    assert "secret-signature" not in logged


def test_the_filter_leaves_urls_without_a_query_alone() -> None:
    record = logging.LogRecord(
        "httpx",
        logging.INFO,
        __file__,
        1,
        "HTTP Request: %s %s",
        ("GET", httpx.URL("http://h/p")),
        None,
    )
    assert RedactQueries().filter(record)
    assert record.getMessage() == "HTTP Request: GET http://h/p"


def test_every_logger_named_in_the_docs_is_listed() -> None:
    assert set(LOGGERS) >= {"venice_video", "venice_video.server", "venice_video.ui"}
