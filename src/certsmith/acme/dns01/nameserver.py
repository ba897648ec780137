"""Nameserver addresses: ``host[:port]`` parsing, formatting, and the default recursive servers.

Addresses are written the way cert-manager's flags and fields take them: ``10.0.0.53``,
``10.0.0.53:5353``, ``[2001:db8::53]:53``, ``[2001:db8::53]`` or ``ns1.example.com:53``; the
port defaults to 53. An ``https://`` URL is a DNS-over-HTTPS server (RFC 8484). Hostnames are
resolved when a query is sent (:func:`resolve_address`), through the system resolver in a
worker thread, so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import dns.resolver

from certsmith.acme.dns01.errors import DNS01ConfigError, DNSQueryError

__all__ = [
    "FALLBACK_NAMESERVERS",
    "Nameserver",
    "parse_nameserver",
    "parse_nameservers",
    "resolv_conf_nameservers",
    "resolve_address",
]

DEFAULT_PORT: Final = 53


@dataclass(frozen=True)
class Nameserver:
    """One DNS server: an IP address or hostname and a port, or a DNS-over-HTTPS ``url``."""

    host: str
    port: int = DEFAULT_PORT
    url: str | None = None

    def __str__(self) -> str:
        if self.url is not None:
            return self.url
        if ":" in self.host:
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"


FALLBACK_NAMESERVERS: Final = (Nameserver("8.8.8.8"), Nameserver("8.8.4.4"))
"""What cert-manager uses when ``/etc/resolv.conf`` names no nameserver."""


def parse_nameserver(text: str) -> Nameserver:
    """Parse a nameserver address.

    ``host``, ``host:port``, ``[v6]`` or ``[v6]:port`` (a bare IPv6 address also works), or a
    DNS-over-HTTPS ``https://host[:port]/path`` URL.

    Raises:
        DNS01ConfigError: the text is not such an address (the message quotes it).
    """
    value = text.strip()
    host, port_text = value, ""
    if value.startswith("https://"):
        return _parse_doh(text, value)
    if value.startswith("["):
        end = value.find("]")
        rest = value[end + 1 :] if end > 0 else ""
        if end < 0 or (rest and not rest.startswith(":")):
            raise DNS01ConfigError(f'nameserver "{text}" is not of the form host[:port]')
        host, port_text = value[1:end], value[end + 2 :]
    elif value.count(":") == 1:
        host, port_text = value.split(":")
    elif value.count(":") > 1 and not _is_ip(value):
        raise DNS01ConfigError(f'nameserver "{text}" is not of the form host[:port]')
    if not host:
        raise DNS01ConfigError(f'nameserver "{text}" has no host')
    if not port_text:
        return Nameserver(host)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise DNS01ConfigError(f'nameserver "{text}" has an invalid port "{port_text}"')
    return Nameserver(host, int(port_text))


def _parse_doh(text: str, value: str) -> Nameserver:
    try:
        parsed = urllib.parse.urlsplit(value)
        port = parsed.port or 443
    except ValueError as err:
        raise DNS01ConfigError(f'nameserver "{text}" is not a valid URL: {err}') from None
    if not parsed.hostname:
        raise DNS01ConfigError(
            f'nameserver "{text}" must be in the format https://<DoH RFC 8484 server address>'
        )
    return Nameserver(parsed.hostname, port, url=value)


def parse_nameservers(texts: Sequence[str]) -> tuple[Nameserver, ...]:
    """Parse each address with :func:`parse_nameserver`."""
    return tuple(parse_nameserver(text) for text in texts)


def resolv_conf_nameservers(path: Path = Path("/etc/resolv.conf")) -> tuple[Nameserver, ...]:
    """The nameservers in ``path``, or :data:`FALLBACK_NAMESERVERS` when it names none.

    Reads a file: call it once at start-up, not on the event loop's hot path.
    """
    try:
        resolver = dns.resolver.Resolver(filename=str(path), configure=True)
    except (OSError, dns.resolver.NoResolverConfiguration):
        return FALLBACK_NAMESERVERS
    found = tuple(
        Nameserver(str(server), resolver.port)
        for server in resolver.nameservers
        if isinstance(server, str)
    )
    return found or FALLBACK_NAMESERVERS


async def resolve_address(server: Nameserver) -> str:
    """The IP address to send to: the host itself, or its first address from the system resolver.

    Raises:
        DNSQueryError: the hostname does not resolve.
    """
    if _is_ip(server.host):
        return server.host
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(server.host, server.port, type=socket.SOCK_DGRAM)
    except OSError as err:
        raise DNSQueryError(f'cannot resolve nameserver "{server.host}": {err}') from err
    return str(infos[0][4][0])


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
