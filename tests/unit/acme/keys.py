"""Account keys for ACME unit tests: pkitools' cached keys, narrowed to RSA and EC."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests import pkitools


def account_key(
    kind: pkitools.KeyKind = "p256", slot: int = 0
) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    """The cached ``pkitools.key(kind, slot)``, which must be RSA or EC."""
    key = pkitools.key(kind, slot)
    assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
    return key
