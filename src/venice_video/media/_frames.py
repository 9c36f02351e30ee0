"""Single pictures out of a video: the first, the last, or the one shown at a given time.

Each is found by seeking to the nearest keyframe before it and decoding from there, so the
last frame of a long 4K clip costs one group of pictures, not the whole file.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from ._av import MediaSource, av_reason, import_av, open_input, source_name
from ._errors import MediaError

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["Frame", "first_frame", "frame_at", "last_frame"]

# Frame times are fractions turned into floats; anything this close counts as equal.
_EPSILON_S: Final = 1e-6


@dataclass(frozen=True)
class Frame:
    """One decoded picture of a video.

    Attributes:
        image: the picture as an RGB Pillow image, at the video's own size.
        time_s: when it is shown, in seconds from the start of the video.
    """

    image: Image.Image
    time_s: float

    @property
    def width(self) -> int:
        return int(self.image.width)

    @property
    def height(self) -> int:
        return int(self.image.height)

    def png(self) -> bytes:
        """The picture as PNG bytes (lossless), e.g. for a `data:image/png` URL."""
        out = io.BytesIO()
        self.image.save(out, format="PNG")
        return out.getvalue()


def first_frame(source: MediaSource) -> Frame:
    """The first picture of a video.

    Raises:
        ImportError: PyAV or Pillow is not installed.
        MediaError: the source is not a video, or has no decodable picture.
    """
    name = source_name(source)
    with open_input(source, name=name) as container:
        stream = _video_stream(container, name)
        for frame in _decode(container, stream, name):
            return _frame(frame, stream)
    raise MediaError(f"{name} has no decodable video frame", source=name)


def last_frame(source: MediaSource) -> Frame:
    """The last picture of a video (the one left on screen when it ends).

    Raises:
        ImportError: PyAV or Pillow is not installed.
        MediaError: the source is not a video, or has no decodable picture.
    """
    return _at(source, math.inf)


def frame_at(source: MediaSource, seconds: float) -> Frame:
    """The picture on screen `seconds` into a video: the last one shown at or before then.

    A time past the end gives the last picture.

    Raises:
        ImportError: PyAV or Pillow is not installed.
        ValueError: `seconds` is negative or not a number.
        MediaError: the source is not a video, or has no decodable picture.
    """
    if not seconds >= 0:
        raise ValueError(f"seconds must be zero or more, got {seconds!r}")
    return _at(source, float(seconds))


def _at(source: MediaSource, seconds: float) -> Frame:
    name = source_name(source)
    with open_input(source, name=name) as container:
        stream = _video_stream(container, name)
        if _seek(container, stream, seconds):
            found = _pick(_decode(container, stream, name), seconds)
            if found is not None:
                return _frame(found, stream)
    # The container could not seek there, or seeking landed past every picture: read it all.
    with open_input(source, name=name) as container:
        stream = _video_stream(container, name)
        found = _pick(_decode(container, stream, name), seconds)
        if found is None:
            raise MediaError(f"{name} has no decodable video frame", source=name)
        return _frame(found, stream)


def _video_stream(container: Any, name: str) -> Any:
    # A cover picture is a video stream too, with one frame; the movie is another.
    streams = [s for s in container.streams.video if not _is_cover(s)]
    if not streams:
        raise MediaError(f"{name} has no video stream", source=name)
    stream = streams[0]
    stream.thread_type = "AUTO"
    return stream


def _is_cover(stream: Any) -> bool:
    disposition = getattr(stream, "disposition", None)
    return bool(disposition is not None and "attached_pic" in str(disposition).lower())


def _seek(container: Any, stream: Any, seconds: float) -> bool:
    """Seek to the keyframe at or before `seconds` (the last keyframe for infinity)."""
    if stream.time_base is None:
        return False
    start = stream.start_time or 0
    if math.isinf(seconds):
        # Past the end: the demuxer goes back to the last keyframe.
        target = start + int((stream.duration or 0) + 10 / stream.time_base)
    else:
        target = start + int(seconds / stream.time_base)
    try:
        container.seek(target, stream=stream, backward=True, any_frame=False)
    except Exception:  # av.error.*: not seekable here; the caller decodes from the start
        return False
    return True


def _decode(container: Any, stream: Any, name: str) -> Iterator[Any]:
    av = import_av()
    try:
        yield from container.decode(stream)
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise MediaError(f"{name} could not be decoded: {av_reason(exc)}", source=name) from exc


def _pick(frames: Iterator[Any], seconds: float) -> Any | None:
    """The last frame at or before `seconds`, or the first one if all come later."""
    chosen: Any = None
    chosen_time = -math.inf
    for frame in frames:
        time = _time(frame)
        if time > seconds + _EPSILON_S:
            return chosen if chosen is not None else frame
        if time >= chosen_time:
            chosen, chosen_time = frame, time
    return chosen


def _time(frame: Any) -> float:
    return float(frame.time) if frame.time is not None else 0.0


def _frame(frame: Any, stream: Any) -> Frame:
    start = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
    return Frame(image=frame.to_image(), time_s=max(0.0, _time(frame) - start))
