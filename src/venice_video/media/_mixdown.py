"""A film's sound: the shots' own audio joined without clicks or gaps, music mixed under it.

All of it is worked out as one 48 kHz stereo float array for the whole film (a two-minute film
is 46 MB), the shots' sound decoded straight into place, and encoded to AAC in worker threads
while the picture is being assembled: a few spans at once, each as soon as the shots under it
are laid in (see :class:`AudioEncoder`). Each shot's audio covers exactly its place on the
timeline: cut to length, or padded with silence
(a shot without audio is all silence). At a cut both sides ramp over a few milliseconds, so
no step in the waveform becomes a click; a crossfade ramps the two shots across each other;
a fade to black takes the sound down with the picture.
"""

from __future__ import annotations

import collections
import math
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

import av
import numpy as np
from numpy.typing import NDArray

from ._errors import AssemblyError
from ._plan import ClipLayout
from ._shots import ShotInfo

if TYPE_CHECKING:
    from ._assemble import Cue, Soundtrack

__all__ = [
    "AUDIO_BIT_RATE",
    "RATE",
    "AudioEncoder",
    "FilmSound",
    "add_soundtrack",
    "film_audio",
    "limit",
    "loud_spans",
]

F32 = NDArray[np.float32]

RATE: Final = 48_000
_TIME_BASE: Final = Fraction(1, RATE)
_CHUNK: Final = 1024  # samples per AAC frame
AUDIO_BIT_RATE: Final = 128_000
_CHUNK_S: Final = 30.0  # films this long or longer encode their sound in several spans at once
_MAX_CHUNKS: Final = 4
_BATCH: Final = 16  # packets handed over at a time
_PREROLL: Final = 8  # AAC frames encoded before a span, to settle the encoder's state
_POSTROLL: Final = 2
_JOIN_FADE_S: Final = 0.008  # long enough to hide a step, short enough not to be heard
_LOUD_DBFS: Final = -32.0  # speech and other foreground sound sits well above this
_LOUD_WINDOW_S: Final = 0.02
_DUCK_HOLD_S: Final = 0.25  # bridge the pauses between words
_DUCK_RAMP_S: Final = 0.15
_DECODERS: Final = 2
_LIMIT: Final = 0.9  # samples above this are bent smoothly towards 1.0


def _is_film_format(frame: av.AudioFrame) -> bool:
    return (
        frame.sample_rate == RATE and frame.format.name == "fltp" and frame.layout.name == "stereo"
    )


class _Placer:
    """Lays decoded 48 kHz stereo frames into ``out`` (2 x n) from ``offset`` samples into
    the decoded sound: those before are dropped, those past the end are not needed."""

    def __init__(self, out: F32, offset: int) -> None:
        self.out = out
        self.at = -offset  # where the next decoded sample goes in ``out``
        self.decoded = 0

    def add(self, frame: av.AudioFrame) -> None:
        n = frame.samples
        lo, hi = max(0, self.at), min(self.out.shape[1], self.at + n)
        if hi > lo:
            for channel, plane in enumerate(frame.planes):
                # A plane may be padded past its samples; only the samples are read.
                src = np.frombuffer(cast(Any, plane), np.float32, count=n)
                self.out[channel, lo:hi] = src[lo - self.at : hi - self.at]
        self.at += n
        self.decoded += n

    @property
    def full(self) -> bool:
        return bool(self.at >= self.out.shape[1])


def _decode(
    source: Path | ShotInfo,
    origin: float,
    start: float,
    count: int,
    *,
    what: str,
    clip: int | None,
) -> tuple[F32, int] | None:
    """``count`` samples of the first audio stream of a file (or a probed shot's) from
    ``start`` seconds after ``origin``, as 48 kHz stereo, padded with silence; also how many
    were real sound.

    Returns None when the file has no audio stream.
    """
    try:
        container = source.open() if isinstance(source, ShotInfo) else av.open(str(source), "r")
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise AssemblyError(f"{what} could not be opened: {exc}", clip=clip) from exc
    pcm: F32 = np.zeros((2, count), np.float32)
    placer: _Placer | None = None
    try:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=RATE)
        for frame in container.decode(stream):
            if placer is None:
                first_time = float(frame.time) if frame.time is not None else origin
                placer = _Placer(pcm, round((start + origin - first_time) * RATE))
            if _is_film_format(frame):  # already as the film needs it: no resampling
                placer.add(frame)
            else:
                for out in resampler.resample(frame):
                    placer.add(out)
            if placer.full:
                break
        else:
            for out in resampler.resample(None):
                if placer is not None:
                    placer.add(out)
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise AssemblyError(f"{what}: its audio could not be decoded: {exc}", clip=clip) from exc
    finally:
        container.close()
    real = 0 if placer is None else max(0, min(count, placer.at))
    return pcm, real


