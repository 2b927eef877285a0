"""The service's only way out to a FHIR server: to the servers the hospital configured and nowhere else, with a
byte budget, a time budget and a bounded share of the connections per hook call.

A URL is compared after normalisation (RFC 3986 section 6.2.2 and what servers are known to do beyond it):
scheme and host lower-cased, the default port made explicit, percent-escapes of unreserved characters decoded
and the others upper-cased, dot segments resolved. What a server might read differently from this module is
refused rather than guessed: userinfo, an encoded '/' or '\\', a `..;` segment, numeric hosts other than
dotted decimal (2130706433, 0x7f.1, 0177.0.0.1, 127.1), non-ASCII, control characters, an IPv6 zone."""
from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

log = logging.getLogger("spinemets.service")

DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_ESCAPE = re.compile(r"%(..)?")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_NUMERIC_LABEL = re.compile(r"0x[0-9a-f]*|[0-9]+")
_DECIMAL_OCTET = re.compile(r"0|[1-9][0-9]{0,2}")

# One message for every fetch that did not give a resource: refused, unreachable, timed out, too large or not
# FHIR. A caller learns nothing about which ports or hosts answer (the service's log says which it was).
NOT_FETCHED = "the record could not be fetched from fhirServer"


class Refused(ValueError):
    """A URL this module will not fetch: not an allowed server, or not read the same way by every server."""


class FetchFailed(Exception):
    """A fetch that did not give a FHIR resource; the reason is for the service's log, never the caller."""


@dataclass(frozen=True)
class Place:
    """A normalised http(s) URL: what is fetched is exactly what was checked."""

    scheme: str
    host: str
    port: int
    path: str
    query: str = ""

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if DEFAULT_PORTS[self.scheme] == self.port else f":{self.port}"
        return f"{self.scheme}://{host}{port}{self.path}" + (f"?{self.query}" if self.query else "")

    def under(self, base: Place) -> bool:
        """Same scheme, host and port, and the path is the base's or below it (segment by segment)."""
        if (self.scheme, self.host, self.port) != (base.scheme, base.host, base.port):
            return False
        prefix = base.path.rstrip("/")
        return self.path == prefix or self.path.startswith(prefix + "/")


def place(url: str) -> Place:
    """The URL normalised, or Refused saying why."""
    if not url.isascii() or any(c in url for c in "\\\x7f") or any(ord(c) <= 0x20 for c in url):
        raise Refused("non-ASCII, a control character, a space or a backslash")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise Refused("not a URL") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise Refused("not http or https")
    if "@" in parts.netloc:
        raise Refused("userinfo in the URL")
    host, port = _host_port(parts.netloc, scheme)
    return Place(scheme, host, port, _path(parts.path), parts.query)


