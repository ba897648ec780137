"""Private keys: generation, PEM decoding and encoding, spec matching and signature hashes.

Decides, as cert-manager does (SPEC §4.4 step 7, §5.1, §5.4 key manager, §5.8 row 6):

* which keys may be generated: RSA 2048..8192 bits (any integer, default 2048), ECDSA on P-256,
  P-384 or P-521 (default 256), Ed25519 (size ignored); ``""``/None algorithm means RSA and size
  0/None means the algorithm's default, because that is what the CRD's zero values mean;
* which PEM blocks are keys: ``RSA PRIVATE KEY`` (PKCS#1), ``EC PRIVATE KEY`` (SEC1) and
  ``PRIVATE KEY`` (PKCS#8). The first such block is used and other blocks (a certificate stored
  next to the key) are skipped. The DER inside must be the structure its header names: a
  mislabelled block is an error, as in Go, rather than something we guess our way through;
* how keys are written: ``PKCS1`` gives ``RSA PRIVATE KEY``/``EC PRIVATE KEY``, ``PKCS8`` gives
  ``PRIVATE KEY``, and Ed25519 is always PKCS#8 because it has no traditional form;
* whether a stored key still fits the spec (the names of the violated fields, for the key
  manager's "Regenerating private key due to change in fields" message);
* which hash a key signs with (RSA by modulus size, ECDSA by curve, Ed25519 none).

Key material must never reach logs or status: every error here is raised ``from None`` with a
message written by us, so no parser message or key byte can ride along.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from enum import StrEnum
from typing import Final, Literal, TypeAlias

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificatePublicKeyTypes,
    PrivateKeyTypes,
)

from certsmith.api.errors import CertsmithError

__all__ = [
    "DEFAULT_ECDSA_SIZE",
    "DEFAULT_RSA_SIZE",
    "ECDSA_SIZES",
    "MAX_RSA_SIZE",
    "MIN_RSA_SIZE",
    "KeyAlgorithm",
    "KeyDecodeError",
    "PrivateKey",
    "PublicKey",
    "SignatureHash",
    "encode_private_key_pem",
    "generate_private_key",
    "key_matches_spec",
    "parse_private_key_pem",
    "public_key_der",
    "public_keys_equal",
    "signature_algorithm_for",
]

PrivateKey: TypeAlias = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
"""The private key types certsmith generates, stores and signs with."""

PublicKey: TypeAlias = CertificatePublicKeyTypes
"""Any public key a certificate or CSR may carry."""

SignatureHash: TypeAlias = hashes.SHA256 | hashes.SHA384 | hashes.SHA512
"""The hashes ``signature_algorithm_for`` chooses from."""

MIN_RSA_SIZE: Final = 2048
MAX_RSA_SIZE: Final = 8192
DEFAULT_RSA_SIZE: Final = 2048
DEFAULT_ECDSA_SIZE: Final = 256

_CURVES: Final[dict[int, type[ec.EllipticCurve]]] = {
    256: ec.SECP256R1,
    384: ec.SECP384R1,
    521: ec.SECP521R1,
}
ECDSA_SIZES: Final[tuple[int, ...]] = tuple(_CURVES)
"""The ECDSA sizes (curve bit lengths) cert-manager accepts."""

_ALGORITHM_FIELD: Final = "spec.privateKey.algorithm"
_SIZE_FIELD: Final = "spec.privateKey.size"


class KeyAlgorithm(StrEnum):
    """``spec.privateKey.algorithm`` values."""

    RSA = "RSA"
    ECDSA = "ECDSA"
    ED25519 = "Ed25519"


class KeyDecodeError(CertsmithError, ValueError):
    """PEM data holds no usable private key. The message never contains key material."""


def _algorithm(algorithm: KeyAlgorithm | str | None) -> KeyAlgorithm:
    """Resolve the CRD's algorithm value, where empty means RSA."""
    if not algorithm:
        return KeyAlgorithm.RSA
    try:
        return KeyAlgorithm(algorithm)
    except ValueError:
        raise ValueError(f"unsupported private key algorithm specified: {algorithm}") from None


def generate_private_key(algorithm: KeyAlgorithm | str | None, size: int | None) -> PrivateKey:
    """Generate a fresh private key as ``spec.privateKey`` describes it.

    Args:
        algorithm: ``RSA``, ``ECDSA`` or ``Ed25519``; None or ``""`` means RSA.
        size: RSA modulus bits (2048..8192) or ECDSA curve size (256, 384, 521); None or 0 means
            the default (2048 or 256). Ignored for Ed25519.

    Returns:
        The new key.

    Raises:
        ValueError: unknown algorithm, or a size the algorithm does not allow.
    """
    alg = _algorithm(algorithm)
    if alg is KeyAlgorithm.RSA:
        bits = size or DEFAULT_RSA_SIZE
        if bits < MIN_RSA_SIZE:
            raise ValueError(
                f"weak rsa key size specified: {bits}. minimum key size: {MIN_RSA_SIZE}"
            )
        if bits > MAX_RSA_SIZE:
            raise ValueError(
                f"rsa key size specified too big: {bits}. maximum key size: {MAX_RSA_SIZE}"
            )
        return rsa.generate_private_key(public_exponent=65537, key_size=bits)
    if alg is KeyAlgorithm.ECDSA:
        curve = _CURVES.get(size or DEFAULT_ECDSA_SIZE)
        if curve is None:
            raise ValueError(f"unsupported ecdsa key size specified: {size}")
        return ec.generate_private_key(curve())
    return ed25519.Ed25519PrivateKey.generate()


