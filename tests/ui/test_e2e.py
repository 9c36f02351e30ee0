"""The gallery in a real headless Chromium (Debian's `/usr/bin/chromium`, driven by Playwright).

Skipped when the browser or the `playwright` package is missing. Set
`VENICE_VIDEO_UI_SCREENSHOT=docs/img/gallery.png` to also write the documentation's screenshot.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from ui_helpers import FAST_MODEL
from ui_story import render_three, stats

from venice_video import AsyncVeniceVideo, VeniceVideo
from venice_video.server import ServerThread
from venice_video.ui import create_app
from venice_video.ui._serve import GalleryThread

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 20_000
# Resolves once the player's video knows its duration (no polling, no sleeps).
VIDEO_DURATION = """video => new Promise((resolve, reject) => {
  if (video.readyState >= 1) return resolve(video.duration);
  video.addEventListener("loadedmetadata", () => resolve(video.duration), { once: true });
  const failed = () => reject(new Error("the video did not load"));
  video.addEventListener("error", failed, { once: true });
})"""
# Resolves once every poster on the page has loaded.
POSTERS_LOADED = """images => Promise.all(images.map(img => img.complete && img.naturalWidth
  ? img.naturalWidth
  : new Promise(resolve => {
      img.addEventListener("load", () => resolve(img.naturalWidth), { once: true });
    })))"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(
    browser: Any,
    tmp_path: Path,
    server: ServerThread,
    api_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Any]:
    # The page shows the output folder under the home folder as `~/...`.
    monkeypatch.setenv("HOME", str(tmp_path))
    client = AsyncVeniceVideo(
        api_key=api_key, base_url=server.base_url, journal=tmp_path / "j.sqlite3", cache_dir=False
    )
    app = create_app(
        client,
        output_dir=tmp_path / "videos",
        cache_dir=tmp_path / "cache",
        default_model=FAST_MODEL,
        local_engine=True,
        close_client=True,
    )
    errors: list[str] = []
    with GalleryThread(app) as gallery:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.set_default_timeout(TIMEOUT_MS)
        opened = context.new_page()
        opened.on("pageerror", lambda error: errors.append(str(error)))
        opened.goto(gallery.url)
        opened.locator("#f-model option").first.wait_for(state="attached")
        yield opened
        context.close()
    assert errors == []


def _wait_for_price(page: Any) -> str:
    button = page.locator("#generate:not([disabled])", has_text="Generate for $")
    button.wait_for()
    text: str = button.inner_text()
    return text


def test_a_generation_started_from_the_form_finishes_and_plays(page: Any) -> None:
    page.select_option("#f-model", FAST_MODEL)
    page.fill("#f-prompt", "A lighthouse at night, waves below")
    page.select_option("#f-duration", "1s")
    page.select_option("#f-resolution", "480p")
    label = _wait_for_price(page)
    assert page.inner_text("#quote") == f"Price: {label.removeprefix('Generate for ')}"
    page.click("#generate")
    done = page.locator(".card.state-done", has_text="A lighthouse at night")
    done.locator("img").wait_for()
    assert page.inner_text("#form-status").startswith("Started: A lighthouse at night")
    # Keyboard: the poster is a button; Enter opens the player.
    done.locator(".poster").focus()
    page.keyboard.press("Enter")
    video = page.locator("#player video")
    video.wait_for()
    duration = video.evaluate(VIDEO_DURATION)
    assert duration == pytest.approx(1.0, abs=0.1)
    request = page.text_content("#player-request") or ""
    assert '"prompt": "A lighthouse at night, waves below"' in request
    page.keyboard.press("Escape")
    page.locator("#player").wait_for(state="hidden")


def test_the_form_offers_only_allowed_choices_and_validates_as_you_type(
    page: Any, tmp_path: Path
) -> None:
    page.select_option("#f-model", FAST_MODEL)
    durations = page.locator("#f-duration option").all_inner_texts()
    assert durations[0] == "1s" and durations[-1] == "15s" and len(durations) == 15
    assert page.locator("#f-resolution option").all_inner_texts() == ["480p", "720p"]
    assert page.locator("[data-field=image]").is_hidden()
    page.fill("#f-prompt", "x" * 5000)
    # The empty prompt's "Required" may show first: wait for the answer about this one.
    error = page.locator(
        "#f-prompt-error:not([hidden])", has_text=re.compile("prompt|character", re.I)
    )
    error.wait_for()
    assert page.get_attribute("#f-prompt", "aria-invalid") == "true"
    assert page.locator("#generate").is_disabled()
    page.fill("#f-prompt", "A calm lake")
    _wait_for_price(page)
    assert page.locator("#f-prompt-error").is_hidden()

    page.select_option("#f-model", "grok-imagine-image-to-video-private")
    assert page.locator("[data-field=image]").is_visible()
    image = tmp_path / "first.png"
    Image.new("RGB", (640, 360), "orange").save(image)
    page.set_input_files("#f-image", str(image))
    page.locator("#f-image-status", has_text="Ready: first.png").wait_for()
    _wait_for_price(page)


