"""The soundtrack: generated chords, decoded input audio, and the mix of both."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

import av
import numpy as np

from ._decode import av_reason, open_container
from ._planes import F32
from ._spec import RenderError, RenderSpec, seeded_rng

__all__ = ["AUDIO_CHUNK", "AUDIO_RATE", "decode_audio", "mix", "synth_audio"]

AUDIO_RATE: Final = 48_000
AUDIO_CHUNK: Final = 1024  # AAC frame size


def synth_audio(spec: RenderSpec, n: int) -> F32:
    """A soft chord progression whose key, mode and voicing come from the prompt and seed."""
    rng = seeded_rng(spec, "audio")
    root = 45 + int(rng.integers(0, 12))  # MIDI A2..G#3
    minor = bool(rng.integers(0, 2))
    scale = (0, 2, 3, 5, 7, 8, 10) if minor else (0, 2, 4, 5, 7, 9, 11)
    progressions = ((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 4, 0), (5, 3, 0, 4))
    progression = progressions[int(rng.integers(0, len(progressions)))]
    seconds = n / AUDIO_RATE
    chord_s = seconds / max(1, round(seconds / 1.25))
    seg = max(1, int(chord_s * AUDIO_RATE))
    out = np.zeros((2, n), np.float32)
    fade = min(seg // 4, int(0.03 * AUDIO_RATE))
    t_full = np.arange(seg, dtype=np.float32) / AUDIO_RATE
    env_full = np.exp(-t_full * 1.6).astype(np.float32) * 0.8 + 0.2
    env_full[:fade] *= np.linspace(0, 1, fade, dtype=np.float32)
    env_full[seg - fade :] *= np.linspace(1, 0, fade, dtype=np.float32)
    for k, start in enumerate(range(0, n, seg)):
        stop = min(n, start + seg)
        t = t_full[: stop - start]
        env = env_full[: stop - start]
        degree = progression[k % len(progression)]
        notes = [root - 12 + scale[degree]]
        notes += [root + 12 * ((degree + s) // 7) + scale[(degree + s) % 7] for s in (0, 2, 4)]
        for j, note in enumerate(notes):
            freq = 440.0 * 2 ** ((note - 69) / 12)
            phase = np.float32(2 * math.pi * freq) * t
            tone = np.sin(phase) + 0.3 * np.sin(2 * phase) + 0.12 * np.sin(3 * phase)
            tone *= env * np.float32(0.09 if j else 0.12)
            pan = 0.5 + (j - 1.5) * 0.15
            out[0, start:stop] += tone * np.float32(1 - pan)
            out[1, start:stop] += tone * np.float32(pan)
    # The last chord may be cut short: fade the very end so the clip does not stop on a click.
    tail = min(n, fade)
    out[:, n - tail :] *= np.linspace(1, 0, tail, dtype=np.float32)
    return out


def decode_audio(data: bytes, field: str, n: int, *, required: bool) -> F32 | None:
    """Up to ``n`` samples of the first audio stream, 48 kHz stereo, looped when shorter.

    Returns None when there is no audio stream and ``required`` is false.
    """
    container = open_container(data, field)
    chunks: list[F32] = []
    got = 0
    try:
        if not container.streams.audio:
            if required:
                raise RenderError(f"{field} has no audio stream", field=field)
            return None
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)

        def take(frames: list[av.AudioFrame]) -> None:
            nonlocal got
            for fr in frames:
                arr = fr.to_ndarray().astype(np.float32, copy=False)
                chunks.append(arr)
                got += arr.shape[1]

        for frame in container.decode(stream):
            take(resampler.resample(frame))
            if got >= n:
                break
        else:
            take(resampler.resample(None))
    except RenderError:
        raise
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise RenderError(
            f"{field} audio could not be decoded: {av_reason(exc)}", field=field
        ) from exc
    finally:
        container.close()
    if got == 0:
        if required:
            raise RenderError(f"{field} contains no audio samples", field=field)
        return None
    pcm = np.concatenate(chunks, axis=1)
    if pcm.shape[1] < n:
        pcm = np.tile(pcm, (1, -(-n // pcm.shape[1])))
    return np.ascontiguousarray(pcm[:, :n])


def mix(tracks: Sequence[tuple[F32, float]], n: int) -> F32:
    out = np.zeros((2, n), np.float32)
    for pcm, gain in tracks:
        out += pcm * np.float32(gain)
    peak = float(np.abs(out).max()) if n else 0.0
    if peak > 0.98:
        out *= np.float32(0.98 / peak)
    return out
