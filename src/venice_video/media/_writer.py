"""Writing a film's file and checking what was written (the heavy half of :mod:`._assemble`).

:func:`write_film` muxes the video (runs of frames copied from the shots, spliced with runs
encoded afresh), the sound and the captions into one mp4; :func:`check_film` verifies it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av

from ._captions import add_caption_stream, caption_packets, caption_spans
from ._errors import AssemblyError
from ._mixdown import (
    AUDIO_BIT_RATE,
    RATE,
    AudioEncoder,
    FilmSound,
    add_soundtrack,
    film_audio,
)
from ._pictures import RUN_THREADS, add_h264_stream, to_video_frame
from ._plan import ClipLayout, CopyRun, EncodeRun, film_frames
from ._shots import ShotInfo
from ._splice import Composer, Muxer, PieceEncoder, copy_run, plan_video, splice_piece

if TYPE_CHECKING:
    from ._assemble import FilmSpec

__all__ = ["check_film", "write_film"]


def write_film(
    spec: FilmSpec,
    shots: Sequence[ShotInfo],
    placed: Sequence[ClipLayout],
    path: Path,
    *,
    smart: bool,
    progress: Callable[[float], None],
) -> tuple[bool, list[CopyRun | EncodeRun]]:
    """Write the film to ``path``; whether anything was copied, and the runs written."""
    fps = Fraction(spec.fps)
    total = film_frames(placed)
    duration = float(total / fps)
    spans = caption_spans(spec.cues, duration)
    frame_spans = [
        (math.ceil(Fraction(start) * fps), math.ceil(Fraction(end) * fps), text)
        for start, end, text in spans
    ]
    frame_spans = [(a, min(b, total), t) for a, b, t in frame_spans if b > a]
    burn = frame_spans if spec.burn_in else []
    runs, template = plan_video(spec, shots, placed, [(a, b) for a, b, _ in burn], smart)

    def compute_audio(sound: FilmSound) -> None:
        if spec.soundtrack is None:  # encoded as the shots are laid in
            film_audio(placed, shots, fps, total, out=sound.pcm, final=sound.finish)
        else:  # music is ducked under the whole mix: encoded once all is there
            film_audio(placed, shots, fps, total, out=sound.pcm)
            add_soundtrack(sound.pcm, spec.soundtrack, spec.cues, fps, total)

    composer = Composer(spec, shots, placed, burn)
    # The sound is worked out and encoded on its own from the start; its packets are muxed
    # with the video as they come.
    audio = AudioEncoder(round(total / fps * RATE), compute_audio).start()
    container: Any = None
    pieces: PieceEncoder | None = None
    try:
        container = av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"})
        if template is not None:
            with av.open(str(template.path), "r") as source:
                video = container.add_stream_from_template(source.streams.video[0])
        else:
            video = add_h264_stream(container, spec.width, spec.height, fps)
        # Its parameters describe the packets the audio workers encode on their own.
        sound = container.add_stream("aac", rate=RATE)
        sound.layout = "stereo"
        sound.bit_rate = AUDIO_BIT_RATE
        subtitles = add_caption_stream(container) if spans else None
        container.start_encoding()
        audio.stream = sound
        captions = caption_packets(subtitles, spans) if subtitles is not None else []
        muxer = Muxer(container, video, audio, captions, fps)
        if template is not None:
            pieces = PieceEncoder(
                lambda: Composer(spec, shots, placed, burn, decode_threads=RUN_THREADS), spec
            )
            encoded = {run.at: pieces.submit(run) for run in runs if isinstance(run, EncodeRun)}
        done = 0
        for run in runs:
            if isinstance(run, CopyRun):
                copy_run(run, shots[run.clip], muxer)
                composer.release(run.at + run.count)
            elif template is not None:
                splice_piece(run, encoded[run.at].result(), template.extradata, muxer)
            else:
                for number, frame in enumerate(composer.frames(run), start=run.at):
                    muxer.mux_encoded(video.encode(to_video_frame(frame, number, fps)))
                    if number % 48 == 0:
                        progress(0.95 * number / total)
                muxer.mux_encoded(video.encode(None))
            done += run.count
            progress(0.95 * done / total)
        muxer.finish()
        container.close()
    except BaseException:
        if pieces is not None:
            pieces.close()
        audio.close()
        try:
            if container is not None:
                container.close()
        except Exception:  # already failing; the partial file is removed by the caller
            pass
        raise
    finally:
        composer.close()
    if pieces is not None:
        pieces.close()
    audio.close()
    return template is not None, runs


def check_film(
    path: Path, spec: FilmSpec, total: int, runs: Sequence[CopyRun | EncodeRun], captions: bool
) -> None:
    """Check the written film: streams, frame count, sound length, and that it decodes where
    shots meet (the first frames of every copied or encoded run)."""
    fps = Fraction(spec.fps)
    check = {run.at: run for run in runs}
    try:
        with av.open(str(path), "r") as container:
            if not container.streams.video or not container.streams.audio:
                raise AssemblyError(f"the assembled film {path} lacks a video or audio stream")
            if captions and not container.streams.subtitles:
                raise AssemblyError(f"the assembled film {path} lacks its subtitle track")
            video = container.streams.video[0]
            if (video.codec_context.width, video.codec_context.height) != (
                spec.width,
                spec.height,
            ):
                raise AssemblyError(f"the assembled film {path} has the wrong picture size")
            # Without this, FFmpeg's decoder conceals damage (say, frames spliced in with
            # another encoder's parameters) and carries on; with it, the damage is an error.
            video.codec_context.options = {"err_detect": "explode"}
            sound = container.streams.audio[0]
            samples = float((sound.duration or 0) * (sound.time_base or 0)) * RATE
            step = float(Fraction(video.time_base or Fraction(1, 90_000)) * fps)
            count = fed = decoded = pending = 0
            origin: int | None = None
            for packet in container.demux(video):
                if packet.pts is None or packet.size == 0:
                    continue
                count += 1
                origin = packet.pts if origin is None else min(origin, packet.pts)
                run = check.get(round((packet.pts - origin) * step))
                if run is not None:
                    # A copied run's first frame shows the codec data fits; an encoded run's
                    # second frame, that its frames follow on from each other.
                    pending = 1 if isinstance(run, CopyRun) else 2
                if pending:
                    pending -= 1
                    fed += 1
                    decoded += len(packet.decode())
            decoded += len(video.codec_context.decode(None))
            if count != total:
                raise AssemblyError(f"the assembled film {path} has {count} frames, not {total}")
            if decoded != fed:
                raise AssemblyError(
                    f"the assembled film {path} does not decode: {decoded} of {fed} frames"
                )
            expected = float(total / fps) * RATE
            if abs(samples - expected) > 2048 + RATE / float(fps):
                raise AssemblyError(
                    f"the assembled film {path} has {samples:.0f} audio samples, "
                    f"expected about {expected:.0f}"
                )
    except AssemblyError:
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise AssemblyError(f"the assembled film {path} does not decode: {exc}") from exc
