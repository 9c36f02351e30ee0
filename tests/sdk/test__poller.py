"""The pure `Poller`: retrieve answers in, decisions out, driven through tables.

Each case is a job's story: how the poller was made, then a list of events (the answers
the wait flow hands it, with the client's clock) and what each must decide. No HTTP, no
clock, no sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from venice_video import PollPolicy, RetryPolicy
from venice_video._exceptions import APIConnectionError, make_status_error
from venice_video._forecast import CompletionStats, Forecast
from venice_video._poller import Failed, Poller, Ready, Reraise, Sleep

POLICY = PollPolicy(jitter=0.0)
RETRY = RetryPolicy(jitter=0.0, initial_delay=0.5)


def processing(average_s: float, age_s: float) -> dict[str, Any]:
    return {
        "status": "PROCESSING",
        "average_execution_time": average_s * 1000,
        "execution_duration": age_s * 1000,
    }


def status_error(status: int, body: Any = None) -> Exception:
    request = httpx.Request("POST", "http://fake.test/api/v1/video/retrieve")
    return make_status_error(httpx.Response(status, json=body or {"error": "x"}, request=request))


def learned(*finishes: float, model: str = "m", rate: float = 1.0) -> CompletionStats:
    stats = CompletionStats()
    for f in finishes:
        stats.record("k", f, 100.0, keep=30)
    stats.remember(model, 100.0, rate)
    return stats


def make(
    *, stats: CompletionStats | None = None, queued_at: float | None = 0.0, **kw: Any
) -> Poller:
    options: dict[str, Any] = {
        "queue_id": "q-1",
        "model": "m",
        "status": "QUEUED",
        "kind": "k",
        "stats": stats if stats is not None else CompletionStats(),
        "queued_at": queued_at,
        "now": 0.0 if queued_at is None else queued_at,
        "rand": lambda: 0.5,
    }
    options.update(kw)
    policy = options.pop("policy", POLICY)
    return Poller(policy, RETRY, **options)


# An event: ("answer", payload, at) | ("error", exception, at, retry_after) | ("begin", at)
Event = tuple[Any, ...]


@dataclass
class Case:
    name: str
    events: list[Event]
    expect: list[dict[str, Any]]  # per event: "type", and attributes to check
    poller: dict[str, Any] = field(default_factory=dict)


def feed(poller: Poller, event: Event) -> Any:
    kind = event[0]
    if kind == "begin":
        return poller.begin(event[1])
    if kind == "answer":
        return poller.answer(event[1], sent=event[2], received=event[2])
    return poller.error(event[1], now=event[2], retry_after=event[3])


CASES = [
    Case(
        "nothing known: the first poll goes at once",
        [("begin", 0.0)],
        [{"type": Sleep, "until": 0.0}],
    ),
    Case(
        "first answer: journal PROCESSING, close in on the estimate's window by halves",
        # Estimate 100 s: window [60, 130] by the prior, polled every 2 s from 60.
        [("begin", 0.0), ("answer", processing(100, 10), 10.0)],
        [
            {"type": Sleep},
            {
                "type": Sleep,
                "until": 10.0 + 0.5 * 50.0,
                "persist": True,
                "changes": {
                    "status": "PROCESSING",
                    "average_execution_ms": 100_000.0,
                    "execution_ms": 10_000.0,
                },
            },
        ],
    ),
    Case(
        "later answers change the job in memory only",
        [("answer", processing(100, 10), 10.0), ("answer", processing(100, 40), 40.0)],
        [
            {"persist": True},
            {
                "type": Sleep,
                "persist": False,
                "changes_keys": {"average_execution_ms", "execution_ms"},
            },
        ],
    ),
    Case(
        "near the window it sleeps straight to its opening",
        [("answer", processing(100, 50), 50.0)],
        [{"type": Sleep, "until": 60.0}],
    ),
    Case(
        "inside the window: one step of at most target_lag",
        [("answer", processing(100, 80), 80.0)],
        [{"type": Sleep, "until": 82.0}],
    ),
    Case(
        "past the window: pauses grow with the time overdue",
        [("answer", processing(100, 150), 150.0)],
        [{"type": Sleep, "until": 150.0 + 2.0 + 0.1 * 20.0}],
    ),
    Case(
        "overdue pauses stop growing at max_interval",
        [("answer", processing(100, 5000), 5000.0)],
        [{"type": Sleep, "until": 5030.0}],
    ),
    Case(
        "the video itself: ready, journaled",
        [("answer", processing(100, 80), 80.0), ("answer", None, 82.0)],
        [{"type": Sleep}, {"type": Ready, "persist": True, "changes": {"status": "READY"}}],
    ),
    Case(
        "a COMPLETED answer brings its timings to the journal",
        [("answer", {"status": "COMPLETED", "execution_duration": 81_000}, 82.0)],
        [{"type": Ready, "changes": {"status": "READY", "execution_ms": 81_000.0}}],
    ),
    Case(
        "a job already READY is not journaled again",
        [("answer", None, 5.0)],
        [{"type": Ready, "persist": False, "changes": {}}],
        {"status": "READY"},
    ),
    Case(
        "a FAILED body fails the job",
        [("answer", {"status": "FAILED"}, 5.0)],
        [
            {
                "type": Failed,
                "persist": True,
                "changes": {"status": "FAILED", "error": "the API reported FAILED"},
            }
        ],
    ),
    Case(
        "a bad key or no credit is not the job's failure",
        [("error", status_error(401), 5.0, None), ("error", status_error(402), 6.0, None)],
        [{"type": Reraise}, {"type": Reraise}],
    ),
    Case(
        "404: the job is gone",
        [("error", status_error(404), 5.0, None)],
        [{"type": Failed, "persist": True}],
    ),
    Case(
        "a 500 with a refund ends the job",
        [("error", status_error(500, {"error": "x", "credits_refunded": True}), 5.0, None)],
        [{"type": Failed}],
    ),
    Case(
        "a passing 500, a 503 with Retry-After, a dropped connection: back off and go on",
        [
            ("error", status_error(500), 5.0, None),
            ("error", status_error(503), 6.0, 4.0),
            ("error", APIConnectionError("reset"), 20.0, None),
        ],
        [
            {"type": Sleep, "until": 5.5},
            {"type": Sleep, "until_between": (10.0, 10.4)},
            {"type": Sleep, "until": 22.0},
        ],
    ),
    Case(
        "an answer resets the backoff",
        [
            ("error", APIConnectionError("reset"), 5.0, None),
            ("error", APIConnectionError("reset"), 6.0, None),
            ("answer", processing(100, 80), 80.0),
            ("error", APIConnectionError("reset"), 81.0, None),
        ],
        [{"until": 5.5}, {"until": 7.0}, {"type": Sleep}, {"until": 81.5}],
    ),
    Case(
        "a resumed job on an unknown server: probe the clock rate first",
        [("answer", processing(100, 10), 1000.0)],
        [{"type": Sleep, "until": 1000.5}],
        {"queued_at": None},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_poller_decisions(case: Case) -> None:
    poller = make(**case.poller)
    for event, expect in zip(case.events, case.expect, strict=True):
        decision = feed(poller, event)
        for key, value in expect.items():
            if key == "type":
                assert isinstance(decision, value), (event, decision)
            elif key == "until_between":
                assert value[0] <= decision.until <= value[1], decision
            elif key == "changes_keys":
                assert set(decision.changes) == value, decision
            elif isinstance(value, float):
                assert getattr(decision, key) == pytest.approx(value), (key, decision)
            else:
                assert getattr(decision, key) == value, (key, decision)


def test_ten_server_errors_in_a_row_fail_the_job() -> None:
    poller = make()
    decisions = [poller.error(status_error(500), now=float(i), retry_after=None) for i in range(10)]
    assert all(isinstance(d, Sleep) for d in decisions[:9])
    assert isinstance(decisions[9], Failed)


def test_progress_reports_the_eta_to_the_forecast_middle() -> None:
    decision = make().answer(processing(100, 10), sent=10.0, received=10.0)
    assert isinstance(decision, Sleep) and decision.progress is not None
    assert decision.progress.phase == "processing"
    assert decision.progress.eta_s == pytest.approx(95.0 - 10.0)  # the window's middle
    assert decision.progress.execution_ms == 10_000.0


def test_a_learned_kind_sleeps_straight_to_the_window_without_asking_first() -> None:
    stats = learned(90.0, 92.0, 94.0, 96.0, 98.0)
    forecast = stats.forecast("k", 100.0, POLICY)
    assert forecast is not None and forecast.learned
    decision = make(stats=stats).begin(0.0)
    assert decision.until == pytest.approx(forecast.low)
    assert decision.priority == 0.0  # a look at the opening: no job expected there yet


def test_the_window_is_divided_into_even_steps_of_at_most_target_lag() -> None:
    poller = make()
    assert poller.step(Forecast(10.0, 15.0)) == pytest.approx(5.0 / 3)
    assert poller.step(Forecast(10.0, 11.0)) == pytest.approx(1.0)
    wide = make(policy=PollPolicy(jitter=0.0, target_lag=5.0))
    assert wide.step(Forecast(0.0, 100.0)) == pytest.approx(5.0)


def test_a_finish_is_learned_at_the_middle_of_its_bracket() -> None:
    stats = CompletionStats()
    poller = make(stats=stats)
    poller.answer(processing(100, 80), sent=80.0, received=80.0)
    assert isinstance(poller.answer(None, sent=82.0, received=82.0), Ready)
    for _ in range(2):  # two more jobs finishing at the same point
        other = make(stats=stats)
        other.answer(processing(100, 80), sent=80.0, received=80.0)
        other.answer(None, sent=82.0, received=82.0)
    forecast = stats.forecast("k", 100.0, POLICY)
    assert forecast is not None and forecast.points == (81.0, 81.0, 81.0)


def test_a_finish_after_a_long_gap_is_learned_where_the_window_puts_it() -> None:
    # Seen processing at 20 s, found ready at 82 s: the window from the estimate opens at
    # 60 s, so the job finished between 60 and 82 (the middle, 71), not at 51.
    stats = CompletionStats()
    poller = make(stats=stats)
    poller.answer(processing(100, 20), sent=20.0, received=20.0)
    assert isinstance(poller.answer(None, sent=82.0, received=82.0), Ready)
    # Past the window, the window says nothing: the middle of the gap.
    late = make(stats=stats)
    late.answer(processing(100, 140), sent=140.0, received=140.0)
    assert isinstance(late.answer(None, sent=150.0, received=150.0), Ready)
    stats.record("k", 100.0, 100.0, keep=30)
    forecast = stats.forecast("k", 100.0, POLICY)
    assert forecast is not None and forecast.points == (71.0, 100.0, 145.0)


def test_the_median_between_two_looks_follows_the_learned_finishes() -> None:
    forecast = Forecast.from_samples([30.0, 31.0, 32.0, 33.0])
    # Half of the learned finishes lie below 31.5: a job seen at 10 s and found at 40 s
    # most likely finished there, not at 25 s.
    assert forecast.median_between(10.0, 40.0) == pytest.approx(31.5)
    assert forecast.median_between(31.0, 32.0) == pytest.approx(31.5)
    assert forecast.median_between(0.0, 5.0) is None  # before the window: no chance


def test_a_job_ready_at_the_first_look_moves_the_window_earlier() -> None:
    stats = learned(90.0, 92.0, 94.0, 96.0, 98.0)
    before = stats.forecast("k", 100.0, POLICY)
    assert before is not None
    poller = make(stats=stats)
    first = poller.begin(0.0)
    assert isinstance(poller.answer(None, sent=first.until, received=first.until), Ready)
    after = stats.forecast("k", 100.0, POLICY)
    assert after is not None and after.low < before.low
    assert min(after.points) < before.low  # taken as finished below where the window opened


def test_the_rate_is_measured_from_the_queue_time_at_any_server_speed() -> None:
    poller = make(queued_at=0.0)
    poller.answer(processing(6000, 1000), sent=10.0, received=10.0)  # 100x real time
    assert poller.rate == pytest.approx(100.0)
    decision = poller.answer(processing(6000, 5990), sent=59.9, received=59.9)
    assert isinstance(decision, Sleep)
    # Inside the prior window [3600, 7800] already, so one step of 2 server seconds (the
    # window divided evenly: 4200 / 2100): 0.02 real seconds.
    assert decision.until == pytest.approx(59.9 + 2.0 / 100.0)


def test_a_window_that_moved_later_does_not_cost_an_extra_look() -> None:
    stats = learned(90.0, 92.0, 94.0, 96.0, 98.0)
    poller = make(stats=stats)
    forecast = stats.forecast("k", 100.0, POLICY)
    assert forecast is not None
    # Polled just before the opening (the window has since moved): the next poll is one
    # step on, not another look at the opening.
    age = forecast.low - 0.5
    decision = poller.answer(processing(100, age), sent=age, received=age)
    assert isinstance(decision, Sleep)
    assert decision.until == pytest.approx(age + poller.step(forecast))


def test_one_job_of_a_batch_looks_before_a_window_guessed_from_the_estimate() -> None:
    # Three jobs of an unlearned kind queued together; estimate 100 s: window [60, 130].
    stats = CompletionStats()
    stats.remember("m", 100.0, 1.0)
    first, second, third = (make(stats=stats) for _ in range(3))
    planned = [p.begin(0.0) for p in (first, second, third)]
    assert [d.until for d in planned] == [30.0, 30.0, 30.0]  # each closes in on the window
    # With no news, a job looks as planned.
    assert first.reconsider(30.0) is None
    first.answer(processing(100, 30), sent=30.0, received=30.0)
    # The first was seen still running at 30 s: the others skip that look and plan the
    # approach's next stage (half-way from 30 s to the window), as the first did.
    later = second.reconsider(30.2)
    assert isinstance(later, Sleep) and later.until == pytest.approx(45.1)
    assert third.reconsider(31.0) is not None
    # There, the first to wake looks; the other, told it was running, sleeps to the window.
    assert first.reconsider(45.0) is None
    first.answer(processing(100, 45), sent=45.0, received=45.0)
    last = second.reconsider(45.1)
    assert isinstance(last, Sleep) and last.until == pytest.approx(60.0)
    # A job queued after that plans no look before the window, but one at its opening.
    fourth = make(stats=stats, queued_at=5.0)
    assert fourth.begin(5.0).until == pytest.approx(65.0)
    # There too the first to wake looks; the others, told it was running, look one step into
    # the window instead (a look at the opening has no chance by the forecast).
    assert second.reconsider(60.0) is None
    second.answer(processing(100, 60), sent=60.0, received=60.0)
    inside = fourth.reconsider(65.0)
    forecast = fourth.forecast()
    assert forecast is not None and isinstance(inside, Sleep)
    assert inside.until == pytest.approx(65.0 + fourth.step(forecast))
    assert inside.priority > 0.0


def test_a_job_older_than_those_seen_running_still_looks_on_the_way() -> None:
    stats = CompletionStats()
    stats.remember("m", 100.0, 1.0)
    stats.seen_running("k", 10.0)  # a job queued later, seen at 10 s
    poller = make(stats=stats)
    assert poller.begin(0.0).until == pytest.approx(30.0)
    assert poller.reconsider(30.0) is None  # 10 s says nothing about a look at 30 s
    # Once a job of the kind is learned, nothing is reconsidered.
    taught = learned(90.0, 92.0, 94.0)
    taught.seen_running("k", 99.0)
    learner = make(stats=taught)
    start = learner.begin(0.0)
    assert learner.reconsider(start.until) is None


def test_a_look_kept_waiting_for_a_slot_gains_the_chance_its_job_had_meanwhile() -> None:
    # Estimate 100 s: a window of [60, 130] s, uniform. Seen running at 70 s, the next look
    # is planned at 72 s with the chance of a finish between the two.
    poller = make()
    assert poller.chance(5.0, planned=0.4) == 0.4  # nothing planned yet: as it was told
    decision = poller.answer(processing(100, 70), sent=70.0, received=70.0)
    assert isinstance(decision, Sleep) and decision.until == pytest.approx(72.0)
    assert decision.priority == pytest.approx(2.0 / 60.0)
    assert poller.chance(72.0, decision.priority) == pytest.approx(2.0 / 60.0)
    # Kept waiting to 82 s by the key's budget: a finish anywhere from 70 to 82 s.
    assert poller.chance(82.0, decision.priority) == pytest.approx(12.0 / 60.0)
    # Never less than the plan said (a retry after an error goes first, as planned).
    assert poller.chance(72.0, 1.0) == 1.0


def test_a_look_kept_waiting_takes_the_window_other_jobs_placed_meanwhile() -> None:
    # Planned under the estimate's wide window; then three jobs of its kind finish at 71 to
    # 73 s: a job not seen since 70 s is all but sure to be ready by 80 s.
    stats = CompletionStats()
    poller = make(stats=stats)
    decision = poller.answer(processing(100, 70), sent=70.0, received=70.0)
    assert isinstance(decision, Sleep) and decision.priority == pytest.approx(2.0 / 60.0)
    assert poller.chance(80.0, decision.priority) == pytest.approx(10.0 / 60.0)
    for finished in (71.0, 72.0, 73.0):
        stats.record("k", finished, 100.0, keep=30)
    assert poller.chance(80.0, decision.priority) == 1.0


def test_a_job_whose_wait_ended_no_longer_stretches_the_window_of_its_kind() -> None:
    stats = CompletionStats()
    for finished in (60.0, 61.0, 62.0):
        stats.record("k", finished, 100.0, keep=30)
    slow = make(stats=stats)
    slow.answer(processing(100, 90), sent=90.0, received=90.0)
    other = make(stats=stats, queue_id="q-2")
    assert other.forecast().high > 90.0  # type: ignore[union-attr]
    slow.leave()  # timed out, cancelled, or failed: nobody follows it now
    assert other.forecast().high < 70.0  # type: ignore[union-attr]
