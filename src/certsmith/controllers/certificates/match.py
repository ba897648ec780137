"""Is a CertificateRequest, or an issued certificate, still what a Certificate spec asks for?

Two comparisons, as cert-manager's ``RequestMatchesSpec`` and ``FuzzyX509AltNamesMatchSpec``
(SPEC §5.8 rows 8 and 8'). Both return the names of the violated spec fields; an empty list
means "up to date".

``request_matches_spec`` is strict because the request is what we sent: SANs, otherNames and
subject lists compare as multisets (order-insensitive), the common name and serial number
exactly, a ``literalSubject`` as the raw DER of the CSR subject against the DER the request
manager would encode, ``isCA``, ``usages`` as a multiset **without defaulting** (``[]`` is not
the default pair, SPEC §10 quirk 8), ``duration`` only when both sides have one (quirk 7), and
the issuerRef with empty kind/group meaning ``Issuer``/``cert-manager.io``. Private key, signature
algorithm, usage encoding, name constraints, template, keystores, outputs and ``renewBefore``
are not compared. The province field reports ``spec.subject.provinces`` (SPEC §5.8's list).

``secret_matches_spec`` is lenient because an issuer may rewrite what it was asked for: the
common name and DNS names are one set (a CA may promote a DNS name to the CN or the other way
round), then IPs, URIs and e-mails as multisets. It is only used when the request that produced
the Secret is gone.
"""

from __future__ import annotations

import ipaddress
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, TypeAlias

from cryptography import x509
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID, ObjectIdentifier

from certsmith.api.certmanager import CertificateRequest, CertificateSpec, X509Subject
from certsmith.api.duration import parse_go_duration
from certsmith.api.errors import CertsmithError
from certsmith.api.meta import IssuerReference
from certsmith.controllers.certificates.secretdata import subject_fields
from certsmith.pki.csr import CSRError, decode_csr
from certsmith.pki.pem import raw_subject

__all__ = [
    "RequestMatchError",
    "issuer_refs_equal",
    "request_matches_spec",
    "secret_matches_spec",
]

_IP: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_ISSUER_KIND: Final = "Issuer"
DEFAULT_ISSUER_GROUP: Final = "cert-manager.io"

# The PrintableString alphabet as Go's encoding/asn1 tests it when marshalling a string.
_PRINTABLE: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?"
)
_LITERAL_NAME_OVERRIDES: Final[dict[str, ObjectIdentifier]] = {
    "SERIALNUMBER": NameOID.SERIAL_NUMBER
}


class RequestMatchError(CertsmithError, ValueError):
    """The request cannot be compared: its CSR, an otherName or the literal subject is broken."""


@dataclass
class _AltNames:
    dns_names: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    ips: list[_IP | None] = field(default_factory=list)
    uris: list[str] = field(default_factory=list)
    other_names: list[x509.OtherName] = field(default_factory=list)
    present: bool = False


def _ip(value: str) -> _IP | None:
    """Parse a spec IP as Go's ``net.ParseIP``: None when invalid, v4-mapped v6 as v4."""
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _alt_names(extensions: x509.Extensions) -> _AltNames:
    try:
        san = extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return _AltNames()
    names = _AltNames(present=True)
    for general_name in san:
        if isinstance(general_name, x509.DNSName):
            names.dns_names.append(general_name.value)
        elif isinstance(general_name, x509.RFC822Name):
            names.emails.append(general_name.value)
        elif isinstance(general_name, x509.UniformResourceIdentifier):
            names.uris.append(general_name.value)
        elif isinstance(general_name, x509.IPAddress):
            value = general_name.value
            if isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network):
                continue
            names.ips.append(_ip(str(value)))
        elif isinstance(general_name, x509.OtherName):
            names.other_names.append(general_name)
    return names


def _same(a: Iterable[object], b: Iterable[object]) -> bool:
    """Multiset equality, as cert-manager's ``EqualUnsorted`` (sort both, compare)."""
    return Counter(a) == Counter(b)


