"""Read what assembly needs to know about each shot, without decoding more than one frame.

Probing demuxes every video packet of a shot (cheap: no decoding) to learn its frame count, its
keyframes and whether frames are stored out of order, and decodes its first frame to make sure
the file really is video. Any failure becomes an :class:`AssemblyError` naming the clip and file.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Final

import av

from ._errors import AssemblyError

__all__ = ["QUICK_OPEN", "ShotInfo", "probe_shot"]

#: FFmpeg's stream analysis on opening a file decodes a frame of every stream. An MP4 (or
#: QuickTime) file has its streams' parameters in its index: one already probed, opened again
#: to read its packets or sound, is opened with these options, which skip the analysis.
QUICK_OPEN: Final = {"probesize": "32", "analyzeduration": "0"}


@dataclass(frozen=True)
class ShotInfo:
    """A shot's video stream, as far as assembly cares.

    ``frame_pts`` are the frames' timestamps in presentation order and ``packet_frames`` maps
    each packet, in stored (decode) order, to its frame number. ``keyframes`` lists the frames
    from which decoding can start afresh: keyframes not followed, in decode order, by frames
    shown before them.
    """

    index: int
    path: Path
    codec: str
    width: int
    height: int
    pix_fmt: str
    fps: Fraction
    time_base: Fraction
    extradata: bytes
    frame_pts: tuple[int, ...]
    packet_frames: tuple[int, ...]
    keyframes: tuple[int, ...]
    reorders: bool
    constant_rate: bool
    has_audio: bool
    indexed: bool = False  # an MP4 or QuickTime file: its streams are described in its index

    @property
    def frames(self) -> int:
        return len(self.frame_pts)

    @property
    def duration(self) -> float:
        """Seconds of video: the frame count over the frame rate."""
        return float(self.frames / self.fps)

    @property
    def start_time(self) -> float:
        """Presentation time of the first frame, in seconds."""
        return float(self.frame_pts[0] * self.time_base)

    def open(self) -> av.container.InputContainer:
        """Open the shot's file again, to demux its packets or decode its sound.

        Raises:
            av.FFmpegError, OSError: as ``av.open`` does.
        """
        return av.open(str(self.path), "r", options=dict(QUICK_OPEN) if self.indexed else None)

    def copy_key(self) -> tuple[object, ...] | None:
        """What must be equal for two shots' compressed frames to share one stream, or None.

        Timestamps are rebuilt from frame numbers when copying, so the time base need not
        match; the frame rate must, and the frames must be evenly spaced at it.
        """
        if not self.constant_rate or not self.extradata:
            return None
        return (self.codec, self.width, self.height, self.pix_fmt, self.fps, self.extradata)


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(text)


def _is_indexed(container: av.container.InputContainer) -> bool:
    return "mp4" in container.format.name.split(",")


def probe_shot(index: int, path: Path) -> ShotInfo:
    """Probe clip ``index``'s file at ``path``.

    Raises:
        AssemblyError: the file is missing, not a media file, has no video stream, has no
            frames, or its first frame does not decode.
    """
    where = f"clip {index} ({path})"
    if not path.exists():
        raise AssemblyError(f"{where}: file not found", clip=index)
    if not path.is_file():
        raise AssemblyError(f"{where}: not a regular file", clip=index)
    try:
        # An MP4 describes its streams in its index, and the first frame is decoded below
        # anyway: FFmpeg's stream analysis is only needed for other containers.
        container = av.open(str(path), "r", options=dict(QUICK_OPEN))
        if not _is_indexed(container):
            container.close()
            container = av.open(str(path), "r")
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise AssemblyError(
            f"{where} could not be opened as video: {_reason(exc)}", clip=index
        ) from exc
    try:
        if not container.streams.video:
            raise AssemblyError(f"{where} has no video stream", clip=index)
        stream = container.streams.video[0]
        ctx = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not rate or rate <= 0:
            raise AssemblyError(f"{where}: its frame rate cannot be told", clip=index)
        fps = Fraction(rate)
        time_base = Fraction(stream.time_base or Fraction(1, 90_000))
        decode_pts: list[int] = []
        keyflags: list[bool] = []
        first_frame_ok = False
        for packet in container.demux(stream):
            if packet.pts is None or packet.size == 0:
                continue
            if not first_frame_ok:
                # Decoding the first frames proves the codec data is usable.
                first_frame_ok = bool(packet.decode())
            decode_pts.append(packet.pts)
            keyflags.append(packet.is_keyframe)
        if not first_frame_ok:
            first_frame_ok = bool(stream.codec_context.decode(None))
        codec, width, height = ctx.name, ctx.width, ctx.height
        pix_fmt, extradata = ctx.pix_fmt or "", bytes(ctx.extradata or b"")
        has_audio = bool(container.streams.audio)
        indexed = _is_indexed(container)
    except AssemblyError:
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise AssemblyError(f"{where} could not be read: {_reason(exc)}", clip=index) from exc
    finally:
        container.close()
    if not decode_pts:
        raise AssemblyError(f"{where} contains no video frames", clip=index)
    if not first_frame_ok:
        raise AssemblyError(f"{where}: its first frames do not decode", clip=index)

    frame_pts = tuple(sorted(decode_pts))
    rank = {pts: i for i, pts in enumerate(frame_pts)}
    packet_frames = tuple(rank[pts] for pts in decode_pts)
    reorders = any(b < a for a, b in zip(packet_frames, packet_frames[1:], strict=False))
    # Each frame number must follow from its timestamp at the stream's rate for copies to
    # keep their timing; variable-rate files are re-encoded instead.
    # In whole numbers: frame i is at (pts - first) * num / den frames, within 1/100th.
    step = time_base * fps
    num, den, first = step.numerator, step.denominator, frame_pts[0]
    constant_rate = len(rank) == len(decode_pts) and all(
        100 * abs((pts - first) * num - i * den) <= den for i, pts in enumerate(frame_pts)
    )
    keyframes: list[int] = []
    for pos, (frame, key) in enumerate(zip(packet_frames, keyflags, strict=True)):
        # Frames stored after a keyframe but shown before it (open GOPs) need the frames
        # before the keyframe, so decoding cannot start there.
        if key and all(f > frame for f in packet_frames[pos + 1 : pos + 8]):
            keyframes.append(frame)
    return ShotInfo(
        index=index,
        path=path,
        codec=codec,
        width=width,
        height=height,
        pix_fmt=pix_fmt,
        fps=fps,
        time_base=time_base,
        extradata=extradata,
        frame_pts=frame_pts,
        packet_frames=packet_frames,
        keyframes=tuple(sorted(keyframes)),
        reorders=reorders,
        constant_rate=constant_rate,
        has_audio=has_audio,
        indexed=indexed,
    )
