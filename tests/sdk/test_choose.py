"""Picking a model by need and price; retired models, strict keys and FAILED bodies in the SDK."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sdk_helpers import FakeAPI, FakeClock, json_response, mock_client

from venice_video import AsyncVeniceVideo, JobFailedError, ValidationError, VeniceVideo, VideoJob
from venice_video._catalog import Catalog, bundled_catalog, retired_model
from venice_video._choose import AsyncModelChoice, ModelChoice, cheapest_query, quote_shape
from venice_video.server import ServerThread

Counting = Callable[[], tuple[VeniceVideo, list[str]]]


@pytest.fixture
def counting_client(server: ServerThread, api_key: str, tmp_path: Path) -> Iterator[Counting]:
    """Clients on the shared server that record the path of every request they send; all of
    them share one quote cache under `tmp_path`."""
    opened: list[httpx.Client] = []

    def make() -> tuple[VeniceVideo, list[str]]:
        seen: list[str] = []
        http = httpx.Client(event_hooks={"request": [lambda r: seen.append(r.url.path)]})
        opened.append(http)
        client = VeniceVideo(
            api_key=api_key, base_url=server.base_url, journal=False,
            cache_dir=tmp_path / "cache", http_client=http,
        )  # fmt: skip
        return client, seen

    yield make
    for http in opened:
        http.close()


def test_models_by_price_lists_what_can_do_it_cheapest_first(counting_client: Counting) -> None:
    client, seen = counting_client()
    with client:
        priced = client.models_by_price(needs="image,audio", duration="10s", resolution="720p")
    assert len(priced) >= 10
    quotes = [p.quote_usd for p in priced]
    assert all(q is not None for q in quotes)
    assert quotes == sorted(quotes)  # type: ignore[type-var]
    for choice in priced:
        assert {"image", "audio"} <= choice.model.capabilities
        assert choice.model.takes(duration="10s", resolution="720p")
        assert choice.request is not None and choice.request.duration == "10s"
    # The prices are Venice's listed ones (the local server charges them).
    first = priced[0]
    assert first.shape.startswith("10s 720p")
    assert seen.count("/api/v1/video/quote") == len(priced)


def test_quotes_are_cached_on_disk_and_refresh_asks_again(counting_client: Counting) -> None:
    client, seen = counting_client()
    with client:
        first = client.models_by_price(needs="audio", duration=5)
    asked = seen.count("/api/v1/video/quote")
    assert asked == sum(p.request is not None for p in first) > 0
    again, seen_again = counting_client()  # a new client, the same cache directory
    with again:
        second = again.models_by_price(needs="audio", duration=5)
        assert [(p.id, p.quote_usd) for p in second] == [(p.id, p.quote_usd) for p in first]
        assert "/api/v1/video/quote" not in seen_again
        again.models_by_price(needs="audio", duration=5, refresh=True)
    assert seen_again.count("/api/v1/video/quote") == asked


def test_every_model_gets_a_price_or_says_why_not(counting_client: Counting) -> None:
    client, _ = counting_client()
    with client:
        priced = client.models_by_price()
    assert len(priced) == len(bundled_catalog())
    unpriced = [p for p in priced if p.quote_usd is None]
    # Upscale, video-to-video and motion models price by their input's length.
    assert unpriced and all(p.model.priced_by_input and p.note for p in unpriced)
    assert priced[-len(unpriced) :] == unpriced


def test_cheapest_model_uses_only_the_inputs_named(counting_client: Counting) -> None:
    client, _ = counting_client()
    with client:
        text = client.cheapest_model(needs="audio", duration="5s")
        image = client.cheapest_model(needs=["image"], duration="5s")
        everything = client.models_by_price(needs="audio", duration="5s", model_type=None)
        with pytest.raises(ValidationError, match="no model"):
            client.cheapest_model(needs="upscale,audio")
    assert text.model.model_type == "text-to-video"
    assert text.quote_usd == min(
        p.quote_usd
        for p in everything
        if p.quote_usd is not None and p.model.model_type == "text-to-video"
    )
    assert image.model.required_inputs <= {"text", "image"}


def test_a_long_prompt_leaves_out_the_models_it_does_not_fit(counting_client: Counting) -> None:
    client, _ = counting_client()
    with client:
        every = client.models_by_price(needs="audio", duration="5s")
        fitting = client.models_by_price(needs="audio", duration="5s", prompt_length=5000)
        cheapest = client.cheapest_model(
            **cheapest_query({"prompt": "x" * 5000, "audio": True, "duration": "5s"})
        )
        with pytest.raises(ValidationError, match="prompt_length=50000"):
            client.cheapest_model(needs="audio", prompt_length=50_000)
    assert {p.id for p in fitting} == {
        p.id for p in every if p.model.prompt_character_limit >= 5000
    }
    assert 0 < len(fitting) < len(every)
    assert cheapest.model.prompt_character_limit >= 5000
    assert cheapest.quote_usd == min(
        p.quote_usd
        for p in fitting
        if p.quote_usd is not None and p.model.required_inputs <= {"text"}
    )


async def test_the_async_twin_prices_the_same(
    server: ServerThread, api_key: str, tmp_path: Path
) -> None:
    with VeniceVideo(api_key=api_key, base_url=server.base_url, journal=False,
                     cache_dir=False) as sync:  # fmt: skip
        expected = sync.models_by_price(needs="reference", duration="5s")
    async with AsyncVeniceVideo(
        api_key=api_key, base_url=server.base_url, journal=False, cache_dir=tmp_path / "c"
    ) as client:
        priced = await client.models_by_price(needs="reference", duration="5s")
        cheapest = await client.cheapest_model(needs="reference", duration="5s")
    assert [(p.id, p.quote_usd) for p in priced] == [(p.id, p.quote_usd) for p in expected]
    assert cheapest.id == priced[0].id and cheapest.model.is_reference_to_video


def test_the_twins_share_parameters_and_docstrings() -> None:
    for name in ("models_by_price", "cheapest_model"):
        sync, twin = getattr(ModelChoice, name), getattr(AsyncModelChoice, name)
        assert inspect.iscoroutinefunction(twin) and not inspect.iscoroutinefunction(sync)
        assert inspect.signature(sync) == inspect.signature(twin)
        assert inspect.getdoc(sync) == inspect.getdoc(twin)
        assert getattr(VeniceVideo, name) is sync and getattr(AsyncVeniceVideo, name) is twin


def test_quote_shape_fills_the_models_defaults() -> None:
    catalog = bundled_catalog()
    wan = quote_shape(catalog["wan-3-0-text-to-video"])
    assert wan is not None and wan.to_body() == {
        "model": "wan-3-0-text-to-video", "duration": "2s", "resolution": "720p", "audio": True,
    }  # fmt: skip
    minimax = quote_shape(catalog["minimax-h3-max-text-to-video"], resolution="1080p")
    assert minimax is not None and minimax.resolution == "1080P"  # the model's own spelling
    assert quote_shape(catalog["topaz-video-upscale"]) is None


# --------------------------------------------------------------------------- retired models


def test_a_retired_model_is_refused_before_any_request(tmp_path: Path) -> None:
    api = FakeAPI()
    with mock_client(api, FakeClock(), tmp_path) as client:
        with pytest.raises(ValidationError) as caught:
            client.generate(model="sora-2-text-to-video", prompt="a fox", duration="4s")
        with pytest.raises(ValidationError, match="retired on 2026-09-24"):
            client.quote("sora-2-text-to-video", duration="4s")
    assert api.requests == []
    (issue,) = caught.value.issues
    assert issue.code == "model_retired"
    assert issue.message.startswith(
        "`sora-2-text-to-video` was retired on 2026-09-24; similar models: "
    )
    similar = issue.message.split("similar models: ")[1].split(", ")
    catalog = bundled_catalog()
    assert len(similar) == 3
    assert all(catalog[m].model_type == "text-to-video" for m in similar)


def test_a_model_retired_without_a_date_says_when_it_was_gone(tmp_path: Path) -> None:
    with mock_client(FakeAPI(), FakeClock(), tmp_path) as client:
        with pytest.raises(ValidationError) as caught:
            client.validate({"model": "wan-2.2-a14b-text-to-video", "prompt": "p",
                             "duration": "5s"})  # fmt: skip
    assert "`wan-2.2-a14b-text-to-video` was retired by 2026-09-29; similar models:" in str(
        caught.value
    )


def test_the_live_list_wins_over_the_retired_list(tmp_path: Path) -> None:
    retired = retired_model("sora-2-text-to-video")
    assert retired is not None
    live = Catalog([*bundled_catalog(), retired.model])
    api = FakeAPI().on("/video/quote", json_response(200, {"quote": 0.4}))
    with mock_client(api, FakeClock(), tmp_path, catalog=live) as client:
        assert client.quote("sora-2-text-to-video", duration="4s").quote == 0.4
        client.validate({"model": "sora-2-text-to-video", "prompt": "p", "duration": "4s"})
    assert retired_model("sora-2-text-to-video", live) is None


# --------------------------------------------------------------------------- strict keys


def test_the_sdk_never_sends_a_key_the_request_cannot_take(tmp_path: Path) -> None:
    api = FakeAPI()
    with mock_client(api, FakeClock(), tmp_path) as client:
        with pytest.raises(ValidationError) as unknown:
            client.generate(model="wan-3-0-text-to-video", prompt="a fox", duration="5s",
                            extra={"seed": 7})  # fmt: skip
        with pytest.raises(ValidationError) as not_for_this_model:
            client.generate(model="wan-3-0-text-to-video", prompt="a fox", duration="5s",
                            reference_images=["https://example.com/a.png"])  # fmt: skip
    assert api.requests == []
    assert unknown.value.issues[0].message == "Unrecognized key(s) in object: 'seed'"
    assert not_for_this_model.value.issues[0].field == "reference_image_urls"


# --------------------------------------------------------------------------- FAILED bodies


def test_a_failed_retrieve_body_ends_the_wait_with_the_body(tmp_path: Path) -> None:
    body = {"status": "FAILED", "error": "The provider could not render this prompt"}
    api = FakeAPI().on("/video/retrieve", json_response(200, body))
    job = VideoJob(idempotency_key="k", model="wan-3-0-text-to-video", status="QUEUED",
                   queue_id="0c3b2a52-7f07-4b6e-9a4e-0e0d7b3f2a11")  # fmt: skip
    with mock_client(api, FakeClock(), tmp_path, journal=False) as client:
        with pytest.raises(JobFailedError) as caught:
            client.wait(job, timeout=60)
    assert caught.value.body == body
    assert "could not render this prompt" in str(caught.value)
    assert caught.value.job.status == "FAILED"
    assert len(api.calls("/video/retrieve")) == 1


def test_an_unreachable_api_is_asked_once_not_once_per_model(tmp_path: Path) -> None:
    api = FakeAPI().on("/video/quote", httpx.ConnectError("refused"))
    with mock_client(api, FakeClock(), tmp_path, journal=False) as client:
        priced = client.models_by_price(needs="audio", duration="5s")
    assert len(priced) > 10
    assert all(p.quote_usd is None for p in priced)
    assert {p.note for p in priced if p.request is not None} == {priced[0].note}
    # One request, retried by the retry policy (4 attempts here), then no more.
    assert len(api.calls("/video/quote")) == 4
