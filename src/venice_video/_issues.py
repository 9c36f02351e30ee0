"""`Issue`, one problem with a request, in the shape of the API's `issues[]` items.

Shared by the checks of `_validation` (client side and local server), by the errors the SDK
raises, and by the 400 bodies the local server sends.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Issue", "PathItem", "error_body", "quote_value"]

PathItem = str | int


@dataclass(frozen=True)
class Issue:
    """One problem with a request: where it is, what is wrong, and what would be accepted."""

    path: tuple[PathItem, ...]
    message: str
    code: str = "custom"
    received: Any = None
    allowed: tuple[Any, ...] = ()
    suggestion: Any = None
    expected: str | None = field(default=None)
    #: For `unrecognized_keys`: the keys refused.
    keys: tuple[str, ...] = ()

    @property
    def field(self) -> str:
        """The dotted path of the offending field, e.g. `elements.0.video_url`."""
        return ".".join(str(p) for p in self.path)

    def __str__(self) -> str:
        text = f"{self.field or 'request'}: {self.message}"
        if self.suggestion is not None:
            text += f" (did you mean {self.suggestion!r}?)"
        return text

    def to_wire(self) -> dict[str, Any]:
        """The issue as the API's `issues[]` item."""
        wire: dict[str, Any] = {"code": self.code, "path": list(self.path), "message": self.message}
        if self.expected is not None:
            wire["expected"] = self.expected
        elif self.allowed:
            wire["expected"] = " | ".join(quote_value(a) for a in self.allowed)
        if self.received is not None:
            wire["received"] = (
                self.received if _is_scalar(self.received) else type(self.received).__name__
            )
        if self.allowed:
            wire["options"] = list(self.allowed)
        if self.suggestion is not None:
            wire["suggestion"] = self.suggestion
        if self.keys:
            wire["keys"] = list(self.keys)
        return wire

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> Issue:
        """Rebuild an issue from an API `issues[]` item (any shape, best effort)."""
        raw_path = wire.get("path") or ()
        path = tuple(p if isinstance(p, int) else str(p) for p in raw_path)
        options = wire.get("options")
        if not options and isinstance(wire.get("expected"), str) and "'" in wire["expected"]:
            options = re.findall(r"'([^']*)'", wire["expected"])
        return cls(
            path=path,
            message=str(wire.get("message") or wire.get("code") or "invalid"),
            code=str(wire.get("code") or "custom"),
            received=wire.get("received"),
            allowed=tuple(options or ()),
            suggestion=wire.get("suggestion"),
            expected=wire.get("expected") if isinstance(wire.get("expected"), str) else None,
            keys=tuple(str(k) for k in wire.get("keys") or ()),
        )


def error_body(issues: Sequence[Issue]) -> dict[str, Any]:
    """The 400 body the API sends for invalid parameters."""
    details: dict[str, Any] = {"_errors": []}
    for issue in issues:
        if not issue.path:
            details["_errors"].append(issue.message)
            continue
        node = details
        for part in issue.path:
            node = node.setdefault(str(part), {"_errors": []})
        node["_errors"].append(issue.message)
    return {
        "error": "Invalid request parameters",
        "details": details,
        "issues": [i.to_wire() for i in issues],
    }


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def quote_value(value: object) -> str:
    """`'5s'` for a string, `2` for a number, as the API's messages write values."""
    return f"'{value}'" if isinstance(value, str) else str(value)
