"""JWS for ACME (RFC 8555 §6.2) on top of josepy's algorithms and JWKs.

ACME's protected header carries ``nonce`` and ``url`` besides ``alg`` and either ``jwk``
(newAccount, revocation by certificate key) or ``kid`` (everything else). josepy signs and
serialises keys; the flattened JSON envelope is assembled here, so the header is exactly
what RFC 8555 asks for and nothing else.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from josepy.jwa import ES256, ES384, ES512, HS256, HS384, HS512, RS256, JWASignature
from josepy.jwk import JWK, JWKEC, JWKRSA

from certsmith.acme.models import ExternalAccountBinding
from certsmith.acme.problems import AcmeError

AccountPrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
"""Key types an ACME account (or a certificate being revoked by its key) may use."""

_EC_ALGORITHMS: dict[str, JWASignature] = {
    "secp256r1": ES256,
    "secp384r1": ES384,
    "secp521r1": ES512,
}


class AccountKeyError(AcmeError):
    """The key cannot sign ACME requests (unsupported type or curve)."""


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url, padded or not; raises ``ValueError`` on bad input."""
    cleaned = text.strip()
    try:
        padded = cleaned + "=" * (-len(cleaned) % 4)
        return base64.b64decode(padded, altchars=b"-_", validate=True)
    except binascii.Error as exc:
        raise ValueError("not base64url") from exc


def decode_mac_key(text: str) -> bytes:
    """Decode an EAB MAC key as CAs hand it out: un-padded base64url (padding tolerated).

    Raises ``ValueError`` (without echoing the key) when it does not decode.
    """
    try:
        key = b64url_decode(text)
    except ValueError:
        raise ValueError("the external account binding MAC key is not valid base64url") from None
    if not key:
        raise ValueError("the external account binding MAC key is empty")
    return key


def public_jwk(public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> JWK:
    """The josepy JWK of a public key (RSA or EC)."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return JWKRSA(key=public_key)
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return JWKEC(key=public_key)
    raise AccountKeyError(f"{type(public_key).__name__} has no ACME JWK form (use RSA or ECDSA)")


class AccountKey:
    """A private key that signs ACME requests, with its JWK, algorithm and thumbprint.

    ``repr`` shows only the algorithm and thumbprint: the key itself never prints.
    """

    __slots__ = ("_alg", "_jwk", "_key", "_thumbprint")

    def __init__(self, key: AccountPrivateKey) -> None:
        if isinstance(key, rsa.RSAPrivateKey):
            self._alg: JWASignature = RS256
        elif isinstance(key, ec.EllipticCurvePrivateKey):
            alg = _EC_ALGORITHMS.get(key.curve.name)
            if alg is None:
                raise AccountKeyError(f"EC curve {key.curve.name} cannot sign ACME requests")
            self._alg = alg
        else:
            raise AccountKeyError(
                f"{type(key).__name__} cannot sign ACME requests (use RSA or ECDSA)"
            )
        self._jwk: JWK = public_jwk(key.public_key())
        self._key = key
        self._thumbprint = b64url(self._jwk.thumbprint())

    @property
    def algorithm(self) -> str:
        """The JWS ``alg`` (RS256, ES256, ES384, ES512)."""
        return str(self._alg.name)

    @property
    def public_jwk(self) -> dict[str, Any]:
        """The public key as a JWK object (for the ``jwk`` header and EAB payload)."""
        return dict(self._jwk.to_partial_json())

    @property
    def thumbprint(self) -> str:
        """RFC 7638 SHA-256 thumbprint, base64url: the suffix of key authorizations."""
        return self._thumbprint

    @property
    def private_key(self) -> AccountPrivateKey:
        """The key itself (for callers that must persist it); never log it."""
        return self._key

    def sign(self, message: bytes) -> bytes:
        """Sign ``message`` with this key's algorithm (EC signatures in JWS r||s form)."""
        return bytes(self._alg.sign(self._key, message))

    def __repr__(self) -> str:
        return f"AccountKey({self.algorithm}, thumbprint={self._thumbprint})"


def encode_jws(
    key: AccountKey,
    payload: Any | None,
    *,
    url: str,
    nonce: str | None,
    kid: str | None,
) -> bytes:
    """The flattened JWS JSON body of an ACME POST.

    ``payload=None`` is POST-as-GET (empty payload string); ``kid=None`` puts the public key
    in the header (``jwk``), as newAccount and revocation by certificate key require.
    """
    protected: dict[str, Any] = {"alg": key.algorithm}
    if kid is None:
        protected["jwk"] = key.public_jwk
    else:
        protected["kid"] = kid
    if nonce is not None:
        protected["nonce"] = nonce
    protected["url"] = url
    protected_b64 = b64url(json.dumps(protected, separators=(",", ":")).encode())
    payload_b64 = (
        "" if payload is None else b64url(json.dumps(payload, separators=(",", ":")).encode())
    )
    signature = key.sign(f"{protected_b64}.{payload_b64}".encode("ascii"))
    body = {"protected": protected_b64, "payload": payload_b64, "signature": b64url(signature)}
    return json.dumps(body, separators=(",", ":")).encode()


def external_account_binding(
    eab: ExternalAccountBinding, account_key: AccountKey, url: str
) -> dict[str, str]:
    """The ``externalAccountBinding`` field of a newAccount payload (RFC 8555 §7.3.4).

    A JWS over the account's public JWK, MACed with the CA-provided key; its header has
    ``alg``, ``kid`` (the CA's key ID) and ``url`` (newAccount), and no nonce.
    """
    algorithms = {"HS256": HS256, "HS384": HS384, "HS512": HS512}
    alg = algorithms.get(eab.algorithm.upper())
    if alg is None:
        raise AccountKeyError(f"unsupported external account binding algorithm {eab.algorithm!r}")
    protected = {"alg": alg.name, "kid": eab.key_id, "url": url}
    protected_b64 = b64url(json.dumps(protected, separators=(",", ":")).encode())
    payload_b64 = b64url(json.dumps(account_key.public_jwk, separators=(",", ":")).encode())
    mac = alg.sign(eab.mac_key, f"{protected_b64}.{payload_b64}".encode("ascii"))
    return {"protected": protected_b64, "payload": payload_b64, "signature": b64url(mac)}
