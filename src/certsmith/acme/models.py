"""RFC 8555 resources as the client returns them: frozen, typed, parsed once.

Statuses stay plain strings (constants in :class:`Status`): a server may invent one, and
the controllers copy it into ``Order.status.state`` anyway. Times are aware UTC datetimes.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from certsmith.acme.problems import AcmeProtocolError, Problem


class Status:
    """Resource statuses of RFC 8555 §7.1.6."""

    PENDING = "pending"
    READY = "ready"
    PROCESSING = "processing"
    VALID = "valid"
    INVALID = "invalid"
    EXPIRED = "expired"
    DEACTIVATED = "deactivated"
    REVOKED = "revoked"


FINAL_ORDER_STATES = frozenset({Status.VALID, Status.INVALID, Status.EXPIRED, Status.REVOKED})
"""Order statuses after which polling stops (``ready`` is a waiting point, not final)."""


class ChallengeType:
    """Challenge types certsmith solves."""

    HTTP01 = "http-01"
    DNS01 = "dns-01"
    TLSALPN01 = "tls-alpn-01"


def parse_time(value: Any) -> dt.datetime | None:
    """Parse an RFC 3339 timestamp (Go servers send nanoseconds; Python takes microseconds)."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("z", "Z")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    if "." in text:
        head, _, rest = text.partition(".")
        digits = "".join(c for c in rest if c.isdigit())
        zone = rest[len(digits) :]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def format_time(value: dt.datetime) -> str:
    """RFC 3339 in UTC with a ``Z``, as ACME servers expect in ``notBefore``/``notAfter``."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _problem(value: Any) -> Problem | None:
    return Problem.from_json(value) if isinstance(value, Mapping) else None


def _require(data: Mapping[str, Any], key: str, what: str) -> Any:
    if key not in data:
        raise AcmeProtocolError(f"the ACME server's {what} has no {key!r} field")
    return data[key]


@dataclass(frozen=True)
class Identifier:
    """An ACME identifier: ``dns`` (a name, ``*.`` for wildcards) or ``ip``."""

    type: str
    value: str

    @classmethod
    def dns(cls, name: str) -> Identifier:
        """A DNS identifier."""
        return cls("dns", name)

    @classmethod
    def ip(cls, address: str) -> Identifier:
        """An IP identifier in RFC 8738's canonical text form."""
        return cls("ip", str(ipaddress.ip_address(address)))

    def to_json(self) -> dict[str, str]:
        """The wire form."""
        return {"type": self.type, "value": self.value}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Identifier:
        """Parse the wire form."""
        return cls(str(data.get("type", "")), str(data.get("value", "")))


@dataclass(frozen=True)
class Directory:
    """The server's directory (RFC 8555 §7.1.1); optional URLs are ``None`` when absent."""

    url: str
    new_nonce: str
    new_account: str
    new_order: str
    revoke_cert: str
    key_change: str | None = None
    new_authz: str | None = None
    renewal_info: str | None = None
    """RFC 9773 ``renewalInfo`` base URL; ``None`` when the server has no ARI."""
    terms_of_service: str | None = None
    website: str | None = None
    external_account_required: bool = False
    profiles: Mapping[str, str] = field(default_factory=dict)
    """Certificate profiles the server offers (name → description); empty when none."""

    @classmethod
    def from_json(cls, url: str, data: Mapping[str, Any]) -> Directory:
        """Parse a directory document."""
        meta = data.get("meta") if isinstance(data.get("meta"), Mapping) else {}
        assert isinstance(meta, Mapping)
        profiles = meta.get("profiles") if isinstance(meta.get("profiles"), Mapping) else {}
        assert isinstance(profiles, Mapping)
        return cls(
            url=url,
            new_nonce=str(_require(data, "newNonce", "directory")),
            new_account=str(_require(data, "newAccount", "directory")),
            new_order=str(_require(data, "newOrder", "directory")),
            revoke_cert=str(_require(data, "revokeCert", "directory")),
            key_change=data.get("keyChange"),
            new_authz=data.get("newAuthz"),
            renewal_info=data.get("renewalInfo") or None,
            terms_of_service=meta.get("termsOfService"),
            website=meta.get("website"),
            external_account_required=bool(meta.get("externalAccountRequired", False)),
            profiles={str(k): str(v) for k, v in profiles.items()},
        )


