"""The safe write path for downloaded videos: `.part` file, fsync, verify, put in place.

A paid video is only worth its file, so a download is never written straight to its final
name. `PartFile` writes `<dest>.part`, and `finish()` makes it durable (fsync of the file),
proves it is a complete, playable MP4 (`verify_mp4`), puts it in place (`_output.install`:
a new name, or an atomic replacement of a regular file only with `overwrite`), and fsyncs
the directory so the new name survives a power cut. Whatever fails, nothing incomplete ever
appears at `dest`, and nothing but a regular file is ever renamed over. A device, a FIFO or
standard output (`-`) is downloaded to a temporary file, verified, then streamed into.

Sync and async: `PartFile` is plain blocking file I/O and is shared by both clients.

- `write()` may be called directly from async code: one call is one buffered write of one chunk
  into the OS page cache (no fsync), which takes microseconds for network-sized chunks (up to
  about 1 MiB).
- The constructor with `resume=True` (it re-reads the `.part` to hash it), `finish()` (fsync and
  a full decode of the video) and `abort()` can take seconds on large files: async callers run
  them in a worker thread, `await anyio.to_thread.run_sync(part.finish)`.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import importlib
import itertools
import os
import struct
import sys
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from ._exceptions import DownloadError, DownloadVerificationError
from ._output import install, is_streamed, part_path, temporary_part

__all__ = ["DownloadResult", "MediaInfo", "PartFile", "verify_mp4"]

_HASH_CHUNK: Final[int] = 1 << 20
# The index of an hour of 4K video is a few MB; anything far bigger is not an index.
_MAX_MOOV_BYTES: Final[int] = 256 << 20
_MAX_TABLE_ENTRIES: Final[int] = 50_000_000

_FOURCC_CODECS: Final[dict[str, str]] = {
    "avc1": "h264",
    "avc3": "h264",
    "hvc1": "hevc",
    "hev1": "hevc",
    "av01": "av1",
    "vp08": "vp8",
    "vp09": "vp9",
    "mp4v": "mpeg4",
    "mp4a": "aac",
    "opus": "opus",
    "ac-3": "ac3",
    "ec-3": "eac3",
    ".mp3": "mp3",
    "flac": "flac",
}


@dataclass(frozen=True)
class MediaInfo:
    """What verification learned about a video.

    Attributes:
        width: coded width in pixels.
        height: coded height in pixels.
        duration_s: the container's duration in seconds.
        fps: the average frame rate of the video stream.
        frames: video frames decoded, or -1 when PyAV is not installed (structural check only).
        has_audio: whether the file has an audio stream.
        video_codec: the video codec (`"h264"`, `"hevc"`, ...).
        audio_codec: the audio codec (`"aac"`, ...), or `None` without audio.
    """

    width: int
    height: int
    duration_s: float
    fps: float
    frames: int
    has_audio: bool
    video_codec: str
    audio_codec: str | None


@dataclass(frozen=True)
class DownloadResult:
    """A download that is complete, on disk, and (unless verification was skipped) playable.

    Attributes:
        path: the final file.
        size_bytes: its size.
        sha256: the hex SHA-256 of its bytes.
        media: what `verify_mp4` found, or `None` when `finish(verify=False)`.
    """

    path: Path
    size_bytes: int
    sha256: str
    media: MediaInfo | None


class PartFile:
    """Writes a download to `<dest>.part` in chunks, then fsyncs, verifies, and renames atomically.

    ```python
    part = PartFile(dest, resume=True)
    headers = {"Range": f"bytes={part.offset}-"} if part.offset else {}
    with client.stream("GET", url, headers=headers) as response:
        for chunk in response.iter_bytes():
            part.write(chunk)
    result = part.finish(expected_size=total)
    ```

    The `.part` file is locked (`flock`) while a `PartFile` holds it, so two downloads to one
    `dest` fail fast instead of interleaving their bytes.

    What is left behind when `finish()` fails:

    - the file is shorter than `expected_size`: the `.part` is kept, so a new
      `PartFile(dest, resume=True)` continues where it stopped with a `Range` request;
    - anything else (too long, not a valid video): the `.part` is deleted, since appending
      cannot repair it and the next attempt must start from byte 0.

    Nothing is ever written at `dest` unless the file verified. A file already at `dest` is only
    replaced by a verified one, in a single atomic step, and only with `overwrite` (or when it
    holds exactly the same bytes).

    Args:
        dest: the final path of the video. Its directory is created if missing. A device, FIFO
            or `-` (standard output) is written through a temporary file instead of a `.part`.
        resume: keep the bytes already in `<dest>.part` and append to them; otherwise start
            from an empty `.part`.
        overwrite: replace a file already at `dest`; without it `finish()` refuses
            (`OutputExistsError`) and keeps the `.part`.

    Raises:
        DownloadError: the `.part` cannot be opened, or another `PartFile` is writing it.
    """

    dest: Path
    part_path: Path
    offset: int

    def __init__(self, dest: Path, *, resume: bool = False, overwrite: bool = False) -> None:
        self.dest = Path(dest)
        self.overwrite = overwrite
        # A streamed target gets a private temporary file: never `/dev/null.part`.
        self._temporary = is_streamed(self.dest)
        if self._temporary:
            resume = False
            self.part_path = temporary_part()
        else:
            self.part_path = part_path(self.dest)
        self.offset = 0
        self._hash = hashlib.sha256()
        self._file: IO[bytes] | None = None
        try:
            if not self._temporary:
                self.dest.parent.mkdir(parents=True, exist_ok=True)
            # Opened without O_TRUNC: the lock must be ours before any byte is discarded.
            fd = os.open(
                self.part_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644
            )
        except OSError as exc:
            raise DownloadError(f"cannot write {self.part_path}: {exc}") from exc
        file = os.fdopen(fd, "r+b")
        try:
            _lock(file, self.part_path)
            if resume:
                file.seek(0)
                while block := file.read(_HASH_CHUNK):
                    self._hash.update(block)
                self.offset = file.tell()
            else:
                file.truncate(0)
            file.seek(self.offset)
        except OSError as exc:
            file.close()
            raise DownloadError(f"cannot write {self.part_path}: {exc}") from exc
        except BaseException:
            file.close()
            raise
        self._file = file

    def write(self, chunk: bytes) -> None:
        """Append `chunk` to the `.part` file and advance `offset`.

        Raises:
            DownloadError: the write failed (disk full, ...) or the file is already finished.
        """
        file = self._open_file()
        try:
            file.write(chunk)
        except OSError as exc:
            raise DownloadError(f"cannot write {self.part_path}: {exc}") from exc
        self._hash.update(chunk)
        self.offset += len(chunk)

    def finish(self, *, expected_size: int | None = None, verify: bool = True) -> DownloadResult:
        """Make the download durable, verify it, and move it to `dest`.

        In order: flush and fsync the `.part`, compare its size with `expected_size`,
        `verify_mp4` it, put it at `dest` (see `_output.install`), fsync the directory.

        Args:
            expected_size: the size the server announced (`Content-Length` of the whole file).
            verify: decode the video to prove it is complete; skip only for non-video payloads.

        Raises:
            DownloadVerificationError: the size is wrong or the file is not a complete video.
                Nothing is left at `dest`; see the class docstring for what happens to the
                `.part`.
            DownloadError: the file could not be synced or renamed.
            OutputExistsError: a file appeared at `dest` and `overwrite` is false; the
                verified `.part` is kept.
        """
        file = self._open_file()
        try:
            file.flush()
            os.fsync(file.fileno())
            size = os.fstat(file.fileno()).st_size
        except OSError as exc:
            self.abort(keep_part=True)
            raise DownloadError(f"cannot save {self.part_path}: {exc}") from exc
        if expected_size is not None and size != expected_size:
            if size < expected_size:
                self.abort(keep_part=True)
                raise DownloadVerificationError(
                    f"the download of {self.dest} is incomplete: {size} of {expected_size} "
                    f"bytes arrived; {self.part_path} is kept so the download can resume"
                )
            self.abort(keep_part=False)
            raise DownloadVerificationError(
                f"the download of {self.dest} is {size} bytes, more than the {expected_size} "
                "bytes announced; the partial file was deleted"
            )
        media: MediaInfo | None = None
        if verify:
            try:
                media = _verify(self.part_path)
            except _Invalid as exc:
                self.abort(keep_part=False)
                raise DownloadVerificationError(
                    f"the download of {self.dest} is not a complete, playable MP4: {exc}; "
                    "the partial file was deleted"
                ) from None
        try:
            install(
                self.part_path,
                self.dest,
                overwrite=self.overwrite,
                size=size,
                sha256=self._hash.hexdigest(),
            )
        except BaseException:
            self.abort(keep_part=True)
            raise
        self._close()
        return DownloadResult(
            path=self.dest, size_bytes=size, sha256=self._hash.hexdigest(), media=media
        )

    def abort(self, *, keep_part: bool) -> None:
        """Stop writing. With `keep_part=True` the `.part` stays for a later `resume=True`.

        Calling it again, or after `finish()`, does nothing.
        """
        if self._file is None:
            return
        try:
            if not keep_part or self._temporary:
                with contextlib.suppress(FileNotFoundError):
                    self.part_path.unlink()
        finally:
            self._close()

    def __enter__(self) -> PartFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        # Leaving without finish() (an exception, a cancelled task): keep the bytes for resume.
        self.abort(keep_part=True)

    def __repr__(self) -> str:
        return f"PartFile({str(self.dest)!r}, offset={self.offset})"

    def _open_file(self) -> IO[bytes]:
        if self._file is None:
            raise DownloadError(f"{self.part_path} is already finished or aborted")
        return self._file

    def _close(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            with contextlib.suppress(OSError):
                file.close()


def _lock(file: IO[bytes], path: Path) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory locks, no protection
        return
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        raise DownloadError(f"{path} is being written by another download") from exc


# ---------------------------------------------------------------------------- verification


class _Invalid(Exception):
    """Why a file is not a complete MP4, in words. Strictly private."""


def verify_mp4(path: Path) -> MediaInfo:
    """Prove that `path` is a complete, playable MP4 and describe it.

    Two layers:

    1. Structure, always: the box tree must be `ftyp`, `moov` and `mdat` with sizes that add up
       to the file size exactly, and every sample the index (`moov`) lists must lie inside the
       media data. This catches truncation, a cut `mdat` or `moov`, garbage, empty files and
       error pages saved under a video's name.
    2. With PyAV installed: demux every packet of every stream, compare each stream's packet
       count with its index (`stream.frames`), and decode every video frame, failing on decoder
       errors or frames the decoder marks corrupt. Without PyAV (the SDK's core install), the
       structural check alone decides and `frames` is -1.

    Decoding costs about as long as playing the file at a few times real speed on one core for
    1080p; the client runs it once per download, after the bytes are safely on disk.

    Raises:
        DownloadVerificationError: the file is not a complete, playable MP4; the message says why.
    """
    try:
        return _verify(Path(path))
    except _Invalid as exc:
        raise DownloadVerificationError(f"{path} is not a complete, playable MP4: {exc}") from None


def _verify(path: Path) -> MediaInfo:
    structure = _check_structure(path)
    av = _import_av()
    if av is None:
        return structure.media_info()
    return _verify_with_av(av, path)


def _import_av() -> Any | None:
    # Imported here, not at the top: the SDK's core install has no PyAV.
    try:
        return importlib.import_module("av")
    except ImportError:
        return None


def _verify_with_av(av: Any, path: Path) -> MediaInfo:
    try:
        container = av.open(str(path), mode="r")
    except Exception as exc:
        raise _Invalid(f"it cannot be opened as a video ({_short(exc)})") from None
    with container:
        if not container.streams.video:
            raise _Invalid("it has no video stream")
        # A cover picture is a one-frame video stream too; the movie is the longest one.
        video = max(container.streams.video, key=lambda stream: int(stream.frames or 0))
        counts = {stream.index: 0 for stream in container.streams}
        decoded = 0
        corrupt = 0
        try:
            for packet in container.demux():
                stream = packet.stream
                if packet.size:
                    counts[stream.index] += 1
                if stream.index != video.index:
                    continue
                # Empty packets at the end flush the decoder's delayed frames.
                try:
                    frames = packet.decode()
                except Exception as exc:
                    raise _Invalid(
                        f"video packet {counts[video.index]} cannot be decoded ({_short(exc)}): "
                        "the media data is corrupt"
                    ) from None
                decoded += len(frames)
                corrupt += sum(bool(frame.is_corrupt) for frame in frames)
        except _Invalid:
            raise
        except Exception as exc:
            done = sum(counts.values())
            raise _Invalid(f"reading failed after {done} packets ({_short(exc)})") from None
        for stream in container.streams:
            indexed = int(stream.frames or 0)
            # A fragmented MP4 has no per-stream count in its index; nothing to compare.
            if indexed and counts[stream.index] != indexed:
                raise _Invalid(
                    f"stream #{stream.index} ({stream.type}) has {counts[stream.index]} packets "
                    f"but its index lists {indexed}: the media data is incomplete"
                )
        packets = counts[video.index]
        if packets == 0:
            raise _Invalid("the video stream has no frames")
        if corrupt:
            raise _Invalid(f"{corrupt} of {decoded} video frames decoded with errors")
        if decoded != packets:
            raise _Invalid(f"only {decoded} of {packets} video frames could be decoded")
        audio = container.streams.audio[0] if container.streams.audio else None
        if container.duration:
            duration_s = float(container.duration) / float(av.time_base)
        elif video.duration is not None and video.time_base is not None:
            duration_s = float(video.duration * video.time_base)
        else:
            duration_s = 0.0
        rate = video.average_rate or video.guessed_rate or 0
        return MediaInfo(
            width=int(video.codec_context.width),
            height=int(video.codec_context.height),
            duration_s=duration_s,
            fps=float(rate),
            frames=decoded,
            has_audio=audio is not None,
            video_codec=str(video.codec_context.name),
            audio_codec=str(audio.codec_context.name) if audio is not None else None,
        )


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


# ---------------------------------------------------------------------------- MP4 structure


@dataclass
class _Track:
    handler: str = ""
    timescale: int = 0
    duration: int = 0
    codec: str = ""
    width: int = 0
    height: int = 0
    sample_count: int = 0
    uniform_size: int = 0
    sizes: array[int] | None = None
    chunks: tuple[int, ...] = ()
    sample_to_chunk: tuple[tuple[int, int], ...] = ()


@dataclass
class _Structure:
    file_size: int
    timescale: int
    duration: int
    tracks: list[_Track]

    def media_info(self) -> MediaInfo:
        video = next((t for t in self.tracks if t.handler == "vide"), None)
        if video is None:
            raise _Invalid("it has no video track")
        audio = next((t for t in self.tracks if t.handler == "soun"), None)
        if self.timescale and self.duration:
            duration_s = self.duration / self.timescale
        elif video.timescale:
            duration_s = video.duration / video.timescale
        else:
            duration_s = 0.0
        video_s = video.duration / video.timescale if video.timescale else 0.0
        return MediaInfo(
            width=video.width,
            height=video.height,
            duration_s=duration_s,
            fps=video.sample_count / video_s if video_s > 0 else 0.0,
            frames=-1,
            has_audio=audio is not None,
            video_codec=_FOURCC_CODECS.get(video.codec.lower(), video.codec),
            audio_codec=_FOURCC_CODECS.get(audio.codec.lower(), audio.codec) if audio else None,
        )


def _check_structure(path: Path) -> _Structure:
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(512)
            if size == 0:
                raise _Invalid("the file is empty")
            _sniff(head)
            boxes = _top_level_boxes(f, size)
            kinds = [kind for kind, _, _ in boxes]
            for needed, what in (
                (b"ftyp", "the file type"),
                (b"moov", "the index"),
                (b"mdat", "the media data"),
            ):
                if needed not in kinds:
                    raise _Invalid(
                        f"there is no '{needed.decode()}' box ({what}); found "
                        f"{', '.join(repr(k.decode('latin-1')) for k in kinds)}"
                    )
            start, end = next((s, e) for kind, s, e in boxes if kind == b"moov")
            if end - start > _MAX_MOOV_BYTES:
                raise _Invalid(f"the 'moov' box is implausibly large ({end - start} bytes)")
            f.seek(start)
            moov = f.read(end - start)
    except OSError as exc:
        raise _Invalid(f"it cannot be read ({exc})") from None
    try:
        structure = _parse_moov(moov, size)
    except (struct.error, IndexError, ValueError, OverflowError) as exc:
        raise _Invalid(f"the index ('moov' box) is malformed ({exc})") from None
    media = [(s, e) for kind, s, e in boxes if kind == b"mdat"]
    for number, track in enumerate(structure.tracks, start=1):
        _check_samples(track, number, media, size)
    return structure


def _sniff(head: bytes) -> None:
    text = head.lstrip()
    if text[:1] == b"<":
        lowered = text[:200].lower()
        kind = "an HTML page" if b"html" in lowered else "an XML or HTML document"
        raise _Invalid(f"it is {kind}, probably an error page: {_excerpt(text)}")
    if text[:1] in (b"{", b"["):
        raise _Invalid(f"it is JSON, probably an error message: {_excerpt(text)}")


def _excerpt(data: bytes) -> str:
    text = data[:80].decode("utf-8", "replace")
    return repr("".join(c if c.isprintable() else " " for c in text))


def _is_box_type(kind: bytes) -> bool:
    return len(kind) == 4 and all(0x20 <= b <= 0x7E or b == 0xA9 for b in kind)


def _top_level_boxes(f: IO[bytes], size: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, box end) of each top-level box; the sizes must tile the file."""
    boxes: list[tuple[bytes, int, int]] = []
    offset = 0
    while offset < size:
        left = size - offset
        if left < 8:
            raise _Invalid(f"{left} stray bytes follow the last box at byte {offset}")
        f.seek(offset)
        header = f.read(16)
        box_size, kind = struct.unpack_from(">I4s", header)
        header_size = 8
        if not _is_box_type(kind):
            where = "at the start" if offset == 0 else f"at byte {offset}"
            raise _Invalid(
                f"there is no MP4 box {where} (found bytes {kind!r}): "
                + ("it is not an MP4 file" if offset == 0 else "the file is corrupt")
            )
        if box_size == 1:
            if len(header) < 16:
                raise _Invalid(f"the '{kind.decode('latin-1')}' box at byte {offset} is cut off")
            (box_size,) = struct.unpack_from(">Q", header, 8)
            header_size = 16
        elif box_size == 0:
            box_size = left
        name = kind.decode("latin-1")
        if box_size < header_size:
            raise _Invalid(f"the '{name}' box at byte {offset} has an impossible size {box_size}")
        if box_size > left:
            raise _Invalid(
                f"the '{name}' box at byte {offset} needs {box_size} bytes but only {left} "
                "remain: the file is truncated"
            )
        boxes.append((kind, offset + header_size, offset + box_size))
        offset += box_size
    return boxes


def _children(buf: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, box end) of the boxes between `start` and `end` of `buf`."""
    offset = start
    while offset + 8 <= end:
        box_size, kind = struct.unpack_from(">I4s", buf, offset)
        header_size = 8
        if box_size == 1:
            (box_size,) = struct.unpack_from(">Q", buf, offset + 8)
            header_size = 16
        elif box_size == 0:
            box_size = end - offset
        if box_size < header_size or offset + box_size > end:
            raise ValueError(f"box '{kind.decode('latin-1')}' overruns its parent")
        yield kind, offset + header_size, offset + box_size
        offset += box_size


def _parse_moov(buf: bytes, file_size: int) -> _Structure:
    structure = _Structure(file_size=file_size, timescale=0, duration=0, tracks=[])
    for kind, start, end in _children(buf, 0, len(buf)):
        if kind == b"mvhd":
            structure.timescale, structure.duration = _timescale_and_duration(buf, start)
        elif kind == b"trak":
            track = _Track()
            _walk_track(buf, start, end, track)
            structure.tracks.append(track)
    if not structure.tracks:
        raise ValueError("no tracks")
    return structure


_TRACK_CONTAINERS: Final[frozenset[bytes]] = frozenset({b"mdia", b"minf", b"stbl"})


def _walk_track(buf: bytes, start: int, end: int, track: _Track) -> None:
    for kind, s, e in _children(buf, start, end):
        if kind in _TRACK_CONTAINERS:
            _walk_track(buf, s, e, track)
        elif kind == b"mdhd":
            track.timescale, track.duration = _timescale_and_duration(buf, s)
        elif kind == b"hdlr" and not track.handler:
            # QuickTime files have a second `hdlr` in `minf` (the data handler); the media
            # type is the first one, in `mdia`.
            track.handler = buf[s + 8 : s + 12].decode("latin-1")
        elif kind == b"stsd":
            _read_stsd(buf, s, e, track)
        elif kind == b"stsz":
            track.uniform_size, track.sample_count = struct.unpack_from(">II", buf, s + 4)
            if track.uniform_size == 0:
                track.sizes = _table(buf, s + 12, e, track.sample_count, "I")
        elif kind == b"stz2":
            field_bits = buf[s + 7]
            (track.sample_count,) = struct.unpack_from(">I", buf, s + 8)
            track.sizes = _compact_sizes(buf, s + 12, e, track.sample_count, field_bits)
        elif kind == b"stsc":
            (count,) = struct.unpack_from(">I", buf, s + 4)
            flat = _table(buf, s + 8, e, count * 3, "I")
            track.sample_to_chunk = tuple(zip(flat[0::3], flat[1::3], strict=True))
        elif kind in (b"stco", b"co64"):
            (count,) = struct.unpack_from(">I", buf, s + 4)
            track.chunks = tuple(_table(buf, s + 8, e, count, "I" if kind == b"stco" else "Q"))


def _timescale_and_duration(buf: bytes, start: int) -> tuple[int, int]:
    if buf[start] == 1:
        timescale, duration = struct.unpack_from(">IQ", buf, start + 20)
    else:
        timescale, duration = struct.unpack_from(">II", buf, start + 12)
    return int(timescale), int(duration)


def _read_stsd(buf: bytes, start: int, end: int, track: _Track) -> None:
    for kind, s, _ in _children(buf, start + 8, end):
        track.codec = kind.decode("latin-1")
        if track.handler == "vide":
            track.width, track.height = struct.unpack_from(">HH", buf, s + 24)
        return


def _table(buf: bytes, start: int, end: int, count: int, code: str) -> array[int]:
    width = struct.calcsize(code)
    if count > _MAX_TABLE_ENTRIES or start + count * width > end:
        raise ValueError(f"a table of {count} entries does not fit its box")
    # struct's sizes are the standard ones; array's are the platform's, which may differ.
    values = array(next(c for c in (code, "I", "L", "Q") if array(c).itemsize == width))
    values.frombytes(buf[start : start + count * width])
    if sys.byteorder == "little":
        values.byteswap()
    return values


def _compact_sizes(buf: bytes, start: int, end: int, count: int, bits: int) -> array[int]:
    if bits == 16:
        return _table(buf, start, end, count, "H")
    if bits == 8:
        if start + count > end:
            raise ValueError("the compact size table does not fit its box")
        return array("I", buf[start : start + count])
    if bits == 4:
        if start + (count + 1) // 2 > end:
            raise ValueError("the compact size table does not fit its box")
        nibbles = (
            v for byte in buf[start : start + (count + 1) // 2] for v in (byte >> 4, byte & 15)
        )
        return array("I", itertools.islice(nibbles, count))
    raise ValueError(f"compact sample sizes of {bits} bits")


def _check_samples(
    track: _Track, number: int, media: list[tuple[int, int]], file_size: int
) -> None:
    """Every chunk the index lists must lie inside one `mdat` box."""
    if track.sample_count == 0:
        return  # fragmented MP4: samples are described by `moof` boxes instead
    if not track.chunks or not track.sample_to_chunk:
        raise _Invalid(f"track {number} lists {track.sample_count} samples but no chunks")
    if track.sizes is not None and len(track.sizes) != track.sample_count:
        raise _Invalid(f"track {number}'s sample size table is incomplete")
    ends = list(itertools.accumulate(track.sizes, initial=0)) if track.sizes is not None else None
    starts = [s for s, _ in media]
    runs = track.sample_to_chunk
    run = 0
    sample = 0
    for chunk_number, offset in enumerate(track.chunks, start=1):
        while run + 1 < len(runs) and runs[run + 1][0] <= chunk_number:
            run += 1
        n = min(runs[run][1], track.sample_count - sample)
        if n <= 0:
            break
        length = ends[sample + n] - ends[sample] if ends is not None else n * track.uniform_size
        chunk_end = offset + length
        box = bisect.bisect_right(starts, offset) - 1
        if box < 0 or chunk_end > media[box][1]:
            kind = {"vide": "video", "soun": "audio"}.get(track.handler, track.handler or "data")
            raise _Invalid(
                f"track {number} ({kind}) has samples at bytes {offset}-{chunk_end}, outside the "
                f"media data (the file has {file_size} bytes): the media data is cut or corrupt"
            )
        sample += n
    if sample < track.sample_count:
        raise _Invalid(
            f"track {number}'s index lists {track.sample_count} samples but its chunks hold "
            f"only {sample}"
        )
