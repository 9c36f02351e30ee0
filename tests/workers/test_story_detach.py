"""`story render --detach`: a story's shots rendered by worker processes against the local
server over real HTTP, chained shots held until the shot they continue from is done, and the
film assembled afterwards from the workers' files without paying anything again."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import Result
from fleet_harness import CLI
from worker_helpers import config, worker_thread

from local_checks import frames, local_stats, mean_diff
from venice_video import VeniceVideo
from venice_video.cli._errors import EXIT_CODES
from venice_video.journal import JournalEntry, PostgresJournal
from venice_video.journal._codec import digest_data_urls
from venice_video.story import Film, ShotProgress
from venice_video.workers import Fleet, WorkItem, WorkQueue
from venice_video.workers._stories import _budget_limit, frame_url, release_successors
from venice_video.workers._worker import Runtime

Run = Callable[..., Result]
T2V = "grok-imagine-text-to-video-private"
I2V = "grok-imagine-image-to-video-private"

STORY = f"""\
title: Harbour at night
output: harbour.mp4
budget: {{budget}}

defaults:
  model: {T2V}
  duration: 1s
  resolution: 480p

shots:
  - name: quay
    prompt: A quay at night, lamps shaking on the black water
  - name: boat
    prompt: A small red boat leaves the harbour
  - name: sea
    model: {I2V}
    continue_from: previous
    prompt: The boat heads out to the open sea
  - name: dawn
    prompt: Dawn over the empty harbour
"""

CHAIN = f"""\
title: Two shots
output: two.mp4
budget: 5.00

defaults:
  model: {T2V}
  duration: 1s
  resolution: 480p

shots:
  - name: first
    prompt: A lantern swinging in the wind
  - name: second
    model: {I2V}
    continue_from: previous
    prompt: The lantern goes out
"""


def _story(tmp_path: Path, text: str = STORY, budget: str = "5.00") -> Path:
    folder = tmp_path / "story"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ("harbour.yaml" if text is STORY else "two.yaml")
    path.write_text(text.replace("{budget}", budget), "utf-8")
    return path


def _wait(journal: PostgresJournal, keys: list[str], timeout: float = 90) -> list[JournalEntry]:
    deadline = time.monotonic() + timeout
    while True:
        entries = [journal.get(k) for k in keys]
        if all(e is not None and (e.is_finished or e.needs_attention) for e in entries):
            return [e for e in entries if e is not None]
        assert time.monotonic() < deadline, [e.status if e else None for e in entries]
        time.sleep(0.1)


@contextmanager
def _workers(
    env: dict[str, str], shared: Path, names: list[str], root: Path
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Worker processes (`venice-video worker`), stopped with SIGTERM at the end."""
    procs = []
    logs = []
    full = {**os.environ, **env}
    for name in names:
        log = (root / f"{name}.log").open("wb")
        logs.append(log)
        args = [CLI, "-q", "worker", "--concurrency", "1", "--output-dir", str(shared),
                "--lease", "2", "--name", name]  # fmt: skip
        procs.append(subprocess.Popen(args, env=full, stdout=log, stderr=subprocess.STDOUT))
    try:
        yield procs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in logs:
            log.close()


