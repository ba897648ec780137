from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID, ObjectIdentifier

from certsmith.api.certmanager import CertificateSpec
from certsmith.pki.csr import (
    CSRDecodeError,
    CSRGenerationError,
    CSRSignatureError,
    csr_public_key_matches,
    decode_csr,
    generate_csr,
    utf8_other_name_value,
    verify_csr,
)
from tests.pkitools import key, make_root, openssl, pem

UPN = "1.3.6.1.4.1.311.20.2.3"


def make_spec(**fields: Any) -> CertificateSpec:
    """A valid Certificate spec; ``fields`` use the Python (snake_case) names."""
    return CertificateSpec.model_validate(
        {"secret_name": "tls", "issuer_ref": {"name": "ca"}, **fields}
    )


def csr_for(key_kind: str = "p256", **fields: Any) -> x509.CertificateSigningRequest:
    return x509.load_pem_x509_csr(generate_csr(make_spec(**fields), key(key_kind)))


def ext_or_none(
    csr: x509.CertificateSigningRequest, oid: ObjectIdentifier
) -> x509.Extension[Any] | None:
    try:
        return csr.extensions.get_extension_for_oid(oid)
    except x509.ExtensionNotFound:
        return None


def reference_csr_pem() -> bytes:
    """A CSR built with cryptography directly, so decoding is not tested against itself."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "decode.example.com")])
    )
    return builder.sign(key("p256", 2), hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


# --- decode_csr -------------------------------------------------------------------------------


def test_decode_csr_returns_the_parsed_request():
    csr = decode_csr(reference_csr_pem())

    assert csr.subject.rfc4514_string() == "CN=decode.example.com"


def test_decode_csr_uses_the_first_block_and_ignores_surrounding_text():
    data = b"leading text\n" + reference_csr_pem() + reference_csr_pem()

    assert decode_csr(data).subject.rfc4514_string() == "CN=decode.example.com"


def _with_body(block_type: str, body: bytes) -> bytes:
    return (
        f"-----BEGIN {block_type}-----\n".encode()
        + body
        + f"\n-----END {block_type}-----\n".encode()
    )


DECODE_ERRORS = [
    pytest.param(b"", "error decoding certificate request PEM block", id="empty"),
    pytest.param(b"not pem at all", "error decoding certificate request PEM block", id="not pem"),
    pytest.param(
        pem(make_root("root", slot=6)[0]),
        'error decoding certificate request PEM block: expected "CERTIFICATE REQUEST", '
        'found "CERTIFICATE"',
        id="a certificate",
    ),
    pytest.param(
        reference_csr_pem().replace(b"CERTIFICATE REQUEST", b"NEW CERTIFICATE REQUEST"),
        'error decoding certificate request PEM block: expected "CERTIFICATE REQUEST", '
        'found "NEW CERTIFICATE REQUEST"',
        id="old netscape block type",
    ),
    pytest.param(
        _with_body("CERTIFICATE REQUEST", b"MAMCAQA="),
        "error parsing certificate request: ",
        id="der is not a csr",
    ),
]


@pytest.mark.parametrize(("data", "message"), DECODE_ERRORS)
def test_decode_csr_rejects_what_is_not_a_pem_csr(data, message):
    with pytest.raises(CSRDecodeError) as info:
        decode_csr(data)

    assert str(info.value).startswith(message)
    assert isinstance(info.value, ValueError)


def _tampered_csr_pem() -> bytes:
    der = bytearray(
        x509.load_pem_x509_csr(reference_csr_pem()).public_bytes(serialization.Encoding.DER)
    )
    # The CN value sits inside the signed part; changing one letter breaks the signature.
    index = der.index(b"decode.example.com")
    der[index] = ord("D")
    return x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM)


def test_decode_csr_with_verify_rejects_a_bad_signature():
    with pytest.raises(CSRSignatureError, match=r"^CSR signature verification failed$"):
        decode_csr(_tampered_csr_pem(), verify=True)


def test_decode_csr_without_verify_accepts_a_bad_signature():
    assert decode_csr(_tampered_csr_pem()).subject.rfc4514_string() == "CN=Decode.example.com"


def test_verify_csr_accepts_a_good_signature():
    verify_csr(decode_csr(reference_csr_pem()))


@pytest.mark.parametrize(
    ("signer", "expected"),
    [pytest.param(("p256", 2), True, id="own key"), pytest.param(("p256", 3), False, id="other")],
)
def test_csr_public_key_matches_compares_with_the_private_key(signer, expected):
    assert csr_public_key_matches(decode_csr(reference_csr_pem()), key(*signer)) is expected


# --- subject ----------------------------------------------------------------------------------


def _rdns(name: x509.Name) -> list[list[tuple[str, str]]]:
    return [[(a.oid.dotted_string, str(a.value)) for a in rdn] for rdn in name.rdns]


C, ST, L, STREET, POSTAL, ORG, OU, CN, SERIAL = (
    oid.dotted_string
    for oid in (
        NameOID.COUNTRY_NAME,
        NameOID.STATE_OR_PROVINCE_NAME,
        NameOID.LOCALITY_NAME,
        NameOID.STREET_ADDRESS,
        NameOID.POSTAL_CODE,
        NameOID.ORGANIZATION_NAME,
        NameOID.ORGANIZATIONAL_UNIT_NAME,
        NameOID.COMMON_NAME,
        NameOID.SERIAL_NUMBER,
    )
)


def test_subject_fields_are_encoded_in_go_pkix_order_with_multi_valued_rdns():
    csr = csr_for(
        common_name="example.com",
        subject={
            "serial_number": "1234",
            "organizational_units": ["Unit"],
            "organizations": ["Org A", "Org B"],
            "postal_codes": ["12345"],
            "street_addresses": ["1 Main St"],
            "localities": ["Town"],
            "provinces": ["State"],
            "countries": ["DE"],
        },
    )

    assert _rdns(csr.subject) == [
        [(C, "DE")],
        [(ST, "State")],
        [(L, "Town")],
        [(STREET, "1 Main St")],
        [(POSTAL, "12345")],
        [(ORG, "Org A"), (ORG, "Org B")],
        [(OU, "Unit")],
        [(CN, "example.com")],
        [(SERIAL, "1234")],
    ]


@pytest.mark.parametrize(
    ("value", "string_type"),
    [
        pytest.param("example.com", _ASN1Type.PrintableString, id="printable"),
        pytest.param("*.example.com", _ASN1Type.UTF8String, id="asterisk is not printable"),
        pytest.param("a&b", _ASN1Type.UTF8String, id="ampersand is not printable"),
        pytest.param("Ünïcode", _ASN1Type.UTF8String, id="non ascii"),
    ],
)
def test_subject_values_use_printable_string_when_go_would(value, string_type):
    (attr,) = csr_for(common_name=value).subject

    assert attr.value == value
    assert attr._type == string_type


def test_three_letter_country_is_encoded_as_go_would_without_warning():
    # Reading the subject back through cryptography warns about the length, so look at the DER.
    data = generate_csr(make_spec(subject={"countries": ["USA"]}), key("p256"))

    der = decode_csr(data).tbs_certrequest_bytes
    assert b"\x06\x03\x55\x04\x06\x13\x03USA" in der  # countryName, PrintableString "USA"


def test_literal_subject_keeps_the_rfc4514_order():
    csr = csr_for(literal_subject="CN=leaf,OU=a+OU=b,O=Org,C=US")

    assert _rdns(csr.subject) == [
        [(C, "US")],
        [(ORG, "Org")],
        [(OU, "a"), (OU, "b")],
        [(CN, "leaf")],
    ]
    assert csr.subject.rfc4514_string() == "CN=leaf,OU=a+OU=b,O=Org,C=US"


DC = NameOID.DOMAIN_COMPONENT.dotted_string
UID = NameOID.USER_ID.dotted_string


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        pytest.param("SERIALNUMBER=42", [[SERIAL]], id="serial number"),
        pytest.param("UID=jdoe,DC=example", [[DC], [UID]], id="dc and uid"),
        pytest.param("1.2.3.4=value", [["1.2.3.4"]], id="dotted oid"),
        pytest.param("STREET=Main,L=Town,ST=State", [[ST], [L], [STREET]], id="address parts"),
    ],
)
def test_literal_subject_knows_cert_manager_attribute_names(literal, expected):
    subject = csr_for(literal_subject=literal).subject

    assert [[oid for oid, _ in rdn] for rdn in _rdns(subject)] == expected


def test_literal_subject_wins_over_common_name_and_subject_fields():
    csr = csr_for(
        literal_subject="CN=literal", common_name="ignored", subject={"organizations": ["x"]}
    )

    assert _rdns(csr.subject) == [[(CN, "literal")]]


@pytest.mark.parametrize(
    "literal", ["CN", "FOO=bar", "cn=lower"], ids=["no value", "unknown", "case"]
)
def test_invalid_literal_subject_is_a_generation_error(literal):
    with pytest.raises(CSRGenerationError, match="invalid literal subject"):
        generate_csr(make_spec(literal_subject=literal), key("p256"))


# --- subject alternative names ----------------------------------------------------------------


def test_sans_are_encoded_dns_email_ip_uri_then_other_names():
    csr = csr_for(
        common_name="cn",
        other_names=[{"oid": UPN, "utf8_value": "user@example.com"}],
        uris=["spiffe://cluster.local/ns/a/sa/b"],
        ip_addresses=["10.0.0.1", "2001:db8::1"],
        email_addresses=["a@example.com"],
        dns_names=["a.example.com", "b.example.com"],
    )

    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert list(san.value) == [
        x509.DNSName("a.example.com"),
        x509.DNSName("b.example.com"),
        x509.RFC822Name("a@example.com"),
        x509.IPAddress(ipaddress.ip_address("10.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("2001:db8::1")),
        x509.UniformResourceIdentifier("spiffe://cluster.local/ns/a/sa/b"),
        x509.OtherName(ObjectIdentifier(UPN), b"\x0c\x10user@example.com"),
    ]


def test_ipv4_mapped_ipv6_address_is_encoded_as_ipv4():
    csr = csr_for(common_name="cn", ip_addresses=["::ffff:192.0.2.1"])

    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.IPv4Address("192.0.2.1")]


@pytest.mark.parametrize(
    ("fields", "critical"),
    [
        pytest.param({"dns_names": ["a.example.com"]}, True, id="no subject makes san critical"),
        pytest.param({"dns_names": ["a.example.com"], "common_name": "a"}, False, id="common name"),
        pytest.param(
            {"dns_names": ["a.example.com"], "subject": {"organizations": ["o"]}},
            False,
            id="subject fields",
        ),
        pytest.param(
            {"dns_names": ["a.example.com"], "literal_subject": "O=o"}, False, id="literal subject"
        ),
    ],
)
def test_san_is_critical_exactly_when_the_subject_is_empty(fields, critical):
    san = csr_for(**fields).extensions.get_extension_for_class(x509.SubjectAlternativeName)

    assert san.critical is critical


def test_no_san_extension_without_names():
    assert ext_or_none(csr_for(common_name="cn"), ExtensionOID.SUBJECT_ALTERNATIVE_NAME) is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"ip_addresses": ["300.1.1.1"]}, "failed to parse IP address", id="bad ip"),
        pytest.param(
            {"other_names": [{"oid": "not-an-oid", "utf8_value": "x"}]},
            "invalid otherName OID",
            id="bad other name oid",
        ),
        pytest.param(
            {"name_constraints": {"permitted": {"ip_ranges": ["10.0.0.0/33"]}}},
            "failed to parse IP range",
            id="bad cidr",
        ),
        pytest.param(
            {"usages": ["encipher only"]}, "requires 'key agreement'", id="encipher only alone"
        ),
    ],
)
def test_unencodable_spec_values_are_generation_errors(fields, message):
    with pytest.raises(CSRGenerationError, match=message):
        generate_csr(make_spec(common_name="cn", **fields), key("p256"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("", b"\x0c\x00", id="empty"),
        pytest.param("ü", b"\x0c\x02\xc3\xbc", id="utf8 bytes are counted"),
        pytest.param("a" * 127, b"\x0c\x7f" + b"a" * 127, id="127 short form"),
        pytest.param("a" * 128, b"\x0c\x81\x80" + b"a" * 128, id="128 long form"),
        pytest.param("a" * 300, b"\x0c\x82\x01\x2c" + b"a" * 300, id="300 two length bytes"),
    ],
)
def test_utf8_other_name_value_is_a_der_utf8string(value, expected):
    assert utf8_other_name_value(value) == expected


# --- usages -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UsageCase:
    id: str
    fields: dict[str, Any]
    key_usage: set[str] | None
    ext_key_usage: list[ObjectIdentifier] | None = field(default=None)


KU_ARGS = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)

USAGE_CASES = [
    UsageCase("defaults are encoded", {}, {"digital_signature", "key_encipherment"}),
    UsageCase(
        "encode usages true is the default",
        {"encode_usages_in_request": True},
        {"digital_signature", "key_encipherment"},
    ),
    UsageCase("encode usages false leaves both out", {"encode_usages_in_request": False}, None),
    UsageCase(
        "is ca adds cert sign",
        {"is_ca": True},
        {"digital_signature", "key_encipherment", "key_cert_sign"},
    ),
    UsageCase(
        "ekus keep order",
        {"usages": ["signing", "client auth", "server auth"]},
        {"digital_signature"},
        [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH],
    ),
    UsageCase(
        "eku only means no key usage extension",
        {"usages": ["server auth"]},
        None,
        [ExtendedKeyUsageOID.SERVER_AUTH],
    ),
]


@pytest.mark.parametrize("case", USAGE_CASES, ids=lambda c: c.id)
def test_usages_are_encoded_in_the_request_as_configured(case):
    csr = csr_for(common_name="cn", **case.fields)

    ku = ext_or_none(csr, ExtensionOID.KEY_USAGE)
    eku = ext_or_none(csr, ExtensionOID.EXTENDED_KEY_USAGE)
    if case.key_usage is None:
        assert ku is None
    else:
        assert ku is not None
        assert ku.critical
        assert {a for a in KU_ARGS if getattr(ku.value, a)} == case.key_usage
    if case.ext_key_usage is None:
        assert eku is None
    else:
        assert eku is not None
        assert not eku.critical
        assert list(eku.value) == case.ext_key_usage


def test_no_basic_constraints_in_the_request_even_for_a_ca():
    csr = csr_for(common_name="ca", is_ca=True)

    assert ext_or_none(csr, ExtensionOID.BASIC_CONSTRAINTS) is None


# --- name constraints -------------------------------------------------------------------------


def test_name_constraints_carry_every_kind_of_subtree():
    csr = csr_for(
        common_name="ca",
        is_ca=True,
        name_constraints={
            "critical": True,
            "permitted": {
                "dns_domains": ["example.com"],
                "ip_ranges": ["10.0.0.0/8", "2001:db8::/32"],
                "email_addresses": ["example.com"],
                "uri_domains": [".example.com"],
            },
            "excluded": {"dns_domains": ["bad.example.com"], "ip_ranges": ["10.1.2.3/16"]},
        },
    )

    ext = csr.extensions.get_extension_for_class(x509.NameConstraints)
    assert ext.critical
    assert ext.value.permitted_subtrees == [
        x509.DNSName("example.com"),
        x509.IPAddress(ipaddress.ip_network("10.0.0.0/8")),
        x509.IPAddress(ipaddress.ip_network("2001:db8::/32")),
        x509.RFC822Name("example.com"),
        x509.UniformResourceIdentifier(".example.com"),
    ]
    # Host bits are dropped, as Go's net.ParseCIDR does.
    assert ext.value.excluded_subtrees == [
        x509.DNSName("bad.example.com"),
        x509.IPAddress(ipaddress.ip_network("10.1.0.0/16")),
    ]


@pytest.mark.parametrize(
    ("critical", "expected"),
    [pytest.param(None, False, id="unset"), pytest.param(False, False, id="false")],
)
def test_name_constraints_are_not_critical_unless_asked(critical, expected):
    csr = csr_for(
        common_name="ca",
        name_constraints={"critical": critical, "excluded": {"dns_domains": ["x.com"]}},
    )

    ext = csr.extensions.get_extension_for_class(x509.NameConstraints)
    assert ext.critical is expected
    assert ext.value.permitted_subtrees is None


@pytest.mark.parametrize(
    "constraints",
    [{}, {"critical": True, "permitted": {}, "excluded": {"dns_domains": []}}],
    ids=["nothing set", "empty subtrees"],
)
def test_empty_name_constraints_add_no_extension(constraints):
    csr = csr_for(common_name="ca", name_constraints=constraints)

    assert ext_or_none(csr, ExtensionOID.NAME_CONSTRAINTS) is None


# --- signature algorithm ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key_kind", "algorithm", "expected"),
    [
        pytest.param("rsa2048", None, hashes.SHA256, id="rsa 2048 default"),
        pytest.param("rsa3072", None, hashes.SHA384, id="rsa 3072 default"),
        pytest.param("rsa4096", None, hashes.SHA512, id="rsa 4096 default"),
        pytest.param("p256", None, hashes.SHA256, id="p256 default"),
        pytest.param("p384", None, hashes.SHA384, id="p384 default"),
        pytest.param("p521", None, hashes.SHA512, id="p521 default"),
        pytest.param("ed25519", None, None, id="ed25519 default"),
        pytest.param("rsa2048", "SHA256WithRSA", hashes.SHA256, id="SHA256WithRSA"),
        pytest.param("rsa2048", "SHA384WithRSA", hashes.SHA384, id="SHA384WithRSA"),
        pytest.param("rsa2048", "SHA512WithRSA", hashes.SHA512, id="SHA512WithRSA"),
        pytest.param("p256", "ECDSAWithSHA256", hashes.SHA256, id="ECDSAWithSHA256"),
        pytest.param("p256", "ECDSAWithSHA384", hashes.SHA384, id="ECDSAWithSHA384"),
        pytest.param("p256", "ECDSAWithSHA512", hashes.SHA512, id="ECDSAWithSHA512"),
        pytest.param("ed25519", "PureEd25519", None, id="PureEd25519"),
    ],
)
def test_csr_signature_hash_comes_from_spec_or_key(key_kind, algorithm, expected):
    csr = csr_for(key_kind, common_name="cn", signature_algorithm=algorithm)

    if expected is None:
        assert csr.signature_hash_algorithm is None
    else:
        assert type(csr.signature_hash_algorithm) is expected
    assert csr.is_signature_valid


@pytest.mark.parametrize(
    ("key_kind", "algorithm"),
    [
        pytest.param("p256", "SHA256WithRSA", id="rsa algorithm with ecdsa key"),
        pytest.param("rsa2048", "ECDSAWithSHA256", id="ecdsa algorithm with rsa key"),
        pytest.param("rsa2048", "PureEd25519", id="ed25519 algorithm with rsa key"),
        pytest.param("ed25519", "ECDSAWithSHA512", id="ecdsa algorithm with ed25519 key"),
    ],
)
def test_signature_algorithm_that_does_not_fit_the_key_is_a_generation_error(key_kind, algorithm):
    with pytest.raises(
        CSRGenerationError, match=f"^signature algorithm {algorithm} cannot be used"
    ):
        generate_csr(make_spec(common_name="cn", signature_algorithm=algorithm), key(key_kind))


def test_rsa_key_under_2048_bits_cannot_sign_a_csr():
    with pytest.raises(CSRGenerationError, match="invalid size 1024 for RSA key"):
        generate_csr(make_spec(common_name="cn"), key("rsa1024"))


# --- end to end -------------------------------------------------------------------------------


def test_generated_csr_verifies_with_openssl_and_round_trips(tmp_path):
    spec = make_spec(
        common_name="app.example.com",
        subject={"organizations": ["Example"], "countries": ["US"]},
        dns_names=["app.example.com"],
        ip_addresses=["192.0.2.10"],
        uris=["spiffe://example/app"],
        email_addresses=["ops@example.com"],
        other_names=[{"oid": UPN, "utf8_value": "app@example.com"}],
        usages=["server auth", "client auth"],
        is_ca=True,
        name_constraints={"critical": True, "permitted": {"dns_domains": ["example.com"]}},
    )
    data = generate_csr(spec, key("rsa2048", 3))
    path = tmp_path / "req.pem"
    path.write_bytes(data)

    result = openssl("req", "-in", path, "-verify", "-noout", "-text")

    assert result.returncode == 0, result.stderr
    assert "verify OK" in result.stdout + result.stderr
    assert "Subject: C = US, O = Example, CN = app.example.com" in result.stdout
    assert "DNS:app.example.com" in result.stdout
    assert "IP Address:192.0.2.10" in result.stdout
    assert "othername: UPN::app@example.com" in result.stdout
    assert "TLS Web Server Authentication, TLS Web Client Authentication" in result.stdout
    assert "Name Constraints: critical" in result.stdout
    assert "sha256WithRSAEncryption" in result.stdout
    assert csr_public_key_matches(decode_csr(data, verify=True), key("rsa2048", 3))
