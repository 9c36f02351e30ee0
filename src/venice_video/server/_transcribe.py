"""Handlers for `/audio/transcriptions` (multipart upload) and `/video/transcriptions` (URL).

Both run the offline Whisper engine of the `[stt]` extra in a worker thread. Without the
extra they answer 501 with the command that installs it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .._validation import Issue, error_body
from ..media import probe_audio
from ._accounts import micro
from ._http import (
    BodyTooLarge,
    Call,
    HTTPError,
    Reply,
    error,
    json_reply,
    limited_receive,
    read_body,
)
from ._pricing import transcription_usd
from ._state import ServerState
from ._video import _object_body, require_account

__all__ = ["audio_transcriptions", "video_transcriptions"]

STT_MODELS = (
    "nvidia/parakeet-tdt-0.6b-v3",
    "openai/whisper-large-v3",
    "fal-ai/wizper",
    "elevenlabs/scribe-v2",
    "stt-xai-v1",
)
FORM_FIELDS = ("file", "model", "response_format", "timestamps", "language")
FORMATS = ("json", "text")
INSTALL_HINT = "pip install 'venice-video[stt]'"
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off", "")


def _unavailable(detail: str | None = None) -> HTTPError:
    message = "Speech-to-text is not available on this server: install it with " + INSTALL_HINT
    if detail:
        message += f" ({detail})"
    return error(501, message, code="STT_UNAVAILABLE")


def _invalid(issues: list[Issue]) -> HTTPError:
    return HTTPError(json_reply(400, error_body(issues)))


def _stt() -> Any:
    from . import _stt

    return _stt


def _text_reply(text: str) -> Reply:
    return Reply(200, text.encode(), b"text/plain; charset=utf-8")


async def audio_transcriptions(state: ServerState, call: Call) -> Reply:
    account = require_account(state, call)
    content_type = call.header(b"content-type") or ""
    if not content_type.lower().startswith("multipart/form-data"):
        raise error(415, "Invalid request content-type: expected multipart/form-data, got "
                    f"{content_type[:80] or 'none'!r}")  # fmt: skip
    limit = state.config.max_audio_body_bytes
    declared = call.header(b"content-length")
    if (
        declared is not None
        and declared.isdigit()
        and (len(declared) > 18 or int(declared) > limit)
    ):
        raise BodyTooLarge(limit)

    from starlette.formparsers import MultiPartException
    from starlette.requests import Request

    request = Request(call.scope, limited_receive(call.receive, limit))
    try:
        form = await request.form(max_files=1, max_fields=len(FORM_FIELDS), max_part_size=65_536)
    except MultiPartException as exc:
        raise error(400, f"Malformed multipart body: {exc.message}") from None
    except BodyTooLarge:
        raise
    except Exception as exc:  # starlette's HTTPException and parser errors
        detail = getattr(exc, "detail", None) or str(exc) or type(exc).__name__
        raise error(400, f"Malformed multipart body: {detail}"[:300]) from None
    try:
        issues: list[Issue] = []
        unknown = sorted({k for k in form.keys() if k not in FORM_FIELDS})
        if unknown:
            issues.append(Issue((), f"Unrecognized key(s): {', '.join(map(repr, unknown))[:200]}",
                                code="unrecognized_keys"))  # fmt: skip
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            issues.append(Issue(("file",), "Required: an audio file part named 'file'",
                                code="invalid_type", received="undefined" if upload is None
                                else "string"))  # fmt: skip
        model = form.get("model", STT_MODELS[0])
        if model not in STT_MODELS:
            issues.append(Issue(("model",), "Invalid enum value", code="invalid_enum_value",
                                received=str(model)[:80], allowed=STT_MODELS))  # fmt: skip
        response_format = form.get("response_format", "json")
        if response_format not in FORMATS:
            issues.append(Issue(("response_format",), "Invalid enum value",
                                code="invalid_enum_value", received=str(response_format)[:80],
                                allowed=FORMATS))  # fmt: skip
        raw_timestamps = str(form.get("timestamps", "false")).strip().lower()
        if raw_timestamps not in _TRUE + _FALSE:
            issues.append(Issue(("timestamps",), "Expected boolean", code="invalid_type",
                                expected="boolean"))  # fmt: skip
        language = form.get("language")
        if language is not None and (not isinstance(language, str) or len(language) > 16):
            issues.append(Issue(("language",), "Expected an ISO 639-1 code", code="invalid_type"))
        if issues:
            raise _invalid(issues)
        assert upload is not None and not isinstance(upload, str)
        data = await upload.read()
    finally:
        await form.close()
    if not data:
        raise error(422, "The audio file is empty (zero-length)")
    stt = _stt()
    if not stt.is_available():
        raise _unavailable()
    info = await asyncio.to_thread(_probe, data)
    if info is None:
        raise error(422, "The audio could not be decoded")
    price = transcription_usd(state.config.pricing, info)
    price_micro = micro(price)
    if not state.accounts.reserve(account, price_micro):
        raise error(402, f"Insufficient balance: this transcription costs ${price:.6f}",
                    code="INSUFFICIENT_BALANCE")  # fmt: skip
    timestamps = raw_timestamps in _TRUE
    try:
        transcript = await asyncio.to_thread(
            stt.transcribe_bytes,
            data,
            language=language if isinstance(language, str) and language else None,
            word_timestamps=timestamps,
        )
    except stt.STTInputError as exc:
        state.accounts.refund(account.key_hash, price_micro)
        raise error(422, f"The audio could not be transcribed: {exc}") from None
    except stt.STTUnavailableError as exc:
        state.accounts.refund(account.key_hash, price_micro)
        raise _unavailable(str(exc)) from None
    if response_format == "text":
        return _text_reply(transcript.text)
    result: dict[str, Any] = {"text": transcript.text, "duration": round(transcript.duration, 3)}
    if timestamps:
        result["timestamps"] = {
            "word": [
                {"word": w.word, "start": round(w.start, 3), "end": round(w.end, 3)}
                for w in transcript.words
            ],
            "segment": [
                {"text": s.text, "start": round(s.start, 3), "end": round(s.end, 3)}
                for s in transcript.segments
            ],
        }
    return json_reply(200, result)


def _probe(data: bytes) -> float | None:
    try:
        info = probe_audio(data)
    except Exception:
        return None
    if info.duration_s is None or info.duration_s <= 0:
        return None
    return float(info.duration_s)


async def video_transcriptions(state: ServerState, call: Call) -> Reply:
    account = require_account(state, call)
    raw = await read_body(call, state.config.max_json_body_bytes)
    body = _object_body(raw, {"url": "string", "response_format": "string"}, ("url",))
    response_format = body.get("response_format", "json")
    if response_format not in FORMATS:
        raise _invalid([Issue(("response_format",), "Invalid enum value",
                              code="invalid_enum_value", received=str(response_format)[:80],
                              allowed=FORMATS)])  # fmt: skip
    url = body["url"]
    if not url.startswith(("http://", "https://")) or len(url) > 4096:
        raise _invalid([Issue(("url",), "Must be an http(s) URL of a video", code="invalid_string",
                              received=url[:80])])  # fmt: skip
    stt = _stt()
    if not stt.is_available():
        raise _unavailable()
    minimum = micro(state.config.pricing.minimum_usd)
    if account.balance_micro < minimum:
        raise error(402, "Insufficient balance", code="INSUFFICIENT_BALANCE")
    try:
        transcript = await asyncio.to_thread(
            stt.transcribe_url,
            url,
            allow_private=state.config.allow_private_urls,
            max_bytes=state.config.max_transcription_url_bytes,
            timeout_s=state.config.fetch_timeout_s,
            fetcher=state.fetcher,
        )
    except stt.STTInputError as exc:
        raise error(400, f"The video could not be transcribed: {exc}") from None
    except stt.STTUnavailableError as exc:
        raise _unavailable(str(exc)) from None
    # The length is known only once downloaded, so this endpoint charges afterwards (and
    # never more than the balance).
    price = transcription_usd(state.config.pricing, transcript.duration, video=True)
    state.accounts.charge_up_to(account, micro(price))
    if response_format == "text":
        return _text_reply(transcript.text)
    return json_reply(200, {"transcript": transcript.text, "lang": transcript.language})
