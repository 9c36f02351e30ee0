"""Pictures of a film: decoding shots' frames, fitting them to the film, blending, encoding.

Frames travel as yuv420p ``av.VideoFrame``s: decoded frames are passed on untouched, and
blends, fades and captions work in numpy views of a frame's three planes (:func:`frame_planes`),
written into a new frame, so no picture is converted or copied on its way to the encoder.
:func:`planes` gives the same views of a packed yuv420p array, shape ``(height * 3 // 2,
width)``.

Encoding uses the local engine's H.264 settings (x264 ``ultrafast``, fixed QP 24, keyframes
every two seconds, BT.709 tags), so that re-encoded frames can sit in the same stream as frames
copied from the engine's shots: the stream parameters (SPS/PPS) come out identical. The engine
runs x264 on two threads; short runs spliced between copied frames are encoded on one, a few
runs at once, which costs less for the same stream parameters.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Final, cast

import av
import numpy as np
from av.video.frame import PictureType
from av.video.reformatter import Colorspace, VideoReformatter
from numpy.typing import NDArray

from ._errors import AssemblyError
from ._shots import QUICK_OPEN, ShotInfo

__all__ = [
    "RUN_THREADS",
    "Blender",
    "EncodedRun",
    "FrameReader",
    "black_frame",
    "configure_h264",
    "copy_frame",
    "encode_run",
    "encoder_extradata",
    "frame_planes",
    "new_frame",
    "planes",
    "to_video_frame",
]

U8 = NDArray[np.uint8]

# The local engine's settings (venice_video.server._render._encode): keep them in step, or shots
# it renders can no longer be copied into films.
_X264_OPTIONS: Final = {"preset": "ultrafast", "threads": "2", "qp": "24"}
# Runs spliced between copied frames: x264 on one thread, and so one slice a frame (the thread
# count does not enter the stream parameters), and their decoders on one thread too; the
# parallelism is in encoding a few runs at once (see ._splice).
RUN_THREADS: Final = 1
_BLACK_Y: Final = 16
_BLACK_C: Final = 128
_BLACK_LEVELS: Final = (_BLACK_Y, _BLACK_C, _BLACK_C)


def configure_h264(stream: Any, width: int, height: int, fps: Fraction) -> None:
    """Set an H.264 output stream made with ``add_stream("libx264", rate=fps,
    options=H264_OPTIONS)`` to the film's size, pixel format, GOP and colour tags."""
    stream.width = width
    stream.height = height
    stream.pix_fmt = "yuv420p"
    cc = stream.codec_context
    cc.gop_size = max(1, round(2 * fps))
    cc.colorspace = 1  # BT.709
    cc.color_primaries = 1
    cc.color_trc = 1
    cc.color_range = 1  # limited ("tv") range


def add_h264_stream(
    container: Any, width: int, height: int, fps: Fraction, *, threads: int | None = None
) -> Any:
    """Add an H.264 stream with the engine's settings to an output ``container``; ``threads``
    overrides the engine's x264 thread count."""
    options = dict(_X264_OPTIONS)
    if threads is not None:
        options["threads"] = str(threads)
    stream = container.add_stream("libx264", rate=fps, options=options)
    configure_h264(stream, width, height, fps)
    return stream


