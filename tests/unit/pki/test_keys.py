from __future__ import annotations

import base64
import functools
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, rsa

from certsmith.pki.keys import (
    KeyAlgorithm,
    KeyDecodeError,
    PrivateKey,
    encode_private_key_pem,
    generate_private_key,
    key_matches_spec,
    parse_private_key_pem,
    public_key_der,
    public_keys_equal,
    signature_algorithm_for,
)
from tests.pkitools import key, make_leaf, make_root, pem

Generate = Callable[[KeyAlgorithm | str | None, int | None], PrivateKey]


@pytest.fixture(scope="session")
def generate() -> Generate:
    """``generate_private_key`` with each ``(algorithm, size)`` generated once per run."""
    return functools.cache(generate_private_key)


def _describe(k: PrivateKey) -> tuple[str, int | None]:
    if isinstance(k, rsa.RSAPrivateKey):
        return "RSA", k.key_size
    if isinstance(k, ec.EllipticCurvePrivateKey):
        return "ECDSA", k.curve.key_size
    return "Ed25519", None


# --- generate_private_key ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "size", "expected"),
    [
        pytest.param(None, None, ("RSA", 2048), id="nothing set means RSA 2048"),
        pytest.param("", 0, ("RSA", 2048), id="zero values mean RSA 2048"),
        pytest.param("RSA", None, ("RSA", 2048), id="RSA default size"),
        pytest.param("RSA", 3072, ("RSA", 3072), id="RSA 3072"),
        pytest.param(KeyAlgorithm.RSA, 4096, ("RSA", 4096), id="RSA 4096"),
        pytest.param("RSA", 2056, ("RSA", 2056), id="RSA any size in range"),
        pytest.param("ECDSA", None, ("ECDSA", 256), id="ECDSA default is P-256"),
        pytest.param("ECDSA", 0, ("ECDSA", 256), id="ECDSA zero size is P-256"),
        pytest.param("ECDSA", 384, ("ECDSA", 384), id="ECDSA P-384"),
        pytest.param(KeyAlgorithm.ECDSA, 521, ("ECDSA", 521), id="ECDSA P-521"),
        pytest.param("Ed25519", None, ("Ed25519", None), id="Ed25519"),
        pytest.param("Ed25519", 4096, ("Ed25519", None), id="Ed25519 ignores size"),
    ],
)
def test_generate_private_key_makes_the_requested_key(generate, algorithm, size, expected):
    assert _describe(generate(algorithm, size)) == expected


@pytest.mark.parametrize(
    ("algorithm", "size", "message"),
    [
        pytest.param(
            "RSA", 1024, "weak rsa key size specified: 1024. minimum key size: 2048", id="rsa 1024"
        ),
        pytest.param(
            "RSA", 2047, "weak rsa key size specified: 2047. minimum key size: 2048", id="rsa 2047"
        ),
        pytest.param(
            "RSA",
            8193,
            "rsa key size specified too big: 8193. maximum key size: 8192",
            id="rsa 8193",
        ),
        pytest.param("ECDSA", 224, "unsupported ecdsa key size specified: 224", id="ecdsa 224"),
        pytest.param("ECDSA", 2048, "unsupported ecdsa key size specified: 2048", id="ecdsa 2048"),
        pytest.param("DSA", None, "unsupported private key algorithm specified: DSA", id="dsa"),
        pytest.param("rsa", None, "unsupported private key algorithm specified: rsa", id="case"),
    ],
)
def test_generate_private_key_rejects_what_cert_manager_rejects(algorithm, size, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        generate_private_key(algorithm, size)


# --- encode / parse ---------------------------------------------------------------------------

KINDS = ["rsa2048", "p256", "p384", "p521", "ed25519"]

HEADERS = {
    ("rsa2048", "PKCS1"): "RSA PRIVATE KEY",
    ("p256", "PKCS1"): "EC PRIVATE KEY",
    ("p384", "PKCS1"): "EC PRIVATE KEY",
    ("p521", "PKCS1"): "EC PRIVATE KEY",
    ("ed25519", "PKCS1"): "PRIVATE KEY",
}


@pytest.mark.parametrize("encoding", ["PKCS1", "PKCS8"])
@pytest.mark.parametrize("kind", KINDS)
def test_encoded_key_has_the_expected_pem_header(kind, encoding):
    header = HEADERS.get((kind, encoding), "PRIVATE KEY")

    data = encode_private_key_pem(key(kind), encoding)

    assert data.startswith(f"-----BEGIN {header}-----\n".encode())
    assert data.endswith(f"-----END {header}-----\n".encode())


@pytest.mark.parametrize("encoding", ["PKCS1", "PKCS8"])
@pytest.mark.parametrize("kind", KINDS)
def test_encoded_key_parses_back_to_the_same_key(kind, encoding):
    original = key(kind)

    parsed = parse_private_key_pem(encode_private_key_pem(original, encoding))

    assert _describe(parsed) == _describe(original)
    assert public_keys_equal(parsed, original)


def test_encoding_defaults_to_pkcs1():
    assert encode_private_key_pem(key("rsa2048"), None).startswith(b"-----BEGIN RSA PRIVATE KEY")


def test_encode_rejects_an_unknown_encoding():
    with pytest.raises(ValueError, match="unsupported private key encoding: DER"):
        encode_private_key_pem(key("p256"), "DER")  # type: ignore[arg-type]


def test_parse_skips_blocks_that_are_not_keys():
    cert, _ = make_root("root", slot=7)
    data = b"comment\n" + pem(cert) + encode_private_key_pem(key("p256"), "PKCS8")

    assert public_keys_equal(parse_private_key_pem(data), key("p256"))


def test_parse_takes_the_first_key_block():
    data = encode_private_key_pem(key("p384"), "PKCS1") + encode_private_key_pem(key("p256"))

    assert public_keys_equal(parse_private_key_pem(data), key("p384"))


def test_parse_accepts_crlf_line_endings():
    data = encode_private_key_pem(key("rsa2048"), "PKCS1").replace(b"\n", b"\r\n")

    assert public_keys_equal(parse_private_key_pem(data), key("rsa2048"))


def _pkcs8(k: object) -> bytes:
    assert hasattr(k, "private_bytes")
    return k.private_bytes(  # type: ignore[no-any-return]
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _relabel(data: bytes, old: str, new: str) -> bytes:
    return data.replace(f" {old}-----".encode(), f" {new}-----".encode())


def _rsa_pkcs1() -> bytes:
    return encode_private_key_pem(key("rsa2048"), "PKCS1")


def _rsa_pkcs8() -> bytes:
    return encode_private_key_pem(key("rsa2048"), "PKCS8")


def _encrypted_pkcs8() -> bytes:
    return key("p256").private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"password"),
    )


