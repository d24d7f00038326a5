"""The guard against server-side request forgery for every outbound call (knowledge web pages,
model endpoints), and fetching a web page for a knowledge document.

Every hop (the URL and each redirect) must be http(s) and resolve only to public addresses,
unless the outbound allow-list (COZEPLUS_OUTBOUND_ALLOW) admits the host or its addresses, or the
caller allows private ones. The connection goes to the address that was checked (the Host header
and TLS name stay the original host), so a DNS answer that changes between the check and the
connection (rebinding) cannot redirect us inward."""

from __future__ import annotations

import collections
import dataclasses
import ipaddress
import socket
import threading
import time
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from core.settings import get_settings
from services import files, parsing

MAX_REDIRECTS = 5
# the text types knowledge parses, by the media type a server names them with
_TYPES = {
    **{media: ext for ext, (media, _) in reversed(files.KNOWN_TYPES.items()) if ext in parsing.TEXT_TYPES},
    "application/xhtml+xml": "html",
    "text/x-markdown": "md",
}


class FetchError(Exception):
    def __init__(self, msg: str, *, forbidden: bool = False):
        super().__init__(msg)
        self.forbidden = forbidden


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _admitted(host: str, port: int, address: str, allow: tuple[str, ...]) -> bool:
    """Whether the allow-list names the host (with or without this port) or holds the address."""
    host = host.lower()
    for entry in allow:
        if entry in (host, f"{host}:{port}"):
            return True
        try:
            if ipaddress.ip_address(address) in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def split(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL an outbound call may use, or FetchError."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise FetchError(f"{url!r} is not a valid URL", forbidden=True)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError("only http and https URLs with a host can be fetched", forbidden=True)
    if parts.username or parts.password:
        raise FetchError("URLs with credentials are not fetched", forbidden=True)
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def vet(host: str, port: int, addresses: list[str], allow_private: bool) -> str:
    """The address to connect to among those `host` resolved to, or FetchError when any of them
    is private or reserved and neither the caller nor the allow-list admits it."""
    if not addresses:
        raise FetchError(f"the host {host} does not resolve")
    if not allow_private:
        allow = get_settings().outbound_allow
        inward = [a for a in addresses if not _public(a) and not _admitted(host, port, a, allow)]
        if inward:
            raise FetchError(
                f"{host} resolves to a private or reserved address ({inward[0]}); reaching it "
                "is not allowed (an administrator can admit it with COZEPLUS_OUTBOUND_ALLOW)",
                forbidden=True,
            )
    return addresses[0]


def check(url: str, allow_private: bool) -> tuple[str, str, int, str]:
    """(scheme, host, port, address to connect to) for a URL we may fetch, or FetchError."""
    scheme, host, port = split(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise FetchError(f"the host {host} does not resolve")
    return scheme, host, port, vet(host, port, [info[4][0] for info in infos], allow_private)


def pinned(url: str, address: str) -> str:
    parts = urlsplit(url)
    host = f"[{address}]" if ":" in address else address
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


def file_type_of(url: str, content_type: str) -> str:
    media = content_type.split(";")[0].strip().lower()
    if media in _TYPES:
        return _TYPES[media]
    suffix = urlsplit(url).path.rpartition(".")[2].lower()
    return suffix if suffix in parsing.TEXT_TYPES else "html"


_CLIENTS: collections.OrderedDict = collections.OrderedDict()
_CLIENTS_LOCK = threading.Lock()
MAX_CLIENTS = 64


def _client_for(scheme: str, host: str, address: str, port: int) -> httpx.Client:
    """A pooled client for one host at one checked address, so calls to the same service reuse
    their connections. The key holds the host as well as the address: a connection made (and a
    certificate checked) for one name is never used for another name on the same address."""
    key = (scheme, host.lower(), address, port)
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            limits = httpx.Limits(max_connections=20, max_keepalive_connections=10, keepalive_expiry=30)
            client = _CLIENTS[key] = httpx.Client(follow_redirects=False, trust_env=False, limits=limits)
            while len(_CLIENTS) > MAX_CLIENTS:
                _CLIENTS.popitem(last=False)  # left to the garbage collector: it may be in use
        _CLIENTS.move_to_end(key)
        return client


@dataclasses.dataclass
class Sent:
    """What an outbound call sent (after its last redirect) and what came back."""

    method: str
    url: str
    headers: dict
    body: bytes
    status: int
    response_headers: dict
    response_body: bytes
    elapsed_ms: int


def send(
    method: str,
    url: str,
    *,
    headers: dict | None = None,
    body: bytes = b"",
    allow_private: bool = False,
    max_bytes: int,
    timeout: float = 20.0,
    user_agent: str = "cozeplus/1.0",
) -> Sent:
    """One HTTP exchange with the guard on every hop. Redirects are followed (at most
    MAX_REDIRECTS): 307 and 308 keep the method and body, the others become a GET without one.
    A response larger than `max_bytes`, or not all in within `timeout` seconds, is a FetchError;
    so is any transport failure."""
    started = time.monotonic()
    method = method.upper()
    for _ in range(MAX_REDIRECTS + 1):
        scheme, host, port, address = check(url, allow_private)
        client = _client_for(scheme, host, address, port)
        default_port = port == (443 if scheme == "https" else 80)
        sent_headers = {"User-Agent": user_agent, "Accept": "*/*", **(headers or {})}
        sent_headers["Host"] = host if default_port else f"{host}:{port}"
        try:
            with client.stream(
                method,
                pinned(url, address),
                headers=sent_headers,
                content=body or None,
                extensions={"sni_hostname": host},
                timeout=timeout,
            ) as response:
                if response.is_redirect:
                    url = urljoin(url, response.headers.get("location", ""))
                    if response.status_code not in (307, 308):
                        method, body = "GET", b""
                        headers = {k: v for k, v in (headers or {}).items() if k.lower() != "content-type"}
                    continue
                received = bytearray()
                for piece in response.iter_bytes():
                    received += piece
                    if len(received) > max_bytes:
                        raise FetchError(f"the response is over the limit of {max_bytes} bytes")
                    if time.monotonic() - started > timeout:  # a body dripping in slowly
                        raise FetchError(f"no answer within {timeout:g} s")
                return Sent(
                    method,
                    url,
                    sent_headers,
                    body,
                    response.status_code,
                    dict(response.headers),
                    bytes(received),
                    int((time.monotonic() - started) * 1000),
                )
        except httpx.TimeoutException:
            raise FetchError(f"no answer within {timeout:g} s")
        except httpx.HTTPError as exc:
            raise FetchError(f"the request failed: {type(exc).__name__}")
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")


class _Capped(httpx.AsyncByteStream):
    def __init__(self, stream: httpx.AsyncByteStream, max_bytes: int, failed: Callable[[FetchError], None]):
        self._stream, self._max, self._failed = stream, max_bytes, failed

    async def __aiter__(self):
        seen = 0
        async for piece in self._stream:
            seen += len(piece)
            if seen > self._max:
                raise self._failed(FetchError(f"the response is over the limit of {self._max} bytes"))
            yield piece

    async def aclose(self) -> None:
        await self._stream.aclose()


class GuardedTransport(httpx.AsyncBaseTransport):
    """The guard for clients that hold a conversation rather than make one exchange (an MCP
    session): each request, a redirect's included, is checked and sent to the checked address,
    and each response is cut off past `max_bytes`. A refused address or an oversized response is
    a FetchError, also handed to `on_failure` (a client may swallow the error and wait on)."""

    def __init__(
        self,
        *,
        max_bytes: int,
        allow_private: bool = False,
        on_failure: Callable[[FetchError], None] | None = None,
    ):
        self._inner = httpx.AsyncHTTPTransport(trust_env=False)
        self._max, self._allow_private, self._on_failure = max_bytes, allow_private, on_failure
        self.refusals: list[int] = []  # error statuses answered, to name them when a client fails

    def _failed(self, error: FetchError) -> FetchError:
        if self._on_failure is not None:
            self._on_failure(error)
        return error

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        try:
            scheme, host, port, address = check(url, self._allow_private)
        except FetchError as exc:
            raise self._failed(exc)
        request.url = httpx.URL(pinned(url, address))
        request.extensions = {**request.extensions, "sni_hostname": host}
        response = await self._inner.handle_async_request(request)
        if response.status_code >= 400:
            self.refusals.append(response.status_code)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_Capped(response.stream, self._max, self._failed),
            extensions=response.extensions,
            request=request,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


def fetch(url: str, *, allow_private: bool, max_bytes: int, timeout: float = 20.0) -> tuple[bytes, str, str]:
    """(body, file type, final URL) of a page."""
    try:
        sent = send(
            "GET",
            url,
            allow_private=allow_private,
            max_bytes=max_bytes,
            timeout=timeout,
            user_agent="cozeplus-knowledge/1.0",
        )
    except FetchError as exc:
        if "over the limit" in str(exc):
            raise FetchError(f"the page is over the limit of {max_bytes} bytes")
        raise
    if sent.status >= 400:
        raise FetchError(f"the page answered HTTP {sent.status}")
    return sent.response_body, file_type_of(sent.url, sent.response_headers.get("content-type", "")), sent.url