@dataclass(frozen=True)
class Account:
    """An ACME account (RFC 8555 §7.1.2)."""

    url: str
    status: str
    contact: tuple[str, ...] = ()
    orders: str | None = None
    terms_of_service_agreed: bool | None = None
    external_account_binding: bool = False
    """True when the server reports an ``externalAccountBinding`` on the account."""

    @property
    def emails(self) -> tuple[str, ...]:
        """The ``mailto:`` contacts without the scheme."""
        return tuple(c.removeprefix("mailto:") for c in self.contact if c.startswith("mailto:"))

    @classmethod
    def from_json(cls, url: str, data: Mapping[str, Any]) -> Account:
        """Parse an account object whose URL came from ``Location``."""
        return cls(
            url=url,
            status=str(data.get("status", "")),
            contact=tuple(str(c) for c in data.get("contact") or ()),
            orders=data.get("orders"),
            terms_of_service_agreed=data.get("termsOfServiceAgreed"),
            external_account_binding=data.get("externalAccountBinding") is not None,
        )


@dataclass(frozen=True)
class Challenge:
    """A challenge of an authorization (RFC 8555 §8)."""

    url: str
    type: str
    token: str
    status: str
    error: Problem | None = None
    validated: dt.datetime | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Challenge:
        """Parse a challenge object."""
        return cls(
            url=str(_require(data, "url", "challenge")),
            type=str(data.get("type", "")),
            token=str(data.get("token", "")),
            status=str(data.get("status", "")),
            error=_problem(data.get("error")),
            validated=parse_time(data.get("validated")),
        )


@dataclass(frozen=True)
class Authorization:
    """An authorization: proof of control over one identifier (RFC 8555 §7.1.4).

    For a wildcard the identifier is the base name (``example.com``) and ``wildcard`` is True.
    """

    url: str
    identifier: Identifier
    status: str
    wildcard: bool = False
    challenges: tuple[Challenge, ...] = ()
    expires: dt.datetime | None = None
    retry_after: float | None = None
    """Seconds the server asked to wait before polling again (``Retry-After``), if any."""

    def challenge(self, type_: str) -> Challenge | None:
        """The offered challenge of ``type_`` (``http-01``, ``dns-01``), if any."""
        return next((c for c in self.challenges if c.type == type_), None)

    @classmethod
    def from_json(
        cls, url: str, data: Mapping[str, Any], *, retry_after: float | None = None
    ) -> Authorization:
        """Parse an authorization object fetched from ``url``."""
        return cls(
            url=url,
            identifier=Identifier.from_json(_require(data, "identifier", "authorization")),
            status=str(data.get("status", "")),
            wildcard=bool(data.get("wildcard", False)),
            challenges=tuple(Challenge.from_json(c) for c in data.get("challenges") or ()),
            expires=parse_time(data.get("expires")),
            retry_after=retry_after,
        )


