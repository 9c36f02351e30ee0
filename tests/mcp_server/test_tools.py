"""The tools, driven through the `mcp` SDK's own client against the local video server."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from mcp import Client
from mcp_helpers import GROK, WAN, Connect, MakeVenice, ServerFactory, call

from speech_fixture import DURATION_S, assert_mostly_heard
from venice_video.journal import Journal
from venice_video.mcp_server import create_server
from venice_video.server._stt import is_available as stt_is_available

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
TOOLS = {
    "list_models",
    "validate_request",
    "quote",
    "start_generation",
    "get_job",
    "wait_for_job",
    "list_jobs",
    "transcribe_url",
    "transcribe_file",
    "check_story",
    "quote_story",
    "start_story",
    "rerender_story_shots",
    "follow_story",
}


async def test_every_tool_is_listed_with_a_description_for_the_model(connect: Connect) -> None:
    async with connect() as client:
        listed = (await client.list_tools()).tools
    assert {tool.name for tool in listed} == TOOLS
    for tool in listed:
        assert tool.description and len(tool.description) > 80, tool.name
        assert tool.input_schema["type"] == "object"
    by_name = {tool.name: tool for tool in listed}
    assert "COSTS MONEY" in (by_name["start_generation"].description or "")
    assert "Free" in (by_name["quote"].description or "")
    assert by_name["start_generation"].input_schema["required"] == ["model"]
    assert set(by_name["wait_for_job"].input_schema["properties"]) == {"job_id", "timeout_s"}


async def test_list_models_filters_by_type_and_input(connect: Connect) -> None:
    async with connect() as client:
        failed, everything = await call(client, "list_models")
        _, image = await call(client, "list_models", {"accepts": "image"})
        _, text = await call(client, "list_models", {"model_type": "text-to-video"})
        _, wan = await call(client, "list_models", {"search": "wan-3-0-text"})
    assert not failed
    assert everything["count"] == len(everything["models"]) > image["count"] > 0
    assert all("image" in m["inputs"] for m in image["models"])
    assert {m["type"] for m in text["models"]} == {"text-to-video"}
    model = next(m for m in wan["models"] if m["id"] == WAN["model"])
    assert model["durations"] == ["2s", "5s", "10s", "15s", "20s", "25s", "30s"]
    assert "480p" in model["resolutions"]
    assert model["inputs"] == ["text"]


async def test_generate_to_file_flow(connect: Connect, mcp_root: Path) -> None:
    async with connect() as client:
        failed, started = await call(client, "start_generation", WAN)
        assert not failed, started
        assert started["quote_usd"] == pytest.approx(0.26)  # Venice's price: 480p|5s|on
        assert started["state"] in ("running", "downloading", "done")
        assert "eta_s" in started or started["state"] == "done"
        job_id = started["job_id"]
        failed, done = await call(client, "wait_for_job", {"job_id": job_id, "timeout_s": 60})
        _, again = await call(client, "get_job", {"job_id": job_id})
        _, listed = await call(client, "list_jobs", {"state": "done"})
    assert not failed
    assert done["finished"] is True and done["state"] == "done"
    file = done["file"]
    assert file["path"] == started["output"]
    assert file["path"].startswith("videos/") and file["path"].endswith(".mp4")
    saved = mcp_root / file["path"]
    assert saved.stat().st_size == file["size_bytes"] > 0
    assert file["duration_s"] == pytest.approx(5.0, abs=0.1)
    assert file["resolution"] == "854x480"
    assert again["file"] == file
    assert [job["job_id"] for job in listed["jobs"]] == [job_id]
    assert listed["limits"]["spent_usd"] == pytest.approx(0.26)


async def test_generation_writes_the_named_output_inside_the_root(
    connect: Connect, mcp_root: Path
) -> None:
    async with connect() as client:
        _, started = await call(client, "start_generation", {**GROK, "output": "clips/first"})
        _, done = await call(client, "wait_for_job", {"job_id": started["job_id"]})
        failed, refused = await call(client, "start_generation", {**GROK, "output": "clips/first"})
    assert done["file"]["path"] == "clips/first.mp4"
    assert (mcp_root / "clips" / "first.mp4").is_file()
    assert failed and refused["error"] == "sandbox"
    assert "overwrite" in refused["fix"]


async def test_validation_error_names_the_field_the_allowed_values_and_the_fix(
    connect: Connect, journal_path: Path
) -> None:
    async with connect() as client:
        failed, error = await call(client, "start_generation", {**WAN, "duration": "6s"})
        fixed = {**WAN, "duration": error["issues"][0]["suggestion"]}
        ok, checked = await call(client, "validate_request", fixed)
    assert failed
    assert error["error"] == "validation" and error["charged"] is False
    assert error["issues"] == [
        {
            "field": "duration",
            "message": error["issues"][0]["message"],
            "value": "6s",
            "allowed": ["2s", "5s", "10s", "15s", "20s", "25s", "30s"],
            "suggestion": "5s",
        }
    ]
    assert error["fix"] == "set duration to '5s'"
    assert not ok and checked["valid"] is True
    with Journal(journal_path) as journal:
        assert journal.list() == []


async def test_unknown_model_is_refused_with_the_closest_id(connect: Connect) -> None:
    async with connect() as client:
        failed, error = await call(
            client, "validate_request", {"model": "wan-2.7-text-to-video", "prompt": "x"}
        )
    assert failed
    issue = error["issues"][0]
    assert issue["field"] == "model" and issue["suggestion"] == "wan-2-7-text-to-video"
    assert "list_models" in error["fix"]


async def test_missing_prompt_is_reported_as_a_field_to_add(connect: Connect) -> None:
    async with connect() as client:
        failed, error = await call(client, "validate_request", {"model": WAN["model"]})
    assert failed
    assert "add prompt" in error["fix"]


async def test_quote_is_free_and_says_whether_the_limits_allow_it(
    connect: Connect, journal_path: Path
) -> None:
    async with connect(max_cost_per_call=0.10) as client:
        _, cheap = await call(client, "quote", {k: v for k, v in GROK.items() if k != "prompt"})
        _, dear = await call(client, "quote", {k: v for k, v in WAN.items() if k != "prompt"})
        failed, bad = await call(
            client, "quote", {"model": WAN["model"], "duration": "5s", "resolution": "4k"}
        )
    assert cheap["quote_usd"] == pytest.approx(0.06) and cheap["allowed_by_limits"] is True
    assert dear["quote_usd"] == pytest.approx(0.26) and dear["allowed_by_limits"] is False
    assert "per-call maximum" in dear["refusal"]
    assert failed and bad["issues"][0]["field"] == "resolution"
    with Journal(journal_path) as journal:
        assert journal.list() == []


async def test_budget_refusal_says_why_and_queues_nothing(
    connect: Connect, journal_path: Path
) -> None:
    async with connect(budget=0.30) as client:
        failed_first, first = await call(client, "start_generation", WAN)
        failed, refused = await call(client, "start_generation", WAN)
        await call(client, "wait_for_job", {"job_id": first["job_id"], "timeout_s": 60})
    assert not failed_first
    assert failed
    assert refused["error"] == "spend_limit" and refused["reason"] == "budget"
    assert refused["quote_usd"] == pytest.approx(0.26)
    assert refused["budget_usd"] == 0.30
    assert refused["spent_usd"] == pytest.approx(0.26)
    assert refused["remaining_usd"] == pytest.approx(0.04)
    assert "operator" in refused["message"] and refused["charged"] is False
    with Journal(journal_path) as journal:
        assert len(journal.list()) == 1


async def test_per_call_maximum_refuses_a_dearer_generation(
    connect: Connect, journal_path: Path
) -> None:
    async with connect(max_cost_per_call=0.10) as client:
        failed, refused = await call(client, "start_generation", WAN)
    assert failed
    assert refused["reason"] == "per_call_max"
    assert refused["max_cost_per_call_usd"] == 0.10
    with Journal(journal_path) as journal:
        assert journal.list() == []


async def test_sandbox_refuses_outputs_outside_the_root(
    connect: Connect, mcp_root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (mcp_root / "escape").symlink_to(outside, target_is_directory=True)
    async with connect() as client:
        answers = [
            await call(client, "start_generation", {**GROK, "output": output})
            for output in (
                str(outside / "x.mp4"),
                "../x.mp4",
                "videos/../../x.mp4",
                "escape/x.mp4",
                "notes.txt",
            )
        ]
    assert all(failed for failed, _ in answers)
    assert [error["error"] for _, error in answers] == ["sandbox"] * 5
    assert "outside the allowed directory" in answers[0][1]["message"]
    assert "'..'" in answers[1][1]["message"]
    assert "symlink" in answers[3][1]["message"]
    assert ".mp4" in answers[4][1]["fix"]
    assert list(outside.iterdir()) == []


async def test_sandbox_refuses_inputs_outside_the_root(
    connect: Connect, mcp_root: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    (mcp_root / "frame.png").symlink_to(secret)
    image_model = {"model": "wan-3-0-image-to-video", "prompt": "x", "duration": "5s"}
    async with connect() as client:
        linked = await call(client, "validate_request", {**image_model, "image": "frame.png"})
        absolute = await call(client, "start_generation", {**image_model, "image": str(secret)})
        missing = await call(client, "validate_request", {**image_model, "image": "none.png"})
        listed = await call(
            client, "validate_request", {**image_model, "reference_images": ["../secret.png"]}
        )
        heard = await call(client, "transcribe_file", {"path": str(secret)})
    for failed, error in (linked, absolute, missing, listed, heard):
        assert failed and error["error"] == "sandbox"
    assert linked[1]["field"] == "image" and "symlink" in linked[1]["message"]
    assert "no file" in missing[1]["message"]
    assert listed[1]["field"] == "reference_images.0"
    assert heard[1]["field"] == "path"


async def test_a_file_of_the_wrong_kind_is_an_input_error(connect: Connect, mcp_root: Path) -> None:
    (mcp_root / "notes.png").write_text("not a picture")
    image_model = {"model": "wan-3-0-image-to-video", "prompt": "x", "duration": "5s"}
    async with connect() as client:
        arguments = {**image_model, "image": "notes.png"}
        failed, error = await call(client, "validate_request", arguments)
    assert failed
    assert error["error"] == "input" and "not an image" in error["message"]


async def test_content_policy_refusal_offers_the_suggested_prompt(
    server_factory: ServerFactory, make_venice: MakeVenice, mcp_root: Path
) -> None:
    local = server_factory(blocked_terms=["forbidden"])
    async with make_venice(local) as venice, Client(create_server(venice, root=mcp_root)) as client:
        failed, error = await call(
            client, "start_generation", {**GROK, "prompt": "a forbidden gondola"}
        )
    assert failed
    assert error["error"] == "content_policy"
    assert error["suggested_prompt"] and "forbidden" not in error["suggested_prompt"]
    assert error["suggested_prompt"] in error["fix"]


async def test_unknown_job_id_is_a_tool_error_pointing_to_list_jobs(connect: Connect) -> None:
    async with connect() as client:
        failed, error = await call(client, "get_job", {"job_id": "no-such-job"})
        failed_wait, _ = await call(client, "wait_for_job", {"job_id": "no-such-job"})
    assert failed and failed_wait
    assert error["error"] == "not_found" and "list_jobs" in error["fix"]


async def test_transcribe_url_refuses_a_non_http_url(connect: Connect) -> None:
    async with connect() as client:
        failed, error = await call(client, "transcribe_url", {"url": "file:///etc/passwd"})
    assert failed and error["issues"][0]["field"] == "url"


@pytest.mark.stt
@pytest.mark.skipif(not stt_is_available(), reason="the [stt] extra is not installed")
async def test_transcribe_file_hears_the_speech_of_a_file_in_the_root(
    connect: Connect, mcp_root: Path
) -> None:
    shutil.copy(FIXTURES / "speech.wav", mcp_root / "speech.wav")
    async with connect() as client:
        failed, heard = await call(client, "transcribe_file", {"path": "speech.wav"})
    assert not failed, heard
    assert_mostly_heard(heard["text"])
    assert heard["path"] == "speech.wav"
    assert heard["duration_s"] == pytest.approx(DURATION_S, abs=0.2)


async def test_outputs_never_carry_the_api_key_or_a_download_url(
    connect: Connect, api_key: str, journal_path: Path
) -> None:
    texts: list[str] = []
    async with connect(budget=0.10) as client:

        async def record(tool: str, arguments: dict[str, object]) -> dict[str, object]:
            result = await client.call_tool(tool, arguments)
            texts.extend(getattr(block, "text", "") for block in result.content)
            texts.append(json.dumps(result.structured_content))
            return result.structured_content or {}

        await record("list_models", {"search": "grok"})
        await record("quote", {"model": GROK["model"], "duration": "1s"})
        await record("validate_request", {**GROK, "duration": "99s"})
        started = await record("start_generation", GROK)
        await record("start_generation", GROK)  # over the budget
        await record("get_job", {"job_id": str(started["job_id"])})
        await record("wait_for_job", {"job_id": str(started["job_id"])})
        await record("list_jobs", {})
        await record("get_job", {"job_id": "missing"})
    with Journal(journal_path) as journal:
        (entry,) = journal.list()
    assert entry.download_url, "the grok model serves its file through a download_url"
    everything = "\n".join(texts)
    assert api_key not in everything
    assert entry.download_url not in everything
    assert entry.download_url.split("?")[0] not in everything
    assert "authorization" not in everything.lower()


async def test_overwrite_true_replaces_a_finished_video(connect: Connect, mcp_root: Path) -> None:
    async with connect() as client:
        _, first = await call(client, "start_generation", {**GROK, "output": "clips/one.mp4"})
        await call(client, "wait_for_job", {"job_id": first["job_id"], "timeout_s": 60})
        before = (mcp_root / "clips" / "one.mp4").stat().st_ino
        failed, second = await call(
            client, "start_generation", {**GROK, "output": "clips/one.mp4", "overwrite": True}
        )
        assert not failed, second
        _, done = await call(client, "wait_for_job", {"job_id": second["job_id"], "timeout_s": 60})
    assert done["state"] == "done", done.get("error")
    assert (mcp_root / "clips" / "one.mp4").stat().st_ino != before


async def test_the_cheapest_model_is_named_and_priced_before_anything_is_paid(
    connect: Connect, make_venice: MakeVenice, server: ServerFactory, mcp_root: Path
) -> None:
    wanted = {"duration": "5s", "resolution": "480p"}
    async with make_venice(server) as venice:
        best = await venice.cheapest_model(duration="5s", resolution="480p")
    async with connect() as client:
        failed, quoted = await call(client, "quote", {"model": "cheapest", **wanted})
        assert not failed, quoted
        _, started = await call(
            client, "start_generation", {"model": "cheapest", "prompt": "A fox", **wanted}
        )
        _, done = await call(client, "wait_for_job", {"job_id": started["job_id"]})
    assert quoted["request"]["model"] == best.id != "cheapest"
    assert quoted["quote_usd"] == pytest.approx(best.quote_usd)
    assert started["model"] == best.id
    assert started["quote_usd"] == pytest.approx(best.quote_usd)
    assert started["output"].startswith(f"videos/{best.id}-")
    assert (mcp_root / done["file"]["path"]).is_file()
