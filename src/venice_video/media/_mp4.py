"""MP4 box structure and sample tables, read with the standard library alone.

`read_structure` proves what can be proven about an MP4 without decoding a picture:

- the top-level boxes tile the file exactly (a cut file ends inside a box);
- there is a file type (`ftyp`), an index (`moov`) and media data (`mdat`), and the index parses;
- each track's sample tables agree with each other: as many sizes, durations and composition
  offsets as samples, chunks that hold exactly that many samples, sync samples in range, and
  sample durations that add up to the track's duration;
- every chunk lies inside an `mdat` box, and no two chunks of any tracks overlap.

It also gives each track's samples as `(offset, size)` pairs, which the bitstream checks in
`_nal` walk without demuxing.
"""

from __future__ import annotations

import bisect
import itertools
import operator
import struct
import sys
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final

from ._errors import Invalid
from ._info import MediaInfo, codecs_parameter

__all__ = ["Structure", "Track", "read_structure"]

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
# Sample entries whose samples are length-prefixed NAL units, and the size of a NAL header.
_NAL_CODECS: Final[dict[str, tuple[str, bytes]]] = {
    "avc1": ("h264", b"avcC"),
    "avc3": ("h264", b"avcC"),
    "hvc1": ("hevc", b"hvcC"),
    "hev1": ("hevc", b"hvcC"),
}
# A visual sample entry has 78 bytes of fixed fields before its child boxes (ISO 14496-12).
_VISUAL_ENTRY_FIELDS: Final = 78


@dataclass
class Track:
    """One `trak` of the index: what it holds and where its samples are."""

    number: int
    handler: str = ""
    timescale: int = 0
    duration: int = 0
    codec: str = ""
    width: int = 0
    height: int = 0
    sample_count: int = 0
    uniform_size: int = 0
    sizes: array[int] | None = None
    chunks: array[int] = field(default_factory=lambda: array("Q"))
    sample_to_chunk: tuple[tuple[int, int], ...] = ()
    time_to_sample: tuple[tuple[int, int], ...] = ()
    has_time_to_sample: bool = False
    composition_count: int | None = None
    sync_samples: array[int] | None = None
    #: "h264" or "hevc" when samples are length-prefixed NAL units, else "".
    nal_format: str = ""
    nal_length_size: int = 0
    #: The decoder configuration record (`avcC`, `hvcC`): a decoder's extradata.
    config: bytes = b""

    @property
    def kind(self) -> str:
        return {"vide": "video", "soun": "audio"}.get(self.handler, self.handler or "data")

    @property
    def label(self) -> str:
        return f"track {self.number} ({self.kind})"

    def sample_size(self, index: int) -> int:
        """The size of sample `index` (0-based)."""
        return self.sizes[index] if self.sizes is not None else self.uniform_size

    def samples(self) -> Iterator[tuple[int, int]]:
        """`(offset, size)` of every sample in decoding order (call `read_structure` first)."""
        runs = self.sample_to_chunk
        run = 0
        sample = 0
        for chunk_number, offset in enumerate(self.chunks, start=1):
            while run + 1 < len(runs) and runs[run + 1][0] <= chunk_number:
                run += 1
            for _ in range(min(runs[run][1], self.sample_count - sample)):
                size = self.sample_size(sample)
                yield offset, size
                offset += size
                sample += 1

    def sample_positions(self, numbers: Iterable[int]) -> dict[int, tuple[int, int]]:
        """`(offset, size)` of the samples `numbers` (0-based), as `samples()` gives them,
        found run by run of the sample-to-chunk table rather than sample by sample."""
        wanted = sorted(set(numbers))
        found: dict[int, tuple[int, int]] = {}
        runs = self.sample_to_chunk
        chunk = 1  # the chunks, and the samples, the runs before this one held
        sample = 0
        run = 0
        while wanted and chunk <= len(self.chunks) and run < len(runs):
            while run + 1 < len(runs) and runs[run + 1][0] <= chunk:
                run += 1
            per_chunk = runs[run][1]
            stop = runs[run + 1][0] if run + 1 < len(runs) else len(self.chunks) + 1
            if stop <= chunk or per_chunk <= 0:  # out of order, or empty: as samples() does
                return dict(self._positions_by_walking(wanted))
            held = min(per_chunk * (stop - chunk), self.sample_count - sample)
            while wanted and wanted[0] < sample + held:
                n = wanted.pop(0)
                if n < sample:
                    continue
                at = chunk + (n - sample) // per_chunk  # its chunk
                first = sample + (at - chunk) * per_chunk  # that chunk's first sample
                offset = self.chunks[at - 1]
                if self.sizes is not None:
                    found[n] = (offset + sum(self.sizes[first:n]), self.sizes[n])
                else:
                    found[n] = (offset + self.uniform_size * (n - first), self.uniform_size)
            sample += held
            chunk = stop
            run += 1
        return found

    def _positions_by_walking(self, wanted: list[int]) -> Iterator[tuple[int, tuple[int, int]]]:
        chosen = set(wanted)
        return ((n, at) for n, at in enumerate(self.samples()) if n in chosen)

    def chunk_spans(self) -> Iterator[tuple[int, int]]:
        """`(offset, size)` of every chunk that holds samples (its samples end to end)."""
        runs = self.sample_to_chunk
        run = 0
        sample = 0
        for chunk_number, offset in enumerate(self.chunks, start=1):
            while run + 1 < len(runs) and runs[run + 1][0] <= chunk_number:
                run += 1
            count = min(runs[run][1], self.sample_count - sample)
            if count <= 0:
                continue
            if self.sizes is not None:
                size = sum(self.sizes[sample : sample + count])
            else:
                size = self.uniform_size * count
            yield offset, size
            sample += count

    def sync_sample_numbers(self) -> list[int]:
        """0-based numbers of the samples that decode on their own (keyframes)."""
        if self.sync_samples is None:  # no `stss`: every sample is a sync sample
            return list(range(self.sample_count))
        return [n - 1 for n in self.sync_samples]


