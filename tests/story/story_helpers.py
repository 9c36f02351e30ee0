"""Helpers for the story tests: the example story in a temporary folder, media checks and the
local server's own count of jobs per account."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import av
import numpy as np

from local_checks import frames, local_stats, mean_diff  # noqa: F401  (for the tests)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FRAME = 1 / 24


def copy_example(where: Path) -> Path:
    """The example story (and its pictures and music) copied into `where`; its path."""
    where.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLES / "lighthouse.yaml", where / "lighthouse.yaml")
    shutil.copytree(EXAMPLES / "lighthouse", where / "lighthouse", dirs_exist_ok=True)
    return where / "lighthouse.yaml"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), "utf-8")


def frame_digest(path: Path) -> str:
    """A digest of every decoded picture, in order: equal films show the same frames."""
    digest = hashlib.sha256()
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            for plane in frame.to_ndarray(format="yuv420p"):
                digest.update(np.ascontiguousarray(plane).tobytes())
    return digest.hexdigest()
