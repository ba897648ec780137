"""Realistic manifests round-trip through the models unchanged and read back as typed values."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from certsmith.api.certmanager import Certificate, CertificateRequest, ClusterIssuer, Issuer
from certsmith.api.meta import KubeObject
from tests.builders import (
    acme_issuer_manifest,
    ca_issuer_manifest,
    full_certificate_manifest,
    my_ca_cr_manifest,
    selfsigned_cluster_issuer_manifest,
)


@dataclass(frozen=True)
class Case:
    id: str
    manifest: Callable[[], dict[str, Any]]
    model: type[KubeObject]


CASES = [
    Case("documentation my-ca-cr CertificateRequest", my_ca_cr_manifest, CertificateRequest),
    Case("CA Issuer with URLs and a Ready condition", ca_issuer_manifest, Issuer),
    Case("SelfSigned ClusterIssuer", selfsigned_cluster_issuer_manifest, ClusterIssuer),
    Case("ACME Issuer with http01 ingress and dns01 rfc2136", acme_issuer_manifest, Issuer),
    Case("Certificate with most fields and a status", full_certificate_manifest, Certificate),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_realistic_manifest_round_trips_unchanged(case):
    manifest = case.manifest()

    assert case.model.from_dict(manifest).to_dict() == manifest


def test_my_ca_cr_reads_back_as_typed_values():
    cr = CertificateRequest.from_dict(my_ca_cr_manifest())

    assert cr.name == "my-ca-cr"
    assert cr.spec.is_ca is False
    assert cr.spec.usages == ["signing", "digital signature", "server auth"]
    assert cr.spec.duration == "2160h"
    assert (cr.spec.issuer_ref.name, cr.spec.issuer_ref.kind, cr.spec.issuer_ref.group) == (
        "ca-issuer",
        "Issuer",
        "cert-manager.io",
    )
    assert cr.spec.request_pem.startswith(b"-----BEGIN CERTIFICATE REQUEST-----")
    assert cr.status is None


def test_acme_issuer_solvers_read_back_as_typed_values():
    issuer = Issuer.from_dict(acme_issuer_manifest())
    acme = issuer.spec.acme

    assert acme is not None
    assert acme.external_account_binding is not None
    assert acme.external_account_binding.key_id == "kid-1"
    assert acme.preferred_chain == "ISRG Root X1"
    assert acme.solvers is not None
    http01, dns01 = acme.solvers
    assert http01.http01 is not None
    assert http01.http01.ingress is not None
    assert http01.http01.ingress.ingress_class_name == "nginx"
    assert dns01.dns01 is not None
    assert dns01.dns01.rfc2136 is not None
    assert dns01.dns01.rfc2136.tsig_key_name == "eco-key"
    assert dns01.dns01.rfc2136.nameserver == "127.0.0.1:15353"


def test_certificate_reads_back_as_typed_values():
    cert = Certificate.from_dict(full_certificate_manifest())

    assert cert.spec.secret_name == "example-com-tls"
    assert cert.spec.private_key is not None
    assert cert.spec.private_key.rotation_policy == "Always"
    assert cert.spec.keystores is not None
    assert cert.spec.keystores.pkcs12 is not None
    assert cert.spec.keystores.pkcs12.profile == "Modern2023"
    assert cert.status is not None
    assert cert.status.not_after is not None
    assert cert.status.not_after.isoformat() == "2026-04-02T03:04:05+00:00"
