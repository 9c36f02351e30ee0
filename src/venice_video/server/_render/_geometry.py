"""Output sizes: Venice's resolution and aspect-ratio labels as even pixel dimensions."""

from __future__ import annotations

from typing import Final

from ._decode import open_image

__all__ = [
    "ASPECT_RATIOS",
    "MAX_SIDE",
    "RESOLUTIONS",
    "dimensions_for",
    "dimensions_for_image",
    "even",
]

#: Short side in pixels for each Venice resolution label (matched case-insensitively).
RESOLUTIONS: Final[dict[str, int]] = {
    "256p": 256,
    "360p": 360,
    "480p": 480,
    "540p": 540,
    "580p": 580,
    "720p": 720,
    "768p": 768,
    "1080p": 1080,
    "true_1080p": 1080,
    "1440p": 1440,
    "2k": 1440,
    "2160p": 2160,
    "4k": 2160,
}
_UPSCALE_LABELS: Final = frozenset({"2x", "4x"})
_DEFAULT_RESOLUTION: Final = "720p"

#: Width:height of each Venice aspect-ratio label.
#: Width:height of each Venice aspect-ratio label.
ASPECT_RATIOS: Final[dict[str, tuple[int, int]]] = {
    "1:1": (1, 1),
    "2:3": (2, 3),
    "3:2": (3, 2),
    "3:4": (3, 4),
    "4:3": (4, 3),
    "4:5": (4, 5),
    "5:4": (5, 4),
    "9:16": (9, 16),
    "9:21": (9, 21),
    "16:9": (16, 9),
    "21:9": (21, 9),
}
_AUTO_ASPECTS: Final = frozenset({"", "auto", "adaptive"})
MAX_SIDE: Final = 8192


def even(x: float) -> int:
    return max(2, 2 * round(x / 2))


def short_side(resolution: str | None) -> int:
    label = (resolution or _DEFAULT_RESOLUTION).strip().lower()
    if label in _UPSCALE_LABELS:
        raise ValueError(
            f"resolution {resolution!r} is an upscale factor, not a frame size: "
            "the output size follows the input video"
        )
    try:
        return RESOLUTIONS[label]
    except KeyError:
        known = ", ".join([*RESOLUTIONS, *sorted(_UPSCALE_LABELS)])
        raise ValueError(f"unknown resolution {resolution!r}; expected one of {known}") from None


def size_for_ratio(short: int, ratio: float) -> tuple[int, int]:
    if ratio >= 1:
        return even(short * ratio), even(short)
    return even(short), even(short / ratio)


def dimensions_for(resolution: str | None, aspect_ratio: str | None) -> tuple[int, int]:
    """Output ``(width, height)`` for a Venice resolution label and aspect ratio.

    The resolution is the short side (``"480p"`` with ``"16:9"`` gives 854x480, with ``"9:16"``
    480x854); ``"4k"`` is 2160, ``"2K"`` 1440, ``"768P"`` 768, ``"true_1080p"`` 1080, and
    ``None`` means 720p. A missing, ``"auto"`` or ``"adaptive"`` aspect ratio means 16:9. Both
    numbers are even.

    Raises:
        ValueError: for an unknown label, and for the upscale labels ``"2x"``/``"4x"``, whose
            size depends on the input video.
    """
    short = short_side(resolution)
    label = (aspect_ratio or "").strip().lower()
    if label in _AUTO_ASPECTS:
        aw, ah = 16, 9
    else:
        try:
            aw, ah = ASPECT_RATIOS[label]
        except KeyError:
            known = ", ".join([*ASPECT_RATIOS, "auto", "adaptive"])
            raise ValueError(
                f"unknown aspect ratio {aspect_ratio!r}; expected one of {known}"
            ) from None
    return size_for_ratio(short, aw / ah)


def dimensions_for_image(resolution: str | None, image: bytes) -> tuple[int, int]:
    """Output ``(width, height)`` that keeps ``image``'s own aspect ratio (for ``"auto"``).

    The ratio is clamped to 1:2.5 .. 2.5:1, the range Venice accepts for input images.

    Raises:
        ValueError: as :func:`dimensions_for` does for the resolution.
        RenderError: when ``image`` cannot be read.
    """
    short = short_side(resolution)
    img = open_image(image, "image")
    ratio = min(2.5, max(0.4, img.width / img.height))
    return size_for_ratio(short, ratio)
