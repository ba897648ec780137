from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from certsmith.pki.usages import (
    DEFAULT_USAGES,
    KNOWN_USAGES,
    KeyUsages,
    UnknownUsageError,
    UsageCombinationError,
    compute_usages,
    ext_key_usage_names,
    format_usage_list,
    key_usage_names,
)

KU_TABLE = [
    ("signing", "digital_signature"),
    ("digital signature", "digital_signature"),
    ("content commitment", "content_commitment"),
    ("key encipherment", "key_encipherment"),
    ("key agreement", "key_agreement"),
    ("data encipherment", "data_encipherment"),
    ("cert sign", "key_cert_sign"),
    ("crl sign", "crl_sign"),
    ("encipher only", "encipher_only"),
    ("decipher only", "decipher_only"),
]

EKU_TABLE = [
    ("any", "2.5.29.37.0"),
    ("server auth", "1.3.6.1.5.5.7.3.1"),
    ("client auth", "1.3.6.1.5.5.7.3.2"),
    ("code signing", "1.3.6.1.5.5.7.3.3"),
    ("email protection", "1.3.6.1.5.5.7.3.4"),
    ("s/mime", "1.3.6.1.5.5.7.3.4"),
    ("ipsec end system", "1.3.6.1.5.5.7.3.5"),
    ("ipsec tunnel", "1.3.6.1.5.5.7.3.6"),
    ("ipsec user", "1.3.6.1.5.5.7.3.7"),
    ("timestamping", "1.3.6.1.5.5.7.3.8"),
    ("ocsp signing", "1.3.6.1.5.5.7.3.9"),
    ("microsoft sgc", "1.3.6.1.4.1.311.10.3.3"),
    ("netscape sgc", "2.16.840.1.113730.4.1"),
]


def test_known_usages_are_the_23_strings_of_the_crd_enum():
    assert set(KNOWN_USAGES) == {u for u, _ in KU_TABLE} | {u for u, _ in EKU_TABLE}
    assert len(KNOWN_USAGES) == 23


@pytest.mark.parametrize(("usage", "bit"), KU_TABLE, ids=[u for u, _ in KU_TABLE])
def test_key_usage_string_sets_exactly_its_bit_and_no_eku(usage, bit):
    result = compute_usages([usage], is_ca=False)

    assert result == KeyUsages(bits=frozenset({bit}), ext=())


@pytest.mark.parametrize(("usage", "oid"), EKU_TABLE, ids=[u for u, _ in EKU_TABLE])
def test_eku_string_adds_exactly_its_oid_and_no_bits(usage, oid):
    result = compute_usages([usage], is_ca=False)

    assert result == KeyUsages(bits=frozenset(), ext=(ObjectIdentifier(oid),))


def test_empty_usages_mean_digital_signature_and_key_encipherment():
    result = compute_usages([], is_ca=False)

    assert DEFAULT_USAGES == ("digital signature", "key encipherment")
    assert result.bits == {"digital_signature", "key_encipherment"}
    assert result.ext == ()


@pytest.mark.parametrize(
    ("usages", "bits"),
    [
        ([], {"digital_signature", "key_encipherment", "key_cert_sign"}),
        (["server auth"], {"key_cert_sign"}),
        (["cert sign"], {"key_cert_sign"}),
    ],
    ids=["defaults", "eku only", "cert sign already asked for"],
)
def test_is_ca_adds_cert_sign(usages, bits):
    assert compute_usages(usages, is_ca=True).bits == bits


def test_eku_order_is_kept_and_duplicates_are_not_removed():
    result = compute_usages(
        ["client auth", "server auth", "s/mime", "email protection"], is_ca=False
    )

    assert result.ext == (
        ExtendedKeyUsageOID.CLIENT_AUTH,
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.EMAIL_PROTECTION,
        ExtendedKeyUsageOID.EMAIL_PROTECTION,
    )


def test_unknown_usages_are_all_reported_in_order():
    with pytest.raises(UnknownUsageError) as info:
        compute_usages(["bogus", "server auth", "Server Auth"], is_ca=False)

    assert info.value.unknown == ["bogus", "Server Auth"]
    assert str(info.value) == "unknown key usages: [bogus Server Auth]"
    assert isinstance(info.value, ValueError)


def test_to_key_usage_sets_the_named_bits():
    ku = compute_usages(["signing", "crl sign", "key agreement", "encipher only"], is_ca=False)

    assert ku.to_key_usage() == x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=True,
        key_cert_sign=False,
        crl_sign=True,
        encipher_only=True,
        decipher_only=False,
    )


@pytest.mark.parametrize("usage", ["encipher only", "decipher only"])
def test_encipher_or_decipher_only_without_key_agreement_cannot_become_an_extension(usage):
    usages = compute_usages([usage], is_ca=False)

    with pytest.raises(UsageCombinationError, match="requires 'key agreement'"):
        usages.to_key_usage()


def test_to_extended_key_usage_is_none_without_ekus():
    assert compute_usages(["signing"], is_ca=False).to_extended_key_usage() is None


def test_to_extended_key_usage_keeps_the_list():
    ext = compute_usages(["server auth", "server auth"], is_ca=False).to_extended_key_usage()

    assert ext is not None
    assert list(ext) == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]


@pytest.mark.parametrize(
    ("usages", "names"),
    [
        (["signing", "key encipherment"], ["digital signature", "key encipherment"]),
        (
            ["crl sign", "cert sign", "content commitment"],
            ["content commitment", "cert sign", "crl sign"],
        ),
        (
            ["decipher only", "key agreement", "encipher only", "data encipherment"],
            ["data encipherment", "key agreement", "encipher only", "decipher only"],
        ),
        (["server auth"], []),
    ],
    ids=["signing prints as digital signature", "bit order", "agreement bits", "no bits"],
)
def test_key_usage_names_follow_bit_order_with_preferred_strings(usages, names):
    ku = compute_usages(usages, is_ca=False).to_key_usage()

    assert key_usage_names(ku) == names


def test_ext_key_usage_names_prefer_email_protection_and_print_unknown_oids_dotted():
    oids = [
        ExtendedKeyUsageOID.EMAIL_PROTECTION,
        ObjectIdentifier("1.2.3.4"),
        ObjectIdentifier("1.3.6.1.4.1.311.10.3.3"),
    ]

    assert ext_key_usage_names(oids) == ["email protection", "1.2.3.4", "microsoft sgc"]


@pytest.mark.parametrize("usage", [u for u, _ in EKU_TABLE if u != "s/mime"])
def test_every_eku_string_names_itself_back(usage):
    assert ext_key_usage_names(compute_usages([usage], is_ca=False).ext) == [usage]


@pytest.mark.parametrize(
    ("names", "text"),
    [
        ([], "[]"),
        (["server auth"], "[ 'server auth' ]"),
        (["digital signature", "key encipherment"], "[ 'digital signature', 'key encipherment' ]"),
    ],
    ids=["empty", "one", "two"],
)
def test_format_usage_list_matches_cert_manager_messages(names, text):
    assert format_usage_list(names) == text
