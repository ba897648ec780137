"""What cert-manager writes into a Certificate's target Secret, besides the key and certificate.

One source of truth for the issuing controller (which WRITES these values) and the post-issuance
policy checks (which COMPARE a Secret against them), so the two cannot drift (SPEC §5.5):

* labels: ``controller.cert-manager.io/fao: "true"`` over ``secretTemplate.labels``;
* annotations: ``secretTemplate.annotations``, then ``cert-manager.io/certificate-name``, the
  issuer name/kind/group copied verbatim from the request's issuerRef (empty strings stay empty,
  SPEC §10 quirk 13), then the certificate-detail annotations read from the issued X.509
  certificate. ``common-name``, ``alt-names``, ``ip-sans`` and ``uri-sans`` are always written
  (possibly ``""``); the e-mail and subject annotations only when non-empty, as upstream's
  ``AnnotationsForCertificate`` does;
* list values are one CSV record with Go ``encoding/csv`` quoting (RFC 4180: quote a field that
  holds a comma, a quote, CR or LF, or starts with white space; double inner quotes; never quote
  an empty field);
* additional output formats: ``tls-combined.pem`` is ``tls.key``, a newline, ``tls.crt``; and
  ``key.der`` is the DER body of the first PEM block of ``tls.key``.

Subject attributes are read the way Go's ``pkix.Name`` fills itself from a certificate: the
last ``CN`` and ``serialNumber`` win, every other attribute appends, multi-valued RDNs are
flattened in order. IP addresses are printed as Go's ``net.IP.String`` does (IPv4-mapped IPv6 as
dotted IPv4, IPv6 compressed).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from cryptography import x509
from cryptography.x509.oid import NameOID

from certsmith.api.certmanager import Certificate
from certsmith.api.meta import IssuerReference

__all__ = [
    "ALT_NAMES_ANNOTATION",
    "CA_KEY",
    "CERTIFICATE_DETAIL_ANNOTATIONS",
    "CERTIFICATE_NAME_ANNOTATION",
    "COMBINED_PEM_KEY",
    "COMMON_NAME_ANNOTATION",
    "DER_KEY",
    "EMAIL_SANS_ANNOTATION",
    "IP_SANS_ANNOTATION",
    "ISSUER_GROUP_ANNOTATION",
    "ISSUER_KIND_ANNOTATION",
    "ISSUER_NAME_ANNOTATION",
    "JKS_KEYSTORE_KEY",
    "JKS_TRUSTSTORE_KEY",
    "PART_OF_CERT_MANAGER_LABEL",
    "PKCS12_KEYSTORE_KEY",
    "PKCS12_TRUSTSTORE_KEY",
    "SUBJECT_COUNTRIES_ANNOTATION",
    "SUBJECT_LOCALITIES_ANNOTATION",
    "SUBJECT_ORGANIZATIONAL_UNITS_ANNOTATION",
    "SUBJECT_ORGANIZATIONS_ANNOTATION",
    "SUBJECT_POSTAL_CODES_ANNOTATION",
    "SUBJECT_PROVINCES_ANNOTATION",
    "SUBJECT_SERIAL_NUMBER_ANNOTATION",
    "SUBJECT_STREET_ADDRESSES_ANNOTATION",
    "TLS_CERT_KEY",
    "TLS_KEY_KEY",
    "URI_SANS_ANNOTATION",
    "SubjectFields",
    "certificate_detail_annotations",
    "combined_pem",
    "go_ip_string",
    "join_csv",
    "private_key_der",
    "secret_annotations",
    "secret_labels",
    "subject_fields",
]

# Secret data keys.
TLS_KEY_KEY: Final = "tls.key"
TLS_CERT_KEY: Final = "tls.crt"
CA_KEY: Final = "ca.crt"
COMBINED_PEM_KEY: Final = "tls-combined.pem"
DER_KEY: Final = "key.der"
PKCS12_KEYSTORE_KEY: Final = "keystore.p12"
PKCS12_TRUSTSTORE_KEY: Final = "truststore.p12"
JKS_KEYSTORE_KEY: Final = "keystore.jks"
JKS_TRUSTSTORE_KEY: Final = "truststore.jks"

# Labels and annotations.
PART_OF_CERT_MANAGER_LABEL: Final = "controller.cert-manager.io/fao"
CERTIFICATE_NAME_ANNOTATION: Final = "cert-manager.io/certificate-name"
ISSUER_NAME_ANNOTATION: Final = "cert-manager.io/issuer-name"
ISSUER_KIND_ANNOTATION: Final = "cert-manager.io/issuer-kind"
ISSUER_GROUP_ANNOTATION: Final = "cert-manager.io/issuer-group"
COMMON_NAME_ANNOTATION: Final = "cert-manager.io/common-name"
ALT_NAMES_ANNOTATION: Final = "cert-manager.io/alt-names"
IP_SANS_ANNOTATION: Final = "cert-manager.io/ip-sans"
URI_SANS_ANNOTATION: Final = "cert-manager.io/uri-sans"
EMAIL_SANS_ANNOTATION: Final = "cert-manager.io/email-sans"
SUBJECT_ORGANIZATIONS_ANNOTATION: Final = "cert-manager.io/subject-organizations"
SUBJECT_ORGANIZATIONAL_UNITS_ANNOTATION: Final = "cert-manager.io/subject-organizationalunits"
SUBJECT_COUNTRIES_ANNOTATION: Final = "cert-manager.io/subject-countries"
SUBJECT_PROVINCES_ANNOTATION: Final = "cert-manager.io/subject-provinces"
SUBJECT_LOCALITIES_ANNOTATION: Final = "cert-manager.io/subject-localities"
SUBJECT_POSTAL_CODES_ANNOTATION: Final = "cert-manager.io/subject-postalcodes"
SUBJECT_STREET_ADDRESSES_ANNOTATION: Final = "cert-manager.io/subject-streetaddresses"
SUBJECT_SERIAL_NUMBER_ANNOTATION: Final = "cert-manager.io/subject-serialnumber"

CERTIFICATE_DETAIL_ANNOTATIONS: Final[frozenset[str]] = frozenset(
    {
        COMMON_NAME_ANNOTATION,
        ALT_NAMES_ANNOTATION,
        IP_SANS_ANNOTATION,
        URI_SANS_ANNOTATION,
        EMAIL_SANS_ANNOTATION,
        SUBJECT_ORGANIZATIONS_ANNOTATION,
        SUBJECT_ORGANIZATIONAL_UNITS_ANNOTATION,
        SUBJECT_COUNTRIES_ANNOTATION,
        SUBJECT_PROVINCES_ANNOTATION,
        SUBJECT_LOCALITIES_ANNOTATION,
        SUBJECT_POSTAL_CODES_ANNOTATION,
        SUBJECT_STREET_ADDRESSES_ANNOTATION,
        SUBJECT_SERIAL_NUMBER_ANNOTATION,
    }
)
"""Every annotation ``certificate_detail_annotations`` may produce."""


@dataclass(frozen=True)
class SubjectFields:
    """A subject as Go's ``pkix.Name`` sees it (the fields cert-manager compares and prints)."""

    common_name: str = ""
    serial_number: str = ""
    countries: tuple[str, ...] = ()
    organizations: tuple[str, ...] = ()
    organizational_units: tuple[str, ...] = ()
    localities: tuple[str, ...] = ()
    provinces: tuple[str, ...] = ()
    street_addresses: tuple[str, ...] = ()
    postal_codes: tuple[str, ...] = ()


