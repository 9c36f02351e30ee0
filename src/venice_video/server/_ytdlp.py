"""yt-dlp with every request it makes sent through the server's :class:`~._fetch.Fetcher`.

On its own, yt-dlp opens its own connections: it resolves names again after anyone checked
them and follows redirects before anyone can check the target. Here its request director holds
a single handler, which hands each request to a fetcher session: each host is resolved once,
every address is checked, the connection goes to the address that was checked, and each
redirect hop is checked before it is followed. No other transport (websockets, impersonation,
``file:``) is available to it.

The fetcher is asynchronous and yt-dlp is not: yt-dlp runs in a worker thread and each of its
requests crosses over to an event loop of its own through an anyio blocking portal. Importing
this module imports yt-dlp (the ``[stt]`` extra).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import yt_dlp
from anyio.from_thread import BlockingPortal, start_blocking_portal
from yt_dlp.networking.common import Request, RequestHandler, Response
from yt_dlp.networking.exceptions import HTTPError, TransportError

from ._fetch import Download, Fetcher, FetchError

__all__ = ["Bridge", "checked_youtube_dl"]

#: Headers dropped from what yt-dlp sends: credentials never leave, and the fetcher sets Host.
_DROPPED = frozenset({"authorization", "proxy-authorization", "cookie", "host"})


class Bridge:
    """What the handler needs: the fetcher session, the portal, the limits, and a record."""

    def __init__(self, fetcher: Fetcher, portal: BlockingPortal, max_bytes: int) -> None:
        self.fetcher = fetcher
        self.portal = portal
        self.max_bytes = max_bytes
        #: Every refusal and fetch failure, in order: yt-dlp's own messages lose the reason.
        self.failures: list[FetchError] = []
        self._open: list[Download] = []

    def open(self, request: Request, headers: dict[str, str], timeout_s: float) -> Download:
        sent = {k: v for k, v in headers.items() if k.lower() not in _DROPPED}
        sent["Accept-Encoding"] = "identity"
        try:
            download = self.portal.call(
                lambda: self.fetcher.open(
                    request.url,
                    method=request.method,
                    headers=sent,
                    content=_body(request.data),
                    max_bytes=self.max_bytes,
                    timeout_s=timeout_s,
                )
            )
        except FetchError as exc:
            self.failures.append(exc)
            raise
        self._open.append(download)
        return download

    def read(self, download: Download) -> bytes:
        try:
            return self.portal.call(download.read)
        except FetchError as exc:
            self.failures.append(exc)
            raise

    def close(self, download: Download) -> None:
        if not download.closed:
            self.portal.call(download.aclose)

    def close_all(self) -> None:
        for download in self._open:
            self.close(download)
        self._open.clear()


def _body(data: Any) -> bytes | None:
    if data is None or isinstance(data, bytes):
        return data
    if hasattr(data, "read"):
        return bytes(data.read())
    return b"".join(data)


class _Body(io.RawIOBase):
    """A response body read piece by piece through the portal."""

    def __init__(self, bridge: Bridge, download: Download) -> None:
        super().__init__()
        self._bridge = bridge
        self._download = download
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._pending:
            self._pending = self._bridge.read(self._download)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def close(self) -> None:
        if not self.closed:
            self._bridge.close(self._download)
        super().close()


class _FetcherRH(RequestHandler):  # type: ignore[misc]
    """yt-dlp's only request handler: every request goes through the fetcher."""

    _SUPPORTED_URL_SCHEMES = ("http", "https")
    # Proxies never apply: the fetcher ignores the environment and connects directly.
    _SUPPORTED_PROXY_SCHEMES = None
    _SUPPORTED_FEATURES = None

    def __init__(self, *, bridge: Bridge, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._bridge = bridge

    def _check_extensions(self, extensions: dict[str, Any]) -> None:
        super()._check_extensions(extensions)
        for name in ("cookiejar", "timeout", "legacy_ssl", "keep_header_casing"):
            extensions.pop(name, None)

    def _send(self, request: Request) -> Response:
        try:
            download = self._bridge.open(
                request, self._get_headers(request), self._calculate_timeout(request)
            )
        except FetchError as exc:
            raise TransportError(exc.reason, cause=exc) from None
        headers = dict(download.headers.items())
        if download.headers.get("content-encoding", "identity").lower() != "identity":
            # The fetcher hands over decoded bytes: the encoded length no longer applies.
            for name in list(headers):
                if name.lower() in ("content-encoding", "content-length"):
                    del headers[name]
        response = Response(
            _Body(self._bridge, download), str(download.url), headers, status=download.status
        )
        if not 200 <= download.status < 300:
            raise HTTPError(response)
        return response


class _CheckedYoutubeDL(yt_dlp.YoutubeDL):  # type: ignore[misc]
    def __init__(self, params: dict[str, Any], bridge: Bridge) -> None:
        self._bridge = bridge
        super().__init__(params)

    def build_request_director(self, handlers: Any, preferences: Any = None) -> Any:
        bridge = self._bridge

        class FetcherRH(_FetcherRH):
            def __init__(self, **kwargs: Any) -> None:
                super().__init__(bridge=bridge, **kwargs)

        return super().build_request_director([FetcherRH], preferences)


@contextmanager
def checked_youtube_dl(
    params: dict[str, Any], *, fetcher: Fetcher, max_bytes: int
) -> Iterator[tuple[Any, Bridge]]:
    """A ``YoutubeDL`` whose every request goes through a session of ``fetcher``.

    Yields the downloader and its bridge (whose ``failures`` say why a request failed). Every
    response still open when the block ends is closed.
    """
    params = {**params, "proxy": "", "enable_file_urls": False}
    with start_blocking_portal() as portal:
        bridge = Bridge(fetcher.session(), portal, max_bytes)
        try:
            with _CheckedYoutubeDL(params, bridge) as ydl:
                yield ydl, bridge
        finally:
            bridge.close_all()
