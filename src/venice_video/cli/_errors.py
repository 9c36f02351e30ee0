"""Errors as the CLI reports them: one line, one exit code per family."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

from .. import _exceptions as exc
from ._names import as_flag, issue_text, rename

__all__ = ["EXIT_CODES", "CLIError", "describe", "exit_code_for"]

#: One exit code per family of failure, documented in docs/cli.md.
EXIT_CODES: dict[str, int] = {
    "ok": 0,
    "error": 1,
    "usage": 2,
    "validation": 3,
    "auth": 4,
    "money": 5,
    "content_policy": 6,
    "server": 7,
    "timeout": 8,
    "job_failed": 9,
    "outcome_unknown": 10,
    "interrupted": 130,
}


@dataclass
class CLIError(Exception):
    """A failure the CLI reports itself (bad file, declined quote, ...)."""

    message: str
    family: str = "error"
    hint: str | None = None


def _family(error: BaseException) -> str:
    table: list[tuple[type[BaseException] | tuple[type[BaseException], ...], str]] = [
        (CLIError, ""),
        (exc.OutputError, "usage"),
        (exc.MissingAPIKeyError, "auth"),
        (
            (exc.ValidationError, exc.InputError, exc.BadRequestError, exc.PayloadTooLargeError),
            "validation",
        ),
        ((exc.AuthenticationError, exc.PermissionDeniedError), "auth"),
        ((exc.SpendLimitError, exc.PaymentRequiredError), "money"),
        ((exc.ContentPolicyError, exc.ConsentRequiredError), "content_policy"),
        ((exc.JobTimeoutError, exc.APITimeoutError), "timeout"),
        (exc.QueueOutcomeUnknownError, "outcome_unknown"),
        ((exc.JobFailedError, exc.DownloadVerificationError), "job_failed"),
        ((exc.APIError, exc.DownloadError), "server"),
        (KeyboardInterrupt, "interrupted"),
    ]
    for kinds, family in table:
        if isinstance(error, kinds):
            return error.family if isinstance(error, CLIError) else family
    return "error"


def exit_code_for(error: BaseException) -> int:
    return EXIT_CODES[_family(error)]


_HINTS: dict[str, str] = {
    "auth": "check VENICE_API_KEY (or unset it to use the local engine)",
    "money": "raise --max-cost, or top up the account",
    "content_policy": "rephrase the prompt",
    "server": "try again later; free calls are already retried",
    "timeout": "the job is in the journal: `venice-video jobs resume` picks it up",
    "outcome_unknown": "check `venice-video jobs` before queueing again",
    "validation": "see `venice-video models` for what each model accepts",
}


def _message(error: BaseException) -> str:
    """The error in the words of the command line (its flags, not the API's field names)."""
    issues = getattr(error, "issues", None)
    if isinstance(error, exc.ValidationError) and issues:
        lines = [issue_text(i, as_flag) for i in issues]
        if len(lines) == 1:
            return lines[0]
        return f"{len(lines)} problems with the request:\n  " + "\n  ".join(lines)
    message = str(error) or type(error).__name__
    if isinstance(error, exc.InputError) and not _story_error(error):
        # (A story's problems already name its file, line and shot in the file's own words.)
        field, sep, rest = message.partition(": ")
        if sep and " " not in field:
            message = f"{as_flag(field)}: {rest}"
        return rename(message, as_flag)
    return message


def _story_error(error: BaseException) -> bool:
    # Imported only when there is an error to describe: most commands never load stories.
    from ..story import StoryBudgetError, StoryError

    return isinstance(error, StoryError | StoryBudgetError)


def _hint(error: BaseException, family: str) -> str | None:
    if isinstance(error, CLIError):
        return error.hint
    if _story_error(error):
        if isinstance(error, exc.SpendLimitError):
            return "raise the story's budget, or make its shots cheaper (`story quote FILE`)"
        return "fix each line named above; docs/stories.md describes the story file"
    if isinstance(error, exc.ContentPolicyError) and error.suggested_prompt:
        return f"try: {error.suggested_prompt!r}"
    if isinstance(error, exc.OutputExistsError):
        if error.downloaded:
            return "`venice-video download ID -o OTHER` saves it elsewhere"
        return "pass --overwrite to replace it, or choose another -o"
    if isinstance(error, exc.OutputInUseError):
        if error.job:
            return f"`venice-video jobs resume` finishes job {error.job}; or choose another -o"
        return "choose another -o, or wait for the other run to finish"
    if isinstance(error, exc.MissingAPIKeyError):
        return "set VENICE_API_KEY, or unset VENICE_BASE_URL to use the local engine"
    if isinstance(error, exc.InputError):
        return "inputs are local files or http(s) URLs"
    issues = getattr(error, "issues", None) or ()
    if any(i.field == "model" for i in issues):
        return "`venice-video models` lists the model ids and what each accepts"
    return _HINTS.get(family)


def describe(error: BaseException) -> dict[str, Any]:
    """What failed, why, and what to do, as plain data."""
    family = _family(error)
    message = _message(error)
    hint = _hint(error, family)
    info: dict[str, Any] = {
        "error": message,
        "kind": type(error).__name__,
        "family": family,
        "exit_code": EXIT_CODES[family],
    }
    if hint:
        info["hint"] = hint
    issues = getattr(error, "issues", None)
    if issues:
        info["issues"] = [
            {
                "field": i.field,
                "flag": as_flag(i.field) if i.field else None,
                "message": i.message,
                "allowed": list(i.allowed),
                "suggestion": i.suggestion,
            }
            for i in issues
        ]
    for attr in ("request_id", "status_code", "job_id", "idempotency_key", "quote_usd"):
        value = getattr(error, attr, None)
        if value is not None:
            info[attr] = value
    return info


def report(error: BaseException, *, as_json: bool) -> int:
    """Print the error (one line, or JSON) on stderr and return the exit code."""
    info = describe(error)
    if as_json:
        print(json.dumps(info), file=sys.stderr)
    else:
        text = f"error: {info['error']}"
        if "hint" in info:
            multiline = "\n" in text or len(text) + len(info["hint"]) > 100
            text += f"\nhint: {info['hint']}" if multiline else f" ({info['hint']})"
        print(text, file=sys.stderr)
    return int(info["exit_code"])
