"""RFC 2136 dynamic updates (cert-manager's ``rfc2136`` provider), optionally TSIG-signed.

Present sends an UPDATE for the resolved zone that adds ``<fqdn> 60 IN TXT "<key>"``; cleanup
deletes that one value (RFC 2136 §2.5.4, class NONE), leaving other values at the name alone.
The TSIG key name is made absolute, the fudge is 300 s, and the four algorithms cert-manager
accepts are parsed case-insensitively, ``HMACMD5`` being the default as there.
"""

from __future__ import annotations

import binascii
from typing import Final

import dns.asyncquery
import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.tsig
import dns.update

from certsmith.acme.dns01.errors import DNS01ConfigError, DNSUpdateError
from certsmith.acme.dns01.nameserver import Nameserver, parse_nameserver, resolve_address
from certsmith.acme.dns01.provider import ChallengeRequest, SecretGetter, read_secret_key
from certsmith.api.acme import ACMEIssuerDNS01ProviderRFC2136
from certsmith.util.sensitive import Sensitive

__all__ = [
    "DEFAULT_TSIG_ALGORITHM",
    "RECORD_TTL",
    "TSIG_ALGORITHMS",
    "TSIG_FUDGE",
    "RFC2136Provider",
    "TsigKey",
    "build_update",
    "parse_tsig_algorithm",
]

RECORD_TTL: Final = 60
TSIG_FUDGE: Final = 300
DEFAULT_TSIG_ALGORITHM: Final = "HMACMD5"
TSIG_ALGORITHMS: Final = {
    "HMACMD5": dns.tsig.HMAC_MD5,
    "HMACSHA1": dns.tsig.HMAC_SHA1,
    "HMACSHA256": dns.tsig.HMAC_SHA256,
    "HMACSHA512": dns.tsig.HMAC_SHA512,
}
"""cert-manager's ``tsigAlgorithm`` values (upper-cased) and their DNS algorithm names."""

_TSIG_REJECTIONS: Final = {
    dns.tsig.PeerBadKey: (
        "BADKEY",
        "the server does not know this key name with this algorithm; check tsigKeyName and "
        "tsigAlgorithm",
    ),
    dns.tsig.PeerBadSignature: (
        "BADSIG",
        "the signature does not verify; the secret in tsigSecretSecretRef or tsigAlgorithm "
        "does not match the server's key",
    ),
    dns.tsig.PeerBadTime: (
        "BADTIME",
        f"the clocks of certsmith and the server differ by more than {TSIG_FUDGE} s",
    ),
    dns.tsig.PeerBadTruncation: ("BADTRUNC", "the server rejected the truncated signature"),
}


def parse_tsig_algorithm(text: str | None) -> dns.name.Name:
    """The TSIG algorithm for a ``tsigAlgorithm`` value; empty means ``HMACMD5``.

    Raises:
        DNS01ConfigError: not one of HMACMD5, HMACSHA1, HMACSHA256, HMACSHA512 (any case).
    """
    key = (text or DEFAULT_TSIG_ALGORITHM).strip().upper()
    try:
        return TSIG_ALGORITHMS[key]
    except KeyError:
        supported = ", ".join(TSIG_ALGORITHMS)
        raise DNS01ConfigError(
            f'unsupported TSIG algorithm "{text}" (supported: {supported})'
        ) from None


class TsigKey:
    """A TSIG key: absolute name, algorithm and base64 secret (never printed)."""

    def __init__(self, name: str, algorithm: dns.name.Name, secret: Sensitive[str]) -> None:
        self.name = dns.name.from_text(name)
        self.algorithm = algorithm
        self._secret = secret
        try:
            self.key = dns.tsig.Key(self.name, secret.reveal(), algorithm)
        except (binascii.Error, ValueError) as err:
            raise DNS01ConfigError(
                f'the TSIG secret for key "{self.name}" is not valid base64'
            ) from err

    def __repr__(self) -> str:
        return f"TsigKey({self.name}, {self.algorithm})"