_LIST_ATTRIBUTES: Final[dict[x509.ObjectIdentifier, str]] = {
    NameOID.COUNTRY_NAME: "countries",
    NameOID.ORGANIZATION_NAME: "organizations",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "organizational_units",
    NameOID.LOCALITY_NAME: "localities",
    NameOID.STATE_OR_PROVINCE_NAME: "provinces",
    NameOID.STREET_ADDRESS: "street_addresses",
    NameOID.POSTAL_CODE: "postal_codes",
}


def subject_fields(name: x509.Name) -> SubjectFields:
    """Read a subject the way Go's ``pkix.Name.FillFromRDNSequence`` does.

    Args:
        name: A certificate's or CSR's subject.

    Returns:
        Last common name and serial number, every other known attribute in order.
    """
    lists: dict[str, list[str]] = {attr: [] for attr in _LIST_ATTRIBUTES.values()}
    common_name = serial_number = ""
    for rdn in name.rdns:
        for attribute in rdn:
            value = attribute.value
            if not isinstance(value, str):  # Go skips values that are not strings
                continue
            if attribute.oid == NameOID.COMMON_NAME:
                common_name = value
            elif attribute.oid == NameOID.SERIAL_NUMBER:
                serial_number = value
            elif attribute.oid in _LIST_ATTRIBUTES:
                lists[_LIST_ATTRIBUTES[attribute.oid]].append(value)
    return SubjectFields(
        common_name=common_name,
        serial_number=serial_number,
        **{attr: tuple(values) for attr, values in lists.items()},
    )


