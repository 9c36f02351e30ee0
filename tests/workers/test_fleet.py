"""Workers, three submitters, one key, one budget: 120 jobs (or 400), with and without chaos.

Each run checks the same five figures: no job queued twice, none lost, no rate-limit violation
counted by the server, the budget never exceeded, and the money spent equal to the sum of the
jobs' prices (the server's account, the journal and the ledger all agree). The submitters
offer more rows than the budget takes, so it is filled to the cent while they race for it.
`benchmarks/bench_workers.py` runs the larger fleets; `VENICE_VIDEO_FLEET=full` runs these
two tests at full size (400 jobs, four workers; about four times as long).
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import pytest
from fleet_harness import MODEL, Team, figures

from venice_video import VeniceVideo
from venice_video.journal import PostgresJournal
from venice_video.workers import Fleet

FULL = os.environ.get("VENICE_VIDEO_FLEET") == "full"
JOBS = 400 if FULL else 120
SUBMITTERS = 3
ROWS_EACH = 145 if FULL else 45  # 435 or 135 offered: the budget takes exactly JOBS
WORKERS = 4 if FULL else 3
CHAOS_S = 20.0


def _run(
    postgres: Any, pg_url: str, root: Path, *, chaos: bool
) -> tuple[dict[str, Any], list[dict[str, Any]], Team]:
    team = Team(pg_url, root, workers=WORKERS)
    try:
        team.start_server()
        with VeniceVideo(api_key=team.api_key, base_url=team.base_url, journal=False) as client:
            price = client.quote(MODEL, duration="1s", resolution="480p").quote
        with PostgresJournal(pg_url) as journal:
            fleet = Fleet(journal)
            fleet.set_budget("team", round(price * JOBS, 6))
            batches = [team.write_batch(f"s{i}", ROWS_EACH) for i in range(SUBMITTERS)]
            for slot in range(team.workers):
                team.start_worker(slot)
            summaries = team.submit(batches, budget="team")
            keys = [r["key"] for s in summaries for r in s["rows"] if r.get("state") == "new"]
            rng = random.Random(7)
            events = {"next_kill": 2.0, "pg_restarted": False}

            def tick(elapsed: float) -> None:
                # For the first CHAOS_S seconds, a worker dies (kill -9) every few seconds and
                # a new one takes its place; PostgreSQL restarts once, in the middle of it.
                if not chaos or elapsed > CHAOS_S:
                    return
                if elapsed >= events["next_kill"]:
                    team.kill_worker(rng.randrange(team.workers))
                    events["next_kill"] = elapsed + rng.uniform(2.5, 3.5)
                if not events["pg_restarted"] and elapsed >= 6.0:
                    postgres.restart()
                    events["pg_restarted"] = True

            makespan = team.wait_for(journal, keys, timeout=300, tick=tick)
            result = figures(team, journal, fleet, keys, "team")
            result["makespan_s"] = round(makespan, 1)
            result["kills"] = team.kills
            result["pg_restarted"] = events["pg_restarted"]
            return result, summaries, team
    finally:
        team.stop()


def _assert_the_five_figures(result: dict[str, Any], summaries: list[dict[str, Any]]) -> None:
    refused = sum(s["refused"] for s in summaries)
    assert result["jobs"] == JOBS and refused == SUBMITTERS * ROWS_EACH - JOBS, summaries
    assert result["queued_twice"] == 0 and result["jobs_created"] == JOBS, result
    assert result["lost"] == 0 and result["unknown"] == 0, result
    assert result["rate_limit_violations"] == 0, result
    assert not result["budget_exceeded"] and result["budget_used"] <= result["budget_limit"]
    assert result["spent_server"] == pytest.approx(result["sum_of_prices"], abs=1e-6), result
    assert result["spent_journal"] == pytest.approx(result["sum_of_prices"], abs=1e-6), result
    assert result["budget_used"] == pytest.approx(result["sum_of_prices"], abs=1e-6), result


@pytest.mark.slow
def test_workers_finish_every_job_from_three_submitters(
    postgres: Any, pg_url: str, tmp_path: Path
) -> None:
    result, summaries, _ = _run(postgres, pg_url, tmp_path, chaos=False)
    print("fleet:", result)
    _assert_the_five_figures(result, summaries)
    assert len(result["workers"]) == WORKERS  # every worker took a share


@pytest.mark.slow
def test_the_same_with_kill_9_every_few_seconds_and_a_database_restart(
    postgres: Any, pg_url: str, tmp_path: Path
) -> None:
    result, summaries, _ = _run(postgres, pg_url, tmp_path, chaos=True)
    print("fleet under chaos:", result)
    assert result["kills"] >= 4 and result["pg_restarted"]
    assert result["queue_requests"] >= JOBS  # any extra ones were checks of an unknown outcome
    _assert_the_five_figures(result, summaries)
