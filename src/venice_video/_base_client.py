"""`BaseClient`: what both client twins share. Strictly private.

Configuration, the journal, request building and the one place requests are sent (through
the shared rate limiter, 4xx/5xx turned into typed errors). Every lifecycle decision is a
flow in its stage's module: `_endpoints` (the free calls and `prepare`), `_queueing` (the
paid step), `_waiting`, `_downloading` and `_lifecycle`; the rules of a flow are in
`_effects`. The twins, `VeniceVideo` (`_client`) and `AsyncVeniceVideo` (`_async_client`),
only drive flows: one calls, the other awaits.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, TypeVar

import httpx

from ._catalog import Catalog
from ._config import (
    API_KEY_ENV,
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    DEFAULT_TIMEOUT,
    Cleanup,
    PollPolicy,
    RateLimitPolicy,
    RetryPolicy,
    api_id_of,
    is_real_api,
)
from ._effects import (
    Flag,
    Flow,
    read_all,
    send,
    sleep,
)
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    AuthenticationError,
    JobNotFoundError,
    MissingAPIKeyError,
    make_status_error,
    parse_retry_after,
)
from ._forecast import CompletionStats
from ._logs import guard_httpx_log
from ._modelcache import LearnedTimes, ModelCache
from ._models import (
    Element,
    Keyframe,
    VideoJob,
)
from ._polling import RateLimiter, RequestLimiter, backoff_delay, should_retry
from ._quotes import DEFAULT_QUOTE_MAX_AGE, SharedQuotes
from ._types import JobStatus
from ._version import __version__

if TYPE_CHECKING:
    from .journal import JournalStore


logger = logging.getLogger("venice_video")

T = TypeVar("T")

JournalArg: TypeAlias = "JournalStore | str | os.PathLike[str] | bool | None"
ElementArg: TypeAlias = "Element | Mapping[str, Any]"
KeyframeArg: TypeAlias = "Keyframe | Mapping[str, Any]"

DEFAULT_STT_MODEL = "nvidia/parakeet-tdt-0.6b-v3"

__all__ = ["BaseClient", "ElementArg", "JournalArg", "KeyframeArg", "DEFAULT_STT_MODEL"]


class _Secret:
    """Holds the API key; its repr never shows it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<hidden>"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("an API key cannot be pickled")


# --------------------------------------------------------------------------- the pure part


