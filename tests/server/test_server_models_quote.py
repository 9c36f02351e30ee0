"""GET /models and POST /video/quote."""

from __future__ import annotations

import httpx
import pytest
from _server_helpers import assert_error_shape, data_url, probe, small_mp4

from venice_video._catalog import bundled_catalog
from venice_video.server import ServerThread


def test_models_lists_the_bundled_catalog_without_a_key(server: ServerThread) -> None:
    response = httpx.get(f"{server.base_url}/models", params={"type": "video"})
    assert response.status_code == 200
    body = response.json()
    assert body == bundled_catalog().to_api()
    assert body["object"] == "list" and body["type"] == "video"
    assert {"id", "object", "owned_by", "type", "created", "model_spec"} <= set(body["data"][0])
    assert "cf-ray" in response.headers and "x-venice-version" in response.headers
    assert "x-venice-balance-usd" not in response.headers


@pytest.mark.parametrize(
    ("kind", "has_models"), [("all", True), ("video", True), ("image", False), ("text", False)]
)
def test_models_filters_by_type(server: ServerThread, kind: str, has_models: bool) -> None:
    body = httpx.get(f"{server.base_url}/models", params={"type": kind}).json()
    assert body["type"] == kind
    assert bool(body["data"]) is has_models


def test_models_rejects_an_unknown_type(server: ServerThread) -> None:
    response = httpx.get(f"{server.base_url}/models", params={"type": "holograms"})
    body = assert_error_shape(response, 400)
    assert body["issues"][0]["path"] == ["type"]


def test_models_with_a_key_reports_the_balance(client: httpx.Client) -> None:
    response = client.get("/models", params={"type": "video"})
    assert response.headers["x-venice-balance-usd"] == "100.000000"


def test_quote_works_without_a_key_and_returns_a_number(server: ServerThread) -> None:
    response = httpx.post(
        f"{server.base_url}/video/quote",
        json={"model": "wan-3-0-text-to-video", "duration": "5s", "resolution": "480p"},
    )
    assert response.status_code == 200
    quote = response.json()["quote"]
    assert isinstance(quote, float) and quote > 0


def test_quote_grows_with_duration_resolution_and_audio(client: httpx.Client) -> None:
    def price(**body: object) -> float:
        response = client.post("/video/quote", json={"model": "pixverse-c1-text-to-video", **body})
        assert response.status_code == 200, response.text
        return float(response.json()["quote"])

    # Venice's listed prices for this model: 0.28, 0.55, 0.52 and 0.36.
    short = price(duration="5s", resolution="720p", audio=False)
    assert price(duration="10s", resolution="720p", audio=False) > short
    assert price(duration="5s", resolution="1080p", audio=False) > short
    assert price(duration="5s", resolution="720p", audio=True) > short


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model": "no-such-model", "duration": "5s"}, "model"),
        ({"model": "wan-3-0-text-to-video", "duration": "7s"}, "duration"),
        ({"model": "wan-3-0-text-to-video"}, "duration"),
        ({"duration": "5s"}, "model"),
        (
            {"model": "seedance-2-0-text-to-video-basic", "duration": "5s", "bitrate_mode": "high"},
            "bitrate_mode",
        ),
    ],  # fmt: skip
)
def test_quote_answers_400_with_issues(
    client: httpx.Client, body: dict[str, str], field: str
) -> None:
    body_json = assert_error_shape(client.post("/video/quote", json=body), 400)
    assert body_json["error"] == "Invalid request parameters"
    assert field in {str(issue["path"][0]) for issue in body_json["issues"] if issue["path"]}
    assert "_errors" in body_json["details"]


def test_upscale_quote_prices_by_the_input_length(client: httpx.Client) -> None:
    clip = small_mp4(seconds=2.0)
    seconds = probe(clip).duration_s
    response = client.post(
        "/video/quote",
        json={"model": "topaz-video-upscale", "upscale_factor": 4,
              "video_url": data_url("video/mp4", clip)},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["quote"] == pytest.approx(seconds * 0.10, rel=0.01)


def test_upscale_quote_without_a_video_is_400(client: httpx.Client) -> None:
    response = client.post("/video/quote", json={"model": "topaz-video-upscale"})
    body = assert_error_shape(response, 400)
    assert body["issues"][0]["path"] == ["video_url"]
