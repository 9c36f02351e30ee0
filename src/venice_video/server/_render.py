"""Deterministic placeholder media for the local server.

No generative model runs here. Instead :func:`render` writes a real H.264/AAC mp4 with exactly
the requested size, frame rate and duration, so that clients, players and tests see the same kind
of file the hosted service returns. The picture is a placeholder, and says so in a corner label:

* text-to-video: moving gradients and soft shapes whose palette and motion come from the prompt;
* image-to-video: the image, cover-fitted, with a slow pan and zoom (Ken Burns), optionally
  cross-fading to an end image;
* video-to-video: the input restyled (tone curve, posterize, tint), looped or trimmed;
* upscale: every input frame rescaled with Lanczos, keeping the input's frame count and rate.

The same :class:`RenderSpec` always gives the same bytes (x264 runs with a fixed thread count).
Frames are painted straight into the planes of yuv420p frames with vectorised numpy, a second
thread paints while x264 encodes, and every static overlay (caption, label, thumbnails) is
rasterised once: a 5 s 720p clip with sound takes about 0.7 to 1 s on two cores, most of it in
the encoder (``benchmarks/bench_render.py`` measures it).
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import queue
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

import av
import numpy as np
from av.video.reformatter import Colorspace, VideoReformatter
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

__all__ = [
    "ASPECT_RATIOS",
    "RESOLUTIONS",
    "MediaInfo",
    "RenderError",
    "RenderResult",
    "RenderSpec",
    "dimensions_for",
    "dimensions_for_image",
    "probe",
    "render",
]

U8 = NDArray[np.uint8]
U16 = NDArray[np.uint16]
F32 = NDArray[np.float32]

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

LABEL_TEXT: Final = "venice-video local engine - placeholder"

_AUDIO_RATE: Final = 48_000
_AUDIO_CHUNK: Final = 1024  # AAC frame size
_MAX_SIDE: Final = 8192
_MAX_DURATION_S: Final = 3600.0
_MAX_IMAGE_PIXELS: Final = 80_000_000
# Ken Burns: the image is cover-fitted this much larger than the frame, then a window that
# shrinks from the whole of it to frame size (or grows, for a zoom-out) is scaled to the frame.
_KEN_BURNS_ZOOM: Final = 1.18
_END_FADE_FRACTION: Final = 0.4
# x264 picks its thread count from the CPU count, and the bitstream depends on it; a fixed count
# keeps the output byte-identical from one machine to the next.
_X264_THREADS: Final = "2"
# Constant QP skips the per-frame complexity analysis that CRF needs, about a third less CPU;
# nobody cares about the exact bitrate of these files. Real footage (upscale) gets a lower QP.
_FAST_QUALITY: Final = {"qp": "24"}
_FAITHFUL_QUALITY: Final = {"qp": "20"}
_INTERP_FAST: Final = "BILINEAR"
_INTERP_UPSCALE: Final = "LANCZOS"


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


@dataclass(frozen=True)
class MediaInfo:
    """What :func:`probe` read from a media file. Video fields are zero or None without video."""

    width: int
    height: int
    duration_s: float
    fps: float
    frames: int
    has_audio: bool
    video_codec: str | None
    audio_codec: str | None


# --------------------------------------------------------------------------------------------
# Sizes


def _even(x: float) -> int:
    return max(2, 2 * round(x / 2))


def _short_side(resolution: str | None) -> int:
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


def _size_for_ratio(short: int, ratio: float) -> tuple[int, int]:
    if ratio >= 1:
        return _even(short * ratio), _even(short)
    return _even(short), _even(short / ratio)


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
    short = _short_side(resolution)
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
    return _size_for_ratio(short, aw / ah)


def dimensions_for_image(resolution: str | None, image: bytes) -> tuple[int, int]:
    """Output ``(width, height)`` that keeps ``image``'s own aspect ratio (for ``"auto"``).

    The ratio is clamped to 1:2.5 .. 2.5:1, the range Venice accepts for input images.

    Raises:
        ValueError: as :func:`dimensions_for` does for the resolution.
        RenderError: when ``image`` cannot be read.
    """
    short = _short_side(resolution)
    img = _open_image(image, "image")
    ratio = min(2.5, max(0.4, img.width / img.height))
    return _size_for_ratio(short, ratio)


# --------------------------------------------------------------------------------------------
# Frames and colour


class _Planes:
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
    def new(cls, width: int, height: int) -> _Planes:
        return cls(av.VideoFrame(width, height, "yuv420p"))

    def copy(self) -> _Planes:
        out = _Planes.new(self.frame.width, self.frame.height)
        out.y[...] = self.y
        out.u[...] = self.u
        out.v[...] = self.v
        return out


def _rgb_to_yuv(rgb: U8) -> tuple[U8, U8, U8]:
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


def _tag_bt709(stream: Any) -> None:
    cc = stream.codec_context
    cc.colorspace = 1  # AVCOL_SPC_BT709
    cc.color_primaries = 1
    cc.color_trc = 1
    cc.color_range = 1  # limited ("tv") range


@dataclass
class _Sprite:
    """A YUV picture with alpha, premultiplied so that blending is a few integer ops a plane."""

    width: int
    height: int
    raw: tuple[U8, U8, U8]
    # plane * alpha and 256 - alpha, alpha in 0..256 (chroma alpha 2x2-averaged); None when the
    # sprite is opaque and is simply copied.
    pre: tuple[U16, U16, U16] | None
    inv: tuple[U16, U16, U16] | None

    @classmethod
    def from_rgba(cls, rgba: U8) -> _Sprite:
        h, w = rgba.shape[:2]
        h2, w2 = h - h % 2, w - w % 2
        rgba = np.ascontiguousarray(rgba[:h2, :w2])
        planes = _rgb_to_yuv(rgba[..., :3])
        a8 = rgba[..., 3].astype(np.uint16)
        if bool((a8 == 255).all()):
            return cls(w2, h2, planes, None, None)
        a: U16 = (a8 * 256 + 127) // 255
        a_c: U16 = a.reshape(h2 // 2, 2, w2 // 2, 2).mean(axis=(1, 3)).round().astype(np.uint16)
        pre = (planes[0] * a, planes[1] * a_c, planes[2] * a_c)
        inv = (256 - a, 256 - a_c, 256 - a_c)
        return cls(w2, h2, planes, pre, inv)

    @classmethod
    def from_image(cls, img: Image.Image) -> _Sprite:
        return cls.from_rgba(np.asarray(img.convert("RGBA")))

    def draw(self, dst: _Planes, x: int, y: int) -> None:
        """Blend at ``(x, y)`` (rounded down to even), clipped to the frame."""
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
            if self.pre is None or self.inv is None:
                region[...] = self.raw[i][src]
                continue
            acc = region.astype(np.uint16)
            acc *= self.inv[i][src]
            acc += self.pre[i][src]
            acc >>= 8
            np.copyto(region, acc, casting="unsafe")


def _blend_into(dst: _Planes, a: _Planes, b: _Planes, weight: float) -> None:
    """``dst = a * (1 - weight) + b * weight``, weight in 0..1."""
    wb = int(round(weight * 256))
    for pd, pa, pb in zip((dst.y, dst.u, dst.v), (a.y, a.u, a.v), (b.y, b.u, b.v), strict=True):
        acc = pa.astype(np.uint16)
        acc *= 256 - wb
        acc += pb.astype(np.uint16) * np.uint16(wb)
        acc >>= 8
        np.copyto(pd, acc, casting="unsafe")


def _smoothstep(x: float) -> float:
    x = min(1.0, max(0.0, x))
    return x * x * (3 - 2 * x)


# --------------------------------------------------------------------------------------------
# Inputs


def _rng(spec: RenderSpec, salt: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{spec.seed}\0{spec.prompt}\0{salt}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _open_image(data: bytes, field: str, draft: tuple[int, int] | None = None) -> Image.Image:
    """Decode an image fully, upright (EXIF orientation applied), as RGB or RGBA."""
    if not data:
        raise RenderError(f"{field} is empty", field=field)
    try:
        # Opening reads only the header, so the size is checked before any pixel is decoded.
        img: Image.Image = Image.open(io.BytesIO(data))
        if img.width * img.height > _MAX_IMAGE_PIXELS:
            raise RenderError(
                f"{field} is too large: {img.width}x{img.height} pixels "
                f"(at most {_MAX_IMAGE_PIXELS:,})",
                field=field,
            )
        if draft is not None and img.format == "JPEG":
            img.draft("RGB", draft)  # decode a JPEG at a reduced scale when it is far larger
        img.load()
        img = ImageOps.exif_transpose(img) or img
    except RenderError:
        raise
    except UnidentifiedImageError as exc:
        raise RenderError(
            f"{field} could not be decoded as an image: not a recognised image format", field=field
        ) from exc
    except Exception as exc:  # Pillow raises many kinds for bad data
        reason = str(exc) or type(exc).__name__
        raise RenderError(
            f"{field} could not be decoded as an image: {reason}", field=field
        ) from exc
    has_alpha = img.mode in {"RGBA", "LA", "PA"} or "transparency" in img.info
    return img.convert("RGBA" if has_alpha else "RGB")


def _cover(img: Image.Image, width: int, height: int) -> Image.Image:
    return ImageOps.fit(img, (width, height), method=Image.Resampling.BICUBIC)


def _open_container(data: bytes, field: str) -> Any:
    if not data:
        raise RenderError(f"{field} is empty", field=field)
    try:
        return av.open(io.BytesIO(data), "r")
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise RenderError(
            f"{field} could not be decoded as media: {_av_reason(exc)}", field=field
        ) from exc


def _av_reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(text)


# --------------------------------------------------------------------------------------------
# Audio


def _synth_audio(spec: RenderSpec, n: int) -> F32:
    """A soft chord progression whose key, mode and voicing come from the prompt and seed."""
    rng = _rng(spec, "audio")
    root = 45 + int(rng.integers(0, 12))  # MIDI A2..G#3
    minor = bool(rng.integers(0, 2))
    scale = (0, 2, 3, 5, 7, 8, 10) if minor else (0, 2, 4, 5, 7, 9, 11)
    progressions = ((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 4, 0), (5, 3, 0, 4))
    progression = progressions[int(rng.integers(0, len(progressions)))]
    seconds = n / _AUDIO_RATE
    chord_s = seconds / max(1, round(seconds / 1.25))
    seg = max(1, int(chord_s * _AUDIO_RATE))
    out = np.zeros((2, n), np.float32)
    fade = min(seg // 4, int(0.03 * _AUDIO_RATE))
    t_full = np.arange(seg, dtype=np.float32) / _AUDIO_RATE
    env_full = np.exp(-t_full * 1.6).astype(np.float32) * 0.8 + 0.2
    env_full[:fade] *= np.linspace(0, 1, fade, dtype=np.float32)
    env_full[seg - fade :] *= np.linspace(1, 0, fade, dtype=np.float32)
    for k, start in enumerate(range(0, n, seg)):
        stop = min(n, start + seg)
        t = t_full[: stop - start]
        env = env_full[: stop - start]
        degree = progression[k % len(progression)]
        notes = [root - 12 + scale[degree]]
        notes += [root + 12 * ((degree + s) // 7) + scale[(degree + s) % 7] for s in (0, 2, 4)]
        for j, note in enumerate(notes):
            freq = 440.0 * 2 ** ((note - 69) / 12)
            phase = np.float32(2 * math.pi * freq) * t
            tone = np.sin(phase) + 0.3 * np.sin(2 * phase) + 0.12 * np.sin(3 * phase)
            tone *= env * np.float32(0.09 if j else 0.12)
            pan = 0.5 + (j - 1.5) * 0.15
            out[0, start:stop] += tone * np.float32(1 - pan)
            out[1, start:stop] += tone * np.float32(pan)
    # The last chord may be cut short: fade the very end so the clip does not stop on a click.
    tail = min(n, fade)
    out[:, n - tail :] *= np.linspace(1, 0, tail, dtype=np.float32)
    return out


def _decode_audio(data: bytes, field: str, n: int, *, required: bool) -> F32 | None:
    """Up to ``n`` samples of the first audio stream, 48 kHz stereo, looped when shorter.

    Returns None when there is no audio stream and ``required`` is false.
    """
    container = _open_container(data, field)
    chunks: list[F32] = []
    got = 0
    try:
        if not container.streams.audio:
            if required:
                raise RenderError(f"{field} has no audio stream", field=field)
            return None
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=_AUDIO_RATE)

        def take(frames: list[av.AudioFrame]) -> None:
            nonlocal got
            for fr in frames:
                arr = fr.to_ndarray().astype(np.float32, copy=False)
                chunks.append(arr)
                got += arr.shape[1]

        for frame in container.decode(stream):
            take(resampler.resample(frame))
            if got >= n:
                break
        else:
            take(resampler.resample(None))
    except RenderError:
        raise
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise RenderError(
            f"{field} audio could not be decoded: {_av_reason(exc)}", field=field
        ) from exc
    finally:
        container.close()
    if got == 0:
        if required:
            raise RenderError(f"{field} contains no audio samples", field=field)
        return None
    pcm = np.concatenate(chunks, axis=1)
    if pcm.shape[1] < n:
        pcm = np.tile(pcm, (1, -(-n // pcm.shape[1])))
    return np.ascontiguousarray(pcm[:, :n])


def _mix(tracks: Sequence[tuple[F32, float]], n: int) -> F32:
    out = np.zeros((2, n), np.float32)
    for pcm, gain in tracks:
        out += pcm * np.float32(gain)
    peak = float(np.abs(out).max()) if n else 0.0
    if peak > 0.98:
        out *= np.float32(0.98 / peak)
    return out


# --------------------------------------------------------------------------------------------
# Output


class _Writer:
    """An mp4 being written: H.264 video plus, optionally, AAC audio interleaved with it."""

    def __init__(
        self,
        path: Path,
        width: int,
        height: int,
        rate: Fraction | int,
        pcm: F32 | None,
        *,
        preset: str = "ultrafast",
        quality: dict[str, str] | None = None,
        tag_bt709: bool = True,
        audio_coder: str = "twoloop",
        audio_bit_rate: int = 128_000,
        audio_template: Any = None,
    ) -> None:
        self.container: Any = av.open(
            str(path), "w", format="mp4", options={"movflags": "+faststart"}
        )
        self.rate = Fraction(rate)
        self.video: Any = self.container.add_stream(
            "libx264",
            rate=self.rate,
            options={"preset": preset, "threads": _X264_THREADS, **(quality or _FAST_QUALITY)},
        )
        self.video.width = width
        self.video.height = height
        self.video.pix_fmt = "yuv420p"
        self.video.codec_context.gop_size = max(1, round(2 * self.rate))
        if tag_bt709:
            _tag_bt709(self.video)
        self.pcm = pcm
        self.audio: Any = None
        self.samples_written = 0
        if pcm is not None:
            self.audio = self.container.add_stream(
                "aac", rate=_AUDIO_RATE, options={"aac_coder": audio_coder}
            )
            self.audio.layout = "stereo"
            self.audio.bit_rate = audio_bit_rate
        elif audio_template is not None:
            self.audio = self.container.add_stream_from_template(audio_template)
        self.frames = 0

    def add(self, frame: av.VideoFrame) -> None:
        frame.pts = self.frames
        frame.time_base = 1 / self.rate
        self.container.mux(self.video.encode(frame))
        self.frames += 1
        if self.pcm is not None:
            # Keep audio roughly in step with the video so the file is interleaved.
            self._write_audio(int(self.frames / self.rate * _AUDIO_RATE))

    def copy_audio(self, packet: av.Packet[Any]) -> None:
        """Mux an already-encoded audio packet (stream copy)."""
        packet.stream = self.audio
        self.container.mux(packet)

    def _write_audio(self, until: int) -> None:
        assert self.pcm is not None
        until = min(until, self.pcm.shape[1])
        while until - self.samples_written >= _AUDIO_CHUNK or (
            until == self.pcm.shape[1] and self.samples_written < until
        ):
            start = self.samples_written
            stop = min(start + _AUDIO_CHUNK, until)
            chunk = np.ascontiguousarray(self.pcm[:, start:stop])
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
            frame.sample_rate = _AUDIO_RATE
            frame.pts = start
            frame.time_base = Fraction(1, _AUDIO_RATE)
            self.container.mux(self.audio.encode(frame))
            self.samples_written = stop

    def close(self) -> None:
        self.container.mux(self.video.encode(None))
        if self.pcm is not None:
            self._write_audio(self.pcm.shape[1])
            self.container.mux(self.audio.encode(None))
        self.container.close()

    def abort(self) -> None:
        try:
            self.container.close()
        except Exception:  # already failing; the temp file is removed anyway
            pass


class _Prefetch:
    """Runs an iterator in a daemon thread, a few items ahead of the consumer.

    Exceptions raised by the iterator are re-raised in the consumer. Leaving the ``with`` block
    early stops the producer.
    """

    _END: Final = object()

    def __init__(self, items: Iterator[Any], depth: int) -> None:
        self._items = items
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="render-paint", daemon=True)

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for item in self._items:
                if not self._put(item):
                    return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._put(_Failure(exc))
            return
        self._put(self._END)

    def __enter__(self) -> Iterator[Any]:
        self._thread.start()
        return self._consume()

    def _consume(self) -> Iterator[Any]:
        while True:
            item = self._queue.get()
            if item is self._END:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass(frozen=True)
class _Failure:
    exc: BaseException


# --------------------------------------------------------------------------------------------
# Picture sources: each paints frame i of n into a fresh _Planes


class _Gradient:
    """Drifting separable colour waves with soft discs floating over them."""

    def __init__(self, spec: RenderSpec, width: int, height: int) -> None:
        rng = _rng(spec, "gradient")
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
        self.blobs: list[tuple[_Sprite, tuple[float, ...]]] = []
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
    def _disc(r: int, colour: NDArray[Any]) -> _Sprite:
        d = np.arange(2 * r, dtype=np.float32) - r + 0.5
        dist = np.sqrt(d[:, None] ** 2 + d[None, :] ** 2) / r
        alpha = np.clip((1 - dist) * 3, 0, 1) * 0.82
        rgba = np.empty((2 * r, 2 * r, 4), np.uint8)
        rgba[..., :3] = colour.astype(np.uint8)
        rgba[..., 3] = (alpha * 255).astype(np.uint8)
        return _Sprite.from_rgba(rgba)

    def _wave(self, axis: F32, k: int, t: float, lo: float, span: float) -> U8:
        cycles, speed, phase = (float(v) for v in self.waves[k])
        s: F32 = np.sin(axis * np.float32(2 * math.pi * cycles) + np.float32(phase + speed * t))
        out: U8 = (s * np.float32(span / 2) + np.float32(lo + span / 2)).astype(np.uint8)
        return out

    def paint(self, i: int, n: int, t: float) -> _Planes:
        fr = _Planes.new(self.w, self.h)
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


class _Scenes:
    """Still backgrounds that take turns, cross-fading at each change."""

    def __init__(self, images: Sequence[bytes], width: int, height: int, fps: int) -> None:
        self.scenes: list[_Planes] = []
        for k, data in enumerate(images):
            img = _open_image(data, f"scene_images[{k}]", draft=(width, height))
            fr = _Planes.new(width, height)
            y, u, v = _rgb_to_yuv(np.asarray(_cover(img.convert("RGB"), width, height)))
            fr.y[...], fr.u[...], fr.v[...] = y, u, v
            self.scenes.append(fr)
        self.fade_frames = max(1, round(0.5 * fps))

    def paint(self, i: int, n: int, t: float) -> _Planes:
        count = len(self.scenes)
        per = n / count
        k = min(count - 1, int(i / per))
        into_next = i - (k + 1) * per + self.fade_frames
        if k + 1 < count and into_next > 0:
            out = _Planes.new(self.scenes[k].frame.width, self.scenes[k].frame.height)
            _blend_into(
                out, self.scenes[k], self.scenes[k + 1], _smoothstep(into_next / self.fade_frames)
            )
            return out
        return self.scenes[k].copy()


class _KenBurns:
    """An image with a slow zoom and pan, scaled to the frame by swscale."""

    def __init__(self, data: bytes, field: str, spec: RenderSpec, width: int, height: int) -> None:
        self.w, self.h = width, height
        bw, bh = _even(width * _KEN_BURNS_ZOOM), _even(height * _KEN_BURNS_ZOOM)
        img = _open_image(data, field, draft=(bw, bh))
        self.big = np.ascontiguousarray(np.asarray(_cover(img.convert("RGB"), bw, bh)))
        rng = _rng(spec, f"ken-burns:{field}")
        # Always into the picture, so the first frame is the whole input image: a clip made
        # from another clip's last frame starts exactly where that one ended.
        self.zoom_in = True
        self.start = rng.uniform(0, 1, size=2)
        self.end = rng.uniform(0, 1, size=2)
        self.scaler = VideoReformatter()

    def paint(self, i: int, n: int, t: float) -> _Planes:
        p = _smoothstep(i / max(1, n - 1))
        z = p if self.zoom_in else 1 - p
        bh, bw = self.big.shape[:2]
        ww = round(bw + (self.w - bw) * z)
        wh = min(bh, max(2, round(ww * self.h / self.w)))
        fx, fy = self.start + (self.end - self.start) * p
        x0, y0 = round((bw - ww) * fx), round((bh - wh) * fy)
        window = self.big[y0 : y0 + wh, x0 : x0 + ww]
        src = av.VideoFrame.from_numpy_buffer(window, format="rgb24")
        return _Planes(
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


class _EndFade:
    """Cross-fades from one source to another over the last part of the clip."""

    def __init__(self, first: _Source, last: _Source, fraction: float) -> None:
        self.first, self.last, self.fraction = first, last, fraction

    def paint(self, i: int, n: int, t: float) -> _Planes:
        a = self.first.paint(i, n, t)
        p = i / max(1, n - 1)
        weight = _smoothstep((p - (1 - self.fraction)) / self.fraction)
        if weight <= 0:
            return a
        b = self.last.paint(i, n, t)
        if weight >= 1:
            return b
        _blend_into(a, a, b, weight)
        return a


class _Restyle:
    """Input video frames at the output rate (looped or trimmed), cover-fitted and recoloured."""

    def __init__(self, data: bytes, spec: RenderSpec, width: int, height: int, n: int) -> None:
        self.data, self.w, self.h, self.n, self.fps = data, width, height, n, spec.fps
        container = _open_container(data, "video")
        try:
            if not container.streams.video:
                raise RenderError("video has no video stream", field="video")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or 24
            self.frame_s = 1 / float(rate)
        finally:
            container.close()
        rng = _rng(spec, "restyle")
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
        container = _open_container(self.data, "video")
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
                f"video could not be decoded: {_av_reason(exc)}", field="video"
            ) from exc
        finally:
            container.close()

    def _styled(self, frame: av.VideoFrame) -> _Planes:
        scale = max(self.w / frame.width, self.h / frame.height)
        sw, sh = max(self.w, _even(frame.width * scale)), max(self.h, _even(frame.height * scale))
        scaled = _Planes(
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
        out = _Planes.new(self.w, self.h)
        np.take(self.lut_y, scaled.y[y0 : y0 + self.h, x0 : x0 + self.w], out=out.y)
        cx, cy, cw, ch = x0 // 2, y0 // 2, self.w // 2, self.h // 2
        np.take(self.lut_u, scaled.u[cy : cy + ch, cx : cx + cw], out=out.u)
        np.take(self.lut_v, scaled.v[cy : cy + ch, cx : cx + cw], out=out.v)
        return out

    def _frames(self) -> Iterator[_Planes]:
        """Output frame i shows the last input frame at or before i / fps, looping the input."""
        i, offset = 0, 0.0
        eps = 1e-6
        while i < self.n:
            current: av.VideoFrame | None = None
            styled: _Planes | None = None
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

    def paint(self, i: int, n: int, t: float) -> _Planes:
        return next(self.frames)


_Source = _Gradient | _Scenes | _KenBurns | _EndFade | _Restyle


# --------------------------------------------------------------------------------------------
# Overlays


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


def _overlays(
    spec: RenderSpec, width: int, height: int
) -> list[Callable[[_Planes, int, int], None]]:
    short = min(width, height)
    margin = max(4, short // 30)
    out: list[Callable[[_Planes, int, int], None]] = []

    if spec.element_images:
        rng = _rng(spec, "elements")
        count = len(spec.element_images)
        for k, data in enumerate(spec.element_images):
            img = _open_image(data, f"element_images[{k}]", draft=(short, short))
            side = max(8, int(short * 0.3))
            sprite = _Sprite.from_image(ImageOps.contain(img.convert("RGBA"), (side, side)))
            lane = (k + 0.5) / count * 0.7 + 0.1
            phase, bob = float(rng.uniform(0, 1)), float(rng.uniform(0.5, 2))

            def draw_element(
                fr: _Planes,
                i: int,
                n: int,
                s: _Sprite = sprite,
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
        placed: list[tuple[_Sprite, int]] = []
        for k, data in enumerate(spec.reference_images):
            img = _open_image(data, f"reference_images[{k}]", draft=(tw, th))
            thumb = _cover(img.convert("RGB"), max(2, tw), th)
            ImageDraw.Draw(thumb).rectangle(
                (0, 0, thumb.width - 1, thumb.height - 1),
                outline=(255, 255, 255),
                width=max(1, th // 40),
            )
            placed.append((_Sprite.from_image(thumb), x + k * (tw + gap)))

        def draw_refs(fr: _Planes, i: int, n: int) -> None:
            for s, sx in placed:
                s.draw(fr, sx, margin)

        out.append(draw_refs)

    if spec.caption:
        statics: list[tuple[_Sprite, int, int]] = []
        label = _Sprite.from_image(
            _text_box([LABEL_TEXT], max(9, short // 48), max(3, short // 120), 150)
        )
        statics.append((label, margin, margin))
        text = " ".join(spec.prompt.split())
        if text:
            size = max(10, short // 24)
            lines = _wrap(text, _font(size), width * 0.86, 3 if height >= width else 2)
            box = _Sprite.from_image(_text_box(lines, size, max(4, size // 2), 165))
            statics.append((box, (width - box.width) // 2, height - margin - box.height))

        def draw_caption(fr: _Planes, i: int, n: int) -> None:
            for s, sx, sy in statics:
                s.draw(fr, sx, sy)

        out.append(draw_caption)
    return out


# --------------------------------------------------------------------------------------------
# Rendering


def _validate(spec: RenderSpec) -> None:
    if not isinstance(spec.fps, int) or not 1 <= spec.fps <= 120:
        raise ValueError(f"fps must be an integer from 1 to 120, got {spec.fps!r}")
    if not (math.isfinite(spec.duration_s) and 0 < spec.duration_s <= _MAX_DURATION_S):
        raise ValueError(f"duration_s must be in (0, {_MAX_DURATION_S:g}], got {spec.duration_s!r}")
    if spec.upscale_factor is not None:
        if spec.video is None:
            raise ValueError("upscale_factor needs a video to upscale")
        if not 1 <= spec.upscale_factor <= 4:
            raise ValueError(f"upscale_factor must be 1 to 4, got {spec.upscale_factor!r}")
        return
    for name, value in (("width", spec.width), ("height", spec.height)):
        if not 2 <= value <= _MAX_SIDE:
            raise ValueError(f"{name} must be from 2 to {_MAX_SIDE}, got {value!r}")


def render(spec: RenderSpec, out_path: Path) -> RenderResult:
    """Render ``spec`` to an mp4 at ``out_path`` and describe the result.

    Blocking and CPU-bound: call it from a worker thread. The file is written beside
    ``out_path`` under a temporary name and moved into place only once complete, so readers
    never see a partial file.

    Raises:
        ValueError: for an impossible spec (size, duration, fps, upscale factor).
        RenderError: when an input cannot be decoded or used.
    """
    _validate(spec)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.{secrets.token_hex(6)}.part")
    try:
        if spec.upscale_factor is not None:
            assert spec.video is not None
            width, height, frames, has_audio, duration = _upscale(
                spec.video, spec.upscale_factor, tmp
            )
        else:
            width, height, frames, has_audio, duration = _generate(spec, tmp)
        os.replace(tmp, out_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return RenderResult(
        path=out_path,
        width=width,
        height=height,
        duration_s=duration,
        frames=frames,
        has_audio=has_audio,
        size_bytes=out_path.stat().st_size,
    )


def _generate(spec: RenderSpec, tmp: Path) -> tuple[int, int, int, bool, float]:
    width, height = spec.width - spec.width % 2, spec.height - spec.height % 2
    n = max(1, round(spec.duration_s * spec.fps))
    n_samples = round(n / spec.fps * _AUDIO_RATE)

    source: _Source
    if spec.video is not None:
        source = _Restyle(spec.video, spec, width, height, n)
    elif spec.image is not None:
        source = _KenBurns(spec.image, "image", spec, width, height)
    elif spec.scene_images:
        source = _Scenes(spec.scene_images, width, height, spec.fps)
    else:
        source = _Gradient(spec, width, height)
    if spec.end_image is not None:
        end = _KenBurns(spec.end_image, "end_image", spec, width, height)
        source = _EndFade(source, end, _END_FADE_FRACTION)
    overlays = _overlays(spec, width, height)

    tracks: list[tuple[F32, float]] = []
    if spec.video is not None:
        own = _decode_audio(spec.video, "video", n_samples, required=False)
        if own is not None:
            tracks.append((own, 1.0))
    if spec.audio_track is not None:
        track = _decode_audio(spec.audio_track, "audio_track", n_samples, required=True)
        assert track is not None
        tracks.append((track, 1.0))
    if spec.audio:
        tracks.append((_synth_audio(spec, n_samples), 0.35 if tracks else 1.0))
    pcm = _mix(tracks, n_samples) if tracks else None

    def frames() -> Iterator[av.VideoFrame]:
        for i in range(n):
            fr = source.paint(i, n, i / spec.fps)
            for overlay in overlays:
                overlay(fr, i, n)
            yield fr.frame

    # The generated chords alone need few bits, and FFmpeg's fast AAC coder at 64 kb/s spends
    # a quarter of the default coder's time on them; real soundtracks get the default.
    synthetic_only = spec.audio and len(tracks) == 1
    writer = _Writer(
        tmp,
        width,
        height,
        spec.fps,
        pcm,
        audio_coder="fast" if synthetic_only else "twoloop",
        audio_bit_rate=64_000 if synthetic_only else 128_000,
    )
    try:
        # Painting (numpy) and encoding (x264) both release the GIL for their heavy parts,
        # so painting ahead in a second thread keeps both cores busy.
        with _Prefetch(frames(), depth=4) as painted:
            for frame in painted:
                writer.add(frame)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return width, height, n, pcm is not None, n / spec.fps


def _sharpen(fr: _Planes, amount: float = 0.5) -> None:
    """Unsharp mask on luma with a 3x3 box blur."""
    y = fr.y.astype(np.int16)
    blur = y.copy()
    blur[1:-1] = y[:-2] + y[1:-1] + y[2:]
    blur[[0, -1]] *= 3
    horiz = blur.copy()
    horiz[:, 1:-1] = blur[:, :-2] + blur[:, 1:-1] + blur[:, 2:]
    horiz[:, [0, -1]] *= 3
    k = int(amount * 64)
    sharp = y + ((y * 9 - horiz) * k) // (9 * 64)
    np.copyto(fr.y, np.clip(sharp, 0, 255), casting="unsafe")


def _upscale(data: bytes, factor: int, tmp: Path) -> tuple[int, int, int, bool, float]:
    info = probe(data, field="video")
    if info.frames == 0 or info.width == 0:
        raise RenderError("video has no video frames to upscale", field="video")
    width = info.width * factor - (info.width * factor) % 2
    height = info.height * factor - (info.height * factor) % 2
    if max(width, height) > _MAX_SIDE:
        raise RenderError(
            f"video is too large to upscale {factor}x: {info.width}x{info.height} would become "
            f"{width}x{height} (at most {_MAX_SIDE} per side)",
            field="video",
        )
    container = _open_container(data, "video")
    try:
        vin = container.streams.video[0]
        rate = Fraction(vin.average_rate or vin.guessed_rate or 24).limit_denominator(1001)
        ain = container.streams.audio[0] if container.streams.audio else None
        # AAC is copied packet for packet; anything else is decoded and re-encoded as AAC.
        copy_audio = ain is not None and ain.codec_context.name == "aac"
        pcm: F32 | None = None
        if ain is not None and not copy_audio:
            pcm = _decode_audio(
                data, "video", round(info.frames / rate * _AUDIO_RATE), required=False
            )
        writer = _Writer(
            tmp,
            width,
            height,
            rate,
            pcm,
            audio_template=ain if copy_audio else None,
            quality=_FAITHFUL_QUALITY,
            tag_bt709=False,
        )
        for attr in ("colorspace", "color_primaries", "color_trc", "color_range"):
            value = getattr(vin.codec_context, attr, None)
            if value:
                setattr(writer.video.codec_context, attr, value)
        vin.thread_type = "AUTO"
        scaler = VideoReformatter()

        def items() -> Iterator[av.VideoFrame | av.Packet[Any]]:
            streams = [vin, ain] if copy_audio else [vin]
            try:
                for packet in container.demux(streams):
                    if packet.stream is vin:
                        for frame in packet.decode():
                            out = scaler.reformat(
                                frame,
                                width=width,
                                height=height,
                                format="yuv420p",
                                interpolation=_INTERP_UPSCALE,
                                threads=1,
                            )
                            if factor == 1:
                                _sharpen(_Planes(out))
                            yield out
                    elif packet.dts is not None:
                        yield packet
            except (av.FFmpegError, OSError) as exc:
                raise RenderError(
                    f"video could not be decoded: {_av_reason(exc)}", field="video"
                ) from exc

        try:
            with _Prefetch(items(), depth=4) as ready:
                for item in ready:
                    if isinstance(item, av.Packet):
                        writer.copy_audio(item)
                    else:
                        writer.add(item)
            if writer.frames == 0:
                raise RenderError("video contains no decodable frames", field="video")
            writer.close()
        except BaseException:
            writer.abort()
            raise
    finally:
        container.close()
    has_audio = copy_audio or pcm is not None
    return width, height, writer.frames, has_audio, float(writer.frames / rate)


# --------------------------------------------------------------------------------------------
# Probe


def probe(path_or_bytes: Path | bytes, *, field: str = "media") -> MediaInfo:
    """Read size, length, rate, frame count and codecs of a media file or its bytes.

    The frame count comes from demuxing every video packet (no decoding), so it is exact for
    the files :func:`render` writes.

    Raises:
        RenderError: when the data is not a readable media container.
    """
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else None
    try:
        container = (
            _open_container(data, field) if data is not None else av.open(str(path_or_bytes), "r")
        )
    except (av.FFmpegError, OSError) as exc:
        raise RenderError(f"{field} could not be opened: {_av_reason(exc)}", field=field) from exc
    try:
        vstreams, astreams = container.streams.video, container.streams.audio
        video = vstreams[0] if vstreams else None
        audio = astreams[0] if astreams else None
        frames = 0
        if video is not None:
            for packet in container.demux(video):
                if packet.size:
                    frames += 1
        if container.duration is not None:
            duration = container.duration / 1_000_000
        else:
            duration = max(
                (
                    float(s.duration * s.time_base)
                    for s in (video, audio)
                    if s is not None and s.duration and s.time_base is not None
                ),
                default=0.0,
            )
        rate = (video.average_rate or video.guessed_rate) if video is not None else None
        return MediaInfo(
            width=video.codec_context.width if video is not None else 0,
            height=video.codec_context.height if video is not None else 0,
            duration_s=duration,
            fps=float(rate) if rate else 0.0,
            frames=frames,
            has_audio=audio is not None,
            video_codec=video.codec_context.name if video is not None else None,
            audio_codec=audio.codec_context.name if audio is not None else None,
        )
    except (av.FFmpegError, ValueError) as exc:
        raise RenderError(f"{field} could not be read: {_av_reason(exc)}", field=field) from exc
    finally:
        container.close()
