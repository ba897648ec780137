"""Key authorizations, DNS-01 values and ARI CertIDs, checked against certbot's acme + josepy."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from acme import challenges as certbot_challenges
from acme import client as certbot_client
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from josepy.b64 import b64decode
from josepy.jwk import JWK

from certsmith.acme import (
    AccountKey,
    ari_cert_id,
    dns01_record_name,
    dns01_txt_value,
    http01_path,
    jwk_thumbprint,
    key_authorization,
)
from tests import pkitools
from tests.unit.acme.keys import account_key

TOKEN = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"

# RFC 7638 §3.1: the example RSA key and its SHA-256 thumbprint.
RFC7638_N = (
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPe"
    "bWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY36"
    "8QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4l"
    "Fd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
)
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def _certbot_jwk(key: Any) -> Any:
    return JWK.load(
        key.private_bytes(
            encoding=serialization.Encoding.PEM,
            format=serialization.PrivateFormat.PKCS8,
            encryption_algorithm=serialization.NoEncryption(),
        )
    )


def test_thumbprint_matches_the_rfc7638_example():
    n = int.from_bytes(b64decode(RFC7638_N), "big")
    public = rsa.RSAPublicNumbers(65537, n).public_key()
    assert jwk_thumbprint(public) == RFC7638_THUMBPRINT


@pytest.mark.parametrize("kind", ["rsa2048", "p256", "p384"])
def test_key_authorization_matches_certbot(kind):
    key = account_key(kind)
    account = AccountKey(key)
    expected = certbot_challenges.HTTP01(token=b64decode(TOKEN)).key_authorization(
        _certbot_jwk(key)
    )
    assert key_authorization(TOKEN, account.thumbprint) == expected
    assert jwk_thumbprint(key) == account.thumbprint


@pytest.mark.parametrize("kind", ["rsa2048", "p256"])
def test_dns01_value_matches_certbot(kind):
    key = account_key(kind)
    expected = certbot_challenges.DNS01(token=b64decode(TOKEN)).validation(_certbot_jwk(key))
    assert dns01_txt_value(key_authorization(TOKEN, jwk_thumbprint(key))) == expected


def test_dns01_value_has_no_padding():
    value = dns01_txt_value("token.thumb")
    assert len(value) == 43
    assert "=" not in value


@pytest.mark.parametrize(
    ("name", "record"),
    [
        ("www.example.com", "_acme-challenge.www.example.com."),
        ("*.example.com", "_acme-challenge.example.com."),
        ("example.com.", "_acme-challenge.example.com."),
    ],
)
def test_dns01_record_name(name, record):
    assert dns01_record_name(name) == record


def test_http01_path():
    assert http01_path("abc") == "/.well-known/acme-challenge/abc"


def _cert_with(aki: bytes | None, serial: int) -> x509.Certificate:
    key = account_key("p256")
    now = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(pkitools.name("leaf"))
        .issuer_name(pkitools.name("ca"))
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
    )
    if aki is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier(aki, None, None), critical=False
        )
    return builder.sign(key, hashes.SHA256())


def test_ari_cert_id_matches_the_rfc9773_example():
    aki = bytes.fromhex("69885B6B87464041E1B37B847BA0AE2CDE01C8D4")
    assert ari_cert_id(_cert_with(aki, 0x87654321)) == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"


@pytest.mark.parametrize("serial", [1, 0x7F, 0x80, 0xFF00, 0x0100, x509.random_serial_number()])
def test_ari_cert_id_matches_certbot(serial):
    cert = _cert_with(b"\x01\x02\x03\x04", serial)
    assert ari_cert_id(cert) == certbot_client._renewal_info_path_component(cert)


def test_ari_cert_id_needs_an_authority_key_identifier():
    with pytest.raises(ValueError, match="no authority key identifier"):
        ari_cert_id(_cert_with(None, 5))