def _ramp(n: int, rising: bool) -> F32:
    ramp: F32 = ((np.arange(n) + 0.5) / max(1, n)).astype(np.float32)
    out: F32 = ramp if rising else ramp[::-1].copy()
    return out


def _sample(frame: int, fps: Fraction) -> int:
    return round(frame / fps * RATE)


def film_audio(
    placed: Sequence[ClipLayout],
    shots: Sequence[ShotInfo],
    fps: Fraction,
    total_frames: int,
    *,
    out: F32 | None = None,
    final: Callable[[int], None] | None = None,
) -> F32:
    """The shots' own sound laid on the film's timeline, joins smoothed.

    It is added into ``out`` (silence, 2 x the film's samples) when given. As shots are laid
    in, ``final(n)`` is called (from the decoding threads, one call at a time) when the first
    ``n`` samples will not change any more: those of every shot before the first still being
    worked on.
    """
    total = _sample(total_frames, fps)
    if out is None:
        out = np.zeros((2, total), np.float32)
    mix: F32 = out
    join = round(_JOIN_FADE_S * RATE)
    adding = threading.Lock()
    pending = [True] * len(placed)
    starts = [_sample(clip.start, fps) for clip in placed]  # in film order, never decreasing

    def place(k: int) -> None:
        clip = placed[k]
        shot = shots[clip.index]
        s0, s1 = starts[k], _sample(clip.end, fps)
        length = s1 - s0
        got = None
        if length > 0 and shot.has_audio:
            got = _decode(
                shot,
                shot.start_time,
                float(clip.skip / fps),
                length,
                what=f"clip {clip.index} ({shot.path})",
                clip=clip.index,
            )
        if got is not None:
            pcm = got[0]
            if clip.overlap_in:
                n = min(length, _sample(clip.start + clip.overlap_in, fps) - s0)
            elif clip.fade_in:
                n = min(length, _sample(clip.start + clip.fade_in, fps) - s0)
            else:
                n = min(length // 2, join)
            pcm[:, :n] *= _ramp(n, rising=True)
            if clip.overlap_out:
                n = min(length, s1 - _sample(clip.end - clip.overlap_out, fps))
            elif clip.fade_out:
                n = min(length, s1 - _sample(clip.end - clip.fade_out, fps))
            else:
                n = min(length // 2, join)
            pcm[:, length - n :] *= _ramp(n, rising=False)
        with adding:  # clips that cross-fade share samples
            if got is not None:
                mix[:, s0:s1] += got[0]
            pending[k] = False
            if final is not None:
                # Every shot still to come starts at or after the first one pending.
                first = next((i for i, busy in enumerate(pending) if busy), None)
                final(total if first is None else min(total, starts[first]))

    # Decoding and mixing release the GIL: shots are worked on side by side.
    with ThreadPoolExecutor(max_workers=_DECODERS, thread_name_prefix="film-audio-in") as pool:
        for _ in pool.map(place, range(len(placed))):
            pass
    return mix


def loud_spans(pcm: F32) -> list[tuple[float, float]]:
    """Spans (seconds) where ``pcm`` is loud: speech, or whatever stands out of the mix."""
    hop = round(_LOUD_WINDOW_S * RATE)
    windows = pcm.shape[1] // hop
    if windows == 0:
        return []
    mono = pcm[:, : windows * hop].mean(axis=0).reshape(windows, hop)
    rms = np.sqrt(np.mean(mono * mono, axis=1) + 1e-12)
    loud = 20 * np.log10(rms) > _LOUD_DBFS
    spans: list[tuple[float, float]] = []
    start: int | None = None
    for k, flag in enumerate(loud.tolist()):
        if flag and start is None:
            start = k
        elif not flag and start is not None:
            spans.append((start * _LOUD_WINDOW_S, k * _LOUD_WINDOW_S))
            start = None
    if start is not None:
        spans.append((start * _LOUD_WINDOW_S, windows * _LOUD_WINDOW_S))
    return spans


def _duck_gain(spans: Sequence[tuple[float, float]], total: int, duck_db: float) -> F32:
    """Per-sample gain: ``duck_db`` inside ``spans`` (held a little), ramped in and out."""
    hop = round(0.01 * RATE)
    windows = -(-total // hop)
    mask = np.zeros(windows, bool)
    hold = _DUCK_HOLD_S
    for start, end in spans:
        lo = max(0, int((start - hold / 2) * RATE / hop))
        hi = min(windows, int(math.ceil((end + hold) * RATE / hop)))
        mask[lo:hi] = True
    low = 10 ** (duck_db / 20)
    target = np.where(mask, low, 1.0).astype(np.float32)
    width = max(1, round(_DUCK_RAMP_S * RATE / hop))
    padded = np.concatenate([np.full(width, target[0]), target, np.full(width, target[-1])])
    smooth = np.convolve(padded, np.ones(width, np.float32) / width, mode="same")[width:-width]
    gain: F32 = np.interp(
        np.arange(total, dtype=np.float32), np.arange(windows, dtype=np.float32) * hop, smooth
    ).astype(np.float32)
    return gain


def add_soundtrack(
    mix: F32, music: Soundtrack, cues: Sequence[Cue], fps: Fraction, total_frames: int
) -> F32:
    """``mix`` with ``music`` added under it (in place): faded in and out, ducked under speech
    when asked."""
    total = mix.shape[1]
    got = _decode(music.path, 0.0, 0.0, total, what=f"soundtrack ({music.path})", clip=None)
    if got is None:
        raise AssemblyError(f"soundtrack ({music.path}) has no audio stream")
    pcm, real = got
    if real == 0:
        raise AssemblyError(f"soundtrack ({music.path}) contains no sound")
    gain = np.full(total, np.float32(music.volume), np.float32)
    n_in = min(real, round(music.fade_in * RATE))
    gain[:n_in] *= _ramp(n_in, rising=True)
    n_out = min(real, round(music.fade_out * RATE))
    gain[real - n_out : real] *= _ramp(n_out, rising=False)
    if music.duck_under_speech:
        spans = [(c.start, c.end) for c in cues] if cues else loud_spans(mix)
        gain *= _duck_gain(spans, total, music.duck_db)
    mix += pcm * gain
    return mix


def limit(pcm: F32) -> F32:
    """Bend peaks above the limit smoothly below 1.0 instead of letting them clip."""
    if float(pcm.max(initial=0.0)) <= _LIMIT and float(pcm.min(initial=0.0)) >= -_LIMIT:
        return pcm
    over = np.abs(pcm) > _LIMIT
    if over.any():
        head = 1 - _LIMIT
        x = pcm[over]
        pcm[over] = np.sign(x) * (_LIMIT + head * np.tanh((np.abs(x) - _LIMIT) / head))
    return pcm


def _chunks(total: int) -> list[tuple[int, int]]:
    """Sample spans ``[lo, hi)`` encoded separately, split at AAC frame boundaries.

    Their number depends on the length only, so a film's sound encodes to the same bytes on
    any machine.
    """
    count = max(1, min(_MAX_CHUNKS, total // round(_CHUNK_S * RATE)))
    frames = -(-total // _CHUNK)
    bounds = [round(frames * k / count) * _CHUNK for k in range(count)]
    return list(zip(bounds, [*bounds[1:], total], strict=True))


def _encode_span(pcm: F32, lo: int, hi: int, last: bool) -> Iterator[av.Packet[Any]]:
    """AAC packets whose output starts in ``[lo, hi)`` (from ``lo``, all, for the last span).

    A span is encoded with some of the sound before and after it, so that the frames on each
    side of a boundary are coded from the same signal and overlap-add across it as they would
    within one encoder.
    """
    encoder: Any = av.CodecContext.create("aac", "w")
    encoder.sample_rate = RATE
    encoder.layout = "stereo"
    encoder.format = "fltp"
    encoder.bit_rate = AUDIO_BIT_RATE
    encoder.time_base = _TIME_BASE
    total = pcm.shape[1]
    start = max(0, lo - _PREROLL * _CHUNK)
    stop = total if last else min(total, hi + _POSTROLL * _CHUNK)

    def keep(packets: list[av.Packet[Any]]) -> Iterator[av.Packet[Any]]:
        for packet in packets:
            pts = packet.pts if packet.pts is not None else 0
            if (lo == 0 or pts >= lo) and (last or pts < hi):
                packet.time_base = _TIME_BASE
                yield packet

    for begin in range(start, stop, _CHUNK):
        chunk = np.ascontiguousarray(pcm[:, begin : min(begin + _CHUNK, stop)])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
        frame.sample_rate = RATE
        frame.pts = begin
        frame.time_base = _TIME_BASE
        yield from keep(encoder.encode(frame))
    yield from keep(encoder.encode(None))


class FilmSound:
    """The film's sound while it is worked out: one array, and how much of it is final.

    Whoever works it out adds into ``pcm`` and calls :meth:`finish` as samples become final
    (they are limited then, each once); encoders :meth:`wait` for the samples they need.
    """

    def __init__(self, total: int) -> None:
        self.total = total
        self.pcm: F32 = np.zeros((2, total), np.float32)
        self._final = 0
        self._failure: BaseException | None = None
        self._stopped = False
        self._advancing = threading.Lock()
        self._changed = threading.Condition()

    def finish(self, until: int) -> None:
        """The first ``until`` samples will not change any more."""
        with self._advancing:
            lo, hi = self._final, min(until, self.total)
            if hi <= lo:
                return
            limit(self.pcm[:, lo:hi])  # in place
            with self._changed:
                self._final = hi
                self._changed.notify_all()

    def fail(self, exc: BaseException) -> None:
        with self._changed:
            self._failure = exc
            self._changed.notify_all()

    def stop(self) -> None:
        with self._changed:
            self._stopped = True
            self._changed.notify_all()

    def wait(self, until: int) -> bool:
        """Wait until the first ``until`` samples are final; False if stopped meanwhile.

        Raises:
            BaseException: what working out the sound raised.
        """
        with self._changed:
            while True:
                if self._failure is not None:
                    raise self._failure
                if self._stopped:
                    return False
                if self._final >= min(until, self.total):
                    return True
                self._changed.wait()


class AudioEncoder:
    """Works out the film's sound and encodes it to AAC in worker threads.

    ``compute`` adds the sound into a :class:`FilmSound` and says how much of it is final as
    it goes. Long films are encoded in a few spans at once (AAC frames overlap only their
    neighbours, so spans encoded with a little of the sound around them join seamlessly), each
    starting as soon as its sound is final, while later shots are still being decoded.
    ``until(seconds)`` hands over the encoded packets up to that time, in order, as they are
    encoded (waiting for them if needed), so the caller can interleave them with the video;
    errors in the workers are raised there. No worker ever waits for the caller.
    """

    _END: Final = object()

    def __init__(self, total: int, compute: Callable[[FilmSound], None]) -> None:
        #: The output stream the packets are for: set it before taking them with ``until``.
        self.stream: Any = None
        self.sound = FilmSound(total)
        self._compute = compute
        self._spans = _chunks(total)
        self._queues: list[queue.SimpleQueue[Any]] = [queue.SimpleQueue() for _ in self._spans]
        self._current = 0  # the span whose packets are handed over now
        self._ready: collections.deque[av.Packet[Any]] = collections.deque()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="film-audio", daemon=True)
        self._pool = ThreadPoolExecutor(
            max_workers=len(self._spans), thread_name_prefix="film-audio-out"
        )

    def start(self) -> AudioEncoder:
        self._thread.start()
        for k in range(len(self._spans)):
            self._pool.submit(self._encode, k)
        return self

    def _run(self) -> None:
        try:
            self._compute(self.sound)
            self.sound.finish(self.sound.total)
        except BaseException as exc:  # raised to the consumer by the span workers
            self.sound.fail(exc)

    def _encode(self, k: int) -> None:
        out = self._queues[k]
        try:
            lo, hi = self._spans[k]
            last = k == len(self._spans) - 1
            if not self.sound.wait(self.sound.total if last else hi + _POSTROLL * _CHUNK):
                return
            batch: list[av.Packet[Any]] = []
            for packet in _encode_span(self.sound.pcm, lo, hi, last):
                if self._stop.is_set():
                    return
                batch.append(packet)
                if len(batch) == _BATCH:
                    out.put(batch)
                    batch = []
            out.put(batch)
            out.put(self._END)
        except BaseException as exc:  # handed to the consumer, which raises it
            out.put(exc)

    def until(self, seconds: float | None) -> list[av.Packet[Any]]:
        """Encoded packets starting before ``seconds`` (all that are left for None)."""
        limit = math.inf if seconds is None else seconds * RATE
        out: list[av.Packet[Any]] = []
        ready = self._ready
        while True:
            while ready:
                if (ready[0].pts or 0) >= limit:
                    return out
                packet = ready.popleft()
                packet.stream = self.stream
                out.append(packet)
            if self._current >= len(self._spans):
                return out
            item = self._queues[self._current].get()
            if item is self._END:
                self._current += 1
            elif isinstance(item, BaseException):
                self._current = len(self._spans)
                raise item
            else:
                ready.extend(item)

    def close(self) -> None:
        self._stop.set()
        self.sound.stop()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._thread.join()
