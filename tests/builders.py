"""Builders for test objects: keyword-only, valid by default (the Python form of ``gen.*``)."""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
from collections.abc import Sequence
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from certsmith.api.certmanager import (
    Certificate,
    CertificateRequest,
    CertificateSpec,
    CertificateStatus,
    ClusterIssuer,
    Issuer,
)
from certsmith.api.core import Secret
from certsmith.api.meta import Condition, encode_bytes
from certsmith.pki.csr import generate_csr
from tests.pkitools import NOW
from tests.pkitools import key as pki_key

ISSUED_NOT_BEFORE = NOW - dt.timedelta(days=1)
"""notBefore of ``make_issued_cert`` leaves: a day before ``tests.pkitools.NOW``."""
ISSUED_NOT_AFTER = ISSUED_NOT_BEFORE + dt.timedelta(days=90)
"""notAfter of ``make_issued_cert`` leaves: 90 days of lifetime, renewal due 30 days before."""


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


# --- Realistic manifests (wire dicts), for round-trip tests of the API models ---------------------


def my_ca_cr_manifest(*, request_pem: bytes | None = None) -> dict[str, Any]:
    """The documentation's ``my-ca-cr`` CertificateRequest (a real CSR by default)."""
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "CertificateRequest",
        "metadata": {"name": "my-ca-cr"},
        "spec": {
            "request": encode_bytes(make_csr_pem() if request_pem is None else request_pem),
            "isCA": False,
            "usages": ["signing", "digital signature", "server auth"],
            "duration": "2160h",
            "issuerRef": {"name": "ca-issuer", "kind": "Issuer", "group": "cert-manager.io"},
        },
    }


def ca_issuer_manifest(
    name: str = "ca-issuer", *, namespace: str = "default", secret_name: str = "ca-key-pair"
) -> dict[str, Any]:
    """A CA Issuer signing with the key pair in ``secret_name``, with a Ready status."""
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Issuer",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "ca": {
                "secretName": secret_name,
                "crlDistributionPoints": ["http://crl.example.com/ca.crl"],
                "issuingCertificateURLs": ["http://ca.example.com/ca.crt"],
                "ocspServers": ["http://ocsp.example.com"],
            }
        },
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KeyPairVerified",
                    "message": "Signing CA verified",
                    "lastTransitionTime": "2026-01-02T03:04:05Z",
                    "observedGeneration": 1,
                }
            ]
        },
    }


def selfsigned_cluster_issuer_manifest(name: str = "selfsigned-issuer") -> dict[str, Any]:
    """A SelfSigned ClusterIssuer."""
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": name},
        "spec": {"selfSigned": {}},
    }


def acme_issuer_manifest(
    name: str = "letsencrypt-staging", *, namespace: str = "default"
) -> dict[str, Any]:
    """An ACME Issuer with an HTTP-01 ingress solver and a DNS-01 RFC 2136 solver."""
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Issuer",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "acme": {
                "server": "https://acme-staging-v02.api.letsencrypt.org/directory",
                "email": "admin@example.com",
                "preferredChain": "ISRG Root X1",
                "skipTLSVerify": False,
                "enableDurationFeature": True,
                "disableAccountKeyGeneration": False,
                "profile": "shortlived",
                "privateKeySecretRef": {"name": f"{name}-account-key"},
                "externalAccountBinding": {
                    "keyID": "kid-1",
                    "keySecretRef": {"name": "eab-hmac", "key": "secret"},
                    "keyAlgorithm": "HS256",
                },
                "solvers": [
                    {
                        "selector": {"dnsZones": ["example.com"]},
                        "http01": {
                            "ingress": {
                                "ingressClassName": "nginx",
                                "serviceType": "ClusterIP",
                                "ingressTemplate": {
                                    "metadata": {"annotations": {"team": "platform"}}
                                },
                                "podTemplate": {
                                    "metadata": {"labels": {"app": "solver"}},
                                    "spec": {
                                        "nodeSelector": {"kubernetes.io/os": "linux"},
                                        "tolerations": [{"key": "dedicated", "operator": "Exists"}],
                                        "resources": {"requests": {"cpu": "10m"}},
                                    },
                                },
                            }
                        },
                    },
                    {
                        "selector": {"dnsNames": ["*.apps.example.test"]},
                        "dns01": {
                            "cnameStrategy": "Follow",
                            "rfc2136": {
                                "nameserver": "127.0.0.1:15353",
                                "protocol": "UDP",
                                "tsigKeyName": "eco-key",
                                "tsigAlgorithm": "HMACSHA256",
                                "tsigSecretSecretRef": {"name": "tsig-secret", "key": "secret"},
                            },
                        },
                    },
                ],
            }
        },
        "status": {
            "acme": {
                "uri": "https://acme-staging-v02.api.letsencrypt.org/acme/acct/1",
                "lastRegisteredEmail": "admin@example.com",
                "lastPrivateKeyHash": "abc123",
            }
        },
    }