def _needs_quotes(value: str) -> bool:
    """Go ``encoding/csv``'s ``fieldNeedsQuotes`` for a comma separator."""
    if value == "":
        return False
    if value == "\\.":
        return True
    if any(c in value for c in ',"\r\n'):
        return True
    return value[0].isspace()


def join_csv(values: Sequence[str]) -> str:
    """Join values into one CSV record exactly as cert-manager's ``JoinWithEscapeCSV``.

    Args:
        values: The fields.

    Returns:
        The record without a line terminator; ``""`` for no values.
    """
    return ",".join(
        '"' + value.replace('"', '""') + '"' if _needs_quotes(value) else value for value in values
    )


def go_ip_string(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """Print an IP as Go's ``net.IP.String``: IPv4-mapped IPv6 prints as dotted IPv4."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


@dataclass(frozen=True)
class _AltNames:
    dns_names: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    ips: list[str] = field(default_factory=list)
    uris: list[str] = field(default_factory=list)


def _alt_names(cert: x509.Certificate) -> _AltNames:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return _AltNames()
    names = _AltNames()
    for general_name in san:
        if isinstance(general_name, x509.DNSName):
            names.dns_names.append(general_name.value)
        elif isinstance(general_name, x509.RFC822Name):
            names.emails.append(general_name.value)
        elif isinstance(general_name, x509.UniformResourceIdentifier):
            names.uris.append(general_name.value)
        elif isinstance(general_name, x509.IPAddress) and not isinstance(
            general_name.value, ipaddress.IPv4Network | ipaddress.IPv6Network
        ):
            names.ips.append(go_ip_string(general_name.value))
    return names


def certificate_detail_annotations(cert: x509.Certificate | None) -> dict[str, str]:
    """The certificate-detail annotations for an issued certificate (SPEC §5.5).

    Args:
        cert: The leaf certificate written to ``tls.crt``; None gives no annotations (as for a
            Secret without a certificate).

    Returns:
        ``common-name``, ``alt-names``, ``ip-sans``, ``uri-sans`` always; the e-mail and subject
        annotations only when they would not be empty.

    Raises:
        ValueError: the certificate's extensions cannot be parsed.
    """
    if cert is None:
        return {}
    subject = subject_fields(cert.subject)
    names = _alt_names(cert)
    annotations: dict[str, str] = {COMMON_NAME_ANNOTATION: subject.common_name}
    if subject.serial_number:
        annotations[SUBJECT_SERIAL_NUMBER_ANNOTATION] = subject.serial_number
    optional: tuple[tuple[str, Sequence[str]], ...] = (
        (SUBJECT_ORGANIZATIONS_ANNOTATION, subject.organizations),
        (SUBJECT_ORGANIZATIONAL_UNITS_ANNOTATION, subject.organizational_units),
        (SUBJECT_COUNTRIES_ANNOTATION, subject.countries),
        (SUBJECT_PROVINCES_ANNOTATION, subject.provinces),
        (SUBJECT_LOCALITIES_ANNOTATION, subject.localities),
        (SUBJECT_POSTAL_CODES_ANNOTATION, subject.postal_codes),
        (SUBJECT_STREET_ADDRESSES_ANNOTATION, subject.street_addresses),
        (EMAIL_SANS_ANNOTATION, names.emails),
    )
    for key, values in optional:
        if values:
            annotations[key] = join_csv(values)
    annotations[ALT_NAMES_ANNOTATION] = join_csv(names.dns_names)
    annotations[IP_SANS_ANNOTATION] = join_csv(names.ips)
    annotations[URI_SANS_ANNOTATION] = join_csv(names.uris)
    return annotations


def secret_annotations(
    certificate: Certificate,
    issued: x509.Certificate | None,
    issuer_ref: IssuerReference,
) -> dict[str, str]:
    """Every annotation the issuing controller writes on the target Secret.

    Args:
        certificate: The Certificate (its name and ``secretTemplate.annotations``).
        issued: The issued leaf certificate, or None for no certificate-detail annotations.
        issuer_ref: The issuerRef of the CertificateRequest that was signed, copied verbatim:
            an unset kind or group is written as ``""``.

    Returns:
        The template annotations overlaid with cert-manager's own.

    Raises:
        ValueError: the certificate's extensions cannot be parsed.
    """
    template = certificate.spec.secret_template
    annotations = dict(template.annotations or {}) if template is not None else {}
    annotations[CERTIFICATE_NAME_ANNOTATION] = certificate.name
    annotations[ISSUER_NAME_ANNOTATION] = issuer_ref.name
    annotations[ISSUER_KIND_ANNOTATION] = issuer_ref.kind or ""
    annotations[ISSUER_GROUP_ANNOTATION] = issuer_ref.group or ""
    annotations.update(certificate_detail_annotations(issued))
    return annotations


def secret_labels(certificate: Certificate) -> dict[str, str]:
    """Every label the issuing controller writes on the target Secret.

    Args:
        certificate: The Certificate (its ``secretTemplate.labels``).

    Returns:
        The template labels with ``controller.cert-manager.io/fao: "true"`` over them.
    """
    template = certificate.spec.secret_template
    labels = dict(template.labels or {}) if template is not None else {}
    labels[PART_OF_CERT_MANAGER_LABEL] = "true"
    return labels


def combined_pem(key_pem: bytes, cert_pem: bytes) -> bytes:
    """The ``CombinedPEM`` output format: ``tls.key``, a newline, then ``tls.crt``."""
    return key_pem + b"\n" + cert_pem


_PEM_BLOCK = re.compile(
    rb"-----BEGIN ([^\r\n-]+)-----[ \t]*\r?\n(.*?)-----END \1-----",
    re.DOTALL,
)


def private_key_der(key_pem: bytes) -> bytes:
    """The ``DER`` output format: the body of the first PEM block of ``tls.key``.

    Args:
        key_pem: The ``tls.key`` bytes.

    Returns:
        The DER bytes; ``b""`` when there is no decodable PEM block.
    """
    match = _PEM_BLOCK.search(key_pem)
    if match is None:
        return b""
    body = match.group(2)
    # RFC 1421 headers (Proc-Type, DEK-Info) precede a blank line; Go's pem.Decode skips them.
    if b":" in body.split(b"\n", 1)[0]:
        _, _, body = body.partition(b"\n\n")
    try:
        return base64.b64decode(b"".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        return b""
