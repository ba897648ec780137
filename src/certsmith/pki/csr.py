"""Certificate signing requests: decoding, verifying and generating them from a Certificate spec.

Decides:

* what a request's ``spec.request`` must be: the first PEM block, of type ``CERTIFICATE
  REQUEST``, holding a parseable PKCS#10 structure. Its extensions, subject and public key are
  parsed here rather than on first use, so a broken CSR fails once, at decoding, with one error;
* what a CSR generated for a Certificate holds (SPEC §4.5), as cert-manager's ``GenerateCSR``:

  - subject: ``literalSubject`` (RFC 4514; the string is written last RDN first, the encoded order
    is the reverse, as in cert-manager) or else the ``subject`` fields and ``commonName`` in Go's
    ``pkix.Name`` order (C, ST, L, STREET, POSTALCODE, O, OU, CN, SERIALNUMBER), several values of
    one field forming one multi-valued RDN;
  - attribute values as Go's ``encoding/asn1`` writes them: PrintableString when every character
    allows it, UTF8String otherwise. The subject is copied byte for byte into the certificate, so
    this is what a cert-manager certificate would show;
  - SubjectAltName: DNS names, emails, IPs, URIs, then otherNames (UTF8String values); critical
    iff the subject is empty (RFC 5280 §4.2.1.6);
  - KeyUsage (critical, when any bit) and ExtendedKeyUsage (when any) unless
    ``encodeUsagesInRequest`` is false;
  - NameConstraints when ``nameConstraints`` has any subtree; an empty one is left out because an
    empty extension constrains nothing and ``cryptography`` refuses to encode it;
  - no BasicConstraints: cert-manager adds it only behind a feature gate that is off by default;
  - the signature hash from ``signatureAlgorithm`` when set (it must fit the key type), else from
    the key (``certsmith.pki.keys.signature_algorithm_for``).

Generation errors are spec errors (a bad IP, OID, CIDR or subject string) and are terminal for the
attempt, so they share one type, ``CSRGenerationError``.
"""

from __future__ import annotations

import ipaddress
import re
import warnings
from collections.abc import Sequence
from typing import Final, TypeAlias

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID, ObjectIdentifier

from certsmith.api.certmanager import CertificateSpec, NameConstraintItem, X509Subject
from certsmith.api.errors import CertsmithError
from certsmith.pki.keys import (
    PrivateKey,
    SignatureHash,
    public_keys_equal,
    signature_algorithm_for,
)
from certsmith.pki.usages import compute_usages

__all__ = [
    "CSRDecodeError",
    "CSRError",
    "CSRGenerationError",
    "CSRSignatureError",
    "csr_public_key_matches",
    "decode_csr",
    "generate_csr",
    "utf8_other_name_value",
    "verify_csr",
]

_BLOCK_TYPE: Final = "CERTIFICATE REQUEST"
_PEM_BLOCK = re.compile(rb"-----BEGIN ([^\r\n-]+)-----.*?-----END \1-----\r?\n?", re.DOTALL)


class CSRError(CertsmithError, ValueError):
    """Base of the CSR errors."""


class CSRDecodeError(CSRError):
    """The data is not a PEM ``CERTIFICATE REQUEST`` holding a parseable CSR."""


class CSRSignatureError(CSRError):
    """The CSR's self-signature does not verify against its own public key."""


class CSRGenerationError(CSRError):
    """A Certificate spec cannot be turned into a CSR (bad IP, OID, CIDR, subject or algorithm)."""