@pytest.mark.slow
def test_a_detached_story_is_rendered_by_workers_and_assembled_without_paying_again(
    run: Run, env: dict[str, str], tmp_path: Path, pg_url: str, server: Any, api_key: str
) -> None:
    story = _story(tmp_path)
    shared = tmp_path / "shared"
    with PostgresJournal(pg_url) as journal:
        fleet = Fleet(journal)
        with _workers(env, shared, ["w1", "w2"], tmp_path):
            deadline = time.monotonic() + 60
            while len(fleet.workers()) < 2:
                assert time.monotonic() < deadline, "the workers did not start"
                time.sleep(0.1)
            result = run("--json", "story", "render", str(story), "--detach", "--yes")
            assert result.exit_code == 0, result.output
            sub = json.loads(result.stdout)
            shots = sub["shots"]
            assert [s["state"] for s in shots] == ["new", "new", "held", "new"]
            assert shots[2]["after"] == 2
            assert all(s["output"].startswith(f"stories/{sub['story']}/") for s in shots)
            prices = sum(s["cost"] for s in shots)
            assert sub["reserved_usd"] == pytest.approx(prices)
            budget = sub["budget"]
            assert budget["name"] == f"story:{sub['story']}" and budget["limit_usd"] == 5.0
            assert budget["reserved_usd"] == pytest.approx(prices)
            keys = [s["key"] for s in shots]
            entries = _wait(journal, keys)
            # Submitting again adds nothing.
            again = json.loads(
                run("--json", "story", "render", str(story), "--detach", "--yes").stdout
            )
            assert again["submitted"] == 0
            assert {s["state"] for s in again["shots"]} == {"done"}

        assert [e.status for e in entries] == ["COMPLETED"] * 4
        workers = {e.key: e.worker for e in entries}
        assert set(workers.values()) <= {"w1", "w2"} and None not in workers.values()
        [status] = fleet.budgets([budget["name"]])
        assert status.reserved_usd == 0 and status.settled_usd == pytest.approx(prices)

    # Every shot paid exactly once, under the key a local render gives it.
    stats = local_stats(server, api_key)
    assert stats["jobs_created"] == 4
    assert all(stats["idempotency_keys"][k]["requests"] == 1 for k in keys)
    requests = stats["queue_requests"]

    # The chained shot started from its predecessor's last frame (the server's caption is the
    # only difference), and carried it in its request.
    files = [Path(e.output_path or "") for e in entries]
    assert all(f.is_relative_to(shared.absolute()) for f in files)
    last, first = frames(files[1])[-1], frames(files[2])[0]
    assert mean_diff(last, first) < 6.0
    assert mean_diff(frames(files[0])[-1], first) > 15.0
    assert entries[2].request["image_url"] == digest_data_urls(frame_url(files[1]))

    # The shared folder is mounted elsewhere here: the render names the shot and the worker
    # that has its file, and pays nothing.
    moved = tmp_path / "mounted-here"
    shared.rename(moved)
    status_out = json.loads(run("--json", "story", "status", str(story)).stdout)
    assert {s["state"] for s in status_out["shots"]} == {"file lost"}
    # Handing the story out again needs no file here: the workers have them.
    again = json.loads(run("--json", "story", "render", str(story), "--detach", "--yes").stdout)
    assert again["submitted"] == 0 and {s["state"] for s in again["shots"]} == {"done"}
    refused = run("story", "render", str(story), "--yes")
    assert refused.exit_code == EXIT_CODES["validation"], refused.output
    assert f"shot 1 (quay): its file was made by worker {workers[keys[0]]}" in refused.stderr
    assert local_stats(server, api_key)["queue_requests"] == requests

    # With the folder given, the film is assembled from the workers' files: nothing is queued.
    result = run("--json", "story", "render", str(story), "--yes", "--shared-dir", str(moved))
    assert result.exit_code == 0, result.output
    film = json.loads(result.stdout)
    assert film["spent_usd"] == 0 and film["cost_usd"] == pytest.approx(prices)
    assert all(s["reused"] for s in film["shots"])
    assert local_stats(server, api_key)["queue_requests"] == requests
    manifest = json.loads(Path(film["manifest"]).read_text("utf-8"))
    assert manifest["status"] == "done"
    assert [s["worker"] for s in manifest["shots"]] == [workers[k] for k in keys]
    assert [s["key"] for s in manifest["shots"]] == keys
    shots_dir = story.parent / "harbour.shots"
    for shot, entry in zip(manifest["shots"], entries, strict=True):
        assert (story.parent / shot["file"]).parent == shots_dir
        assert shot["sha256"] == entry.sha256
    assert Path(film["path"]).is_file()

    # Again, with the shared folder gone: the film's own copies are enough.
    moved.rename(tmp_path / "gone")
    status_out = json.loads(run("--json", "story", "status", str(story)).stdout)
    assert status_out["film_state"] == "current"
    assert [s["worker"] for s in status_out["shots"]] == [workers[k] for k in keys]
    assert local_stats(server, api_key)["queue_requests"] == requests


