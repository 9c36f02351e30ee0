"""`verify`: prove that an MP4 is whole and playable before anything relies on it.

What "whole" takes, and what each layer costs for a 278 MiB 4K clip (2 cores):

1. Structure (standard library, ~1 ms): the boxes tile the file; the index parses; each
   track's size, time, composition and keyframe tables agree with each other and with the
   track's duration; every sample lies inside the media data and no two overlap. A cut file,
   a cut or shifted index, an error page saved as a video all stop here.
2. Bitstream (standard library, numpy when installed, ~0.25 s): every H.264/HEVC sample the
   index lists is walked unit by unit without decoding, and every byte of every picture is
   checked against the escape-byte rule (see `_nal`). Missing, shifted, zeroed or spliced
   bytes in the media data stop here.
3. Decoding (PyAV, ~0.2 s): the first and the last keyframe of the video, and the first and
   last audio frame, are decoded on their own: the decoder accepts the stream's parameters
   and the pictures at both ends.

Decoding every frame (`decode="all"`, the thoroughness of earlier versions) costs 5 to 10
times the download at 4K and proves little more: H.264 decoders conceal damage inside a
picture, so a flipped bit there decodes "cleanly" either way. Only a checksum published by
the server could prove every bit, and the Venice API sends none.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from pathlib import Path
from typing import Any, Final, Literal, TypeAlias

from ._av import av_reason, optional_av, rfc6381
from ._errors import Invalid, MediaVerificationError
from ._info import MediaInfo
from ._mp4 import Structure, Track, codec_name, read_structure
from ._nal import check_packet, check_track, has_parameter_sets

__all__ = ["Decode", "verify"]

#: How much `verify` decodes: the first and last keyframes ("ends"), every keyframe, or all.
Decode: TypeAlias = Literal["ends", "keyframes", "all"]

#: Decoders of pictures up to this size are kept between samples and files.
_KEEP_PIXELS: Final = 1920 * 1088
#: Idle decoders are kept, the most recently used first, while their pictures add up to at
#: most this many pixels (the memory of two 1080p decoders, a few MiB each): two at 1080p,
#: ten at 480p, so that the downloads of a batch finishing together each find one.
_KEEP_BUDGET: Final = 2 * 1920 * 1088
_idle: list[tuple[tuple[str, bytes], Any, int]] = []
_idle_lock = threading.Lock()


def verify(path: str | os.PathLike[str], *, decode: Decode = "ends") -> MediaInfo:
    """Prove that `path` is a complete, playable MP4 and describe it.

    ```python
    info = verify("clip.mp4")  # raises MediaVerificationError if it is not
    ```

    The structure and bitstream checks run in every install; decoding needs PyAV (the
    `[media]` extra), without which `frames` is -1. See the module documentation for what
    each layer proves and costs.

    Args:
        path: the file.
        decode: `"ends"` (the first and last keyframes, the default), `"keyframes"` (every
            keyframe) or `"all"` (every frame: slow, for audits).

    Raises:
        MediaVerificationError: the file is not a complete, playable MP4; `.reason` says why.
    """
    if decode not in ("ends", "keyframes", "all"):
        raise ValueError(f"decode must be 'ends', 'keyframes' or 'all', not {decode!r}")
    try:
        return _verify(Path(path), decode)
    except Invalid as exc:
        raise MediaVerificationError(str(path), str(exc)) from None


def _verify(path: Path, decode: Decode) -> MediaInfo:
    structure = read_structure(path)
    video = structure.video_track()
    walkable = bool(video.sample_count and video.nal_format)
    if walkable:
        check_track(path, video)
    av = optional_av()
    if av is None:
        return structure.media_info()
    if walkable and decode != "all" and _known_audio(structure):
        numbers = video.sync_sample_numbers()
        if decode == "ends":
            numbers = sorted({numbers[0], numbers[-1]})
        width, height = _decode_samples(av, path, video, numbers)
        described = structure.media_info()
        return dataclasses.replace(described, width=width, height=height, frames=video.sample_count)
    return _verify_by_demuxing(av, path, video, decode)


def _known_audio(structure: Structure) -> bool:
    # An audio sample entry of another type is left to FFmpeg, which knows them all.
    return all(codec_name(t.codec) != t.codec for t in structure.tracks if t.handler == "soun")


def _decode_samples(av: Any, path: Path, track: Track, numbers: list[int]) -> tuple[int, int]:
    """Decode each of the samples `numbers` on its own; each must give one clean picture.

    A decoder made from the track's own configuration record, not a demuxer: opening the
    container with FFmpeg would decode the first picture once more just to describe it.
    Each sample, read straight into its packet, goes to a decoder that is new or flushed:
    flushing drops every picture and reference, so a decoder that was only ever given this
    configuration record decodes the next sample as a new one would. Up to 1080p such a
    decoder is kept for the next sample and the next file (setting up a decoder's tables
    and buffers costs more than decoding the keyframe); a sample with parameter sets of its
    own, or one that fails, retires it. Larger pictures get a new decoder for each sample:
    at 4K a decoder keeps a 12 MiB picture in its pool, and a second one would keep two.
    Returns the pictures' size.
    """
    key = (codec_name(track.codec), track.config)
    keep = 0 < track.width * track.height <= _KEEP_PIXELS
    positions = track.sample_positions(numbers)
    size = (0, 0)
    context: Any = None
    with path.open("rb", buffering=0) as f:
        for number in numbers:
            offset, length = positions[number]
            where = f"video keyframe {number + 1} of {track.sample_count}"
            packet = av.Packet(length)
            f.seek(offset)
            if f.readinto(memoryview(packet)) != length:
                raise Invalid(f"the file ends inside {where}")
            if context is None and keep:
                context = _take_decoder(key)
            if context is None:
                context = _new_decoder(av, track)
            frames = _decode_one(context, packet, where)
            if len(frames) != 1:
                raise Invalid(
                    f"{where} decoded to {len(frames)} pictures: the media data is corrupt"
                )
            if frames[0].is_corrupt:
                raise Invalid(f"{where} decoded with errors: the media data is corrupt")
            size = (int(frames[0].width), int(frames[0].height))
            if not keep or has_parameter_sets(bytes(packet), track):
                context = None
            del frames, packet  # before the next sample's buffers are allocated
    if context is not None:
        _give_back(key, context, track.width * track.height)
    return size


def _new_decoder(av: Any, track: Track) -> Any:
    try:
        context = av.CodecContext.create(codec_name(track.codec), "r")
        context.extradata = track.config
        # One thread: a single picture, and frame threads would only add buffers.
        context.thread_count = 1
    except Exception as exc:  # av.error.*, ValueError: a codec or configuration FFmpeg refuses
        raise Invalid(f"its video codec cannot be set up ({av_reason(exc)})") from None
    return context


def _decode_one(context: Any, packet: Any, where: str) -> list[Any]:
    try:
        frames = [*context.decode(packet), *context.decode(None)]
        context.flush_buffers()
    except Exception as exc:
        raise Invalid(
            f"{where} cannot be decoded ({av_reason(exc)}): the media data is corrupt"
        ) from None
    return frames


def _take_decoder(key: tuple[str, bytes]) -> Any | None:
    """A kept decoder for this codec and configuration record, if one is idle."""
    with _idle_lock:
        for i in range(len(_idle) - 1, -1, -1):
            if _idle[i][0] == key:
                return _idle.pop(i)[1]
    return None


def _give_back(key: tuple[str, bytes], context: Any, pixels: int) -> None:
    with _idle_lock:
        _idle.append((key, context, pixels))
        while sum(kept[2] for kept in _idle) > _KEEP_BUDGET:
            del _idle[0]


def _verify_by_demuxing(av: Any, path: Path, track: Track, decode: Decode) -> MediaInfo:
    """Verify through FFmpeg's demuxer: for fragmented MP4s (no sample tables to walk), codecs
    without NAL units, and `decode="all"`."""
    try:
        container = av.open(str(path), mode="r")
    except Exception as exc:
        raise Invalid(f"it cannot be opened as a video ({av_reason(exc)})") from None
    with container:
        if not container.streams.video:
            raise Invalid("it has no video stream")
        video = _stream_of(container.streams.video, track)
        if video.codec_context is None:
            raise Invalid("its video stream has a codec no decoder knows: the index is corrupt")
        audio = container.streams.audio[0] if container.streams.audio else None
        frames = _demux(av, container, video, track, decode)
        return _describe(av, container, video, audio, frames)


def _stream_of(streams: Any, track: Track) -> Any:
    # PyAV numbers the streams of an MP4 in the order of its tracks.
    for stream in streams:
        if stream.index == track.number - 1:
            return stream
    return max(streams, key=lambda stream: int(stream.frames or 0))


def _demux(av: Any, container: Any, video: Any, track: Track, decode: Decode) -> int:
    """Read every packet; check and count them, and decode as `decode` asks.

    For fragmented MP4s (no sample tables to walk) and for `decode="all"`.
    """
    counts = {stream.index: 0 for stream in container.streams}
    decoded = corrupt = 0
    first: bytes | None = None
    last: bytes | None = None
    context = video.codec_context
    try:
        for packet in container.demux():
            stream = packet.stream
            if packet.size:
                counts[stream.index] += 1
            if stream.index != video.index:
                continue
            number = counts[video.index] - 1
            if packet.size and track.nal_format:
                check_packet(bytes(packet), track, number)
            if decode != "all":
                if packet.size and packet.is_keyframe:
                    if first is None:
                        first = bytes(packet)
                    elif decode == "ends":
                        last = bytes(packet)
                    else:
                        _decode_keyframe(av, context, bytes(packet))
                continue
            # Empty packets at the end flush the decoder's delayed frames.
            try:
                frames = packet.decode()
            except Exception as exc:
                raise Invalid(
                    f"video packet {counts[video.index]} cannot be decoded ({av_reason(exc)}): "
                    "the media data is corrupt"
                ) from None
            decoded += len(frames)
            corrupt += sum(bool(frame.is_corrupt) for frame in frames)
    except Invalid:
        raise
    except Exception as exc:
        done = sum(counts.values())
        raise Invalid(f"reading failed after {done} packets ({av_reason(exc)})") from None
    for stream in container.streams:
        indexed = int(stream.frames or 0)
        # A fragmented MP4 has no per-stream count in its index; nothing to compare.
        if indexed and counts[stream.index] != indexed:
            raise Invalid(
                f"stream #{stream.index} ({stream.type}) has {counts[stream.index]} packets "
                f"but its index lists {indexed}: the media data is incomplete"
            )
    packets = counts[video.index]
    if packets == 0:
        raise Invalid("the video stream has no frames")
    if decode == "all":
        if corrupt:
            raise Invalid(f"{corrupt} of {decoded} video frames decoded with errors")
        if decoded != packets:
            raise Invalid(f"only {decoded} of {packets} video frames could be decoded")
        return decoded
    if first is None:
        raise Invalid("the video stream has no keyframe")
    for data in (first, last):
        if data is not None:
            _decode_keyframe(av, context, data)
    return packets


def _decode_keyframe(av: Any, context: Any, data: bytes) -> None:
    context.thread_count = 1
    try:
        frames = [*context.decode(av.Packet(data)), *context.decode(None)]
    except Exception as exc:
        raise Invalid(
            f"a video keyframe cannot be decoded ({av_reason(exc)}): the media data is corrupt"
        ) from None
    finally:
        context.flush_buffers()
    if len(frames) != 1 or frames[0].is_corrupt:
        raise Invalid("a video keyframe decoded with errors: the media data is corrupt")


def _describe(av: Any, container: Any, video: Any, audio: Any | None, frames: int) -> MediaInfo:
    if audio is not None and (audio.codec_context is None or not audio.codec_context.name):
        raise Invalid("its audio stream has a codec no decoder knows: the index is corrupt")
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
        frames=frames,
        has_audio=audio is not None,
        video_codec=str(video.codec_context.name),
        audio_codec=str(audio.codec_context.name) if audio is not None else None,
        codecs=rfc6381(video, audio),
    )
