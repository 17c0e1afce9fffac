"""Which webhook URLs Coffer may call: http(s) only, and only global addresses.

The check resolves the host (A and AAAA, through getaddrinfo) and refuses the
URL if any address it resolves to is not global: loopback, private,
link-local (cloud metadata at 169.254.169.254), multicast, reserved,
unspecified, and the IPv4 addresses hidden inside IPv4-mapped IPv6. It runs at
registration and again before every attempt, and the attempt then connects to
the very address that was checked (see `sender`), so a DNS answer that changes
between the check and the connection (rebinding) cannot redirect it.
`COFFER_WEBHOOK_ALLOW_PRIVATE=1` lifts the address rule (tests, private networks).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

ALLOWED_SCHEMES = ("http", "https")

# socket.getaddrinfo's shape; a seam so tests can answer for a name without a DNS server.
Resolver = Callable[..., list[tuple[Any, ...]]]


class UnsafeUrl(ValueError):
    """The URL may not be called; the message says why, in words for the admin."""


@dataclass(frozen=True)
class Target:
    """A URL with the addresses checked for it: connect to those, send its host as Host/SNI."""

    url: httpx.URL
    addresses: tuple[str, ...]  # IP literals, in the resolver's order


def parse(url: str) -> httpx.URL:
    """The URL if its shape is acceptable (http/https, a host, no userinfo), else UnsafeUrl."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as error:
        raise UnsafeUrl("is not a valid URL") from error
    if parsed.scheme not in ALLOWED_SCHEMES:
        raise UnsafeUrl("must be an http or https URL")
    if not parsed.host:
        raise UnsafeUrl("must name a host")
    if parsed.userinfo:
        raise UnsafeUrl("must not carry a user name or password")
    return parsed


def resolve(url: str, *, allow_private: bool, getaddrinfo: Resolver | None = None) -> Target:
    """Parse and resolve `url`; UnsafeUrl unless every address is global (or private is allowed).

    `getaddrinfo` defaults to the system resolver (socket.getaddrinfo, looked up at
    each call).
    """
    parsed = parse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    lookup = getaddrinfo or socket.getaddrinfo
    try:
        infos = lookup(parsed.host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UnsafeUrl(f"host {parsed.host!r} does not resolve") from error
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise UnsafeUrl(f"host {parsed.host!r} does not resolve")
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise UnsafeUrl(f"resolves to {address}, which is not a public address")
    return Target(parsed, tuple(dict.fromkeys(addresses)))


def is_public(address: str) -> bool:
    """True for a globally routable unicast address (IPv4 or IPv6, mapped IPv4 unwrapped)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (
        ip.is_loopback
        or ip.is_link_local
        or ip.is_private
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )
