"""Memory while downloading a 1 GiB video: the SDK streams, it never holds the file.

A small HTTP server on 127.0.0.1 (in its own process, so its memory is not counted) answers
`/video/retrieve` with a 1 GiB `video/mp4` body and also serves it from a pre-signed-style
URL. The SDK downloads it both ways (inline retrieve body, and `download_url`), with the
sync and the async client, and the peak resident memory above the process's baseline is
printed for each. Target: at most 64 MiB above baseline.

Verification is off here: the body is 1 GiB of filler, not a playable video (decoding a real
1 GiB video would measure PyAV, not the download path).

    python benchmarks/bench_download.py            # 1 GiB
    python benchmarks/bench_download.py --mib 256
"""

from __future__ import annotations

import argparse
import json
import os
import socket
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


def serve(port: int, size: int) -> None:
    """The fake API: retrieve streams `size` bytes; complete and DELETE succeed."""

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=1024, help="size of the video in MiB")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    size = args.mib * MIB
    if args.serve:
        serve(args.serve, size)
        return

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), "--mib", str(args.mib)]
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    time.sleep(1.0)
    options: dict[str, Any] = {
        "api_key": "bench",
        "base_url": base,
        "journal": False,
        "cache_dir": False,
        "verify_downloads": False,
        "validate_requests": False,
    }
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
    print(f"downloading {args.mib} MiB over loopback; peak RSS above the baseline")
    print(f"{'client and path':<22} {'peak above baseline':>20} {'throughput':>12}")
    for label, above, rate in results:
        print(f"{label:<22} {above:>16.1f} MiB {rate:>8.0f} MiB/s")
    worst = max(above for _, above, _ in results)
    print(f"target (at most 64 MiB above baseline): {'met' if worst <= 64 else 'NOT met'}")


if __name__ == "__main__":
    main()