@dataclass
class Structure:
    """What the index of an MP4 says, once checked against the file."""

    file_size: int
    timescale: int
    duration: int
    tracks: list[Track]
    media: list[tuple[int, int]]

    @property
    def fragmented(self) -> bool:
        """True when samples are described by `moof` boxes, not by the index."""
        return all(track.sample_count == 0 for track in self.tracks)

    def video_track(self) -> Track:
        videos = [t for t in self.tracks if t.handler == "vide"]
        if not videos:
            raise Invalid("it has no video track")
        # A cover picture is a one-sample video track too; the movie is the longest one.
        return max(videos, key=lambda t: t.sample_count)

    def audio_track(self) -> Track | None:
        return next((t for t in self.tracks if t.handler == "soun"), None)

    def media_info(self) -> MediaInfo:
        """A description from the index alone; `frames` is -1 (nothing was decoded)."""
        video = self.video_track()
        audio = self.audio_track()
        if self.timescale and self.duration:
            duration_s = self.duration / self.timescale
        elif video.timescale:
            duration_s = video.duration / video.timescale
        else:
            duration_s = 0.0
        video_s = video.duration / video.timescale if video.timescale else 0.0
        video_codec = codec_name(video.codec)
        audio_codec = codec_name(audio.codec) if audio else None
        return MediaInfo(
            width=video.width,
            height=video.height,
            duration_s=duration_s,
            fps=video.sample_count / video_s if video_s > 0 else 0.0,
            frames=-1,
            has_audio=audio is not None,
            video_codec=video_codec,
            audio_codec=audio_codec,
            codecs=codecs_parameter(video_codec, audio_codec, video.config),
        )


def codec_name(fourcc: str) -> str:
    """FFmpeg's name for a sample entry type (`"avc1"` -> `"h264"`), or the type itself."""
    return _FOURCC_CODECS.get(fourcc.lower(), fourcc)


