"""JWS envelopes and EAB, verified with certbot's acme.jws and josepy as an independent oracle."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from acme import jws as certbot_jws
from acme import messages
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from josepy.b64 import b64decode
from josepy.jwk import JWK, JWKOct

from certsmith.acme import AccountKey, AccountKeyError, ExternalAccountBinding, decode_mac_key
from certsmith.acme.jws import b64url, encode_jws, external_account_binding
from tests.unit.acme.keys import account_key

URL = "https://acme.test/new-order"


def _parse(body: bytes):
    return certbot_jws.JWS.json_loads(body.decode())


@pytest.mark.parametrize(
    ("kind", "alg"), [("rsa2048", "RS256"), ("p256", "ES256"), ("p384", "ES384")]
)
def test_signed_with_kid_verifies_and_carries_nonce_url_kid(kind, alg):
    key = AccountKey(account_key(kind))
    body = encode_jws(key, {"a": 1}, url=URL, nonce="bm9uY2U", kid="https://acme.test/acct/1")
    jws = _parse(body)
    header = jws.signature.combined
    assert header.alg.name == alg
    assert header.nonce == b"nonce"
    assert header.url == URL
    assert header.kid == "https://acme.test/acct/1"
    assert header.jwk is None
    assert jws.verify(JWK.load(_pem(account_key(kind))).public_key())
    assert json.loads(jws.payload) == {"a": 1}


def test_signed_without_kid_embeds_the_public_jwk():
    key = AccountKey(account_key("p256"))
    jws = _parse(encode_jws(key, {}, url=URL, nonce="bm9uY2U", kid=None))
    header = jws.signature.combined
    assert header.kid is None
    assert header.jwk.thumbprint() == b64decode(key.thumbprint)
    assert jws.verify()


def test_post_as_get_has_an_empty_payload():
    body = json.loads(
        encode_jws(AccountKey(account_key("p256")), None, url=URL, nonce="bm9uY2U", kid="k")
    )
    assert body["payload"] == ""


def test_ed25519_keys_cannot_sign_acme_requests():
    with pytest.raises(AccountKeyError, match="RSA or ECDSA"):
        AccountKey(ed25519.Ed25519PrivateKey.generate())  # type: ignore[arg-type]


def test_account_key_repr_shows_no_key_material():
    key = AccountKey(account_key("rsa2048"))
    assert repr(key) == f"AccountKey(RS256, thumbprint={key.thumbprint})"


MAC_TEXT = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"


def test_eab_is_an_hs256_mac_over_the_account_jwk():
    account = AccountKey(account_key("p256"))
    eab = ExternalAccountBinding("kid-1", decode_mac_key(MAC_TEXT))
    field = external_account_binding(eab, account, "https://acme.test/new-acct")
    protected = json.loads(b64decode(field["protected"]))
    assert protected == {"alg": "HS256", "kid": "kid-1", "url": "https://acme.test/new-acct"}
    assert json.loads(b64decode(field["payload"])) == account.public_jwk
    mac = hmac.new(
        b64decode(MAC_TEXT),
        f"{field['protected']}.{field['payload']}".encode(),
        hashlib.sha256,
    ).digest()
    assert field["signature"] == b64url(mac)


def test_eab_agrees_with_certbot():
    account = AccountKey(account_key("p256"))
    ours = external_account_binding(
        ExternalAccountBinding("kid-1", decode_mac_key(MAC_TEXT)), account, "https://a.test/na"
    )
    theirs = messages.ExternalAccountBinding.from_data(
        JWK.load(_pem(account_key("p256"))).public_key(),
        "kid-1",
        MAC_TEXT,
        messages.Directory({"newAccount": "https://a.test/na"}),
    )
    assert json.loads(b64decode(ours["protected"])) == json.loads(b64decode(theirs["protected"]))
    assert json.loads(b64decode(ours["payload"])) == json.loads(b64decode(theirs["payload"]))
    # Both MACs verify with the same key, over their own serialisations.
    for field in (ours, theirs):
        jws = certbot_jws.JWS.from_json(field)
        assert jws.verify(JWKOct(key=b64decode(MAC_TEXT)))


@pytest.mark.parametrize("text", ["", "S3cr3t!MACk", "Z"])
def test_bad_mac_keys_are_refused_without_echoing_them(text):
    with pytest.raises(ValueError, match="external account binding MAC key") as info:
        decode_mac_key(text)
    assert str(info.value) in {
        "the external account binding MAC key is not valid base64url",
        "the external account binding MAC key is empty",
    }


def test_padded_mac_keys_are_accepted():
    assert decode_mac_key("YWJj") == decode_mac_key("YWJj==") == b"abc"


def _pem(key: Any) -> bytes:
    return bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
