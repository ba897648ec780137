from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from certsmith.pki.pem import raw_subject
from certsmith.pki.template import (
    DEFAULT_DURATION,
    CertificateTemplate,
    TemplateError,
    certificate_template_from_csr,
)
from tests.pkitools import ALL_STRING_TYPES_SUBJECT, NOW, key, make_csr, name

UPN = ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")
UNKNOWN_EKU = ObjectIdentifier("1.3.6.1.4.1.99999.1")


def build(csr: bytes | None = None, **kwargs) -> CertificateTemplate:
    args: dict[str, Any] = {"is_ca": False, "usages": (), "duration": None, "now": NOW} | kwargs
    return certificate_template_from_csr(csr if csr is not None else make_csr(), **args)


def ku(*bits: str) -> x509.KeyUsage:
    names = [
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    ]
    return x509.KeyUsage(**{n: n in bits for n in names})


def bad_signature(csr_pem: bytes) -> bytes:
    der = bytearray(x509.load_pem_x509_csr(csr_pem).public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0x01  # inside the signature value
    csr = x509.load_der_x509_csr(bytes(der))
    return csr.public_bytes(serialization.Encoding.PEM)


# --- what the template keeps from the CSR -----------------------------------------------------


def test_template_keeps_the_csr_subject_byte_for_byte():
    csr = make_csr(subject=ALL_STRING_TYPES_SUBJECT)
    template = build(csr)
    assert template.raw_subject == raw_subject(x509.load_pem_x509_csr(csr))
    assert template.subject.public_bytes() == template.raw_subject
    assert template.subject.rdns == ALL_STRING_TYPES_SUBJECT.rdns


def test_template_keeps_the_csr_public_key():
    template = build(make_csr(signer=key("p384")))
    assert template.public_key == key("p384").public_key()


def test_template_carries_the_san_extension_with_other_names():
    san = x509.SubjectAlternativeName(
        [
            x509.DNSName("example.com"),
            x509.OtherName(UPN, b"\x0c\x0cuser@example"),
            x509.IPAddress(ipaddress.ip_address("192.0.2.1")),
            x509.UniformResourceIdentifier("spiffe://example/ns/x"),
            x509.RFC822Name("a@example.com"),
        ]
    )
    template = build(make_csr(extensions=[(san, False)]))
    assert template.subject_alt_name == x509.Extension(san.oid, False, san)


def test_template_marks_the_san_critical_when_the_subject_is_empty():
    csr = make_csr(subject=x509.Name([]), dns_names=["example.com"])
    template = build(csr)
    assert template.subject_alt_name is not None
    assert template.subject_alt_name.critical is True
    assert template.subject_is_empty


def test_template_marks_the_san_non_critical_when_the_csr_said_critical_but_subject_is_set():
    san = x509.SubjectAlternativeName([x509.DNSName("example.com")])
    template = build(make_csr(extensions=[(san, True)]))
    assert template.subject_alt_name is not None
    assert template.subject_alt_name.critical is False


def test_template_has_no_san_when_the_csr_has_none():
    assert build().subject_alt_name is None


@pytest.mark.parametrize("critical", [True, False], ids=["critical", "non-critical"])
def test_template_keeps_name_constraints_with_their_criticality(critical):
    nc = x509.NameConstraints(
        permitted_subtrees=[x509.DNSName("example.com")], excluded_subtrees=None
    )
    template = build(make_csr(extensions=[(nc, critical)]), is_ca=True)
    assert template.name_constraints == x509.Extension(nc.oid, critical, nc)


# --- what the spec decides ---------------------------------------------------------------------


@dataclass(frozen=True)
class BasicCase:
    id: str
    is_ca: bool
    csr_basic: x509.BasicConstraints | None = None


BASIC_CASES = [
    BasicCase("is_ca true without csr basic constraints gives a ca", True),
    BasicCase("is_ca false without csr basic constraints gives a leaf", False),
    BasicCase("matching csr ca flag is accepted", True, x509.BasicConstraints(True, None)),
    BasicCase("matching csr leaf flag is accepted", False, x509.BasicConstraints(False, None)),
    BasicCase("a csr path length is dropped", True, x509.BasicConstraints(True, 3)),
]


@pytest.mark.parametrize("case", BASIC_CASES, ids=lambda c: c.id)
def test_template_basic_constraints_follow_is_ca_without_path_length(case):
    exts = [(case.csr_basic, True)] if case.csr_basic is not None else []
    template = build(make_csr(extensions=exts), is_ca=case.is_ca)
    assert template.extensions()[0] == x509.Extension(
        x509.BasicConstraints.oid, True, x509.BasicConstraints(ca=case.is_ca, path_length=None)
    )


@pytest.mark.parametrize(
    ("csr_ca", "is_ca", "message"),
    [
        (True, False, "IsCA true does not match expected value false"),
        (False, True, "IsCA false does not match expected value true"),
    ],
    ids=["csr asks for a ca but spec does not", "spec asks for a ca but csr does not"],
)
def test_template_rejects_a_csr_basic_constraints_ca_flag_that_differs(csr_ca, is_ca, message):
    csr = make_csr(extensions=[(x509.BasicConstraints(csr_ca, None), True)])
    with pytest.raises(TemplateError) as err:
        build(csr, is_ca=is_ca)
    assert str(err.value) == "encoded CSR error: " + message


def test_template_defaults_to_digital_signature_and_key_encipherment_without_eku():
    template = build()
    assert template.key_usage == ku("digital_signature", "key_encipherment")
    assert template.extended_key_usage is None


def test_template_adds_cert_sign_for_a_ca():
    assert build(is_ca=True).key_usage == ku(
        "digital_signature", "key_encipherment", "key_cert_sign"
    )


def test_template_keeps_eku_in_usages_order():
    template = build(usages=["client auth", "digital signature", "server auth"])
    assert template.extended_key_usage == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]
    )
    assert template.key_usage == ku("digital_signature")


