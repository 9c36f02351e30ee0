"""Finding a story in the journal: its shots' entries grouped by story, and the film and
manifest they lead to.

A shot's entry carries the tags `story` (the story's id), `story_title`, `story_shot` and
`story_film` (the film's path; for entries written before that tag, the film is found from the
shot's own file, saved in `<film>.shots/`). A film is served only when a manifest of the same
story names it, and only if it is a video file.

A story is one card in the gallery: its shots are listed among the videos only when asked for,
or when one needs the user (`attention`): a failed shot with no newer take, one whose queue
outcome is unknown, and an unfinished one the gallery is not rendering.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..journal import JournalEntry
from ._media import video_mime
from ._views import state_of, story_of

__all__ = ["Found", "attention", "find", "group", "served"]

_SHOTS_SUFFIX = ".shots"


def _manifest_path(entry: JournalEntry) -> Path | None:
    """Where the manifest of the film this shot was rendered for is."""
    from ..story import manifest_path_for

    film = entry.tags.get("story_film")
    if isinstance(film, str) and film:
        return manifest_path_for(Path(film))
    if entry.output_path:
        shots = Path(entry.output_path).parent
        if shots.name.endswith(_SHOTS_SUFFIX) and len(shots.name) > len(_SHOTS_SUFFIX):
            return shots.with_name(shots.name[: -len(_SHOTS_SUFFIX)] + ".film.json")
    return None


@dataclass
class Found:
    """A story as the journal and its film's manifest know it."""

    id: str
    title: str
    #: Its shots' journal entries, newest first.
    entries: list[JournalEntry]
    manifest_path: Path | None = None
    manifest: dict[str, Any] | None = None

    @property
    def home(self) -> Path | None:
        return self.manifest_path.parent if self.manifest_path is not None else None

    def recorded(self, name: str) -> Path | None:
        """A file the manifest's `film` record names (`path`, `vtt`), as an absolute path."""
        film = (self.manifest or {}).get("film") or {}
        value = film.get(name) if isinstance(film, dict) else None
        if not isinstance(value, str) or not value or self.home is None:
            return None
        return (self.home / value).absolute()

    @property
    def film(self) -> Path | None:
        """The film the manifest names, if it is the film beside that manifest (the one the
        journal's shots were rendered for)."""
        from ..story import manifest_path_for

        path = self.recorded("path")
        if path is None or manifest_path_for(path) != self.manifest_path:
            return None
        return path

    @property
    def captions(self) -> Path | None:
        """The film's WebVTT captions, beside it, when the manifest names them."""
        film, vtt = self.film, self.recorded("vtt")
        return vtt if film is not None and vtt == film.with_suffix(".vtt") else None

    @property
    def film_ready(self) -> bool:
        """The manifest says the film is assembled, and it is there."""
        manifest = self.manifest or {}
        return manifest.get("status") == "done" and served(self.film, video=True) is not None

    def in_film(self, entry: JournalEntry) -> bool | None:
        """Whether this take of a shot is the one in the film (`None` when there is no film
        manifest yet)."""
        records = (self.manifest or {}).get("shots")
        if not isinstance(records, list):
            return None
        return any(isinstance(r, dict) and r.get("key") == entry.key for r in records)

    @property
    def source(self) -> Path | None:
        """The story file, as the manifest records it."""
        value = (self.manifest or {}).get("story")
        return Path(value) if isinstance(value, str) and value else None


def served(path: Path | None, *, video: bool) -> Path | None:
    """`path` resolved, when it is a regular file the gallery may serve (a video, or the
    captions beside one)."""
    if path is None:
        return None
    if video and video_mime(path) is None:
        return None
    if not video and path.suffix.lower() != ".vtt":
        return None
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not real.is_file() or (video and video_mime(real) is None):
        return None
    return real


def group(entries: list[JournalEntry]) -> dict[str, list[JournalEntry]]:
    """Journal entries by story id (newest first within each), for entries of a story."""
    found: dict[str, list[JournalEntry]] = {}
    for entry in entries:
        story = story_of(entry)
        if story is not None:
            found.setdefault(story, []).append(entry)
    return found


def attention(entry: JournalEntry, takes: Iterable[JournalEntry], *, followed: bool) -> str | None:
    """Why a story's shot needs the user, and so is listed among the videos too; `None` when
    its story's card is enough.

    `takes`: the story's entries; `followed`: whether this gallery is rendering the story now.
    A failed shot needs the user until a newer take of it is made; one whose queue outcome is
    unknown always (it may have been paid for); an unfinished one while the gallery is not
    rendering its story (its card among the videos offers Resume when the gallery can follow it).
    """
    state = state_of(entry.status)
    if state == "unknown":
        return "its queue outcome is unknown"
    if state == "failed":
        number = entry.tags.get("story_shot")
        newer = any(
            t.tags.get("story_shot") == number
            and (t.created_at, t.key) > (entry.created_at, entry.key)
            for t in takes
        )
        return None if newer else "it failed, and there is no newer take of the shot"
    if state in ("queueing", "running", "downloading") and not followed:
        return "it is unfinished, and this gallery is not rendering its story"
    return None


def find(story: str, entries: list[JournalEntry]) -> Found:
    """The story's film manifest, from the newest of its shots that leads to one of its own."""
    from ..story import read_manifest

    entries = sorted(entries, key=lambda e: (e.created_at, e.key), reverse=True)
    title = next((str(e.tags["story_title"]) for e in entries if e.tags.get("story_title")), "")
    found = Found(story, title or story, entries)
    seen: set[Path] = set()
    for entry in entries:
        path = _manifest_path(entry)
        if path is None or path in seen:
            continue
        seen.add(path)
        manifest = read_manifest(path)
        if manifest is not None and manifest.get("story_id") == story:
            found.manifest_path, found.manifest = path, manifest
            found.title = str(manifest.get("title") or found.title)
            break
    return found