def decode_csr(pem: bytes, *, verify: bool = False) -> x509.CertificateSigningRequest:
    """Decode a PEM CSR, optionally checking its self-signature.

    Args:
        pem: PEM text whose first block is a ``CERTIFICATE REQUEST``.
        verify: Also check the signature (``verify_csr``).

    Returns:
        The parsed CSR; its subject, extensions and public key are known to parse.

    Raises:
        CSRDecodeError: no PEM block, a first block of another type, or unparseable contents.
        CSRSignatureError: ``verify`` is set and the signature does not verify.
    """
    match = _PEM_BLOCK.search(pem)
    if match is None:
        raise CSRDecodeError("error decoding certificate request PEM block")
    block_type = match.group(1).decode("ascii", "replace").strip()
    if block_type != _BLOCK_TYPE:
        raise CSRDecodeError(
            f'error decoding certificate request PEM block: expected "{_BLOCK_TYPE}", '
            f'found "{block_type}"'
        )
    try:
        csr = x509.load_pem_x509_csr(match.group(0))
        # cryptography parses these lazily; touch them now so every later reader can rely on them.
        # Its length warnings (a 3-letter country) are about content Go accepts, so stay quiet.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            _ = csr.subject, csr.extensions, csr.public_key()
    except (ValueError, UnsupportedAlgorithm) as err:
        raise CSRDecodeError(f"error parsing certificate request: {err}") from None
    if verify:
        verify_csr(csr)
    return csr


def verify_csr(csr: x509.CertificateSigningRequest) -> None:
    """Check that a CSR is signed by the key it carries.

    Args:
        csr: A parsed CSR.

    Raises:
        CSRSignatureError: the signature is wrong or uses an algorithm that cannot be checked.
    """
    try:
        valid = csr.is_signature_valid
    except (InvalidSignature, UnsupportedAlgorithm, ValueError):
        valid = False
    if not valid:
        raise CSRSignatureError("CSR signature verification failed")


def csr_public_key_matches(csr: x509.CertificateSigningRequest, key: PrivateKey) -> bool:
    """Whether a CSR carries the public half of ``key``.

    Args:
        csr: A parsed CSR.
        key: A private key.

    Returns:
        True when the CSR's public key equals the key's.
    """
    try:
        return public_keys_equal(csr.public_key(), key)
    except (ValueError, UnsupportedAlgorithm):
        return False


# --- generation -------------------------------------------------------------------------------

# The characters ASN.1 PrintableString allows, as Go's encoding/asn1 tests them when marshalling
# (no '*', no '&').
_PRINTABLE: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?"
)

# Go's pkix.Name field order, which fixes the RDN order of a subject built from fields.
_SUBJECT_FIELDS: Final[tuple[tuple[str, ObjectIdentifier], ...]] = (
    ("countries", NameOID.COUNTRY_NAME),
    ("provinces", NameOID.STATE_OR_PROVINCE_NAME),
    ("localities", NameOID.LOCALITY_NAME),
    ("street_addresses", NameOID.STREET_ADDRESS),
    ("postal_codes", NameOID.POSTAL_CODE),
    ("organizations", NameOID.ORGANIZATION_NAME),
    ("organizational_units", NameOID.ORGANIZATIONAL_UNIT_NAME),
)

# cert-manager's literal subject knows CN, C, L, ST, STREET, O, OU, DC, UID (all in cryptography's
# table) and SERIALNUMBER, plus dotted OIDs.
_LITERAL_NAME_OVERRIDES: Final[dict[str, ObjectIdentifier]] = {
    "SERIALNUMBER": NameOID.SERIAL_NUMBER
}

_KeyClass: TypeAlias = (
    type[rsa.RSAPrivateKey] | type[ec.EllipticCurvePrivateKey] | type[ed25519.Ed25519PrivateKey]
)

# spec.signatureAlgorithm -> (the key type it needs, the hash; None for Ed25519's own).
_SIGNATURE_ALGORITHMS: Final[dict[str, tuple[_KeyClass, type[SignatureHash] | None]]] = {
    "SHA256WithRSA": (rsa.RSAPrivateKey, hashes.SHA256),
    "SHA384WithRSA": (rsa.RSAPrivateKey, hashes.SHA384),
    "SHA512WithRSA": (rsa.RSAPrivateKey, hashes.SHA512),
    "ECDSAWithSHA256": (ec.EllipticCurvePrivateKey, hashes.SHA256),
    "ECDSAWithSHA384": (ec.EllipticCurvePrivateKey, hashes.SHA384),
    "ECDSAWithSHA512": (ec.EllipticCurvePrivateKey, hashes.SHA512),
    "PureEd25519": (ed25519.Ed25519PrivateKey, None),
}


