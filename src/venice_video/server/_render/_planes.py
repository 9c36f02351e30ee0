"""Frames as writable numpy planes, BT.709 colour, and sprites blended into them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import av
import numpy as np
from numpy.typing import NDArray
from PIL import Image

__all__ = [
    "F32",
    "U8",
    "U16",
    "Planes",
    "Sprite",
    "blend_into",
    "rgb_to_yuv",
    "smoothstep",
    "set_bt709",
]

U8 = NDArray[np.uint8]
U16 = NDArray[np.uint16]
F32 = NDArray[np.float32]


class Planes:
    """Writable numpy views of a yuv420p ``av.VideoFrame``'s planes (no copy)."""

    __slots__ = ("frame", "u", "v", "y")

    def __init__(self, frame: av.VideoFrame) -> None:
        self.frame = frame
        w, h = frame.width, frame.height
        views = []
        for plane, (pw, ph) in zip(
            frame.planes, ((w, h), (w // 2, h // 2), (w // 2, h // 2)), strict=True
        ):
            flat = np.frombuffer(plane, np.uint8)  # type: ignore[call-overload]
            views.append(flat[: ph * plane.line_size].reshape(ph, plane.line_size)[:, :pw])
        self.y, self.u, self.v = views

    @classmethod
    def new(cls, width: int, height: int) -> Planes:
        return cls(av.VideoFrame(width, height, "yuv420p"))

    def copy(self) -> Planes:
        out = Planes.new(self.frame.width, self.frame.height)
        out.y[...] = self.y
        out.u[...] = self.u
        out.v[...] = self.v
        return out


def rgb_to_yuv(rgb: U8) -> tuple[U8, U8, U8]:
    """BT.709 limited-range Y, U, V planes (chroma 2x2-subsampled) of an even-sized RGB image."""
    f = rgb.astype(np.float32)
    luma = f @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    y = luma * (219 / 255) + 16
    h, w = rgb.shape[:2]
    q = f.reshape(h // 2, 2, w // 2, 2, 3).mean(axis=(1, 3))
    ql = q @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    u = (q[..., 2] - ql) * (224 / 255 / 1.8556) + 128
    v = (q[..., 0] - ql) * (224 / 255 / 1.5748) + 128
    y8, u8, v8 = (np.clip(np.rint(p), 0, 255).astype(np.uint8) for p in (y, u, v))
    return y8, u8, v8


def set_bt709(stream: Any) -> None:
    cc = stream.codec_context
    cc.colorspace = 1  # AVCOL_SPC_BT709
    cc.color_primaries = 1
    cc.color_trc = 1
    cc.color_range = 1  # limited ("tv") range


@dataclass
class Sprite:
    """A YUV picture with alpha, premultiplied so that blending is a few integer ops a plane."""

    width: int
    height: int
    raw: tuple[U8, U8, U8]
    # plane * alpha and 256 - alpha, alpha in 0..256 (chroma alpha 2x2-averaged); None when the
    # sprite is opaque and is simply copied.
    pre: tuple[U16, U16, U16] | None
    inv: tuple[U16, U16, U16] | None

    @classmethod
    def from_rgba(cls, rgba: U8) -> Sprite:
        h, w = rgba.shape[:2]
        h2, w2 = h - h % 2, w - w % 2
        rgba = np.ascontiguousarray(rgba[:h2, :w2])
        planes = rgb_to_yuv(rgba[..., :3])
        a8 = rgba[..., 3].astype(np.uint16)
        if bool((a8 == 255).all()):
            return cls(w2, h2, planes, None, None)
        a: U16 = (a8 * 256 + 127) // 255
        a_c: U16 = a.reshape(h2 // 2, 2, w2 // 2, 2).mean(axis=(1, 3)).round().astype(np.uint16)
        pre = (planes[0] * a, planes[1] * a_c, planes[2] * a_c)
        inv = (256 - a, 256 - a_c, 256 - a_c)
        return cls(w2, h2, planes, pre, inv)

    @classmethod
    def from_image(cls, img: Image.Image) -> Sprite:
        return cls.from_rgba(np.asarray(img.convert("RGBA")))

    def draw(self, dst: Planes, x: int, y: int, opacity: float = 1.0) -> None:
        """Blend at ``(x, y)`` (rounded down to even), clipped to the frame, at ``opacity``."""
        weight = int(round(min(1.0, opacity) * 256))
        if weight <= 0:
            return
        x -= x % 2
        y -= y % 2
        for i, plane in enumerate((dst.y, dst.u, dst.v)):
            s = 1 if i == 0 else 2
            px, py = x // s, y // s
            ph, pw = plane.shape
            sh, sw = self.raw[i].shape
            x0, y0, x1, y1 = max(px, 0), max(py, 0), min(px + sw, pw), min(py + sh, ph)
            if x0 >= x1 or y0 >= y1:
                return
            src = (slice(y0 - py, y1 - py), slice(x0 - px, x1 - px))
            region = plane[y0:y1, x0:x1]
            if weight < 256:
                # Faded: the sprite's own alpha scaled by the weight, blended afresh.
                alpha = 256 - self.inv[i][src] if self.inv is not None else np.uint16(256)
                faded = (alpha * np.uint16(weight)) >> 8
                acc = region.astype(np.uint16)
                acc *= 256 - faded
                acc += self.raw[i][src].astype(np.uint16) * faded
                acc >>= 8
                np.copyto(region, acc, casting="unsafe")
                continue
            if self.pre is None or self.inv is None:
                region[...] = self.raw[i][src]
                continue
            acc = region.astype(np.uint16)
            acc *= self.inv[i][src]
            acc += self.pre[i][src]
            acc >>= 8
            np.copyto(region, acc, casting="unsafe")


def blend_into(dst: Planes, a: Planes, b: Planes, weight: float) -> None:
    """``dst = a * (1 - weight) + b * weight``, weight in 0..1."""
    wb = int(round(weight * 256))
    for pd, pa, pb in zip((dst.y, dst.u, dst.v), (a.y, a.u, a.v), (b.y, b.u, b.v), strict=True):
        acc = pa.astype(np.uint16)
        acc *= 256 - wb
        acc += pb.astype(np.uint16) * np.uint16(wb)
        acc >>= 8
        np.copyto(pd, acc, casting="unsafe")


def smoothstep(x: float) -> float:
    x = min(1.0, max(0.0, x))
    return x * x * (3 - 2 * x)
