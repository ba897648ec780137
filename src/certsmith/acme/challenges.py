"""What a solver publishes for a challenge (RFC 8555 §8.1, §8.3, §8.4) and ARI CertIDs.

* HTTP-01 serves the key authorization ``<token>.<thumbprint>`` at
  ``/.well-known/acme-challenge/<token>``.
* DNS-01 publishes ``base64url(SHA-256(key authorization))`` (no padding) in a TXT record
  at ``_acme-challenge.<name>``.
* ARI (RFC 9773 §4.1) names a certificate by ``base64url(AKI keyIdentifier) "."
  base64url(serial number DER content octets)``.
"""

from __future__ import annotations

import hashlib

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certsmith.acme.jws import AccountKey, b64url, public_jwk

HTTP01_PATH_PREFIX = "/.well-known/acme-challenge/"
DNS01_LABEL = "_acme-challenge"


def jwk_thumbprint(
    key: AccountKey
    | rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | rsa.RSAPublicKey
    | ec.EllipticCurvePublicKey,
) -> str:
    """RFC 7638 SHA-256 thumbprint of a key's public JWK, base64url (no padding)."""
    if isinstance(key, AccountKey):
        return key.thumbprint
    if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        key = key.public_key()
    return b64url(public_jwk(key).thumbprint())


def key_authorization(token: str, thumbprint: str) -> str:
    """``<token>.<thumbprint>``: the HTTP-01 response body and the DNS-01 digest input."""
    return f"{token}.{thumbprint}"


def dns01_txt_value(key_auth: str) -> str:
    """The DNS-01 TXT record value for a key authorization."""
    return b64url(hashlib.sha256(key_auth.encode("ascii")).digest())


def http01_path(token: str) -> str:
    """The HTTP-01 path the server fetches."""
    return HTTP01_PATH_PREFIX + token


def dns01_record_name(dns_name: str) -> str:
    """The DNS-01 record name (FQDN with trailing dot) for a (non-wildcard) DNS name."""
    return f"{DNS01_LABEL}.{dns_name.removeprefix('*.').rstrip('.')}."


def _serial_der_content(serial: int) -> bytes:
    """Content octets of the DER INTEGER encoding of a (positive) serial number.

    DER uses the minimal two's-complement form, so a serial whose top bit is set gains a
    leading zero byte.
    """
    length = serial.bit_length() // 8 + 1
    return serial.to_bytes(length, "big")


def ari_cert_id(cert: x509.Certificate) -> str:
    """The RFC 9773 CertID of ``cert`` for ``renewalInfo`` and an order's ``replaces``.

    Raises ``ValueError`` when the certificate has no Authority Key Identifier with a key
    identifier (ARI cannot name such a certificate).
    """
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except x509.ExtensionNotFound:
        raise ValueError("the certificate has no authority key identifier; ARI needs one") from None
    if aki.key_identifier is None:
        raise ValueError("the certificate's authority key identifier has no keyIdentifier")
    return f"{b64url(aki.key_identifier)}.{b64url(_serial_der_content(cert.serial_number))}"
