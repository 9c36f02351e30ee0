"""What the gallery reads from video files: a quick probe, a poster frame, a WebM preview.

All of it uses PyAV (and Pillow for the poster), imported lazily: without them the gallery
still lists and plays videos, with no poster and no preview. Posters and previews are cached
on disk under names derived from the file's size and modification time, so a changed file
gets fresh ones and an unchanged one is never decoded twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

__all__ = ["MediaCache", "Probe", "video_mime"]

logger = logging.getLogger("venice_video.ui")

_MIME_BY_SUFFIX = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
}
#: The largest side of a poster, in pixels.
POSTER_SIZE = 640
# How far into a clip the poster is taken from: early enough to be cheap to reach by
# decoding, late enough to skip a fade-in.
_POSTER_AT_S = 1.0
_POSTER_AT_FRACTION = 0.4


def video_mime(path: Path) -> str | None:
    """The media type of a video file by its name, or `None` if it is not one the page plays."""
    return _MIME_BY_SUFFIX.get(path.suffix.lower())


@dataclass(frozen=True)
class Probe:
    """What a video file holds, as read from its container (nothing decoded)."""

    duration_s: float | None
    width: int | None
    height: int | None
    video_codec: str | None
    audio_codec: str | None
    #: The `type` of a `<source>` element, with codecs when known, e.g.
    #: `video/mp4; codecs="avc1.64001e, mp4a.40.2"`.
    source_type: str


def _stamp(path: Path) -> tuple[str, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (str(path), stat.st_size, stat.st_mtime_ns)


def _name(key: str, stamp: tuple[str, int, int], suffix: str) -> str:
    digest = hashlib.sha256(f"{key}\0{stamp[0]}".encode()).hexdigest()[:32]
    return f"{digest}-{stamp[1]}-{stamp[2]}{suffix}"


def _avc1(extradata: bytes | None) -> str | None:
    # An avcC record starts with version 1, then profile, compatibility and level bytes.
    if not extradata or len(extradata) < 4 or extradata[0] != 1:
        return None
    return f"avc1.{extradata[1]:02x}{extradata[2]:02x}{extradata[3]:02x}"


def _source_type(
    mime: str, video_codec: str | None, audio_codec: str | None, avc: str | None
) -> str:
    codecs: list[str] = []
    if video_codec == "h264" and avc:
        codecs.append(avc)
    elif video_codec in ("vp8", "vp9"):
        codecs.append(video_codec)
    elif video_codec is not None:
        return mime  # a codec we cannot name precisely: let the browser try it
    if audio_codec == "aac":
        codecs.append("mp4a.40.2")
    elif audio_codec in ("opus", "vorbis"):
        codecs.append(audio_codec)
    elif audio_codec is not None:
        return mime
    return f'{mime}; codecs="{", ".join(codecs)}"' if codecs else mime


class MediaCache:
    """Probes, posters and previews of video files, cached by file size and mtime.

    Args:
        directory: where posters and previews are kept (created on first use).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._probes: dict[tuple[str, int, int], Probe | None] = {}
        self._lock = threading.Lock()
        self._building: dict[str, threading.Lock] = {}

    # ------------------------------------------------------------------ probing

    def cached_probe(self, path: Path) -> Probe | None:
        """The probe of `path` if it was already read; never touches the file's content."""
        stamp = _stamp(path)
        if stamp is None:
            return None
        with self._lock:
            return self._probes.get(stamp)

    def probe(self, path: Path) -> Probe | None:
        """Duration, size and codecs of `path`, or `None` if it cannot be read."""
        stamp = _stamp(path)
        if stamp is None:
            return None
        with self._lock:
            if stamp in self._probes:
                return self._probes[stamp]
        found = _read_probe(path)
        with self._lock:
            self._probes[stamp] = found
        return found

    # ------------------------------------------------------------------ derived files

    def _guard(self, name: str) -> threading.Lock:
        with self._lock:
            return self._building.setdefault(name, threading.Lock())

    def _derived(self, key: str, path: Path, folder: str, suffix: str, build: Any) -> Path | None:
        stamp = _stamp(path)
        if stamp is None:
            return None
        target = self.directory / folder / _name(key, stamp, suffix)
        if target.exists():
            return target
        with self._guard(target.name):
            if target.exists():
                return target
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=suffix)
            os.close(fd)
            try:
                build(path, Path(tmp))
                os.replace(tmp, target)
            except Exception as exc:  # PyAV and Pillow raise many kinds
                logger.info("could not make the %s of %s: %s", folder, path, exc)
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                return None
        self._prune(key, path, folder, keep=target)
        return target

    def _prune(self, key: str, path: Path, folder: str, *, keep: Path) -> None:
        # Older versions of the same file's poster or preview are of no further use.
        prefix = keep.name.split("-", 1)[0] + "-"
        with contextlib.suppress(OSError):
            for old in (self.directory / folder).glob(prefix + "*"):
                if old != keep:
                    old.unlink(missing_ok=True)

    def poster(self, key: str, path: Path) -> Path | None:
        """A JPEG frame of the video (at most `POSTER_SIZE` pixels a side), or `None`."""
        return self._derived(key, path, "posters", ".jpg", _write_poster)

    def preview(self, key: str, path: Path) -> Path | None:
        """The video re-encoded as WebM (VP8, Opus), for browsers that cannot play H.264."""
        stamp = _stamp(path)
        if stamp is None:
            return None
        if path.suffix.lower() == ".webm":
            return path
        return self._derived(key, path, "previews", ".webm", _write_preview)

    def forget(self, key: str, path: Path) -> None:
        """Remove the poster and preview of a file (it was deleted)."""
        digest = hashlib.sha256(f"{key}\0{path}".encode()).hexdigest()[:32]
        for folder in ("posters", "previews"):
            with contextlib.suppress(OSError):
                for old in (self.directory / folder).glob(digest + "-*"):
                    old.unlink(missing_ok=True)


