"""Fast checks of the server's pure parts, and of running it in-process and from the CLI."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from venice_video._catalog import bundled_catalog
from venice_video.server import (
    ManualClock,
    PricingTable,
    RateLimitConfig,
    ScaledClock,
    ServerConfig,
    create_app,
)
from venice_video.server.__main__ import build_parser, config_from_args
from venice_video.server._accounts import hash_key
from venice_video.server._http import RangeNotSatisfiable, parse_range
from venice_video.server._jobs import simulated_seconds
from venice_video.server._pricing import quote_usd
from venice_video.server._ratelimit import RateLimiter


def test_scaled_clock_runs_speed_times_faster() -> None:
    clock = ScaledClock(500.0)
    start_now, start_wall = clock.now(), clock.wall()
    time.sleep(0.01)
    assert clock.now() - start_now >= 5.0
    assert clock.wall() - start_wall == pytest.approx(clock.now() - start_now, abs=1.0)
    clock.advance_to(clock.wall() + 1000)
    assert clock.wall() - start_wall >= 1000


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(start_wall=100.0)
    assert (clock.now(), clock.wall()) == (0.0, 100.0)
    clock.advance(2.5)
    assert (clock.now(), clock.wall()) == (2.5, 102.5)
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_pricing_follows_the_table() -> None:
    catalog = bundled_catalog()
    table = PricingTable(listed_prices=False)
    wan = catalog["wan-3-0-text-to-video"]
    silent = {"duration": "5s", "resolution": "480p", "audio": False}
    assert quote_usd(table, wan, silent) == pytest.approx(0.25)
    custom = PricingTable(
        listed_prices=False, per_second_usd={"480p": 1.0}, model_multipliers={wan.id: 2.0}
    )
    assert quote_usd(custom, wan, silent) == 10.0
    topaz = catalog["topaz-video-upscale"]
    assert quote_usd(table, topaz, {"upscale_factor": 4}, input_duration_s=10) == 1.0
    assert quote_usd(table, topaz, {}, input_duration_s=0.001) == table.minimum_usd


def test_listed_prices_are_venices_and_multipliers_still_apply() -> None:
    catalog = bundled_catalog()
    wan = catalog["wan-3-0-text-to-video"]
    body = {"duration": "5s", "resolution": "480p", "audio": False}
    assert quote_usd(PricingTable(), wan, body) == pytest.approx(0.26)  # 480p|5s|off
    doubled = PricingTable(model_multipliers={wan.id: 2.0})
    assert quote_usd(doubled, wan, body) == pytest.approx(0.52)
    # The placeholder family multipliers do not touch Venice's prices.
    placeholders = PricingTable(family_multipliers={"wan": 9.0})
    assert quote_usd(placeholders, wan, body) == pytest.approx(0.26)


def test_simulated_times_are_tens_of_seconds_to_minutes() -> None:
    catalog = bundled_catalog()
    short = simulated_seconds(catalog["grok-imagine-text-to-video-private"],
                              {"duration_s": 1, "width": 854, "height": 480})  # fmt: skip
    long = simulated_seconds(catalog["wan-2.6-text-to-video"],
                             {"duration_s": 15, "width": 1920, "height": 1080})  # fmt: skip
    assert 10 < short < 60
    assert 120 < long < 600


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("bytes=0-9", (0, 10)), ("bytes=90-", (90, 10)), ("bytes=-5", (95, 5)),
     ("bytes=0-1000", (0, 100)), ("items=0-5", None), ("bytes=0-1,5-6", None)],
)  # fmt: skip
def test_parse_range(header: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=5-1", "bytes=x-y", "bytes=-", "bytes=-0"])
def test_parse_range_rejects_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 100)


def test_rate_limiter_counts_per_window_of_server_time() -> None:
    clock = ManualClock(start_wall=6000.0)
    limiter = RateLimiter(RateLimitConfig(enabled=True, retrieve_per_window=2), clock)
    decisions = [limiter.check("a", "retrieve") for _ in range(3)]
    assert [d.allowed for d in decisions if d] == [True, True, False]
    assert limiter.check("b", "retrieve").allowed  # type: ignore[union-attr]
    denied = decisions[2]
    assert denied is not None and denied.reset_wall == 6060.0
    assert limiter.retry_after(denied) == 60
    clock.advance(60)
    assert limiter.check("a", "retrieve").allowed  # type: ignore[union-attr]
    assert RateLimiter(RateLimitConfig(), clock).check("a", "queue") is None


def test_keys_are_identified_by_their_sha256() -> None:
    assert hash_key("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_config_file_and_flags_combine(tmp_path: Path) -> None:
    (tmp_path / "accounts.json").write_text(
        json.dumps({"accounts": [{"key": "s3cr3t-key", "balance_usd": 3, "name": "ci"}]})
    )
    (tmp_path / "server.json").write_text(json.dumps({
        "speed": 5, "accounts_file": "accounts.json", "blocked_terms": ["x"],
        "faults": {"seed": 3, "endpoints": {"retrieve": {"error_503": 0.5}}},
    }))  # fmt: skip
    args = build_parser().parse_args(
        ["--config", str(tmp_path / "server.json"), "--speed", "50", "--data-dir", str(tmp_path)]
    )
    config = config_from_args(args)
    assert config.speed == 50 and config.data_dir == tmp_path
    assert config.blocked_terms == ["x"]
    assert config.faults.endpoints["retrieve"].error_503 == 0.5
    accounts = config.all_accounts()
    assert accounts is not None and accounts[0].name == "ci"
    assert "s3cr3t" not in repr(accounts[0])


def test_fault_flags_add_to_the_config_file(tmp_path: Path) -> None:
    args = build_parser().parse_args(
        ["--ephemeral", "--fault", "queue.drop_after_create=0.25", "--fault",
         "retrieve.slow_body_s=0.5", "--fault-seed", "9"]
    )  # fmt: skip
    config = config_from_args(args)
    assert config.data_dir is None
    assert config.faults.seed == 9
    assert config.faults.endpoints["queue"].drop_after_create == 0.25
    assert config.faults.endpoints["retrieve"].slow_body_s == 0.5
    with pytest.raises(ValueError):
        config_from_args(build_parser().parse_args(["--fault", "nowhere.drop=1"]))


def test_config_rejects_unknown_fields() -> None:
    with pytest.raises(ValueError):
        ServerConfig.model_validate({"sped": 5})


async def test_the_app_runs_in_process_through_asgi_transport(tmp_path: Path) -> None:
    app = create_app(ServerConfig(data_dir=tmp_path), clock=ManualClock())
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://local/api/v1",
                                     headers={"Authorization": "Bearer k"}) as client:  # fmt: skip
            listed = await client.get("/models", params={"type": "video"})
            assert listed.status_code == 200 and listed.json()["type"] == "video"
            queued = await client.post(
                "/video/queue",
                json={
                    "model": "grok-imagine-text-to-video-private",
                    "prompt": "x",
                    "duration": "1s",
                },
            )
            assert queued.json()["download_url"].startswith("http://local/media/")
    finally:
        await app.aclose()
    assert (tmp_path / "server.sqlite3").is_file()
