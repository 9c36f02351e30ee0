"""Overlays drawn over every frame: the caption, the label, reference and element images."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Final

from PIL import Image, ImageDraw, ImageFont, ImageOps

from ._decode import cover, open_image
from ._planes import Planes, Sprite
from ._spec import RenderSpec, seeded_rng

__all__ = ["LABEL_TEXT", "Overlay", "overlays"]

LABEL_TEXT: Final = "venice-video local engine - placeholder"

#: Draws onto frame i of n.
Overlay = Callable[[Planes, int, int], None]

_CAPTION_FADE_S: Final = 0.25


def n_frames(spec: RenderSpec) -> int:
    """How many frames a generated clip of ``spec`` has."""
    return max(1, round(spec.duration_s * spec.fps))


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Loading is cheap (well under a millisecond), and a font object per render keeps
    # concurrent renders from sharing one FreeType face, which is not thread-safe.
    return ImageFont.load_default(size=size)


def _wrap(
    text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: float, max_lines: int
) -> list[str]:
    words = text.split()
    lines: list[str] = []
    line = ""
    for word in words:
        candidate = f"{line} {word}" if line else word
        if font.getlength(candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        while font.getlength(word) > width and len(word) > 1:  # a word wider than a line
            cut = len(word)
            while cut > 1 and font.getlength(word[:cut]) > width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    if line:
        lines.append(line)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and font.getlength(last + "...") > width:
            last = last[:-1]
        lines[-1] = last.rstrip() + "..."
    return lines


def _text_box(lines: Sequence[str], size: int, pad: int, opacity: int) -> Image.Image:
    font = _font(size)
    gap = max(2, size // 4)
    widths = [font.getlength(line) for line in lines]
    box_w = int(max(widths)) + 2 * pad
    box_h = len(lines) * size + (len(lines) - 1) * gap + 2 * pad
    img = Image.new("RGBA", (box_w + box_w % 2, box_h + box_h % 2), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((0, 0, box_w - 1, box_h - 1), radius=pad, fill=(8, 8, 12, opacity))
    for k, line in enumerate(lines):
        x = (box_w - widths[k]) / 2
        draw.text(
            (x, pad + k * (size + gap)), line, font=font, fill=(255, 255, 255, 255), anchor="la"
        )
    return img


def overlays(spec: RenderSpec, width: int, height: int) -> list[Overlay]:
    short = min(width, height)
    margin = max(4, short // 30)
    out: list[Overlay] = []

    if spec.element_images:
        rng = seeded_rng(spec, "elements")
        count = len(spec.element_images)
        for k, data in enumerate(spec.element_images):
            img = open_image(data, f"element_images[{k}]", draft=(short, short))
            side = max(8, int(short * 0.3))
            sprite = Sprite.from_image(ImageOps.contain(img.convert("RGBA"), (side, side)))
            lane = (k + 0.5) / count * 0.7 + 0.1
            phase, bob = float(rng.uniform(0, 1)), float(rng.uniform(0.5, 2))

            def draw_element(
                fr: Planes,
                i: int,
                n: int,
                s: Sprite = sprite,
                lane: float = lane,
                phase: float = phase,
                bob: float = bob,
            ) -> None:
                p = (i / max(1, n - 1) + phase) % 1.0
                x = -s.width + (width + s.width) * p
                y = lane * height - s.height / 2 + math.sin(p * 2 * math.pi * bob) * height * 0.04
                s.draw(fr, int(x), int(y))

            out.append(draw_element)

    if spec.reference_images:
        count = len(spec.reference_images)
        th = max(8, int(short * 0.16))
        gap = max(2, margin // 2)
        tw = min(int(th * 16 / 9), (width - 2 * margin - gap * (count - 1)) // count)
        x = width - margin - count * tw - (count - 1) * gap
        placed: list[tuple[Sprite, int]] = []
        for k, data in enumerate(spec.reference_images):
            img = open_image(data, f"reference_images[{k}]", draft=(tw, th))
            thumb = cover(img.convert("RGB"), max(2, tw), th)
            ImageDraw.Draw(thumb).rectangle(
                (0, 0, thumb.width - 1, thumb.height - 1),
                outline=(255, 255, 255),
                width=max(1, th // 40),
            )
            placed.append((Sprite.from_image(thumb), x + k * (tw + gap)))

        def draw_refs(fr: Planes, i: int, n: int) -> None:
            for s, sx in placed:
                s.draw(fr, sx, margin)

        out.append(draw_refs)

    if spec.caption:
        statics: list[tuple[Sprite, int, int]] = []
        label = Sprite.from_image(
            _text_box([LABEL_TEXT], max(9, short // 48), max(3, short // 120), 150)
        )
        statics.append((label, margin, margin))
        text = " ".join(spec.prompt.split())
        if text:
            size = max(10, short // 24)
            lines = _wrap(text, _font(size), width * 0.86, 3 if height >= width else 2)
            box = Sprite.from_image(_text_box(lines, size, max(4, size // 2), 165))
            statics.append((box, (width - box.width) // 2, height - margin - box.height))

        fade = max(1, min(round(_CAPTION_FADE_S * spec.fps), n_frames(spec) // 4))
        fade_in = spec.image is not None

        def draw_caption(fr: Planes, i: int, n: int) -> None:
            # Faded out at the end, so a clip continued from the last frame does not inherit
            # the caption; and in at the start of a clip made from an image, whose first
            # frame is then the image itself.
            opacity = min(1.0, (n - 1 - i) / fade)
            if fade_in:
                opacity = min(opacity, i / fade)
            for s, sx, sy in statics:
                s.draw(fr, sx, sy, opacity)

        out.append(draw_caption)
    return out
