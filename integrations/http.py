"""One outbound POST to a URL an admin typed, without letting that URL reach inside our network (SSRF).

Only http and https. The host is resolved and every address it resolves to must be a public one (not private,
loopback, link-local, multicast or reserved) unless settings.INTEGRATIONS_ALLOW_PRIVATE_TARGETS says otherwise
(tests, and an intranet receiver an admin allows on purpose). The check runs when the URL is saved and again at
every delivery, and the connection goes to the very address that was checked (a DNS answer that changes between
the check and the connect cannot slip in a private one). Redirects are not followed; connect and read time out
(settings.INTEGRATIONS_TIMEOUT_SECONDS); at most 64 KB of the answer is read. The standard library's http.client
does all this without another dependency.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

MAX_RESPONSE_BYTES = 64 * 1024


class UnsafeUrl(ValueError):
    """The URL may not be called: wrong scheme, no host, unresolvable, or an address inside our network."""


class PrivateAddress(UnsafeUrl):
    """The host resolves to an address inside a private network (and those are not allowed)."""


@dataclass(frozen=True)
class Response:
    status: int
    elapsed_ms: int
    body: bytes


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone id ("fe80::1%eth0") is not part of it
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def url_check(url: str) -> list[str]:
    """The addresses `url` may be called at (the host's, all checked); UnsafeUrl when it may not be called."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl(_("Only http and https URLs are allowed."))
    if not parts.hostname or parts.username or parts.password:
        raise UnsafeUrl(_("The URL needs a host name, without a user name or password."))
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeUrl(_("The host name could not be resolved.")) from exc
    return host_check(parts.hostname, port)


def host_check(host: str, port: int) -> list[str]:
    """The addresses `host` may be connected to (all checked, as for a URL); UnsafeUrl when it may not be. The
    IMAP mailboxes (integrations.imap) connect through this too."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError, UnicodeError) as exc:
        raise UnsafeUrl(_("The host name could not be resolved.")) from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise UnsafeUrl(_("The host name could not be resolved."))
    if not settings.INTEGRATIONS_ALLOW_PRIVATE_TARGETS and not all(_is_public(a) for a in addresses):
        raise PrivateAddress(_("The URL points inside a private network; only public addresses are allowed."))
    return addresses


def post(url: str, *, body: bytes, headers: dict[str, str]) -> Response:
    """POST `body` to `url` (checked first, see above). Raises UnsafeUrl, or OSError / http.client's errors when
    the receiver cannot be reached or does not answer in time. Any status is returned, 3xx included (never
    followed)."""
    addresses = url_check(url)
    parts = urlsplit(url)
    timeout = settings.INTEGRATIONS_TIMEOUT_SECONDS
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            parts.hostname or "", parts.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    pinned = addresses[0]

    def connect_to_checked_address(address, timeout=None, source_address=None, **kwargs):
        # http.client connects through this; TLS then wraps the socket with the URL's host name (SNI and the
        # certificate check), so only the address differs from a plain connect.
        return socket.create_connection((pinned, address[1]), timeout, source_address)

    connection._create_connection = connect_to_checked_address  # type: ignore[attr-defined]
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    started = time.monotonic()
    try:
        connection.request("POST", path, body=body, headers={"Content-Length": str(len(body)), **headers})
        answer = connection.getresponse()
        data = answer.read(MAX_RESPONSE_BYTES)
        return Response(status=answer.status, elapsed_ms=int((time.monotonic() - started) * 1000), body=data)
    finally:
        connection.close()
