"""Writing the mp4: H.264 and AAC interleaved, with painting run a few frames ahead."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

import av
import numpy as np

from ._planes import F32, set_bt709
from ._sound import AUDIO_CHUNK, AUDIO_RATE

__all__ = ["FAITHFUL_QUALITY", "Prefetch", "Writer"]

# x264 picks its thread count from the CPU count, and the bitstream depends on it; a fixed count
# keeps the output byte-identical from one machine to the next.
_X264_THREADS: Final = "2"
# Constant QP skips the per-frame complexity analysis that CRF needs, about a third less CPU;
# nobody cares about the exact bitrate of these files. Real footage (upscale) gets a lower QP.
_FAST_QUALITY: Final = {"qp": "24"}
FAITHFUL_QUALITY: Final = {"qp": "20"}


class Writer:
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
            set_bt709(self.video)
        self.pcm = pcm
        self.audio: Any = None
        self.samples_written = 0
        if pcm is not None:
            self.audio = self.container.add_stream(
                "aac", rate=AUDIO_RATE, options={"aac_coder": audio_coder}
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
            self._write_audio(int(self.frames / self.rate * AUDIO_RATE))

    def copy_audio(self, packet: av.Packet[Any]) -> None:
        """Mux an already-encoded audio packet (stream copy)."""
        packet.stream = self.audio
        self.container.mux(packet)

    def _write_audio(self, until: int) -> None:
        assert self.pcm is not None
        until = min(until, self.pcm.shape[1])
        while until - self.samples_written >= AUDIO_CHUNK or (
            until == self.pcm.shape[1] and self.samples_written < until
        ):
            start = self.samples_written
            stop = min(start + AUDIO_CHUNK, until)
            chunk = np.ascontiguousarray(self.pcm[:, start:stop])
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
            frame.sample_rate = AUDIO_RATE
            frame.pts = start
            frame.time_base = Fraction(1, AUDIO_RATE)
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


class Prefetch:
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