def _utf8_value(der: bytes) -> str:
    """Decode an otherName value that must be a DER UTF8String."""
    if len(der) < 2 or der[0] != 0x0C:
        raise RequestMatchError("otherName is not an utf8 value")
    first = der[1]
    if first < 0x80:
        start, length = 2, first
    else:
        count = first & 0x7F
        start, length = 2 + count, int.from_bytes(der[2 : 2 + count], "big")
    body = der[start : start + length]
    if len(body) != length:
        raise RequestMatchError("otherName value is truncated")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestMatchError("otherName value is not valid UTF-8") from None


def _go_asn1_string(oid: ObjectIdentifier, value: str) -> x509.NameAttribute[str]:
    """A name attribute typed as Go's ``asn1.Marshal`` types a string."""
    string_type = (
        _ASN1Type.PrintableString if value and set(value) <= _PRINTABLE else _ASN1Type.UTF8String
    )
    # Length limits are admission's business; cryptography would warn about them here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return x509.NameAttribute(oid, value, string_type, _validate=False)


def _literal_subject_der(literal: str) -> bytes:
    """The DER cert-manager encodes for a ``literalSubject`` (RDN order reversed, as RFC 4514)."""
    try:
        parsed = x509.Name.from_rfc4514_string(literal, _LITERAL_NAME_OVERRIDES)
    except ValueError:
        raise RequestMatchError(f"invalid literal subject {literal!r}") from None
    return x509.Name(
        [
            x509.RelativeDistinguishedName(
                [
                    _go_asn1_string(attr.oid, attr.value) if isinstance(attr.value, str) else attr
                    for attr in rdn
                ]
            )
            for rdn in parsed.rdns
        ]
    ).public_bytes()


def issuer_refs_equal(a: IssuerReference, b: IssuerReference) -> bool:
    """Whether two issuerRefs name the same issuer, empty kind/group meaning the defaults."""
    return (
        a.name == b.name
        and (a.kind or DEFAULT_ISSUER_KIND) == (b.kind or DEFAULT_ISSUER_KIND)
        and (a.group or DEFAULT_ISSUER_GROUP) == (b.group or DEFAULT_ISSUER_GROUP)
    )


def _durations_differ(a: str, b: str) -> bool:
    try:
        return parse_go_duration(a) != parse_go_duration(b)
    except ValueError:
        return a != b


def _subject_violations(csr: x509.CertificateSigningRequest, spec: CertificateSpec) -> list[str]:
    if spec.literal_subject:
        try:
            actual = raw_subject(csr)
        except (ValueError, IndexError):
            raise RequestMatchError("cannot read the raw subject of the CSR") from None
        if actual != _literal_subject_der(spec.literal_subject):
            return ["spec.literalSubject"]
        return []
    got = subject_fields(csr.subject)
    want = spec.subject or X509Subject()
    violations: list[str] = []
    if got.common_name != (spec.common_name or ""):
        violations.append("spec.commonName")
    if got.serial_number != (want.serial_number or ""):
        violations.append("spec.subject.serialNumber")
    lists: tuple[tuple[Sequence[str], list[str] | None, str], ...] = (
        (got.organizations, want.organizations, "spec.subject.organizations"),
        (got.countries, want.countries, "spec.subject.countries"),
        (got.localities, want.localities, "spec.subject.localities"),
        (got.organizational_units, want.organizational_units, "spec.subject.organizationalUnits"),
        (got.postal_codes, want.postal_codes, "spec.subject.postCodes"),
        (got.provinces, want.provinces, "spec.subject.provinces"),
        (got.street_addresses, want.street_addresses, "spec.subject.streetAddresses"),
    )
    for actual_values, wanted_values, name in lists:
        if not _same(actual_values, wanted_values or []):
            violations.append(name)
    return violations