# --------------------------------------------------------------------------- PyAV work


def _read_probe(path: Path) -> Probe | None:
    mime = video_mime(path)
    if mime is None:
        return None
    try:
        import av
    except ImportError:
        return Probe(None, None, None, None, None, mime)
    try:
        with av.open(str(path)) as container:
            video = container.streams.video[0] if container.streams.video else None
            audio = container.streams.audio[0] if container.streams.audio else None
            duration: float | None = None
            if container.duration is not None:
                duration = float(container.duration) / 1_000_000
            elif video is not None and video.duration is not None and video.time_base:
                duration = float(video.duration * video.time_base)
            video_codec = video.codec_context.name if video is not None else None
            audio_codec = audio.codec_context.name if audio is not None else None
            avc = _avc1(bytes(video.codec_context.extradata or b"")) if video else None
            return Probe(
                duration_s=round(duration, 3) if duration is not None else None,
                width=int(video.codec_context.width) if video is not None else None,
                height=int(video.codec_context.height) if video is not None else None,
                video_codec=video_codec,
                audio_codec=audio_codec,
                source_type=_source_type(mime, video_codec, audio_codec, avc),
            )
    except Exception as exc:  # av.error.* and OSError
        logger.info("could not probe %s: %s", path, exc)
        return None


def _write_poster(path: Path, target: Path) -> None:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        duration = float(container.duration or 0) / 1_000_000
        at = min(_POSTER_AT_S, duration * _POSTER_AT_FRACTION) if duration > 0 else 0.0
        chosen: Any = None
        for frame in container.decode(stream):
            chosen = frame
            if frame.time is None or frame.time >= at:
                break
        if chosen is None:
            raise ValueError("the video has no frames")
        image = chosen.to_image()
    image.thumbnail((POSTER_SIZE, POSTER_SIZE))
    image.convert("RGB").save(target, format="JPEG", quality=82, optimize=True)


def _write_preview(path: Path, target: Path) -> None:
    import av

    with av.open(str(path)) as source, av.open(str(target), mode="w", format="webm") as sink:
        video_in = source.streams.video[0]
        rate = Fraction(video_in.average_rate or 24).limit_denominator(1001)
        # Options must be given when the stream is made; set later, libvpx ignores them.
        video_out = sink.add_stream(
            "libvpx",
            rate=rate,
            options={"deadline": "realtime", "cpu-used": "16", "lag-in-frames": "0"},
        )
        # VP8 wants even dimensions.
        video_out.width = int(video_in.codec_context.width) // 2 * 2
        video_out.height = int(video_in.codec_context.height) // 2 * 2
        video_out.pix_fmt = "yuv420p"
        video_out.bit_rate = 1_500_000
        video_out.codec_context.thread_count = min(4, os.cpu_count() or 1)
        audio_in = source.streams.audio[0] if source.streams.audio else None
        audio_out = resampler = fifo = None
        if audio_in is not None:
            audio_out = sink.add_stream("libopus", rate=48000)
            audio_out.layout = "stereo"
            audio_out.format = "s16"
            resampler = av.AudioResampler(format="s16", layout="stereo", rate=48000)
            fifo = av.AudioFifo()
        frame_time = 1 / rate
        index = 0
        streams = [s for s in (video_in, audio_in) if s is not None]
        for packet in source.demux(*streams):
            decoded: list[Any] = list(packet.decode())
            for frame in decoded:
                if packet.stream is video_in:
                    image = frame.reformat(
                        width=video_out.width, height=video_out.height, format="yuv420p"
                    )
                    # Number the frames afresh: a constant rate is what a preview needs.
                    image.pts = index
                    image.time_base = frame_time
                    index += 1
                    sink.mux(video_out.encode(image))
                elif audio_out is not None and resampler is not None and fifo is not None:
                    for chunk in resampler.resample(frame):
                        chunk.pts = None
                        fifo.write(chunk)
                    size = audio_out.codec_context.frame_size or 960
                    while fifo.samples >= size:
                        sink.mux(audio_out.encode(fifo.read(size)))
        sink.mux(video_out.encode(None))
        if audio_out is not None and fifo is not None:
            rest = fifo.read()
            if rest is not None:
                sink.mux(audio_out.encode(rest))
            sink.mux(audio_out.encode(None))