@dataclass(frozen=True)
class Order:
    """An order (RFC 8555 §7.1.3), with the RFC 9773 ``replaces`` and profile fields."""

    url: str
    status: str
    identifiers: tuple[Identifier, ...]
    authorizations: tuple[str, ...]
    finalize: str
    certificate: str | None = None
    expires: dt.datetime | None = None
    not_before: dt.datetime | None = None
    not_after: dt.datetime | None = None
    error: Problem | None = None
    profile: str | None = None
    replaces: str | None = None
    retry_after: float | None = None
    """Seconds the server asked to wait before polling again (``Retry-After``), if any."""

    @classmethod
    def from_json(
        cls, url: str, data: Mapping[str, Any], *, retry_after: float | None = None
    ) -> Order:
        """Parse an order object; ``url`` comes from ``Location`` or the request."""
        return cls(
            url=url,
            status=str(data.get("status", "")),
            identifiers=tuple(Identifier.from_json(i) for i in data.get("identifiers") or ()),
            authorizations=tuple(str(a) for a in data.get("authorizations") or ()),
            finalize=str(_require(data, "finalize", "order")),
            certificate=data.get("certificate") or None,
            expires=parse_time(data.get("expires")),
            not_before=parse_time(data.get("notBefore")),
            not_after=parse_time(data.get("notAfter")),
            error=_problem(data.get("error")),
            profile=data.get("profile") or None,
            replaces=data.get("replaces") or None,
            retry_after=retry_after,
        )


@dataclass(frozen=True)
class CertificateChain:
    """One certificate chain as the server sent it: PEM, leaf first."""

    url: str
    pem: str

    @property
    def certificates(self) -> list[x509.Certificate]:
        """The chain parsed, leaf first."""
        return x509.load_pem_x509_certificates(self.pem.encode())

    @property
    def top_issuer_cn(self) -> str | None:
        """Issuer CN of the top-most certificate: what ``preferredChain`` names."""
        certs = self.certificates
        if not certs:
            return None
        names = certs[-1].issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(names[0].value) if names else None


@dataclass(frozen=True)
class CertificateChains:
    """The default chain and the alternates the server linked (``Link: rel="alternate"``)."""

    default: CertificateChain
    alternates: tuple[CertificateChain, ...] = ()

    @property
    def all(self) -> tuple[CertificateChain, ...]:
        """Default first, then alternates in the server's order."""
        return (self.default, *self.alternates)


def preferred_chain(
    chains: CertificateChains | Sequence[CertificateChain], issuer_cn: str | None
) -> CertificateChain:
    """Pick the chain for the issuer's ``preferredChain`` (SPEC §6.1).

    The first chain (default first) whose top-most certificate's issuer CN equals
    ``issuer_cn`` exactly; the default chain when none does or ``issuer_cn`` is empty.
    """
    ordered = chains.all if isinstance(chains, CertificateChains) else tuple(chains)
    if not ordered:
        raise ValueError("no certificate chains to choose from")
    if issuer_cn:
        for chain in ordered:
            if chain.top_issuer_cn == issuer_cn:
                return chain
    return ordered[0]


@dataclass(frozen=True)
class RenewalInfo:
    """ACME Renewal Information (RFC 9773): when the server suggests renewing."""

    start: dt.datetime
    end: dt.datetime
    explanation_url: str | None = None
    retry_after: float | None = None
    """Seconds until the client should ask again (``Retry-After``)."""

    def pick_time(self, fraction: Callable[[], float]) -> dt.datetime:
        """A renewal time inside the window; ``fraction()`` in [0, 1) (RFC 9773 §4.2: random)."""
        share = min(max(fraction(), 0.0), 1.0)
        return self.start + (self.end - self.start) * share

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, retry_after: float | None = None) -> RenewalInfo:
        """Parse a renewalInfo response."""
        window = _require(data, "suggestedWindow", "renewalInfo")
        start = parse_time(window.get("start")) if isinstance(window, Mapping) else None
        end = parse_time(window.get("end")) if isinstance(window, Mapping) else None
        if start is None or end is None or end < start:
            raise AcmeProtocolError("the ACME server's renewalInfo has no valid suggestedWindow")
        return cls(start, end, data.get("explanationURL") or None, retry_after)


@dataclass(frozen=True)
class ExternalAccountBinding:
    """EAB credentials from the CA (RFC 8555 §7.3.4); the MAC key never prints."""

    key_id: str
    mac_key: bytes = field(repr=False)
    """The decoded HMAC key (decode the CA's base64url text with :func:`decode_mac_key`)."""
    algorithm: str = "HS256"