def test_template_has_no_key_usage_when_usages_name_only_ekus():
    template = build(usages=["server auth"])
    assert template.key_usage is None
    assert [e.oid for e in template.extensions()] == [
        x509.BasicConstraints.oid,
        x509.ExtendedKeyUsage.oid,
    ]


def test_template_extensions_have_cert_manager_criticality():
    template = build(usages=["digital signature", "server auth"], csr=make_csr(dns_names=["a"]))
    assert [(e.oid, e.critical) for e in template.extensions()] == [
        (x509.BasicConstraints.oid, True),
        (x509.KeyUsage.oid, True),
        (x509.ExtendedKeyUsage.oid, False),
        (x509.SubjectAlternativeName.oid, False),
    ]


@dataclass(frozen=True)
class UsageCase:
    id: str
    usages: tuple[str, ...]
    csr_ku: x509.KeyUsage | None = None
    csr_eku: tuple[ObjectIdentifier, ...] | None = None
    is_ca: bool = False
    expect_eku: tuple[ObjectIdentifier, ...] | None = None
    expect_error: str | None = None


SERVER = ExtendedKeyUsageOID.SERVER_AUTH
CLIENT = ExtendedKeyUsageOID.CLIENT_AUTH

USAGE_CASES = [
    UsageCase(
        "a csr with exactly the computed usages is accepted",
        ("digital signature", "key encipherment", "server auth"),
        csr_ku=ku("digital_signature", "key_encipherment"),
        csr_eku=(SERVER,),
        expect_eku=(SERVER,),
    ),
    UsageCase(
        "signing and digital signature are the same bit",
        ("signing", "key encipherment"),
        csr_ku=ku("digital_signature", "key_encipherment"),
    ),
    UsageCase(
        "a ca csr must ask for cert sign too",
        (),
        csr_ku=ku("digital_signature", "key_encipherment"),
        is_ca=True,
        expect_error=(
            "the KeyUsages [ 'digital signature', 'key encipherment' ] do not match the expected "
            "KeyUsages [ 'digital signature', 'key encipherment', 'cert sign' ]"
        ),
    ),
    UsageCase(
        "a csr key usage missing a bit is rejected",
        (),
        csr_ku=ku("digital_signature"),
        expect_error=(
            "the KeyUsages [ 'digital signature' ] do not match the expected KeyUsages "
            "[ 'digital signature', 'key encipherment' ]"
        ),
    ),
    UsageCase(
        "a csr with only eku is compared on key usage too",
        ("server auth",),
        csr_eku=(SERVER,),
        expect_eku=(SERVER,),
    ),
    UsageCase(
        "a csr with only eku fails the key usage comparison for default usages",
        (),
        csr_eku=(SERVER,),
        expect_error=(
            "the KeyUsages [] do not match the expected KeyUsages "
            "[ 'digital signature', 'key encipherment' ]"
        ),
    ),
    UsageCase(
        "a csr eku the spec does not ask for is rejected",
        (),
        csr_ku=ku("digital_signature", "key_encipherment"),
        csr_eku=(SERVER,),
        expect_error=(
            "the ExtKeyUsages [ 'server auth' ] do not match the expected ExtKeyUsages []"
        ),
    ),
    UsageCase(
        "eku are compared in order",
        ("server auth", "client auth"),
        csr_eku=(CLIENT, SERVER),
        expect_error=(
            "the ExtKeyUsages [ 'client auth', 'server auth' ] do not match the expected "
            "ExtKeyUsages [ 'server auth', 'client auth' ]"
        ),
    ),
    UsageCase(
        "an unknown csr eku is passed through after the computed ones",
        ("digital signature", "key encipherment", "server auth"),
        csr_ku=ku("digital_signature", "key_encipherment"),
        csr_eku=(UNKNOWN_EKU, SERVER),
        expect_eku=(SERVER, UNKNOWN_EKU),
    ),
    UsageCase(
        "an unknown csr eku alone still yields an eku extension",
        (),
        csr_ku=ku("digital_signature", "key_encipherment"),
        csr_eku=(UNKNOWN_EKU,),
        expect_eku=(UNKNOWN_EKU,),
    ),
    UsageCase(
        "csr without key usage extensions takes the spec usages",
        ("digital signature", "client auth"),
        expect_eku=(CLIENT,),
    ),
]


