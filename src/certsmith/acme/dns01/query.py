"""Sending one DNS query to a list of nameservers, asynchronously (``dns.asyncquery``).

Like cert-manager's ``dnsQuery``, the servers are tried in order and the first one that answers
at all wins, whatever its rcode: the callers decide what NXDOMAIN or REFUSED mean. A truncated
UDP answer is retried over TCP.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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

_EDNS_PAYLOAD = 4096


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
) -> Answer:
    """Ask ``server`` for ``name``/``rdtype`` once (TCP again if the UDP answer is truncated).

    Raises:
        DNSQueryError: no answer (timeout, refused connection, malformed reply).
    """
    request = dns.message.make_query(name, rdtype, use_edns=0, payload=_EDNS_PAYLOAD)
    if not recursive:
        request.flags &= ~dns.flags.RD
    try:
        address = await resolve_address(server)
        reply, _ = await dns.asyncquery.udp_with_fallback(
            request, address, timeout=query_timeout, port=server.port
        )
    except (dns.exception.DNSException, OSError, EOFError) as err:
        kind = dns.rdatatype.to_text(rdtype)
        raise DNSQueryError(
            f"{kind} query for {name} to {server} failed: {_describe(err)}"
        ) from err
    return Answer(server, reply)


@dataclass(frozen=True)
class DNSClient:
    """Nameservers to ask, in order, and how long to wait for each answer (seconds)."""

    servers: tuple[Nameserver, ...]
    query_timeout: float = 10.0

    def __str__(self) -> str:
        return "[" + " ".join(str(server) for server in self.servers) + "]"

    def with_servers(self, servers: Sequence[Nameserver]) -> DNSClient:
        """The same timeout, other nameservers."""
        return DNSClient(tuple(servers), self.query_timeout)

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
                    name, rdtype, server, recursive=recursive, query_timeout=self.query_timeout
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
