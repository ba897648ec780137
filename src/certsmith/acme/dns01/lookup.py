"""Where a DNS-01 record goes: the challenge name, CNAME following and the zone's SOA and NS.

All lookups are recursive queries (RD set) to the given nameservers, which may equally be
recursive resolvers or the zone's own authoritative servers (the integration tests use bind9
with recursion off).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import dns.name
import dns.rdatatype
import dns.rrset

from certsmith.acme.dns01.errors import DNS01Error, DNSQueryError
from certsmith.acme.dns01.query import DNSClient

__all__ = [
    "AuthoritativeServer",
    "authoritative_nameservers",
    "challenge_fqdn",
    "find_zone",
    "follow_cnames",
]

_MAX_CNAME_CHAIN = 16
"""Longer chains are refused even without a loop; resolvers give up around here too."""


def challenge_fqdn(dns_name: str) -> str:
    """``_acme-challenge.<dnsName>.``; a wildcard's ``*.`` is dropped (RFC 8555 §8.4)."""
    name = dns_name.strip().rstrip(".")
    name = name.removeprefix("*.")
    return f"_acme-challenge.{name}."


async def follow_cnames(client: DNSClient, fqdn: str) -> str:
    """The end of the CNAME chain starting at ``fqdn`` (``fqdn`` itself when there is none).

    A lookup answered with anything but NOERROR ends the chain there.

    Raises:
        DNS01Error: the chain loops or is longer than 16 names.
        DNSQueryError: no nameserver answered.
    """
    seen = [fqdn]
    current = fqdn
    while True:
        answer = await client.query(current, dns.rdatatype.CNAME)
        if answer.rcode != "NOERROR":
            return current
        target = _cname_target(answer.message.answer, current)
        if target is None:
            return current
        if target in seen:
            raise DNS01Error(
                f'found a CNAME loop: "{target}" is reached again when following "{fqdn}"'
            )
        if len(seen) >= _MAX_CNAME_CHAIN:
            raise DNS01Error(f'the CNAME chain from "{fqdn}" is longer than {_MAX_CNAME_CHAIN}')
        seen.append(target)
        current = target


def _cname_target(section: Sequence[dns.rrset.RRset], owner: str) -> str | None:
    wanted = dns.name.from_text(owner)
    for rrset in section:
        if rrset.rdtype == dns.rdatatype.CNAME and rrset.name == wanted:
            for rdata in rrset:
                return str(rdata.target)
    return None


async def find_zone(client: DNSClient, fqdn: str) -> str:
    """The zone holding ``fqdn``: walk up from it until a name answers with its own SOA.

    NXDOMAIN and NOERROR-without-SOA mean "higher up"; a name that is a CNAME cannot be a zone
    apex (RFC 2181 §10.1) and is skipped.

    Raises:
        DNS01Error: a server answered SOA with another rcode, or no zone was found.
        DNSQueryError: no nameserver answered.
    """
    name = dns.name.from_text(fqdn)
    while name != dns.name.root:
        text = name.to_text()
        answer = await client.query(text, dns.rdatatype.SOA)
        if answer.rcode == "NXDOMAIN":
            name = name.parent()
            continue
        if answer.rcode != "NOERROR":
            raise DNS01Error(
                f'looking up the SOA record of "{text}" at {answer.server}: expected NOERROR or '
                f"NXDOMAIN, got {answer.rcode}"
            )
        rrsets = answer.message.answer
        if not any(rrset.rdtype == dns.rdatatype.CNAME for rrset in rrsets):
            for rrset in rrsets:
                if rrset.rdtype == dns.rdatatype.SOA:
                    return rrset.name.to_text()
        name = name.parent()
    raise DNS01Error(f'could not find the zone (SOA record) of "{fqdn}" using nameservers {client}')


@dataclass(frozen=True)
class AuthoritativeServer:
    """One NS record of a zone and the addresses its target has."""

    name: str
    addresses: tuple[str, ...]


async def authoritative_nameservers(client: DNSClient, zone: str) -> list[AuthoritativeServer]:
    """The zone's NS records, each with its IPv4/IPv6 addresses (glue first, else looked up).

    Raises:
        DNS01Error: the NS lookup failed, found none, or an NS name has no address.
        DNSQueryError: no nameserver answered.
    """
    answer = await client.query(zone, dns.rdatatype.NS)
    if answer.rcode != "NOERROR":
        raise DNS01Error(
            f'looking up the NS records of "{zone}" at {answer.server}: {answer.rcode}'
        )
    targets = [
        str(rdata.target)
        for rrset in answer.message.answer
        if rrset.rdtype == dns.rdatatype.NS
        for rdata in rrset
    ]
    if not targets:
        raise DNS01Error(f'could not determine the authoritative nameservers of "{zone}"')
    glue = _addresses_by_name(answer.message.additional)
    result = []
    for target in sorted(set(targets)):
        addresses: list[str] = glue.get(target, [])
        problems: list[str] = []
        if not addresses:
            addresses, problems = await _lookup_addresses(client, target)
        if not addresses:
            why = f": {'; '.join(problems)}" if problems else ""
            raise DNS01Error(f'authoritative nameserver "{target}" of "{zone}" has no address{why}')
        result.append(AuthoritativeServer(target, tuple(addresses)))
    return result


def _addresses_by_name(section: Sequence[dns.rrset.RRset]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for rrset in section:
        if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            found.setdefault(rrset.name.to_text(), []).extend(str(rdata.address) for rdata in rrset)
    return found


async def _lookup_addresses(client: DNSClient, name: str) -> tuple[list[str], list[str]]:
    """IPv4 then IPv6 addresses of ``name``, and what went wrong looking them up."""
    addresses: list[str] = []
    problems: list[str] = []
    for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
        try:
            answer = await client.query(name, rdtype)
        except DNSQueryError as err:
            problems.append(str(err))
            continue
        if answer.rcode == "NOERROR":
            addresses += _addresses_by_name(answer.message.answer).get(name, [])
        else:
            problems.append(f"{dns.rdatatype.to_text(rdtype)} lookup answered {answer.rcode}")
    return addresses, problems