def read_structure(path: Path) -> Structure:
    """Parse and check the box tree and sample tables of `path`.

    Raises:
        Invalid: the file is not a complete MP4; the message says why.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(512)
            if size == 0:
                raise Invalid("the file is empty")
            _sniff(head)
            boxes = _top_level_boxes(f, size)
            kinds = [kind for kind, _, _ in boxes]
            for needed, what in (
                (b"ftyp", "the file type"),
                (b"moov", "the index"),
                (b"mdat", "the media data"),
            ):
                if needed not in kinds:
                    raise Invalid(
                        f"there is no '{needed.decode()}' box ({what}); found "
                        f"{', '.join(repr(k.decode('latin-1')) for k in kinds)}"
                    )
            start, end = next((s, e) for kind, s, e in boxes if kind == b"moov")
            if end - start > _MAX_MOOV_BYTES:
                raise Invalid(f"the 'moov' box is implausibly large ({end - start} bytes)")
            f.seek(start)
            moov = f.read(end - start)
    except OSError as exc:
        raise Invalid(f"it cannot be read ({exc})") from None
    media = [(s, e) for kind, s, e in boxes if kind == b"mdat"]
    try:
        structure = _parse_moov(moov, size, media)
    except (struct.error, IndexError, ValueError, OverflowError) as exc:
        raise Invalid(f"the index ('moov' box) is malformed ({exc})") from None
    for track in structure.tracks:
        _check_tables(track)
    _check_placement(structure)
    return structure


# ---------------------------------------------------------------------------- top level


def _sniff(head: bytes) -> None:
    text = head.lstrip()
    if text[:1] == b"<":
        lowered = text[:200].lower()
        kind = "an HTML page" if b"html" in lowered else "an XML or HTML document"
        raise Invalid(f"it is {kind}, probably an error page: {_excerpt(text)}")
    if text[:1] in (b"{", b"["):
        raise Invalid(f"it is JSON, probably an error message: {_excerpt(text)}")


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
            raise Invalid(f"{left} stray bytes follow the last box at byte {offset}")
        f.seek(offset)
        header = f.read(16)
        box_size, kind = struct.unpack_from(">I4s", header)
        header_size = 8
        if not _is_box_type(kind):
            where = "at the start" if offset == 0 else f"at byte {offset}"
            raise Invalid(
                f"there is no MP4 box {where} (found bytes {kind!r}): "
                + ("it is not an MP4 file" if offset == 0 else "the file is corrupt")
            )
        if box_size == 1:
            if len(header) < 16:
                raise Invalid(f"the '{kind.decode('latin-1')}' box at byte {offset} is cut off")
            (box_size,) = struct.unpack_from(">Q", header, 8)
            header_size = 16
        elif box_size == 0:
            box_size = left
        name = kind.decode("latin-1")
        if box_size < header_size:
            raise Invalid(f"the '{name}' box at byte {offset} has an impossible size {box_size}")
        if box_size > left:
            raise Invalid(
                f"the '{name}' box at byte {offset} needs {box_size} bytes but only {left} "
                "remain: the file is truncated"
            )
        boxes.append((kind, offset + header_size, offset + box_size))
        offset += box_size
    return boxes


# ---------------------------------------------------------------------------- the index


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


def _parse_moov(buf: bytes, file_size: int, media: list[tuple[int, int]]) -> Structure:
    structure = Structure(file_size=file_size, timescale=0, duration=0, tracks=[], media=media)
    for kind, start, end in _children(buf, 0, len(buf)):
        if kind == b"mvhd":
            structure.timescale, structure.duration = _timescale_and_duration(buf, start)
        elif kind == b"trak":
            track = Track(number=len(structure.tracks) + 1)
            _walk_track(buf, start, end, track)
            structure.tracks.append(track)
    if not structure.tracks:
        raise ValueError("no tracks")
    return structure


_TRACK_CONTAINERS: Final[frozenset[bytes]] = frozenset({b"mdia", b"minf", b"stbl"})


def _walk_track(buf: bytes, start: int, end: int, track: Track) -> None:
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
            track.chunks = _table(buf, s + 8, e, count, "I" if kind == b"stco" else "Q")
        elif kind == b"stts":
            (count,) = struct.unpack_from(">I", buf, s + 4)
            flat = _table(buf, s + 8, e, count * 2, "I")
            track.time_to_sample = tuple(zip(flat[0::2], flat[1::2], strict=True))
            track.has_time_to_sample = True
        elif kind == b"ctts":
            (count,) = struct.unpack_from(">I", buf, s + 4)
            track.composition_count = sum(_table(buf, s + 8, e, count * 2, "I")[0::2])
        elif kind == b"stss":
            (count,) = struct.unpack_from(">I", buf, s + 4)
            track.sync_samples = _table(buf, s + 8, e, count, "I")


def _timescale_and_duration(buf: bytes, start: int) -> tuple[int, int]:
    if buf[start] == 1:
        timescale, duration = struct.unpack_from(">IQ", buf, start + 20)
    else:
        timescale, duration = struct.unpack_from(">II", buf, start + 12)
    return int(timescale), int(duration)


def _read_stsd(buf: bytes, start: int, end: int, track: Track) -> None:
    for kind, s, e in _children(buf, start + 8, end):
        track.codec = kind.decode("latin-1")
        if track.handler == "vide":
            track.width, track.height = struct.unpack_from(">HH", buf, s + 24)
            nal = _NAL_CODECS.get(track.codec)
            if nal is not None:
                _read_nal_config(buf, s + _VISUAL_ENTRY_FIELDS, e, track, *nal)
        return


def _read_nal_config(
    buf: bytes, start: int, end: int, track: Track, nal_format: str, config: bytes
) -> None:
    for kind, s, e in _children(buf, start, end):
        if kind != config:
            continue
        # avcC keeps lengthSizeMinusOne in the low bits of its 5th byte, hvcC of its 22nd.
        at = s + (4 if nal_format == "h264" else 21)
        if at >= e:
            raise ValueError(f"the '{config.decode()}' box is too short")
        track.nal_format = nal_format
        track.nal_length_size = (buf[at] & 0x03) + 1
        track.config = bytes(buf[s:e])
        if track.nal_length_size == 3:
            raise ValueError("NAL units with 3-byte lengths")
        return
    raise ValueError(f"the '{track.codec}' sample entry has no '{config.decode()}' box")


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


# ---------------------------------------------------------------------------- consistency


def _check_tables(track: Track) -> None:
    """The sample tables of one track agree with each other and with its duration."""
    n = track.sample_count
    if n == 0:
        return  # fragmented MP4: samples are described by `moof` boxes instead
    label = f"track {track.number}"
    if not track.chunks or not track.sample_to_chunk:
        raise Invalid(f"{label} lists {n} samples but no chunks")
    if track.sizes is not None and len(track.sizes) != n:
        raise Invalid(f"{label}'s sample size table is incomplete")
    runs = track.sample_to_chunk
    if runs[0][0] != 1 or any(b[0] <= a[0] for a, b in itertools.pairwise(runs)):
        raise Invalid(f"{label}'s sample-to-chunk table is out of order: the index is corrupt")
    held = 0
    for k, (first, per_chunk) in enumerate(runs):
        last = runs[k + 1][0] - 1 if k + 1 < len(runs) else len(track.chunks)
        held += per_chunk * max(0, last - first + 1)
    if held < n:
        raise Invalid(f"{label}'s index lists {n} samples but its chunks hold only {held}")
    if held > n:
        raise Invalid(
            f"{label}'s chunks hold {held} samples but its index lists {n}: the index is corrupt"
        )
    if track.has_time_to_sample or track.handler in ("vide", "soun"):
        timed = sum(count for count, _ in track.time_to_sample)
        if timed != n:
            raise Invalid(f"{label} lists {n} samples but times {timed}: the index is corrupt")
        total = sum(count * delta for count, delta in track.time_to_sample)
        longest = max((delta for _, delta in track.time_to_sample), default=0)
        # The media duration is the sum of the sample durations; allow one sample of slack for
        # writers that round the last one.
        if track.duration and abs(total - track.duration) > longest:
            raise Invalid(
                f"{label}'s samples last {total} units but its header says {track.duration}: "
                "the index is corrupt"
            )
    if track.composition_count is not None and track.composition_count != n:
        raise Invalid(
            f"{label} lists {n} samples but {track.composition_count} composition offsets: "
            "the index is corrupt"
        )
    sync = track.sync_samples
    if sync is not None:
        if not sync:
            raise Invalid(f"{label} has no keyframe")
        if sync[0] < 1 or sync[-1] > n or any(b <= a for a, b in itertools.pairwise(sync)):
            raise Invalid(
                f"{label}'s keyframe table is out of range or order: the index is corrupt"
            )


def _check_placement(structure: Structure) -> None:
    """Every chunk lies inside one `mdat` box, and no two chunks overlap."""
    if not _placement_holds(structure):
        _check_each_chunk(structure)


def _check_each_chunk(structure: Structure) -> None:
    """`_check_placement` chunk by chunk, naming the first chunk out of place."""
    media = structure.media
    starts = [s for s, _ in media]
    spans = [
        (offset, offset + size, track)
        for track in structure.tracks
        for offset, size in track.chunk_spans()
    ]
    for start, end, track in spans:
        box = bisect.bisect_right(starts, start) - 1
        if box < 0 or end > media[box][1]:
            raise Invalid(
                f"{track.label} has samples at bytes {start}-{end}, outside the media data "
                f"(the file has {structure.file_size} bytes): the media data is cut or corrupt"
            )
    spans.sort(key=lambda span: span[0])
    for (_, end_a, track_a), (start_b, _, track_b) in itertools.pairwise(spans):
        if start_b < end_a:
            raise Invalid(
                f"{track_a.label} and {track_b.label} both claim bytes {start_b}-{end_a}: "
                "the index is corrupt"
            )


def _placement_holds(structure: Structure) -> bool:
    """`_check_placement` for the common file, in whole-list steps rather than chunk by
    chunk: one `mdat` box, chunks of non-zero sizes. True when every chunk lies in the box
    and none overlaps another; False when one does not, or the file is not that simple
    (then `_check_each_chunk` decides, and names what is wrong).

    The tables were checked first (`_check_tables`): the sample-to-chunk runs start at
    chunk 1, in order, and hold exactly the track's samples.
    """
    if len(structure.media) != 1:
        return False
    starts: list[int] = []
    ends: list[int] = []
    for track in structure.tracks:
        if not track.sample_count:
            continue
        runs, chunks, sizes = track.sample_to_chunk, track.chunks, track.sizes
        sample = 0
        for k, (first, per_chunk) in enumerate(runs):
            stop = runs[k + 1][0] - 1 if k + 1 < len(runs) else len(chunks)
            offsets = chunks[first - 1 : stop]
            held = per_chunk * len(offsets)
            if per_chunk <= 0 or sample + held > track.sample_count:
                return False
            lengths: Iterable[int]
            if sizes is None:
                lengths = [track.uniform_size * per_chunk] * len(offsets)
            elif per_chunk == 1:
                lengths = sizes[sample : sample + held]
            else:
                run_sizes = [iter(sizes[sample : sample + held])] * per_chunk
                lengths = map(sum, zip(*run_sizes, strict=True))
            starts.extend(offsets)
            ends.extend(map(operator.add, offsets, lengths))
            sample += held
    if not starts:
        return True
    if any(map(operator.ge, starts, ends)):  # an empty chunk: left to the full check
        return False
    span_starts, span_ends = zip(*sorted(zip(starts, ends, strict=True)), strict=True)
    box_start, box_end = structure.media[0]
    return (
        span_starts[0] >= box_start
        and max(span_ends) <= box_end
        and not any(map(operator.lt, span_starts[1:], span_ends[:-1]))
    )
