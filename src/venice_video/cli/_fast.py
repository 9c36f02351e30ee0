"""The answers the command line gives without loading itself: top-level help and cached listings.

`venice-video --help` and a repeated `venice-video models` are what people type most often
and wait on most visibly, yet the full command line (click, rich, httpx, pydantic, the local
engine) takes ten times longer to import than either needs. This module uses the standard
library only:

- the top-level help is the text click renders at 80 columns, kept in `help.txt` next to
  this file (a test checks it against click's, and `scripts/update-cli-help` rewrites it);
- `models` (without `--refresh` or `--diff`) prints the output of the same command line run
  earlier with the same settings, terminal width and kind of output, if that run is younger
  than the catalog cache's time to live; any other case runs the command in full and keeps
  its output for next time.

Nothing secret is kept: the cache key holds whether an API key is set, never the key.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from typing import Any, TextIO

from .._env import API_KEY_ENV, cache_dir, config_file

__all__ = ["HELP_FILE", "LISTING_TTL_S", "help_text", "recording", "try_fast"]

HELP_FILE = os.path.join(os.path.dirname(__file__), "help.txt")
#: How long a kept listing is shown again: the model catalog cache's time to live.
LISTING_TTL_S = 24 * 3600.0
#: The width click renders help at on any terminal at least this wide.
_HELP_WIDTH = 80
_HELP_ARGS = (["--help"], ["-h"])
#: `models` options that change what is listed, not how: they stay part of the key.
_NOT_CACHED = frozenset({"--refresh", "--diff", "-h", "--help", "--debug"})
_GLOBAL_VALUE_OPTIONS = frozenset({"--base-url", "--journal"})


def help_text() -> str | None:
    """The kept top-level help, or `None` if it is missing."""
    try:
        with open(HELP_FILE, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


def try_fast(args: list[str]) -> bool:
    """Answer `args` from what is kept, if possible; returns whether it did."""
    if args in _HELP_ARGS:
        if _columns() < _HELP_WIDTH:
            return False
        text = help_text()
        if text is None:
            return False
        sys.stdout.write(text)
        sys.stdout.flush()
        return True
    path = _listing_path(args)
    if path is None:
        return False
    import json

    try:
        with open(path, encoding="utf-8") as handle:
            kept = json.load(handle)
        created = float(kept["created"])
        output = str(kept["stdout"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if not 0 <= time.time() - created < LISTING_TTL_S or not _catalog_unchanged(kept):
        return False
    sys.stdout.write(output)
    sys.stdout.flush()
    return True


@contextlib.contextmanager
def recording(args: list[str]) -> Iterator[None]:
    """Run a command, keeping its standard output for `try_fast` if it may and succeeds."""
    path = _listing_path(args)
    if path is None:
        yield
        return
    real = sys.stdout
    tee = _Tee(real)
    sys.stdout = tee
    ok = False
    try:
        yield
        ok = True
    except SystemExit as stop:
        ok = stop.code in (None, 0)
        raise
    finally:
        sys.stdout = real
        if ok:
            _keep(path, tee.getvalue())


# --------------------------------------------------------------------------- the listing cache


def _listing_path(args: list[str]) -> str | None:
    """Where the output of `args` is kept, or `None` if it is not a cacheable listing."""
    command = _command(args)
    if command != "models" or any(a in _NOT_CACHED or a.startswith("--refresh") for a in args):
        return None
    import hashlib
    import json

    config = config_file()
    try:
        with open(config, "rb") as handle:
            config_digest = hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        config_digest = ""
    settings = {
        name: ("set" if name == API_KEY_ENV or "KEY" in name else value)
        for name, value in sorted(os.environ.items())
        if name.startswith("VENICE_") and value
    }
    from .._version import __version__

    key = json.dumps(
        [
            __version__,
            args,
            settings,
            config_digest,
            _columns(),
            sys.stdout.isatty(),
            os.environ.get("NO_COLOR", ""),
            os.environ.get("TERM", ""),
        ]
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    return os.path.join(cache_dir(), "cli", f"listing-{digest}.json")


def _command(args: list[str]) -> str | None:
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in _GLOBAL_VALUE_OPTIONS:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def _catalog_unchanged(kept: dict[str, Any]) -> bool:
    """Whether the catalog cache files are the ones the kept listing was made from."""
    return bool(kept.get("catalogs") == _catalog_stamps())


def _catalog_stamps() -> list[list[Any]]:
    folder = cache_dir()
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
    except OSError:
        return []
    stamps: list[list[Any]] = []
    for name in names:
        with contextlib.suppress(OSError):
            stat = os.stat(os.path.join(folder, name))
            stamps.append([name, stat.st_size, stat.st_mtime_ns])
    return stamps


def _keep(path: str, output: str) -> None:
    """Write the kept listing atomically; a failure only costs the next run its speed."""
    import json
    import tempfile

    record = {"created": time.time(), "stdout": output, "catalogs": _catalog_stamps()}
    folder = os.path.dirname(path)
    with contextlib.suppress(OSError):
        os.makedirs(folder, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".listing-", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(record, out)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise


def _columns() -> int:
    import shutil

    return shutil.get_terminal_size().columns


class _Tee:
    """Standard output that also keeps what is written to it."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._parts: list[str] = []

    def write(self, text: str | bytes) -> int:
        if isinstance(text, bytes):  # click writes bytes through a text stream it wraps
            self._parts.append(text.decode(self._stream.encoding or "utf-8", "replace"))
        else:
            self._parts.append(text)
        return self._stream.write(text)  # type: ignore[arg-type]

    def getvalue(self) -> str:
        return "".join(self._parts)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
