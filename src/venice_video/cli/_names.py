"""The names a user typed: CLI flags and batch keys for the API's field names.

The SDK reports problems by the API's field names (`image_url`, `audio_url`, ...). A person
at the command line typed `--image` or `--audio-file`, and a batch row has `image` or
`audio_file`; errors are told in those words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["as_flag", "as_row_key", "issue_text", "rename"]

# API field -> (CLI flag, batch row key)
_NAMES: dict[str, tuple[str, str]] = {
    "prompt": ("PROMPT", "prompt"),
    "model": ("--model", "model"),
    "duration": ("--duration", "duration"),
    "aspect_ratio": ("--aspect", "aspect"),
    "resolution": ("--resolution", "resolution"),
    "audio": ("--audio/--no-audio", "audio"),
    "negative_prompt": ("--negative", "negative"),
    "image_url": ("--image", "image"),
    "image": ("--image", "image"),
    "end_image_url": ("--end-image", "end_image"),
    "end_image": ("--end-image", "end_image"),
    "audio_url": ("--audio-file", "audio_file"),
    "audio_input": ("--audio-file", "audio_file"),
    "video_url": ("--video", "video"),
    "video": ("--video", "video"),
    "reference_image_urls": ("--ref", "refs"),
    "reference_images": ("--ref", "refs"),
    "elements": ("--element", "elements"),
    "scene_image_urls": ("--scene", "scenes"),
    "scene_images": ("--scene", "scenes"),
    "upscale_factor": ("--upscale", "upscale"),
}
_WIRE = sorted((k for k in _NAMES if k.endswith(("_url", "_urls"))), key=len, reverse=True)
_WIRE_WORDS = re.compile(r"\b(" + "|".join(_WIRE) + r")\b")
# On the command line an input is a file or a URL; data: URLs are the SDK's business.
_PHRASES = (
    ("(an http(s) or data: URL)", "(a file or an http(s) URL)"),
    ("(and is not an http(s) or data: URL)", "(and is not an http(s) URL)"),
)


def _name(field: str, index: int) -> str:
    head, _, rest = field.partition(".")
    names = _NAMES.get(head)
    if names is None:
        return field
    name = names[index]
    number = rest.split(".", 1)[0] if rest else ""
    return f"{name} #{int(number) + 1}" if number.isdigit() else name


def as_flag(field: str) -> str:
    """The CLI flag for an API field (`image_url` -> `--image`, `elements.1` -> `--element #2`)."""
    return _name(field, 0)


def as_row_key(field: str) -> str:
    """The batch row key for an API field (`image_url` -> `image`)."""
    return _name(field, 1)


def rename(text: str, name: Callable[[str], str]) -> str:
    """`text` with the API's field names replaced by the user's, and no talk of data: URLs."""
    for old, new in _PHRASES:
        text = text.replace(old, new)
    return _WIRE_WORDS.sub(lambda m: name(m.group(1)), text)


def issue_text(issue: Any, name: Callable[[str], str]) -> str:
    """One validation issue in the user's words: `--duration: ...; allowed: ...`."""
    where = name(issue.field) if issue.field else "request"
    message = rename(str(issue.message), name)
    if message == "Required":
        message = "missing"
    elif message.startswith("Required"):
        message = "missing" + message[len("Required") :]
    received = issue.received
    if received is not None and received != "undefined" and repr(received) not in message:
        message += f"; got {_short(received)}"
    if issue.allowed and "allowed" not in message.lower() and "accepts" not in message:
        shown = ", ".join(repr(a) for a in issue.allowed[:20])
        more = f", ... ({len(issue.allowed)} in all)" if len(issue.allowed) > 20 else ""
        message += f"; allowed: {shown}{more}"
    if issue.suggestion is not None:
        message += f"; did you mean {issue.suggestion!r}?"
    return f"{where}: {message}"


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
