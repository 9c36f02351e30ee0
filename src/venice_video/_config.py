"""Defaults: where the API is, how long to wait, how hard to retry.

Every number here can be overridden per client; see `VeniceVideo`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal

import httpx

from ._env import (
    API_KEY_ENV,
    BASE_URL_ENV,
    CACHE_DIR_ENV,
    CONFIG_ENV,
    JOURNAL_ENV,
    LOCAL_PORT_ENV,
    LOCAL_SPEED_ENV,
    MAX_COST_ENV,
    MODEL_ENV,
    OUTPUT_DIR_ENV,
    TRUST_IDEMPOTENCY_ENV,
)

if TYPE_CHECKING:
    from ._schedule import BucketStore

__all__ = [
    "API_KEY_ENV",
    "AUDIO_MAX_BYTES",
    "AUDIO_MAX_SECONDS",
    "BASE_URL_ENV",
    "CACHE_DIR_ENV",
    "CONFIG_ENV",
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "DEFAULT_WAIT_TIMEOUT",
    "DOWNLOAD_CHUNK_BYTES",
    "IMAGE_BUDGET_BYTES",
    "JOURNAL_ENV",
    "LOCAL_PORT_ENV",
    "LOCAL_SPEED_ENV",
    "LOCAL_ENGINE_API_PREFIX",
    "MAX_BODY_BYTES",
    "MAX_COST_ENV",
    "MODEL_CACHE_TTL",
    "MODEL_ENV",
    "OUTPUT_DIR_ENV",
    "TRUST_IDEMPOTENCY_ENV",
    "Cleanup",
    "PollPolicy",
    "RateLimitPolicy",
    "RetryPolicy",
    "api_id_of",
    "is_local_engine_api",
    "is_real_api",
]

DEFAULT_BASE_URL: Final = "https://api.venice.ai/api/v1"

#: The API id of the embedded local engine is this prefix and its data folder.
LOCAL_ENGINE_API_PREFIX: Final = "local-engine:"

#: Per HTTP request. A queue body may carry 35 MB of inline media, hence the long write.
DEFAULT_TIMEOUT: Final = httpx.Timeout(60.0, connect=10.0, write=120.0)
#: How long `wait()` and `generate()` wait for a job before `JobTimeoutError` (monotonic).
DEFAULT_WAIT_TIMEOUT: Final = 3600.0

#: The queue accepts JSON bodies up to 35 MB (Seedance guide).
MAX_BODY_BYTES: Final = 35_000_000
#: `audio_url`: WAV or MP3, at most 30 s and 15 MB.
AUDIO_MAX_SECONDS: Final = 30.0
AUDIO_MAX_BYTES: Final = 15_000_000
#: Local images bigger than this (raw bytes) are shrunk before they are inlined.
IMAGE_BUDGET_BYTES: Final = 7_000_000
DOWNLOAD_CHUNK_BYTES: Final = 1 << 20
MODEL_CACHE_TTL: Final = 24 * 3600.0

#: What to do with the server's copy once the file is safely on disk.
#: `"auto"`: `/video/complete` for inline jobs; for `download_url` jobs, complete and on a
#: 400 (the API does not know such jobs there) `DELETE` the URL instead.
Cleanup = Literal["auto", "complete", "delete_url", "both", "none"]


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of free, idempotent calls (quote, retrieve, complete, models, transcriptions).

    Attributes:
        max_attempts: tries in all, the first included.
        initial_delay: the first backoff, in seconds; it doubles each time.
        max_delay: the longest backoff.
        jitter: each delay is multiplied by a random factor in `[1 - jitter, 1 + jitter]`.
        max_retry_after: a server's `Retry-After` is honoured up to this many seconds.
        retry_statuses: the statuses worth another try.
    """

    max_attempts: int = 5
    initial_delay: float = 0.5
    max_delay: float = 30.0
    jitter: float = 0.25
    max_retry_after: float = 120.0
    retry_statuses: frozenset[int] = field(default=frozenset({429, 500, 502, 503, 504}))


