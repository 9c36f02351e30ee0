"""Pure parts of the gallery: states, progress, filters, spend, scrubbing, hosts and changes."""

from __future__ import annotations

import anyio
import pytest

from venice_video._models import Progress
from venice_video.journal import JournalEntry
from venice_video.ui._guard import host_name
from venice_video.ui._runner import Changes
from venice_video.ui._story_index import attention
from venice_video.ui._views import (
    Filter,
    api_label,
    filter_entries,
    progress_fraction,
    public_request,
    scrub,
    spend_of,
    state_of,
)


def _entry(key: str, **fields: object) -> JournalEntry:
    base: dict[str, object] = {
        "key": key,
        "model": "m",
        "status": "COMPLETED",
        "base_url": "http://127.0.0.1:1/api/v1",
        "request": {"prompt": key},
    }
    base.update(fields)
    return JournalEntry(**base)  # type: ignore[arg-type]


def test_states_group_journal_statuses_as_the_page_names_them() -> None:
    assert state_of("QUEUED") == "running"
    assert state_of("READY") == "downloading"
    assert state_of("DOWNLOADED") == "done"
    assert state_of("SOMETHING-NEW") == "unknown"


def test_progress_follows_the_servers_estimate_and_never_claims_done_early() -> None:
    running = _entry("a", status="PROCESSING", average_execution_ms=1000.0, execution_ms=500.0)
    assert progress_fraction(running, None) == 0.5
    late = Progress(
        phase="processing",
        status="PROCESSING",
        elapsed_s=9.0,
        average_execution_ms=1000.0,
        execution_ms=5000.0,
    )
    assert progress_fraction(running, late) < 0.95
    saving = Progress(
        phase="downloading", status="READY", elapsed_s=1, bytes_done=50, bytes_total=100
    )
    assert progress_fraction(running, saving) == pytest.approx(0.975)
    assert progress_fraction(_entry("b", status="QUEUING"), None) == 0.0
    assert progress_fraction(_entry("c"), None) == 1.0


def test_scrub_hides_signed_urls_bearer_tokens_and_known_secrets() -> None:
    text = "GET https://cdn.example/v.mp4?X-Amz-Signature=abc failed; Bearer sk-123; s3cret"
    clean = scrub(text, ["s3cret"])
    assert clean is not None
    assert "abc" not in clean and "sk-123" not in clean and "s3cret" not in clean
    assert "https://cdn.example/v.mp4?[redacted]" in clean
    assert scrub(None) is None


def test_public_request_shortens_inline_data_but_keeps_digests() -> None:
    small = "data:image/png;base64," + "A" * 200
    digest = "data:image/png;sha256=" + "0" * 64 + ";bytes=9"
    shown = public_request({"image_url": small, "end_image_url": digest, "prompt": "p"})
    assert shown["image_url"].startswith("data:image/png;base64,...")
    assert shown["end_image_url"] == digest and shown["prompt"] == "p"


def test_filter_matches_every_word_and_sorts_unpriced_jobs_last() -> None:
    entries = [
        _entry("red boat", quote_usd=1.0, created_at=1.0),
        _entry("blue boat", quote_usd=None, created_at=2.0),
        _entry("red car", quote_usd=3.0, created_at=3.0),
    ]
    found = filter_entries(entries, Filter(text="RED boat"))
    assert [e.key for e in found] == ["red boat"]
    by_cost = filter_entries(entries, Filter(sort="cost-asc"))
    assert [e.key for e in by_cost] == ["red boat", "red car", "blue boat"]
    with pytest.raises(ValueError, match="sort"):
        Filter.from_query({"sort": "random"})


def test_story_shots_are_listed_only_when_asked_for_or_kept() -> None:
    shot = {"story": "s", "story_shot": 1}
    entries = [_entry("plain"), _entry("shot", tags=shot), _entry("kept", tags=shot)]
    assert [e.key for e in filter_entries(entries, Filter(), keep={"kept"})] == ["plain", "kept"]
    asked = Filter.from_query({"stories": "1"})
    assert asked.stories and len(filter_entries(entries, asked)) == 3
    assert not Filter.from_query({"stories": "0"}).stories
    with pytest.raises(ValueError, match="stories"):
        Filter.from_query({"stories": "maybe"})


def test_a_story_shot_needs_you_when_failed_unknown_or_left_unfinished() -> None:
    shot = {"story": "s", "story_shot": 1}
    failed = _entry("failed", status="FAILED", created_at=1.0, tags=shot)
    retake = _entry("retake", status="PROCESSING", created_at=2.0, tags=shot)
    takes = [retake, failed]
    assert attention(failed, [failed], followed=False) is not None
    assert attention(failed, takes, followed=False) is None  # a newer take was made since
    assert attention(retake, takes, followed=False) is not None  # nothing here follows it
    assert attention(retake, takes, followed=True) is None  # the gallery renders the story
    unknown = _entry("unknown", status="UNKNOWN", tags=shot)
    assert attention(unknown, [unknown], followed=True) is not None
    done = _entry("done", tags=shot)
    assert attention(done, [done], followed=False) is None


def test_spend_counts_only_quotes_of_jobs_the_server_accepted() -> None:
    entries = [
        _entry("a", quote_usd=0.1, queue_id="q1"),
        _entry("b", quote_usd=0.2, queue_id="q2", status="FAILED"),
        _entry("c", quote_usd=5.0, queue_id=None, status="UNKNOWN"),
        _entry("d", quote_usd=7.0, queue_id="q4", status="CANCELLED"),
    ]
    assert spend_of(entries) == pytest.approx(0.3)


def test_api_label_names_local_and_remote_apis() -> None:
    assert api_label("http://127.0.0.1:47615/api/v1") == "local engine"
    assert api_label("http://localhost:1/api/v1") == "local engine"
    assert api_label("https://api.venice.ai/api/v1") == "api.venice.ai"


def test_host_name_drops_the_port_and_ipv6_brackets() -> None:
    assert host_name("127.0.0.1:8765") == "127.0.0.1"
    assert host_name("[::1]:8765") == "::1"
    assert host_name("LocalHost") == "localhost"


async def test_changes_wake_waiters_and_list_changed_jobs_in_order() -> None:
    changes = Changes()
    start = changes.version
    assert await changes.wait(start, timeout_s=0.01) is False
    async with anyio.create_task_group() as tg:
        woke: list[bool] = []

        async def waiter() -> None:
            woke.append(await changes.wait(start, timeout_s=5.0))

        tg.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        changes.mark("b")
        changes.mark("a")
        changes.mark("b")
    assert woke == [True]
    assert changes.since(start) == ["a", "b"]
    assert changes.since(changes.version) == []
