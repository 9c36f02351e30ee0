"""Fetching the media a request points at: ``data:`` URLs and public ``http(s)`` URLs.

The local server accepts image, audio and video inputs as URLs, like the hosted API. Fetching a
URL on a caller's behalf is a classic server-side request forgery hole, so :func:`fetch_input`

* refuses every scheme but ``http``, ``https`` and ``data``, and URLs carrying credentials;
* resolves the host itself and refuses it unless every address is publicly routable (no
  loopback, private, link-local, CGNAT, multicast, reserved or unspecified addresses, including
  IPv4 addresses tucked inside IPv6 ones), all before any connection is made;
* connects to the address it checked (the Host header and TLS server name still carry the
  name), so a second DNS answer cannot swap in an internal address;
* follows redirects itself, checking each target the same way, up to a limit;
* streams the body and stops as soon as it passes the size limit, within one total deadline;
* sends no credentials: no auth headers, no cookies carried across hops, no proxy or netrc
  settings from the environment.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote_to_bytes

import anyio
import httpx

from venice_video._version import __version__

__all__ = [
    "FetchError",
    "FetchPolicy",
    "Resolver",
    "decode_data_url",
    "fetch_input",
    "is_safe_public_host",
]

#: ``resolver(host, port)`` returns the IP addresses ``host`` resolves to.
Resolver = Callable[[str, int], Awaitable[list[str]]]

_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_HOSTNAME: Final = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?")
_DEFAULT_MIME: Final = "application/octet-stream"
_USER_AGENT: Final = f"venice-video-local/{__version__}"
# IPv6 ranges that carry an IPv4 address in their low 32 bits: NAT64 (well-known and local-use)
# and the deprecated IPv4-compatible form.
_V4_IN_LOW_BITS: Final = (
    ipaddress.IPv6Network("64:ff9b::/96"),
    ipaddress.IPv6Network("64:ff9b:1::/48"),
    ipaddress.IPv6Network("::/96"),
)


class FetchError(Exception):
    """An input URL was refused or could not be fetched.

    Attributes:
        field: the request field the URL came from (e.g. ``"image_url"``), if given.
        reason: what went wrong, without the URL's query string or credentials.
    """

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class FetchPolicy:
    """Limits for :func:`fetch_input`.

    Attributes:
        max_bytes: largest body accepted, counted while reading (after any content decoding).
        timeout_s: deadline for the whole fetch, redirects and DNS included.
        allow_private: allow loopback, private and link-local addresses (for tests only).
        max_redirects: redirects followed before giving up.
    """

    max_bytes: int = 50 * 1024 * 1024
    timeout_s: float = 20.0
    allow_private: bool = False
    max_redirects: int = 3


# --------------------------------------------------------------------------------------------
# data: URLs


def _mime_of(media_type: str) -> str:
    mime = media_type.split(";", 1)[0].strip().lower()
    return mime or "text/plain"


def decode_data_url(url: str, *, max_bytes: int) -> tuple[str, bytes]:
    """Decode an RFC 2397 ``data:`` URL into ``(mime, data)``.

    Base64 payloads may use the URL-safe alphabet, omit padding or contain whitespace; other
    payloads are percent-decoded. The MIME type is lower-cased without parameters and defaults
    to ``text/plain``.

    Raises:
        FetchError: when the URL is malformed, the base64 is invalid, or the data is larger than
            ``max_bytes`` (checked before decoding, from the payload's length, too).
    """
    text = url.strip()
    if text[:5].lower() != "data:":
        raise FetchError("not a data: URL")
    header, sep, payload = text[5:].partition(",")
    if not sep:
        raise FetchError("malformed data: URL: no ',' before the data")
    params = [p.strip() for p in header.split(";")]
    is_base64 = len(params) > 1 and params[-1].lower() == "base64"
    media_type = ";".join(params[:-1] if is_base64 else params)
    mime = _mime_of(media_type)
    if "/" not in mime:
        raise FetchError(f"malformed data: URL: media type {mime[:40]!r} is not type/subtype")
    too_large = FetchError(f"data: URL is larger than the {_size(max_bytes)} limit")
    # Even fully percent-encoded (3 characters a byte) base64 (4 characters per 3 bytes) cannot
    # be longer than this without decoding to more than max_bytes: refuse before any copying.
    if len(payload) > 3 * (4 * (max_bytes // 3 + 1)) + 64:
        raise too_large
    if is_base64:
        compact = "".join(unquote_to_bytes(payload).decode("ascii", "replace").split())
        if len(compact) // 4 * 3 > max_bytes:
            raise too_large
        compact = compact.replace("-", "+").replace("_", "/")
        compact += "=" * (-len(compact) % 4)
        try:
            data = base64.b64decode(compact, validate=True)
        except (binascii.Error, ValueError):
            raise FetchError("malformed data: URL: the base64 payload is not valid") from None
    else:
        data = unquote_to_bytes(payload)
    if len(data) > max_bytes:
        raise too_large
    return mime, data


def _size(n: int) -> str:
    if n >= 1024 * 1024 and n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} MiB"
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024} KiB"
    return f"{n} bytes"


# --------------------------------------------------------------------------------------------
# Address checks


def _is_public_address(text: str) -> bool:
    try:
        addr = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address):
        embedded = addr.ipv4_mapped or addr.sixtofour
        if embedded is None and any(addr in net for net in _V4_IN_LOW_BITS):
            embedded = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
        if addr.teredo is not None:
            return all(_is_public_address(str(a)) for a in addr.teredo)
        if embedded is not None and not _is_public_address(str(embedded)):
            return False
        if addr.is_site_local:
            return False
    return bool(
        addr.is_global
        and not addr.is_multicast
        and not addr.is_reserved
        and not addr.is_unspecified
        and not addr.is_loopback
        and not addr.is_link_local
        and not addr.is_private
    )


def _is_allowed(address: str, allow_private: bool) -> bool:
    if not allow_private:
        return _is_public_address(address)
    try:
        addr = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    return not (addr.is_multicast or addr.is_unspecified)


def _literal(host: str) -> str | None:
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return str(ipaddress.ip_address(bare.split("%", 1)[0]))
    except ValueError:
        return None


def is_safe_public_host(host: str, *, allow_private: bool = False) -> bool:
    """Whether every address ``host`` resolves to may be fetched from.

    An IP literal is checked as is; a name is resolved with ``getaddrinfo`` (so this blocks)
    and refused if it does not resolve or if any answer is loopback, private, link-local,
    CGNAT, multicast, reserved, unspecified, or an IPv6 address embedding such an IPv4
    address. ``allow_private`` lets everything but multicast and unspecified addresses through.
    """
    literal = _literal(host)
    if literal is not None:
        return _is_allowed(literal, allow_private)
    try:
        name = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    if not _HOSTNAME.fullmatch(name) or len(name) > 253:
        return False  # not a DNS name: refuse without asking a resolver
    try:
        infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return False
    addresses = [str(info[4][0]) for info in infos]
    return bool(addresses) and all(_is_allowed(a, allow_private) for a in addresses)


async def _system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


# --------------------------------------------------------------------------------------------
# Fetching


def _describe(url: httpx.URL) -> str:
    """The URL without credentials or query, safe to put in an error message."""
    path = url.path if len(url.path) <= 80 else url.path[:77] + "..."
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}{path}"


async def _checked_addresses(
    url: httpx.URL, policy: FetchPolicy, resolver: Resolver, field: str | None
) -> list[str]:
    """The addresses to try for ``url``, after checking every one it resolves to."""
    host = url.host
    if not host:
        raise FetchError("the URL has no host", field=field)
    literal = _literal(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            ascii_host = url.raw_host.decode("ascii")
            addresses = await resolver(
                ascii_host, url.port or (443 if url.scheme == "https" else 80)
            )
        except (OSError, UnicodeError):
            raise FetchError(f"host {host!r} could not be resolved", field=field) from None
        if not addresses:
            raise FetchError(f"host {host!r} could not be resolved", field=field)
    for address in addresses:
        if not _is_allowed(address, policy.allow_private):
            shown = host if literal is not None else f"{host} ({address})"
            raise FetchError(
                f"refusing to fetch from {shown}: not a public internet address", field=field
            )
    return list(dict.fromkeys(addresses))


def _check_url(url: httpx.URL, field: str | None) -> None:
    if url.scheme not in {"http", "https"}:
        raise FetchError(
            f"unsupported URL scheme {url.scheme!r}: use http, https or a data: URL", field=field
        )
    if url.userinfo:
        raise FetchError("URLs with embedded credentials are not fetched", field=field)


async def fetch_input(
    url: str,
    *,
    policy: FetchPolicy,
    field: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver | None = None,
) -> tuple[str, bytes]:
    """Fetch a media input named by URL and return ``(mime, data)``.

    ``data:`` URLs are decoded locally. ``http(s)`` URLs are fetched as described in this
    module's docstring, within ``policy``. The MIME type is the response's Content-Type without
    parameters (``application/octet-stream`` when absent).

    ``transport`` and ``resolver`` replace the network and DNS (tests use them); the address
    checks apply to whatever the resolver returns.

    Raises:
        FetchError: when the URL is refused, the server answers with an error, the body is
            larger than ``policy.max_bytes``, or the deadline passes. Its ``field`` is ``field``.
    """
    text = url.strip()
    if text[:5].lower() == "data:":
        try:
            return decode_data_url(text, max_bytes=policy.max_bytes)
        except FetchError as exc:
            raise FetchError(exc.reason, field=field) from None
    try:
        parsed = httpx.URL(text)
    except (httpx.InvalidURL, ValueError, TypeError):
        raise FetchError("the URL could not be parsed", field=field) from None
    _check_url(parsed, field)
    try:
        with anyio.fail_after(policy.timeout_s):
            return await _fetch_http(parsed, policy, field, transport, resolver or _system_resolver)
    except TimeoutError:
        raise FetchError(
            f"fetching {_describe(parsed)} took longer than {policy.timeout_s:g} s", field=field
        ) from None


async def _fetch_http(
    url: httpx.URL,
    policy: FetchPolicy,
    field: str | None,
    transport: httpx.AsyncBaseTransport | None,
    resolver: Resolver,
) -> tuple[str, bytes]:
    timeout = httpx.Timeout(policy.timeout_s)
    async with httpx.AsyncClient(
        transport=transport, timeout=timeout, follow_redirects=False, trust_env=False
    ) as client:
        for _hop in range(policy.max_redirects + 1):
            addresses = await _checked_addresses(url, policy, resolver, field)
            response = await _send(client, url, addresses, field)
            try:
                client.cookies.clear()  # never carry cookies from one hop to the next
                if response.status_code in _REDIRECTS:
                    location = response.headers.get("location")
                    if not location:
                        raise FetchError(
                            f"{_describe(url)} redirected without a Location", field=field
                        )
                    try:
                        url = url.join(location)
                    except (httpx.InvalidURL, ValueError):
                        raise FetchError(
                            f"{_describe(url)} redirected to an unparsable URL", field=field
                        ) from None
                    _check_url(url, field)
                    continue
                if not 200 <= response.status_code < 300:
                    raise FetchError(
                        f"{_describe(url)} answered HTTP {response.status_code}", field=field
                    )
                return await _read_body(response, url, policy, field)
            finally:
                await response.aclose()
        raise FetchError(f"too many redirects (more than {policy.max_redirects})", field=field)


async def _send(
    client: httpx.AsyncClient, url: httpx.URL, addresses: list[str], field: str | None
) -> httpx.Response:
    """Send the GET to the first checked address that accepts a connection."""
    failure: httpx.HTTPError | None = None
    for address in addresses:
        # Connect to the checked address; the name still goes in Host and in TLS SNI.
        request = client.build_request(
            "GET",
            url.copy_with(host=address),
            headers={
                "Host": url.netloc.decode("ascii"),
                "User-Agent": _USER_AGENT,
                "Accept": "*/*",
            },
            extensions={"sni_hostname": url.raw_host.decode("ascii")},
        )
        try:
            return await client.send(request, stream=True)
        except httpx.ConnectError as exc:
            failure = exc
        except httpx.HTTPError as exc:
            failure = exc
            break
    raise FetchError(
        f"could not fetch {_describe(url)}: {type(failure).__name__}", field=field
    ) from None


async def _read_body(
    response: httpx.Response, url: httpx.URL, policy: FetchPolicy, field: str | None
) -> tuple[str, bytes]:
    too_large = f"{_describe(url)} is larger than the {_size(policy.max_bytes)} limit"
    declared = response.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > policy.max_bytes:
        raise FetchError(too_large, field=field)
    chunks: list[bytes] = []
    total = 0
    try:
        async for chunk in response.aiter_bytes():
            total += len(chunk)
            if total > policy.max_bytes:
                raise FetchError(too_large, field=field)
            chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise FetchError(
            f"reading {_describe(url)} failed: {type(exc).__name__}", field=field
        ) from None
    content_type = response.headers.get("content-type")
    mime = _mime_of(content_type) if content_type else _DEFAULT_MIME
    return mime, b"".join(chunks)
