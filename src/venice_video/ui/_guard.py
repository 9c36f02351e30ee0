"""The gallery's front door: which hosts and origins may talk to it, and the CSRF token.

- Every request must name an allowed `Host` (by default the loopback names), so a web page
  that rebinds its own domain name to 127.0.0.1 still cannot read or drive the gallery.
- A request that changes anything is a POST that carries the per-process token from the page
  in `X-CSRF-Token`, and whose `Origin` (when sent) is the gallery's own.
- Every answer carries a strict Content-Security-Policy and no referrer.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CSRF_HEADER", "LOOPBACK_HOSTS", "Guard", "host_name"]

CSRF_HEADER = "x-csrf-token"
LOOPBACK_HOSTS: frozenset[str] = frozenset({"127.0.0.1", "localhost", "::1"})
_SAFE_METHODS = frozenset({"GET", "HEAD"})
_SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; "
        b"script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        b"form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


def host_name(host_header: str) -> str:
    """The host part of a `Host` header value, lower-cased, without port or brackets."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


class Guard:
    """ASGI middleware enforcing the rules above.

    Args:
        app: the wrapped application.
        token: the CSRF token the page carries.
        allowed_hosts: host names accepted in `Host`; `None` accepts any (bound to every
            interface on purpose).
    """

    def __init__(self, app: ASGIApp, *, token: str, allowed_hosts: Iterable[str] | None) -> None:
        self.app = app
        self.token = token
        self.allowed_hosts = (
            frozenset(h.lower().strip("[]") for h in allowed_hosts)
            if allowed_hosts is not None
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        problem = self._refusal(scope, headers)
        if problem is not None:
            status, message = problem
            await _deny(send, status, message)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + _SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str] | None:
        host = headers.get("host", "")
        if self.allowed_hosts is not None and host_name(host) not in self.allowed_hosts:
            return 421, "this gallery answers only to its local address"
        method = scope["method"]
        if method in _SAFE_METHODS:
            return None
        if method != "POST":
            return 405, "method not allowed"
        origin = headers.get("origin")
        if origin is not None and origin != f"{scope.get('scheme', 'http')}://{host}":
            return 403, "cross-origin request refused"
        fetch_site = headers.get("sec-fetch-site")
        if fetch_site is not None and fetch_site not in ("same-origin", "none"):
            return 403, "cross-site request refused"
        given = headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            return 403, "missing or wrong CSRF token (reload the page)"
        return None


async def _deny(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": "refused", "message": message}).encode()
    headers: list[Any] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *_SECURITY_HEADERS,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
