"""Quick certificates, keys and CSRs for tests, built directly with ``cryptography``.

Independent of ``certsmith.pki`` on purpose, so the code under test never certifies itself.
Keys are cached for the whole test run (RSA 4096 takes a while); ask for a different ``slot``
to get a second key of the same kind.
"""

from __future__ import annotations

import datetime as dt
import functools
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID, ObjectIdentifier

KeyKind = Literal["rsa1024", "rsa2048", "rsa3072", "rsa4096", "p256", "p384", "p521", "ed25519"]
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

NOW = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)

_CURVES: dict[str, ec.EllipticCurve] = {
    "p256": ec.SECP256R1(),
    "p384": ec.SECP384R1(),
    "p521": ec.SECP521R1(),
}


ALL_STRING_TYPES_SUBJECT = x509.Name(
    [
        # Deliberately not in the usual C, O, CN order, with one multi-valued RDN and a mix of
        # ASN.1 string types: all of it must survive byte for byte.
        x509.RelativeDistinguishedName(
            [x509.NameAttribute(NameOID.COMMON_NAME, "zeta", _type=_ASN1Type.PrintableString)]
        ),
        x509.RelativeDistinguishedName(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ünïcode Org"),
                x509.NameAttribute(
                    NameOID.ORGANIZATIONAL_UNIT_NAME, "unit", _type=_ASN1Type.T61String
                ),
            ]
        ),
        x509.RelativeDistinguishedName(
            [x509.NameAttribute(NameOID.EMAIL_ADDRESS, "a@example.com")]  # IA5String
        ),
        x509.RelativeDistinguishedName(
            [x509.NameAttribute(NameOID.LOCALITY_NAME, "Bmp", _type=_ASN1Type.BMPString)]
        ),
        x509.RelativeDistinguishedName(
            [x509.NameAttribute(ObjectIdentifier("1.2.3.4.5"), "custom attribute")]
        ),
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COUNTRY_NAME, "DE")]),
    ]
)


@functools.cache
def key(kind: KeyKind = "p256", slot: int = 0) -> PrivateKey:
    """A private key of ``kind``, the same object for the same ``(kind, slot)`` all run long."""
    del slot  # only part of the cache key
    if kind.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(_CURVES[kind])


def _hash_for(signer: PrivateKey) -> hashes.SHA256 | None:
    return None if isinstance(signer, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def name(cn: str) -> x509.Name:
    """A subject with only a common name."""
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_cert(
    cn: str,
    *,
    subject_key: PrivateKey | None = None,
    issuer: x509.Certificate | None = None,
    issuer_key: PrivateKey | None = None,
    is_ca: bool = True,
    subject: x509.Name | None = None,
    not_before: dt.datetime = NOW - dt.timedelta(days=1),
    not_after: dt.datetime = NOW + dt.timedelta(days=3650),
    with_ski: bool = True,
) -> x509.Certificate:
    """A certificate for ``cn``; self-signed unless ``issuer``/``issuer_key`` are given."""
    subject_key = subject_key or key("p256")
    signer = issuer_key or subject_key
    subject_name = subject or name(cn)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject_name)
        .issuer_name(issuer.subject if issuer is not None else subject_name)
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=not is_ca,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=is_ca,
                crl_sign=is_ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if with_ski:
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(subject_key.public_key()), critical=False
        )
    return builder.sign(signer, _hash_for(signer))


def make_root(
    cn: str = "root", *, kind: KeyKind = "p256", slot: int = 0
) -> tuple[x509.Certificate, PrivateKey]:
    """A self-signed CA and its key."""
    k = key(kind, slot)
    return make_cert(cn, subject_key=k), k


def make_intermediate(
    cn: str,
    issuer: x509.Certificate,
    issuer_key: PrivateKey,
    *,
    kind: KeyKind = "p256",
    slot: int = 1,
) -> tuple[x509.Certificate, PrivateKey]:
    """A CA certificate signed by ``issuer``, and its key."""
    k = key(kind, slot)
    return make_cert(cn, subject_key=k, issuer=issuer, issuer_key=issuer_key), k


def make_leaf(
    cn: str,
    issuer: x509.Certificate,
    issuer_key: PrivateKey,
    *,
    kind: KeyKind = "p256",
    slot: int = 9,
) -> x509.Certificate:
    """An end-entity certificate signed by ``issuer``."""
    return make_cert(
        cn, subject_key=key(kind, slot), issuer=issuer, issuer_key=issuer_key, is_ca=False
    )


def make_csr(
    *,
    subject: x509.Name | None = None,
    signer: PrivateKey | None = None,
    extensions: Iterable[tuple[x509.ExtensionType, bool]] = (),
    dns_names: Sequence[str] = (),
) -> bytes:
    """A PEM CSR; ``dns_names`` adds a non-critical SAN, ``extensions`` adds anything else."""
    signer = signer or key("p256", 5)
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        subject if subject is not None else name("leaf.example.com")
    )
    if dns_names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(d) for d in dns_names]), critical=False
        )
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical=critical)
    return builder.sign(signer, _hash_for(signer)).public_bytes(serialization.Encoding.PEM)


def pem(*certs: x509.Certificate) -> bytes:
    """Certificates joined as PEM."""
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run the ``openssl`` command line tool; the result is returned, not checked."""
    return subprocess.run(
        ["openssl", *map(str, args)], capture_output=True, text=True, check=False, timeout=60
    )
