"""Decoding certificates and key pairs for people: :class:`X509Info` and chain/key checks.

Only public material is ever described: a private key is parsed to compare its public half
with a certificate's, and nothing of it leaves this module.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID

from certsmith.pki.chain import is_self_signed
from certsmith.pki.keys import parse_private_key_pem, public_keys_equal
from certsmith.pki.usages import ext_key_usage_names, key_usage_names
from certsmith.status.model import X509Info

__all__ = ["describe_certificate", "key_matches", "signed_by"]

_E = TypeVar("_E", bound=x509.ExtensionType)


def _hex(data: bytes) -> str:
    return ":".join(f"{byte:02X}" for byte in data)


def _serial(value: int) -> str:
    raw = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
    return _hex(raw)


def _key_algorithm(cert: x509.Certificate) -> str:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        curves = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
        return f"ECDSA {curves.get(key.curve.name, key.curve.name)}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448"
    if isinstance(key, dsa.DSAPublicKey):
        return f"DSA {key.key_size}"
    return type(key).__name__


def _extension(cert: x509.Certificate, kind: type[_E]) -> _E | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
    except ValueError:  # a malformed extension: describe the rest
        return None


def _sans(cert: x509.Certificate) -> tuple[list[str], list[str], list[str], list[str]]:
    san = _extension(cert, x509.SubjectAlternativeName)
    if san is None:
        return [], [], [], []
    return (
        [str(v) for v in san.get_values_for_type(x509.DNSName)],
        [str(v) for v in san.get_values_for_type(x509.IPAddress)],
        [str(v) for v in san.get_values_for_type(x509.UniformResourceIdentifier)],
        [str(v) for v in san.get_values_for_type(x509.RFC822Name)],
    )


def _crl_urls(cert: x509.Certificate) -> list[str]:
    crl = _extension(cert, x509.CRLDistributionPoints)
    urls: list[str] = []
    for point in crl or ():
        for name in point.full_name or ():
            if isinstance(name, x509.UniformResourceIdentifier):
                urls.append(name.value)
    return urls


def _aia(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    aia = _extension(cert, x509.AuthorityInformationAccess)
    ocsp: list[str] = []
    issuers: list[str] = []
    for desc in aia or ():
        if not isinstance(desc.access_location, x509.UniformResourceIdentifier):
            continue
        if desc.access_method == AuthorityInformationAccessOID.OCSP:
            ocsp.append(desc.access_location.value)
        elif desc.access_method == AuthorityInformationAccessOID.CA_ISSUERS:
            issuers.append(desc.access_location.value)
    return ocsp, issuers


def _name(name: x509.Name) -> str:
    try:
        return name.rfc4514_string()
    except ValueError:
        return "<undecodable name>"


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def describe_certificate(cert: x509.Certificate) -> X509Info:
    """Everything a person checks on a certificate, as plain values."""
    dns, ips, uris, emails = _sans(cert)
    constraints = _extension(cert, x509.BasicConstraints)
    ku = _extension(cert, x509.KeyUsage)
    eku = _extension(cert, x509.ExtendedKeyUsage)
    ocsp, issuers = _aia(cert)
    return X509Info(
        subject=_name(cert.subject),
        issuer=_name(cert.issuer),
        serial=_serial(cert.serial_number),
        not_before=_aware(cert.not_valid_before_utc),
        not_after=_aware(cert.not_valid_after_utc),
        dns_names=tuple(dns),
        ip_addresses=tuple(ips),
        uris=tuple(uris),
        email_addresses=tuple(emails),
        is_ca=bool(constraints is not None and constraints.ca),
        self_signed=is_self_signed(cert),
        key_algorithm=_key_algorithm(cert),
        key_usages=tuple(key_usage_names(ku)) if ku is not None else (),
        extended_key_usages=tuple(ext_key_usage_names(eku)) if eku is not None else (),
        sha256_fingerprint=_hex(cert.fingerprint(hashes.SHA256())),
        sha1_fingerprint=_hex(cert.fingerprint(hashes.SHA1())),  # noqa: S303 - a label, not security
        crl_distribution_points=tuple(_crl_urls(cert)),
        ocsp_servers=tuple(ocsp),
        issuing_certificate_urls=tuple(issuers),
    )


def signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer`` is named as ``cert``'s issuer and its key verifies the signature."""
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def key_matches(key_pem: bytes, certs: Sequence[x509.Certificate]) -> bool:
    """Whether the private key in ``key_pem`` is the key of the first certificate.

    Raises:
        KeyDecodeError: ``key_pem`` holds no decodable private key.
        ValueError: ``certs`` is empty.
    """
    if not certs:
        raise ValueError("no certificate to compare the key with")
    key = parse_private_key_pem(key_pem)
    return public_keys_equal(key, certs[0].public_key())
