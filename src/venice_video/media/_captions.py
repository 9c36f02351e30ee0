"""A film's captions: SubRip and WebVTT text, an mp4 subtitle track, and burned-in pictures.

The subtitle track is MPEG-4 timed text (``mov_text``/``tx3g``), the kind players list as a
soft subtitle track of an mp4. PyAV opens FFmpeg's ``mov_text`` encoder for the track's sample
description (given an ASS header, as FFmpeg requires), and the samples themselves are written
here: each is the cue's UTF-8 text after its length as a 16-bit big-endian number (3GPP TS
26.245). Writing them directly, rather than through the encoder, keeps cue text exactly as given,
where the encoder would read braces and backslashes as ASS markup.

Overlapping cues are merged for the track and the burned-in picture (a timed-text track shows
one sample at a time): where two cues overlap, both texts show, one above the other.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Final

import av
import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from .._subtitles import to_srt, to_vtt

if TYPE_CHECKING:
    from ._assemble import Cue

__all__ = [
    "CaptionPainter",
    "add_caption_stream",
    "caption_packets",
    "caption_spans",
    "check_cues",
    "srt_text",
    "vtt_text",
]

F32 = NDArray[np.float32]
U8 = NDArray[np.uint8]

_TIME_BASE: Final = Fraction(1, 1000)
_MAX_SAMPLE_BYTES: Final = 65_535
# FFmpeg's mov_text encoder only opens with an ASS header; its style becomes the track's
# default text style (white sans-serif, bottom centre).
_ASS_HEADER: Final = (
    "[Script Info]\n"
    "ScriptType: v4.00+\n"
    "PlayResX: 384\n"
    "PlayResY: 288\n"
    "\n"
    "[V4+ Styles]\n"
    "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, "
    "BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, "
    "BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n"
    "Style: Default,Sans,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0\n"
    "\n"
    "[Events]\n"
    "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
)


def check_cues(cues: Sequence[Cue], duration: float) -> None:
    """Refuse cues with impossible times or outside the film.

    Raises:
        ValueError: naming the first bad cue.
    """
    for k, cue in enumerate(cues):
        if not (math.isfinite(cue.start) and math.isfinite(cue.end)) or cue.start < 0:
            raise ValueError(f"cue {k} ({cue.text!r}) has an invalid time: {cue.start}..{cue.end}")
        if cue.end <= cue.start:
            raise ValueError(f"cue {k} ({cue.text!r}) ends at {cue.end} s, not after its start")
        if cue.start >= duration:
            raise ValueError(
                f"cue {k} ({cue.text!r}) starts at {cue.start} s, after the film's end "
                f"({duration:.3f} s)"
            )


def _clean(text: str) -> str:
    return "\n".join(line.strip() for line in text.strip().splitlines() if line.strip())


def caption_spans(cues: Sequence[Cue], duration: float) -> list[tuple[float, float, str]]:
    """Non-overlapping ``(start, end, text)`` spans within ``[0, duration]``, in order.

    Overlapping cues share a span whose text is theirs joined by a line break, in cue order.
    """
    cut = [(max(0.0, c.start), min(duration, c.end), _clean(c.text)) for c in cues]
    cut = [c for c in cut if c[2] and c[1] > c[0]]
    bounds = sorted({t for start, end, _ in cut for t in (start, end)})
    spans: list[tuple[float, float, str]] = []
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        text = "\n".join(t for start, end, t in cut if start <= lo and end >= hi)
        if not text:
            continue
        if spans and spans[-1][2] == text and math.isclose(spans[-1][1], lo):
            spans[-1] = (spans[-1][0], hi, text)
        else:
            spans.append((lo, hi, text))
    return spans


def srt_text(cues: Sequence[Cue]) -> str:
    """The cues as SubRip text, in time order."""
    return to_srt([(c.start, c.end, c.text) for c in sorted(cues, key=lambda c: c.start)])


def vtt_text(cues: Sequence[Cue]) -> str:
    """The cues as WebVTT text, in time order."""
    return to_vtt([(c.start, c.end, c.text) for c in sorted(cues, key=lambda c: c.start)])


def add_caption_stream(container: Any, language: str = "und") -> Any:
    """Add an empty timed-text subtitle stream to an mp4 output ``container``."""
    stream = container.add_stream("mov_text")
    stream.codec_context.subtitle_header = _ASS_HEADER.encode()
    stream.codec_context.time_base = _TIME_BASE
    stream.time_base = _TIME_BASE
    stream.metadata["language"] = language
    return stream


def caption_packets(stream: Any, spans: Sequence[tuple[float, float, str]]) -> list[av.Packet[Any]]:
    """One timed-text sample per span, timed in milliseconds, for ``stream``."""
    packets: list[av.Packet[Any]] = []
    for start, end, text in spans:
        data = text.encode("utf-8")[:_MAX_SAMPLE_BYTES]
        packet = av.Packet(struct.pack(">H", len(data)) + data)
        packet.stream = stream
        packet.time_base = _TIME_BASE
        packet.pts = packet.dts = round(start * 1000)
        packet.duration = max(1, round(end * 1000) - packet.pts)
        packets.append(packet)
    return packets


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _wrap(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: float) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines():
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}" if line else word
            if line and font.getlength(candidate) > width:
                lines.append(line)
                line = word
            else:
                line = candidate
        if line:
            lines.append(line)
    return lines


class _Sprite:
    """A caption box as Y, U, V planes with alpha in 0..1 (chroma alpha 2x2-averaged)."""

    def __init__(self, rgba: U8) -> None:
        h, w = rgba.shape[0] // 2 * 2, rgba.shape[1] // 2 * 2
        f = rgba[:h, :w].astype(np.float32)
        rgb, alpha = f[..., :3], f[..., 3] / 255
        weights = np.array([0.2126, 0.7152, 0.0722], np.float32)
        luma = rgb @ weights
        q = rgb.reshape(h // 2, 2, w // 2, 2, 3).mean(axis=(1, 3))
        ql = q @ weights
        self.y: F32 = (luma * (219 / 255) + 16).astype(np.float32)
        self.u: F32 = ((q[..., 2] - ql) * (224 / 255 / 1.8556) + 128).astype(np.float32)
        self.v: F32 = ((q[..., 0] - ql) * (224 / 255 / 1.5748) + 128).astype(np.float32)
        self.a: F32 = alpha.astype(np.float32)
        self.a_c: F32 = alpha.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3)).astype(np.float32)
        self.width, self.height = w, h


class CaptionPainter:
    """Draws caption text into frames: white on a dark rounded box, bottom centre."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self._size = max(10, round(min(width, height) / 16))
        self._margin = max(4, round(height / 20))
        self._sprites: dict[str, _Sprite] = {}

    def _sprite(self, text: str) -> _Sprite:
        sprite = self._sprites.get(text)
        if sprite is None:
            font = _font(self._size)
            pad = max(3, self._size // 3)
            gap = max(2, self._size // 4)
            lines = _wrap(text, font, self.width * 0.9 - 2 * pad) or [""]
            widths = [font.getlength(line) for line in lines]
            box_w = min(self.width, int(max(widths)) + 2 * pad)
            box_h = min(self.height, len(lines) * self._size + (len(lines) - 1) * gap + 2 * pad)
            img = Image.new("RGBA", (box_w + box_w % 2, box_h + box_h % 2), (0, 0, 0, 0))
            draw = ImageDraw.Draw(img)
            draw.rounded_rectangle((0, 0, box_w - 1, box_h - 1), radius=pad, fill=(8, 8, 12, 170))
            for k, line in enumerate(lines):
                x = (box_w - widths[k]) / 2
                y = pad + k * (self._size + gap)
                draw.text((x, y), line, font=font, fill=(255, 255, 255, 255), anchor="la")
            sprite = _Sprite(np.asarray(img))
            self._sprites[text] = sprite
        return sprite

    def draw(self, frame: tuple[U8, U8, U8], text: str) -> None:
        """Blend ``text``'s caption box into a yuv420p frame's Y, U and V planes in place."""
        sprite = self._sprite(text)
        x = (self.width - sprite.width) // 4 * 2
        y = max(0, (self.height - self._margin - sprite.height) // 2 * 2)
        for plane, src, alpha, s in zip(
            frame,
            (sprite.y, sprite.u, sprite.v),
            (sprite.a, sprite.a_c, sprite.a_c),
            (1, 2, 2),
            strict=True,
        ):
            region = plane[y // s : y // s + src.shape[0], x // s : x // s + src.shape[1]]
            h, w = region.shape
            mixed = region * (1 - alpha[:h, :w]) + src[:h, :w] * alpha[:h, :w]
            np.copyto(region, np.clip(np.rint(mixed), 0, 255), casting="unsafe")