def _encrypted_traditional() -> bytes:
    return key("rsa2048").private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.BestAvailableEncryption(b"password"),
    )


def _truncated_der() -> bytes:
    body = base64.b64encode(
        key("p256").private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )[:-10]
    )
    return b"-----BEGIN PRIVATE KEY-----\n" + body + b"\n-----END PRIVATE KEY-----\n"


@dataclass(frozen=True)
class DecodeCase:
    id: str
    data: Callable[[], bytes]
    message: str


DECODE_CASES = [
    DecodeCase("empty input", lambda: b"", "no PEM data found"),
    DecodeCase("text without pem", lambda: b"hello world\n", "no PEM data found"),
    DecodeCase(
        "only a certificate",
        lambda: pem(make_leaf("leaf", *make_root("root", slot=7))),
        "no private key PEM block found (found: CERTIFICATE)",
    ),
    DecodeCase("encrypted pkcs8", _encrypted_pkcs8, "encrypted private keys are not supported"),
    DecodeCase(
        "encrypted traditional pem",
        _encrypted_traditional,
        "encrypted private keys are not supported",
    ),
    DecodeCase(
        "body is not base64",
        lambda: b"-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
        "PRIVATE KEY PEM block is not valid base64",
    ),
    DecodeCase(
        "pkcs8 labelled as pkcs1",
        lambda: _relabel(_rsa_pkcs8(), "PRIVATE KEY", "RSA PRIVATE KEY"),
        "RSA PRIVATE KEY PEM block does not contain a PKCS#1 private key",
    ),
    DecodeCase(
        "pkcs1 labelled as sec1",
        lambda: _relabel(_rsa_pkcs1(), "RSA PRIVATE KEY", "EC PRIVATE KEY"),
        "EC PRIVATE KEY PEM block does not contain a SEC1 private key",
    ),
    DecodeCase(
        "pkcs1 labelled as pkcs8",
        lambda: _relabel(_rsa_pkcs1(), "RSA PRIVATE KEY", "PRIVATE KEY"),
        "PRIVATE KEY PEM block does not contain a PKCS#8 private key",
    ),
    DecodeCase(
        "truncated der", _truncated_der, "failed to parse PKCS#8 private key in PRIVATE KEY block"
    ),
    DecodeCase(
        "ed448 is not supported",
        lambda: _pkcs8(ed448.Ed448PrivateKey.generate()),
        "unsupported private key type",
    ),
    DecodeCase(
        "dsa is not supported",
        lambda: _pkcs8(dsa.generate_private_key(1024)),
        "unsupported private key type",
    ),
]


@pytest.mark.parametrize("case", DECODE_CASES, ids=lambda c: c.id)
def test_undecodable_key_raises_key_decode_error_with_a_clear_message(case):
    with pytest.raises(KeyDecodeError) as info:
        parse_private_key_pem(case.data())

    assert str(info.value).startswith(case.message)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("case", DECODE_CASES, ids=lambda c: c.id)