def request_matches_spec(request: CertificateRequest, spec: CertificateSpec) -> list[str]:
    """Which Certificate spec fields the request no longer matches (``RequestMatchesSpec``).

    Args:
        request: A CertificateRequest created for the Certificate.
        spec: The Certificate's current spec.

    Returns:
        Violated field names, in cert-manager's order; empty when the request is up to date.

    Raises:
        RequestMatchError: the CSR does not decode, an otherName is not a UTF8String, or the
            literal subject does not parse. Callers treat this as "cannot tell", not as a
            violation.
    """
    try:
        csr = decode_csr(request.spec.request_pem)
        names = _alt_names(csr.extensions)
    except (CSRError, ValueError) as err:
        raise RequestMatchError(f"failed to decode CertificateRequest: {err}") from None

    violations: list[str] = []
    if not _same(names.ips, [_ip(ip) for ip in spec.ip_addresses or []]):
        violations.append("spec.ipAddresses")
    if not _same(names.uris, spec.uris or []):
        violations.append("spec.uris")
    if not _same(names.emails, spec.email_addresses or []):
        violations.append("spec.emailAddresses")
    if not _same(names.dns_names, spec.dns_names or []):
        violations.append("spec.dnsNames")
    # Only compared when the spec has the field at all; a CSR without SANs never matches it.
    if spec.other_names is not None:
        actual = [
            (other.type_id.dotted_string, _utf8_value(other.value)) for other in names.other_names
        ]
        wanted = [(o.oid or "", o.utf8_value or "") for o in spec.other_names]
        if not names.present or not _same(actual, wanted):
            violations.append("spec.otherNames")
    violations += _subject_violations(csr, spec)
    if bool(request.spec.is_ca) != bool(spec.is_ca):
        violations.append("spec.isCA")
    # No defaulting here: an explicit default pair differs from no usages (SPEC §10 quirk 8).
    if not _same(request.spec.usages or [], spec.usages or []):
        violations.append("spec.usages")
    if (
        request.spec.duration is not None
        and spec.duration is not None
        and _durations_differ(request.spec.duration, spec.duration)
    ):
        violations.append("spec.duration")
    if not issuer_refs_equal(request.spec.issuer_ref, spec.issuer_ref):
        violations.append("spec.issuerRef")
    return violations


def secret_matches_spec(cert: x509.Certificate, spec: CertificateSpec) -> list[str]:
    """Which spec fields an issued certificate visibly misses (``FuzzyX509AltNamesMatchSpec``).

    Args:
        cert: The leaf certificate from the Secret's ``tls.crt``.
        spec: The Certificate's current spec.

    Returns:
        Any of ``spec.commonName``, ``spec.dnsNames``, ``spec.ipAddresses``, ``spec.uris``,
        ``spec.emailAddresses``; empty when the certificate is up to date.

    Raises:
        ValueError: the certificate's extensions cannot be parsed.
    """
    names = _alt_names(cert.extensions)
    cert_cn = subject_fields(cert.subject).common_name
    spec_cn = spec.common_name or ""
    spec_dns = spec.dns_names or []

    expected = set(spec_dns) | ({spec_cn} if spec_cn else set())
    actual = set(names.dns_names) | ({cert_cn} if cert_cn else set())
    violations: list[str] = []
    if actual != expected:
        # Work out which field moved: the CN, the DNS names, or both.
        if (spec_cn and spec_cn not in actual) or (cert_cn and cert_cn not in expected):
            violations.append("spec.commonName")
        if not actual.issuperset(spec_dns) or not expected.issuperset(names.dns_names):
            violations.append("spec.dnsNames")
    if not _same(names.ips, [_ip(ip) for ip in spec.ip_addresses or []]):
        violations.append("spec.ipAddresses")
    if not _same(names.uris, spec.uris or []):
        violations.append("spec.uris")
    if not _same(names.emails, spec.email_addresses or []):
        violations.append("spec.emailAddresses")
    return violations
