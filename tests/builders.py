"""Builders for test objects: keyword-only, valid by default (the Python form of ``gen.*``)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certsmith.api.certmanager import Certificate, CertificateRequest, ClusterIssuer, Issuer
from certsmith.api.meta import Condition, encode_bytes


@functools.cache
def cached_ec_key() -> ec.EllipticCurvePrivateKey:
    """One P-256 key for the whole test run (key generation is the slow part)."""
    return ec.generate_private_key(ec.SECP256R1())


def make_csr_pem(
    *,
    common_name: str = "example.com",
    dns_names: Sequence[str] = ("example.com",),
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
) -> bytes:
    """A real PEM CSR signed by the cached key, with optional extra extensions."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    )
    if dns_names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), critical=False
        )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    csr = builder.sign(cached_ec_key(), hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM)


def make_cert_request(
    name: str = "cr",
    *,
    namespace: str = "ns",
    issuer: str = "ca",
    issuer_kind: str | None = None,
    issuer_group: str | None = None,
    csr: bytes | None = None,
    is_ca: bool | None = None,
    usages: Sequence[str] | None = None,
    username: str | None = None,
    uid: str | None = None,
    groups: Sequence[str] | None = None,
    extra: dict[str, list[str]] | None = None,
    annotations: dict[str, str] | None = None,
    conditions: Sequence[Condition] = (),
) -> CertificateRequest:
    """A CertificateRequest; ``csr=None`` means a real CSR from the cached key."""
    issuer_ref: dict[str, Any] = {"name": issuer}
    if issuer_kind is not None:
        issuer_ref["kind"] = issuer_kind
    if issuer_group is not None:
        issuer_ref["group"] = issuer_group
    spec: dict[str, Any] = {
        "request": encode_bytes(make_csr_pem() if csr is None else csr),
        "issuerRef": issuer_ref,
    }
    optional = {
        "isCA": is_ca,
        "usages": None if usages is None else list(usages),
        "username": username,
        "uid": uid,
        "groups": None if groups is None else list(groups),
        "extra": extra,
    }
    spec.update({key: value for key, value in optional.items() if value is not None})
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations is not None:
        metadata["annotations"] = annotations
    data: dict[str, Any] = {"metadata": metadata, "spec": spec}
    if conditions:
        data["status"] = {"conditions": [c.to_dict() for c in conditions]}
    return CertificateRequest.from_dict(data)


def make_certificate(name: str = "web", *, namespace: str = "ns", **spec: Any) -> Certificate:
    """A Certificate; ``spec`` takes wire (camelCase) fields over valid defaults."""
    body: dict[str, Any] = {
        "secretName": f"{name}-tls",
        "issuerRef": {"name": "ca"},
        "dnsNames": ["web.example.com"],
    }
    body.update(spec)
    body = {key: value for key, value in body.items() if value is not None}
    return Certificate.from_dict({"metadata": {"name": name, "namespace": namespace}, "spec": body})


def make_issuer(
    name: str = "ca", *, namespace: str = "ns", cluster: bool = False, **spec: Any
) -> Issuer | ClusterIssuer:
    """An Issuer (or ClusterIssuer); ``spec`` is the wire issuer config, default a CA issuer."""
    body = spec or {"ca": {"secretName": "ca-key-pair"}}
    if cluster:
        return ClusterIssuer.from_dict({"metadata": {"name": name}, "spec": body})
    return Issuer.from_dict({"metadata": {"name": name, "namespace": namespace}, "spec": body})
