"""The DNS-01 solver the Challenge controller calls: present, cleanup and the self-check.

For a Challenge it works out the record name (``_acme-challenge.<dnsName>.``, the end of its
CNAME chain with ``cnameStrategy: Follow``) and its zone, builds the
:class:`~certsmith.acme.dns01.provider.ChallengeRequest` and hands it to the provider the
solver config selects:

* ``rfc2136`` → :class:`~certsmith.acme.dns01.rfc2136.RFC2136Provider`;
* ``webhook`` with ``groupName: acme.certsmith.io``, ``solverName: exec`` →
  :class:`~certsmith.acme.dns01.execprovider.ExecProvider`.

Other providers (cloud APIs, out-of-tree webhooks) are refused with a message naming the
supported ones.

Lookups (CNAMEs, SOA, NS) and the self-check use the solver's ``nameservers`` when it lists
any, else the operator's recursive nameservers (``/etc/resolv.conf`` by default); listing
``nameservers`` on the solver also turns the authoritative check off, as in cert-manager.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from certsmith.acme.dns01.errors import DNS01ConfigError
from certsmith.acme.dns01.execprovider import (
    EXEC_GROUP_NAME,
    EXEC_SOLVER_NAME,
    ExecProvider,
    parse_exec_command,
)
from certsmith.acme.dns01.lookup import challenge_fqdn, find_zone, follow_cnames
from certsmith.acme.dns01.nameserver import Nameserver, parse_nameservers, resolv_conf_nameservers
from certsmith.acme.dns01.propagation import PropagationResult, check_propagation
from certsmith.acme.dns01.provider import (
    ChallengeAction,
    ChallengeRequest,
    DNS01Provider,
    SecretGetter,
)
from certsmith.acme.dns01.query import DNSClient
from certsmith.acme.dns01.rfc2136 import RFC2136Provider
from certsmith.api.acme import ACMEChallengeSolverDNS01, Challenge

__all__ = ["DNS01Settings", "DNS01Solver"]

_UNSUPPORTED = (
    "acme_dns",
    "akamai",
    "azure_dns",
    "cloud_dns",
    "cloudflare",
    "digitalocean",
    "route53",
)
_WIRE = {
    "acme_dns": "acmeDNS",
    "azure_dns": "azureDNS",
    "cloud_dns": "cloudDNS",
}


@dataclass(frozen=True)
class DNS01Settings:
    """Operator settings of the DNS-01 solver (flags of ``certsmith serve``/``controller``).

    Attributes:
        recursive_nameservers: ``--dns01-recursive-nameservers``; empty means the
            nameservers of ``/etc/resolv.conf`` (8.8.8.8:53 and 8.8.4.4:53 if it has none).
        check_authoritative: ``False`` is ``--dns01-recursive-nameservers-only``: the
            self-check asks the recursive nameservers instead of the zone's NS.
        authoritative_port: the port the zone's NS addresses are asked on (53; tests point
            it at a nameserver on a high loopback port).
        query_timeout: seconds to wait for each DNS answer.
        update_timeout: seconds to wait for each RFC 2136 UPDATE reply.
        exec_commands: scripts the exec provider may run, by the name Issuers use.
        doh_ssl_context: how DNS-over-HTTPS nameservers (``https://`` URLs) are verified;
            ``None`` trusts the system's CAs.
    """

    recursive_nameservers: tuple[Nameserver, ...] = ()
    check_authoritative: bool = True
    authoritative_port: int = 53
    query_timeout: float = 10.0
    update_timeout: float = 10.0
    exec_commands: Mapping[str, Path] = field(default_factory=dict)
    doh_ssl_context: ssl.SSLContext | None = None

    @classmethod
    def from_flags(
        cls,
        recursive_nameservers: Sequence[str] = (),
        *,
        recursive_only: bool = False,
        exec_commands: Sequence[str] = (),
        query_timeout: float = 10.0,
        update_timeout: float = 10.0,
    ) -> DNS01Settings:
        """Settings from command-line texts: ``host[:port]`` nameservers, ``NAME=PATH`` scripts.

        Raises:
            DNS01ConfigError: a nameserver is not ``host[:port]``.
            ValueError: a script registration is not ``NAME=/absolute/path``.
        """
        return cls(
            recursive_nameservers=parse_nameservers(recursive_nameservers),
            check_authoritative=not recursive_only,
            query_timeout=query_timeout,
            update_timeout=update_timeout,
            exec_commands=dict(parse_exec_command(text) for text in exec_commands),
        )


class DNS01Solver:
    """Presents, cleans up and checks DNS-01 challenges; one per controller process."""

    def __init__(self, settings: DNS01Settings, get_secret: SecretGetter) -> None:
        self.settings = settings
        self._get_secret = get_secret
        # Read once, here, so that no later call reads a file on the event loop.
        self._recursive = settings.recursive_nameservers or resolv_conf_nameservers()
        self._exec = ExecProvider(settings.exec_commands, get_secret)

    def lookup_client(self, dns01: ACMEChallengeSolverDNS01) -> DNSClient:
        """Where CNAME, SOA and NS lookups go for this solver.

        Raises:
            DNS01ConfigError: a solver nameserver is not ``host[:port]``.
        """
        servers = parse_nameservers(dns01.nameservers or ()) or self._recursive
        return DNSClient(tuple(servers), self.settings.query_timeout, self.settings.doh_ssl_context)

    def provider(self, dns01: ACMEChallengeSolverDNS01) -> DNS01Provider:
        """The provider the solver config selects.

        Raises:
            DNS01ConfigError: no provider, or one certsmith does not implement.
        """
        if dns01.rfc2136 is not None:
            return RFC2136Provider(
                dns01.rfc2136, self._get_secret, update_timeout=self.settings.update_timeout
            )
        if dns01.webhook is not None:
            hook = dns01.webhook
            if hook.group_name == EXEC_GROUP_NAME and hook.solver_name == EXEC_SOLVER_NAME:
                return self._exec
            raise DNS01ConfigError(
                f'DNS-01 webhook solver "{hook.solver_name}" of group "{hook.group_name}" is not '
                f"supported: certsmith runs no webhook solvers except groupName "
                f'"{EXEC_GROUP_NAME}", solverName "{EXEC_SOLVER_NAME}" (the exec provider)'
            )
        for name in _UNSUPPORTED:
            if getattr(dns01, name) is not None:
                raise DNS01ConfigError(
                    f'DNS-01 provider "{_WIRE.get(name, name)}" is not supported by certsmith; '
                    "use rfc2136, or the exec provider (webhook groupName "
                    f'"{EXEC_GROUP_NAME}") with a script for your DNS provider'
                )
        raise DNS01ConfigError("no DNS-01 provider is configured in the solver")

    async def record_name(self, challenge: Challenge) -> str:
        """``_acme-challenge.<dnsName>.``, or the end of its CNAME chain with ``Follow``.

        Raises:
            DNS01Error: the chain loops, or a lookup failed.
        """
        dns01 = _dns01(challenge)
        fqdn = challenge_fqdn(challenge.spec.dns_name)
        if dns01.cname_strategy == "Follow":
            fqdn = await follow_cnames(self.lookup_client(dns01), fqdn)
        return fqdn

    async def request(
        self, challenge: Challenge, action: ChallengeAction, resource_namespace: str
    ) -> ChallengeRequest:
        """The resolved request for ``challenge``: record name after CNAMEs, and its zone.

        Raises:
            DNS01Error: the challenge has no dns01 solver, or a lookup failed.
        """
        dns01 = _dns01(challenge)
        client = self.lookup_client(dns01)
        fqdn = await self.record_name(challenge)
        zone = await find_zone(client, fqdn)
        config: object = None
        if dns01.rfc2136 is not None:
            config = dns01.rfc2136.to_dict()
        elif dns01.webhook is not None:
            config = dns01.webhook.config
        return ChallengeRequest(
            uid=challenge.metadata.uid or "",
            action=action,
            dns_name=challenge.spec.dns_name,
            key=challenge.spec.key,
            resource_namespace=resource_namespace,
            resolved_fqdn=fqdn,
            resolved_zone=zone,
            config=config,
        )

    async def present(self, challenge: Challenge, resource_namespace: str) -> ChallengeRequest:
        """Write the challenge's TXT record; returns the request made (fqdn and zone used).

        Raises:
            DNS01Error: the message is the Challenge's reason.
        """
        return await self._act(challenge, "present", resource_namespace)

    async def cleanup(self, challenge: Challenge, resource_namespace: str) -> ChallengeRequest:
        """Remove the challenge's TXT value (other values at the name stay).

        Raises:
            DNS01Error: the message is the CleanUpError event's.
        """
        return await self._act(challenge, "cleanup", resource_namespace)

    async def _act(
        self, challenge: Challenge, action: ChallengeAction, resource_namespace: str
    ) -> ChallengeRequest:
        # The provider first: an unsupported one fails before any lookup is made.
        provider = self.provider(_dns01(challenge))
        request = await self.request(challenge, action, resource_namespace)
        if action == "present":
            await provider.present(request)
        else:
            await provider.cleanup(request)
        return request

    async def check(self, challenge: Challenge) -> PropagationResult:
        """The self-check: is the record visible on every nameserver that matters?

        ``result.propagated`` says whether to go on; otherwise ``result.reason()`` is
        ``DNS record for "<d>" not yet propagated (<fqdn> TXT: <server>: <answer>; ...)``.

        Raises:
            PropagationCheckError: a server answered an error rcode or not at all
                (``err.result`` has every answer).
            DNS01Error: the zone or its nameservers could not be determined.
        """
        dns01 = _dns01(challenge)
        fqdn = await self.record_name(challenge)
        return await check_propagation(
            dns_name=challenge.spec.dns_name,
            fqdn=fqdn,
            value=challenge.spec.key,
            recursive=self.lookup_client(dns01),
            authoritative=self.settings.check_authoritative and not dns01.nameservers,
            authoritative_port=self.settings.authoritative_port,
        )


def _dns01(challenge: Challenge) -> ACMEChallengeSolverDNS01:
    dns01 = challenge.spec.solver.dns01
    if dns01 is None:
        raise DNS01ConfigError(
            f'challenge for "{challenge.spec.dns_name}" has no dns01 solver configured'
        )
    return dns01