def black_frame(width: int, height: int) -> U8:
    frame = np.empty((height * 3 // 2, width), np.uint8)
    frame.reshape(-1)[: width * height] = _BLACK_Y
    frame.reshape(-1)[width * height :] = _BLACK_C
    return frame


def planes(frame: U8, width: int, height: int) -> tuple[U8, U8, U8]:
    """Writable 2-D views of the Y, U and V planes of a packed yuv420p array."""
    flat = frame.reshape(-1)
    luma = width * height
    quarter = luma // 4
    return (
        flat[:luma].reshape(height, width),
        flat[luma : luma + quarter].reshape(height // 2, width // 2),
        flat[luma + quarter :].reshape(height // 2, width // 2),
    )


def to_video_frame(frame: U8 | av.VideoFrame, index: int, fps: Fraction) -> av.VideoFrame:
    """``frame`` as a frame to encode as number ``index`` of a stream at ``fps``."""
    if isinstance(frame, av.VideoFrame):
        out = frame
        # A decoded frame remembers its picture type, which the encoder would obey.
        out.pict_type = PictureType.NONE
    else:
        out = av.VideoFrame.from_ndarray(frame, format="yuv420p")
    out.pts = index
    out.time_base = Fraction(1) / fps
    return out


def frame_planes(frame: av.VideoFrame) -> tuple[U8, U8, U8]:
    """2-D views of a yuv420p frame's Y, U and V planes, sharing its memory (no copy).

    Rows may be padded in memory; the views show the picture only. Write only into a frame of
    your own: a decoded frame's picture may still be a reference of its decoder.
    """
    views = []
    for plane in frame.planes:
        step = plane.line_size
        rows = np.frombuffer(cast(Any, plane), np.uint8).reshape(plane.height, abs(step))
        # A negative line size stores the picture bottom up (the buffer starts at its last row).
        views.append(rows[:: 1 if step > 0 else -1, : plane.width])
    y, u, v = views
    return y, u, v


def new_frame(width: int, height: int) -> av.VideoFrame:
    """A yuv420p frame of the film's size, its content undefined."""
    return av.VideoFrame(width, height, "yuv420p")


def copy_frame(frame: av.VideoFrame) -> av.VideoFrame:
    """A copy of a yuv420p ``frame`` that can be drawn into."""
    out = new_frame(frame.width, frame.height)
    for dst, src in zip(frame_planes(out), frame_planes(frame), strict=True):
        np.copyto(dst, src)
    return out


class Blender:
    """Weighted sums of yuv420p frames, the weight left over going to black.

    Weights are rounded to 1/256ths and the sum is done in 16-bit integers, plane by plane,
    straight from the decoded frames' memory into a new frame's: exact to within one level,
    and no frame is converted or copied on the way. Its scratch memory is reused from one
    frame to the next, so a blender serves one thread.
    """

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        shapes = [(height, width), (height // 2, width // 2), (height // 2, width // 2)]
        self._acc = [np.empty(shape, np.uint16) for shape in shapes]
        self._scratch = [np.empty(shape, np.uint16) for shape in shapes]

    def blend(self, layers: Sequence[tuple[av.VideoFrame, float]]) -> av.VideoFrame:
        """A new frame: the sum of ``layers`` (frame, weight), and black for the rest."""
        parts = [(frame, max(0.0, weight)) for frame, weight in layers]
        rest = 1.0 - sum(weight for _, weight in parts)
        shares = [round(weight * 256) for _, weight in parts]
        if rest > 1 / 512:
            shares.append(round(rest * 256))
        shares[-1] += 256 - sum(shares)  # exactly 256 in all, so the sum fits in 16 bits
        black = shares[len(parts)] if len(shares) > len(parts) else 0
        sources = [
            (frame_planes(frame), share)
            for (frame, _), share in zip(parts, shares[: len(parts)], strict=True)
            if share > 0
        ]
        out = new_frame(self.width, self.height)
        for k, (dst, acc, scratch, level) in enumerate(
            zip(frame_planes(out), self._acc, self._scratch, _BLACK_LEVELS, strict=True)
        ):
            if not sources:
                dst.fill(level)
                continue
            np.multiply(sources[0][0][k], np.uint16(sources[0][1]), out=acc, dtype=np.uint16)
            for planes_of, share in sources[1:]:
                np.multiply(planes_of[k], np.uint16(share), out=scratch, dtype=np.uint16)
                acc += scratch
            acc += np.uint16(black * level + 128)  # black's part, and rounding to nearest
            acc >>= 8
            np.copyto(dst, acc, casting="unsafe")
        return out


def _even(x: float) -> int:
    return max(2, 2 * round(x / 2))


class FrameReader:
    """Decodes one shot's frames by number, moving forward and seeking when that is quicker.

    Frames are fitted to the film: scaled to fit inside it keeping their shape, centred on
    black (letterbox or pillarbox), converted to yuv420p BT.709. ``threads`` is the decoder's
    thread count (0: FFmpeg's choice).
    """

    def __init__(self, shot: ShotInfo, width: int, height: int, *, threads: int = 0) -> None:
        self.shot = shot
        self.width, self.height = width, height
        self.threads = threads
        self._index = {pts: i for i, pts in enumerate(shot.frame_pts)}
        self._container: Any = None
        self._stream: Any = None
        self._frames: Any = None
        self._next = 0  # number of the next frame the decoder will produce
        self._cached: tuple[int, av.VideoFrame] | None = None
        self._scaler = VideoReformatter()

    def _restart(self, keyframe: int) -> None:
        try:
            if self._container is None:
                self._container = av.open(str(self.shot.path), "r")
                self._stream = self._container.streams.video[0]
                if self.threads:
                    self._stream.thread_count = self.threads
            if keyframe > 0 or self._frames is not None:
                self._container.seek(
                    self.shot.frame_pts[keyframe],
                    stream=self._stream,
                    backward=True,
                    any_frame=False,
                )
            self._frames = self._container.decode(self._stream)
        except (av.FFmpegError, OSError) as exc:
            raise self._error(exc) from exc
        self._next = keyframe

    def _error(self, exc: BaseException) -> AssemblyError:
        return AssemblyError(
            f"clip {self.shot.index} ({self.shot.path}) could not be decoded: {exc}",
            clip=self.shot.index,
        )

    def get(self, number: int) -> av.VideoFrame:
        """Frame ``number`` (presentation order, 0-based) fitted to the film.

        The frame may be the decoder's own: read it, do not change it.
        """
        number = min(max(number, 0), self.shot.frames - 1)
        if self._cached is not None and self._cached[0] == number:
            return self._cached[1]
        key = max((k for k in self.shot.keyframes if k <= number), default=0)
        if self._frames is None or number < self._next or key > self._next:
            self._restart(key)
        try:
            for frame in self._frames:
                got = self._next if frame.pts is None else self._index.get(frame.pts, self._next)
                self._next = got + 1
                if got >= number:
                    fitted = self._fit(frame)
                    self._cached = (number, fitted)
                    return fitted
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise self._error(exc) from exc
        if self._cached is not None:  # the file ended early: hold the last good frame
            return self._cached[1]
        raise AssemblyError(
            f"clip {self.shot.index} ({self.shot.path}): frame {number} could not be decoded",
            clip=self.shot.index,
        )

    def _fit(self, frame: av.VideoFrame) -> av.VideoFrame:
        w, h = self.width, self.height
        if frame.format.name == "yuv420p" and frame.width == w and frame.height == h:
            return frame
        scale = min(w / frame.width, h / frame.height)
        fw, fh = min(w, _even(frame.width * scale)), min(h, _even(frame.height * scale))
        scaled = self._scaler.reformat(
            frame,
            width=fw,
            height=fh,
            format="yuv420p",
            interpolation="BILINEAR",
            dst_colorspace=Colorspace.ITU709,
        )
        if (fw, fh) == (w, h):
            return scaled
        canvas = new_frame(w, h)
        x, y = (w - fw) // 4 * 2, (h - fh) // 4 * 2
        for dst, src, s, level in zip(
            frame_planes(canvas), frame_planes(scaled), (1, 2, 2), _BLACK_LEVELS, strict=True
        ):
            dst.fill(level)
            dst[y // s : y // s + src.shape[0], x // s : x // s + src.shape[1]] = src
        return canvas

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = self._stream = self._frames = None


@dataclass
class EncodedRun:
    """Frames encoded on their own: the stream's codec data and its packets in order.

    ``frames[k]`` is the frame number, within the run, of ``packets[k]``.
    """

    extradata: bytes
    packets: list[av.Packet[Any]]
    frames: list[int]
    dts_frames: list[int]


def encode_run(
    frames: Iterable[U8 | av.VideoFrame], width: int, height: int, fps: Fraction
) -> EncodedRun:
    """Encode ``frames`` with the engine's settings (on ``RUN_THREADS`` threads) into an
    in-memory mp4 and read them back.

    Going through the mp4 muxer gives packets in the same form (length-prefixed NAL units) and
    codec data in the same form (avcC) as the shots' own, so the two can be compared and mixed.
    """
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = add_h264_stream(out, width, height, fps, threads=RUN_THREADS)
        for k, frame in enumerate(frames):
            out.mux(stream.encode(to_video_frame(frame, k, fps)))
        out.mux(stream.encode(None))
    buf.seek(0)
    packets: list[av.Packet[Any]] = []
    numbers: list[int] = []
    dts_numbers: list[int] = []
    with av.open(buf, "r", format="mp4", options=dict(QUICK_OPEN)) as back:
        vin = back.streams.video[0]
        extradata = bytes(vin.codec_context.extradata or b"")
        step = Fraction(vin.time_base or Fraction(1, 90_000)) * fps
        for packet in back.demux(vin):
            if packet.pts is None or packet.size == 0:
                continue
            packets.append(packet)
            numbers.append(round(packet.pts * step))
            dts = packet.dts if packet.dts is not None else packet.pts
            dts_numbers.append(round(dts * step))
    return EncodedRun(extradata, packets, numbers, dts_numbers)


@functools.lru_cache(maxsize=8)
def encoder_extradata(width: int, height: int, fps: Fraction) -> bytes:
    """The codec data the engine's settings give for this picture format."""
    return encode_run([black_frame(width, height)], width, height, fps).extradata