# Same grammar as Go's encoding/pem for what we need: a BEGIN line, optional RFC 1421 headers,
# base64 body, and an END line naming the same type.
_PEM_BLOCK = re.compile(
    rb"-----BEGIN ([^\r\n-]+)-----[ \t]*\r?\n(.*?)-----END \1-----",
    re.DOTALL,
)

# Block type -> the DER tag of the second element of its outer SEQUENCE (after the version
# INTEGER): PKCS#1 continues with the modulus INTEGER, SEC1 with the key OCTET STRING and PKCS#8
# with the AlgorithmIdentifier SEQUENCE. This tells mislabelled blocks apart without parsing.
_KEY_BLOCKS: Final[dict[str, tuple[int, str]]] = {
    "RSA PRIVATE KEY": (0x02, "PKCS#1"),
    "EC PRIVATE KEY": (0x04, "SEC1"),
    "PRIVATE KEY": (0x30, "PKCS#8"),
}


def _pem_blocks(data: bytes) -> Iterator[tuple[str, bytes]]:
    """Yield ``(type, body)`` for every PEM block, the body still base64 text."""
    for match in _PEM_BLOCK.finditer(data):
        yield match.group(1).decode("ascii", "replace").strip(), match.group(2)


def _skip_der_header(der: bytes, pos: int) -> int:
    """Return the offset of the contents of the DER element at ``pos`` (low tag numbers only)."""
    first = der[pos + 1]
    if first < 0x80:
        return pos + 2
    return pos + 2 + (first & 0x7F)


def _second_element_tag(der: bytes) -> int | None:
    """Tag of the element after the leading INTEGER in the outer SEQUENCE, or None if malformed."""
    try:
        if der[0] != 0x30:
            return None
        pos = _skip_der_header(der, 0)
        if der[pos] != 0x02:
            return None
        version_len = der[pos + 1]
        if version_len >= 0x80:
            return None
        return der[pos + 2 + version_len]
    except IndexError:
        return None


def parse_private_key_pem(data: bytes, *, known_valid: bool = False) -> PrivateKey:
    """Decode the first private key PEM block in ``data``.

    Args:
        data: PEM text; blocks that are not private keys (certificates, parameters) are skipped.
        known_valid: these exact bytes were parsed (or generated) before with full validation,
            so the RSA key-consistency check (~35 ms for RSA-2048) is skipped. Only for bytes
            the caller has seen validated: the check is what rejects a corrupt key.

    Returns:
        The RSA, ECDSA or Ed25519 private key.

    Raises:
        KeyDecodeError: no private key block, an encrypted key, a body that is not the structure
            its header names, or a key type certsmith does not support. The message never holds
            key material.
    """
    seen: list[str] = []
    for block_type, body in _pem_blocks(data):
        if block_type == "ENCRYPTED PRIVATE KEY":
            raise KeyDecodeError("encrypted private keys are not supported")
        if block_type not in _KEY_BLOCKS:
            seen.append(block_type)
            continue
        return _decode_key_block(block_type, body, known_valid=known_valid)
    if seen:
        raise KeyDecodeError(f"no private key PEM block found (found: {', '.join(seen)})")
    raise KeyDecodeError("no PEM data found")


