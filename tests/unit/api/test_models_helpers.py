"""Convenience helpers on the models: decoded PEM, the configured issuer type, Secret values."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import ValidationError

from certsmith.api.acme import Order, OrderSpec, OrderStatus
from certsmith.api.certmanager import (
    AnyIssuer,
    CAIssuer,
    CertificateRequest,
    CertificateRequestSpec,
    CertificateRequestStatus,
    ClusterIssuer,
    Issuer,
    IssuerSpec,
    SelfSignedIssuer,
)
from certsmith.api.core import ConfigMap, Event, Lease, Namespace, Secret
from certsmith.api.meta import (
    IssuerReference,
    ObjectMeta,
    ObjectReference,
    decode_bytes,
    encode_bytes,
)
from tests.builders import make_csr_pem

PEM = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
B64 = base64.b64encode(PEM).decode()
NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# --- base64 fields -----------------------------------------------------------------------------


def test_request_pem_decodes_the_wire_request_to_the_pem_csr():
    csr = make_csr_pem()
    spec = CertificateRequestSpec(issuer_ref=IssuerReference(name="ca"), request=b64(csr))

    assert spec.request_pem == csr
    assert spec.request == b64(csr)


def test_request_with_line_breaks_is_accepted_and_decoded_as_go_does():
    wrapped = "\n".join(B64[i : i + 16] for i in range(0, len(B64), 16))

    spec = CertificateRequestSpec.from_dict({"issuerRef": {"name": "ca"}, "request": wrapped})

    assert spec.request_pem == PEM
    assert spec.to_dict()["request"] == wrapped


@pytest.mark.parametrize("bad", ["not base64!", "QUJD=", "QUJDRA"], ids=["symbols", "pad", "short"])
def test_request_that_is_not_base64_is_rejected_on_parse(bad):
    with pytest.raises(ValidationError, match="illegal base64 data"):
        CertificateRequestSpec.from_dict({"issuerRef": {"name": "ca"}, "request": bad})


STATUS_CASES = [
    pytest.param({}, None, None, id="nothing issued yet"),
    pytest.param({"certificate": B64}, PEM, None, id="certificate only"),
    pytest.param({"certificate": B64, "ca": B64}, PEM, PEM, id="certificate and ca"),
    pytest.param({"certificate": ""}, b"", None, id="empty certificate decodes to empty bytes"),
]


@pytest.mark.parametrize(("status", "certificate", "ca"), STATUS_CASES)
def test_request_status_decodes_certificate_and_ca(status, certificate, ca):
    parsed = CertificateRequestStatus.from_dict(status)

    assert parsed.certificate_pem == certificate
    assert parsed.ca_pem == ca


def test_status_written_with_encode_bytes_round_trips_through_the_wire():
    cr = CertificateRequest(
        metadata=ObjectMeta(name="cr", namespace="ns"),
        spec=CertificateRequestSpec(issuer_ref=IssuerReference(name="ca"), request=B64),
        status=CertificateRequestStatus(certificate=encode_bytes(PEM), failure_time=NOW),
    )

    again = CertificateRequest.from_dict(cr.to_dict())

    assert again.status is not None
    assert again.status.certificate_pem == PEM
    assert cr.to_dict()["status"] == {"certificate": B64, "failureTime": "2026-01-02T03:04:05Z"}


def test_order_decodes_request_and_certificate():
    order = Order(
        spec=OrderSpec(issuer_ref=IssuerReference(name="acme"), request=B64),
        status=OrderStatus(certificate=B64),
    )

    assert order.spec.request_pem == PEM
    assert order.status is not None
    assert order.status.certificate_pem == PEM
    assert OrderStatus().certificate_pem is None


def test_decode_bytes_raises_value_error_for_bad_input():
    with pytest.raises(ValueError, match="illegal base64 data"):
        decode_bytes("%%%")


# --- issuer_type -------------------------------------------------------------------------------

ISSUER_TYPE_CASES: list[tuple[str, dict[str, Any], str | None]] = [
    ("acme", {"acme": {"server": "https://x", "privateKeySecretRef": {"name": "k"}}}, "acme"),
    ("ca", {"ca": {"secretName": "ca-key-pair"}}, "ca"),
    ("vault", {"vault": {"server": "https://v", "path": "pki/sign/r", "auth": {}}}, "vault"),
    ("selfSigned", {"selfSigned": {}}, "selfSigned"),
    ("venafi", {"venafi": {"zone": "z"}}, "venafi"),
    ("none configured", {}, None),
    (
        "several configured: the first in acme, ca order wins",
        {"selfSigned": {}, "ca": {"secretName": "s"}},
        "ca",
    ),
]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [pytest.param(spec, expected, id=name) for name, spec, expected in ISSUER_TYPE_CASES],
)
def test_issuer_type_names_the_configured_issuer(spec, expected):
    assert IssuerSpec.from_dict(spec).issuer_type == expected


@pytest.mark.parametrize("model", [Issuer, ClusterIssuer])
def test_issuer_and_cluster_issuer_share_spec_and_fit_any_issuer(model):
    issuer: AnyIssuer = model(
        metadata=ObjectMeta(name="i"), spec=IssuerSpec(self_signed=SelfSignedIssuer())
    )

    assert issuer.spec.issuer_type == "selfSigned"
    assert issuer.to_dict() == {
        "apiVersion": "cert-manager.io/v1",
        "kind": model.__name__,
        "metadata": {"name": "i"},
        "spec": {"selfSigned": {}},
    }


def test_ca_issuer_urls_use_the_crd_spelling():
    ca = CAIssuer(
        secret_name="s", issuing_certificate_urls=["http://ca/ca.crt"], ocsp_servers=["o"]
    )

    assert ca.to_dict() == {
        "secretName": "s",
        "issuingCertificateURLs": ["http://ca/ca.crt"],
        "ocspServers": ["o"],
    }


def test_usages_outside_the_crd_enum_are_rejected():
    with pytest.raises(ValidationError, match="usages"):
        CertificateRequestSpec.from_dict(
            {"issuerRef": {"name": "ca"}, "request": B64, "usages": ["server auth", "bogus"]}
        )


# --- Secret ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretCase:
    id: str
    secret: dict[str, Any]
    key: str
    expected: bytes | None


SECRET_CASES = [
    SecretCase("data entry is decoded", {"data": {"tls.crt": B64}}, "tls.crt", PEM),
    SecretCase("missing key gives None", {"data": {"tls.crt": B64}}, "tls.key", None),
    SecretCase("no data at all gives None", {}, "tls.crt", None),
    SecretCase("empty value gives empty bytes", {"data": {"ca.crt": ""}}, "ca.crt", b""),
    SecretCase(
        "stringData wins over data as on write",
        {"data": {"k": b64(b"old")}, "stringData": {"k": "new"}},
        "k",
        b"new",
    ),
]


@pytest.mark.parametrize("case", SECRET_CASES, ids=lambda c: c.id)
def test_secret_decoded_returns_the_raw_value(case):
    secret = Secret.from_dict({"metadata": {"name": "s"}, **case.secret})

    assert secret.decoded(case.key) == case.expected


def test_secret_encode_data_builds_a_secret_that_decodes_back():
    secret = Secret(
        metadata=ObjectMeta(name="s"),
        type="kubernetes.io/tls",
        data=Secret.encode_data({"tls.crt": PEM, "tls.key": b"key"}),
    )

    assert secret.decoded("tls.crt") == PEM
    assert secret.to_dict() == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": B64, "tls.key": b64(b"key")},
    }


def test_secret_with_non_base64_data_is_rejected():
    with pytest.raises(ValidationError, match="illegal base64 data"):
        Secret.from_dict({"metadata": {"name": "s"}, "data": {"k": "not base64!"}})


# --- core objects ------------------------------------------------------------------------------

CORE_CASES = [
    pytest.param(
        Secret,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s", "namespace": "ns"},
            "type": "kubernetes.io/tls",
            "immutable": True,
            "data": {"tls.crt": B64},
        },
        id="Secret",
    ),
    pytest.param(
        ConfigMap,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "ns"},
            "data": {"a": "b"},
            "binaryData": {"bin": B64},
        },
        id="ConfigMap",
    ),
    pytest.param(
        Namespace,
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "ns"},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        },
        id="Namespace",
    ),
    pytest.param(
        Event,
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "cr.1", "namespace": "ns"},
            "involvedObject": {
                "apiVersion": "cert-manager.io/v1",
                "kind": "CertificateRequest",
                "name": "cr",
                "namespace": "ns",
                "uid": "u-1",
                "resourceVersion": "7",
            },
            "reason": "CertificateIssued",
            "message": "Certificate fetched from issuer successfully",
            "type": "Normal",
            "count": 2,
            "firstTimestamp": "2026-01-02T03:04:05Z",
            "lastTimestamp": "2026-01-02T03:05:05Z",
            "source": {"component": "cert-manager-certificaterequests-issuer-ca"},
            "reportingComponent": "cert-manager-certificaterequests-issuer-ca",
            "reportingInstance": "host-1",
        },
        id="Event",
    ),
    pytest.param(
        Lease,
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": "cert-manager-controller", "namespace": "kube-system"},
            "spec": {
                "holderIdentity": "host-1",
                "leaseDurationSeconds": 60,
                "acquireTime": "2026-01-02T03:04:05.000000Z",
                "renewTime": "2026-01-02T03:04:35.123456Z",
                "leaseTransitions": 3,
            },
        },
        id="Lease",
    ),
    pytest.param(
        Event,
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "e", "namespace": "ns"},
            "involvedObject": {"kind": "Pod", "name": "p"},
            "eventTime": "2026-01-02T03:04:05.500000Z",
            "series": {"count": 4, "lastObservedTime": "2026-01-02T03:04:06.000000Z"},
            "fieldFromANewerKubernetes": {"kept": True},
        },
        id="Event with MicroTime and a field we do not model",
    ),
]


@pytest.mark.parametrize(("model", "manifest"), CORE_CASES)
def test_core_object_round_trips_unchanged(model, manifest):
    assert model.from_dict(manifest).to_dict() == manifest


def test_lease_times_are_written_as_micro_time():
    lease = Lease.from_dict(
        {"metadata": {"name": "l"}, "spec": {"renewTime": "2026-01-02T03:04:05Z"}}
    )

    assert lease.to_dict()["spec"] == {"renewTime": "2026-01-02T03:04:05.000000Z"}


def test_event_involved_object_reads_back_as_an_object_reference():
    event = Event(
        metadata=ObjectMeta(name="e"),
        involved_object=ObjectReference(kind="Certificate", name="web", namespace="ns"),
        reason="Issuing",
        first_timestamp=NOW,
    )

    assert event.to_dict()["involvedObject"] == {
        "kind": "Certificate",
        "name": "web",
        "namespace": "ns",
    }
    assert event.to_dict()["firstTimestamp"] == "2026-01-02T03:04:05Z"
