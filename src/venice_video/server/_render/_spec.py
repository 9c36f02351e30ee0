"""What to render, what came out, and the error for inputs that cannot be used."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["RenderError", "RenderResult", "RenderSpec", "seeded_rng"]


class RenderError(Exception):
    """An input could not be used: undecodable, empty or too large.

    The message names the input (``field``, e.g. ``"image"`` or ``"reference_images[1]"``) and
    says why. Bad :class:`RenderSpec` values themselves raise :class:`ValueError`.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class RenderSpec:
    """What to render. Equal specs render identical frames.

    ``width``, ``height`` and ``duration_s`` are followed exactly (odd sizes are rounded down to
    even, as yuv420p needs), except for an upscale (``video`` with ``upscale_factor``), whose
    size, rate and length come from the input video.
    """

    width: int
    height: int
    duration_s: float
    prompt: str = ""
    seed: int = 0
    fps: int = 24
    audio: bool = False
    image: bytes | None = None
    end_image: bytes | None = None
    audio_track: bytes | None = None
    video: bytes | None = None
    upscale_factor: int | None = None
    reference_images: tuple[bytes, ...] = ()
    scene_images: tuple[bytes, ...] = ()
    element_images: tuple[bytes, ...] = ()
    caption: bool = True


@dataclass(frozen=True)
class RenderResult:
    """What :func:`render` wrote."""

    path: Path
    width: int
    height: int
    duration_s: float
    frames: int
    has_audio: bool
    size_bytes: int


def seeded_rng(spec: RenderSpec, salt: str) -> np.random.Generator:
    """A random generator that depends only on the spec's seed and prompt, and `salt`."""
    digest = hashlib.sha256(f"{spec.seed}\0{spec.prompt}\0{salt}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))
