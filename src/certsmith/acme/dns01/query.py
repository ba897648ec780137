"""Sending one DNS query to a list of nameservers, asynchronously (``dns.asyncquery``).

Like cert-manager's ``dnsQuery``, the servers are tried in order and the first one that answers
at all wins, whatever its rcode: the callers decide what NXDOMAIN or REFUSED mean. A truncated
UDP answer is retried over TCP. A DNS-over-HTTPS server (an ``https://`` nameserver) gets the
query as an RFC 8484 POST through aiohttp, already the project's HTTP stack (dnspython's own DoH
needs another one).
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import aiohttp
import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype

from certsmith.acme.dns01.errors import DNSQueryError
from certsmith.acme.dns01.nameserver import Nameserver, resolve_address

__all__ = ["Answer", "DNSClient", "query_one"]

_EDNS_PAYLOAD: Final = 4096
_DOH_MEDIA_TYPE: Final = "application/dns-message"
_DOH_MAX_REPLY: Final = 65535


@dataclass(frozen=True)
class Answer:
    """A server's reply to one query, with the server that sent it."""

    server: Nameserver
    message: dns.message.Message

    @property
    def rcode(self) -> str:
        """The rcode's name: ``NOERROR``, ``NXDOMAIN``, ``REFUSED``..."""
        return dns.rcode.to_text(self.message.rcode())


async def query_one(
    name: str,
    rdtype: dns.rdatatype.RdataType,
    server: Nameserver,
    *,
    recursive: bool,
    query_timeout: float,
    doh_ssl: ssl.SSLContext | None = None,
) -> Answer:
    """Ask ``server`` for ``name``/``rdtype`` once (TCP again if the UDP answer is truncated).

    ``doh_ssl`` verifies DNS-over-HTTPS servers (default: the system's trusted CAs).

    Raises:
        DNSQueryError: no answer (timeout, refused connection, malformed reply).
    """
    request = dns.message.make_query(name, rdtype, use_edns=0, payload=_EDNS_PAYLOAD)
    if not recursive:
        request.flags &= ~dns.flags.RD
    kind = dns.rdatatype.to_text(rdtype)
    if server.url is not None:
        reply = await _query_doh(request, server.url, query_timeout, doh_ssl)
        if reply is None or isinstance(reply, str):
            problem = reply or f"no reply within {query_timeout:g} s"
            raise DNSQueryError(f"{kind} query for {name} to {server} failed: {problem}")
        return Answer(server, reply)
    try:
        address = await resolve_address(server)
        reply, _ = await dns.asyncquery.udp_with_fallback(
            request, address, timeout=query_timeout, port=server.port
        )
    except (dns.exception.DNSException, OSError, EOFError) as err:
        raise DNSQueryError(
            f"{kind} query for {name} to {server} failed: {_describe(err)}"
        ) from err
    return Answer(server, reply)


async def _query_doh(
    request: dns.message.Message, url: str, query_timeout: float, ssl_context: ssl.SSLContext | None
) -> dns.message.Message | str | None:
    """The DoH reply; a text saying what went wrong; or ``None`` on timeout."""
    request.id = 0  # RFC 8484 §4.1: ID 0 keeps the request cacheable
    headers = {"content-type": _DOH_MEDIA_TYPE, "accept": _DOH_MEDIA_TYPE}
    timeout = aiohttp.ClientTimeout(total=query_timeout)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(
                url, data=request.to_wire(), headers=headers, ssl=ssl_context or True
            ) as response,
        ):
            if response.status != 200:
                return f"HTTP {response.status} {response.reason or ''}".strip()
            body = await response.content.read(_DOH_MAX_REPLY + 1)
    except TimeoutError:
        return None
    except aiohttp.ClientError as err:
        return str(err) or type(err).__name__
    try:
        reply = dns.message.from_wire(body)
    except dns.exception.DNSException as err:
        return f"malformed DNS reply: {err}"
    if not request.is_response(reply):
        return "the reply does not answer the query"
    return reply


@dataclass(frozen=True)
class DNSClient:
    """Nameservers to ask, in order, and how long to wait for each answer (seconds).

    ``doh_ssl`` verifies DNS-over-HTTPS nameservers (``None``: the system's trusted CAs).
    """

    servers: tuple[Nameserver, ...]
    query_timeout: float = 10.0
    doh_ssl: ssl.SSLContext | None = None

    def __str__(self) -> str:
        return "[" + " ".join(str(server) for server in self.servers) + "]"

    def with_servers(self, servers: Sequence[Nameserver]) -> DNSClient:
        """The same timeout, other nameservers."""
        return DNSClient(tuple(servers), self.query_timeout, self.doh_ssl)

    async def query(
        self, name: str, rdtype: dns.rdatatype.RdataType, *, recursive: bool = True
    ) -> Answer:
        """Ask each server in turn until one answers (any rcode).

        Raises:
            DNSQueryError: none answered; the message lists what went wrong with each.
        """
        failures: list[str] = []
        for server in self.servers:
            try:
                return await query_one(
                    name,
                    rdtype,
                    server,
                    recursive=recursive,
                    query_timeout=self.query_timeout,
                    doh_ssl=self.doh_ssl,
                )
            except DNSQueryError as err:
                failures.append(str(err))
        if not failures:
            raise DNSQueryError(f"no nameservers to query for {name}")
        raise DNSQueryError("; ".join(failures))


def _describe(err: BaseException) -> str:
    text = str(err)
    if isinstance(err, dns.exception.Timeout):
        return text or "timed out"
    return text or type(err).__name__
