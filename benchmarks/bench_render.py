"""How fast the local server renders its placeholder clips.

Run ``python benchmarks/bench_render.py [--repeat N] [--target SECONDS]``. It times, N times
each (default 5):

* ``floor``: encoding 120 black 1280x720 frames with the renderer's own encoder settings, the
  least any 5 s 720p clip can cost; the other rows are also given as a ratio to it;
* ``t2v 720p 5s``: a 5 s 1280x720 text-to-video clip without audio;
* ``t2v 720p 5s +audio``: the same with a generated soundtrack (the target applies to this one);
* ``upscale 2x 480p 5s``: a 5 s 854x480 clip with audio upscaled to 1708x960.

Wall time and CPU time (user + system, all threads) are both shown: on a shared machine the
wall time rises with the load while the CPU time does not. The exit status is 1 when the
median wall time with audio misses the target (1.5 s by default).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av

from venice_video.server._render import RenderSpec, render
from venice_video.server._render._encode import Writer
from venice_video.server._render._planes import Planes

PROMPT = "A red fox trots through a snowy birch forest at dawn, soft golden light, cinematic"


@dataclass
class Row:
    name: str
    wall: list[float]
    cpu: list[float]


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _measure(name: str, repeat: int, run: Callable[[], object]) -> Row:
    run()  # warm up: codec tables, fonts, page cache
    row = Row(name, [], [])
    for _ in range(repeat):
        cpu0, wall0 = _cpu_seconds(), time.perf_counter()
        run()
        row.wall.append(time.perf_counter() - wall0)
        row.cpu.append(_cpu_seconds() - cpu0)
    return row


def _encode_black(path: Path) -> None:
    writer = Writer(path, 1280, 720, 24, None)
    for _ in range(120):
        frame = Planes.new(1280, 720)
        frame.y[...] = 16
        frame.u[...] = 128
        frame.v[...] = 128
        writer.add(frame.frame)
    writer.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per row (default 5)")
    parser.add_argument(
        "--target", type=float, default=1.5, help="seconds allowed for 5 s 720p with audio"
    )
    args = parser.parse_args(argv)
    repeat = max(1, args.repeat)

    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
        out = Path(tmp)
        source = out / "source-480p.mp4"
        render(RenderSpec(854, 480, 5.0, prompt=PROMPT, audio=True), source)
        source_bytes = source.read_bytes()
        load = os.getloadavg()[0]

        rows = [
            _measure("floor (encode 120 black)", repeat, lambda: _encode_black(out / "floor.mp4")),
            _measure(
                "t2v 720p 5s",
                repeat,
                lambda: render(RenderSpec(1280, 720, 5.0, prompt=PROMPT), out / "t2v.mp4"),
            ),
            _measure(
                "t2v 720p 5s +audio",
                repeat,
                lambda: render(
                    RenderSpec(1280, 720, 5.0, prompt=PROMPT, audio=True), out / "t2v-audio.mp4"
                ),
            ),
            _measure(
                "upscale 2x 480p 5s",
                repeat,
                lambda: render(
                    RenderSpec(0, 0, 5.0, video=source_bytes, upscale_factor=2), out / "up.mp4"
                ),
            ),
        ]

    floor = statistics.median(rows[0].wall)
    print(
        f"PyAV {av.__version__}, {os.cpu_count()} CPUs, load average {load:.2f} at start, "
        f"{repeat} runs each"
    )
    header = f"{'case':<26} {'median s':>9} {'min s':>7} {'cpu s':>7} {'x floor':>8}"
    print(header)
    print("-" * len(header))
    for row in rows:
        median = statistics.median(row.wall)
        print(
            f"{row.name:<26} {median:>9.3f} {min(row.wall):>7.3f} "
            f"{statistics.median(row.cpu):>7.3f} {median / floor:>8.2f}"
        )
    with_audio = statistics.median(rows[2].wall)
    passed = with_audio <= args.target
    verdict = "PASS" if passed else "FAIL"
    print(f"\ntarget: 5 s 720p with audio <= {args.target:g} s: {verdict} ({with_audio:.3f} s)")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
