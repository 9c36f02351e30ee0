"""How journal values are stored: secrets scrubbed, large data URLs digested, JSON encoded.

Shared by both backends, so a job reads back the same from SQLite and from PostgreSQL.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import hashlib
import json
import os
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any, Final

from .._exceptions import JournalError
from .._types import JOB_STATUSES
from .._urls import clean_url
from ._schema import JOB_COLUMNS

__all__ = ["digest_data_urls"]

# Data URLs up to this many characters are kept verbatim; they cost nothing to store.
_DATA_URL_INLINE_LIMIT: Final[int] = 1024
# Error texts can be whole HTML pages; the journal only needs enough to say what happened.
_MAX_ERROR_CHARS: Final[int] = 4000

_SECRET_KEYS: Final[frozenset[str]] = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "api_key",
        "apikey",
        "api-key",
        "x-api-key",
        "venice_api_key",
        "password",
        "secret",
        "token",
        "access_token",
    }
)
_BEARER: Final[re.Pattern[str]] = re.compile(r"(?i)\b(bearer)\s+[^\s'\",;]+")
_MIME: Final[re.Pattern[str]] = re.compile(r"^[\w.+-]+/[\w.+-]+$")
_REDACTED: Final[str] = "[redacted]"

UPDATABLE: Final[frozenset[str]] = frozenset(JOB_COLUMNS) - {"key"}
# Entering one of these statuses stamps its time, unless the caller gave one.
STATUS_STAMPS: Final[Mapping[str, str]] = {
    "QUEUED": "queued_at",
    "READY": "ready_at",
    "DOWNLOADED": "downloaded_at",
    "COMPLETED": "completed_at",
}


def is_url(text: str | None) -> bool:
    return bool(text) and str(text).lower().startswith(("postgres://", "postgresql://"))


def check_statuses(statuses: Iterable[str]) -> builtins.list[str]:
    # A lone string is one status, not an iterable of one-letter ones.
    wanted = sorted({statuses} if isinstance(statuses, str) else set(statuses))
    bad = [s for s in wanted if s not in JOB_STATUSES]
    if bad:
        raise JournalError(
            f"unknown job status {', '.join(map(repr, bad))}; known: {', '.join(JOB_STATUSES)}"
        )
    return wanted


def has_tag(tags: Mapping[str, Any], tag: tuple[str, Any]) -> bool:
    """Whether `tags[name] == value`, for `tag` given as `(name, value)`: the exact match a
    store makes last, whatever it narrowed the rows to first."""
    name, value = tag
    return name in tags and tags[name] == value


def tag_text(tag: tuple[str, Any] | None) -> str | None:
    """The text a row's tag must have for `tag` to match, when rows can be narrowed in SQL
    first (JSON's `->>` and `json_extract` give a string's text, and an object's JSON text,
    which `has_tag` then rejects); `None` when they cannot: a value other than a string, or
    a name a JSON path cannot quote."""
    if tag is None or not isinstance(tag[1], str) or any(c in tag[0] for c in '"\\'):
        return None
    return tag[1]


def redact_text(text: str) -> str:
    text = _BEARER.sub(rf"\1 {_REDACTED}", text)
    for name in ("VENICE_API_KEY", "VENICE_VIDEO_API_KEY"):
        secret = os.environ.get(name, "")
        if len(secret) >= 8 and secret in text:
            text = text.replace(secret, _REDACTED)
    return text


def scrub(value: Any) -> Any:
    """A copy of `value` with secret-looking keys and bearer tokens replaced."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {
            str(k): (_REDACTED if str(k).lower() in _SECRET_KEYS else scrub(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def digest_data_urls(value: Any, *, inline_limit: int = _DATA_URL_INLINE_LIMIT) -> Any:
    """A copy of `value` with every `data:` URL longer than `inline_limit` replaced.

    The placeholder is `data:<mime>;sha256=<hex>;bytes=<n>`, where the digest and size are of
    the decoded payload: enough to prove what was sent without keeping megabytes of base64.
    Placeholders are short, so digesting twice changes nothing.
    """
    if isinstance(value, str):
        # A real data URL has its comma within the media type header, near the start; a long
        # prompt that merely begins with "data:" does not.
        if len(value) > inline_limit and value[:5].lower() == "data:" and "," in value[:256]:
            return _digest_data_url(value)
        return value
    if isinstance(value, Mapping):
        return {str(k): digest_data_urls(v, inline_limit=inline_limit) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [digest_data_urls(v, inline_limit=inline_limit) for v in value]
    return value


def _digest_data_url(url: str) -> str:
    header, _, payload = url[5:].partition(",")
    params = header.split(";")
    mime = params[0].strip().lower() or "text/plain"
    if not _MIME.match(mime):
        mime = "application/octet-stream"
    data: bytes
    if any(p.strip().lower() == "base64" for p in params[1:]):
        try:
            data = base64.b64decode(payload)
        except (binascii.Error, ValueError):
            data = payload.encode("utf-8", "surrogatepass")
    else:
        data = urllib.parse.unquote_to_bytes(payload)
    return f"data:{mime};sha256={hashlib.sha256(data).hexdigest()};bytes={len(data)}"


def dump_json(value: Any, what: str) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise JournalError(f"the {what} cannot be stored as JSON: {exc}") from exc


def load_json(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    loaded = json.loads(text)
    return loaded if isinstance(loaded, dict) else {}


def encode_field(name: str, value: Any) -> Any:
    if name == "status":
        if value not in JOB_STATUSES:
            raise JournalError(f"unknown job status {value!r}; known: {', '.join(JOB_STATUSES)}")
        return value
    if name == "request":
        return dump_json(digest_data_urls(scrub(dict(value))), "request")
    if name == "tags":
        return dump_json(scrub(dict(value or {})), "tags")
    if name == "base_url":
        return clean_url(str(value))
    if name == "overwrite":
        return bool(value)
    if name == "error" and value is not None:
        return redact_text(str(value))[:_MAX_ERROR_CHARS]
    if name == "output_path" and value is not None:
        return os.fspath(value)
    return value


def set_clause(fields: Mapping[str, Any], now: float, mark: str) -> tuple[str, list[Any]]:
    """The `SET` list and its parameters for an update of `fields` (`mark`: the driver's
    placeholder, `?` or `%s`): the fields encoded, `updated_at`, and the stamp of a status
    reached for the first time.

    Raises:
        TypeError: a field name is not an updatable `JournalEntry` field.
    """
    unknown = set(fields) - UPDATABLE
    if unknown:
        raise TypeError(f"Journal.update() got unknown field(s): {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {k: encode_field(k, v) for k, v in fields.items()}
    values.setdefault("updated_at", now)
    assignments = [f"{name} = {mark}" for name in values]
    params: list[Any] = list(values.values())
    status = fields.get("status")
    if status is not None:
        stamp = STATUS_STAMPS.get(status)
        if stamp is not None and stamp not in fields:
            assignments.append(f"{stamp} = COALESCE({stamp}, {mark})")
            params.append(now)
    return ", ".join(assignments), params
