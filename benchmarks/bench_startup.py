"""Cold start of the command line against a standard-library-only CLI's.

Times, alternately and many times over, fresh processes of:

- the baseline: `python -c "import argparse, json, urllib.request"` (what a stdlib-only CLI
  loads before it does anything);
- `venice-video --help`;
- `venice-video models` with its listing cached (a first run against a local server on
  127.0.0.1 fills the cache);
- `venice-video generate --help`, for reference: the whole command line loaded.

It prints the median wall time of each, its ratio to the baseline, and how many modules
each loads (`PYTHONPROFILEIMPORTTIME`, one extra run).

    python benchmarks/bench_startup.py [--runs 40]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from venice_video.server import ServerConfig, ServerThread

PYTHON = sys.executable
CLI = str(Path(PYTHON).parent / "venice-video")


def timed(command: list[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{command} failed: {done.stderr.decode(errors='replace')}")
    return elapsed


def modules_loaded(command: list[str], env: dict[str, str]) -> int:
    done = subprocess.run(
        command, env=env | {"PYTHONPROFILEIMPORTTIME": "1"}, capture_output=True, check=True
    )
    return sum(line.startswith(b"import time:") for line in done.stderr.splitlines()) - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ServerThread(ServerConfig(speed=1000)) as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VENICE_", "PYTHON"))} | {
            "VENICE_API_KEY": "bench-key",
            "VENICE_BASE_URL": server.base_url,
            "VENICE_VIDEO_CACHE_DIR": str(Path(tmp) / "cache"),
            "VENICE_VIDEO_CONFIG": str(Path(tmp) / "config.toml"),
            "VENICE_VIDEO_JOURNAL": str(Path(tmp) / "journal.sqlite3"),
            "COLUMNS": "120",
        }
        commands = {
            "baseline (stdlib CLI)": [PYTHON, "-c", "import argparse, json, urllib.request"],
            "venice-video --help": [CLI, "--help"],
            "venice-video models (cached)": [CLI, "models"],
            "venice-video generate --help": [CLI, "generate", "--help"],
        }
        first = timed(commands["venice-video models (cached)"], env)  # fills the cache
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, command in commands.items():
                times[name].append(timed(command, env))
        loaded = {name: modules_loaded(command, env) for name, command in commands.items()}
    base = statistics.median(times["baseline (stdlib CLI)"])
    print(f"{'command':<32}{'median ms':>11}{'ratio':>8}{'modules':>9}")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"{name:<32}{1000 * median:>11.1f}{median / base:>7.2f}x{loaded[name]:>9}")
    print(f"(first `models`, filling the cache: {1000 * first:.0f} ms; {args.runs} runs each)")


if __name__ == "__main__":
    main()
