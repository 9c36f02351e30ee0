"""Journal entries as the page shows them: states, filters, sorting, spend, and safe text.

Everything here is pure: it takes journal entries and what the runner knows, and returns
plain JSON-ready dicts. The download URL of a job is never put in a view.
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from .._models import Progress
from .._types import STAGE_OF_STATUS, STAGES
from .._urls import clean_url
from ..journal import JournalEntry, spent

__all__ = [
    "SORTS",
    "STATES",
    "Filter",
    "api_label",
    "clean_url",
    "filter_entries",
    "is_loopback_url",
    "progress_fraction",
    "public_request",
    "scrub",
    "spend_of",
    "state_of",
    "story_of",
    "without_story_shots",
]

#: The states a job passes through, as the page names them (and filters on them).
STATES = STAGES
_STATE_OF_STATUS = STAGE_OF_STATUS
#: Sort orders the list endpoint takes.
SORTS: tuple[str, ...] = ("newest", "oldest", "cost-desc", "cost-asc")
_QUERY = re.compile(r"(https?://[^\s?#'\"<>]+)\?[^\s'\"<>]*")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[^\s'\",;]+")
_LONG_DATA_URL = 96
_YES = frozenset({"1", "true", "yes", "on"})
_NO = frozenset({"", "0", "false", "no", "off"})


def state_of(status: str) -> str:
    """The page's state for a journal status."""
    return _STATE_OF_STATUS.get(status, "unknown")


def story_of(entry: JournalEntry) -> str | None:
    """The id of the story a job is a shot of (its `story` tag), or `None` for a plain job."""
    story = entry.tags.get("story")
    return story if isinstance(story, str) and story else None


def scrub(text: str | None, secrets: Iterable[str | None] = ()) -> str | None:
    """Text safe to show: known secrets, URL query strings and Bearer tokens removed.

    Pre-signed download links carry their credentials in the query string.
    """
    if text is None:
        return None
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[download URL]")
    text = _QUERY.sub(r"\1?[redacted]", text)
    return _BEARER.sub(r"\1 [redacted]", text)


def is_loopback_url(url: str) -> bool:
    """Whether the URL's host is this machine (a local engine or local server)."""
    try:
        host = httpx.URL(url).host
    except (httpx.InvalidURL, TypeError):
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def api_label(url: str) -> str:
    """A short name for the API a job was sent to."""
    if is_loopback_url(url):
        return "local engine"
    try:
        return httpx.URL(url).host or url
    except (httpx.InvalidURL, TypeError):
        return url


def public_request(request: Mapping[str, Any]) -> dict[str, Any]:
    """A job's request for display: long inline data shortened, nothing else changed.

    The journal already replaces large `data:` URLs by digests; small ones are shortened here
    so the page stays readable.
    """

    def shorten(value: Any) -> Any:
        if isinstance(value, str):
            if value[:5].lower() == "data:" and len(value) > _LONG_DATA_URL and "base64," in value:
                header = value.split(",", 1)[0]
                return f"{header},... ({len(value)} characters)"
            return scrub(value)
        if isinstance(value, Mapping):
            return {str(k): shorten(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [shorten(v) for v in value]
        return value

    result: dict[str, Any] = shorten(dict(request))
    return result


def progress_fraction(entry: JournalEntry, live: Progress | None) -> float:
    """How far a job is, from 0 to 1, from the server's own timing estimate."""
    if entry.status in ("DOWNLOADED", "COMPLETED"):
        return 1.0
    if entry.status in ("QUOTED", "QUEUING"):
        return 0.0
    if live is not None and live.phase == "downloading":
        if live.bytes_total:
            return round(0.95 + 0.05 * min(live.bytes_done / live.bytes_total, 1.0), 3)
        return 0.95
    if entry.status == "READY":
        return 0.95
    average = live.average_execution_ms if live is not None else entry.average_execution_ms
    execution = live.execution_ms if live is not None else entry.execution_ms
    if average and execution is not None and average > 0:
        return round(min(max(execution / average, 0.0), 0.94), 3)
    return 0.0


@dataclass(frozen=True)
class Filter:
    """What the gallery shows: a model, a state and words to find, in one order; and whether
    the shots of stories are listed too (by default each story is one card of its own)."""

    model: str | None = None
    state: str | None = None
    text: str | None = None
    sort: str = "newest"
    stories: bool = False

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> Filter:
        """From the list endpoint's query string; unknown values are errors."""
        state = params.get("state") or None
        if state is not None and state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)}")
        sort = params.get("sort") or "newest"
        if sort not in SORTS:
            raise ValueError(f"sort must be one of {', '.join(SORTS)}")
        text = (params.get("q") or "").strip() or None
        stories = (params.get("stories") or "").strip().lower()
        if stories not in _YES | _NO:
            raise ValueError("stories must be 1 or 0")
        return cls(
            model=params.get("model") or None,
            state=state,
            text=text,
            sort=sort,
            stories=stories in _YES,
        )


def _haystack(entry: JournalEntry) -> str:
    request = entry.request
    parts = [
        entry.key,
        entry.queue_id or "",
        entry.model,
        str(request.get("prompt") or ""),
        str(request.get("negative_prompt") or ""),
        entry.output_path or "",
        " ".join(f"{k} {v}" for k, v in entry.tags.items()),
    ]
    return "\n".join(parts).lower()


def filter_entries(
    entries: Sequence[JournalEntry], flt: Filter, *, keep: Collection[str] = ()
) -> list[JournalEntry]:
    """The entries that match the filter, in its order.

    Shots of a story are left out unless the filter asks for them, but for those whose key is
    in `keep` (they need the user: see `_story_index.attention`).
    """
    found = list(entries)
    if not flt.stories:
        found = without_story_shots(found, keep)
    if flt.model is not None:
        found = [e for e in found if e.model == flt.model]
    if flt.state is not None:
        found = [e for e in found if state_of(e.status) == flt.state]
    if flt.text is not None:
        words = flt.text.lower().split()
        found = [e for e in found if all(w in _haystack(e) for w in words)]
    by_date: Callable[[JournalEntry], Any] = lambda e: (e.created_at, e.key)  # noqa: E731
    if flt.sort == "newest":
        found.sort(key=by_date, reverse=True)
    elif flt.sort == "oldest":
        found.sort(key=by_date)
    else:
        # Jobs with no quote go last either way.
        priced = [e for e in found if e.quote_usd is not None]
        unpriced = [e for e in found if e.quote_usd is None]
        priced.sort(
            key=lambda e: (e.quote_usd or 0.0, e.created_at), reverse=flt.sort == "cost-desc"
        )
        unpriced.sort(key=by_date, reverse=True)
        found = priced + unpriced
    return found


def without_story_shots(
    entries: Iterable[JournalEntry], keep: Collection[str] = ()
) -> list[JournalEntry]:
    """The entries that are not shots of a story, and the shots whose key is in `keep`."""
    return [e for e in entries if e.key in keep or story_of(e) is None]


def spend_of(entries: Iterable[JournalEntry], *, local: bool = False) -> float:
    """What these jobs cost, counted as `Journal.total_spent` counts: queued jobs' quotes.

    Real spending only, unless `local`: then only the local engine's, which is not money.
    """
    return spent(entries, local=local)


def elapsed_s(entry: JournalEntry, now: float | None = None) -> float | None:
    """Seconds since the job was queued, or from queueing to its file, once saved."""
    if entry.queued_at is None:
        return None
    end = entry.downloaded_at or (time.time() if now is None else now)
    return round(max(0.0, end - entry.queued_at), 1)