def _decode_key_block(block_type: str, body: bytes, *, known_valid: bool = False) -> PrivateKey:
    """Turn one key block into a key, checking the DER matches its header."""
    expected_tag, form = _KEY_BLOCKS[block_type]
    if b":" in body.split(b"\n", 1)[0]:
        # RFC 1421 headers (Proc-Type: 4,ENCRYPTED) mark an OpenSSL-encrypted traditional key.
        raise KeyDecodeError("encrypted private keys are not supported")
    try:
        der = base64.b64decode(b"".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        raise KeyDecodeError(f"{block_type} PEM block is not valid base64") from None
    if _second_element_tag(der) != expected_tag:
        raise KeyDecodeError(f"{block_type} PEM block does not contain a {form} private key")
    try:
        key = serialization.load_der_private_key(
            der, password=None, unsafe_skip_rsa_key_validation=known_valid
        )
    except UnsupportedAlgorithm:
        raise KeyDecodeError(f"{block_type} PEM block holds an unsupported key type") from None
    except (ValueError, TypeError):
        raise KeyDecodeError(f"failed to parse {form} private key in {block_type} block") from None
    return _supported(key)


def _supported(key: PrivateKeyTypes) -> PrivateKey:
    """Narrow a parsed key to the types certsmith supports."""
    if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        return key
    raise KeyDecodeError(f"unsupported private key type {type(key).__name__}")


def encode_private_key_pem(
    key: PrivateKey, encoding: Literal["PKCS1", "PKCS8"] | None = "PKCS1"
) -> bytes:
    """Encode a private key as unencrypted PEM, as ``spec.privateKey.encoding`` asks.

    Args:
        key: The key.
        encoding: ``PKCS1`` (the CRD default, also for None) writes ``RSA PRIVATE KEY`` or
            ``EC PRIVATE KEY``; ``PKCS8`` writes ``PRIVATE KEY``. Ed25519 keys are always
            PKCS#8, since they have no traditional encoding.

    Returns:
        One PEM block ending in a newline.

    Raises:
        ValueError: an encoding other than PKCS1 or PKCS8.
    """
    if encoding not in (None, "PKCS1", "PKCS8"):
        raise ValueError(f"unsupported private key encoding: {encoding}")
    if encoding == "PKCS8" or isinstance(key, ed25519.Ed25519PrivateKey):
        fmt = serialization.PrivateFormat.PKCS8
    else:
        # TraditionalOpenSSL is PKCS#1 for RSA and SEC1 for EC, the PEM types Go writes.
        fmt = serialization.PrivateFormat.TraditionalOpenSSL
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


def public_key_der(key: PrivateKey | PublicKey) -> bytes:
    """The DER SubjectPublicKeyInfo of a key (of its public half, for a private key).

    Args:
        key: A private or public key.

    Returns:
        DER-encoded SubjectPublicKeyInfo.
    """
    public = key.public_key() if isinstance(key, PrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_keys_equal(a: PrivateKey | PublicKey, b: PrivateKey | PublicKey) -> bool:
    """Whether two keys have the same public key, compared as SubjectPublicKeyInfo DER.

    Args:
        a: A private or public key.
        b: A private or public key.

    Returns:
        True when the public halves are identical.
    """
    return public_key_der(a) == public_key_der(b)


def key_matches_spec(
    key: PrivateKey, algorithm: KeyAlgorithm | str | None, size: int | None
) -> list[str]:
    """Which ``spec.privateKey`` fields an existing key violates.

    A wrong algorithm is reported alone: the size of a key of another algorithm says nothing.

    Args:
        key: The stored key.
        algorithm: ``spec.privateKey.algorithm``; None or ``""`` means RSA.
        size: ``spec.privateKey.size``; None or 0 means 2048 for RSA and 256 for ECDSA.

    Returns:
        ``spec.privateKey.algorithm`` and/or ``spec.privateKey.size``; empty when the key fits.

    Raises:
        ValueError: the algorithm is not one cert-manager knows.
    """
    alg = _algorithm(algorithm)
    if alg is KeyAlgorithm.RSA:
        if not isinstance(key, rsa.RSAPrivateKey):
            return [_ALGORITHM_FIELD]
        return [] if key.key_size == (size or DEFAULT_RSA_SIZE) else [_SIZE_FIELD]
    if alg is KeyAlgorithm.ECDSA:
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            return [_ALGORITHM_FIELD]
        return [] if key.curve.key_size == (size or DEFAULT_ECDSA_SIZE) else [_SIZE_FIELD]
    return [] if isinstance(key, ed25519.Ed25519PrivateKey) else [_ALGORITHM_FIELD]


_EC_HASHES: Final[dict[str, type[SignatureHash]]] = {
    "secp256r1": hashes.SHA256,
    "secp384r1": hashes.SHA384,
    "secp521r1": hashes.SHA512,
}


def signature_algorithm_for(key: PrivateKeyTypes | PublicKey) -> SignatureHash | None:
    """The hash a key signs with, chosen from the key as cert-manager does.

    RSA: at least 4096 bits SHA-512, at least 3072 SHA-384, at least 2048 SHA-256. ECDSA: P-521
    SHA-512, P-384 SHA-384, P-256 SHA-256. Ed25519: None (the scheme fixes its own hash, and
    ``cryptography`` wants None for it).

    Args:
        key: The signer's private key, or its public key. Any key type is accepted so callers
            holding a freshly parsed key need not narrow it first; unsupported ones raise.

    Returns:
        A fresh hash algorithm instance, or None for Ed25519.

    Raises:
        ValueError: an RSA key under 2048 bits (``invalid size <n> for RSA key on signing
            certificate``), an unsupported curve or an unsupported key type.
    """
    public = key.public_key() if isinstance(key, PrivateKey) else key
    if isinstance(public, rsa.RSAPublicKey):
        bits = public.key_size
        if bits >= 4096:
            return hashes.SHA512()
        if bits >= 3072:
            return hashes.SHA384()
        if bits >= 2048:
            return hashes.SHA256()
        raise ValueError(f"invalid size {bits} for RSA key on signing certificate")
    if isinstance(public, ec.EllipticCurvePublicKey):
        hash_type = _EC_HASHES.get(public.curve.name)
        if hash_type is None:
            raise ValueError(f"unsupported ecdsa curve {public.curve.name} for signing")
        return hash_type()
    if isinstance(public, ed25519.Ed25519PublicKey):
        return None
    raise ValueError(f"unsupported key type {type(public).__name__} for signing")
