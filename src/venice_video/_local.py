"""The embedded local engine: one per data folder, started here or reused, known by its folder.

The local engine is the local Venice-compatible server (the `[server]` extra) running on a
background thread of the process that needs it. Its jobs and media live in a data folder,
and that folder, not its port, is what identifies it: its journal entries carry the API id
`local-engine:<folder>`, so a job queued while the engine listened on one port is resumed
when it listens on another.

Only one engine serves a folder at a time. The first process to need it becomes its *owner*
(it holds `engine.lock` and writes `engine.json` with its address); every other process that
needs the same folder meanwhile is a *guest*: it reads the address and uses that engine,
holding a shared lock on `engine.users` while it does. An owner that is done waits for its
guests before it stops the engine, so a command never loses its engine mid-job.

```python
from venice_video import VeniceVideo

with VeniceVideo.local() as client:      # starts the engine, or reuses a running one
    client.generate(model="wan-3-0-text-to-video", prompt="A fox", duration="5s",
                    resolution="480p", output="fox.mp4")
```
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final, TypeVar

import httpx

from ._config import LOCAL_ENGINE_API_PREFIX

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_SPEED",
    "LOCAL_ENGINE_KEY",
    "LocalEngine",
    "acquire",
    "default_dir",
    "engine_api_id",
    "local_client",
]

logger = logging.getLogger("venice_video")

#: The key clients present to the engine. Not a secret: it listens on loopback only.
LOCAL_ENGINE_KEY: Final = "local-engine"
#: The port an owner tries first (any free port when it is taken).
DEFAULT_PORT: Final = 47615
#: How much faster than real time the engine's simulated jobs run.
DEFAULT_SPEED: Final = 30.0
_INFO: Final = "engine.json"
_LOCK: Final = "engine.lock"
_USERS: Final = "engine.users"
#: How long a guest waits for a starting owner to publish its address.
_GUEST_WAIT_S: Final = 30.0

C = TypeVar("C")


def default_dir() -> Path:
    """Where the engine keeps its jobs and media between commands (the user data folder)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("venice-video")) / "local-engine"


def engine_api_id(data_dir: Path) -> str:
    """The API id of the engine serving `data_dir`, as journal entries record it."""
    return f"{LOCAL_ENGINE_API_PREFIX}{data_dir.expanduser().resolve()}"


@dataclass
class LocalEngine:
    """A running engine this process may use until `close()`.

    Attributes:
        data_dir: the folder that identifies it.
        base_url: its API root, `http://127.0.0.1:PORT/api/v1`.
        api_id: `local-engine:<folder>`, for the journal.
        api_key: the key to present.
        owner: this process runs it (otherwise another process does, and this one is a
            guest).
    """

    data_dir: Path
    base_url: str
    api_id: str
    api_key: str = LOCAL_ENGINE_KEY
    owner: bool = False
    _server: Any = field(default=None, repr=False)
    _lock: IO[bytes] | None = field(default=None, repr=False)
    _users: IO[bytes] | None = field(default=None, repr=False)
    _on_wait: Callable[[], None] | None = field(default=None, repr=False)

    def close(self) -> None:
        """Stop using the engine; an owner first waits for its guests, then stops it."""
        users, self._users = self._users, None
        lock, self._lock = self._lock, None
        server, self._server = self._server, None
        try:
            if self.owner and users is not None and not _flock(users, exclusive=True):
                if self._on_wait is not None:
                    self._on_wait()
                try:
                    _flock(users, exclusive=True, wait=True)
                except KeyboardInterrupt:
                    pass  # asked to stop now: the guests' jobs stay journaled
        finally:
            if server is not None:
                with contextlib.suppress(OSError):
                    (self.data_dir / _INFO).unlink()
                server.stop()
            for handle in (lock, users):
                if handle is not None:
                    handle.close()

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def acquire(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    speed: float = DEFAULT_SPEED,
    port: int = DEFAULT_PORT,
    on_wait: Callable[[], None] | None = None,
) -> LocalEngine:
    """The engine serving `data_dir`: reused if one runs, else started on this process.

    Args:
        data_dir: the engine's folder; by default `default_dir()`.
        speed: server time per real second, for an engine started here.
        port: the port to try first, for an engine started here (any free port if taken).
        on_wait: called when this process owns the engine and, on `close()`, must wait for
            other processes still using it.

    Raises:
        ImportError: the `[server]` extra is not installed.
    """
    try:
        from .server import ServerConfig, ServerThread
    except ImportError as exc:
        raise ImportError(
            "the local engine needs the [server] extra: pip install 'venice-video[server]'"
        ) from exc
    folder = Path(data_dir).expanduser() if data_dir is not None else default_dir()
    folder.mkdir(parents=True, exist_ok=True)
    api_id = engine_api_id(folder)
    users = (folder / _USERS).open("a+b")
    try:
        # Shared: several guests at once. Waits while an owner is shutting down.
        _flock(users, exclusive=False, wait=True)
        lock = (folder / _LOCK).open("a+b")
        if not _flock(lock, exclusive=True):
            lock.close()
            base_url = _wait_for_owner(folder)
            logger.info("using the local engine of another process at %s", base_url)
            return LocalEngine(folder, base_url, api_id, owner=False, _users=users)
    except BaseException:
        users.close()
        raise
    # This process owns the folder now. An address left by an owner that died is stale.
    with contextlib.suppress(OSError):
        (folder / _INFO).unlink()
    _unlock(users)
    try:
        config = ServerConfig(data_dir=folder, speed=speed)
        # The usual port may be taken (by something else): then any free port will do.
        try:
            if not _port_free(port):
                raise OSError(f"port {port} is taken")
            server = ServerThread(config, port=port).start()
        except (OSError, RuntimeError):
            server = ServerThread(config, port=0).start()
        _write_info(folder, server.base_url)
    except BaseException:
        lock.close()
        users.close()
        raise
    return LocalEngine(
        folder, server.base_url, api_id, owner=True,
        _server=server, _lock=lock, _users=users, _on_wait=on_wait,
    )  # fmt: skip


