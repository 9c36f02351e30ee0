"""The film's video stream: runs of frames copied from the shots, spliced with encoded ones.

:func:`plan_video` decides which runs are copied and which encoded (see :mod:`._plan`) and
which shot's stream parameters the film's stream takes; :func:`copy_run` copies a run's
packets untouched, retimed to the film; :class:`PieceEncoder` encodes runs on their own (a
few at once) and :func:`splice_piece` splices their packets in, after checking they share
the copied packets' codec data;
:class:`Composer` makes the frames that are encoded (decoded, fitted, blended, captioned);
:class:`Muxer` writes it all in order with the sound and captions interleaved.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Final

import av
import numpy as np
from numpy.typing import NDArray

from ._captions import CaptionPainter
from ._errors import AssemblyError
from ._mixdown import AudioEncoder
from ._pictures import (
    Blender,
    EncodedRun,
    FrameReader,
    copy_frame,
    encode_run,
    encoder_extradata,
    frame_planes,
)
from ._plan import ClipLayout, CopyRun, CopySource, EncodeRun, film_frames, layers_at, plan_runs
from ._shots import ShotInfo

if TYPE_CHECKING:
    from ._assemble import FilmSpec

__all__ = [
    "Composer",
    "Muxer",
    "PieceEncoder",
    "SpliceMismatch",
    "copy_run",
    "plan_video",
    "splice_piece",
]

U8 = NDArray[np.uint8]

_AUDIO_LEAD_S: Final = 0.5  # audio muxed this far ahead of the video, for interleaving
# Runs are encoded and decoded on one thread each (RUN_THREADS), which costs the least CPU per
# frame; two runs at once fill two cores, alongside the sound's encoders.
_ENCODERS: Final = 2


class SpliceMismatch(Exception):
    """Copied and re-encoded frames turned out not to fit one stream: re-encode it all."""


class Composer:
    """Decodes, composes and captions the film frames that are encoded afresh.

    ``decode_threads`` is each decoder's thread count (0: FFmpeg's choice).
    """

    def __init__(
        self,
        spec: FilmSpec,
        shots: Sequence[ShotInfo],
        placed: Sequence[ClipLayout],
        burn: Sequence[tuple[int, int, str]],
        *,
        decode_threads: int = 0,
    ) -> None:
        self.decode_threads = decode_threads
        self.fps = Fraction(spec.fps)
        self.width, self.height = spec.width, spec.height
        self.shots, self.placed = shots, placed
        self.burn = burn
        self._burn_starts = [start for start, _, _ in burn]
        self.painter = CaptionPainter(spec.width, spec.height) if burn else None
        self.blender = Blender(spec.width, spec.height)
        self.readers: dict[int, FrameReader] = {}

    def _source_frame(self, clip: ClipLayout, local: int) -> int:
        shot = self.shots[clip.index]
        if shot.fps == self.fps:
            return clip.skip + local
        # Another rate: the frame on show at this moment of the shot.
        moment = Fraction(clip.skip + local) / self.fps
        return min(shot.frames - 1, math.floor(moment * shot.fps + Fraction(1, 1000)))

    def _reader(self, clip: int) -> FrameReader:
        reader = self.readers.get(clip)
        if reader is None:
            reader = FrameReader(
                self.shots[clip], self.width, self.height, threads=self.decode_threads
            )
            self.readers[clip] = reader
        return reader

    def frame(self, number: int) -> av.VideoFrame:
        """Film frame ``number``: a decoded frame as it is, or a new, composed one."""
        caption = None
        if self.burn:
            k = bisect.bisect_right(self._burn_starts, number) - 1
            if k >= 0 and number < self.burn[k][1]:
                caption = self.burn[k][2]
        frames = []
        for layer in layers_at(self.placed, number):
            clip = self.placed[layer.clip]
            source = self._source_frame(clip, layer.local)
            frames.append((self._reader(layer.clip).get(source), layer.weight))
        if len(frames) == 1 and frames[0][1] >= 1.0:
            if caption is None:
                return frames[0][0]
            out = copy_frame(frames[0][0])
        else:
            out = self.blender.blend(frames)
        if caption is not None and self.painter is not None:
            self.painter.draw(frame_planes(out), caption)
        return out

    def frames(self, run: EncodeRun) -> Iterator[av.VideoFrame]:
        for number in range(run.at, run.at + run.count):
            yield self.frame(number)
        self.release(run.at + run.count)

    def release(self, before: int) -> None:
        """Close the readers of clips that end before film frame ``before``."""
        for clip in [c for c in self.readers if self.placed[c].end <= before]:
            self.readers.pop(clip).close()

    def close(self) -> None:
        for reader in self.readers.values():
            reader.close()
        self.readers.clear()


def _eligible(shot: ShotInfo, spec: FilmSpec) -> bool:
    return (
        shot.codec == "h264"
        and (shot.width, shot.height) == (spec.width, spec.height)
        and shot.pix_fmt == "yuv420p"
        and shot.fps == Fraction(spec.fps)
        and shot.copy_key() is not None
    )


def _source(shot: ShotInfo) -> CopySource:
    return CopySource(shot.frames, shot.keyframes, shot.reorders)


def plan_video(
    spec: FilmSpec,
    shots: Sequence[ShotInfo],
    placed: Sequence[ClipLayout],
    busy: Sequence[tuple[int, int]],
    smart: bool,
) -> tuple[list[CopyRun | EncodeRun], ShotInfo | None]:
    """The runs of the film's video and, when anything is copied, the shot whose stream
    parameters the film's video stream takes."""
    total = film_frames(placed)
    whole: list[CopyRun | EncodeRun] = [EncodeRun(0, total)]
    if not smart:
        return whole, None
    eligible = [_eligible(shot, spec) for shot in shots]
    # Everything copied: any shared codec data will do, as nothing is encoded.
    if all(eligible) and len({shot.copy_key() for shot in shots}) == 1:
        runs = plan_runs(placed, [_source(shot) for shot in shots], busy)
        if all(isinstance(run, CopyRun) for run in runs):
            return runs, shots[0]
    # Copied and encoded frames mixed: only shots whose codec data our encoder reproduces.
    extradata = encoder_extradata(spec.width, spec.height, Fraction(spec.fps))
    sources = [
        _source(shot) if ok and shot.extradata == extradata else None
        for shot, ok in zip(shots, eligible, strict=True)
    ]
    runs = plan_runs(placed, sources, busy)
    copied = [run for run in runs if isinstance(run, CopyRun)]
    if not copied:
        return whole, None
    return runs, shots[copied[0].clip]


