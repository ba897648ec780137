"""The certificate template: what a CertificateRequest's CSR and spec say the certificate holds.

Decides, as cert-manager's template builder does (SPEC §4.4), which parts of a CSR reach the
issued certificate and which are overridden by the request spec:

* kept from the CSR: the public key, the subject exactly as encoded (RDN order and string types),
  the whole SubjectAltName extension (otherNames too; critical iff the subject is empty),
  NameConstraints with their criticality, and EKU OIDs that no ``usages`` string names;
* decided by the spec: BasicConstraints (``CA = isCA``, never a path length), KeyUsage and
  ExtendedKeyUsage computed from ``usages``, validity ``[now, now + duration or 90 days]``;
* validated: a CSR that asks for BasicConstraints, KeyUsage or ExtendedKeyUsage must ask for
  exactly what the spec computes. A mismatch is an error rather than a silent override, because
  the requester signed those extensions and would get something else.

The template is a plain frozen value so that signing (``certsmith.pki.sign``) never looks at the
CSR again and tests can build templates directly. Nothing here reads the clock: ``now`` is given.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ObjectIdentifier

from certsmith.api.errors import CertsmithError
from certsmith.pki.csr import decode_csr
from certsmith.pki.pem import raw_subject
from certsmith.pki.usages import (
    EXT_KEY_USAGES,
    compute_usages,
    ext_key_usage_names,
    format_usage_list,
    key_usage_names,
)

__all__ = [
    "DEFAULT_DURATION",
    "CertificateTemplate",
    "TemplateError",
    "certificate_template_from_csr",
]

DEFAULT_DURATION = dt.timedelta(days=90)
"""Validity used when the request has no ``duration`` (cert-manager's default)."""

_EMPTY_NAME_DER = b"\x30\x00"

# A CSR EKU that no ``usages`` string names cannot be asked for through ``usages``, so it is
# passed through instead of compared (SPEC §10 item 17).
_KNOWN_EKUS: frozenset[ObjectIdentifier] = frozenset(EXT_KEY_USAGES.values())

_E = TypeVar("_E", bound=x509.ExtensionType)


#: cert-manager words every disagreement between a signed CSR and the request spec this way, in
#: the webhook's rejection and in the issuer's "Error generating certificate template" alike.
CSR_MISMATCH_PREFIX = "encoded CSR error: "


class TemplateError(CertsmithError, ValueError):
    """The CSR cannot be decoded or verified, or disagrees with the request spec."""


@dataclass(frozen=True)
class CertificateTemplate:
    """Everything needed to sign a certificate except the issuer.

    Attributes:
        public_key: the subject public key, from the CSR.
        subject: the CSR subject, parsed (RDN order and string types kept).
        raw_subject: the CSR subject DER exactly as signed; signing checks the issued
            certificate carries these bytes.
        serial_number: positive, at most 159 bits (fits 20 octets with the top bit clear).
        not_before: the ``now`` the template was built at.
        not_after: ``not_before`` plus the requested or default duration.
        is_ca: BasicConstraints CA flag (always emitted, critical, no path length).
        key_usage: KeyUsage (critical), or ``None`` when no bit is set.
        extended_key_usage: ExtendedKeyUsage (non-critical): computed usages followed by the
            CSR's unnamed EKU OIDs, or ``None`` when there are none.
        subject_alt_name: the CSR's SAN extension with criticality set from the subject.
        name_constraints: the CSR's NameConstraints extension, criticality as requested.
    """

    public_key: CertificatePublicKeyTypes
    subject: x509.Name
    raw_subject: bytes
    serial_number: int
    not_before: dt.datetime
    not_after: dt.datetime
    is_ca: bool
    key_usage: x509.KeyUsage | None
    extended_key_usage: x509.ExtendedKeyUsage | None = None
    subject_alt_name: x509.Extension[x509.SubjectAlternativeName] | None = None
    name_constraints: x509.Extension[x509.NameConstraints] | None = None

    @property
    def subject_is_empty(self) -> bool:
        """Whether the subject DN has no RDN at all."""
        return self.raw_subject == _EMPTY_NAME_DER

    def extensions(self) -> tuple[x509.Extension[x509.ExtensionType], ...]:
        """The extensions the template decides, with their criticality, in a fixed order.

        Key identifiers, CRL distribution points and AIA depend on the issuer and are added by
        ``certsmith.pki.sign``.
        """
        exts: list[x509.Extension[x509.ExtensionType]] = [
            x509.Extension(
                x509.BasicConstraints.oid,
                True,
                x509.BasicConstraints(ca=self.is_ca, path_length=None),
            )
        ]
        if self.key_usage is not None:
            exts.append(x509.Extension(x509.KeyUsage.oid, True, self.key_usage))
        if self.extended_key_usage is not None:
            exts.append(x509.Extension(x509.ExtendedKeyUsage.oid, False, self.extended_key_usage))
        if self.subject_alt_name is not None:
            exts.append(self.subject_alt_name)
        if self.name_constraints is not None:
            exts.append(self.name_constraints)
        return tuple(exts)


def _csr_extension(
    csr: x509.CertificateSigningRequest, ext_type: type[_E]
) -> x509.Extension[_E] | None:
    try:
        return csr.extensions.get_extension_for_class(ext_type)
    except x509.ExtensionNotFound:
        return None


def _bool(value: bool) -> str:
    return "true" if value else "false"


def certificate_template_from_csr(
    csr_pem: bytes,
    *,
    is_ca: bool,
    usages: Sequence[str],
    duration: dt.timedelta | None,
    now: dt.datetime,
    serial_number: int | None = None,
) -> CertificateTemplate:
    """Build the certificate template for a CertificateRequest (SPEC §4.4).

    Args:
        csr_pem: ``spec.request``, a PEM ``CERTIFICATE REQUEST``.
        is_ca: ``spec.isCA``.
        usages: ``spec.usages``; empty means the defaults.
        duration: ``spec.duration``; ``None`` means 90 days. No minimum is enforced.
        now: the controller clock's time, timezone-aware; the certificate is not back-dated.
        serial_number: a fixed serial for tests; by default a random 159-bit one.

    Returns:
        The template to sign.

    Raises:
        TemplateError: the CSR does not decode or its signature does not verify; a usage string
            is unknown; the CSR's BasicConstraints CA flag differs from ``is_ca``
            (``IsCA true does not match expected value false``); the CSR's KeyUsage or
            ExtendedKeyUsage differ from those computed from ``usages``
            (``the KeyUsages [ ... ] do not match the expected KeyUsages [ ... ]``, likewise
            ``ExtKeyUsages``).
        ValueError: ``now`` is naive.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    try:
        csr = decode_csr(csr_pem, verify=True)
        computed = compute_usages(usages, is_ca=is_ca)
        # Raises for encipher/decipher only without key agreement, which cryptography cannot
        # encode; better a clear template error than a crash while signing.
        computed_ku = computed.to_key_usage()
    except ValueError as err:
        raise TemplateError(str(err)) from err
    try:
        basic = _csr_extension(csr, x509.BasicConstraints)
        key_usage = _csr_extension(csr, x509.KeyUsage)
        ext_key_usage = _csr_extension(csr, x509.ExtendedKeyUsage)
        san = _csr_extension(csr, x509.SubjectAlternativeName)
        name_constraints = _csr_extension(csr, x509.NameConstraints)
    except ValueError as err:  # an extension that is present but malformed
        raise TemplateError(f"error parsing CSR extensions: {err}") from err

    if basic is not None and basic.value.ca != is_ca:
        raise TemplateError(
            f"{CSR_MISMATCH_PREFIX}IsCA {_bool(basic.value.ca)} does not match expected value "
            f"{_bool(is_ca)}"
        )

    requested_ekus = list(ext_key_usage.value) if ext_key_usage is not None else []
    unknown_ekus = [oid for oid in requested_ekus if oid not in _KNOWN_EKUS]
    if key_usage is not None or ext_key_usage is not None:
        requested_bits = key_usage_names(key_usage.value) if key_usage is not None else []
        expected_bits = key_usage_names(computed_ku)
        if set(requested_bits) != set(expected_bits):
            raise TemplateError(
                f"{CSR_MISMATCH_PREFIX}the KeyUsages {format_usage_list(requested_bits)} do not "
                "match the expected "
                f"KeyUsages {format_usage_list(expected_bits)}"
            )
        known_ekus = [oid for oid in requested_ekus if oid in _KNOWN_EKUS]
        if known_ekus != list(computed.ext):
            raise TemplateError(
                f"{CSR_MISMATCH_PREFIX}the ExtKeyUsages "
                f"{format_usage_list(ext_key_usage_names(known_ekus))} do not "
                f"match the expected ExtKeyUsages "
                f"{format_usage_list(ext_key_usage_names(list(computed.ext)))}"
            )

    subject_der = raw_subject(csr)
    if san is not None:
        san = x509.Extension(san.oid, subject_der == _EMPTY_NAME_DER, san.value)
    ekus = [*computed.ext, *unknown_ekus]
    return CertificateTemplate(
        public_key=csr.public_key(),
        subject=csr.subject,
        raw_subject=subject_der,
        serial_number=serial_number if serial_number is not None else x509.random_serial_number(),
        not_before=now,
        not_after=now + (duration if duration is not None else DEFAULT_DURATION),
        is_ca=is_ca,
        key_usage=computed_ku if computed.bits else None,
        extended_key_usage=x509.ExtendedKeyUsage(ekus) if ekus else None,
        subject_alt_name=san,
        name_constraints=name_constraints,
    )
