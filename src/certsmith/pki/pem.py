"""PEM splitting and joining for certificate bundles.

Decides what counts as a certificate bundle: every ``CERTIFICATE`` block in the input, in order,
with anything between blocks (comments, other block types such as keys) ignored. A bundle with
no certificate, or with one block that does not parse, is an error rather than a shorter list,
because a silently dropped certificate would later surface as a confusing chain error.

It also reads the *raw* DER of a certificate's issuer and subject names and of a CSR's subject.
``x509.Name.public_bytes()`` re-encodes the parsed name; Go's ``RawIssuer``/``RawSubject``, which
cert-manager compares when linking chains, are the bytes as they were signed. A minimal DER walk
over the TBS bytes gives the same answer without depending on a round trip.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from certsmith.api.errors import CertsmithError

__all__ = [
    "PEMError",
    "certificate_to_pem",
    "certificates_to_pem",
    "raw_issuer",
    "raw_subject",
    "split_pem_certificates",
]

_CERT_BLOCK = re.compile(
    rb"-----BEGIN CERTIFICATE-----\r?\n.*?-----END CERTIFICATE-----",
    re.DOTALL,
)


class PEMError(CertsmithError, ValueError):
    """PEM data holds no certificate, or a certificate block that cannot be parsed."""


def split_pem_certificates(data: bytes) -> list[x509.Certificate]:
    """Parse every ``CERTIFICATE`` block of a PEM bundle, in order.

    Args:
        data: PEM text, possibly with several blocks and text between them.

    Returns:
        The certificates in the order they appear.

    Raises:
        PEMError: no ``CERTIFICATE`` block was found, or one of them does not parse.
    """
    blocks = _CERT_BLOCK.findall(data)
    if not blocks:
        raise PEMError("error decoding certificate PEM block: no certificate found")
    certs: list[x509.Certificate] = []
    for index, block in enumerate(blocks):
        try:
            certs.append(x509.load_pem_x509_certificate(block))
        except ValueError as err:
            raise PEMError(f"error parsing certificate {index}: {err}") from err
    return certs


def certificate_to_pem(cert: x509.Certificate) -> bytes:
    """Encode one certificate as a PEM block ending in a newline."""
    return cert.public_bytes(Encoding.PEM)


def certificates_to_pem(certs: Iterable[x509.Certificate]) -> bytes:
    """Concatenate the PEM blocks of several certificates, in the given order."""
    return b"".join(certificate_to_pem(cert) for cert in certs)


def _der_element(data: bytes, offset: int) -> tuple[int, int]:
    """Return ``(start of contents, end of element)`` of the DER element at ``offset``."""
    pos = offset + 1
    if data[offset] & 0x1F == 0x1F:  # high tag number form: skip the continuation bytes
        while data[pos] & 0x80:
            pos += 1
        pos += 1
    first = data[pos]
    pos += 1
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    end = pos + length
    if end > len(data):
        raise ValueError(f"truncated DER element at offset {offset}")
    return pos, end


def _nth_child(data: bytes, n: int, *, skip_tag: int | None = None) -> bytes:
    """Return the raw bytes of the ``n``-th element inside the outer SEQUENCE of ``data``.

    When ``skip_tag`` is given and the first child has that tag, it is not counted (the optional
    ``[0] EXPLICIT`` version of a TBSCertificate).
    """
    pos, end = _der_element(data, 0)
    if skip_tag is not None and data[pos] == skip_tag:
        pos = _der_element(data, pos)[1]
    for _ in range(n):
        pos = _der_element(data, pos)[1]
    if pos >= end:
        raise ValueError("DER structure has too few elements")
    return data[pos : _der_element(data, pos)[1]]


_TBS_VERSION_TAG = 0xA0


def raw_issuer(cert: x509.Certificate) -> bytes:
    """The issuer name of ``cert`` exactly as encoded in its signed TBS bytes."""
    # TBSCertificate: [version], serialNumber, signature, issuer, validity, subject, ...
    return _nth_child(cert.tbs_certificate_bytes, 2, skip_tag=_TBS_VERSION_TAG)


def raw_subject(obj: x509.Certificate | x509.CertificateSigningRequest) -> bytes:
    """The subject name of a certificate or CSR exactly as encoded in its signed bytes."""
    if isinstance(obj, x509.Certificate):
        return _nth_child(obj.tbs_certificate_bytes, 4, skip_tag=_TBS_VERSION_TAG)
    # CertificationRequestInfo: version, subject, subjectPKInfo, attributes
    return _nth_child(obj.tbs_certrequest_bytes, 1)
