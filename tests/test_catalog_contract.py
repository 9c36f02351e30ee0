"""The bundled catalog and the local server's prices against Venice's data of 2026-09-29.

The reference files are the verbatim copies in `tests/fixtures/venice-2026-09/` (see the
fixtures README): `model-catalog.json` (what each video model takes) and `video-pricing.json`
(the live `/video/quote` answer for every resolution x duration x audio combination).
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest

from venice_video._catalog import VideoModel, bundled_catalog, bundled_catalog_date, retired_model
from venice_video._validation import validate_queue, validate_quote
from venice_video.server import PricingTable, ServerThread
from venice_video.server._pricing import PriceBook, bundled_prices, quote_usd

FIXTURES = Path(__file__).parent / "fixtures"
REFERENCE = FIXTURES / "venice-2026-09"
DATA = Path(__file__).parent.parent / "src" / "venice_video" / "data"
AUDIO = {"native": (True, False), "optional": (True, True), "none": (False, False)}
RETIRED = {
    "sora-2-text-to-video": "2026-09-24",
    "sora-2-image-to-video": "2026-09-24",
    "sora-2-pro-text-to-video": "2026-09-24",
    "sora-2-pro-image-to-video": "2026-09-24",
    "wan-2.2-a14b-text-to-video": None,
    "wan-2.1-pro-image-to-video": None,
}


@cache
def reference_models() -> dict[str, Any]:
    catalog = json.loads((REFERENCE / "model-catalog.json").read_text("utf-8"))
    return {k: m for k, m in catalog["models"].items() if m.get("type") == "video"}


@cache
def reference_prices() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((REFERENCE / "video-pricing.json").read_text("utf-8"))
    return data["models"]


def combinations() -> list[tuple[str, str, float]]:
    return [
        (model_id, key, price)
        for model_id, entry in reference_prices().items()
        for key, price in entry["quotes"].items()
    ]


def body_for(key: str) -> dict[str, Any]:
    resolution, duration, audio = key.split("|")
    body: dict[str, Any] = {"duration": duration, "audio": audio == "on"}
    if resolution != "-":
        body["resolution"] = resolution
    return body


def cents(usd: float) -> int:
    return round(usd * 100)


def test_the_fixture_copies_are_unmodified() -> None:
    readme = (FIXTURES / "README.md").read_text("utf-8")
    for name in ("model-catalog.json", "video-pricing.json"):
        digest = hashlib.sha256((REFERENCE / name).read_bytes()).hexdigest()
        assert f"| `{name}` | `{digest}` |" in readme, name


def test_the_bundled_catalog_says_where_and_when_it_comes_from() -> None:
    header = json.loads((DATA / "models-video.json").read_text("utf-8"))
    assert header["generated_at"] == "2026-09-29T01:13:29.474Z"
    assert "model-catalog.json" in header["source"] and "d89e20a5" in header["source"]
    assert bundled_catalog_date() == "2026-09-29"
    prices = json.loads((DATA / "video-prices.json").read_text("utf-8"))
    assert prices["generated_at"].startswith("2026-09-29") and "/video/quote" in prices["source"]


def test_the_bundled_catalog_is_the_reference_catalog() -> None:
    catalog = bundled_catalog()
    reference = reference_models()
    assert set(catalog.ids) == set(reference)
    assert len(catalog) == 132
    for model_id, record in reference.items():
        video = record["video"]
        model = catalog[model_id]
        fingerprint = json.loads(reference_prices()[model_id]["fingerprint"])
        inputs = video.get("inputs") or {}
        assert model.model_type == fingerprint[0], model_id
        assert list(model.durations) == [d["value"] for d in video["durations"]], model_id
        assert list(model.resolutions) == [r["value"] for r in video.get("resolutions", [])]
        assert list(model.aspect_ratios) == video.get("aspectRatios", []), model_id
        assert (model.audio, model.audio_configurable) == AUDIO[video["audio"]], model_id
        assert model.audio_input == bool(inputs.get("audio")), model_id
        assert model.video_input == bool(inputs.get("video")), model_id
        assert model.prompt_character_limit == video.get("promptLimit", 2500), model_id
        assert model.is_reference_to_video == (video["mode"] == "r2v"), model_id
        assert model.priced_by_input == (record["pricing"]["status"] == "input-dependent")
        assert (model.name, model.privacy, model.created) == (
            record["name"], record["privacy"], record["created"],
        )  # fmt: skip


def test_fields_the_new_catalog_lacks_are_kept_from_the_previous_one() -> None:
    catalog = bundled_catalog()
    seedance = catalog["seedance-2-0-image-to-video-basic"]
    assert seedance.reference_image_min_short_side_pixels == 300
    assert seedance.reference_image_min_aspect_ratio == pytest.approx(0.4)
    assert seedance.reference_image_max_aspect_ratio == pytest.approx(2.5)
    assert catalog["wan-2-7-reference-to-video"].per_reference_audio
    assert {m.id for m in catalog if m.vps_backed} == {
        "grok-imagine-text-to-video-private",
        "grok-imagine-image-to-video-private",
        "grok-imagine-video-to-video-private",
        "grok-imagine-reference-to-video-private",
    }
    records = json.loads((DATA / "models-video.json").read_text("utf-8"))["models"]
    kept = {r["id"]: r["source"]["kept_from_previous"] for r in records}
    assert "reference_image_min_short_side_pixels" in kept["seedance-2-0-image-to-video-basic"]
    assert kept["wan-3-0-text-to-video"] == []  # new in 2026-09: nothing to keep


def test_retired_models_have_their_dates_and_are_gone() -> None:
    catalog = bundled_catalog()
    retired = json.loads((DATA / "retired-models.json").read_text("utf-8"))["models"]
    assert {r["id"]: r["retired_on"] for r in retired} == RETIRED
    for model_id in RETIRED:
        assert model_id not in catalog and model_id not in reference_models()
        record = retired_model(model_id, catalog)
        assert record is not None and record.gone_by == "2026-09-29"
        similar = catalog.similar(record.model)
        assert len(similar) == 3
        assert all(m.model_type == record.model.model_type for m in similar)


def test_the_price_table_is_the_reference_price_list() -> None:
    book = bundled_prices()
    reference = reference_prices()
    assert set(book.quotes) == set(reference)
    for model_id, entry in reference.items():
        listed = {k.lower(): cents(v) for k, v in entry["quotes"].items()}
        assert {k: cents(v) for k, v in book.quotes[model_id].items()} == listed, model_id
    assert book.combinations == len(combinations()) == 3688
    assert sum(1 for e in reference.values() if e.get("inputDependent")) == 7


def test_the_local_server_charges_every_listed_combination_to_the_cent() -> None:
    catalog = bundled_catalog()
    table = PricingTable()
    wrong = [
        (model_id, key, price, quote_usd(table, catalog[model_id], body_for(key)))
        for model_id, key, price in combinations()
        if cents(quote_usd(table, catalog[model_id], body_for(key))) != cents(price)
    ]
    assert wrong == []
    # Every listed combination is also a valid quote request for its model.
    for model_id, key, _ in combinations():
        assert validate_quote({"model": model_id, **body_for(key)}, catalog) == [], key


@pytest.mark.slow
def test_the_local_server_answers_every_listed_price_over_http(server: ServerThread) -> None:
    wrong = []
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        for model_id, key, price in combinations():
            response = http.post("/video/quote", json={"model": model_id, **body_for(key)})
            if response.status_code != 200 or cents(response.json()["quote"]) != cents(price):
                wrong.append((model_id, key, price, response.text))
    assert wrong == []


def test_the_rule_fitted_to_the_list_predicts_left_out_prices() -> None:
    # Leave each listed duration out in turn, fit the model's rate on the others, price it.
    book = bundled_prices()
    errors: list[float] = []
    for model_id, table in book.quotes.items():
        groups: dict[tuple[str, str], dict[str, float]] = {}
        for key, price in table.items():
            resolution, _, audio = key.split("|")
            groups.setdefault((resolution, audio), {})[key] = price
        for (resolution, audio), prices in groups.items():
            for key, price in prices.items() if len(prices) > 1 else ():
                rest = PriceBook({model_id: {k: v for k, v in prices.items() if k != key}})
                seconds = int(key.split("|")[1].removesuffix("s"))
                label = None if resolution == "-" else resolution
                guess = rest.price(model_id, label, seconds, audio == "on")
                assert guess is not None
                errors.append(abs(guess - price))
    assert len(errors) == 3685
    assert statistics.median(errors) < 0.001
    assert sum(e <= 0.0101 for e in errors) / len(errors) >= 0.95


def test_unlisted_prices_follow_the_model_then_its_family_then_the_catalog() -> None:
    catalog = bundled_catalog()
    table = PricingTable()
    book = bundled_prices()
    # A duration the list lacks: the model's own per-second rate (0.052/s at 480p).
    wan = catalog["wan-3-0-text-to-video"]
    assert quote_usd(table, wan, {"duration": "7s", "resolution": "480p"}) == pytest.approx(0.36)
    # Input-dependent models: the input's length at their family's rate (wan-2-7: 0.11/s).
    v2v = catalog["wan-2-7-video-to-video"]
    assert quote_usd(
        table, v2v, {"duration": "Auto", "resolution": "720p"}, input_duration_s=12
    ) == pytest.approx(1.32)
    # A model the list does not know: the median rate of every model at that height.
    stranger = VideoModel(id="someone-new-text-to-video", model_type="text-to-video",
                          durations=("5s",), resolutions=("720p",))  # fmt: skip
    price = quote_usd(table, stranger, {"duration": "5s", "resolution": "720p", "audio": False})
    assert price == pytest.approx(5 * book.height_rates[(720, False)], abs=0.006)
    assert price == pytest.approx(round(price, 2)) and price > 0


# --------------------------------------------------------------------------- new shapes


@pytest.mark.parametrize(
    "body",
    [
        {"model": "wan-3-0-pro-text-to-video", "resolution": "2k", "duration": "30s"},
        {
            "model": "wan-3-0-image-to-video",
            "aspect_ratio": "adaptive",
            "duration": "30s",
            "image_url": "https://example.com/a.png",
        },
        {
            "model": "ltx-2-5-fast-image-to-video",
            "aspect_ratio": "auto",
            "duration": "20s",
            "image_url": "https://example.com/a.png",
        },
        {"model": "minimax-h3-max-text-to-video", "resolution": "1080P", "duration": "15s"},
    ],  # fmt: skip
)
def test_new_shapes_validate_from_the_catalog(body: dict[str, Any]) -> None:
    assert validate_queue({"prompt": "a fox", **body}, bundled_catalog()) == []


def test_prompt_limits_come_from_the_catalog() -> None:
    catalog = bundled_catalog()
    long = "x" * 20_000
    assert catalog["wan-3-0-text-to-video"].prompt_character_limit == 20_000
    ok = {"model": "wan-3-0-text-to-video", "duration": "5s", "prompt": long}
    assert validate_queue(ok, catalog) == []
    too_long = validate_queue({**ok, "prompt": long + "x"}, catalog)
    assert "prompt" in {i.field for i in too_long}
    shorter = validate_queue({**ok, "model": "wan-2.6-text-to-video"}, catalog)
    assert [i.message for i in shorter] == [
        "wan-2.6-text-to-video accepts at most 2500 characters; got 20000"
    ]


def test_a_value_no_model_takes_is_refused_with_the_known_ones() -> None:
    (issue,) = validate_queue(
        {"model": "wan-3-0-pro-text-to-video", "prompt": "p", "duration": "5s",
         "resolution": "8k"}, bundled_catalog(),
    )  # fmt: skip
    assert issue.field == "resolution" and "2k" in issue.allowed and "480P" in issue.allowed


# --------------------------------------------------------------------------- strict keys


def test_the_local_server_refuses_unknown_keys_like_the_live_api(client: httpx.Client) -> None:
    body = {"model": "wan-3-0-text-to-video", "prompt": "a fox", "duration": "5s", "x": 1}
    response = client.post("/video/queue", json=body)
    assert response.status_code == 400
    issues = response.json()["issues"]
    assert issues == [
        {"code": "unrecognized_keys", "path": [], "keys": ["x"],
         "message": "Unrecognized key(s) in object: 'x'"},
    ]  # fmt: skip
    quoted = client.post("/video/quote", json={"model": "wan-3-0-text-to-video",
                                               "duration": "5s", "prompt": "a fox"})  # fmt: skip
    assert quoted.status_code == 400
    assert quoted.json()["issues"][0]["message"] == "Unrecognized key(s) in object: 'prompt'"
    nested = {**body, "x": None, "elements": [{"frontal_image_url": "https://a/b.png", "y": 2}]}
    nested.pop("x")
    paths = [i["path"] for i in client.post("/video/queue", json=nested).json()["issues"]]
    assert ["elements", 0] in paths


def test_strict_keys_can_be_turned_off(server_factory: Any, api_key: str) -> None:
    lenient = server_factory(strict_keys=False)
    body = {"model": "wan-3-0-text-to-video", "prompt": "a fox", "duration": "5s",
            "resolution": "480p", "audio": False, "x": 1}  # fmt: skip
    with httpx.Client(base_url=lenient.base_url, timeout=30,
                      headers={"Authorization": f"Bearer {api_key}"}) as http:  # fmt: skip
        response = http.post("/video/queue", json=body)
    assert response.status_code == 200, response.text
    assert re.fullmatch(r"[0-9a-f-]{36}", response.json()["queue_id"])
