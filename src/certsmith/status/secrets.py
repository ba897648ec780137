"""What a TLS Secret holds: the summary in a diagnosis and the full ``inspect secret`` report.

``tls.key`` is parsed only to compare public keys; no private key byte is ever put into a
result, a message or an exception text.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from cryptography import x509

from certsmith.pki.keys import KeyDecodeError
from certsmith.pki.pem import PEMError, split_pem_certificates
from certsmith.status.jsonview import mapping, text
from certsmith.status.model import SecretInfo, X509Info
from certsmith.status.x509info import describe_certificate, key_matches, signed_by

__all__ = [
    "SecretInspection",
    "inspect_secret",
    "secret_data",
    "summarize_secret",
]

TLS_CERT: Final = "tls.crt"
TLS_KEY: Final = "tls.key"
CA_CERT: Final = "ca.crt"
CERTIFICATE_NAME_ANNOTATION: Final = "cert-manager.io/certificate-name"
_ISSUER_NAME: Final = "cert-manager.io/issuer-name"
_ISSUER_KIND: Final = "cert-manager.io/issuer-kind"
_ISSUER_GROUP: Final = "cert-manager.io/issuer-group"


def secret_data(secret: Mapping[str, Any], key: str) -> bytes | None:
    """The decoded ``data[key]`` of a Secret, ``None`` when absent or not base64."""
    value = mapping(secret, "data").get(key)
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=False)
    except (binascii.Error, ValueError):
        return None


def _issuer_annotation(annotations: Mapping[str, Any]) -> str | None:
    if not any(k in annotations for k in (_ISSUER_NAME, _ISSUER_KIND, _ISSUER_GROUP)):
        return None
    kind = text(annotations, _ISSUER_KIND) or "Issuer"
    group = text(annotations, _ISSUER_GROUP) or "cert-manager.io"
    return f"{kind}.{group}/{text(annotations, _ISSUER_NAME)}"


def _key_match(key_pem: bytes | None, certs: list[x509.Certificate]) -> tuple[bool | None, str]:
    if key_pem is None or not certs:
        return None, ""
    try:
        return key_matches(key_pem, certs), ""
    except KeyDecodeError as err:
        return None, f"tls.key: {err}"


def summarize_secret(namespace: str, name: str, secret: Mapping[str, Any] | None) -> SecretInfo:
    """The :class:`SecretInfo` of a Secret read from the API (``None``: it does not exist)."""
    if secret is None:
        return SecretInfo(namespace=namespace, name=name, exists=False)
    annotations = mapping(secret, "metadata", "annotations")
    errors: list[str] = []
    certs: list[x509.Certificate] = []
    cert_pem = secret_data(secret, TLS_CERT)
    if cert_pem:
        try:
            certs = split_pem_certificates(cert_pem)
        except PEMError as err:
            errors.append(f"tls.crt: {err}")
    matches, key_error = _key_match(secret_data(secret, TLS_KEY), certs)
    if key_error:
        errors.append(key_error)
    return SecretInfo(
        namespace=namespace,
        name=name,
        exists=True,
        type=text(secret, "type"),
        keys=tuple(sorted(mapping(secret, "data"))),
        certificate=describe_certificate(certs[0]) if certs else None,
        chain_length=len(certs),
        key_matches=matches,
        has_ca=bool(secret_data(secret, CA_CERT)),
        decode_error="; ".join(errors) or None,
        certificate_name_annotation=annotations.get(CERTIFICATE_NAME_ANNOTATION) or None,
        issuer_annotation=_issuer_annotation(annotations),
    )


@dataclass(frozen=True)
class SecretInspection:
    """``certsmith inspect secret``: every certificate of a Secret and how they relate.

    Attributes:
        certificates: ``tls.crt`` in file order.
        chain_signed: ``chain_signed[i]`` tells whether certificate ``i`` is signed by
            certificate ``i + 1`` (one entry fewer than certificates).
        chain_in_order: every certificate is signed by the next one.
        key_matches: ``tls.key`` is the key of the first certificate (``None``: not comparable).
        ca_certificates: ``ca.crt`` in file order.
        ca_relation: how ``ca.crt`` relates to ``tls.crt`` in words (``""`` without ``ca.crt``).
        ca_signs_chain: the first ``ca.crt`` certificate signed the last ``tls.crt`` certificate,
            or is that certificate (``None`` without both).
        problems: decoding problems, one message each.
    """

    namespace: str
    name: str
    type: str
    keys: tuple[str, ...]
    certificates: tuple[X509Info, ...]
    chain_signed: tuple[bool, ...]
    chain_in_order: bool
    key_matches: bool | None
    ca_certificates: tuple[X509Info, ...] = ()
    ca_relation: str = ""
    ca_signs_chain: bool | None = None
    problems: tuple[str, ...] = field(default=())


def _certs(secret: Mapping[str, Any], key: str, problems: list[str]) -> list[x509.Certificate]:
    pem = secret_data(secret, key)
    if not pem:
        return []
    try:
        return split_pem_certificates(pem)
    except PEMError as err:
        problems.append(f"{key}: {err}")
        return []


def _ca_relation(
    chain: list[x509.Certificate], cas: list[x509.Certificate]
) -> tuple[str, bool | None]:
    if not cas:
        return "", None
    if not chain:
        return "ca.crt present, but tls.crt holds no certificate to compare", None
    top, ca = chain[-1], cas[0]
    if top == ca:
        return "ca.crt is the last certificate of tls.crt (self-signed or a root)", True
    if signed_by(top, ca):
        return "ca.crt signed the last certificate of tls.crt", True
    return "ca.crt did NOT sign the last certificate of tls.crt", False


def inspect_secret(secret: Mapping[str, Any]) -> SecretInspection:
    """Decode a Secret's ``tls.crt``/``ca.crt`` and check chain order and key match."""
    meta = mapping(secret, "metadata")
    problems: list[str] = []
    chain = _certs(secret, TLS_CERT, problems)
    cas = _certs(secret, CA_CERT, problems)
    matches, key_error = _key_match(secret_data(secret, TLS_KEY), chain)
    if key_error:
        problems.append(key_error)
    signed = tuple(signed_by(chain[i], chain[i + 1]) for i in range(len(chain) - 1))
    relation, ca_signs = _ca_relation(chain, cas)
    return SecretInspection(
        namespace=text(meta, "namespace"),
        name=text(meta, "name"),
        type=text(secret, "type"),
        keys=tuple(sorted(mapping(secret, "data"))),
        certificates=tuple(describe_certificate(c) for c in chain),
        chain_signed=signed,
        chain_in_order=all(signed),
        key_matches=matches,
        ca_certificates=tuple(describe_certificate(c) for c in cas),
        ca_relation=relation,
        ca_signs_chain=ca_signs,
        problems=tuple(problems),
    )