def local_client(cls: Callable[..., C], /, **kwargs: Any) -> C:
    """A client of class `cls` on the local engine (see `VeniceVideo.local`)."""
    speed, port = kwargs.pop("speed", None), kwargs.pop("port", None)
    engine = acquire(
        kwargs.pop("data_dir", None),
        speed=DEFAULT_SPEED if speed is None else speed,
        port=DEFAULT_PORT if port is None else port,
    )
    # The engine honours Idempotency-Key: an unknown queue outcome is settled by asking again.
    kwargs.setdefault("idempotent_queue_retries", True)
    try:
        client = cls(api_key=engine.api_key, base_url=engine.base_url, api_id=engine.api_id,
                     **kwargs)  # fmt: skip
    except BaseException:
        engine.close()
        raise
    client._closers.append(engine.close)  # type: ignore[attr-defined]
    return client


# ------------------------------------------------------------------------------ internals


def _wait_for_owner(folder: Path) -> str:
    """The address the owner published, once its engine answers."""
    deadline = time.monotonic() + _GUEST_WAIT_S
    while True:
        info = _read_info(folder)
        if info is not None and _answers(info):
            return info
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"another process holds the local engine of {folder} but it does not answer; "
                f"stop that process, or remove {folder / _LOCK} if none is running"
            )
        time.sleep(0.05)


def _read_info(folder: Path) -> str | None:
    try:
        data = json.loads((folder / _INFO).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    url = data.get("base_url") if isinstance(data, dict) else None
    pid = data.get("pid") if isinstance(data, dict) else None
    if not isinstance(url, str) or not isinstance(pid, int) or not _alive(pid):
        return None
    return url


def _write_info(folder: Path, base_url: str) -> None:
    path = folder / _INFO
    temporary = path.with_name(f".{_INFO}.{os.getpid()}")
    temporary.write_text(json.dumps({"base_url": base_url, "pid": os.getpid()}), "utf-8")
    os.replace(temporary, path)


def _answers(base_url: str) -> bool:
    root = base_url.removesuffix("/api/v1")
    try:
        return httpx.get(f"{root}/_local/ping", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def _port_free(port: int) -> bool:
    if port == 0:
        return True
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _flock(handle: IO[bytes], *, exclusive: bool, wait: bool = False) -> bool:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: each process runs its own engine
        return True
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    try:
        fcntl.flock(handle.fileno(), mode if wait else mode | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(handle: IO[bytes]) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return
    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
