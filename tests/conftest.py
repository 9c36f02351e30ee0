"""Shared fixtures: the local Venice-compatible server over real loopback HTTP.

- `server`: one uvicorn server for the whole session (a `ServerThread` on 127.0.0.1 and a free
  port), with a temporary data directory and server time running 1000x faster, so a job that
  reports two minutes of execution is ready in about 120 ms plus its render. It accepts any
  non-empty Bearer key as its own account with $100.
- `server_factory`: starts a fresh server for one test, for special settings (faults, accounts,
  capacity, a `ManualClock`...); stopped at the end of the test.
- `api_key`: a key unique to the test, so every test starts with its own $100 account.
- `auth_headers`, `client`: an `httpx.Client` aimed at `server.base_url` with that key.

```python
def test_something(client):
    assert client.get("/models", params={"type": "video"}).status_code == 200

def test_with_faults(server_factory, api_key):
    server = server_factory(faults={"endpoints": {"queue": {"error_500": 1.0}}})
```
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from venice_video.server import Clock, ServerConfig, ServerThread

#: Server time per real second in the shared server and, by default, in fresh ones.
TEST_SPEED = 1000.0

ServerFactory = Callable[..., ServerThread]


@pytest.fixture(scope="session", autouse=True)
def _own_cache_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The catalog and quote caches of this run, not the user's (another run's catalog, of
    another server on the same port, would otherwise be read as this one's)."""
    patch = pytest.MonkeyPatch()
    patch.setenv("VENICE_VIDEO_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    yield
    patch.undo()


@pytest.fixture(autouse=True)
def _own_working_folder(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test runs in a folder of its own: a job given no `output` writes there (and an
    unfinished one leaves its reserving `.part` there), not in the checkout."""
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """The session's shared local server (speed 1000, open accounts, no faults)."""
    config = ServerConfig(data_dir=tmp_path_factory.mktemp("server"), speed=TEST_SPEED)
    with ServerThread(config) as running:
        yield running


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[ServerFactory]:
    """Start fresh servers for this test: `server_factory(config=None, *, clock=None, **fields)`.

    Keyword fields are `ServerConfig` fields applied on top of `config` (default: a data
    directory under `tmp_path` and speed 1000). Each server is stopped when the test ends.
    """
    started: list[ServerThread] = []

    def make(
        config: ServerConfig | None = None, *, clock: Clock | None = None, **fields: Any
    ) -> ServerThread:
        base: dict[str, Any] = {
            "data_dir": tmp_path / f"server-{len(started)}",
            "speed": TEST_SPEED,
        }
        if config is not None:
            base.update(config.model_dump(exclude_unset=True))
        base.update(fields)
        running = ServerThread(ServerConfig.model_validate(base), clock=clock).start()
        started.append(running)
        return running

    yield make
    for running in reversed(started):
        running.stop()


@pytest.fixture
def api_key() -> str:
    """A Bearer key no other test uses: a fresh account with the starting balance."""
    return f"test-{uuid.uuid4().hex}"


@pytest.fixture
def auth_headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


@pytest.fixture
def client(server: ServerThread, auth_headers: dict[str, str]) -> Iterator[httpx.Client]:
    """An httpx client for the shared server's API base, authenticated as `api_key`."""
    with httpx.Client(base_url=server.base_url, headers=auth_headers, timeout=30) as http:
        yield http
