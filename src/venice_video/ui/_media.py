"""What the gallery reads from video files: a quick probe, a poster frame, a WebM preview.

The media work itself is `venice_video.media`'s (PyAV and Pillow, imported lazily): without
them the gallery still lists and plays videos, with no poster and no preview. Posters and
previews are cached on disk under names derived from the file's size and modification time,
so a changed file gets fresh ones and an unchanged one is never decoded twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import media

__all__ = ["MediaCache", "Probe", "video_mime"]

logger = logging.getLogger("venice_video.ui")

_MIME_BY_SUFFIX = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
}
#: The largest side of a poster, in pixels.
POSTER_SIZE = 640
# How far into a clip the poster is taken from: early enough to be cheap to reach by
# decoding, late enough to skip a fade-in.
_POSTER_AT_S = 1.0
_POSTER_AT_FRACTION = 0.4


def video_mime(path: Path) -> str | None:
    """The media type of a video file by its name, or `None` if it is not one the page plays."""
    return _MIME_BY_SUFFIX.get(path.suffix.lower())


@dataclass(frozen=True)
class Probe:
    """What a video file holds, as read from its container (nothing decoded)."""

    duration_s: float | None
    width: int | None
    height: int | None
    video_codec: str | None
    audio_codec: str | None
    #: The `type` of a `<source>` element, with codecs when known, e.g.
    #: `video/mp4; codecs="avc1.64001e, mp4a.40.2"`.
    source_type: str


def _stamp(path: Path) -> tuple[str, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (str(path), stat.st_size, stat.st_mtime_ns)


def _name(key: str, stamp: tuple[str, int, int], suffix: str) -> str:
    digest = hashlib.sha256(f"{key}\0{stamp[0]}".encode()).hexdigest()[:32]
    return f"{digest}-{stamp[1]}-{stamp[2]}{suffix}"


class MediaCache:
    """Probes, posters and previews of video files, cached by file size and mtime.

    Args:
        directory: where posters and previews are kept (created on first use).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._probes: dict[tuple[str, int, int], Probe | None] = {}
        self._lock = threading.Lock()
        self._building: dict[str, threading.Lock] = {}

    # ------------------------------------------------------------------ probing

    def cached_probe(self, path: Path) -> Probe | None:
        """The probe of `path` if it was already read; never touches the file's content."""
        stamp = _stamp(path)
        if stamp is None:
            return None
        with self._lock:
            return self._probes.get(stamp)

    def probe(self, path: Path) -> Probe | None:
        """Duration, size and codecs of `path`, or `None` if it cannot be read."""
        stamp = _stamp(path)
        if stamp is None:
            return None
        with self._lock:
            if stamp in self._probes:
                return self._probes[stamp]
        found = _read_probe(path)
        with self._lock:
            self._probes[stamp] = found
        return found

    # ------------------------------------------------------------------ derived files

    def _guard(self, name: str) -> threading.Lock:
        with self._lock:
            return self._building.setdefault(name, threading.Lock())

    def _derived(self, key: str, path: Path, folder: str, suffix: str, build: Any) -> Path | None:
        stamp = _stamp(path)
        if stamp is None:
            return None
        target = self.directory / folder / _name(key, stamp, suffix)
        if target.exists():
            return target
        with self._guard(target.name):
            if target.exists():
                return target
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=suffix)
            os.close(fd)
            try:
                build(path, Path(tmp))
                os.replace(tmp, target)
            except Exception as exc:  # PyAV and Pillow raise many kinds
                logger.info("could not make the %s of %s: %s", folder, path, exc)
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                return None
        self._prune(key, path, folder, keep=target)
        return target

    def _prune(self, key: str, path: Path, folder: str, *, keep: Path) -> None:
        # Older versions of the same file's poster or preview are of no further use.
        prefix = keep.name.split("-", 1)[0] + "-"
        with contextlib.suppress(OSError):
            for old in (self.directory / folder).glob(prefix + "*"):
                if old != keep:
                    old.unlink(missing_ok=True)

    def poster(self, key: str, path: Path) -> Path | None:
        """A JPEG frame of the video (at most `POSTER_SIZE` pixels a side), or `None`."""
        return self._derived(key, path, "posters", ".jpg", _write_poster)

    def preview(self, key: str, path: Path) -> Path | None:
        """The video re-encoded as WebM (VP8, Opus), for browsers that cannot play H.264."""
        stamp = _stamp(path)
        if stamp is None:
            return None
        if path.suffix.lower() == ".webm":
            return path
        return self._derived(key, path, "previews", ".webm", _write_preview)

    def forget(self, key: str, path: Path) -> None:
        """Remove the poster and preview of a file (it was deleted)."""
        digest = hashlib.sha256(f"{key}\0{path}".encode()).hexdigest()[:32]
        for folder in ("posters", "previews"):
            with contextlib.suppress(OSError):
                for old in (self.directory / folder).glob(digest + "-*"):
                    old.unlink(missing_ok=True)


# --------------------------------------------------------------------------- media work


def _read_probe(path: Path) -> Probe | None:
    mime = video_mime(path)
    if mime is None:
        return None
    try:
        info = media.probe(path)
    except ImportError:
        return Probe(None, None, None, None, None, mime)
    except Exception as exc:  # MediaError, and whatever else a broken file raises
        logger.info("could not probe %s: %s", path, exc)
        return None
    has_video = info.video_codec is not None
    return Probe(
        duration_s=round(info.duration_s, 3) if info.duration_s else None,
        width=info.width if has_video else None,
        height=info.height if has_video else None,
        video_codec=info.video_codec,
        audio_codec=info.audio_codec,
        source_type=f'{mime}; codecs="{info.codecs}"' if info.codecs else mime,
    )


def _write_poster(path: Path, target: Path) -> None:
    duration = media.probe(path).duration_s
    at = min(_POSTER_AT_S, duration * _POSTER_AT_FRACTION) if duration > 0 else 0.0
    image = media.frame_at(path, at).image
    image.thumbnail((POSTER_SIZE, POSTER_SIZE))
    image.convert("RGB").save(target, format="JPEG", quality=82, optimize=True)


def _write_preview(path: Path, target: Path) -> None:
    media.webm_preview(path, target)
