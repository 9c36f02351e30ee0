"""Bitstream checks for H.264 and HEVC samples, without decoding.

In an MP4, an H.264 or HEVC sample is a run of NAL units, each after a big-endian length of 1,
2 or 4 bytes (the `avcC`/`hvcC` box says which). Three rules of the standards hold for every
valid sample and break, with near certainty, where bytes are missing, shifted or replaced:

- the length prefixes tile the sample exactly, and each NAL unit has a legal header (the
  forbidden bit clear, a type that may appear in a stream) and at least one carries a picture;
- a NAL unit never ends in a zero byte (its payload ends with a stop bit);
- a NAL unit never contains the bytes 00 00 00, 00 00 01 or 00 00 02: encoders insert an
  escape byte to prevent them (ITU-T H.264 7.4.1, H.265 7.4.2). A run of zeros, a start
  code or a shifted block inside a picture breaks this rule.

The walk reads a few bytes per NAL unit; the escape-byte rule needs every byte, and is read
in blocks of 1 MiB with numpy where it is installed (about 1 GB/s) and a regular expression
where it is not. A file of up to 16 MiB is read once; with numpy, all its samples are walked
at once, one round per unit of the sample that has the most, and the walk unit by unit only
runs to name what broke a rule.
"""

from __future__ import annotations

import bisect
import functools
import importlib
import os
import re
from array import array
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Final

from ._errors import Invalid
from ._mp4 import Track

__all__ = ["check_packet", "check_track", "has_parameter_sets"]

_BLOCK: Final = 1 << 20
#: Files up to this size are walked in memory (a few 480p-1080p clips), larger ones in place.
_IN_MEMORY: Final = 16 << 20
_FORBIDDEN: Final = re.compile(rb"\x00\x00[\x00-\x02]")
# H.264 types 0 and 24-31 are unspecified (RTP uses them, never a stored stream); HEVC
# types 48-63 likewise.
_AVC_ILLEGAL: Final = frozenset({0, *range(24, 32)})
_AVC_PICTURE: Final = frozenset({1, 2, 3, 4, 5, 20})
# Units that set a decoder's parameters for the pictures after them: H.264 sequence,
# picture, extension and subset sequence parameter sets; HEVC video, sequence and picture.
_AVC_PARAMETERS: Final = frozenset({7, 8, 13, 15})
_HEVC_PARAMETERS: Final = frozenset({32, 33, 34})

Reader = Callable[[int, int], bytes]