def full_certificate_manifest(
    name: str = "example-com", *, namespace: str = "sandbox"
) -> dict[str, Any]:
    """A Certificate using most spec fields, with a status as the controllers write it."""
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "secretName": f"{name}-tls",
            "secretTemplate": {"annotations": {"owner": "web"}, "labels": {"tier": "edge"}},
            "duration": "2160h",
            "renewBefore": "360h",
            "revisionHistoryLimit": 3,
            "commonName": "example.com",
            "subject": {"organizations": ["Example Ltd"], "countries": ["NL"]},
            "isCA": False,
            "privateKey": {
                "algorithm": "RSA",
                "encoding": "PKCS1",
                "size": 2048,
                "rotationPolicy": "Always",
            },
            "usages": ["server auth", "client auth"],
            "dnsNames": ["example.com", "www.example.com"],
            "uris": ["spiffe://cluster.local/ns/sandbox/sa/example"],
            "ipAddresses": ["192.168.0.5"],
            "emailAddresses": ["hostmaster@example.com"],
            "otherNames": [{"oid": "1.3.6.1.4.1.311.20.2.3", "utf8Value": "upn@example.com"}],
            "signatureAlgorithm": "SHA256WithRSA",
            "encodeUsagesInRequest": True,
            "keystores": {
                "pkcs12": {
                    "create": True,
                    "profile": "Modern2023",
                    "passwordSecretRef": {"name": "p12-password", "key": "password"},
                },
                "jks": {"create": True, "alias": "server", "password": "changeit"},
            },
            "additionalOutputFormats": [{"type": "CombinedPEM"}, {"type": "DER"}],
            "issuerRef": {"name": "ca-issuer", "kind": "Issuer", "group": "cert-manager.io"},
        },
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "Ready",
                    "message": "Certificate is up to date and has not expired",
                    "lastTransitionTime": "2026-01-02T03:04:05Z",
                    "observedGeneration": 1,
                }
            ],
            "notBefore": "2026-01-02T03:04:05Z",
            "notAfter": "2026-04-02T03:04:05Z",
            "renewalTime": "2026-03-18T03:04:05Z",
            "revision": 1,
        },
    }


# --- Secrets for issuers ----------------------------------------------------------------------


def make_secret(
    name: str = "ca-key-pair",
    *,
    namespace: str = "ns",
    data: dict[str, bytes] | None = None,
    secret_type: str = "kubernetes.io/tls",
) -> Secret:
    """A Secret with raw ``data`` values (encoded to base64 here)."""
    return Secret.from_dict(
        {
            "metadata": {"name": name, "namespace": namespace},
            "type": secret_type,
            "data": Secret.encode_data(data or {}),
        }
    )


def make_ca_secret(
    name: str = "ca-key-pair",
    *,
    namespace: str = "ns",
    chain_pem: bytes,
    key_pem: bytes,
    ca_pem: bytes | None = None,
) -> Secret:
    """A CA issuer Secret: ``tls.crt`` (chain), ``tls.key`` and an optional ``ca.crt``."""
    data = {"tls.crt": chain_pem, "tls.key": key_pem}
    if ca_pem is not None:
        data["ca.crt"] = ca_pem
    return make_secret(name, namespace=namespace, data=data)


def private_key_pem(key: Any) -> bytes:
    """A private key as unencrypted PKCS#8 PEM (for ``tls.key``)."""
    return bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


# --- Certificates, their Secrets and requests (policy tests) ----------------------------------