def _attribute(oid: ObjectIdentifier, value: str) -> x509.NameAttribute[str]:
    """A name attribute typed as Go would type it (PrintableString if possible, else UTF8)."""
    string_type = (
        _ASN1Type.PrintableString if value and set(value) <= _PRINTABLE else _ASN1Type.UTF8String
    )
    # Go accepts a country of any length and a common name over 64 characters; cryptography
    # rejects them unless told not to validate, and then warns. Neither is our error to report:
    # admission owns such limits, and cert-manager would send the CSR.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return x509.NameAttribute(oid, value, string_type, _validate=False)


def _subject_from_fields(common_name: str | None, subject: X509Subject | None) -> x509.Name:
    """Build the subject from ``spec.subject`` and ``spec.commonName`` in Go's field order."""
    rdns: list[x509.RelativeDistinguishedName] = []

    def add(oid: ObjectIdentifier, values: Sequence[str]) -> None:
        # Several values of one field make one multi-valued RDN, as Go's pkix.Name does.
        if values:
            rdns.append(x509.RelativeDistinguishedName([_attribute(oid, v) for v in values]))

    if subject is not None:
        for field, oid in _SUBJECT_FIELDS:
            add(oid, getattr(subject, field) or [])
    if common_name:
        add(NameOID.COMMON_NAME, [common_name])
    if subject is not None and subject.serial_number:
        add(NameOID.SERIAL_NUMBER, [subject.serial_number])
    return x509.Name(rdns)


def _subject_from_literal(literal: str) -> x509.Name:
    """Parse an RFC 4514 subject and retype its string values as Go would."""
    try:
        parsed = x509.Name.from_rfc4514_string(literal, _LITERAL_NAME_OVERRIDES)
    except ValueError:
        raise CSRGenerationError(f"invalid literal subject {literal!r}") from None
    rdns = [
        x509.RelativeDistinguishedName(
            [
                _attribute(attr.oid, attr.value) if isinstance(attr.value, str) else attr
                for attr in rdn
            ]
        )
        for rdn in parsed.rdns
    ]
    return x509.Name(rdns)


def utf8_other_name_value(value: str) -> bytes:
    """DER-encode a string as an ASN.1 UTF8String, the value of a cert-manager otherName SAN.

    Args:
        value: The ``utf8Value`` of an ``otherNames`` entry.

    Returns:
        Tag 0x0C, the DER length, then the UTF-8 bytes.
    """
    data = value.encode("utf-8")
    length = len(data)
    if length < 0x80:
        header = bytes([length])
    else:
        size = (length.bit_length() + 7) // 8
        header = bytes([0x80 | size]) + length.to_bytes(size, "big")
    return b"\x0c" + header + data


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Parse an IP address; an IPv4-mapped IPv6 address becomes IPv4, as Go encodes it."""
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        raise CSRGenerationError(f"failed to parse IP address {value!r}") from None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _oid(value: str | None) -> ObjectIdentifier:
    """Parse a dotted OID string."""
    try:
        return ObjectIdentifier(value or "")
    except ValueError:
        raise CSRGenerationError(f"invalid otherName OID {value!r}") from None


def _general_names(spec: CertificateSpec) -> list[x509.GeneralName]:
    """The SAN entries of a spec, in Go's order followed by otherNames."""
    names: list[x509.GeneralName] = []
    try:
        names += [x509.DNSName(n) for n in spec.dns_names or []]
        names += [x509.RFC822Name(e) for e in spec.email_addresses or []]
        names += [x509.IPAddress(_ip(ip)) for ip in spec.ip_addresses or []]
        names += [x509.UniformResourceIdentifier(u) for u in spec.uris or []]
    except CSRGenerationError:
        raise
    except (ValueError, TypeError) as err:
        raise CSRGenerationError(f"invalid subject alternative name: {err}") from None
    for other in spec.other_names or []:
        value = utf8_other_name_value(other.utf8_value or "")
        names.append(x509.OtherName(_oid(other.oid), value))
    return names


