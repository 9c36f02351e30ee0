"""Local media becomes data URLs the API accepts, or a clear `InputError` before sending."""

from __future__ import annotations

import base64
import io
import os
import struct
import wave
from pathlib import Path

import pytest

from venice_video import InputError, RequestTooLargeError
from venice_video._inputs import (
    check_body_size,
    load_for_transcription,
    resolve_audio,
    resolve_image,
    resolve_video,
)

FIXTURES = Path(__file__).parent.parent / "fixtures"
Image = pytest.importorskip("PIL.Image")


def decode(data_url: str) -> tuple[str, bytes]:
    header, _, payload = data_url.partition(",")
    return header[len("data:") :].split(";")[0], base64.b64decode(payload)


def noisy_png(size: int) -> bytes:
    image = Image.frombytes("RGB", (size, size), os.urandom(size * size * 3))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def wav_bytes(seconds: float, rate: int = 8000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(struct.pack("<h", 0) * int(seconds * rate))
    return buf.getvalue()


def test_urls_pass_through_untouched() -> None:
    for url in ("https://example.com/a.png", "http://x/y", "data:image/png;base64,AAAA"):
        assert resolve_image(url, field="image_url") == url
        assert resolve_video(url, field="video_url") == url
        assert resolve_audio(url, field="audio_url") == url


def test_a_local_png_becomes_a_data_url(tmp_path: Path) -> None:
    path = tmp_path / "frame.png"
    path.write_bytes(noisy_png(32))
    mime, data = decode(resolve_image(path, field="image_url"))
    assert mime == "image/png" and data == path.read_bytes()


def test_a_big_image_is_shrunk_under_the_budget() -> None:
    original = noisy_png(600)
    mime, data = decode(resolve_image(original, field="image_url", budget_bytes=200_000))
    assert len(original) > 200_000 >= len(data)
    assert mime == "image/jpeg"
    assert Image.open(io.BytesIO(data)).width < 600


def test_a_pil_image_is_encoded() -> None:
    mime, data = decode(resolve_image(Image.new("RGB", (8, 8), "red"), field="image_url"))
    assert mime == "image/jpeg" and data[:3] == b"\xff\xd8\xff"


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        (Path("/nonexistent/frame.png"), "does not exist"),
        (b"not an image at all", "is not an image"),
        (12, "expected a URL, a path, bytes or a PIL image"),
    ],
)
def test_unusable_images_raise_input_error(value: object, needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        resolve_image(value, field="image_url")  # type: ignore[arg-type]


def test_a_wav_clip_is_accepted() -> None:
    mime, _ = decode(resolve_audio(FIXTURES / "speech.wav", field="audio_url"))
    assert mime == "audio/wav"


def test_audio_over_30_seconds_is_refused() -> None:
    with pytest.raises(InputError, match="up to 30 s"):
        resolve_audio(wav_bytes(31), field="audio_url")


def test_audio_over_15_mb_is_refused() -> None:
    with pytest.raises(InputError, match="up to 15 MB"):
        resolve_audio(b"RIFF" + b"\x00" * 15_000_001, field="audio_url")


def test_audio_in_another_format_is_refused() -> None:
    with pytest.raises(InputError, match="WAV or MP3"):
        resolve_audio(b"fLaC" + b"\x00" * 100, field="audio_url")


def test_a_video_is_sniffed(tiny_mp4: bytes) -> None:
    mime, data = decode(resolve_video(tiny_mp4, field="video_url"))
    assert mime == "video/mp4" and data == tiny_mp4
    with pytest.raises(InputError, match="MP4, MOV or WebM"):
        resolve_video(b"GIF89a......", field="video_url")


def test_the_body_is_measured_before_sending() -> None:
    assert check_body_size({"model": "m"}) == len('{"model":"m"}')
    with pytest.raises(RequestTooLargeError) as info:
        check_body_size({"model": "m", "image_url": "x" * 200}, limit=100)
    assert info.value.size_bytes > 100 and "image_url" in str(info.value)


def test_transcription_takes_audio_as_is_and_refuses_silent_video(tiny_mp4: bytes) -> None:
    data, name, mime = load_for_transcription(FIXTURES / "speech.wav")
    assert (name, mime) == ("speech.wav", "audio/wav")
    assert data == (FIXTURES / "speech.wav").read_bytes()
    with pytest.raises(InputError, match="no audio track"):
        load_for_transcription(tiny_mp4)