@pytest.mark.slow
def test_a_held_shot_is_released_by_the_reaper_when_its_releaser_died(
    pg_url: str, server: Any, api_key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    story = _story(tmp_path, CHAIN)
    shared = tmp_path / "shared"
    with (
        VeniceVideo(api_key=api_key, base_url=server.base_url, journal=pg_url) as client,
        WorkQueue(pg_url, client) as queue,
    ):
        sub = queue.submit_story(story)
        first, second = sub.keys
        assert [s.state for s in sub.shots] == ["new", "held"]
        fleet = queue.fleet
        assert fleet.is_held(second) and fleet.holds(sub.keys) == {second: first}
        assert "image_url" not in (fleet.payload(second) or {})
        # Nobody hands a held shot out while the shot it continues from is not done ...
        assert second not in fleet.orphans(server.base_url, idle_s=0)
        assert fleet.releasable(server.base_url, idle_s=0) == []
        # ... and a hand-out that reaches a worker anyway queues nothing.
        assert fleet.defer(second, base_url=server.base_url)

        # A worker that dies between finishing the first shot and releasing the second.
        async def nothing(*args: Any, **kwargs: Any) -> None:
            return None

        with monkeypatch.context() as patch:
            patch.setattr(Runtime, "follow_up", nothing)
            patch.setattr(Runtime, "release_lost", nothing)
            with worker_thread(config(pg_url, server, api_key, shared, name="w-dies")):
                [done] = _wait(queue.journal, [first])
        assert done.status == "COMPLETED"
        held = queue.journal.get(second)
        assert held is not None and held.status == "QUOTED" and fleet.is_held(second)
        assert second not in local_stats(server, api_key)["idempotency_keys"]

        # A render started now follows the held shot through the journal, sending nothing;
        # the next worker's reaper finds it and releases it with the first shot's last frame.
        seen: list[ShotProgress] = []
        films: list[Film] = []
        render = threading.Thread(
            target=lambda: films.append(client.render_story(story, on_shot=seen.append)),
            daemon=True,
        )
        render.start()
        with worker_thread(config(pg_url, server, api_key, shared, name="w-reaps")):
            [entry] = _wait(queue.journal, [second])
            render.join(timeout=60)
        assert not render.is_alive() and len(films) == 1
        assert entry.status == "COMPLETED" and entry.worker == "w-reaps"
        assert not fleet.is_held(second)
        assert entry.request["image_url"] == digest_data_urls(frame_url(Path(done.output_path)))
        assert local_stats(server, api_key)["idempotency_keys"][second]["requests"] == 1
        [status] = fleet.budgets([f"story:{sub.story_id}"])
        assert status.settled_usd == pytest.approx(sub.reserved_usd) and status.reserved_usd == 0

    # The film, from the SDK: nothing was paid from here, the workers are named.
    [film] = films
    assert film.spent == 0 and [s.worker for s in film.shots] == ["w-dies", "w-reaps"]
    assert [p.phase for p in seen if p.number == 1] == ["reused"]
    assert "pending" in [p.phase for p in seen if p.number == 2]
    assert all(s.path.parent == story.parent / "two.shots" for s in film.shots)
    assert local_stats(server, api_key)["jobs_created"] == 2


def test_the_shots_held_for_a_failed_shot_are_cancelled_and_their_money_released(
    pg_url: str,
) -> None:
    body = {"model": I2V, "prompt": "x", "duration": "1s", "resolution": "480p"}
    url = "http://127.0.0.1:9/api/v1"
    with PostgresJournal(pg_url) as journal:
        fleet = Fleet(journal)
        fleet.set_budget("story:x", 1.0)
        items = [
            WorkItem(key="a", body=body, quote_usd=0.1, output="a.mp4"),
            WorkItem(key="b", body=body, quote_usd=0.1, output="b.mp4", after="a"),
            WorkItem(key="c", body=body, quote_usd=0.1, output="c.mp4", after="b"),
        ]
        done = fleet.submit_many(items, base_url=url, budgets=["story:x"])
        assert [d.state for d in done] == ["new", "held", "held"]
        failed = journal.update("a", status="FAILED", error="refused by moderation")
        assert release_successors(fleet, failed, output_dir=None, base_url=url) == 2
        for key in ("b", "c"):
            entry = journal.get(key)
            assert entry is not None and entry.status == "CANCELLED"
            assert "refused by moderation" in (entry.error or "")
            assert fleet.ledger(key) == [("story:x", "released", 0.1)]
            assert not fleet.is_held(key)
        # A job waiting for one that is not submitted is refused, and nothing is recorded.
        with pytest.raises(Exception, match="not submitted"):
            fleet.submit_many(
                [WorkItem(key="d", body=body, quote_usd=0.1, output="d.mp4"),
                 WorkItem(key="e", body=body, quote_usd=0.1, output="e.mp4", after="nope")],
                base_url=url,
            )  # fmt: skip
        assert journal.get("d") is None


def test_detach_needs_the_shared_journal_and_pays_nothing_without_it(
    run: Run, tmp_path: Path, server: Any, api_key: str
) -> None:
    story = _story(tmp_path)
    result = run("story", "render", str(story), "--detach", "--yes",
                 VENICE_VIDEO_JOURNAL=str(tmp_path / "j.sqlite3"))  # fmt: skip
    assert result.exit_code == EXIT_CODES["usage"]
    assert "shared PostgreSQL journal" in result.stderr and "nothing was submitted" in (
        result.stderr
    )
    stats = local_stats(server, api_key)
    assert stats["jobs_created"] == 0 and stats["queue_requests"] == 0


def test_a_detached_story_over_its_budget_submits_nothing(
    run: Run, tmp_path: Path, pg_url: str, server: Any, api_key: str
) -> None:
    story = _story(tmp_path, budget="0.05")
    result = run("story", "render", str(story), "--detach", "--yes")
    assert result.exit_code == EXIT_CODES["money"], result.output
    assert "budget" in result.stderr
    with PostgresJournal(pg_url) as journal:
        assert journal.list() == []
        assert Fleet(journal).budgets() == []
    # Within the story's budget but not a shared one's: the shots go together or not at all.
    _story(tmp_path, budget="5.00")
    assert run("workers", "budget", "team", "0.10").exit_code == 0
    result = run("story", "render", str(story), "--detach", "--yes", "--budget", "team")
    assert result.exit_code == EXIT_CODES["money"], result.output
    assert "budget 'team'" in result.stderr
    with PostgresJournal(pg_url) as journal:
        assert journal.list() == []
        [team] = Fleet(journal).budgets(["team"])
        assert team.reserved_usd == 0
    assert local_stats(server, api_key)["queue_requests"] == 0


def test_a_failed_take_the_workers_paid_for_counts_once_against_the_story_budget() -> None:
    """The budget's ledger holds what the workers spent, failed takes included; the story's
    own count of earlier failed takes leaves those out, and keeps the ones made here."""
    ledger = {"shot-a.1": ("spent", 0.5), "shot-b": ("reserved", 0.25)}
    fleet = SimpleNamespace(budget_ledger=lambda name: ledger)
    failed_twice = SimpleNamespace(  # take 0 failed on this machine, take 1 on a worker
        key="shot-a.2", price=0.5, committed=False, sunk_takes={"shot-a": 0.5, "shot-a.1": 0.5}
    )
    handed_out = SimpleNamespace(key="shot-b", price=0.25, committed=True, sunk_takes={})
    done_here = SimpleNamespace(key="shot-c", price=1.0, committed=True, sunk_takes={})
    run = SimpleNamespace(shots=[failed_twice, handed_out, done_here])
    # 5.00 less the shot done here (1.00) and the take that failed here (0.50).
    assert _budget_limit(fleet, run, "story:x", 5.0) == pytest.approx(3.5)  # type: ignore[arg-type]
