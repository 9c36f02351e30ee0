"""POST /audio/transcriptions (multipart) and POST /video/transcriptions (URL)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _server_helpers import assert_error_shape

from speech_fixture import DURATION_S, SPEECH_WAV, assert_mostly_heard
from venice_video.server import ServerThread
from venice_video.server import _stt as stt

SPEECH = SPEECH_WAV

needs_stt = pytest.mark.skipif(not stt.is_available(), reason="the [stt] extra is not installed")


def _upload(client: httpx.Client, **fields: str) -> httpx.Response:
    files = {"file": ("speech.wav", SPEECH.read_bytes(), "audio/wav")}
    return client.post("/audio/transcriptions", files=files, data=fields)


@pytest.mark.stt
@needs_stt
def test_audio_transcription_returns_the_spoken_words(client: httpx.Client) -> None:
    response = _upload(client, timestamps="true", language="en")
    assert response.status_code == 200, response.text
    body = response.json()
    assert_mostly_heard(body["text"])
    assert body["duration"] == pytest.approx(DURATION_S, abs=0.1)
    words = body["timestamps"]["word"]
    assert words and {"word", "start", "end"} == set(words[0])
    assert all(w["start"] <= w["end"] for w in words)
    assert body["timestamps"]["segment"][0]["text"]
    # Charged per audio second ($0.0001/s by default), at least the $0.001 minimum.
    after = client.get("/models", params={"type": "video"}).headers["x-venice-balance-usd"]
    assert float(after) == pytest.approx(100 - max(0.001, DURATION_S * 0.0001), abs=1e-6)


@pytest.mark.stt
@needs_stt
def test_audio_transcription_as_text(client: httpx.Client) -> None:
    response = _upload(client, response_format="text", model="openai/whisper-large-v3")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert_mostly_heard(response.text)


@pytest.fixture
def media_host(tmp_path: Path) -> Iterator[str]:
    """A tiny HTTP server on 127.0.0.1 serving an mp4 whose audio is the spoken fixture."""
    from venice_video.server._render import RenderSpec, render

    render(RenderSpec(96, 64, 4.0, audio_track=SPEECH.read_bytes(), caption=False),
           tmp_path / "talk.mp4")  # fmt: skip

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kw: Any) -> None:
            super().__init__(*args, directory=str(tmp_path), **kw)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/talk.mp4"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.stt
@needs_stt
def test_video_transcription_of_a_url(server_factory: Any, api_key: str, media_host: str) -> None:
    running: ServerThread = server_factory(allow_private_urls=True)
    headers = {"Authorization": f"Bearer {api_key}"}
    url = f"{running.base_url}/video/transcriptions"
    response = httpx.post(url, json={"url": media_host}, headers=headers, timeout=120)
    assert response.status_code == 200, response.text
    assert response.json()["lang"] == "en"
    assert_mostly_heard(response.json()["transcript"])


def test_video_transcription_refuses_loopback_by_default(
    client: httpx.Client, media_host: str
) -> None:
    if not stt.is_available():
        pytest.skip("the [stt] extra is not installed")
    response = client.post("/video/transcriptions", json={"url": media_host})
    assert "not a public internet address" in assert_error_shape(response, 400)["error"]


@pytest.mark.parametrize(
    "body",
    [{}, {"url": 5}, {"url": "https://x.example/v", "extra": True},
     {"url": "https://x.example/v", "response_format": "srt"}, {"url": "file:///etc/passwd"}],
)  # fmt: skip
def test_video_transcription_body_errors_are_400(client: httpx.Client, body: Any) -> None:
    assert_error_shape(client.post("/video/transcriptions", json=body), 400)


def test_audio_transcription_needs_multipart(client: httpx.Client) -> None:
    response = client.post("/audio/transcriptions", json={"file": "abc"})
    assert "multipart/form-data" in assert_error_shape(response, 415)["error"]


def test_audio_transcription_over_25_mb_is_413(client: httpx.Client) -> None:
    files = {"file": ("big.wav", b"\0" * (26 * 1024 * 1024), "audio/wav")}
    response = client.post("/audio/transcriptions", files=files)
    assert assert_error_shape(response, 413)["code"] == "PAYLOAD_TOO_LARGE"


def test_audio_transcription_counts_bytes_while_reading(server_factory: Any, api_key: str) -> None:
    running: ServerThread = server_factory(max_audio_body_bytes=50_000)
    boundary = "b0undary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"a.wav\"\r\nContent-Type: audio/wav\r\n\r\n").encode()  # fmt: skip

    def body() -> Iterator[bytes]:
        yield head
        for _ in range(100):
            yield b"\0" * 1000
        yield f"\r\n--{boundary}--\r\n".encode()

    response = httpx.post(
        f"{running.base_url}/audio/transcriptions",
        content=body(),
        headers={"Authorization": f"Bearer {api_key}",
                 "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )  # fmt: skip
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_error_shape(response, 413)


def test_audio_transcription_of_empty_audio_is_422(client: httpx.Client) -> None:
    files = {"file": ("empty.wav", b"", "audio/wav")}
    response = client.post("/audio/transcriptions", files=files)
    assert "empty" in assert_error_shape(response, 422)["error"]


def test_audio_transcription_of_undecodable_audio_is_422(client: httpx.Client) -> None:
    if not stt.is_available():
        pytest.skip("the [stt] extra is not installed")
    files = {"file": ("noise.wav", b"this is not audio at all" * 10, "audio/wav")}
    assert_error_shape(client.post("/audio/transcriptions", files=files), 422)


@pytest.mark.parametrize(
    "fields",
    [{"model": "whisper-9000"}, {"response_format": "srt"}, {"timestamps": "maybe"},
     {"temperature": "0"}],
)  # fmt: skip
def test_audio_transcription_field_errors_are_400(
    client: httpx.Client, fields: dict[str, str]
) -> None:
    assert_error_shape(_upload(client, **fields), 400)


def test_audio_transcription_without_a_file_is_400(client: httpx.Client) -> None:
    response = client.post("/audio/transcriptions", files={"model": (None, STT_DEFAULT)})
    assert assert_error_shape(response, 400)["issues"][0]["path"] == ["file"]


STT_DEFAULT = "nvidia/parakeet-tdt-0.6b-v3"


def test_transcriptions_need_a_key(server: ServerThread) -> None:
    assert_error_shape(httpx.post(f"{server.base_url}/video/transcriptions",
                                  json={"url": "https://x.example/v"}), 401)  # fmt: skip
    assert_error_shape(httpx.post(f"{server.base_url}/audio/transcriptions",
                                  files={"file": ("a.wav", b"x")}), 401)  # fmt: skip


def test_transcription_without_the_stt_extra_is_501(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stt, "is_available", lambda: False)
    response = _upload(client)
    assert "pip install 'venice-video[stt]'" in assert_error_shape(response, 501)["error"]
    response = client.post("/video/transcriptions", json={"url": "https://x.example/v"})
    assert "pip install 'venice-video[stt]'" in assert_error_shape(response, 501)["error"]
