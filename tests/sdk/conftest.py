"""SDK fixtures: clients wired to the shared local server (root `conftest.py`).

- `venice` / `async_venice`: a `VeniceVideo` / `AsyncVeniceVideo` on the session server,
  with this test's key, a journal and a model cache under `tmp_path`.
- `tiny_mp4`: a real, complete little clip for fake answers.

Fakes for single edge cases (`FakeAPI`, `FakeClock`) live in `sdk_helpers.py`.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from venice_video import AsyncVeniceVideo, VeniceVideo
from venice_video.server import ServerThread


@pytest.fixture
def venice(server: ServerThread, api_key: str, tmp_path: Path) -> Iterator[VeniceVideo]:
    """The sync client on the shared local server."""
    with VeniceVideo(
        api_key=api_key,
        base_url=server.base_url,
        journal=tmp_path / "journal.sqlite3",
        cache_dir=tmp_path / "cache",
        rand=random.Random(0).random,
    ) as client:
        yield client


@pytest.fixture
async def async_venice(
    server: ServerThread, api_key: str, tmp_path: Path
) -> AsyncIterator[AsyncVeniceVideo]:
    """The async client on the shared local server."""
    async with AsyncVeniceVideo(
        api_key=api_key,
        base_url=server.base_url,
        journal=tmp_path / "journal.sqlite3",
        cache_dir=tmp_path / "cache",
        rand=random.Random(0).random,
    ) as client:
        yield client


@pytest.fixture(scope="session")
def tiny_mp4(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real, complete 0.5 s H.264 clip (64x64), small enough to inline in fake answers."""
    av = pytest.importorskip("av")
    np = pytest.importorskip("numpy")
    path = tmp_path_factory.mktemp("media") / "tiny.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
        for i in range(12):
            frame = av.VideoFrame.from_ndarray(
                np.full((64, 64, 3), i * 20, dtype=np.uint8), format="rgb24"
            )
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path.read_bytes()