class Muxer:
    """Writes video packets in order, interleaving the audio and caption packets with them."""

    def __init__(
        self,
        container: Any,
        video: Any,
        audio: AudioEncoder,
        captions: list[av.Packet[Any]],
        fps: Fraction,
    ) -> None:
        self.container, self.video, self.audio = container, video, audio
        self.captions = [(float((p.pts or 0) * (p.time_base or 0)), p) for p in captions]
        self.frame_time = Fraction(1) / fps
        self.frame_seconds = float(self.frame_time)
        self.last_dts: int | None = None

    def _others(self, seconds: float | None) -> None:
        for packet in self.audio.until(seconds):
            self.container.mux(packet)
        while self.captions and (seconds is None or self.captions[0][0] < seconds):
            self.container.mux(self.captions.pop(0)[1])

    def mux_video(self, packet: av.Packet[Any], pts: int, dts: int) -> None:
        """Mux a video packet as film frame ``pts`` (decoded at frame time ``dts``)."""
        if self.last_dts is not None and dts <= self.last_dts:
            raise SpliceMismatch(f"decode times go backwards at frame {pts}")
        self.last_dts = dts
        packet.stream = self.video
        packet.time_base = self.frame_time
        packet.pts, packet.dts, packet.duration = pts, dts, 1
        self._others(dts * self.frame_seconds + _AUDIO_LEAD_S)
        self.container.mux(packet)

    def mux_encoded(self, packets: Sequence[av.Packet[Any]]) -> None:
        """Mux packets of the film's own encoder (timed in frames)."""
        for packet in packets:
            if packet.dts is not None:
                self._others(packet.dts * self.frame_seconds + _AUDIO_LEAD_S)
            self.container.mux(packet)

    def finish(self) -> None:
        self._others(None)


def copy_run(run: CopyRun, shot: ShotInfo, muxer: Muxer) -> None:
    """Copy ``run``'s packets from the shot untouched, retimed to the film."""
    rank = {pts: i for i, pts in enumerate(shot.frame_pts)}
    step = float(shot.time_base * shot.fps)
    origin = shot.frame_pts[0]
    wanted = set(range(run.first, run.first + run.count))
    taken = 0
    try:
        with shot.open() as container:
            stream = container.streams.video[0]
            if run.first > 0:
                container.seek(
                    shot.frame_pts[run.first], stream=stream, backward=True, any_frame=False
                )
            started = False
            for packet in container.demux(stream):
                if packet.pts is None or packet.size == 0:
                    continue
                number = rank.get(packet.pts)
                if not started:
                    if number != run.first:
                        continue
                    started = True
                if number not in wanted:
                    raise SpliceMismatch(f"clip {shot.index}: frame {number} is out of its run")
                dts = packet.dts if packet.dts is not None else packet.pts
                dts_number = round((dts - origin) * step)
                muxer.mux_video(
                    packet, run.at + number - run.first, run.at + dts_number - run.first
                )
                taken += 1
                if taken == run.count:
                    return
    except (av.FFmpegError, OSError) as exc:
        raise AssemblyError(
            f"clip {shot.index} ({shot.path}) could not be read: {exc}", clip=shot.index
        ) from exc
    raise SpliceMismatch(f"clip {shot.index}: only {taken} of {run.count} frames found to copy")


class PieceEncoder:
    """Encodes runs on their own, a few at once, for splicing between copied runs.

    Each run is independent (it starts on a keyframe of its own), so runs are encoded in
    worker threads, each with its own :class:`Composer` (decoders are not shared between
    threads); results come back in the order asked for.
    """

    def __init__(self, make_composer: Callable[[], Composer], spec: FilmSpec) -> None:
        self._make_composer = make_composer
        self._spec = spec
        self._local = threading.local()
        self._composers: list[Composer] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=_ENCODERS, thread_name_prefix="film-encode")

    def _composer(self) -> Composer:
        composer: Composer | None = getattr(self._local, "composer", None)
        if composer is None:
            composer = self._make_composer()
            self._local.composer = composer
            with self._lock:
                self._composers.append(composer)
        return composer

    def _encode(self, run: EncodeRun) -> EncodedRun:
        spec = self._spec
        frames = self._composer().frames(run)
        return encode_run(frames, spec.width, spec.height, Fraction(spec.fps))

    def submit(self, run: EncodeRun) -> Future[EncodedRun]:
        return self._pool.submit(self._encode, run)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        for composer in self._composers:
            composer.close()


def splice_piece(run: EncodeRun, piece: EncodedRun, extradata: bytes, muxer: Muxer) -> None:
    """Mux an encoded run's packets between the copied ones, if they share codec data."""
    if piece.extradata != extradata:
        raise SpliceMismatch("re-encoded frames do not share the copied frames' codec data")
    for packet, number, dts_number in zip(
        piece.packets, piece.frames, piece.dts_frames, strict=True
    ):
        muxer.mux_video(packet, run.at + number, run.at + dts_number)
