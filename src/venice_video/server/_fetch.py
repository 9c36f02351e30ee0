"""The server's one way out to the network: fetching the URLs that requests point at.

Queue inputs, the video a quote probes, and every request yt-dlp makes for
`/video/transcriptions` go through a :class:`Fetcher`. Fetching a URL on a caller's behalf is a
classic server-side request forgery hole, so the fetcher

* refuses every scheme but ``http`` and ``https`` (``data:`` URLs are decoded locally), and URLs
  carrying credentials;
* resolves the host once and refuses it unless every address is publicly routable: no
  loopback, private, link-local, site-local, CGNAT, multicast, reserved or unspecified
  addresses, and no IPv6 address that carries such an IPv4 address (IPv4-mapped,
  IPv4-compatible and IPv4-translated forms, 6to4, NAT64, Teredo, ISATAP), all before any
  connection is made;
* connects to the address it checked (the Host header and TLS server name still carry the
  name), so a second DNS answer cannot swap in an internal address; a fetcher session keeps
  the first answer for a name for all its requests;
* follows redirects itself, checking each target the same way before connecting to it, up to
  a limit;
* streams the body and stops as soon as it passes the size limit, within its deadline;
* sends no credentials: no auth headers, no cookies, no proxy or netrc settings from the
  environment.

``allow_private`` (the server's ``allow_private_urls``, for tests) lets loopback and private
addresses through; multicast and unspecified addresses stay refused.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import unquote_to_bytes

import anyio
import httpx

from venice_video._version import __version__

__all__ = [
    "Download",
    "FetchError",
    "FetchPolicy",
    "Fetcher",
    "Resolver",
    "decode_data_url",
    "fetch_input",
    "is_public_address",
    "is_safe_public_host",
]

#: ``resolver(host, port)`` returns the IP addresses ``host`` resolves to.
Resolver = Callable[[str, int], Awaitable[list[str]]]

_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_HOSTNAME: Final = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?")
_DEFAULT_MIME: Final = "application/octet-stream"
_USER_AGENT: Final = f"venice-video-local/{__version__}"
# IPv6 ranges that carry an IPv4 address in their low 32 bits: NAT64 (the well-known prefix;
# the local-use /48 may place it elsewhere, so it is refused whole below), the deprecated
# IPv4-compatible form and the IPv4-translated form of SIIT.
_V4_IN_LOW_BITS: Final = (
    ipaddress.IPv6Network("64:ff9b::/96"),
    ipaddress.IPv6Network("::/96"),
    ipaddress.IPv6Network("::ffff:0:0:0/96"),
)
# IPv6 ranges never fetched from, whatever they carry: NAT64 (both prefixes: they translate to
# IPv4 inside the operator's network), Teredo, and the deprecated site-local range.
_NEVER_V6: Final = (
    ipaddress.IPv6Network("64:ff9b::/96"),
    ipaddress.IPv6Network("64:ff9b:1::/48"),
    ipaddress.IPv6Network("2001::/32"),
    ipaddress.IPv6Network("fec0::/10"),
)
# Request headers that carry credentials: never sent.
_CREDENTIAL_HEADERS: Final = frozenset({"authorization", "proxy-authorization", "cookie"})


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
        fetcher: the fetcher to use (the server's own); None makes one from the fields above.
    """

    max_bytes: int = 50 * 1024 * 1024
    timeout_s: float = 20.0
    allow_private: bool = False
    max_redirects: int = 3
    fetcher: Fetcher | None = field(default=None, compare=False, repr=False)

    def make_fetcher(
        self,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver | None = None,
    ) -> Fetcher:
        """`fetcher`, or one with this policy's rules and the given network and DNS."""
        if self.fetcher is not None and transport is None and resolver is None:
            return self.fetcher
        return Fetcher(
            allow_private=self.allow_private,
            max_redirects=self.max_redirects,
            transport=transport,
            resolver=resolver,
        )


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