def check_track(path: Path, track: Track) -> None:
    """Check every sample of an H.264 or HEVC `track` of the MP4 at `path`.

    Raises:
        Invalid: a sample breaks the bitstream's rules; the message names it.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        starts = array("Q")
        ends = array("Q")
        read: Reader
        size = os.fstat(fd).st_size
        if size <= _IN_MEMORY:
            # A small file is read once: two system calls a unit cost more than its bytes.
            # (Its own size: a larger buffer costs more to allocate than the read.)
            data = os.pread(fd, size, 0)
            np = _numpy()
            if np is not None and _check_in_memory(np, data, track):
                return

            def read(offset: int, n: int) -> bytes:
                return data[offset : offset + n]

        else:

            def read(offset: int, n: int) -> bytes:
                return os.pread(fd, n, offset)

        count = track.sample_count
        for number, (offset, size) in enumerate(track.samples()):
            for start, end in _walk(read, offset, size, track, number, count):
                starts.append(start)
                ends.append(end)
        _scan_file(fd, starts, ends, track)
    except OSError as exc:
        raise Invalid(f"it cannot be read ({exc})") from None
    finally:
        os.close(fd)


def _check_in_memory(np: Any, data: bytes, track: Track) -> bool:
    """The walk and the escape-byte scan of a file held in memory, every sample at once.

    The same rules as `_walk` and `_scan_file`, in numpy: one round per NAL unit of the
    sample that has the most, not one Python step per unit. True when every sample keeps
    them all; False as soon as any rule breaks anywhere, and the walk one unit at a time
    then finds the first break and names it.
    """
    offsets, sizes = _sample_table(np, track)
    ends = offsets + sizes
    if len(offsets) != track.sample_count or not len(offsets) or int(ends.max()) > len(data):
        return False
    a = np.frombuffer(data, dtype=np.uint8)
    length_size = track.nal_length_size
    hevc = track.nal_format == "hevc"
    header_size = 2 if hevc else 1
    # Each unit's length prefix, read where the unit starts: a big-endian view of the bytes
    # with a stride of one, so a view's element i is the prefix at byte i.
    prefixes = a
    if length_size > 1:
        prefixes = np.ndarray(
            (len(a) - length_size + 1,), dtype=f">u{length_size}", buffer=data, strides=(1,)
        )
    verdicts = _header_verdicts(np, hevc)
    pictures = np.zeros(len(offsets), dtype=bool)
    unit_starts: list[Any] = []
    unit_ends: list[Any] = []
    pos = offsets.copy()
    live = np.flatnonzero(pos < ends)
    while live.size:
        at, end = pos[live], ends[live]
        if (end - at < length_size + header_size).any():
            return False
        length = prefixes[at].astype(np.int64)
        unit_end = at + length_size + length
        verdict = verdicts[a[at + length_size]]
        bad = (length < header_size) | (unit_end > end) | (verdict == _ILLEGAL)
        if hevc:
            bad |= a[at + length_size + 1] & 0x07 == 0
        if bad.any() or (a[unit_end - 1] == 0).any():
            return False
        pictures[live] |= verdict == 1
        unit_starts.append(at + length_size)
        unit_ends.append(unit_end)
        pos[live] = unit_end
        live = live[unit_end < end]
    if not pictures.all():
        return False
    starts = np.concatenate(unit_starts)
    stops = np.concatenate(unit_ends)
    order = np.argsort(starts, kind="stable")
    starts, stops = starts[order], stops[order]
    first = int(starts[0])
    hits = np.asarray(_forbidden_positions(np, memoryview(data)[first : int(stops.max())], True))
    if hits.size:
        hits = hits + first
        unit = np.searchsorted(starts, hits, side="right") - 1
        if (hits + 3 <= stops[unit]).any():
            return False
    return True


_ILLEGAL: Final = 2


@functools.cache
def _header_verdicts(np: Any, hevc: bool) -> Any:
    """`_nal_kind` of every first header byte, as a table: 1 for a unit that carries a
    picture, 0 for another legal unit, `_ILLEGAL` (HEVC's second byte is checked apart)."""
    kinds = [_nal_kind(bytes([byte, 0x01]), hevc) for byte in range(256)]
    return np.array([_ILLEGAL if k is None else k for k in kinds], dtype=np.uint8)


def _sample_table(np: Any, track: Track) -> tuple[Any, Any]:
    """`(offsets, sizes)` of every sample, as `Track.samples()` gives them, in numpy."""
    chunks = np.asarray(track.chunks, dtype=np.int64)
    n = track.sample_count
    runs = track.sample_to_chunk
    firsts = np.asarray([first for first, _ in runs], dtype=np.int64)
    per_chunk = np.asarray([count for _, count in runs], dtype=np.int64)
    run = np.searchsorted(firsts, np.arange(1, len(chunks) + 1), side="right") - 1
    counts = np.where(run >= 0, per_chunk[np.maximum(run, 0)], 0)
    before = np.cumsum(counts) - counts
    counts = np.clip(n - before, 0, counts)
    held = int(counts.sum())
    if track.sizes is not None:
        sizes = np.asarray(track.sizes, dtype=np.int64)[:held]
    else:
        sizes = np.full(held, track.uniform_size, dtype=np.int64)
    if len(sizes) != held:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    chunk = np.repeat(np.arange(len(chunks)), counts)
    within = np.cumsum(sizes) - sizes
    first_of_chunk = np.cumsum(counts) - counts
    offsets = chunks[chunk] + within - within[first_of_chunk[chunk]]
    return offsets, sizes


def check_packet(data: bytes, track: Track, number: int, count: int | None = None) -> None:
    """Check one sample held in memory (a demuxed packet), escape bytes included.

    Raises:
        Invalid: the sample breaks the bitstream's rules.
    """

    def read(offset: int, n: int) -> bytes:
        return data[offset : offset + n]

    view = memoryview(data)
    for start, end in _walk(read, 0, len(data), track, number, count):
        hit = _first_forbidden(view[start:end])
        if hit is not None:
            raise _corrupt(track, number, count, f"a forbidden byte sequence at byte {hit}")


def has_parameter_sets(data: bytes, track: Track) -> bool:
    """Whether a sample carries parameter sets of its own (or cannot be walked at all)."""
    hevc = track.nal_format == "hevc"
    wanted = _HEVC_PARAMETERS if hevc else _AVC_PARAMETERS

    def read(offset: int, n: int) -> bytes:
        return data[offset : offset + n]

    try:
        for start, _ in _walk(read, 0, len(data), track, 0, None):
            kind = (data[start] >> 1) & 0x3F if hevc else data[start] & 0x1F
            if kind in wanted:
                return True
    except Invalid:
        return True
    return False


def _walk(
    read: Reader, offset: int, size: int, track: Track, number: int, count: int | None
) -> Iterable[tuple[int, int]]:
    """Yield the (start, end) byte range of each NAL unit of one sample, checking each."""
    length_size = track.nal_length_size
    hevc = track.nal_format == "hevc"
    header_size = 2 if hevc else 1
    pictures = 0
    pos = offset
    end = offset + size
    while pos < end:
        if end - pos < length_size + header_size:
            raise _corrupt(track, number, count, f"{end - pos} stray bytes after its last unit")
        head = read(pos, length_size + header_size)
        if len(head) < length_size + header_size:
            raise Invalid(f"the file ends inside video sample {number + 1}")
        length = int.from_bytes(head[:length_size], "big")
        if length < header_size:
            raise _corrupt(track, number, count, f"a unit of {length} bytes at byte {pos}")
        unit_end = pos + length_size + length
        if unit_end > end:
            raise _corrupt(
                track, number, count, f"a unit of {length} bytes overruns it at byte {pos}"
            )
        kind = _nal_kind(head[length_size:], hevc)
        if kind is None:
            raise _corrupt(track, number, count, f"an illegal unit header at byte {pos}")
        pictures += kind
        if read(unit_end - 1, 1) == b"\x00":
            raise _corrupt(track, number, count, f"a unit ending in a zero byte at byte {pos}")
        yield pos + length_size, unit_end
        pos = unit_end
    if pictures == 0:
        raise _corrupt(track, number, count, "no picture in it")


def _nal_kind(header: bytes, hevc: bool) -> int | None:
    """1 for a unit that carries a picture, 0 for another legal unit, None if illegal."""
    if header[0] & 0x80:  # forbidden_zero_bit
        return None
    if hevc:
        kind = (header[0] >> 1) & 0x3F
        if kind >= 48 or header[1] & 0x07 == 0:  # nuh_temporal_id_plus1 is never 0
            return None
        return 1 if kind < 32 else 0
    kind = header[0] & 0x1F
    if kind in _AVC_ILLEGAL or (kind == 5 and header[0] & 0x60 == 0):  # IDR is a reference
        return None
    return 1 if kind in _AVC_PICTURE else 0


def _corrupt(track: Track, number: int, count: int | None, why: str) -> Invalid:
    of = f" of {count}" if count else ""
    return Invalid(f"video sample {number + 1}{of} has {why}: the media data is corrupt")


# ---------------------------------------------------------------------------- escape bytes


def _numpy() -> Any | None:
    try:
        return importlib.import_module("numpy")
    except ImportError:
        return None


def _scan_file(fd: int, starts: array[int], ends: array[int], track: Track) -> None:
    """No NAL unit (the ranges `starts`..`ends`, sorted) holds a forbidden sequence."""
    if not starts:
        return
    order = sorted(range(len(starts)), key=starts.__getitem__)
    if order != list(range(len(starts))):
        starts = array("Q", (starts[i] for i in order))
        ends = array("Q", (ends[i] for i in order))
    np = _numpy()
    buffer = bytearray(_BLOCK + 2)
    view = memoryview(buffer)
    pos, stop = starts[0], max(ends)
    while pos < stop:
        got = os.preadv(fd, [view[: min(_BLOCK + 2, stop - pos)]], pos)
        if got <= 0:
            raise Invalid("the file ends inside the media data")
        for hit in _forbidden_positions(np, view[:got], got >= 3):
            if hit >= _BLOCK and pos + got < stop:
                break  # the next block starts there
            at = pos + hit
            unit = bisect.bisect_right(starts, at) - 1
            if unit >= 0 and at + 3 <= ends[unit]:
                raise Invalid(
                    f"the video data has a forbidden byte sequence at byte {at}, inside a "
                    "picture: the media data is corrupt"
                )
        pos += min(got, _BLOCK)


def _forbidden_positions(np: Any | None, data: memoryview, enough: bool) -> Iterable[int]:
    """Offsets of 00 00 00, 00 00 01 and 00 00 02 in `data`, in order."""
    if not enough:
        return ()
    if np is None:
        return (m.start() for m in _FORBIDDEN.finditer(data))
    a = np.frombuffer(data, dtype=np.uint8)
    zeros = np.flatnonzero(a == 0)
    if len(zeros) < 2:
        return ()
    pairs = zeros[:-1][np.diff(zeros) == 1]
    pairs = pairs[pairs + 2 < len(a)]
    found: list[int] = pairs[a[pairs + 2] <= 2].tolist()
    return found


def _first_forbidden(data: memoryview) -> int | None:
    match = _FORBIDDEN.search(data)
    return match.start() if match else None