def make_issued_cert(
    *,
    key: Any,
    common_name: str = "",
    dns_names: Sequence[str] = ("web.example.com",),
    ip_addresses: Sequence[str] = (),
    uris: Sequence[str] = (),
    emails: Sequence[str] = (),
    subject: x509.Name | None = None,
    not_before: dt.datetime = ISSUED_NOT_BEFORE,
    not_after: dt.datetime = ISSUED_NOT_AFTER,
    signer: Any = None,
) -> x509.Certificate:
    """A leaf for ``key`` with the given names; self-signed unless ``signer`` (a key) is given."""
    if subject is None:
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)] if common_name else []
        subject = x509.Name(attrs)
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    sans += [x509.UniformResourceIdentifier(u) for u in uris]
    sans += [x509.RFC822Name(e) for e in emails]
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(sans), critical=not subject.rdns
        )
    sign_with = signer or key
    algorithm = None if isinstance(sign_with, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(sign_with, algorithm)


def cert_pem(cert: x509.Certificate) -> bytes:
    """One certificate as PEM."""
    return cert.public_bytes(serialization.Encoding.PEM)


def make_tls_secret(
    name: str = "web-tls",
    *,
    namespace: str = "ns",
    key: Any = None,
    cert: x509.Certificate | None = None,
    key_pem: bytes | None = None,
    crt_pem: bytes | None = None,
    extra_data: dict[str, bytes] | None = None,
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    managed_fields: Sequence[dict[str, Any]] | None = None,
    owner_references: Sequence[dict[str, Any]] | None = None,
) -> Secret:
    """A ``kubernetes.io/tls`` Secret holding a real key pair.

    ``key`` defaults to the cached RSA 2048 key (the Certificate default), ``cert`` to a leaf
    for it naming ``web.example.com``; ``key_pem``/``crt_pem`` override the stored bytes
    (``b""`` stores an empty value).
    """
    key = key if key is not None else pki_key("rsa2048")
    cert = cert if cert is not None else make_issued_cert(key=key)
    data = {
        "tls.key": private_key_pem(key) if key_pem is None else key_pem,
        "tls.crt": cert_pem(cert) if crt_pem is None else crt_pem,
        **(extra_data or {}),
    }
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations is not None:
        metadata["annotations"] = annotations
    if labels is not None:
        metadata["labels"] = labels
    if managed_fields is not None:
        metadata["managedFields"] = list(managed_fields)
    if owner_references is not None:
        metadata["ownerReferences"] = list(owner_references)
    return Secret.from_dict(
        {"metadata": metadata, "type": "kubernetes.io/tls", "data": Secret.encode_data(data)}
    )


def make_request_for(
    certificate: Certificate,
    *,
    key: Any = None,
    revision: int = 1,
    spec: CertificateSpec | None = None,
) -> CertificateRequest:
    """The request the request manager would create for ``certificate`` (or another ``spec``).

    The CSR is generated from the spec and signed by ``key`` (default the cached RSA 2048 key);
    ``duration``, ``issuerRef``, ``isCA`` and ``usages`` are copied as the request manager does.
    """
    spec = spec if spec is not None else certificate.spec
    key = key if key is not None else pki_key("rsa2048")
    body: dict[str, Any] = {
        "request": encode_bytes(generate_csr(spec, key)),
        "issuerRef": spec.issuer_ref.to_dict(),
        "isCA": bool(spec.is_ca),
    }
    if spec.duration is not None:
        body["duration"] = spec.duration
    if spec.usages is not None:
        body["usages"] = list(spec.usages)
    return CertificateRequest.from_dict(
        {
            "metadata": {
                "name": f"{certificate.name}-{revision}",
                "namespace": certificate.namespace,
                "annotations": {
                    "cert-manager.io/certificate-revision": str(revision),
                    "cert-manager.io/certificate-name": certificate.name,
                },
            },
            "spec": body,
        }
    )


def with_certificate_meta(
    certificate: Certificate,
    *,
    uid: str | None = None,
    created: dt.datetime | None = None,
    renewal_time: dt.datetime | None = None,
    revision: int | None = None,
) -> Certificate:
    """A copy of ``certificate`` with a uid, creationTimestamp and/or status fields set."""
    metadata = certificate.metadata.model_copy(
        update={
            key: value
            for key, value in {"uid": uid, "creation_timestamp": created}.items()
            if value is not None
        }
    )
    status = certificate.status or CertificateStatus()
    status = status.model_copy(
        update={
            key: value
            for key, value in {"renewal_time": renewal_time, "revision": revision}.items()
            if value is not None
        }
    )
    return certificate.model_copy(update={"metadata": metadata, "status": status})
