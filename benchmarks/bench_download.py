"""Downloading: memory for a 1 GiB body, and the cost of verifying a real 4K video.

A small HTTP server on 127.0.0.1 (in its own process, so its memory is not counted) answers
`/video/retrieve` with a `video/mp4` body and also serves it from a pre-signed-style URL.

1. Streaming: the SDK downloads 1 GiB of filler both ways (inline retrieve body, and
   `download_url`), with the sync and the async client, verification off (filler is not a
   video), and the peak resident memory above the process's baseline is printed for each.
   Target: at most 64 MiB above baseline.
2. Verification: the server serves a real 4K H.264/AAC clip of about 275 MiB (made once with
   PyAV and kept in the temporary directory), and the sync client downloads it with
   verification off and on, alternately. Printed: the median time of each, their ratio, and the
   peak RSS above the baseline measured just before each download. The first verified
   download also pays for importing PyAV and numpy; it is shown apart. Targets: verified at
   most 1.5x the unverified time, at most 64 MiB above baseline.

    python benchmarks/bench_download.py                  # both parts
    python benchmarks/bench_download.py --mib 256 --repeat 3
    python benchmarks/bench_download.py --skip-stream --full-decode   # also time decode="all"
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio

from venice_video import AsyncVeniceVideo, VeniceVideo, VideoJob

MIB = 1 << 20
CHUNK = b"\x00\x00\x00\x08free" * (MIB // 8)  # 1 MiB of filler boxes
CLIP_SECONDS = 9  # about 275 MiB at the quality below


def make_4k_clip(path: Path) -> None:
    """A 3840x2160 24 fps H.264 clip with grain (so it is big) and an AAC track, via PyAV."""
    import av
    import numpy as np

    width, height, fps = 3840, 2160, 24
    rng = np.random.default_rng(1)
    grain = rng.integers(0, 24, size=(height + 64, width + 64), dtype=np.uint8)
    x = np.linspace(0, 1, width, dtype=np.float32)
    y = np.linspace(0, 1, height, dtype=np.float32)
    tmp = path.with_suffix(".tmp")
    with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        video = out.add_stream(
            "libx264", rate=fps, options={"preset": "ultrafast", "qp": "14", "threads": "2"}
        )
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.codec_context.gop_size = 2 * fps
        sound = out.add_stream("aac", rate=48000)
        sound.layout = "stereo"
        samples = 0
        for i in range(CLIP_SECONDS * fps):
            t = i / fps
            base = np.sin(x * 6 + t)[None, :] * 60 + np.cos(y * 4 - t * 0.7)[:, None] * 60 + 120
            dx, dy = (i * 7) % 64, (i * 3) % 64
            luma = np.clip(base + grain[dy : dy + height, dx : dx + width], 0, 255)
            frame = av.VideoFrame(width, height, "yuv420p")
            for index, plane in enumerate(frame.planes):
                rows = height if index == 0 else height // 2
                view = np.frombuffer(plane, np.uint8).reshape(rows, plane.line_size)
                view[:, : width if index == 0 else width // 2] = (
                    luma.astype(np.uint8) if index == 0 else 118 + 10 * index
                )
            frame.pts = i
            out.mux(video.encode(frame))
            while samples < (i + 1) / fps * 48000:
                tone = np.sin(2 * np.pi * 220 * (np.arange(1024) + samples) / 48000) * 0.2
                chunk = np.stack([tone, tone]).astype(np.float32)
                audio = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
                audio.sample_rate, audio.pts = 48000, samples
                out.mux(sound.encode(audio))
                samples += 1024
        out.mux(video.encode(None))
        out.mux(sound.encode(None))
    os.replace(tmp, path)


def serve(port: int, size: int, source: str | None = None) -> None:
    """The fake API: retrieve streams `size` bytes (of `source`, or filler); complete and
    DELETE succeed."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _video(self) -> None:
            start = 0
            ranged = self.headers.get("Range")
            if ranged:
                start = int(ranged.split("=")[1].split("-")[0])
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
            else:
                self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(size - start))
            self.end_headers()
            left = size - start
            if source is not None:
                with open(source, "rb") as f:
                    f.seek(start)
                    while piece := f.read(MIB):
                        self.wfile.write(piece)
                return
            while left > 0:
                piece = CHUNK[: min(len(CHUNK), left)]
                self.wfile.write(piece)
                left -= len(piece)

        def _json(self, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path.endswith("/video/retrieve"):
                if "url" in self.path:
                    self._json(
                        {
                            "status": "COMPLETED",
                            "average_execution_time": 1,
                            "execution_duration": 1,
                        }
                    )
                else:
                    self._video()
            else:
                self._json({"success": True})

        def do_GET(self) -> None:
            self._video()

        def do_DELETE(self) -> None:
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class PeakRSS:
    """Samples this process's resident memory every few milliseconds."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(0.005)

    def __enter__(self) -> PeakRSS:
        self.peak = rss_bytes()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


def job(base: str, via_url: bool) -> VideoJob:
    return VideoJob(
        idempotency_key="bench",
        model="url" if via_url else "inline",
        status="READY",
        queue_id="bench-job",
        download_url=f"{base.rsplit('/api/v1', 1)[0]}/media/video.mp4" if via_url else None,
    )


def start_server(size: int, source: Path | None = None) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, __file__, "--serve", str(port), "--size", str(size)]
    if source is not None:
        command += ["--source", str(source)]
    server = subprocess.Popen(command)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}/api/v1"


OPTIONS: dict[str, Any] = {
    "api_key": "bench",
    "journal": False,
    "cache_dir": False,
    "validate_requests": False,
}


def bench_streaming(mib: int) -> bool:
    size = mib * MIB
    server, base = start_server(size)
    options = {**OPTIONS, "verify_downloads": False}
    results = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            # The base URL tells the fake server which answer to give: the video inline, or
            # COMPLETED JSON pointing at the download URL.
            for label, via_url, client_kind in (
                ("sync, inline body", False, "sync"),
                ("sync, download_url", True, "sync"),
                ("async, inline body", False, "async"),
                ("async, download_url", True, "async"),
            ):
                output = Path(tmp) / "video.mp4"
                target = job(base + ("/url" if via_url else ""), via_url)
                url = base + ("/url" if via_url else "")
                began = time.monotonic()
                baseline = rss_bytes()
                with PeakRSS() as peak:
                    if client_kind == "sync":
                        with VeniceVideo(**{**options, "base_url": url}) as client:
                            done = client.download(target, output)
                    else:

                        async def run(
                            url: str = url, target: VideoJob = target, output: Path = output
                        ) -> VideoJob:
                            async with AsyncVeniceVideo(**{**options, "base_url": url}) as c:
                                return await c.download(target, output)

                        done = anyio.run(run)
                seconds = time.monotonic() - began
                assert done.size_bytes == size and output.stat().st_size == size
                results.append((label, (peak.peak - baseline) / MIB, size / MIB / seconds))
                os.unlink(output)
    finally:
        server.terminate()
        server.wait()
    print(f"downloading {mib} MiB over loopback; peak RSS above the baseline")
    print(f"{'client and path':<22} {'peak above baseline':>20} {'throughput':>12}")
    for label, above, rate in results:
        print(f"{label:<22} {above:>16.1f} MiB {rate:>8.0f} MiB/s")
    worst = max(above for _, above, _ in results)
    print(f"target (at most 64 MiB above baseline): {'met' if worst <= 64 else 'NOT met'}")
    return worst <= 64


def _download_once(base: str, output: Path, verify: bool) -> tuple[float, float, VideoJob]:
    baseline = rss_bytes()
    began = time.perf_counter()
    with PeakRSS() as peak:
        with VeniceVideo(**{**OPTIONS, "verify_downloads": verify, "base_url": base + "/url"}) as c:
            done = c.download(job(base + "/url", True), output)
    seconds = time.perf_counter() - began
    os.unlink(output)
    return seconds, (peak.peak - baseline) / MIB, done


def bench_verification(clip: Path, repeat: int, full_decode: bool) -> bool:
    size = clip.stat().st_size
    clip.read_bytes()  # into the page cache, as a just-written download is
    server, base = start_server(size, clip)
    times: dict[bool, list[float]] = {False: [], True: []}
    peaks: dict[bool, list[float]] = {False: [], True: []}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            output = Path(tmp) / "video.mp4"
            _download_once(base, output, False)  # warm up the server and the page cache
            cold_s, cold_peak, done = _download_once(base, output, True)
            assert done.media is not None and done.media.width == 3840
            for _ in range(repeat):
                for verify in (False, True):
                    seconds, above, _ = _download_once(base, output, verify)
                    times[verify].append(seconds)
                    peaks[verify].append(above)
    finally:
        server.terminate()
        server.wait()
    plain, checked = statistics.median(times[False]), statistics.median(times[True])
    ratio = checked / plain
    worst = max(peaks[True])
    print(
        f"\nverifying a {size / MIB:.0f} MiB 3840x2160 H.264/AAC download "
        f"({repeat} runs each, sync client, download_url, load average {os.getloadavg()[0]:.2f})"
    )
    print(f"{'download':<34} {'median s':>9} {'min s':>7} {'peak RSS above baseline':>24}")
    for verify, label in ((False, "unverified"), (True, "verified")):
        print(
            f"{label:<34} {statistics.median(times[verify]):>9.3f} {min(times[verify]):>7.3f} "
            f"{max(peaks[verify]):>20.1f} MiB"
        )
    print(f"{'verified, first (imports PyAV)':<34} {cold_s:>9.3f} {'':>7} {cold_peak:>20.1f} MiB")
    if full_decode:
        from venice_video import media

        began = time.perf_counter()
        with PeakRSS() as peak:
            baseline = rss_bytes()
            media.verify(clip, decode="all")
        print(
            f"{'verify alone, decode=all':<34} {time.perf_counter() - began:>9.3f} {'':>7} "
            f"{(peak.peak - baseline) / MIB:>20.1f} MiB"
        )
    passed = ratio <= 1.5 and worst <= 64
    best_ratio = min(times[True]) / min(times[False])
    print(f"fastest verified / fastest unverified: {best_ratio:.2f}x (less sensitive to load)")
    print(
        f"median verified / unverified: {ratio:.2f}x (target <= 1.5x); peak {worst:.1f} MiB above "
        f"baseline (target <= 64 MiB): {'met' if passed else 'NOT met'}"
    )
    return passed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=1024, help="size of the streaming body in MiB")
    parser.add_argument("--repeat", type=int, default=5, help="verification runs of each kind")
    parser.add_argument("--clip", type=Path, help="a 4K mp4 to serve (default: made once)")
    parser.add_argument("--skip-stream", action="store_true", help="only the verification part")
    parser.add_argument("--skip-verify", action="store_true", help="only the streaming part")
    parser.add_argument("--full-decode", action="store_true", help="also time decode='all'")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.size, args.source)
        return
    passed = True
    if not args.skip_stream:
        passed &= bench_streaming(args.mib)
    if not args.skip_verify:
        clip = args.clip or Path(tempfile.gettempdir()) / "venice-video-bench-4k.mp4"
        if not clip.exists():
            print(f"making {clip} (once)...", flush=True)
            make_4k_clip(clip)
        passed &= bench_verification(clip, max(1, args.repeat), args.full_decode)
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
