"""Defaults: where the API is, how long to wait, how hard to retry.

Every number here can be overridden per client; see `VeniceVideo`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

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

    Intervals are in *server* seconds: the client measures how fast the server's clock runs
    (`execution_duration` against its own monotonic clock) and converts, so a test server
    running 100x fast is paced like the real one. Against the real API the two are equal.

    Far from the server's estimate the client sleeps `approach_fraction` of the time left;
    from `prior_window` of it, and after it, it polls every `near_interval` (or
    `near_fraction` of the estimate, if longer). Once a few jobs of a model have finished
    (`min_samples`), it knows how early before the estimate they really finish, sleeps
    straight to just before that, and polls closely from there.

    Attributes:
        min_interval: the shortest pause between polls.
        max_interval: the longest pause between polls.
        approach_fraction: far from the estimate, sleep this fraction of the time left.
        near_interval: the pause close to the estimate ...
        near_fraction: ... or this fraction of the estimate, if longer.
        overdue_growth: after the estimate, the pause grows by this much per overdue second.
        prior_window: until then, close polling starts at this fraction of the estimate.
        min_samples: finished jobs of a model needed before their finish times are used.
        window_ratio_max: close polling starts at most this late, as a fraction of the
            estimate.
        probe_interval: the pause before the second poll when the clock rate is unknown.
        jitter: pauses are multiplied by a random factor in `[1 - jitter, 1 + jitter]`.
        min_real_interval: a floor in real seconds, whatever the server's speed.
        max_rate: the fastest server clock believed, relative to real time.
        max_consecutive_server_errors: this many 500s in a row on retrieve mean the job failed.
    """

    min_interval: float = 1.0
    max_interval: float = 30.0
    approach_fraction: float = 0.5
    near_interval: float = 1.0
    near_fraction: float = 0.015
    overdue_growth: float = 0.1
    prior_window: float = 0.9
    min_samples: int = 3
    window_ratio_max: float = 0.95
    probe_interval: float = 0.5
    jitter: float = 0.1
    min_real_interval: float = 0.005
    max_rate: float = 1000.0
    max_consecutive_server_errors: int = 10


@dataclass(frozen=True)
class RateLimitPolicy:
    """Client-side pacing shared by every job of one client.

    The API blocks a caller for 30 s after more than 20 failed requests in 30 s, so the
    client holds back new requests while failures (and requests still in flight, which may
    fail) would cross `max_failures` within `failure_window`. `x-ratelimit-*` headers pace
    requests as the quota runs low.

    Attributes:
        max_failures: failed requests allowed in the window; `None` turns the guard off.
        failure_window: the window, in seconds.
        reserve: keep this many requests of the quota unused until it resets.
        max_wait: the longest a server-directed pause (`Retry-After`, a quota reset) holds
            back requests, in seconds.
    """

    max_failures: int | None = 15
    failure_window: float = 30.0
    reserve: int = 1
    max_wait: float = 120.0


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