def _host_port(netloc: str, scheme: str) -> tuple[str, int]:
    if netloc.startswith("["):
        inner, bracket, rest = netloc[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")) or "%" in inner:
            raise Refused("a malformed IPv6 host")
        try:
            host = ipaddress.IPv6Address(inner).compressed
        except ValueError:
            raise Refused("a malformed IPv6 host") from None
        port_text = rest[1:] if rest else ""
    else:
        host, _, port_text = netloc.partition(":")
        host = host.lower()
        if not host or "%" in host or ":" in port_text:
            raise Refused("a malformed host")
        if _NUMERIC_LABEL.fullmatch(host.rsplit(".", 1)[-1]):
            # WHATWG reads a host whose last label is a number as an IPv4 address, in any of its forms:
            # only four decimal octets are taken, so that 127.1 or 0x7f.0.0.1 cannot pass as another host
            octets = host.split(".")
            if len(octets) != 4 or not all(_DECIMAL_OCTET.fullmatch(o) and int(o) <= 255 for o in octets):
                raise Refused("a numeric host other than four decimal octets")
        elif not _HOST_NAME.fullmatch(host) or len(host) > 253:
            raise Refused("a malformed host name")
    if port_text == "":
        return host, DEFAULT_PORTS[scheme]
    if not port_text.isdigit() or not 0 < int(port_text) <= 65535:
        raise Refused("a malformed port")
    return host, int(port_text)


def _path(raw: str) -> str:
    def escape(match: re.Match[str]) -> str:
        pair = match.group(1)
        if pair is None or not all(c in string.hexdigits for c in pair):
            raise Refused("a malformed percent-escape")
        char = chr(int(pair, 16))
        if char in _UNRESERVED:
            return char
        if char in "/\\":
            raise Refused("an encoded '/' or '\\' in the path")
        return "%" + pair.upper()
    decoded = _ESCAPE.sub(escape, raw)
    segments = decoded.split("/")[1:] if decoded else [""]
    out: list[str] = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment.split(";", 1)[0] in (".", "..") and ";" in segment:
            raise Refused("a dot segment with parameters (`..;`)")
        if segment == ".." and out:
            out.pop()
        if segment in (".", ".."):
            if last:
                out.append("")
            continue
        out.append(segment)
    return "/" + "/".join(out)


def allowed_servers(urls: Iterable[str], where: str = "the FHIR servers") -> tuple[Place, ...]:
    """The configured FHIR base URLs, normalised (no query); Refused naming the one that is not usable."""
    out = []
    for url in urls:
        try:
            base = place(url)
        except Refused as err:
            raise Refused(f"{where}: {url!r} is not usable ({err})") from None
        if base.query:
            raise Refused(f"{where}: {url!r} has a query; give the FHIR base URL")
        out.append(Place(base.scheme, base.host, base.port, base.path.rstrip("/") or "/"))
    return tuple(out)


@dataclass(frozen=True)
class Limits:
    """Per hook call: bytes read from the FHIR server (all pages), seconds for every fetch together, and how
    many hook calls may fetch at once (the connection pool's size, so that no call waits for a connection it
    was promised)."""

    max_bytes: int = 16_000_000
    budget: float = 10.0
    concurrent: int = 16


class Fetcher:
    """The FHIR client of one service: the allowed servers, the limits, one connection pool."""

    def __init__(self, servers: tuple[Place, ...], limits: Limits,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.servers, self.limits, self._transport = servers, limits, transport
        self._client: httpx.AsyncClient | None = None
        self._slots: asyncio.Semaphore | None = None

    def base(self, url: str) -> Place:
        """The request's fhirServer, normalised, when it is one of the allowed servers (or below one)."""
        try:
            given = place(url)
        except Refused:
            raise FetchFailed("fhirServer is not a usable URL") from None
        if given.query or not any(given.under(server) for server in self.servers):
            raise FetchFailed("fhirServer is not one of the allowed FHIR servers")
        return Place(given.scheme, given.host, given.port, given.path.rstrip("/") or "/")

    def session(self, base: Place, token: str | None) -> Session:
        if self._client is None:
            # trust_env off: no proxy from the environment, and no .netrc credentials added to a request
            self._client = httpx.AsyncClient(
                transport=self._transport, follow_redirects=False, trust_env=False,
                timeout=httpx.Timeout(self.limits.budget),
                limits=httpx.Limits(max_connections=self.limits.concurrent,
                                    max_keepalive_connections=self.limits.concurrent))
            self._slots = asyncio.Semaphore(self.limits.concurrent)
        assert self._slots is not None
        return Session(self._client, self._slots, base, token, self.limits)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class Session:
    """The fetches of one hook call: under its base URL only, within its byte and time budget."""

    def __init__(self, client: httpx.AsyncClient, slots: asyncio.Semaphore, base: Place, token: str | None,
                 limits: Limits) -> None:
        self.client, self.slots, self.base, self.limits = client, slots, base, limits
        self.headers = {"Accept": "application/fhir+json"}
        if token is not None:
            self.headers["Authorization"] = f"Bearer {token}"
        self.left = limits.max_bytes

    def resolve(self, reference: str, against: Place) -> Place:
        """A URL (a next link, relative or absolute) as fetched, when it lies under this call's base."""
        try:
            target = place(urljoin(against.url, reference))
        except Refused as err:
            raise FetchFailed(f"a link was refused ({err})") from None
        if not target.under(self.base):
            raise FetchFailed("a link leads outside fhirServer")
        return target

    async def get(self, target: Place) -> dict[str, Any]:
        """The FHIR resource at the URL; FetchFailed for anything else."""
        if not target.under(self.base):  # the token goes under the base URL, nowhere else
            raise FetchFailed("a URL outside fhirServer")
        try:
            async with self.client.stream("GET", target.url, headers=self.headers) as response:
                if response.status_code != 200:
                    raise FetchFailed(f"HTTP {response.status_code}")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.left:
                    raise FetchFailed("the response is larger than the byte budget")
                chunks = []
                async for chunk in response.aiter_bytes():  # decoded: a compressed bomb is counted as it unpacks
                    self.left -= len(chunk)
                    if self.left < 0:
                        raise FetchFailed("the response is larger than the byte budget")
                    chunks.append(chunk)
        except httpx.HTTPError as err:
            raise FetchFailed(type(err).__name__) from None
        try:
            body = json.loads(b"".join(chunks))
        except (ValueError, RecursionError):
            raise FetchFailed("not JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
            raise FetchFailed("not a FHIR resource")
        return body


async def read_json(client: httpx.AsyncClient, url: str, max_bytes: int, seconds: float) -> Any:
    """A small JSON document (a JWK Set) from a configured URL, read up to max_bytes within seconds in all;
    None when it cannot be."""
    try:
        async with asyncio.timeout(seconds), \
                client.stream("GET", url, headers={"Accept": "application/json"}) as response:
            if response.status_code != 200:
                return None
            data = b""
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) > max_bytes:
                    return None
        return json.loads(data)
    except (httpx.HTTPError, ValueError, RecursionError, TimeoutError):
        return None


__all__ = ["NOT_FETCHED", "FetchFailed", "Fetcher", "Limits", "Place", "Refused", "Session", "allowed_servers",
           "place", "read_json"]