@dataclass(frozen=True)
class PollPolicy:
    """How `wait()` paces `/video/retrieve`.

    Times are in *server* seconds: the client measures how fast the server's clock runs
    (`execution_duration` against its own monotonic clock) and converts, so a test server
    running 100x fast is paced like the real one. Against the real API the two are equal.

    The client forecasts when a job will finish: from the finish times of recent jobs of the
    same kind (model, duration, resolution, audio) once `min_samples` of them are known (in
    this client, or saved by earlier ones for `remember_for`), else from the server's
    estimate (`average_execution_time`, a P80), between `prior_low` and `prior_high` times
    it. It sleeps until the forecast window opens, then polls every
    `target_lag` seconds (a little less, so the window is divided evenly) until it closes,
    and after that ever more slowly.

    `target_lag` is the knob: a job that becomes ready inside the window waits at most that
    long for its download, and the number of polls falls as it grows (about one poll per
    `target_lag` seconds of the window the job actually uses).

    Attributes:
        target_lag: the longest a ready job should wait to be noticed, in seconds; the spacing
            of polls while a job may finish.
        min_interval: the shortest pause between polls.
        max_interval: the longest pause between polls once a job is overdue.
        overdue_growth: past the forecast window, the pause grows by this much per second.
        prior_low: with nothing learned, polling closely starts at this fraction of the
            server's estimate ...
        prior_high: ... and the window closes at this fraction of it.
        approach_fraction: before a window that was not learned, sleep this fraction of the
            time left to it, so a job far quicker than the estimate is not missed for long.
        min_samples: finished jobs of a kind needed before their finish times are used.
        keep: the recent finish times kept per kind.
        remember_for: seconds the finish times a client learned are kept in its cache
            directory for the clients after it (each CLI command, each new process); 0
            keeps them in this client only.
        probe_interval: the pause before the second poll when the clock rate is unknown.
        jitter: overdue pauses are multiplied by a random factor in `[1 - jitter, 1 + jitter]`,
            and sleeps before a window are shortened by up to that fraction.
        min_real_interval: a floor in real seconds, whatever the server's speed.
        max_rate: the fastest server clock believed, relative to real time.
        max_consecutive_server_errors: this many 500s in a row on retrieve mean the job failed.
    """

    target_lag: float = 2.0
    min_interval: float = 0.5
    max_interval: float = 30.0
    overdue_growth: float = 0.1
    prior_low: float = 0.6
    prior_high: float = 1.3
    approach_fraction: float = 0.5
    min_samples: int = 3
    keep: int = 30
    remember_for: float = 7 * 86400.0
    probe_interval: float = 0.5
    jitter: float = 0.1
    min_real_interval: float = 0.005
    max_rate: float = 1000.0
    max_consecutive_server_errors: int = 10


@dataclass(frozen=True)
class RateLimitPolicy:
    """Client-side pacing shared by every job of one client.

    The API allows a key about `retrieves_per_minute` retrieves and `queues_per_minute`
    queue requests a minute; the client never sends more than that in any minute (fewer
    when `x-ratelimit-*` headers or a `429` say so), and when jobs compete for retrieves it
    gives them to the jobs most likely to be ready. The API also blocks a caller for 30 s
    after more than 20 failed requests in 30 s, so the client holds back new requests while
    failures (and requests still in flight, which may fail) would cross `max_failures`
    within `failure_window`.

    Attributes:
        retrieves_per_minute: the key's retrieve budget; `None` for no client-side budget
            (the server's headers still pace it).
        queues_per_minute: the key's queue budget; `None` likewise.
        retrieve_burst: retrieves that may go out at once; the rest of the budget is spread
            evenly over the minute.
        max_failures: failed requests allowed in the window; `None` turns the guard off.
        failure_window: the window, in seconds.
        reserve: keep this many requests of a quota unused until it resets.
        max_wait: the longest a server-directed pause (`Retry-After`, a quota reset) holds
            back requests, in seconds.
        store: where budgets are kept (a `BucketStore`): `None` for this client alone; pass
            one store to several clients (or a shared one, for several machines) so that
            they share one key's budget.
    """

    retrieves_per_minute: int | None = 120
    queues_per_minute: int | None = 40
    retrieve_burst: int = 10
    max_failures: int | None = 15
    failure_window: float = 30.0
    reserve: int = 1
    max_wait: float = 120.0
    store: BucketStore | None = field(default=None, compare=False, repr=False)


def api_id_of(url: str) -> str:
    """The API id of a base URL: the URL without credentials, query, fragment or final `/`.

    Journal entries are matched to a client by API id, so a job is only resumed against the
    API it was queued with.
    """
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return url.rstrip("/")
    return str(parsed.copy_with(query=None, fragment=None, userinfo=b"")).rstrip("/")


def is_real_api(url: str) -> bool:
    """Whether `url` is on the hosted Venice API (which needs an API key)."""
    try:
        return httpx.URL(url).host == httpx.URL(DEFAULT_BASE_URL).host
    except (httpx.InvalidURL, TypeError):
        return False


def is_local_engine_api(api_id: str | None) -> bool:
    """Whether an API id is the embedded local engine's (whose spending is not money)."""
    return bool(api_id) and str(api_id).startswith(LOCAL_ENGINE_API_PREFIX)


# Reprs and tracebacks say `venice_video.X`, the public name, not this private module.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = "venice_video"
del _name, _obj
