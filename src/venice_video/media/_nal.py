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
where it is not.
"""

from __future__ import annotations

import bisect
import importlib
import os
import re
from array import array
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Final

from ._errors import Invalid
from ._mp4 import Track

__all__ = ["check_packet", "check_track"]

_BLOCK: Final = 1 << 20
#: Files up to this size are walked in memory (a few 480p-1080p clips), larger ones in place.
_IN_MEMORY: Final = 16 << 20
_FORBIDDEN: Final = re.compile(rb"\x00\x00[\x00-\x02]")
# H.264 types 0 and 24-31 are unspecified (RTP uses them, never a stored stream); HEVC
# types 48-63 likewise.
_AVC_ILLEGAL: Final = frozenset({0, *range(24, 32)})
_AVC_PICTURE: Final = frozenset({1, 2, 3, 4, 5, 20})

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
        if os.fstat(fd).st_size <= _IN_MEMORY:
            # A small file is read once: two system calls a unit cost more than its bytes.
            data = os.pread(fd, _IN_MEMORY, 0)

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
