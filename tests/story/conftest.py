"""Story fixtures: the example story copied into this test's folder, and a sync client on the
shared local server with this test's key and journal (root `conftest.py`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from story_helpers import copy_example

from venice_video import VeniceVideo
from venice_video.server import ServerThread


@pytest.fixture
def story_file(tmp_path: Path) -> Path:
    return copy_example(tmp_path / "story")


@pytest.fixture
def venice(server: ServerThread, api_key: str, tmp_path: Path) -> Iterator[VeniceVideo]:
    """A client that trusts the local server's Idempotency-Key handling, as the CLI does."""
    with VeniceVideo(
        api_key=api_key,
        base_url=server.base_url,
        journal=tmp_path / "journal.sqlite3",
        cache_dir=False,
        idempotent_queue_retries=True,
    ) as client:
        yield client
