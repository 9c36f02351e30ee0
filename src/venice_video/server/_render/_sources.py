"""Picture sources: each paints frame i of n into fresh `Planes`."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any, Final, Protocol

import av
import numpy as np
from av.video.reformatter import Colorspace, VideoReformatter
from numpy.typing import NDArray

from ._decode import av_reason, cover, open_container, open_image
from ._geometry import even
from ._planes import F32, U8, Planes, Sprite, blend_into, rgb_to_yuv, smoothstep
from ._spec import RenderError, RenderSpec, seeded_rng

__all__ = ["EndFade", "Gradient", "KenBurns", "Restyle", "Scenes", "Source"]

# Ken Burns: the image is cover-fitted this much larger than the frame, then a window that
# shrinks from the whole of it to frame size (or grows, for a zoom-out) is scaled to the frame.
_KEN_BURNS_ZOOM: Final = 1.18
_INTERP_FAST: Final = "BILINEAR"


class Source(Protocol):
    """Paints the pictures of a clip, one frame at a time, in order."""

    def paint(self, i: int, n: int, t: float) -> Planes:
        """Frame `i` of `n`, shown at `t` seconds, in fresh planes the caller may draw on."""


class Gradient:
    """Drifting separable colour waves with soft discs floating over them."""

    def __init__(self, spec: RenderSpec, width: int, height: int) -> None:
        rng = seeded_rng(spec, "gradient")
        self.w, self.h = width, height
        self.x: F32 = (np.arange(width) / width).astype(np.float32)
        self.yy: F32 = (np.arange(height) / height).astype(np.float32)
        self.x2 = self.x[::2].copy()
        self.y2 = self.yy[::2].copy()
        # (cycles across the frame, radians per second, phase) for each wave
        self.waves = rng.uniform((0.4, 0.25, 0.0), (1.6, 0.9, 2 * math.pi), size=(6, 3)).astype(
            np.float32
        )
        self.waves[:, 1] *= rng.choice(np.array([-1.0, 1.0], np.float32), size=6)
        hue_u, hue_v = rng.uniform(-38, 38, size=2)
        self.centre_u, self.centre_v = 128 + hue_u, 128 + hue_v
        self.blobs: list[tuple[Sprite, tuple[float, ...]]] = []
        short = min(width, height)
        for _ in range(int(rng.integers(3, 6))):
            r = max(4, int(short * rng.uniform(0.1, 0.22)))
            colour = rng.integers(60, 256, size=3)
            path = tuple(
                rng.uniform(
                    (0.15, 0.1, 0.15, 0.1, 0.15, 0.1, 0, 0),
                    (0.85, 0.35, 0.85, 0.3, 0.6, 0.6, 6.3, 6.3),
                )
            )
            self.blobs.append((self._disc(r, colour), path))

    @staticmethod
    def _disc(r: int, colour: NDArray[Any]) -> Sprite:
        d = np.arange(2 * r, dtype=np.float32) - r + 0.5
        dist = np.sqrt(d[:, None] ** 2 + d[None, :] ** 2) / r
        alpha = np.clip((1 - dist) * 3, 0, 1) * 0.82
        rgba = np.empty((2 * r, 2 * r, 4), np.uint8)
        rgba[..., :3] = colour.astype(np.uint8)
        rgba[..., 3] = (alpha * 255).astype(np.uint8)
        return Sprite.from_rgba(rgba)

    def _wave(self, axis: F32, k: int, t: float, lo: float, span: float) -> U8:
        cycles, speed, phase = (float(v) for v in self.waves[k])
        s: F32 = np.sin(axis * np.float32(2 * math.pi * cycles) + np.float32(phase + speed * t))
        out: U8 = (s * np.float32(span / 2) + np.float32(lo + span / 2)).astype(np.uint8)
        return out

    def paint(self, i: int, n: int, t: float) -> Planes:
        fr = Planes.new(self.w, self.h)
        # Sums of one row wave and one column wave: smooth, cheap to paint and to encode.
        np.add(
            self._wave(self.yy, 0, t, 28, 90)[:, None], self._wave(self.x, 1, t, 0, 95), out=fr.y
        )
        cu, cv = self.centre_u, self.centre_v
        np.add(
            self._wave(self.y2, 2, t, cu - 22, 22)[:, None],
            self._wave(self.x2, 3, t, 0, 22),
            out=fr.u,
        )
        np.add(
            self._wave(self.y2, 4, t, cv - 22, 22)[:, None],
            self._wave(self.x2, 5, t, 0, 22),
            out=fr.v,
        )
        for sprite, (cx, ax, cy, ay, fx, fy, px, py) in self.blobs:
            x = (cx + ax * math.sin(t * fx + px)) * self.w - sprite.width / 2
            y = (cy + ay * math.sin(t * fy + py)) * self.h - sprite.height / 2
            sprite.draw(fr, int(x), int(y))
        return fr


class Scenes:
    """Still backgrounds that take turns, cross-fading at each change."""

    def __init__(self, images: Sequence[bytes], width: int, height: int, fps: int) -> None:
        self.scenes: list[Planes] = []
        for k, data in enumerate(images):
            img = open_image(data, f"scene_images[{k}]", draft=(width, height))
            fr = Planes.new(width, height)
            y, u, v = rgb_to_yuv(np.asarray(cover(img.convert("RGB"), width, height)))
            fr.y[...], fr.u[...], fr.v[...] = y, u, v
            self.scenes.append(fr)
        self.fade_frames = max(1, round(0.5 * fps))

    def paint(self, i: int, n: int, t: float) -> Planes:
        count = len(self.scenes)
        per = n / count
        k = min(count - 1, int(i / per))
        into_next = i - (k + 1) * per + self.fade_frames
        if k + 1 < count and into_next > 0:
            out = Planes.new(self.scenes[k].frame.width, self.scenes[k].frame.height)
            blend_into(
                out, self.scenes[k], self.scenes[k + 1], smoothstep(into_next / self.fade_frames)
            )
            return out
        return self.scenes[k].copy()


class KenBurns:
    """An image with a slow zoom and pan, scaled to the frame by swscale.

    The first frame is the whole image, cover-fitted to the frame, so that a clip made from
    the last frame of another starts where that one ended; from there the view closes in on a
    part of it chosen by the seed.
    """

    def __init__(self, data: bytes, field: str, spec: RenderSpec, width: int, height: int) -> None:
        self.w, self.h = width, height
        bw, bh = even(width * _KEN_BURNS_ZOOM), even(height * _KEN_BURNS_ZOOM)
        img = open_image(data, field, draft=(bw, bh))
        self.big = np.ascontiguousarray(np.asarray(cover(img.convert("RGB"), bw, bh)))
        rng = seeded_rng(spec, f"ken-burns:{field}")
        self.end = rng.uniform(0, 1, size=2)
        self.scaler = VideoReformatter()

    def paint(self, i: int, n: int, t: float) -> Planes:
        p = smoothstep(i / max(1, n - 1))
        bh, bw = self.big.shape[:2]
        ww = round(bw + (self.w - bw) * p)
        wh = min(bh, max(2, round(ww * self.h / self.w)))
        # The window is the whole image at p = 0 wherever it is anchored; the anchor only
        # decides where the zoom ends.
        fx, fy = self.end
        x0, y0 = round((bw - ww) * fx), round((bh - wh) * fy)
        window = self.big[y0 : y0 + wh, x0 : x0 + ww]
        src = av.VideoFrame.from_numpy_buffer(window, format="rgb24")
        return Planes(
            self.scaler.reformat(
                src,
                width=self.w,
                height=self.h,
                format="yuv420p",
                interpolation=_INTERP_FAST,
                dst_colorspace=Colorspace.ITU709,
                threads=1,
            )
        )


class EndFade:
    """Cross-fades from one source to another over the last part of the clip."""

    def __init__(self, first: Source, last: Source, fraction: float) -> None:
        self.first, self.last, self.fraction = first, last, fraction

    def paint(self, i: int, n: int, t: float) -> Planes:
        a = self.first.paint(i, n, t)
        p = i / max(1, n - 1)
        weight = smoothstep((p - (1 - self.fraction)) / self.fraction)
        if weight <= 0:
            return a
        b = self.last.paint(i, n, t)
        if weight >= 1:
            return b
        blend_into(a, a, b, weight)
        return a


class Restyle:
    """Input video frames at the output rate (looped or trimmed), cover-fitted and recoloured."""

    def __init__(self, data: bytes, spec: RenderSpec, width: int, height: int, n: int) -> None:
        self.data, self.w, self.h, self.n, self.fps = data, width, height, n, spec.fps
        container = open_container(data, "video")
        try:
            if not container.streams.video:
                raise RenderError("video has no video stream", field="video")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or 24
            self.frame_s = 1 / float(rate)
        finally:
            container.close()
        rng = seeded_rng(spec, "restyle")
        levels = int(rng.integers(5, 11))
        x = np.arange(256, dtype=np.float32)
        norm = np.clip((x - 16) / 219, 0, 1)
        curve = norm * norm * (3 - 2 * norm)  # S-curve for contrast
        poster = np.floor(norm * levels) / (levels - 1)
        luma = np.clip(0.55 * curve + 0.45 * np.minimum(poster, 1), 0, 1) * 219 + 16
        self.lut_y = np.rint(luma).astype(np.uint8)
        sat = rng.uniform(1.1, 1.6)
        du, dv = rng.uniform(-24, 24, size=2)
        self.lut_u = np.clip(np.rint((x - 128) * sat + 128 + du), 16, 240).astype(np.uint8)
        self.lut_v = np.clip(np.rint((x - 128) * sat + 128 + dv), 16, 240).astype(np.uint8)
        self.scaler = VideoReformatter()
        self.frames = self._frames()

    def _decoded(self) -> Iterator[tuple[float, av.VideoFrame]]:
        container = open_container(self.data, "video")
        try:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            first: float | None = None
            last = -1.0
            for k, frame in enumerate(container.decode(stream)):
                t = frame.time if frame.time is not None else k * self.frame_s
                first = t if first is None else first
                # Times relative to the first frame, forced to increase.
                last = max(t - first, last + 1e-6)
                yield last, frame
        except (av.FFmpegError, ValueError, OSError) as exc:
            raise RenderError(
                f"video could not be decoded: {av_reason(exc)}", field="video"
            ) from exc
        finally:
            container.close()

    def _styled(self, frame: av.VideoFrame) -> Planes:
        scale = max(self.w / frame.width, self.h / frame.height)
        sw, sh = max(self.w, even(frame.width * scale)), max(self.h, even(frame.height * scale))
        scaled = Planes(
            self.scaler.reformat(
                frame,
                width=sw,
                height=sh,
                format="yuv420p",
                interpolation=_INTERP_FAST,
                dst_colorspace=Colorspace.ITU709,
                threads=1,
            )
        )
        x0, y0 = (sw - self.w) // 4 * 2, (sh - self.h) // 4 * 2
        out = Planes.new(self.w, self.h)
        np.take(self.lut_y, scaled.y[y0 : y0 + self.h, x0 : x0 + self.w], out=out.y)
        cx, cy, cw, ch = x0 // 2, y0 // 2, self.w // 2, self.h // 2
        np.take(self.lut_u, scaled.u[cy : cy + ch, cx : cx + cw], out=out.u)
        np.take(self.lut_v, scaled.v[cy : cy + ch, cx : cx + cw], out=out.v)
        return out

    def _frames(self) -> Iterator[Planes]:
        """Output frame i shows the last input frame at or before i / fps, looping the input."""
        i, offset = 0, 0.0
        eps = 1e-6
        while i < self.n:
            current: av.VideoFrame | None = None
            styled: Planes | None = None
            t_rel = -1.0
            for t_rel, frame in self._decoded():
                while current is not None and i < self.n and i / self.fps < offset + t_rel - eps:
                    styled = styled or self._styled(current)
                    yield styled.copy()
                    i += 1
                if i >= self.n:
                    return
                current, styled = frame, None
            if current is None:
                raise RenderError("video contains no decodable frames", field="video")
            offset += t_rel + self.frame_s
            while i < self.n and i / self.fps < offset - eps:
                styled = styled or self._styled(current)
                yield styled.copy()
                i += 1

    def paint(self, i: int, n: int, t: float) -> Planes:
        return next(self.frames)
