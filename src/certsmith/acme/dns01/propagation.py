"""The DNS-01 self-check: is the TXT record visible where the ACME server will look?

Two modes, as in cert-manager:

* authoritative (default): find the zone of the record (SOA walk through the recursive
  nameservers), its NS records and their addresses, then ask **every** NS, without
  recursion, for the TXT record. Each NS name's addresses are tried in turn until one answers.
* recursive-only (the solver lists its own ``nameservers``, or the operator turned
  authoritative checks off): ask every recursive nameserver, with recursion.

A server answering NXDOMAIN, or NOERROR without the value, means "not yet". Any other rcode,
or no answer at all, is an error. Every server's answer is kept in the result so the Challenge
can show which server said what.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import dns.rdatatype

from certsmith.acme.dns01.errors import DNS01Error, DNSQueryError
from certsmith.acme.dns01.lookup import authoritative_nameservers, find_zone
from certsmith.acme.dns01.nameserver import Nameserver
from certsmith.acme.dns01.query import DNSClient

__all__ = [
    "PropagationCheckError",
    "PropagationResult",
    "ServerAnswer",
    "check_propagation",
    "not_propagated_message",
]


def not_propagated_message(dns_name: str) -> str:
    """cert-manager's text for a record that is not visible yet (SPEC §6.7)."""
    return f'DNS record for "{dns_name}" not yet propagated'


@dataclass(frozen=True)
class ServerAnswer:
    """What one nameserver said about the TXT record.

    ``server`` is ``host:port``, preceded by the NS name in authoritative mode
    (``ns1.example.test. (127.0.0.1:53)``). ``rcode`` is empty when no answer came, and
    ``error`` then says why.
    """

    server: str
    rcode: str
    values: tuple[str, ...] = ()
    error: str | None = None

    def has(self, value: str) -> bool:
        """Whether the answer holds a TXT record whose joined strings equal ``value``."""
        return self.rcode == "NOERROR" and value in self.values

    @property
    def failed(self) -> bool:
        """No answer, or an rcode that is neither NOERROR nor NXDOMAIN."""
        return self.error is not None or self.rcode not in ("NOERROR", "NXDOMAIN")

    def describe(self) -> str:
        """``<server>: NXDOMAIN`` / ``no TXT record`` / ``TXT "a", "b"`` / the error."""
        if self.error is not None:
            return f"{self.server}: {self.error}"
        if self.rcode != "NOERROR":
            return f"{self.server}: {self.rcode}"
        if not self.values:
            return f"{self.server}: no TXT record"
        return f"{self.server}: TXT " + ", ".join(f'"{value}"' for value in self.values)


@dataclass(frozen=True)
class PropagationResult:
    """The outcome of one check: propagated or not, and every server's answer."""

    dns_name: str
    fqdn: str
    authoritative: bool
    answers: tuple[ServerAnswer, ...]
    propagated: bool

    @property
    def message(self) -> str:
        """``DNS record for "<d>" not yet propagated`` (or that it is propagated)."""
        if self.propagated:
            return f'DNS record for "{self.dns_name}" propagated'
        return not_propagated_message(self.dns_name)

    def details(self) -> str:
        """Which server answered what, ``; ``-separated, for the Challenge's reason."""
        return "; ".join(answer.describe() for answer in self.answers)

    def reason(self) -> str:
        """``<message> (<fqdn> TXT: <details>)``: what a Challenge's reason should show."""
        return f"{self.message} ({self.fqdn} TXT: {self.details()})"


class PropagationCheckError(DNS01Error):
    """A nameserver answered the check with an error rcode, or not at all.

    ``result`` holds every server's answer, the failed ones included.
    """

    def __init__(self, message: str, result: PropagationResult) -> None:
        super().__init__(message)
        self.result = result


async def check_propagation(
    *,
    dns_name: str,
    fqdn: str,
    value: str,
    recursive: DNSClient,
    authoritative: bool,
    authoritative_port: int = 53,
) -> PropagationResult:
    """Check that every relevant nameserver serves ``fqdn`` TXT ``value``.

    ``authoritative_port`` is the port NS-derived addresses are queried on (53 everywhere
    except in tests, whose nameserver listens on a high loopback port).

    Raises:
        PropagationCheckError: a server failed to answer or answered an error rcode; the
            message names the server, and ``err.result`` holds every answer.
        DNS01Error: the zone or its nameservers could not be determined.
    """
    targets: list[tuple[str, tuple[Nameserver, ...]]]
    if authoritative:
        zone = await find_zone(recursive, fqdn)
        found = await authoritative_nameservers(recursive, zone)
        targets = [
            (ns.name, tuple(Nameserver(address, authoritative_port) for address in ns.addresses))
            for ns in found
        ]
    else:
        targets = [("", (server,)) for server in recursive.servers]
    answers = await asyncio.gather(
        *(
            _ask(label, recursive.with_servers(servers), fqdn, recursive=not authoritative)
            for label, servers in targets
        )
    )
    result = PropagationResult(
        dns_name=dns_name,
        fqdn=fqdn,
        authoritative=authoritative,
        answers=tuple(answers),
        propagated=bool(answers) and all(answer.has(value) for answer in answers),
    )
    failed = [answer for answer in answers if answer.failed]
    if failed:
        raise PropagationCheckError(
            f"checking {fqdn} TXT: " + "; ".join(answer.describe() for answer in failed),
            result,
        )
    return result


async def _ask(label: str, client: DNSClient, fqdn: str, *, recursive: bool) -> ServerAnswer:
    def name(server: object) -> str:
        return f"{label} ({server})" if label else str(server)

    try:
        answer = await client.query(fqdn, dns.rdatatype.TXT, recursive=recursive)
    except DNSQueryError as err:
        # The error names the address(es) tried; the label adds which NS they belong to.
        return ServerAnswer(label or ", ".join(map(str, client.servers)), "", error=str(err))
    values = tuple(
        b"".join(rdata.strings).decode("utf-8", "replace")
        for rrset in answer.message.answer
        if rrset.rdtype == dns.rdatatype.TXT
        for rdata in rrset
    )
    return ServerAnswer(name(answer.server), answer.rcode, values)
