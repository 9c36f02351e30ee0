"""The gallery counts only real spending as money, and never writes over a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ui_helpers import FAST_FIELDS, FAST_MODEL, GalleryFactory

from venice_video import OutputExistsError
from venice_video.journal import Journal


async def test_local_engine_spend_is_shown_apart(
    make_gallery: GalleryFactory, tmp_path: Path, server: Any
) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    for key, quote, api_id in (("real", 0.5, None), ("local", 0.25, "local-engine:/x")):
        journal.record_intent(key=key, model=FAST_MODEL, base_url=server.base_url,
                              request={"model": FAST_MODEL}, quote_usd=quote,
                              output_path=None, api_id=api_id)  # fmt: skip
        journal.record_queued(key, queue_id=f"q-{key}", download_url=None)
    journal.close()
    async with make_gallery() as gallery:
        listing = (await gallery.http.get("/api/jobs")).json()
    assert listing["total_usd"] == pytest.approx(0.5)
    assert listing["local_total_usd"] == pytest.approx(0.25)
    assert listing["all_local_total_usd"] == pytest.approx(0.25)


async def test_a_gallery_job_never_writes_over_an_existing_file(
    make_gallery: GalleryFactory,
) -> None:
    async with make_gallery() as gallery:
        taken = gallery.output_dir / "taken.mp4"
        taken.parent.mkdir(parents=True, exist_ok=True)
        taken.write_bytes(b"a video made earlier")
        with pytest.raises(OutputExistsError):
            await gallery.runner.submit(dict(FAST_FIELDS), key="k" * 32, output=taken, max_cost=1.0)
    assert taken.read_bytes() == b"a video made earlier"


async def test_a_job_held_by_a_worker_says_which(
    make_gallery: GalleryFactory, tmp_path: Path, server: Any
) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    journal.record_intent(
        key="held",
        model=FAST_MODEL,
        base_url=server.base_url,
        request={"model": FAST_MODEL},
        quote_usd=0.5,
        output_path=None,
    )
    journal.record_queued("held", queue_id="q-held", download_url=None)
    journal.update("held", worker="studio-2")
    journal.close()
    async with make_gallery() as gallery:
        [job] = (await gallery.http.get("/api/jobs")).json()["jobs"]
        detail = (await gallery.http.get(f"/api/jobs/{job['key']}")).json()
    assert job["worker"] == detail["worker"] == "studio-2"