@pytest.mark.parametrize("case", USAGE_CASES, ids=lambda c: c.id)
def test_template_checks_csr_usages_against_the_spec(case):
    exts: list[tuple[x509.ExtensionType, bool]] = []
    if case.csr_ku is not None:
        exts.append((case.csr_ku, True))
    if case.csr_eku is not None:
        exts.append((x509.ExtendedKeyUsage(list(case.csr_eku)), False))
    csr = make_csr(extensions=exts)
    if case.expect_error is not None:
        with pytest.raises(TemplateError) as err:
            build(csr, usages=case.usages, is_ca=case.is_ca)
        assert str(err.value) == "encoded CSR error: " + case.expect_error
        return
    template = build(csr, usages=case.usages, is_ca=case.is_ca)
    expect = x509.ExtendedKeyUsage(list(case.expect_eku)) if case.expect_eku else None
    assert template.extended_key_usage == expect


def test_template_rejects_an_unknown_usage_string():
    with pytest.raises(TemplateError, match="unknown"):
        build(usages=["no such usage"])


# --- validity and serial -----------------------------------------------------------------------


def test_template_starts_now_without_back_dating():
    assert build().not_before == NOW


@pytest.mark.parametrize(
    ("duration", "lifetime"),
    [
        (None, dt.timedelta(days=90)),
        (dt.timedelta(hours=1), dt.timedelta(hours=1)),
        (dt.timedelta(minutes=1), dt.timedelta(minutes=1)),  # no minimum for requests
        (dt.timedelta(days=3650), dt.timedelta(days=3650)),
    ],
    ids=["default 90 days", "one hour", "one minute", "ten years"],
)
def test_template_lasts_the_requested_duration_or_90_days(duration, lifetime):
    template = build(duration=duration)
    assert template.not_after - template.not_before == lifetime


def test_default_duration_is_90_days():
    assert dt.timedelta(days=90) == DEFAULT_DURATION


def test_template_serial_is_positive_and_fits_20_octets():
    serials = {build().serial_number for _ in range(20)}
    assert len(serials) == 20
    assert all(0 < s < 2**159 for s in serials)


def test_template_takes_a_fixed_serial_when_given():
    assert build(serial_number=42).serial_number == 42


def test_template_refuses_a_naive_now():
    with pytest.raises(ValueError, match="timezone-aware"):
        build(now=dt.datetime(2025, 1, 1))


# --- CSR decoding --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "csr",
    [
        b"",
        b"not a pem",
        b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
    ],
    ids=["empty", "text", "corrupt block"],
)
def test_template_rejects_a_csr_that_does_not_decode(csr):
    with pytest.raises(TemplateError):
        build(csr)


def test_template_rejects_a_csr_whose_signature_does_not_verify():
    with pytest.raises(TemplateError, match="signature"):
        build(bad_signature(make_csr()))


def test_template_uses_the_common_name_subject_by_default():
    assert build().subject == name("leaf.example.com")


def test_template_rejects_encipher_only_without_key_agreement():
    with pytest.raises(TemplateError, match="requires 'key agreement'"):
        build(usages=["digital signature", "encipher only"])
