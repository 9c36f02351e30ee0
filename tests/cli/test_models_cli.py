"""`venice-video models` (needs, prices, --diff) and `--model cheapest`, on the local server."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from venice_video._catalog import Catalog, VideoModel, bundled_catalog
from venice_video.cli._app import cli
from venice_video.cli._models import render_listing
from venice_video.server import ServerConfig, ServerThread, create_app

Run = Callable[..., Result]


@pytest.fixture
def env(server: ServerThread, api_key: str, tmp_path: Path) -> dict[str, str]:
    return {
        "VENICE_API_KEY": api_key,
        "VENICE_BASE_URL": server.base_url,
        "VENICE_VIDEO_JOURNAL": str(tmp_path / "journal.sqlite3"),
        "VENICE_VIDEO_CONFIG": str(tmp_path / "absent.toml"),
        "VENICE_VIDEO_OUTPUT_DIR": str(tmp_path),
        "VENICE_VIDEO_CACHE_DIR": str(tmp_path / "cache"),
    }


@pytest.fixture
def run(env: dict[str, str]) -> Run:
    def invoke(*args: str, **extra_env: str) -> Result:
        return CliRunner().invoke(cli, list(args), env={**env, **extra_env},
                                  catch_exceptions=False)  # fmt: skip

    return invoke


def queue_requests(server: ServerThread, api_key: str) -> int:
    response = httpx.get(f"{server.root_url}/_local/stats",
                         headers={"Authorization": f"Bearer {api_key}"})  # fmt: skip
    response.raise_for_status()
    count: int = response.json()["queue_requests"]
    return count


def test_needs_duration_and_resolution_list_what_can_do_it_cheapest_first(run: Run) -> None:
    args = ["--needs", "image,audio", "--duration", "10s", "--resolution", "720p"]
    data = json.loads(run("--json", "models", *args, "--sort", "price").stdout)
    catalog = bundled_catalog()
    assert len(data) >= 10
    quotes = [m["quote_usd"] for m in data]
    assert quotes == sorted(quotes) and quotes[0] > 0
    for row in data:
        model = catalog[row["id"]]
        assert {"image", "audio"} <= model.capabilities
        assert model.takes(duration="10s", resolution="720p")
        assert row["priced_at"]["duration"] == "10s" and row["priced_at"]["resolution"] == "720p"
    text = run("models", *args, "--sort", "price")
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert lines[0].split()[-2:] == ["PRICE", "PRICED_AT"]
    assert [line.split()[0] for line in lines[1:]] == [m["id"] for m in data]
    assert f"${quotes[0]:.2f}" in lines[1]


def test_the_plain_listing_has_a_price_column(run: Run) -> None:
    result = run("models", "--type", "text-to-video")
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert "PRICE" in header and len(rows) == len(
        bundled_catalog().filter(model_type="text-to-video")
    )
    assert all(re.search(r"\$\d+\.\d\d", row) for row in rows)
    no_prices = run("models", "--type", "text-to-video", "--no-prices")
    assert "PRICE" not in no_prices.stdout.splitlines()[0]


def test_an_unknown_need_is_a_usage_error(run: Run) -> None:
    result = run("models", "--needs", "telepathy")
    assert result.exit_code == 2
    assert "telepathy" in result.output and "image" in result.output


def test_the_terminal_table_never_breaks_an_id(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    monkeypatch.setenv("COLUMNS", "90")
    catalog = bundled_catalog()
    rows: list[tuple[VideoModel, Any]] = [(m, None) for m in catalog]
    render_listing(rows, prices=False)
    out = capsys.readouterr().out
    for model in catalog:
        assert model.id in out, model.id


def test_diff_shows_what_the_live_list_changed(
    tmp_path: Path, env: dict[str, str], run: Run
) -> None:
    bundled = bundled_catalog()
    wan = bundled["wan-3-0-text-to-video"]
    live = Catalog(
        [m for m in bundled if m.id != "wan-2.6-text-to-video" and m.id != wan.id]
        + [
            wan.model_copy(update={"durations": ("5s", "10s")}),
            VideoModel(
                id="wan-4-0-text-to-video",
                model_type="text-to-video",
                durations=("5s",),
                resolutions=("720p",),
            ),
        ]  # fmt: skip
    )
    app = create_app(ServerConfig(data_dir=tmp_path / "live", speed=1000), catalog=live)
    with ServerThread(app=app) as changed:
        result = run("models", "--diff", VENICE_BASE_URL=changed.base_url)
        data = json.loads(
            run("--json", "models", "--diff", VENICE_BASE_URL=changed.base_url).stdout
        )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "1 new, 1 gone, 1 changed" in lines[0]
    assert "+ wan-4-0-text-to-video  (text-to-video, new)" in lines
    assert "- wan-2.6-text-to-video  (text-to-video, gone)" in lines
    assert any(line.startswith("~ wan-3-0-text-to-video  durations: 2s 5s 10s") for line in lines)
    assert data["added"] == ["wan-4-0-text-to-video"]
    assert data["changed"]["wan-3-0-text-to-video"]["durations"][1] == ["5s", "10s"]
    same = run("models", "--diff")
    assert "no differences" in same.stdout


def test_the_live_list_wins_for_validation_too(tmp_path: Path, run: Run) -> None:
    # The live list still has a model the bundle retired: it is accepted, not refused.
    sora = VideoModel(
        id="sora-2-text-to-video", model_type="text-to-video", durations=("4s",),
        resolutions=("720p",),
    )  # fmt: skip
    live = Catalog([*bundled_catalog(), sora])
    app = create_app(ServerConfig(data_dir=tmp_path / "live", speed=1000), catalog=live)
    with ServerThread(app=app) as changed:
        ok = run(
            "quote", "-m", "sora-2-text-to-video", "-d", "4s", VENICE_BASE_URL=changed.base_url
        )
    assert ok.exit_code == 0, ok.output
    refused = run("quote", "a fox", "-m", "sora-2-text-to-video", "-d", "4s")
    assert refused.exit_code == 3
    assert "`sora-2-text-to-video` was retired on 2026-09-24; similar models:" in refused.output


def test_generate_cheapest_shows_the_model_and_price_before_paying(
    run: Run, server: ServerThread, api_key: str, tmp_path: Path
) -> None:
    result = run("--json", "generate", "a fox at dawn", "--model", "cheapest", "--no-audio",
                 "-d", "5s", "-r", "480p", "-o", str(tmp_path / "fox.mp4"), "--yes")  # fmt: skip
    assert result.exit_code == 0, result.output
    chosen = re.search(r"model: (\S+), the cheapest that can make this video \(\$(\d+\.\d\d) for "
                       r"5s 480p silent\)", result.stderr)  # fmt: skip
    assert chosen is not None, result.stderr
    job = json.loads(result.stdout)
    assert job["model"] == chosen.group(1)
    assert job["cost_usd"] == pytest.approx(float(chosen.group(2)))
    # It is the cheapest text-to-video model that makes silent 5 s 480p clips.
    listing = json.loads(run("--json", "models", "--needs", "silent", "--type", "text-to-video",
                             "-d", "5s", "-r", "480p", "--sort", "price").stdout)  # fmt: skip
    assert listing[0]["id"] == job["model"]
    assert queue_requests(server, api_key) == 1


def test_cheapest_without_confirmation_names_the_choice_and_spends_nothing(
    run: Run, server: ServerThread, api_key: str
) -> None:
    image = "https://example.com/first.png"  # passed on as a URL; nothing fetches it here
    result = run("generate", "a fox", "--model", "cheapest", "--image", image, "-d", "5s")
    assert result.exit_code == 5  # money: no --yes, and no terminal to ask on
    chosen = re.search(r"model: (\S+), the cheapest that can make this video \(\$(\S+) for",
                       result.stderr)  # fmt: skip
    assert chosen is not None, result.stderr
    assert result.stderr.index("model: ") < result.stderr.index("not spending")
    assert bundled_catalog()[chosen.group(1)].required_inputs <= {"text", "image"}
    assert queue_requests(server, api_key) == 0
