"""The Certificate controllers' key parsing: each distinct PEM is validated in full once."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from certsmith.controllers.certificates.keycache import ValidatedKeys
from certsmith.pki.keys import KeyDecodeError, encode_private_key_pem, public_keys_equal
from tests.pkitools import KeyKind, key


def _pem(kind: KeyKind = "rsa2048", slot: int = 0) -> bytes:
    return encode_private_key_pem(key(kind, slot), "PKCS1")


def _inconsistent_rsa_pem() -> bytes:
    """An RSA key whose CRT exponent does not match d: only the full check rejects it."""
    rsa_key = key("rsa2048")
    assert isinstance(rsa_key, rsa.RSAPrivateKey)
    good = rsa_key.private_numbers()
    bad = rsa.RSAPrivateNumbers(
        p=good.p,
        q=good.q,
        d=good.d,
        dmp1=good.dmp1 + 2,
        dmq1=good.dmq1,
        iqmp=good.iqmp,
        public_numbers=good.public_numbers,
    ).private_key(unsafe_skip_rsa_key_validation=True)
    return encode_private_key_pem(bad, "PKCS1")


def test_second_parse_of_the_same_pem_skips_the_full_check() -> None:
    keys = ValidatedKeys()
    first = keys.parse(_pem())
    second = keys.parse(_pem())
    assert keys.full_parses == 1
    assert public_keys_equal(first.public_key(), second.public_key())


def test_trusted_pem_is_never_checked_in_full() -> None:
    keys = ValidatedKeys()
    keys.trust(_pem())
    keys.parse(_pem())
    assert keys.full_parses == 0


@pytest.mark.parametrize("kind", ["rsa2048", "p256", "ed25519"])
def test_each_distinct_pem_is_checked_once(kind: KeyKind) -> None:
    keys = ValidatedKeys()
    for _ in range(3):
        keys.parse(_pem(kind, 0))
        keys.parse(_pem(kind, 1))
    assert keys.full_parses == 2


def test_inconsistent_rsa_key_is_rejected_every_time() -> None:
    keys = ValidatedKeys()
    for _ in range(2):
        with pytest.raises(KeyDecodeError):
            keys.parse(_inconsistent_rsa_pem())
    assert keys.full_parses == 2
    assert len(keys) == 0


def test_oldest_digest_is_forgotten_past_the_bound() -> None:
    keys = ValidatedKeys(size=1)
    keys.parse(_pem("p256", 0))
    keys.parse(_pem("p256", 1))
    keys.parse(_pem("p256", 0))
    assert keys.full_parses == 3
    assert len(keys) == 1


def test_size_zero_remembers_nothing() -> None:
    keys = ValidatedKeys(size=0)
    keys.parse(_pem("p256"))
    keys.parse(_pem("p256"))
    assert keys.full_parses == 2
