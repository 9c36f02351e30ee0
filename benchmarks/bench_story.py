"""How fast a story's shots are assembled into one film.

Run ``python benchmarks/bench_story.py [--shots 24] [--seconds 5] [--repeat 1]
[--shots-dir DIR]``. It renders
24 shots of 5 s at 1280x720, 24 fps, with sound (with the local engine's renderer, or, where
that cannot be imported, with synthetic frames and the same encoder settings), then assembles
the two-minute film twice over:

* ``cuts``: joined by plain cuts. Target: at most 3% of the film's running time (3.6 s);
* ``crossfades``: a 0.5 s crossfade at every cut. Target: at most 10% (12 s for 24 x 5 s;
  the film is 11.5 s shorter).

Each is timed with smart rendering (compressed frames copied wherever they can be) and as a
full re-encode of the same film (``smart=False``) in the same run, the baseline. Wall time and
CPU time (all threads) are both shown: on a shared machine the wall time rises with the load
while the CPU time does not. The exit status is 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from venice_video.media import AssemblyResult, Clip, FilmSpec, Transition, assemble
from venice_video.media._pictures import add_h264_stream, to_video_frame

WIDTH, HEIGHT, FPS = 1280, 720, 24
PROMPTS = (
    "A lighthouse keeper climbs the spiral stairs at dusk",
    "Waves break on black rocks under a stormy sky",
    "A fishing boat leaves the harbour in morning fog",
    "Close-up of a brass lantern being lit",
)


@dataclass
class Row:
    name: str
    duration: float
    wall: list[float]
    cpu: list[float]
    copied: bool


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _synthetic_shot(path: Path, seconds: float, seed: int) -> None:
    """Moving gradients and a chord, encoded as the engine encodes."""
    rng = np.random.default_rng(seed)
    n = round(seconds * FPS)
    x = np.linspace(0, 1, WIDTH, dtype=np.float32)
    y = np.linspace(0, 1, HEIGHT, dtype=np.float32)
    fx, fy, speed = rng.uniform(0.5, 2.0, size=3)
    samples = round(n / FPS * 48_000)
    t = np.arange(samples, dtype=np.float32) / 48_000
    chord = sum(np.sin(2 * math.pi * f * t) for f in rng.uniform(110, 440, size=3))
    pcm = np.ascontiguousarray(np.stack([chord, chord]).astype(np.float32) * 0.1)
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        video = add_h264_stream(out, WIDTH, HEIGHT, Fraction(FPS))
        audio = out.add_stream("aac", rate=48_000)
        audio.layout = "stereo"
        for i in range(n):
            phase = i / FPS * speed
            luma = (
                60
                + 50 * np.sin(2 * math.pi * (fx * x[None, :] + phase))
                + 50 * np.sin(2 * math.pi * (fy * y[:, None] - phase))
            )
            frame = np.empty((HEIGHT * 3 // 2, WIDTH), np.uint8)
            frame[:HEIGHT] = np.clip(luma, 16, 235)
            frame[HEIGHT:] = 128 + (seed * 17) % 40 - 20
            out.mux(video.encode(to_video_frame(frame, i, Fraction(FPS))))
            start, stop = round(i / FPS * 48_000), round((i + 1) / FPS * 48_000)
            chunk = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(pcm[:, start:stop]), format="fltp", layout="stereo"
            )
            chunk.sample_rate = 48_000
            chunk.pts = start
            out.mux(audio.encode(chunk))
        out.mux(video.encode(None))
        out.mux(audio.encode(None))


def _render_shots(folder: Path, count: int, seconds: float) -> tuple[list[Path], str]:
    try:
        from venice_video.server._render import RenderSpec, render
    except ImportError:
        render = None
    paths = []
    for k in range(count):
        path = folder / f"shot-{k:02d}-{seconds:g}s.mp4"
        if path.exists():  # kept from an earlier run (--shots-dir)
            pass
        elif render is not None:
            prompt = PROMPTS[k % len(PROMPTS)]
            render(RenderSpec(WIDTH, HEIGHT, seconds, prompt=prompt, seed=k, audio=True), path)
        else:
            _synthetic_shot(path, seconds, k)
        paths.append(path)
    return paths, "local engine renderer" if render is not None else "synthetic frames"


def _measure(
    name: str, repeat: int, spec: FilmSpec, out: Path, smart: bool
) -> tuple[Row, AssemblyResult]:
    row = Row(name, 0.0, [], [], False)
    result: AssemblyResult | None = None
    for _ in range(repeat):
        cpu0, wall0 = _cpu_seconds(), time.perf_counter()
        result = assemble(spec, out, overwrite=True, smart=smart)
        row.wall.append(time.perf_counter() - wall0)
        row.cpu.append(_cpu_seconds() - cpu0)
    assert result is not None
    row.duration, row.copied = result.duration, result.copied_streams
    return row, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--shots", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each shot")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per row (default 1)")
    parser.add_argument("--cuts-target", type=float, default=0.03)
    parser.add_argument("--crossfades-target", type=float, default=0.10)
    parser.add_argument(
        "--shots-dir", type=Path, help="render the shots here and reuse them on later runs"
    )
    args = parser.parse_args(argv)
    repeat = max(1, args.repeat)

    with tempfile.TemporaryDirectory(prefix="bench-story-") as tmp:
        folder = Path(tmp)
        shots_dir = args.shots_dir or folder
        shots_dir.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        paths, how = _render_shots(shots_dir, args.shots, args.seconds)
        rendered = time.perf_counter() - t0
        load = os.getloadavg()[0]
        cuts = FilmSpec(WIDTH, HEIGHT, Fraction(FPS), tuple(Clip(p) for p in paths))
        fades = FilmSpec(
            WIDTH,
            HEIGHT,
            Fraction(FPS),
            tuple(Clip(p, transition=Transition("crossfade", 0.5)) for p in paths),
        )
        film = folder / "film.mp4"
        # Warm up codec tables and the page cache on a short film.
        assemble(FilmSpec(WIDTH, HEIGHT, Fraction(FPS), cuts.clips[:2]), film, overwrite=True)
        measured: list[tuple[str, Row, Row, float]] = []
        for name, spec, target in (
            ("cuts", cuts, args.cuts_target),
            ("crossfades", fades, args.crossfades_target),
        ):
            smart, _ = _measure(name, repeat, spec, film, smart=True)
            full, _ = _measure(f"{name} (full re-encode)", repeat, spec, film, smart=False)
            measured.append((name, smart, full, target))

    print(
        f"PyAV {av.__version__}, {os.cpu_count()} CPUs, load average {load:.2f} at start; "
        f"{args.shots} shots x {args.seconds:g} s {WIDTH}x{HEIGHT} {FPS} fps with sound "
        f"({how}, rendered in {rendered:.1f} s); {repeat} run(s) each"
    )
    header = (
        f"{'film':<12} {'length s':>9} {'smart s':>8} {'cpu s':>7} {'% of film':>10} "
        f"{'full s':>8} {'cpu s':>7} {'speed-up':>9} {'copied':>7}"
    )
    print(header)
    print("-" * len(header))
    passed = True
    verdicts = []
    for name, smart, full, target in measured:
        wall, full_wall = statistics.median(smart.wall), statistics.median(full.wall)
        share = wall / smart.duration
        print(
            f"{name:<12} {smart.duration:>9.2f} {wall:>8.2f} {statistics.median(smart.cpu):>7.2f} "
            f"{share:>10.2%} {full_wall:>8.2f} {statistics.median(full.cpu):>7.2f} "
            f"{full_wall / wall:>8.1f}x {'yes' if smart.copied else 'no':>7}"
        )
        ok = share <= target
        passed = passed and ok
        verdicts.append(
            f"target: {name} <= {target:.0%} of the running time "
            f"({target * smart.duration:.2f} s): {'PASS' if ok else 'FAIL'} ({wall:.2f} s)"
        )
    print()
    print("\n".join(verdicts))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