class BaseClient:
    """What both twins share: configuration, request building, and every decision.

    Strictly private; use `VeniceVideo` or `AsyncVeniceVideo`.
    """

    _http: httpx.Client | httpx.AsyncClient
    #: Makes an event this twin's `Sleep` wakes on when it is set.
    _new_event: Callable[[], Flag]

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None,
        timeout: float | httpx.Timeout | None,
        wait_timeout: float,
        journal: JournalArg,
        cache_dir: str | os.PathLike[str] | Literal[False] | None,
        catalog: Catalog | None,
        retry: RetryPolicy,
        poll: PollPolicy,
        rate_limit: RateLimitPolicy,
        idempotent_queue_retries: bool,
        cleanup: Cleanup,
        verify_downloads: bool,
        validate_requests: bool,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
        rand: Callable[[], float] | None,
        api_id: str | None = None,
        quote_max_age: float = DEFAULT_QUOTE_MAX_AGE,
    ) -> None:
        guard_httpx_log()
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        self._api_key = _Secret(key) if key else None
        url = base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
        self.base_url = url.rstrip("/")
        #: The API the journal's entries are matched by (its URL may change; see `api_id`).
        self.api_id = api_id or api_id_of(self.base_url)
        # Parsed API paths, and the headers every request carries.
        self._parsed: dict[tuple[str, str], tuple[httpx.URL, bool]] = {}
        self._user_agent = f"venice-video/{__version__}"
        self._headers: dict[bool, httpx.Headers] = {}
        #: Whether `_http` was made here (set by each twin).
        self._owns_http = True
        # Called on close (the local engine this client started or joined).
        self._closers: list[Callable[[], None]] = []
        self.timeout = timeout if timeout is not None else DEFAULT_TIMEOUT
        self.wait_timeout = wait_timeout
        self.idempotent_queue_retries = idempotent_queue_retries
        self.cleanup: Cleanup = cleanup
        self.verify_downloads = verify_downloads
        self.validate_requests = validate_requests
        self._retry = retry
        self._poll = poll
        self._clock = clock
        self._wall = wall_clock
        self._rand = rand if rand is not None else random.random
        # The hosted API's clock is real time; a local server's is announced in its answers
        # (see `wait_flow`) and measured on its first job.
        self._stats = CompletionStats(
            rate=1.0 if is_real_api(self.base_url) else None, clock=wall_clock
        )
        self._limiter: RequestLimiter = RateLimiter(rate_limit, rate=lambda: self._stats.rate)
        self._quotes = SharedQuotes(quote_max_age)
        self._journal_arg = journal
        self._journal: JournalStore | None = None
        self._journal_owned = False
        self._journal_lock = threading.Lock()
        self._catalog = catalog
        self._catalog_fixed = catalog is not None
        self._catalog_lock = threading.Lock()
        self._catalog_flight: Flag | None = None
        self._model_cache = ModelCache(cache_dir) if cache_dir is not False else None
        #: Where the job times learned here are kept for the clients after this one.
        self._learned: LearnedTimes | None = None
        if self._model_cache is not None and poll.remember_for > 0:
            self._learned = LearnedTimes(
                self._model_cache.directory, self.api_id, max_age=poll.remember_for,
                keep=poll.keep, clock=wall_clock,
            )  # fmt: skip
            self._closers.append(functools.partial(self._learned.save, self._stats))
        # Monotonic time each job was queued in this process: the poller's first sample;
        # and what each job's times are learned under (its model, length, resolution).
        self._queued_mono: dict[str, float] = {}
        self._kinds: dict[str, str] = {}

    def __repr__(self) -> str:
        key = "set" if self._api_key is not None else "not set"
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key=<{key}>)"

    # ------------------------------------------------------------------ journal

    @property
    def journal(self) -> JournalStore | None:
        """The job journal, opened on first use; `None` when journaling is off."""
        if self._journal_arg is False:
            return None
        with self._journal_lock:
            if self._journal is None:
                from .journal import JournalStore, open_journal

                arg = self._journal_arg
                if isinstance(arg, JournalStore):
                    self._journal = arg
                else:
                    # A postgresql:// URL opens the shared journal; anything else is a file.
                    self._journal = open_journal(None if arg is None or arg is True else arg)
                    self._journal_owned = True
            return self._journal

    def _run_closers(self) -> None:
        while self._closers:
            self._closers.pop()()

    def _close_journal(self) -> None:
        with self._journal_lock:
            if self._journal is not None and self._journal_owned:
                self._journal.close()
                self._journal = None

    # ------------------------------------------------------------------ requests

    def _build(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        files: Any = None,
        data: Mapping[str, Any] | None = None,
        authenticated: bool = True,
    ) -> httpx.Request:
        url, real = self._url(path)
        if authenticated and self._api_key is None and real:
            raise MissingAPIKeyError(API_KEY_ENV)
        if (
            self._owns_http
            and headers is None
            and params is None
            and files is None
            and data is None
            and not self._http.cookies
        ):
            # What `build_request` would make, from headers merged once: the client made
            # here has no defaults of its own to merge in at each request but its timeout.
            return httpx.Request(
                method,
                url,
                headers=self._merged_headers(authenticated),
                json=json,
                extensions={"timeout": self._timeout_extension},
            )
        merged = self._own_headers(authenticated)
        merged.update(headers or {})
        request = self._http.build_request(
            method, url, json=json, params=params, headers=merged, files=files, data=data
        )
        if not authenticated:
            # A pre-signed URL must never see the key, even if the http client has defaults.
            request.headers.pop("authorization", None)
        return request

    def _own_headers(self, authenticated: bool) -> dict[str, str]:
        """The headers this client adds to the HTTP client's own."""
        own = {"User-Agent": self._user_agent}
        if authenticated and self._api_key is not None:
            own["Authorization"] = f"Bearer {self._api_key.get()}"
        return own

    def _merged_headers(self, authenticated: bool) -> httpx.Headers:
        """The HTTP client's headers with this client's own (made once; copied by each
        request)."""
        found = self._headers.get(authenticated)
        if found is None:
            found = httpx.Headers(self._http.headers)
            found.update(self._own_headers(authenticated))
            if not authenticated:
                found.pop("authorization", None)
            self._headers[authenticated] = found
        return found

    @functools.cached_property
    def _timeout_extension(self) -> dict[str, float | None]:
        return self._http.timeout.as_dict()

    def _url(self, path: str) -> tuple[httpx.URL, bool]:
        """The URL of an API path (or of a full URL), parsed once, and whether it is the
        hosted API's."""
        if path.startswith(("http://", "https://")):  # a pre-signed URL: used once
            return httpx.URL(path), is_real_api(path)
        found = self._parsed.get((self.base_url, path))
        if found is None:
            url = self.base_url + path
            found = self._parsed[(self.base_url, path)] = (httpx.URL(url), is_real_api(url))
        return found

    def _status_error(self, response: httpx.Response) -> APIStatusError:
        error = make_status_error(response)
        if isinstance(error, AuthenticationError) and self._api_key is None:
            error.message += f" (no API key was given: pass api_key= or set {API_KEY_ENV})"
            error.args = (error.message,)
        return error

    def _retry_after(self, exc: BaseException) -> float | None:
        if isinstance(exc, APIStatusError):
            return parse_retry_after(exc.response.headers, now=self._wall())
        return None

    def _send_flow(
        self,
        request: httpx.Request,
        bucket: str,
        *,
        ticket: str | None = None,
        priority: float | Callable[[float], float] = 1.0,
    ) -> Flow[httpx.Response]:
        """Send through the shared rate limiter; 4xx/5xx become errors (body read).
        `ticket` names the job asking, `priority` the chance its request is answered, or a
        function of the client's clock giving it at each ask for a slot."""
        while True:
            now = self._clock()
            chance = priority(now) if callable(priority) else priority
            wait = self._limiter.reserve(bucket, now, ticket=ticket, priority=chance)
            if wait <= 0.0:
                break
            yield from sleep(wait)
        try:
            response = yield from send(request)
        except BaseException:
            self._limiter.release(
                bucket, self._clock(), status=None, headers=None, wall_now=self._wall()
            )
            raise
        self._limiter.release(
            bucket,
            self._clock(),
            status=response.status_code,
            headers=response.headers,
            wall_now=self._wall(),
        )
        if logger.isEnabledFor(logging.DEBUG):  # the URL's copy costs more than the rest
            logger.debug(
                "%s %s -> %s",
                request.method,
                request.url.copy_with(query=None),
                response.status_code,
            )
        if response.status_code >= 400:
            try:
                yield from read_all(response)
            except APIConnectionError:
                pass
            raise self._status_error(response)
        return response

    def _call_flow(
        self,
        method: str,
        path: str,
        *,
        bucket: str = "other",
        json: Any = None,
        params: Mapping[str, str] | None = None,
        files: Any = None,
        data: Mapping[str, Any] | None = None,
    ) -> Flow[httpx.Response]:
        """A free, idempotent call: retried with backoff on 429, 5xx and lost connections."""
        attempt = 0
        while True:
            attempt += 1
            request = self._build(method, path, json=json, params=params, files=files, data=data)
            try:
                response = yield from self._send_flow(request, bucket)
                yield from read_all(response)
                return response
            except APIError as exc:
                if not should_retry(self._retry, exc, attempt):
                    raise
                delay = backoff_delay(
                    self._retry, attempt, retry_after=self._retry_after(exc), rand=self._rand
                )
                logger.info("%s %s failed (%s); retrying in %.2fs", method, path, exc, delay)
                yield from sleep(delay)

    def _jobs(
        self, statuses: Sequence[JobStatus] | None, unfinished: bool, limit: int | None
    ) -> list[VideoJob]:
        journal = self.journal
        if journal is None:
            return []
        entries = journal.list(statuses=statuses, unfinished=unfinished, limit=limit)
        return [VideoJob.from_entry(e) for e in entries]

    def _job_of(self, job: VideoJob | str) -> VideoJob:
        if isinstance(job, VideoJob):
            return job
        journal = self.journal
        entry = journal.find(job) if journal is not None else None
        if entry is None:
            raise JobNotFoundError(job)
        return VideoJob.from_entry(entry)
