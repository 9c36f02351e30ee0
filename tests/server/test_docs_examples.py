"""The README's examples and the skill document's recipes, run against the local server.

The skill document (`tests/fixtures/venice-video-skill.md`, a verbatim copy) is what people
follow to call the API by hand. Its recipes are taken from the text, their placeholders
(`<image-to-video model>`, `<char1.png>`, ...) filled with live model ids and real media, and
sent over HTTP; each must end with a video. The README's Python blocks run as written.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from _server_helpers import data_url, png, probe, small_mp4, wait_done
from click.testing import CliRunner

from venice_video import VeniceVideo
from venice_video._catalog import bundled_catalog, retired_model
from venice_video.cli._app import cli
from venice_video.server import ServerThread

ROOT = Path(__file__).parent.parent.parent
SKILL = (ROOT / "tests" / "fixtures" / "venice-video-skill.md").read_text("utf-8")
README = (ROOT / "README.md").read_text("utf-8")
MODEL_ID = re.compile(
    r"\b[a-z][a-z0-9.]*(?:-[a-z0-9.]+)*-(?:text|image|video|reference)-to-video(?:-[a-z]+)?\b"
    r"|\b[a-z][a-z0-9.-]*-(?:transition|motion-control|multi-angle|video-upscale)\b"
)


def curl_bodies(endpoint: str) -> list[dict[str, Any]]:
    """The JSON bodies the skill document's curl examples send to `endpoint`."""
    pattern = rf"curl https://api\.venice\.ai/api/v1{endpoint} .*?-d '(\{{.*?\}})'"
    return [json.loads(body) for body in re.findall(pattern, SKILL, flags=re.S)]


def recipes() -> dict[str, dict[str, Any]]:
    """The skill document's "Common recipes": title to JSON body."""
    section = SKILL.split("## Common recipes", 1)[1].split("\n## ", 1)[0]
    found = re.findall(r"### (.+?)\n+```json\n(.*?)```", section, flags=re.S)
    return {title.strip(): json.loads(body) for title, body in found}


def media() -> dict[str, str]:
    """Real inputs for the placeholders the recipes use."""
    picture = data_url("image/png", png(640, 360))
    return {
        "https://example.com/cityscape.jpg": picture,
        "<char1.png>": data_url("image/png", png(400, 600, (40, 90, 200))),
        "<alt1.png>": data_url("image/png", png(400, 600, (60, 120, 220))),
        "<char2.png>": data_url("image/png", png(400, 600, (200, 60, 60))),
        "<street-scene.jpg>": picture,
        "data:video/mp4;base64,...": data_url("video/mp4", small_mp4(320, 180, 1.0)),
    }


def fill(value: Any, inputs: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: fill(v, inputs) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, inputs) for v in value]
    return inputs.get(value, value) if isinstance(value, str) else value


def run_job(http: httpx.Client, body: dict[str, Any]) -> bytes:
    """Queue, poll until done, download (inline or by download_url), then complete."""
    queued = http.post("/video/queue", json=body)
    assert queued.status_code == 200, (body["model"], queued.text)
    job = queued.json()
    ids = {"model": job["model"], "queue_id": job["queue_id"]}
    done = wait_done(http, ids["model"], ids["queue_id"])
    if done.headers["content-type"].startswith("application/json"):
        assert done.json()["status"] == "COMPLETED" and job.get("download_url")
        done = httpx.get(job["download_url"], timeout=30)
    assert done.status_code == 200 and done.headers["content-type"] == "video/mp4"
    assert http.post("/video/complete", json=ids).json() == {"success": True}
    return done.content


@pytest.fixture
def http(server: ServerThread, auth_headers: dict[str, str]) -> Any:
    with httpx.Client(base_url=server.base_url, headers=auth_headers, timeout=60) as client:
        yield client


@pytest.fixture
def venice(server: ServerThread, api_key: str, tmp_path: Path) -> Any:
    with VeniceVideo(api_key=api_key, base_url=server.base_url, journal=False,
                     cache_dir=tmp_path / "cache") as client:  # fmt: skip
        yield client


# --------------------------------------------------------------------------- the skill


def test_the_skill_names_only_live_models_or_placeholders() -> None:
    catalog = bundled_catalog()
    named = set(MODEL_ID.findall(SKILL))
    assert named == {"wan-2-7-text-to-video"}
    assert all(m in catalog for m in named)


def test_the_skills_curl_lifecycle_runs(http: httpx.Client) -> None:
    (quote,) = curl_bodies("/video/quote")
    (queue,) = curl_bodies("/video/queue")
    (retrieve,) = curl_bodies("/video/retrieve")
    (complete,) = curl_bodies("/video/complete")
    priced = http.post("/video/quote", json=quote)
    assert priced.status_code == 200, priced.text
    # Venice's listed price for wan-2-7-text-to-video at 720p, 5 s (it makes no sound).
    assert priced.json()["quote"] == pytest.approx(0.55)
    queued = http.post("/video/queue", json=queue)
    assert queued.status_code == 200, queued.text
    ids = {"model": queued.json()["model"], "queue_id": queued.json()["queue_id"]}
    assert set(retrieve) == set(complete) == set(ids)  # the "..." the reader fills in
    video = wait_done(http, **ids)
    assert video.headers["content-type"] == "video/mp4"
    info = probe(video.content)
    assert (info.width, info.height) == (1280, 720)
    assert http.post("/video/complete", json=ids).json() == {"success": True}


