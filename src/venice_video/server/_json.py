"""Strict JSON in, bounded JSON out.

Request bodies are read as RFC 8259 JSON and nothing looser: Python's parser also takes `NaN`,
`Infinity` and numbers that overflow to infinity, and lets `\\ud800`-style escapes through as
lone surrogates, none of which a strict client can read back or a renderer can use. All of those
are refused here, before any handler looks at the body.

Error bodies are written with a bound: they often repeat what the client sent (an unknown model
id, an invalid value), and without a bound a large value comes back several times over. Strings
in an error body are cut to a short prefix, long lists and objects are shortened, and the whole
body is kept under `MAX_ERROR_BODY` bytes.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Final

__all__ = ["MAX_ECHO_CHARS", "MAX_ERROR_BODY", "StrictJSONError", "dumps", "dumps_error", "loads"]

#: The longest string an error body carries; longer ones are cut and marked.
MAX_ECHO_CHARS: Final = 512
#: An error body never reaches this many bytes.
MAX_ERROR_BODY: Final = 32 * 1024
#: Items kept from a list, and entries from an object, in an error body.
_MAX_ITEMS: Final = 50
_MAX_DEPTH: Final = 8
#: A `\uD800`-`\uDFFF` escape: the only way a surrogate reaches a string once the bytes are
#: known to be valid UTF-8.
_SURROGATE_ESCAPE: Final = re.compile(rb"\\u[dD][89abcdefABCDEF]")
_SURROGATE: Final = re.compile("[\ud800-\udfff]")


class StrictJSONError(ValueError):
    """The body is JSON only to a lenient parser; the message says what is wrong."""


def _constant(name: str) -> Any:
    raise StrictJSONError(f"{name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise StrictJSONError(f"the number {_cut(text, 40)} is too large")
    return value


def _int(text: str) -> int:
    # Past the double range a number means nothing to any client (and Python refuses to turn
    # it into a float later on); 309 digits is where that range ends.
    if len(text.lstrip("-")) > 308:
        raise StrictJSONError(f"the number {_cut(text, 40)} is too large")
    return int(text)


_DECODER: Final = json.JSONDecoder(parse_constant=_constant, parse_float=_float, parse_int=_int)


def loads(raw: bytes) -> Any:
    """Parse a request body as strict JSON.

    Raises:
        UnicodeDecodeError: the bytes are not UTF-8 (encoded surrogates included).
        StrictJSONError: `NaN`, `Infinity`, a number out of the double range, or a string or
            key holding a lone surrogate.
        ValueError: any other JSON syntax error (json.JSONDecodeError).
        RecursionError: nesting deeper than the parser can follow.
    """
    value = _DECODER.decode(raw.decode("utf-8"))
    if _SURROGATE_ESCAPE.search(raw) is not None:
        _refuse_surrogates(value)
    return value


def _refuse_surrogates(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item) is not None:
                raise StrictJSONError(
                    "a string holds a lone surrogate escape (\\ud800-\\udfff), which is not a "
                    "Unicode character"
                )
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON; anything not representable in strict JSON is a bug (ValueError)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8", "replace"
    )


def dumps_error(obj: Any) -> bytes:
    """An error body: strict JSON, every string short, the whole under `MAX_ERROR_BODY` bytes."""
    for chars, items in ((MAX_ECHO_CHARS, _MAX_ITEMS), (120, 8)):
        body = dumps(_bounded(obj, chars, items, 0))
        if len(body) < MAX_ERROR_BODY:
            return body
    message = obj.get("error") if isinstance(obj, dict) else None
    fallback: dict[str, Any] = {"error": message if isinstance(message, str) else "Error"}
    if isinstance(obj, dict) and isinstance(obj.get("code"), str):
        fallback["code"] = obj["code"]
    return dumps(_bounded(fallback, 80, 5, 0))


def _bounded(value: Any, chars: int, items: int, depth: int) -> Any:
    if isinstance(value, str):
        return _cut(value, chars)
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if depth >= _MAX_DEPTH:
        return "..."
    if isinstance(value, dict):
        entries = list(value.items())
        result = {
            _cut(str(k), chars): _bounded(v, chars, items, depth + 1) for k, v in entries[:items]
        }
        if len(entries) > items:
            result["..."] = f"{len(entries) - items} more"
        return result
    if isinstance(value, list | tuple):
        kept = [_bounded(v, chars, items, depth + 1) for v in value[:items]]
        if len(value) > items:
            kept.append(f"... {len(value) - items} more")
        return kept
    return _cut(str(value), chars)


def _cut(text: str, chars: int) -> str:
    if len(text) > chars:
        text = f"{text[:chars]}... ({len(text):,} characters)"
    if _SURROGATE.search(text) is not None:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text