def build_update(request: ChallengeRequest, *, tsig: TsigKey | None) -> dns.update.UpdateMessage:
    """The UPDATE message for ``request``: add (present) or delete (cleanup) its TXT value."""
    update = dns.update.UpdateMessage(request.resolved_zone)
    rdata = dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, [request.key.encode()])
    if request.action == "present":
        update.add(request.resolved_fqdn, RECORD_TTL, rdata)
    else:
        update.delete(request.resolved_fqdn, rdata)
    if tsig is not None:
        update.use_tsig(
            {tsig.name: tsig.key}, keyname=tsig.name, fudge=TSIG_FUDGE, algorithm=tsig.algorithm
        )
    return update


class RFC2136Provider:
    """Sends updates to ``config.nameserver`` over UDP (default) or TCP."""

    def __init__(
        self,
        config: ACMEIssuerDNS01ProviderRFC2136,
        get_secret: SecretGetter,
        *,
        update_timeout: float = 10.0,
    ) -> None:
        self._config = config
        self._get_secret = get_secret
        self._update_timeout = update_timeout

    async def present(self, request: ChallengeRequest) -> None:
        """Add the TXT value (see :class:`~certsmith.acme.dns01.provider.DNS01Provider`)."""
        await self._send(request)

    async def cleanup(self, request: ChallengeRequest) -> None:
        """Delete the TXT value (see :class:`~certsmith.acme.dns01.provider.DNS01Provider`)."""
        await self._send(request)

    async def tsig_key(self, namespace: str) -> TsigKey | None:
        """The configured TSIG key, its secret read from the resource namespace.

        ``None`` when no key name or no secret is configured: updates then go unsigned, as in
        cert-manager.

        Raises:
            DNS01ConfigError: the Secret or its key is missing, the secret is not base64, or
                the algorithm is not supported.
        """
        config = self._config
        algorithm = parse_tsig_algorithm(config.tsig_algorithm)
        ref = config.tsig_secret_secret_ref
        if not config.tsig_key_name or ref is None or not ref.name:
            return None
        secret = await read_secret_key(self._get_secret, namespace, ref)
        text = secret.reveal().decode("utf-8", "replace").strip()
        if not text:
            return None
        return TsigKey(_absolute(config.tsig_key_name), algorithm, Sensitive(text))

    async def _send(self, request: ChallengeRequest) -> None:
        server = parse_nameserver(self._config.nameserver)
        tsig = await self.tsig_key(request.resource_namespace)
        update = build_update(request, tsig=tsig)
        reply = await self._exchange(update, server, request, tsig)
        if reply.rcode() != dns.rcode.NOERROR:
            raise DNSUpdateError(
                f"DNS update failed. Server replied: {dns.rcode.to_text(reply.rcode())}"
            )

    async def _exchange(
        self,
        update: dns.update.UpdateMessage,
        server: Nameserver,
        request: ChallengeRequest,
        tsig: TsigKey | None,
    ) -> dns.message.Message:
        what = f'DNS update for zone "{request.resolved_zone}" sent to {server}'
        tcp = (self._config.protocol or "UDP") == "TCP"
        try:
            address = await resolve_address(server)
            if tcp:
                return await dns.asyncquery.tcp(
                    update, address, timeout=self._update_timeout, port=server.port
                )
            return await dns.asyncquery.udp(
                update, address, timeout=self._update_timeout, port=server.port
            )
        except dns.tsig.PeerError as err:
            code, hint = _TSIG_REJECTIONS.get(type(err), ("TSIG error", str(err)))
            name = tsig.name if tsig is not None else "?"
            raise DNSUpdateError(
                f'{what}: the server refused TSIG key "{name}" ({code}): {hint}'
            ) from err
        except (dns.tsig.BadSignature, dns.tsig.BadTime, dns.tsig.BadKey) as err:
            raise DNSUpdateError(
                f"{what}: the server's reply carries a TSIG signature that does not verify "
                f"({type(err).__name__})"
            ) from err
        except dns.exception.Timeout as err:
            raise DNSUpdateError(
                f"{what} over {'TCP' if tcp else 'UDP'}: no reply within {self._update_timeout:g} s"
            ) from err
        except (dns.exception.DNSException, OSError, EOFError) as err:
            raise DNSUpdateError(f"{what} failed: {err or type(err).__name__}") from err


def _absolute(name: str) -> str:
    return name if name.endswith(".") else name + "."