def test_sample_clips_fill_the_gallery_which_filters_deletes_and_runs_again(
    page: Any, tmp_path: Path
) -> None:
    page.click("#samples")
    posters = page.locator(".card.state-done img")
    posters.nth(2).wait_for()
    assert page.locator(".card").count() == 3
    widths = page.locator(".card img").evaluate_all(POSTERS_LOADED)
    assert len(widths) == 3 and all(w > 0 for w in widths)
    page.fill("#f-prompt", "A lighthouse at night, waves below")
    _wait_for_price(page)
    page.locator("#f-prompt").blur()
    shot = tmp_path / "gallery.png"
    page.screenshot(path=str(shot))
    with Image.open(shot) as image:
        assert image.size == (1280, 800)
    assert page.inner_text("#api-line").endswith("saving to ~/videos")
    wanted = os.environ.get("VENICE_VIDEO_UI_SCREENSHOT")
    if wanted:
        shutil.copyfile(shot, wanted)

    costs = page.locator(".card dd", has_text="$").all_inner_texts()
    page.fill("#filter-q", "gondola")
    page.locator(".card").first.wait_for()
    page.locator("#summary", has_text="1 video").wait_for()
    gondola_cost = page.locator(".card dd", has_text="$").inner_text()
    assert gondola_cost in costs
    assert page.inner_text("#total-spend") == gondola_cost

    page.click(".card button[data-action=delete]")
    dialog = page.locator("#confirm")
    dialog.wait_for()
    assert "will be deleted from this computer" in page.inner_text("#confirm-text")
    page.click("#confirm-ok")
    page.locator(".card .placeholder", has_text="File deleted").wait_for()

    page.fill("#filter-q", "")
    page.locator("#summary", has_text="3 videos").wait_for()
    page.click(".card button[data-action=rerun] >> nth=0")
    dialog.wait_for()
    assert page.inner_text("#confirm-title") == "Run this request again?"
    assert "$" in page.inner_text("#confirm-ok")
    page.click("#confirm-ok")
    page.locator("#summary", has_text="4 videos").wait_for()
    page.locator(".card.state-done img").nth(2).wait_for()


def test_cheapest_shows_the_model_chosen_and_its_price_then_generates_with_it(
    page: Any, server: ServerThread, api_key: str
) -> None:
    with VeniceVideo(
        api_key=api_key, base_url=server.base_url, journal=False, cache_dir=False
    ) as sdk:
        priced = sdk.models_by_price(
            needs="audio", inputs_given=[], duration="1s", resolution="480p", aspect_ratio="16:9"
        )
    best = next(p for p in priced if p.quote_usd is not None)
    page.select_option("#f-model", "cheapest")
    assert page.locator("#f-resolution option").first.inner_text() == "Any"
    assert page.locator("[data-field=image]").is_visible()
    assert page.locator("[data-field=upscale_factor]").is_hidden()
    page.fill("#f-prompt", "A lighthouse at night, waves below")
    page.select_option("#f-duration", "1s")
    page.select_option("#f-resolution", "480p")
    page.select_option("#f-aspect_ratio", "16:9")
    label = _wait_for_price(page)
    price = f"${best.quote_usd:.2f}"
    assert label == f"Generate for {price}"
    assert page.inner_text("#quote").startswith(f"Cheapest: {best.id} — {price}")
    page.click("#generate")
    done = page.locator(".card.state-done", has_text="A lighthouse at night")
    done.locator("img").wait_for()
    assert f"{best.id} (picked as cheapest)" in done.inner_text()


def test_a_story_shows_as_one_film_with_its_strip_of_shots_and_total(
    page: Any, tmp_path: Path, server: ServerThread, api_key: str
) -> None:
    film = render_three(tmp_path / "films", server, api_key, tmp_path / "j.sqlite3")
    page.reload()
    card = page.locator(".story-card", has_text="Three Shots")
    card.wait_for()
    shots = card.locator(".strip .shot")
    assert shots.locator(".shot-name").all_inner_texts() == ["1. kite", "2. boat", "3. harbour"]
    assert card.locator(".story-total").inner_text() == f"${film.cost:.2f}"
    widths = card.locator(".strip img").evaluate_all(POSTERS_LOADED)
    assert len(widths) == 3 and all(w > 0 for w in widths)
    video = card.locator("video.film")
    assert video.evaluate(VIDEO_DURATION) == pytest.approx(film.duration, abs=0.1)

    # A shot's thumbnail plays the film from that shot.
    card.locator(".shot-thumb").nth(2).click()
    assert video.evaluate("v => v.currentTime") >= film.shots[2].start - 0.05

    # Re-render asks first, with the price; cancelling spends nothing.
    card.locator("button.rerender").first.click()
    page.locator("#confirm").wait_for()
    assert page.inner_text("#confirm-title") == "Re-render shot 1?"
    assert page.inner_text("#confirm-ok") == f"Re-render for ${film.shots[0].cost:.2f}"
    page.click("#confirm-cancel")
    page.locator("#confirm").wait_for(state="hidden")
    assert stats(server, api_key)["jobs_created"] == 3

    # The shots are not single videos too, until asked for; each then names its story.
    page.locator("#story-shots-hidden", has_text="3 story shots not listed").wait_for()
    assert page.locator(".card").count() == 0
    card.locator("button[data-action=show-shots]").click()
    page.locator(".card").nth(2).wait_for()
    assert page.is_checked("#filter-stories") and page.locator(".card").count() == 3
    first = page.locator(f'.card[data-key="{film.shots[0].key}"]')
    assert first.locator(".story-of").inner_text() == "Shot 1 (kite) of Three Shots"
    first.locator(".poster").click()
    meta = page.locator("#player-meta")
    meta.wait_for()
    assert "Shot 1 (kite) of Three Shots" in meta.inner_text()
    meta.locator("a.story-link").click()
    page.locator("#player").wait_for(state="hidden")
    story_id = card.get_attribute("data-story")
    assert page.evaluate("document.activeElement.id") == f"story-{story_id}"