def test_key_decode_error_never_carries_key_material(case):
    data = case.data()
    body_lines = [line for line in data.splitlines() if line and not line.startswith(b"-----")]

    with pytest.raises(KeyDecodeError) as info:
        parse_private_key_pem(data)

    text = f"{info.value} {info.value!r}".encode()
    assert not any(line[:16] in text for line in body_lines if len(line) >= 16)
    # A chained parser error would print in tracebacks; it must be cut off.
    assert info.value.__cause__ is None
    assert info.value.__context__ is None or info.value.__suppress_context__


# --- public keys ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        pytest.param(lambda: key("p256"), lambda: key("p256"), True, id="same private key"),
        pytest.param(
            lambda: key("rsa2048"),
            lambda: key("rsa2048").public_key(),
            True,
            id="private vs own public",
        ),
        pytest.param(lambda: key("p256"), lambda: key("p256", 1), False, id="two p256 keys"),
        pytest.param(lambda: key("p256"), lambda: key("ed25519"), False, id="different types"),
    ],
)
def test_public_keys_equal_compares_the_public_halves(a, b, equal):
    assert public_keys_equal(a(), b()) is equal


def test_public_key_der_is_the_subject_public_key_info():
    k = key("ed25519")

    assert public_key_der(k) == k.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


# --- key_matches_spec -------------------------------------------------------------------------

ALG = "spec.privateKey.algorithm"
SIZE = "spec.privateKey.size"


@pytest.mark.parametrize(
    ("kind", "algorithm", "size", "violations"),
    [
        pytest.param("rsa2048", None, None, [], id="rsa 2048 fits the defaults"),
        pytest.param("rsa2048", "", 0, [], id="rsa 2048 fits zero values"),
        pytest.param("rsa2048", "RSA", 2048, [], id="rsa 2048 fits RSA 2048"),
        pytest.param("rsa3072", "RSA", None, [SIZE], id="rsa 3072 is not the default size"),
        pytest.param("rsa2048", "RSA", 4096, [SIZE], id="rsa 2048 is not 4096"),
        pytest.param("rsa4096", "RSA", 4096, [], id="rsa 4096 fits RSA 4096"),
        pytest.param("p256", None, None, [ALG], id="ecdsa key under the RSA default"),
        pytest.param("p256", "ECDSA", None, [], id="p256 fits ECDSA default"),
        pytest.param("p256", "ECDSA", 384, [SIZE], id="p256 is not 384"),
        pytest.param("p521", "ECDSA", 521, [], id="p521 fits ECDSA 521"),
        pytest.param("rsa2048", "ECDSA", 256, [ALG], id="rsa key under ECDSA"),
        pytest.param("ed25519", "Ed25519", None, [], id="ed25519 fits Ed25519"),
        pytest.param("ed25519", "Ed25519", 2048, [], id="Ed25519 ignores size"),
        pytest.param("p256", "Ed25519", None, [ALG], id="ecdsa key under Ed25519"),
        pytest.param("ed25519", "RSA", 2048, [ALG], id="ed25519 key under RSA"),
    ],
)
def test_key_matches_spec_lists_the_violated_fields(kind, algorithm, size, violations):
    assert key_matches_spec(key(kind), algorithm, size) == violations


def test_key_matches_spec_rejects_an_unknown_algorithm():
    with pytest.raises(ValueError, match="unsupported private key algorithm specified: DSA"):
        key_matches_spec(key("p256"), "DSA", None)


# --- signature_algorithm_for ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        pytest.param("rsa2048", hashes.SHA256, id="rsa 2048 signs with sha256"),
        pytest.param("rsa3072", hashes.SHA384, id="rsa 3072 signs with sha384"),
        pytest.param("rsa4096", hashes.SHA512, id="rsa 4096 signs with sha512"),
        pytest.param("p256", hashes.SHA256, id="p256 signs with sha256"),
        pytest.param("p384", hashes.SHA384, id="p384 signs with sha384"),
        pytest.param("p521", hashes.SHA512, id="p521 signs with sha512"),
        pytest.param("ed25519", None, id="ed25519 has no separate hash"),
    ],
)
def test_signature_algorithm_follows_the_key(kind, expected):
    for k in (key(kind), key(kind).public_key()):
        algorithm = signature_algorithm_for(k)
        if expected is None:
            assert algorithm is None
        else:
            assert type(algorithm) is expected


def test_signature_algorithm_rejects_rsa_under_2048_bits():
    with pytest.raises(ValueError, match=r"^invalid size 1024 for RSA key on signing certificate$"):
        signature_algorithm_for(key("rsa1024"))


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: ec.generate_private_key(ec.SECP224R1()), id="p224 curve"),
        pytest.param(lambda: ed448.Ed448PrivateKey.generate(), id="ed448"),
    ],
)
def test_signature_algorithm_rejects_unsupported_keys(make):
    with pytest.raises(ValueError, match="unsupported"):
        signature_algorithm_for(make())
