"""RequestMatchesSpec and the fuzzy Secret-vs-spec match (SPEC §5.8 rows 8 and 8')."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from certsmith.api.certmanager import CertificateRequest, CertificateSpec
from certsmith.api.meta import IssuerReference
from certsmith.controllers.certificates.match import (
    RequestMatchError,
    issuer_refs_equal,
    request_matches_spec,
    secret_matches_spec,
)
from tests.builders import make_cert_request, make_certificate, make_issued_cert, make_request_for
from tests.pkitools import key

EC = key("p256", 3)

BASE: dict[str, Any] = {
    "commonName": "web.example.com",
    "dnsNames": ["web.example.com", "www.example.com"],
    "ipAddresses": ["10.0.0.1", "2001:db8::1"],
    "uris": ["spiffe://cluster.local/ns/ns/sa/web"],
    "emailAddresses": ["ops@example.com"],
    "subject": {
        "organizations": ["Example", "Example Two"],
        "provinces": ["Noord-Holland"],
        "postalCodes": ["1000AA"],
        "serialNumber": "42",
    },
    "otherNames": [{"oid": "1.3.6.1.4.1.311.20.2.3", "utf8Value": "upn@example.com"}],
    "duration": "24h",
    "usages": ["digital signature", "key encipherment"],
    "privateKey": {"algorithm": "ECDSA"},
}


def spec(**changes: Any) -> CertificateSpec:
    """The BASE spec with wire fields changed (None removes one)."""
    return make_certificate(**{**BASE, **changes}).spec


def request(**changes: Any) -> CertificateRequest:
    """The request the request manager made for BASE (with ``changes`` at that time)."""
    certificate = make_certificate(**{**BASE, **changes})
    return make_request_for(certificate, key=EC)


@dataclass(frozen=True)
class Case:
    id: str
    request: CertificateRequest
    spec: CertificateSpec
    expect: list[str]


REQUEST = request()
CASES = [
    Case("identical request matches", REQUEST, spec(), []),
    Case(
        "SANs and subject lists in another order match",
        REQUEST,
        spec(
            dnsNames=["www.example.com", "web.example.com"],
            ipAddresses=["2001:db8::1", "10.0.0.1"],
            subject={**BASE["subject"], "organizations": ["Example Two", "Example"]},
        ),
        [],
    ),
    Case("a DNS name added", REQUEST, spec(dnsNames=["a.example.com"]), ["spec.dnsNames"]),
    Case("an IP changed", REQUEST, spec(ipAddresses=["10.0.0.2"]), ["spec.ipAddresses"]),
    Case(
        "IPv4-mapped IPv6 equals IPv4",
        REQUEST,
        spec(ipAddresses=["::ffff:10.0.0.1", "2001:db8::1"]),
        [],
    ),
    Case("a URI changed", REQUEST, spec(uris=["https://example.com"]), ["spec.uris"]),
    Case("e-mails removed", REQUEST, spec(emailAddresses=None), ["spec.emailAddresses"]),
    Case("common name changed", REQUEST, spec(commonName="x.example.com"), ["spec.commonName"]),
    Case(
        "province changed reports spec.subject.provinces",
        REQUEST,
        spec(subject={**BASE["subject"], "provinces": ["Utrecht"]}),
        ["spec.subject.provinces"],
    ),
    Case(
        "postal code changed reports spec.subject.postCodes",
        REQUEST,
        spec(subject={**BASE["subject"], "postalCodes": ["2000BB"]}),
        ["spec.subject.postCodes"],
    ),
    Case(
        "serial number changed",
        REQUEST,
        spec(subject={**BASE["subject"], "serialNumber": "43"}),
        ["spec.subject.serialNumber"],
    ),
    Case(
        "otherName value changed",
        REQUEST,
        spec(otherNames=[{"oid": "1.3.6.1.4.1.311.20.2.3", "utf8Value": "x@example.com"}]),
        ["spec.otherNames"],
    ),
    Case(
        "otherNames unset in the spec are not compared",
        REQUEST,
        spec(otherNames=None),
        [],
    ),
    Case("isCA switched on", REQUEST, spec(isCA=True), ["spec.isCA"]),
    Case(
        "usages in another order match",
        REQUEST,
        spec(usages=["key encipherment", "digital signature"]),
        [],
    ),
    Case(
        "explicit default usages differ from none (no defaulting)",
        request(usages=None),
        spec(),
        ["spec.usages"],
    ),
    Case("duration 24h equals 1440m", REQUEST, spec(duration="1440m"), []),
    Case("duration changed 24h to 48h", REQUEST, spec(duration="48h"), ["spec.duration"]),
    Case("duration removed from the spec is not compared", REQUEST, spec(duration=None), []),
    Case("duration added to the spec is not compared", request(duration=None), spec(), []),
    Case(
        "issuerRef with explicit default kind and group matches",
        REQUEST,
        spec(issuerRef={"name": "ca", "kind": "Issuer", "group": "cert-manager.io"}),
        [],
    ),
    Case(
        "issuerRef kind ClusterIssuer differs",
        REQUEST,
        spec(issuerRef={"name": "ca", "kind": "ClusterIssuer"}),
        ["spec.issuerRef"],
    ),
    Case("issuerRef name differs", REQUEST, spec(issuerRef={"name": "other"}), ["spec.issuerRef"]),
    Case(
        "private key, secretTemplate and renewBefore are not compared",
        REQUEST,
        spec(
            privateKey={"algorithm": "RSA", "size": 4096},
            secretTemplate={"labels": {"a": "b"}},
            renewBefore="1h",
        ),
        [],
    ),
    Case(
        "several violations come in cert-manager's order",
        REQUEST,
        spec(dnsNames=["x.example.com"], ipAddresses=None, commonName="x.example.com", isCA=True),
        ["spec.ipAddresses", "spec.dnsNames", "spec.commonName", "spec.isCA"],
    ),
]

LITERAL = "CN=web.example.com,O=Example,C=NL"
LITERAL_REQUEST = make_request_for(
    make_certificate(literalSubject=LITERAL, dnsNames=["web.example.com"]), key=EC
)
CASES += [
    Case(
        "same literal subject matches",
        LITERAL_REQUEST,
        make_certificate(literalSubject=LITERAL, dnsNames=["web.example.com"]).spec,
        [],
    ),
    Case(
        "literal subject with RDNs in another order differs",
        LITERAL_REQUEST,
        make_certificate(
            literalSubject="C=NL,O=Example,CN=web.example.com", dnsNames=["web.example.com"]
        ).spec,
        ["spec.literalSubject"],
    ),
    Case(
        "spec otherNames set to [] while the CSR has no SAN extension at all",
        make_request_for(make_certificate(dnsNames=None, commonName="web"), key=EC),
        make_certificate(dnsNames=None, commonName="web", otherNames=[]).spec,
        ["spec.otherNames"],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_request_matches_spec(case: Case) -> None:
    assert request_matches_spec(case.request, case.spec) == case.expect


def test_undecodable_request_cannot_be_compared() -> None:
    with pytest.raises(RequestMatchError, match="failed to decode CertificateRequest"):
        request_matches_spec(make_cert_request(csr=b"nope"), spec())


def test_issuer_refs_equal_applies_defaults_on_both_sides() -> None:
    assert issuer_refs_equal(IssuerReference(name="a"), IssuerReference(name="a", kind="Issuer"))
    assert not issuer_refs_equal(
        IssuerReference(name="a", group="example.com"), IssuerReference(name="a")
    )


# --- secret_matches_spec (fuzzy) ----------------------------------------------------------------


@dataclass(frozen=True)
class FuzzyCase:
    id: str
    cert: x509.Certificate
    spec: CertificateSpec
    expect: list[str]


def leaf(**kwargs: Any) -> x509.Certificate:
    return make_issued_cert(key=EC, **kwargs)


def fuzzy_spec(**wire: Any) -> CertificateSpec:
    return make_certificate(**wire).spec


FUZZY_CASES = [
    FuzzyCase("same DNS names match", leaf(), fuzzy_spec(), []),
    FuzzyCase(
        "a DNS name promoted to the common name matches",
        leaf(common_name="web.example.com", dns_names=()),
        fuzzy_spec(),
        [],
    ),
    FuzzyCase(
        "common name and DNS name swapped match",
        leaf(common_name="a.example.com", dns_names=["b.example.com"]),
        fuzzy_spec(commonName="b.example.com", dnsNames=["a.example.com"]),
        [],
    ),
    FuzzyCase(
        "a DNS name added to the spec",
        leaf(),
        fuzzy_spec(dnsNames=["web.example.com", "www.example.com"]),
        ["spec.dnsNames"],
    ),
    FuzzyCase(
        "a common name added to the spec",
        leaf(),
        fuzzy_spec(commonName="x.example.com"),
        ["spec.commonName"],
    ),
    FuzzyCase(
        "IPs, URIs and e-mails compared as multisets",
        leaf(ip_addresses=["10.0.0.1"], uris=["https://a.example.com"], emails=["a@example.com"]),
        fuzzy_spec(
            ipAddresses=["10.0.0.2"],
            uris=["https://b.example.com"],
            emailAddresses=["a@example.com"],
        ),
        ["spec.ipAddresses", "spec.uris"],
    ),
]


@pytest.mark.parametrize("case", FUZZY_CASES, ids=lambda c: c.id)
def test_secret_matches_spec(case: FuzzyCase) -> None:
    assert secret_matches_spec(case.cert, case.spec) == case.expect


def test_fuzzy_match_reads_the_last_common_name() -> None:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "first.example.com"),
            x509.NameAttribute(NameOID.COMMON_NAME, "web.example.com"),
        ]
    )
    cert = leaf(subject=subject, dns_names=())
    assert secret_matches_spec(cert, fuzzy_spec()) == []
