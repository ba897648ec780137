"""A stand-in secondary nameserver: answers UDP queries from a dict, or with a fixed rcode.

It plays ``ns2.two-ns.test`` (tests/peers/bind9.py) so a test can make one of a zone's two
authoritative servers lag behind or fail, which one bind9 cannot do.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset


class Secondary(asyncio.DatagramProtocol):
    """Serves ``txt[name]`` (NXDOMAIN for unknown names) unless ``rcode`` is set."""

    def __init__(self) -> None:
        self.txt: dict[str, list[str]] = {}
        self.rcode: dns.rcode.Rcode | None = None
        self.queries: list[tuple[str, bool]] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a datagram transport here

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        name = query.question[0].name.to_text()
        self.queries.append((name, bool(query.flags & dns.flags.RD)))
        reply = dns.message.make_response(query)
        reply.flags |= dns.flags.AA
        if self.rcode is not None:
            reply.set_rcode(self.rcode)
        elif name not in self.txt:
            reply.set_rcode(dns.rcode.NXDOMAIN)
        elif query.question[0].rdtype == dns.rdatatype.TXT:
            reply.answer.append(
                dns.rrset.from_text_list(
                    name,
                    60,
                    dns.rdataclass.IN,
                    dns.rdatatype.TXT,
                    [f'"{v}"' for v in self.txt[name]],
                )
            )
        assert self.transport is not None
        self.transport.sendto(reply.to_wire(), addr)


@contextlib.asynccontextmanager
async def running_secondary(host: str, port: int) -> AsyncIterator[Secondary]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(Secondary, local_addr=(host, port))
    try:
        yield protocol
    finally:
        transport.close()
