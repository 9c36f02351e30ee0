"""A WebM preview of a video, for browsers that cannot play H.264."""

from __future__ import annotations

import os
from fractions import Fraction
from typing import Any

from ._av import av_reason, import_av, source_name
from ._errors import MediaError

__all__ = ["webm_preview"]


def webm_preview(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Re-encode a video as a small WebM (VP8 at 1.5 Mb/s, Opus) at `target`.

    For browsers that cannot play H.264: the frames are renumbered at a constant rate, the
    sound resampled to 48 kHz stereo. `target` is overwritten.

    Raises:
        ImportError: PyAV is not installed.
        MediaError: the source cannot be opened, has no video, or cannot be decoded.
    """
    av = import_av()
    name = source_name(source)
    try:
        _transcode(av, source, target)
    except MediaError:
        raise
    except (av.FFmpegError, ValueError, OSError, IndexError) as exc:
        raise MediaError(
            f"{name} could not be made into a preview: {av_reason(exc)}", source=name
        ) from exc


def _transcode(av: Any, path: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    with (
        av.open(os.fspath(path)) as source,
        av.open(os.fspath(target), mode="w", format="webm") as sink,
    ):
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