def test_the_text_to_video_recipe_runs_with_a_live_model_that_makes_sound(
    http: httpx.Client, venice: VeniceVideo
) -> None:
    recipe = recipes()["Text → video with audio"]
    # As written it asks wan-2-7-text-to-video for 6 s with sound: that model takes 5, 10 or
    # 15 s and makes no sound, so the API refuses it and names the nearest duration.
    refused = http.post("/video/queue", json=recipe)
    assert refused.status_code == 400
    (issue,) = refused.json()["issues"]
    assert issue["path"] == ["duration"] and issue["suggestion"] == "5s"
    # What the recipe means (text in, sound out, 6 s, 16:9, 720p) with a model that does it.
    choice = venice.cheapest_model(
        needs="audio", duration=recipe["duration"], resolution=recipe["resolution"],
        aspect_ratio=recipe["aspect_ratio"],
    )  # fmt: skip
    assert choice.model.audio and choice.model.model_type == "text-to-video"
    info = probe(run_job(http, {**recipe, "model": choice.id}))
    assert info.has_audio and info.duration_s == pytest.approx(6.0, abs=0.1)


@pytest.mark.parametrize(
    ("title", "needs", "inputs"),
    [
        ("Image → video", "image", "image"),
        ("Video upscale", "upscale", "video"),
        (
            "Multi-element consistency (Kling O3 R2V-style)",
            "elements,scene_images",
            "elements,scene_images",
        ),
    ],  # fmt: skip
)
def test_each_placeholder_recipe_runs_with_a_live_model(
    http: httpx.Client, title: str, needs: str, inputs: str
) -> None:
    recipe = recipes()[title]
    assert re.fullmatch(r"<.+>", recipe["model"])  # the skill leaves the model to the reader
    catalog = bundled_catalog()
    duration = recipe.get("duration")
    candidates = catalog.matching(
        needs=needs, duration=None if duration == "Auto" else duration,
        aspect_ratio=recipe.get("aspect_ratio"), inputs_given=inputs,
    )  # fmt: skip
    assert candidates, title
    model = candidates[0]
    body = fill({**recipe, "model": model.id}, media())
    if "duration" not in body and model.default_duration:
        body["duration"] = model.default_duration  # the recipe leaves it out; the API needs one
    if model.auto_duration:
        body["duration"] = "Auto"
    info = probe(run_job(http, body))
    assert info.frames > 0
    if needs == "upscale":
        assert (info.width, info.height) == (640, 360)  # 320x180, twice


# --------------------------------------------------------------------------- the README


def test_the_readme_names_only_live_models() -> None:
    catalog = bundled_catalog()
    named = set(MODEL_ID.findall(README))
    assert named and all(m in catalog for m in named), named - set(catalog.ids)


def test_the_docs_name_only_live_models_except_to_say_they_are_retired() -> None:
    catalog = bundled_catalog()
    for path in sorted((ROOT / "docs").glob("*.md")):
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            for model_id in MODEL_ID.findall(line):
                if model_id in catalog:
                    continue
                assert retired_model(model_id) is not None and "retired" in line, (
                    f"{path.name}:{number} names {model_id}, which is not a live model"
                )


# Block 1 is `VeniceVideo.local()`, which uses the user's local engine folder; the SDK's
# tests cover it on a temporary one.
@pytest.mark.parametrize("block", [0, 2])
def test_the_readme_sdk_examples_run(
    block: int, server: ServerThread, api_key: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    code = re.findall(r"```python\n(.*?)```", README, flags=re.S)[block]
    monkeypatch.setenv("VENICE_API_KEY", api_key)
    monkeypatch.setenv("VENICE_BASE_URL", server.base_url)
    monkeypatch.setenv("VENICE_VIDEO_JOURNAL", str(tmp_path / "journal.sqlite3"))
    monkeypatch.setenv("VENICE_VIDEO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"README.md python block {block}", "exec"), {"__name__": "readme"})
    info = probe((tmp_path / "gondola.mp4").read_bytes())
    assert (info.width, info.height) == (1280, 720)
    assert info.duration_s == pytest.approx(5.0, abs=0.1)


def test_the_readme_cli_example_runs_and_prints_what_the_readme_shows(
    server: ServerThread, api_key: str, tmp_path: Path
) -> None:
    command = re.search(r"^\$ venice-video (generate .+)$", README, flags=re.M)
    assert command is not None
    prompt = re.search(r'"(.+?)"', command.group(1))
    assert prompt is not None
    env = {
        "VENICE_API_KEY": api_key, "VENICE_BASE_URL": server.base_url,
        "VENICE_VIDEO_JOURNAL": str(tmp_path / "journal.sqlite3"),
        "VENICE_VIDEO_CACHE_DIR": str(tmp_path / "cache"),
        "VENICE_VIDEO_CONFIG": str(tmp_path / "absent.toml"),
    }  # fmt: skip
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = CliRunner().invoke(
            cli, ["generate", prompt.group(1), "-o", "lighthouse.mp4", "--yes"], env=env,
            catch_exceptions=False,
        )  # fmt: skip
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, result.output
    transcript = README.split(command.group(0), 1)[1].split("```", 1)[0]
    for line in transcript.splitlines():
        if line.startswith(("duration:", "quote:")):
            assert line in result.stderr.splitlines(), line
    assert probe((tmp_path / "lighthouse.mp4").read_bytes()).frames > 0
