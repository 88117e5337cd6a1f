"""Posting a webhook: signed as Standard Webhooks specifies, to an address checked
to be public, with no redirect followed.

Outbound safety (a subscriber chooses the URL; the sender must not become a way
into the network it runs in):
- https only, unless local delivery is allowed (make dev: WEBHOOKS_ALLOW_LOCAL),
  which also allows http to a loopback address and nothing else private; the
  URL in printable ASCII (no control character reaches a request line);
- every address the host resolves to must be public: not private, loopback,
  link-local (169.254.169.254, the instance metadata), unique-local (fd00::/8),
  multicast, reserved, unspecified or site-local, nor an IPv4 one of those
  dressed as IPv6 (mapped, 6to4, Teredo);
- checked when the subscription is saved and again at every delivery (DNS can
  change), and the connection goes to the very address checked (the host name
  still names the TLS certificate and the Host header), so a name that
  resolves differently a moment later cannot slip through;
- a redirect is an answer like any other non-2xx: a failure, never followed;
- the whole exchange is bounded (TIMEOUT_S), not only each read.

Signing is hand-written: HMAC-SHA256 over "id.timestamp.body", four lines of
the standard library; the tests check it with the `standardwebhooks` library
receivers use.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import http.client
import ipaddress
import os
import re
import secrets
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlsplit

SECRET_PREFIX = "whsec_"  # noqa: S105 (the prefix the specification gives secrets)
TIMEOUT_S = 5.0
MAX_URL_LENGTH = 2048
# A URL as it is sent: printable ASCII without spaces (an internationalised host
# or path is written punycoded and percent-encoded).
_URL_CHARACTERS = re.compile(r"[\x21-\x7e]+")
RESOLVE_TIMEOUT_S = 3.0
LOCAL_DELIVERY_SETTING = "WEBHOOKS_ALLOW_LOCAL"

# (host, port) -> the addresses it resolves to; tests put another in its place.
Resolver = Callable[[str, int], list[str]]


class UnsafeDestination(ValueError):
    """The URL may not be posted to; the message says why, for the subscriber."""


@dataclass(frozen=True)
class Destination:
    """Where a URL's POST goes: the address checked, and what the request names."""

    scheme: str
    host: str
    port: int
    target: str  # the path and query
    address: str


def new_secret() -> str:
    """A signing secret as Standard Webhooks writes them: whsec_ and 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signature(secret: str, message_id: str, timestamp: int, body: str) -> str:
    """The webhook-signature header: v1, and the HMAC-SHA256 of id.timestamp.body."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.{body}".encode()
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def local_delivery_allowed() -> bool:
    """WEBHOOKS_ALLOW_LOCAL: make dev's, for a receiver on http://127.0.0.1; never set in AWS."""
    return os.environ.get(LOCAL_DELIVERY_SETTING, "").lower() in ("1", "true", "yes")


def resolve(host: str, port: int) -> list[str]:
    """Every address DNS gives for the host, within RESOLVE_TIMEOUT_S (getaddrinfo has no
    timeout of its own: it runs in a thread that is left behind if it is late)."""
    found: list[str] = []

    def lookup() -> None:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return
        found.extend(str(info[4][0]) for info in infos)

    looking = threading.Thread(target=lookup, daemon=True)
    looking.start()
    looking.join(RESOLVE_TIMEOUT_S)
    if looking.is_alive() or not found:
        raise UnsafeDestination(f"the host {host} does not resolve")
    return list(found)


def destination(url: str, *, allow_local: bool, resolver: Resolver | None = None) -> Destination:
    """Where `url` would be posted to, if it may be; UnsafeDestination if not."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeDestination(f"url must be at most {MAX_URL_LENGTH} characters")
    if not _URL_CHARACTERS.fullmatch(url):
        raise UnsafeDestination("url must be written in printable ASCII, without spaces")
    try:
        parts = urlsplit(url)
        port = parts.port if parts.port is not None else (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeDestination("url is not a valid URL") from None
    if port == 0:
        raise UnsafeDestination("url is not a valid URL")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeDestination("url must be an https:// URL")
    if parts.username or parts.password:
        raise UnsafeDestination("url must not carry a user name or password")
    if parts.scheme == "http" and not allow_local:
        raise UnsafeDestination("url must be an https:// URL")
    host = parts.hostname
    addresses = (resolver or resolve)(host, port)
    if not addresses:
        raise UnsafeDestination(f"the host {host} does not resolve")
    for address in addresses:
        _check_public(address, host, allow_local)
    if parts.scheme == "http" and not all(_is_loopback(address) for address in addresses):
        raise UnsafeDestination("url must be an https:// URL")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return Destination(parts.scheme, host, port, target, addresses[0])


def _check_public(address: str, host: str, allow_local: bool) -> None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone is no address of its own
    if allow_local and ip.is_loopback:
        return
    for seen in _addresses_within(ip):
        if not seen.is_global or seen.is_multicast or seen.is_reserved or seen.is_unspecified:
            raise UnsafeDestination(
                f"the host {host} resolves to {ip}, which is not a public address"
            )
        if isinstance(seen, ipaddress.IPv6Address) and seen.is_site_local:
            raise UnsafeDestination(
                f"the host {host} resolves to {ip}, which is not a public address"
            )


def _addresses_within(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[Any]:
    """The address, and the IPv4 one it carries if it is IPv4 dressed as IPv6 (mapped,
    6to4, Teredo's client): each must be public."""
    inside: list[Any] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        inside += [
            carried
            for carried in (ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None)
            if carried is not None
        ]
    return inside


def _is_loopback(address: str) -> bool:
    return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback


def post(place: Destination, body: str, headers: dict[str, str]) -> int:
    """POST the body to the address checked: the status the receiver answered.

    OSError (and http.client's errors) when it could not be reached or did
    not answer within TIMEOUT_S.
    """
    connection = _connection(place)
    # TIMEOUT_S bounds each socket operation; this bounds the whole exchange, which a
    # receiver trickling a byte at a time would otherwise stretch without end.
    cut_off = threading.Timer(TIMEOUT_S, _cut, args=(connection,))
    cut_off.start()
    try:
        connection.request(
            "POST",
            place.target,
            body=body.encode(),
            headers={"Host": _host_header(place), **headers},
        )
        response = connection.getresponse()
        response.read(64 * 1024)  # what a receiver says is not kept; a bounded read
        return int(response.status)
    finally:
        cut_off.cancel()
        connection.close()


def _cut(connection: http.client.HTTPConnection) -> None:
    """End a connection another thread is reading from: its read fails at once."""
    if connection.sock is not None:
        with contextlib.suppress(OSError):  # closed meanwhile
            connection.sock.shutdown(socket.SHUT_RDWR)


def _connection(place: Destination) -> http.client.HTTPConnection:
    if place.scheme == "http":
        return _PinnedHTTPConnection(place.address, place.port, timeout=TIMEOUT_S)
    return _PinnedHTTPSConnection(place, timeout=TIMEOUT_S)


def _host_header(place: Destination) -> str:
    default = 443 if place.scheme == "https" else 80
    host = f"[{place.host}]" if ":" in place.host else place.host
    return host if place.port == default else f"{host}:{place.port}"


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Plain HTTP to the address checked (local delivery only)."""


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to the address checked, the certificate verified for the host name."""

    def __init__(self, place: Destination, timeout: float) -> None:
        super().__init__(place.address, place.port, timeout=timeout, context=_tls())
        self._server_name = place.host

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self._server_name)  # type: ignore[attr-defined]


@cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()
