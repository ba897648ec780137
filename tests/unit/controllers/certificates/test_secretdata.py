"""What the issuing controller writes into the target Secret (SPEC §5.5)."""

from __future__ import annotations

import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from certsmith.api.meta import IssuerReference
from certsmith.controllers.certificates.secretdata import (
    certificate_detail_annotations,
    combined_pem,
    go_ip_string,
    join_csv,
    private_key_der,
    secret_annotations,
    secret_labels,
)
from tests.builders import make_certificate, make_issued_cert, private_key_pem
from tests.pkitools import key

EC = key("p256", 4)


@pytest.mark.parametrize(
    ("values", "expect"),
    [
        pytest.param([], "", id="no values is empty"),
        pytest.param(["a", "b"], "a,b", id="plain values"),
        pytest.param(["a,b", "c"], '"a,b",c', id="comma is quoted"),
        pytest.param(['say "hi"'], '"say ""hi"""', id="quotes are doubled"),
        pytest.param([" lead"], '" lead"', id="leading space is quoted"),
        pytest.param(["a\nb"], '"a\nb"', id="newline is quoted"),
        pytest.param(["", "x"], ",x", id="empty field is not quoted"),
        pytest.param(["\\."], '"\\."', id="postgres end marker is quoted"),
    ],
)
def test_join_csv_quotes_like_go_encoding_csv(values: list[str], expect: str) -> None:
    assert join_csv(values) == expect


def test_detail_annotations_of_a_full_certificate() -> None:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "NL"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example, Inc"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Ops"),
            x509.NameAttribute(NameOID.COMMON_NAME, "web.example.com"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, "42"),
        ]
    )
    cert = make_issued_cert(
        key=EC,
        subject=subject,
        dns_names=["web.example.com", "www.example.com"],
        ip_addresses=["10.0.0.1", "2001:db8::1"],
        uris=["spiffe://a/b"],
        emails=["ops@example.com"],
    )
    assert certificate_detail_annotations(cert) == {
        "cert-manager.io/common-name": "web.example.com",
        "cert-manager.io/subject-serialnumber": "42",
        "cert-manager.io/subject-countries": "NL",
        "cert-manager.io/subject-organizations": '"Example, Inc"',
        "cert-manager.io/subject-organizationalunits": "Ops",
        "cert-manager.io/email-sans": "ops@example.com",
        "cert-manager.io/alt-names": "web.example.com,www.example.com",
        "cert-manager.io/ip-sans": "10.0.0.1,2001:db8::1",
        "cert-manager.io/uri-sans": "spiffe://a/b",
    }


def test_detail_annotations_keep_the_four_always_present_keys_empty() -> None:
    cert = make_issued_cert(key=EC, common_name="only-cn", dns_names=())
    assert certificate_detail_annotations(cert) == {
        "cert-manager.io/common-name": "only-cn",
        "cert-manager.io/alt-names": "",
        "cert-manager.io/ip-sans": "",
        "cert-manager.io/uri-sans": "",
    }
    assert certificate_detail_annotations(None) == {}


def test_secret_annotations_overlay_cert_manager_keys_on_the_template() -> None:
    certificate = make_certificate(
        secretTemplate={
            "annotations": {"team": "web", "cert-manager.io/common-name": "spoofed"},
            "labels": {"tier": "edge", "controller.cert-manager.io/fao": "false"},
        }
    )
    cert = make_issued_cert(key=EC)
    annotations = secret_annotations(certificate, cert, IssuerReference(name="ca"))
    assert annotations["team"] == "web"
    assert annotations["cert-manager.io/certificate-name"] == "web"
    assert annotations["cert-manager.io/issuer-name"] == "ca"
    # Stored issuerRefs keep empty kind/group, and so does the Secret (SPEC §10 quirk 13).
    assert annotations["cert-manager.io/issuer-kind"] == ""
    assert annotations["cert-manager.io/issuer-group"] == ""
    assert annotations["cert-manager.io/common-name"] == ""
    assert annotations["cert-manager.io/alt-names"] == "web.example.com"
    assert secret_labels(certificate) == {"tier": "edge", "controller.cert-manager.io/fao": "true"}


def test_output_formats() -> None:
    key_pem = private_key_pem(EC)
    assert combined_pem(key_pem, b"CRT") == key_pem + b"\nCRT"
    assert private_key_der(key_pem) == EC.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    assert private_key_der(b"no pem") == b""


def test_go_ip_string_prints_v4_mapped_as_v4() -> None:
    assert go_ip_string(ipaddress.ip_address("::ffff:10.0.0.1")) == "10.0.0.1"
    assert go_ip_string(ipaddress.ip_address("2001:0db8:0:0:0:0:0:1")) == "2001:db8::1"