def _subtrees(item: NameConstraintItem | None) -> list[x509.GeneralName] | None:
    """The GeneralNames of one side of the name constraints, or None when it has none."""
    if item is None:
        return None
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in item.dns_domains or []]
    for cidr in item.ip_ranges or []:
        try:
            # Go's net.ParseCIDR keeps the masked network, so host bits are allowed and dropped.
            names.append(x509.IPAddress(ipaddress.ip_network(cidr, strict=False)))
        except ValueError:
            raise CSRGenerationError(f"failed to parse IP range {cidr!r}") from None
    names += [x509.RFC822Name(e) for e in item.email_addresses or []]
    names += [x509.UniformResourceIdentifier(u) for u in item.uri_domains or []]
    return names or None


def _signature_hash(spec: CertificateSpec, key: PrivateKey) -> SignatureHash | None:
    """The CSR signature hash: ``spec.signatureAlgorithm`` if set, else chosen from the key."""
    name = spec.signature_algorithm
    if not name:
        try:
            return signature_algorithm_for(key)
        except ValueError as err:
            raise CSRGenerationError(str(err)) from None
    key_type, hash_type = _SIGNATURE_ALGORITHMS[name]
    if not isinstance(key, key_type):
        raise CSRGenerationError(
            f"signature algorithm {name} cannot be used with a {_key_kind(key)} private key"
        )
    return None if hash_type is None else hash_type()


def _key_kind(key: PrivateKey) -> str:
    """The ``spec.privateKey.algorithm`` word for a key, for messages."""
    if isinstance(key, rsa.RSAPrivateKey):
        return "RSA"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "ECDSA"
    return "Ed25519"


def generate_csr(spec: CertificateSpec, key: PrivateKey) -> bytes:
    """Build and sign the CSR cert-manager's request manager would send for a Certificate.

    Args:
        spec: The Certificate spec.
        key: The private key the certificate is for; it signs the CSR.

    Returns:
        The CSR as one PEM ``CERTIFICATE REQUEST`` block.

    Raises:
        CSRGenerationError: the spec holds a value that cannot be encoded (IP, CIDR, OID, literal
            subject, unknown usage, ``encipher only`` without ``key agreement``) or a signature
            algorithm that does not fit the key.
    """
    if spec.literal_subject:
        subject = _subject_from_literal(spec.literal_subject)
    else:
        subject = _subject_from_fields(spec.common_name, spec.subject)
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)

    sans = _general_names(spec)
    if sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(sans), critical=len(subject.rdns) == 0
        )

    if spec.encode_usages_in_request is not False:
        try:
            usages = compute_usages(spec.usages or [], is_ca=bool(spec.is_ca))
            key_usage = usages.to_key_usage() if usages.bits else None
        except ValueError as err:
            raise CSRGenerationError(str(err)) from None
        if key_usage is not None:
            builder = builder.add_extension(key_usage, critical=True)
        ext_key_usage = usages.to_extended_key_usage()
        if ext_key_usage is not None:
            builder = builder.add_extension(ext_key_usage, critical=False)

    constraints = spec.name_constraints
    if constraints is not None:
        try:
            permitted = _subtrees(constraints.permitted)
            excluded = _subtrees(constraints.excluded)
        except CSRGenerationError:
            raise
        except (ValueError, TypeError) as err:
            raise CSRGenerationError(f"invalid name constraints: {err}") from None
        if permitted or excluded:
            builder = builder.add_extension(
                x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=excluded),
                critical=bool(constraints.critical),
            )

    csr = builder.sign(key, _signature_hash(spec, key))
    return csr.public_bytes(serialization.Encoding.PEM)