def _embedded_ipv4(addr: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address an IPv6 address carries, in any of the known embeddings."""
    found: list[ipaddress.IPv4Address] = []
    if addr.ipv4_mapped is not None:
        found.append(addr.ipv4_mapped)
    if addr.sixtofour is not None:
        found.append(addr.sixtofour)
    if addr.teredo is not None:
        found.extend(addr.teredo)
    low = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    if any(addr in net for net in _V4_IN_LOW_BITS):
        found.append(low)
    # ISATAP interface identifiers: ::0:5efe:a.b.c.d and ::200:5efe:a.b.c.d.
    if (int(addr) >> 32) & 0xFDFFFFFF == 0x00005EFE:
        found.append(low)
    return found


def _is_public_v4(addr: ipaddress.IPv4Address) -> bool:
    # is_global already excludes private, loopback, link-local, CGNAT, reserved, unspecified,
    # broadcast and documentation ranges; multicast is the one it lets through.
    return bool(addr.is_global and not addr.is_multicast)


def is_public_address(text: str) -> bool:
    """Whether an IP address (text, IPv6 zone allowed) is a public internet address.

    An IPv6 address is public only if it is globally routable itself, lies outside the
    translation and tunnel ranges that lead into someone's IPv4 network (NAT64, Teredo), is not
    site-local or reserved, and every IPv4 address it embeds is public too.
    """
    try:
        addr = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv4Address):
        return _is_public_v4(addr)
    if not all(_is_public_v4(v4) for v4 in _embedded_ipv4(addr)):
        return False
    if any(addr in net for net in _NEVER_V6):
        return False
    if addr.sixtofour is not None:
        # 6to4 (2002::/16) leads to the IPv4 address it carries, checked above. Python's own
        # table has changed its mind about the range between 3.11 releases: not relied on.
        return True
    return bool(
        addr.is_global
        and not addr.is_multicast
        and not addr.is_reserved
        and not addr.is_site_local
        and not addr.is_private
    )


def _is_allowed(address: str, allow_private: bool) -> bool:
    if not allow_private:
        return is_public_address(address)
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
    and refused if it does not resolve or if any answer is not public (see
    :func:`is_public_address`). ``allow_private`` lets everything but multicast and
    unspecified addresses through.
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
    host = url.host if len(url.host) <= 100 else url.host[:97] + "..."
    return f"{url.scheme}://{host}{port}{path}"


def _check_url(url: httpx.URL, field: str | None) -> None:
    if url.scheme not in {"http", "https"}:
        raise FetchError(
            f"unsupported URL scheme {url.scheme[:20]!r}: use http, https or a data: URL",
            field=field,
        )
    if url.userinfo:
        raise FetchError("URLs with embedded credentials are not fetched", field=field)


def _parse(text: str, field: str | None) -> httpx.URL:
    try:
        url = httpx.URL(text.strip())
    except (httpx.InvalidURL, ValueError, TypeError):
        raise FetchError("the URL could not be parsed", field=field) from None
    _check_url(url, field)
    return url


class Download:
    """An open response from :meth:`Fetcher.open`, its body not yet read.

    Attributes:
        url: the URL that answered (after redirects), with its host name.
        status: the HTTP status.
        headers: the response headers.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        response: httpx.Response,
        url: httpx.URL,
        *,
        field: str | None,
        max_bytes: int,
        deadline: float | None,
        idle_s: float,
    ) -> None:
        self.url = url
        self.status = response.status_code
        self.headers = response.headers
        self._client = client
        self._response = response
        self._chunks: AsyncIterator[bytes] = response.aiter_bytes()
        self._field = field
        self._max_bytes = max_bytes
        self._deadline = deadline
        self._idle_s = idle_s
        self._seen = 0
        self.closed = False

    @property
    def mime(self) -> str:
        """The Content-Type without parameters (``application/octet-stream`` when absent)."""
        content_type = self.headers.get("content-type")
        return _mime_of(content_type) if content_type else _DEFAULT_MIME

    def _too_large(self) -> FetchError:
        return FetchError(
            f"{_describe(self.url)} is larger than the {_size(self._max_bytes)} limit",
            field=self._field,
        )

    def _timeout(self) -> float:
        if self._deadline is None:
            return self._idle_s
        return max(0.0, min(self._idle_s, self._deadline - anyio.current_time()))

    async def read(self) -> bytes:
        """The next piece of the body (decoded), or ``b""`` at its end.

        Raises:
            FetchError: the body passes ``max_bytes``, a read stalls past the timeout or the
                deadline passes, or the connection fails.
        """
        if self.closed:
            return b""
        try:
            with anyio.fail_after(self._timeout()):
                chunk = await anext(self._chunks, b"")
        except TimeoutError:
            await self.aclose()
            raise FetchError(
                f"reading {_describe(self.url)} timed out", field=self._field
            ) from None
        except httpx.HTTPError as exc:
            await self.aclose()
            raise FetchError(
                f"reading {_describe(self.url)} failed: {type(exc).__name__}", field=self._field
            ) from None
        self._seen += len(chunk)
        if self._seen > self._max_bytes:
            await self.aclose()
            raise self._too_large()
        if not chunk:
            await self.aclose()
        return chunk

    async def read_all(self) -> bytes:
        """The whole body, within ``max_bytes`` (see :meth:`read`)."""
        declared = self.headers.get("content-length", "")
        if declared.strip().isdigit() and len(declared) < 20 and int(declared) > self._max_bytes:
            await self.aclose()
            raise self._too_large()
        chunks: list[bytes] = []
        while chunk := await self.read():
            chunks.append(chunk)
        return b"".join(chunks)

    async def aclose(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            await self._response.aclose()
        finally:
            await self._client.aclose()


class Fetcher:
    """Fetches outside URLs under the rules in this module's docstring.

    One fetcher serves the whole server; :meth:`session` gives a view that resolves each host
    name only once for all its requests (yt-dlp makes several for one transcription).

    Args:
        allow_private: let loopback and private addresses through (tests only).
        max_redirects: redirects followed before giving up.
        transport: replaces the network (tests); requests still go to the checked addresses.
        resolver: replaces DNS (tests); its answers are checked like the system's.
    """

    def __init__(
        self,
        *,
        allow_private: bool = False,
        max_redirects: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        self.allow_private = allow_private
        self.max_redirects = max_redirects
        self.transport = transport
        self.resolver: Resolver = resolver or _system_resolver
        self._pinned: dict[tuple[str, int], list[str]] | None = None

    def session(self) -> Fetcher:
        """A fetcher with the same rules that keeps the first answer for each name."""
        session = Fetcher(
            allow_private=self.allow_private,
            max_redirects=self.max_redirects,
            transport=self.transport,
            resolver=self.resolver,
        )
        session._pinned = {}
        return session

    async def fetch(
        self, url: str, *, max_bytes: int, timeout_s: float, field: str | None = None
    ) -> tuple[str, bytes]:
        """Fetch ``url`` (``data:`` or ``http(s)``) and return ``(mime, data)``.

        Raises:
            FetchError: the URL is refused, the answer is not a 2xx, the body is larger than
                ``max_bytes``, or ``timeout_s`` passes (redirects and DNS included).
        """
        text = url.strip()
        if text[:5].lower() == "data:":
            try:
                return decode_data_url(text, max_bytes=max_bytes)
            except FetchError as exc:
                raise FetchError(exc.reason, field=field) from None
        download = await self.open(
            text, field=field, max_bytes=max_bytes, timeout_s=timeout_s, total_deadline=True
        )
        try:
            if not 200 <= download.status < 300:
                raise FetchError(
                    f"{_describe(download.url)} answered HTTP {download.status}", field=field
                )
            return download.mime, await download.read_all()
        finally:
            await download.aclose()

    async def open(
        self,
        url: str,
        *,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        field: str | None = None,
        max_bytes: int,
        timeout_s: float,
        total_deadline: bool = False,
    ) -> Download:
        """Send a request, following checked redirects, and return the final response open.

        Any status comes back (the caller decides); the body is read through the
        :class:`Download`, which the caller must close.

        Args:
            url: an ``http(s)`` URL.
            method: ``GET``, ``HEAD`` or ``POST``.
            headers: extra request headers; credentials and ``Host`` are dropped.
            content: the request body.
            field: the request field the URL came from, for error messages.
            max_bytes: the largest body the download may read.
            timeout_s: the deadline for the answer's headers (DNS, connection and redirects
                included) and for each read of the body.
            total_deadline: make ``timeout_s`` the deadline for the whole body too.

        Raises:
            FetchError: refused, unreachable, too many redirects, or past the deadline.
        """
        parsed = _parse(url, field)
        deadline = anyio.current_time() + timeout_s
        try:
            with anyio.fail_after(timeout_s):
                client, response, final = await self._follow(
                    parsed, method.upper(), headers or {}, content, field
                )
        except TimeoutError:
            raise FetchError(
                f"fetching {_describe(parsed)} took longer than {timeout_s:g} s", field=field
            ) from None
        return Download(
            client,
            response,
            final,
            field=field,
            max_bytes=max_bytes,
            deadline=deadline if total_deadline else None,
            idle_s=timeout_s,
        )

    async def _follow(
        self,
        url: httpx.URL,
        method: str,
        headers: Mapping[str, str],
        content: bytes | None,
        field: str | None,
    ) -> tuple[httpx.AsyncClient, httpx.Response, httpx.URL]:
        sent = {
            k: v
            for k, v in headers.items()
            if k.lower() not in _CREDENTIAL_HEADERS and k.lower() != "host"
        }
        client = httpx.AsyncClient(
            transport=self.transport, timeout=None, follow_redirects=False, trust_env=False
        )
        try:
            for _hop in range(self.max_redirects + 1):
                addresses = await self._checked_addresses(url, field)
                response = await self._send(client, method, url, sent, content, addresses, field)
                client.cookies.clear()  # never keep cookies, from one hop to the next or at all
                if response.status_code not in _REDIRECTS or "location" not in response.headers:
                    return client, response, url
                await response.aclose()
                location = response.headers["location"]
                try:
                    url = url.join(location)
                except (httpx.InvalidURL, ValueError):
                    raise FetchError(
                        f"{_describe(url)} redirected to an unparsable URL", field=field
                    ) from None
                _check_url(url, field)
                if response.status_code == 303 or (
                    response.status_code in (301, 302) and method == "POST"
                ):
                    method = "GET" if method != "HEAD" else method
                    content = None
            raise FetchError(f"too many redirects (more than {self.max_redirects})", field=field)
        except BaseException:
            await client.aclose()
            raise

    async def _checked_addresses(self, url: httpx.URL, field: str | None) -> list[str]:
        """The addresses to try for ``url``, after checking every one it resolves to."""
        host = url.host
        if not host:
            raise FetchError("the URL has no host", field=field)
        literal = _literal(host)
        port = url.port or (443 if url.scheme == "https" else 80)
        pinned = self._pinned.get((host, port)) if self._pinned is not None else None
        if literal is not None:
            addresses = [literal]
        elif pinned is not None:
            addresses = pinned
        else:
            try:
                addresses = await self.resolver(url.raw_host.decode("ascii"), port)
            except (OSError, UnicodeError):
                raise FetchError(f"host {host!r} could not be resolved", field=field) from None
            if not addresses:
                raise FetchError(f"host {host!r} could not be resolved", field=field)
        for address in addresses:
            if not _is_allowed(address, self.allow_private):
                shown = host if literal is not None else f"{host} ({address})"
                raise FetchError(
                    f"refusing to fetch from {shown}: not a public internet address", field=field
                )
        addresses = list(dict.fromkeys(addresses))
        if self._pinned is not None:
            self._pinned[(host, port)] = addresses
        return addresses

    async def _send(
        self,
        client: httpx.AsyncClient,
        method: str,
        url: httpx.URL,
        headers: Mapping[str, str],
        content: bytes | None,
        addresses: list[str],
        field: str | None,
    ) -> httpx.Response:
        """Send the request to the first checked address that accepts a connection."""
        failure: httpx.HTTPError | None = None
        for address in addresses:
            # Connect to the checked address; the name still goes in Host and in TLS SNI.
            request = client.build_request(
                method,
                url.copy_with(host=address),
                headers={
                    "User-Agent": _USER_AGENT,
                    "Accept": "*/*",
                    **headers,
                    "Host": url.netloc.decode("ascii"),
                },
                content=content,
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


async def fetch_input(
    url: str,
    *,
    policy: FetchPolicy,
    field: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver | None = None,
) -> tuple[str, bytes]:
    """Fetch a media input named by URL and return ``(mime, data)``.

    ``data:`` URLs are decoded locally; ``http(s)`` URLs are fetched by a :class:`Fetcher`
    within ``policy``. The MIME type is the response's Content-Type without parameters
    (``application/octet-stream`` when absent).

    ``transport`` and ``resolver`` replace the network and DNS (tests use them); the address
    checks apply to whatever the resolver returns.

    Raises:
        FetchError: when the URL is refused, the server answers with an error, the body is
            larger than ``policy.max_bytes``, or the deadline passes. Its ``field`` is ``field``.
    """
    fetcher = policy.make_fetcher(transport=transport, resolver=resolver)
    return await fetcher.fetch(
        url, max_bytes=policy.max_bytes, timeout_s=policy.timeout_s, field=field
    )
