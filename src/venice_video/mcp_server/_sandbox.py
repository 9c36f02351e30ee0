"""The one directory the MCP tools may read from and write to.

Every path a model hands over goes through `Sandbox`: relative paths are taken from the root,
`..` is refused outright (even when it would land back inside), and the path is resolved, so a
symlink that leads out of the root is refused too. URLs (`http(s)://`, `data:`) are not paths
and pass through untouched; the API fetches them, not this process.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path, PurePath

__all__ = ["VIDEO_SUFFIX", "Sandbox", "SandboxError"]

VIDEO_SUFFIX = ".mp4"
#: Where videos go when the model names no output.
DEFAULT_OUTPUT_DIR = "videos"
_URL_PREFIXES = ("http://", "https://", "data:")


class SandboxError(Exception):
    """A path the model gave is outside the allowed directory, or unusable there.

    Attributes:
        field: the tool argument that held the path.
        path: the path as given.
        reason: what is wrong, in one sentence.
        fix: what to send instead.
    """

    def __init__(self, field: str, path: str, reason: str, fix: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.path = path
        self.reason = reason
        self.fix = fix


class Sandbox:
    """Checks and resolves the paths of one server, all under `root`.

    Args:
        root: the allowed directory; created if missing.
    """

    def __init__(self, root: str | PurePath) -> None:
        path = Path(root).expanduser()
        path.mkdir(parents=True, exist_ok=True)
        self.root = path.resolve(strict=True)

    # ------------------------------------------------------------------ inputs

    def media(self, value: str, field: str) -> str | Path:
        """A media argument: a URL as it is, or a local file inside the root."""
        if value.startswith(_URL_PREFIXES):
            return value
        if value.startswith("file:"):
            raise SandboxError(
                field, value, "file: URLs are not accepted.",
                "Give the path relative to the allowed directory, e.g. 'inputs/frame.png'.",
            )  # fmt: skip
        return self.input_file(value, field)

    def input_file(self, value: str, field: str) -> Path:
        """A local file to read; it must exist inside the root."""
        path = self._inside(value, field)
        if not path.is_file():
            raise SandboxError(
                field,
                value,
                f"there is no file {self.show(path)!r} in the allowed directory.",
                "Check the name; paths are relative to the allowed directory "
                "(list_jobs shows where videos were saved).",
            )
        return path

    # ------------------------------------------------------------------ outputs

    def output_file(
        self,
        value: str | None,
        default_name: str,
        *,
        overwrite: bool = False,
        taken: Collection[Path] = (),
    ) -> Path:
        """Where to save a video: `videos/<default_name>` unless the model named a file.

        A name without a suffix gets `.mp4`; a directory gets `default_name` inside it. An
        existing file is refused unless `overwrite`, and so is a path another job will write.
        """
        if value is None or not value.strip():
            path = self.root / DEFAULT_OUTPUT_DIR / default_name
        else:
            path = self._inside(value, "output")
            if path.is_dir() or value.endswith(("/", "\\")):
                path = path / default_name
            elif path.suffix == "":
                path = path.with_suffix(VIDEO_SUFFIX)
        shown = value or self.show(path)
        if path.suffix.lower() != VIDEO_SUFFIX:
            raise SandboxError(
                "output",
                shown,
                f"videos are saved as {VIDEO_SUFFIX} files, not {path.suffix!r}.",
                f"Use a name ending in {VIDEO_SUFFIX}, e.g. 'videos/clip.mp4'.",
            )
        if path in taken:
            raise SandboxError(
                "output",
                shown,
                "another job is already writing this file.",
                "Choose another name, or leave output out for a fresh one.",
            )
        if path.exists() and not overwrite:
            raise SandboxError(
                "output",
                shown,
                f"{self.show(path)!r} already exists.",
                "Choose another name, leave output out for a fresh one, "
                "or pass overwrite=true to replace it.",
            )
        return path

    # ------------------------------------------------------------------ shared

    def show(self, path: Path) -> str:
        """A path as the model should see it: relative to the root when inside it."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def contains(self, path: str | PurePath) -> bool:
        """Whether `path` resolves to somewhere inside the root."""
        return Path(path).resolve().is_relative_to(self.root)

    def _inside(self, value: str, field: str) -> Path:
        if not value.strip() or "\x00" in value:
            raise SandboxError(
                field, value, "the path is empty or malformed.",
                "Give a path relative to the allowed directory, e.g. 'videos/clip.mp4'.",
            )  # fmt: skip
        given = Path(value)
        if ".." in given.parts:
            raise SandboxError(
                field,
                value,
                "'..' is not allowed in paths.",
                "Give a path inside the allowed directory, without '..'.",
            )
        candidate = given if given.is_absolute() else self.root / given
        resolved = candidate.resolve(strict=False)
        if not resolved.is_relative_to(self.root):
            lexical = Path(*candidate.parts).is_relative_to(self.root)
            reason = (
                "it goes through a symlink that leads outside the allowed directory."
                if lexical
                else "it is outside the allowed directory."
            )
            raise SandboxError(
                field,
                value,
                reason,
                "Use a path relative to the allowed directory, e.g. 'videos/clip.mp4'.",
            )
        return resolved
