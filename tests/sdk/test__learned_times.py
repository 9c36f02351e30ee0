"""What the pollers learn about job times outlives the client: saved, merged, read again.

The pure parts (`CompletionStats.export` and `absorb`, the first poll's timing) run on
plain values and an injected clock; the file (`LearnedTimes`) in a temporary folder; the
clients over real HTTP against the local server.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from venice_video import AsyncVeniceVideo, PollPolicy, RetryPolicy, VeniceVideo
from venice_video._forecast import CompletionStats
from venice_video._modelcache import LearnedTimes
from venice_video._poller import Poller
from venice_video.server import ServerThread

DAY = 86400.0
POLICY = PollPolicy(jitter=0.0)
REQUEST = {"model": "grok-imagine-text-to-video-private", "prompt": "a kite", "duration": "1s",
           "resolution": "480p"}  # fmt: skip


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def stats_with(clock: Clock, *finishes: float, kind: str = "k") -> CompletionStats:
    stats = CompletionStats(clock=clock)
    for at in finishes:
        stats.record(kind, at, 50.0, keep=30)
        clock.now += 10.0
    stats.remember("m", 50.0, 1.0)
    return stats


def times(path: Path, kind: str = "k") -> list[float]:
    return sorted(row[0] for row in json.loads(path.read_text())["finishes"][kind])


def learned(stats: CompletionStats) -> int:
    """The finish times `stats` holds, all kinds together."""
    return sum(len(rows) for rows in stats.export()["finishes"].values())


def saved(path: Path) -> int:
    return sum(len(rows) for rows in json.loads(path.read_text())["finishes"].values())


# --------------------------------------------------------------------------- the pure part


def test_an_export_taken_up_elsewhere_gives_the_same_forecast_and_counts_once() -> None:
    clock = Clock()
    first = stats_with(clock, 40.0, 44.0, 47.0)
    second = CompletionStats(clock=clock)
    second.absorb(first.export(), keep=30, since=0.0)
    second.absorb(first.export(), keep=30, since=0.0)  # again: nothing twice
    assert second.samples("k") == 3
    assert second.forecast("k", 50.0, POLICY) == first.forecast("k", 50.0, POLICY)
    assert second.estimate("m") == 50.0


def test_absorb_keeps_the_most_recent_and_drops_the_old_and_the_malformed() -> None:
    clock = Clock()
    old = stats_with(clock, 10.0, 11.0)
    cutoff = clock.now
    newer = stats_with(clock, 40.0, 41.0, 42.0, 43.0)
    saved = newer.export()
    saved["finishes"]["k"] += old.export()["finishes"]["k"]
    saved["finishes"]["k"] += [["x", None, clock.now], [5.0], None, [-1.0, None, clock.now]]
    saved["finishes"]["j"] = 5  # type: ignore[assignment]
    saved["estimates"]["n"] = ["soon"]
    stats = CompletionStats(clock=clock)
    stats.absorb(saved, keep=3, since=cutoff)
    forecast = stats.forecast("k", 50.0, POLICY)
    assert forecast is not None and forecast.points == (41.0, 42.0, 43.0)
    assert stats.estimate("n") is None and stats.samples("j") == 0


def test_knowing_the_clock_and_the_times_the_first_poll_waits_for_the_window() -> None:
    """A new process on the hosted API (rate 1) with saved times sleeps to the window's
    opening; knowing neither, it asks at once."""
    clock = Clock()
    saved = stats_with(clock, 40.0, 44.0, 47.0).export()
    informed = CompletionStats(rate=1.0, clock=clock)
    informed.absorb(saved, keep=30, since=0.0)
    options = {"queue_id": "q", "model": "m", "status": "QUEUED", "kind": "k",
               "queued_at": 0.0, "now": 0.0, "rand": lambda: 0.5}  # fmt: skip
    first = Poller(POLICY, RetryPolicy(), stats=informed, **options).begin(0.0)  # type: ignore[arg-type]
    forecast = informed.forecast("k", 50.0, POLICY)
    assert forecast is not None and forecast.learned
    assert first.until == forecast.low > 20.0
    blind = Poller(POLICY, RetryPolicy(), stats=CompletionStats(), **options).begin(0.0)  # type: ignore[arg-type]
    assert blind.until == 0.0


def test_the_hosted_api_runs_at_real_time_and_a_local_server_is_measured() -> None:
    with VeniceVideo(api_key="k", journal=False, cache_dir=False) as hosted:
        assert hosted._stats.rate == 1.0
    with VeniceVideo(
        api_key="k", base_url="http://127.0.0.1:9/api/v1", journal=False, cache_dir=False
    ) as local:
        assert local._stats.rate is None


# --------------------------------------------------------------------------- the file


def test_saved_times_are_read_by_the_next_client_of_the_same_api_only(tmp_path: Path) -> None:
    clock = Clock()
    store = LearnedTimes(tmp_path, "http://a.test/api/v1", max_age=DAY, keep=30, clock=clock)
    store.load(CompletionStats(clock=clock))  # no file yet: nothing, no error
    store.save(stats_with(clock, 40.0, 44.0, 47.0))
    later = CompletionStats(clock=clock)
    LearnedTimes(tmp_path, "http://a.test/api/v1", max_age=DAY, keep=30, clock=clock).load(later)
    assert later.samples("k") == 3 and later.estimate("m") == 50.0
    other = CompletionStats(clock=clock)
    LearnedTimes(tmp_path, "http://b.test/api/v1", max_age=DAY, keep=30, clock=clock).load(other)
    assert other.samples("k") == 0


def test_a_store_is_marked_loaded_only_once_its_times_are_in(tmp_path: Path) -> None:
    # Waits begun together check `loaded` without the lock: none may see it set before
    # the saved times are in the forecasts, or it would begin from nothing.
    clock = Clock()
    store = LearnedTimes(tmp_path, "http://a.test/api/v1", max_age=DAY, keep=30, clock=clock)
    store.save(stats_with(clock, 40.0, 42.0, 44.0))
    fresh = LearnedTimes(tmp_path, "http://a.test/api/v1", max_age=DAY, keep=30, clock=clock)
    seen: list[bool] = []

    class Watching(CompletionStats):
        def absorb(self, saved: Any, *, keep: int, since: float) -> None:
            seen.append(fresh.loaded)
            super().absorb(saved, keep=keep, since=since)

    target = Watching(clock=clock)
    fresh.load(target)
    assert seen == [False] and fresh.loaded and learned(target) == 3


def test_two_processes_saving_keep_both_their_times_and_old_ones_expire(tmp_path: Path) -> None:
    clock = Clock()
    api = "http://a.test/api/v1"
    one, two = CompletionStats(clock=clock), CompletionStats(clock=clock)
    first = LearnedTimes(tmp_path, api, max_age=DAY, keep=30, clock=clock)
    second = LearnedTimes(tmp_path, api, max_age=DAY, keep=30, clock=clock)
    first.load(one)
    second.load(two)
    one.record("k", 40.0, None, keep=30)
    first.save(one)
    two.record("k", 45.0, None, keep=30)
    second.save(two)  # merges the first's finish into its own, and writes both
    assert times(first.path) == [40.0, 45.0]
    assert two.samples("k") == 2
    clock.now += DAY + 1.0  # a day later both are too old to keep
    one.record("k", 50.0, None, keep=30)
    first.save(one)
    assert times(first.path) == [50.0]


def test_a_running_client_saves_at_most_once_a_minute_and_only_what_is_new(
    tmp_path: Path,
) -> None:
    clock = Clock()
    stats = CompletionStats(clock=clock)
    store = LearnedTimes(tmp_path, "api", max_age=DAY, keep=30, clock=clock)
    store.load(stats)
    assert not store.due(stats)  # nothing learned
    stats.record("k", 40.0, None, keep=30)
    assert store.due(stats)  # never saved: at once
    store.save(stats)
    stats.record("k", 41.0, None, keep=30)
    clock.now += 30.0
    assert not store.due(stats)
    clock.now += 31.0
    assert store.due(stats)


def test_an_unreadable_file_is_ignored_and_replaced(tmp_path: Path) -> None:
    clock = Clock()
    store = LearnedTimes(tmp_path, "api", max_age=DAY, keep=30, clock=clock)
    store.path.write_text("{not json")
    stats = CompletionStats(clock=clock)
    store.load(stats)
    assert stats.samples("k") == 0
    stats.record("k", 40.0, None, keep=30)
    store.save(stats)
    assert times(store.path) == [40.0]


# --------------------------------------------------------------------------- the clients


def test_a_new_client_starts_from_what_the_one_before_learned(
    server: ServerThread, api_key: str, tmp_path: Path
) -> None:
    options = {"api_key": api_key, "base_url": server.base_url, "journal": False,
               "cache_dir": tmp_path / "cache"}  # fmt: skip
    with VeniceVideo(**options) as first:  # type: ignore[arg-type]
        for n in range(2):
            first.generate(**REQUEST, output=tmp_path / f"a{n}.mp4")  # type: ignore[arg-type]
        assert learned(first._stats) == 2
    with VeniceVideo(**options) as second:  # type: ignore[arg-type]
        second.generate(**REQUEST, output=tmp_path / "b.mp4")  # type: ignore[arg-type]
        assert learned(second._stats) == 3
    assert second._learned is not None
    assert saved(second._learned.path) == 3


async def test_the_async_twin_reads_and_saves_them_too(
    server: ServerThread, api_key: str, tmp_path: Path
) -> None:
    options = {"api_key": api_key, "base_url": server.base_url, "journal": False,
               "cache_dir": tmp_path / "cache"}  # fmt: skip
    with VeniceVideo(**options) as first:  # type: ignore[arg-type]
        first.generate(**REQUEST, output=tmp_path / "a.mp4")  # type: ignore[arg-type]
    async with AsyncVeniceVideo(**options) as second:  # type: ignore[arg-type]
        await second.generate(**REQUEST, output=tmp_path / "b.mp4")  # type: ignore[arg-type]
        assert learned(second._stats) == 2
    assert second._learned is not None
    assert saved(second._learned.path) == 2


def test_nothing_is_kept_without_a_cache_or_with_remember_for_zero(
    server: ServerThread, api_key: str, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    with VeniceVideo(api_key=api_key, base_url=server.base_url, journal=False,
                     cache_dir=cache, poll=PollPolicy(remember_for=0)) as client:  # fmt: skip
        client.generate(**REQUEST, output=tmp_path / "a.mp4")  # type: ignore[arg-type]
        assert client._learned is None
    with VeniceVideo(api_key=api_key, base_url=server.base_url, journal=False,
                     cache_dir=False) as client:  # fmt: skip
        client.generate(**REQUEST, output=tmp_path / "b.mp4")  # type: ignore[arg-type]
        assert client._learned is None
    assert not list(cache.glob("job-times-*"))


def test_a_local_servers_announced_speed_times_the_first_poll(
    server_factory: Any, api_key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new process knows the local server's clock rate from its `x-local-speed` before
    the first poll, as it knows the hosted API's: no probing poll to measure it."""
    rates: list[float | None] = []
    begin = Poller.begin

    def spy(poller: Poller, now: float) -> Any:
        rates.append(poller.rate)
        return begin(poller, now)

    monkeypatch.setattr(Poller, "begin", spy)
    server = server_factory(speed=400.0)
    with VeniceVideo(api_key=api_key, base_url=server.base_url, journal=False,
                     cache_dir=False) as client:  # fmt: skip
        client.generate(**REQUEST, output=tmp_path / "a.mp4")  # type: ignore[arg-type]
    assert rates == [400.0]
