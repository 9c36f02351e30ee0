"""The gallery's JSON answers to a request it refuses, and the numbers it reads from one."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from starlette.responses import JSONResponse

from .._exceptions import (
    APIConnectionError,
    APIStatusError,
    QueueOutcomeUnknownError,
    SpendLimitError,
    ValidationError,
    VeniceVideoError,
)
from ._form import issue_view
from ._views import scrub

__all__ = ["json_error", "sdk_error_json", "usd_value"]


def json_error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def sdk_error_json(exc: VeniceVideoError, hide: Iterable[str | None] = ()) -> JSONResponse:
    """An SDK error as an answer the page shows as it is."""
    message = scrub(str(exc), hide) or type(exc).__name__
    if isinstance(exc, ValidationError):
        return json_error(422, message, issues=[issue_view(i) for i in exc.issues])
    if isinstance(exc, SpendLimitError):
        return json_error(409, message, kind="spend_limit")
    if isinstance(exc, QueueOutcomeUnknownError):
        return json_error(502, message, kind="outcome_unknown")
    if isinstance(exc, APIStatusError):
        status = exc.status_code if 400 <= exc.status_code < 500 else 502
        return json_error(status, message, kind="api")
    if isinstance(exc, APIConnectionError):
        return json_error(502, message, kind="connection")
    return json_error(400, message, kind="error")


def usd_value(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None
