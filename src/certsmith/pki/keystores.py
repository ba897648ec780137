"""Extra Secret outputs: PKCS#12 and JKS keystores, DER and combined PEM, temporary certificates.

Decides what cert-manager's issuing controller writes next to ``tls.crt``/``tls.key`` (SPEC §5.5,
``pkg/controller/certificates/issuing/internal/{keystore,secret}.go``):

* ``keystore.p12``: the private key and the first ``tls.crt`` certificate, with the rest of
  ``tls.crt`` and then every ``ca.crt`` certificate as further certificates, under the password;
  no friendly name (Java lists the entry as alias ``1``), as go-pkcs12 writes it;
* ``truststore.p12`` (only when there is a CA): every ``ca.crt`` certificate as a Java trusted
  certificate entry named by its subject DN;
* the profiles, mapped onto what ``cryptography`` can write (``_PROFILES``):

  - ``LegacyDES``: keys and certificates under pbeWithSHAAnd3-KeyTripleDES-CBC, 2048 rounds,
    SHA-1 MAC, exactly go-pkcs12's algorithms;
  - ``LegacyRC2`` (the default): go-pkcs12 encrypts the certificates with 40-bit RC2, which
    ``cryptography`` cannot write (and OpenSSL 3 and Java 20+ cannot read without legacy
    switches); we use 3DES for them too, so it is the same file as ``LegacyDES``: everything
    that reads the RC2 file reads this one;
  - ``Modern2023``: PBES2 (PBKDF2-HMAC-SHA-256, AES-256-CBC), 2048 rounds, HMAC-SHA-256 MAC,
    exactly go-pkcs12's;
  - ``Modern2026``: the same encryption; go-pkcs12 protects the file with a PBMAC1 MAC, which
    ``cryptography`` cannot write, so the MAC is the classic HMAC-SHA-256 one (readable by
    Java 12+ and OpenSSL 1.1.1+, where PBMAC1 needs Java 26 or OpenSSL 3.4).

  ``cryptography`` uses one iteration count for encryption and MAC: 2048, where go-pkcs12 uses
  a single MAC iteration for the legacy profiles.
* ``keystore.jks``: a ``PrivateKeyEntry`` under ``alias`` (lowercased, as keystore-go does;
  default ``certificate``) holding the PKCS#8 key and the whole ``tls.crt`` chain, plus, when
  there is a CA, a ``trustedCertEntry`` per ``ca.crt`` certificate (``ca``, ``ca-1``, ...);
  ``truststore.jks`` holds only those CA entries. The JKS writer is ours (see
  ``docs/decisions.md``): Sun's key protection (SHA-1 keystream XOR, SHA-1 check) and the
  trailing SHA-1 over the password-whitened file. Passwords are UTF-16BE, as Java reads them;
  keystore-go widens each UTF-8 byte instead, which only differs for non-ASCII passwords;
* ``key.der`` is the DER inside the ``tls.key`` PEM block and ``tls-combined.pem`` is
  ``tls.key``, a newline, ``tls.crt``, byte for byte;
* the temporary certificate: signed by a throw-away self-signed CA (CN ``cert-manager.local``,
  ECDSA P-521) from the Certificate spec, subject serialNumber ``1234567890``.

Passwords are secrets: no error raised here mentions one, and parse errors are re-worded.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import os
import re
import struct
from collections.abc import Iterable, Sequence
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from certsmith.api.certmanager import (
    AdditionalOutputFormatType,
    CertificateAdditionalOutputFormat,
    CertificateKeystores,
    CertificateSpec,
    PKCS12Profile,
    X509Subject,
)
from certsmith.api.duration import parse_go_duration
from certsmith.api.errors import CertsmithError
from certsmith.pki.csr import CSRError, generate_csr
from certsmith.pki.keys import KeyDecodeError, PrivateKey, generate_private_key
from certsmith.pki.keys import parse_private_key_pem as _parse_key
from certsmith.pki.pem import PEMError, certificate_to_pem, split_pem_certificates
from certsmith.pki.sign import SignError, self_sign, sign_certificate
from certsmith.pki.template import CertificateTemplate, TemplateError, certificate_template_from_csr

__all__ = [
    "COMBINED_PEM_KEY",
    "DEFAULT_JKS_ALIAS",
    "DEFAULT_PKCS12_PROFILE",
    "DER_KEY",
    "JKS_KEYSTORE_KEY",
    "JKS_TRUSTSTORE_KEY",
    "PKCS12_KEYSTORE_KEY",
    "PKCS12_TRUSTSTORE_KEY",
    "TEMPORARY_CA_COMMON_NAME",
    "TEMPORARY_SERIAL_NUMBER",
    "KeystoreError",
    "additional_outputs",
    "combined_pem",
    "encode_jks_keystore",
    "encode_jks_truststore",
    "encode_pkcs12_keystore",
    "encode_pkcs12_truststore",
    "keystore_outputs",
    "private_key_der",
    "temporary_certificate",
]

PKCS12_KEYSTORE_KEY: Final = "keystore.p12"
PKCS12_TRUSTSTORE_KEY: Final = "truststore.p12"
JKS_KEYSTORE_KEY: Final = "keystore.jks"
JKS_TRUSTSTORE_KEY: Final = "truststore.jks"
DER_KEY: Final = "key.der"
COMBINED_PEM_KEY: Final = "tls-combined.pem"
DEFAULT_JKS_ALIAS: Final = "certificate"
DEFAULT_PKCS12_PROFILE: Final[PKCS12Profile] = "LegacyRC2"
TEMPORARY_CA_COMMON_NAME: Final = "cert-manager.local"
TEMPORARY_SERIAL_NUMBER: Final = "1234567890"

_KDF_ROUNDS: Final = 2048
_DES = pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC
_AES = pkcs12.PBES.PBESv2SHA256AndAES256CBC
_PROFILES: Final[dict[str, tuple[pkcs12.PBES, type[hashes.SHA1 | hashes.SHA256]]]] = {
    "LegacyRC2": (_DES, hashes.SHA1),  # RC2-40 for certificates is not writable: 3DES
    "LegacyDES": (_DES, hashes.SHA1),
    "Modern2023": (_AES, hashes.SHA256),
    "Modern2026": (_AES, hashes.SHA256),  # PBMAC1 is not writable: classic HMAC-SHA-256 MAC
}

_JKS_MAGIC: Final = 0xFEEDFEED
_JKS_VERSION: Final = 2
_JKS_PRIVATE_KEY_TAG: Final = 1
_JKS_TRUSTED_CERT_TAG: Final = 2
_JKS_WHITENER: Final = b"Mighty Aphrodite"
# 1.3.6.1.4.1.42.2.17.1.1, Sun's proprietary key protection, DER encoded with a NULL parameter.
_SUN_JKS_ALGORITHM_ID: Final = bytes.fromhex("300e060a2b060104012a021101010500")
_KEY_BLOCK: Final = re.compile(
    rb"-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----\r?\n(.*?)-----END \1-----", re.DOTALL
)


class KeystoreError(CertsmithError, ValueError):
    """A keystore or extra output cannot be built from the Secret data or the spec."""


# --- shared input handling ---------------------------------------------------------------------


def _password(password: bytes | str) -> bytes:
    if isinstance(password, str):
        password = password.encode()
    if not isinstance(password, bytes):
        raise TypeError(f"password must be bytes or str, not {type(password).__name__}")
    if not password:
        raise KeystoreError("keystore password must not be empty")
    return password


def _key(key_pem: bytes) -> PrivateKey:
    try:
        return _parse_key(key_pem)
    except KeyDecodeError as err:
        raise KeystoreError(f"error decoding private key: {err}") from None


def _certs(pem: bytes, what: str) -> list[x509.Certificate]:
    try:
        return split_pem_certificates(pem)
    except PEMError as err:
        raise KeystoreError(f"error decoding {what}: {err}") from None


def _cas(ca_pem: bytes | None) -> list[x509.Certificate]:
    return _certs(ca_pem, "CA certificates") if ca_pem else []


# --- PKCS#12 -----------------------------------------------------------------------------------


def _pkcs12_encryption(
    profile: PKCS12Profile | None, password: bytes
) -> serialization.KeySerializationEncryption:
    chosen = profile or DEFAULT_PKCS12_PROFILE
    if chosen not in _PROFILES:
        raise KeystoreError(f"unknown PKCS#12 profile {chosen!r}")
    algorithm, mac_hash = _PROFILES[chosen]
    return (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(_KDF_ROUNDS)
        .key_cert_algorithm(algorithm)
        .hmac_hash(mac_hash())
        .build(password)
    )


def encode_pkcs12_keystore(
    profile: PKCS12Profile | None,
    password: bytes | str,
    key_pem: bytes,
    cert_pem: bytes,
    ca_pem: bytes | None,
) -> bytes:
    """Build ``keystore.p12``: key + first certificate, then the rest of the chain and the CAs.

    Args:
        profile: ``keystores.pkcs12.profile``; ``None`` means ``LegacyRC2``.
        password: the keystore password (UTF-8), never empty.
        key_pem: ``tls.key``.
        cert_pem: ``tls.crt``, leaf first.
        ca_pem: ``ca.crt`` or ``None``/empty.

    Returns:
        The DER PKCS#12 file.

    Raises:
        KeystoreError: the password is empty, the profile unknown, or the PEM data undecodable.
        TypeError: the password is neither bytes nor str.
    """
    secret = _password(password)
    encryption = _pkcs12_encryption(profile, secret)
    key = _key(key_pem)
    certs = _certs(cert_pem, "certificate chain")
    cas = [*certs[1:], *_cas(ca_pem)]
    return pkcs12.serialize_key_and_certificates(None, key, certs[0], cas or None, encryption)


def encode_pkcs12_truststore(
    profile: PKCS12Profile | None, password: bytes | str, ca_pem: bytes
) -> bytes:
    """Build ``truststore.p12``: each CA certificate as a Java trusted certificate entry.

    Args:
        profile: ``keystores.pkcs12.profile``; ``None`` means ``LegacyRC2``.
        password: the keystore password (UTF-8), never empty.
        ca_pem: ``ca.crt``.

    Returns:
        The DER PKCS#12 file; each entry's friendly name is the certificate's subject DN.

    Raises:
        KeystoreError: the password is empty, the profile unknown, or ``ca_pem`` undecodable.
        TypeError: the password is neither bytes nor str.
    """
    secret = _password(password)
    encryption = _pkcs12_encryption(profile, secret)
    entries = [
        pkcs12.PKCS12Certificate(ca, ca.subject.rfc4514_string().encode())
        for ca in _certs(ca_pem, "CA certificates")
    ]
    return pkcs12.serialize_java_truststore(entries, encryption)


# --- JKS ---------------------------------------------------------------------------------------


def _java_utf(text: str) -> bytes:
    """``DataOutputStream.writeUTF``: a u2 length, then modified UTF-8."""
    out = bytearray()
    for unit in struct.unpack(f">{len(text.encode('utf-16-be')) // 2}H", text.encode("utf-16-be")):
        if 0 < unit < 0x80:
            out.append(unit)
        elif unit < 0x800:  # includes NUL, written as two bytes
            out += bytes((0xC0 | unit >> 6, 0x80 | unit & 0x3F))
        else:  # surrogate halves are encoded one by one, three bytes each
            out += bytes((0xE0 | unit >> 12, 0x80 | unit >> 6 & 0x3F, 0x80 | unit & 0x3F))
    if len(out) > 0xFFFF:
        raise KeystoreError("JKS alias is too long")
    return struct.pack(">H", len(out)) + bytes(out)


def _jks_password(password: bytes) -> bytes:
    """The password as Java's ``char[]`` bytes: UTF-16BE of its characters."""
    try:
        text = password.decode()
    except UnicodeDecodeError:
        text = password.decode("latin-1")  # one char per byte, as keystore-go widens it
    return text.encode("utf-16-be")


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def _protect_key(pkcs8: bytes, password: bytes) -> bytes:
    """Sun's JKS key protection, wrapped in an ``EncryptedPrivateKeyInfo``."""
    salt = os.urandom(20)
    stream = bytearray()
    digest = salt
    while len(stream) < len(pkcs8):
        digest = hashlib.sha1(password + digest).digest()  # noqa: S324 - the JKS format
        stream += digest
    encrypted = bytes(a ^ b for a, b in zip(pkcs8, stream, strict=False))
    check = hashlib.sha1(password + pkcs8).digest()  # noqa: S324 - the JKS format
    protected = salt + encrypted + check
    octets = b"\x04" + _der_length(len(protected)) + protected
    body = _SUN_JKS_ALGORITHM_ID + octets
    return b"\x30" + _der_length(len(body)) + body


def _jks_cert(cert: x509.Certificate) -> bytes:
    der = cert.public_bytes(serialization.Encoding.DER)
    return _java_utf("X.509") + struct.pack(">I", len(der)) + der


def _jks_trusted_entries(
    cas: Sequence[x509.Certificate], millis: int
) -> Iterable[tuple[str, bytes]]:
    for index, ca in enumerate(cas):
        alias = "ca" if index == 0 else f"ca-{index}"
        yield (
            alias,
            struct.pack(">I", _JKS_TRUSTED_CERT_TAG)
            + _java_utf(alias)
            + struct.pack(">q", millis)
            + _jks_cert(ca),
        )


def _jks_file(entries: Sequence[bytes], password: bytes) -> bytes:
    body = struct.pack(">III", _JKS_MAGIC, _JKS_VERSION, len(entries)) + b"".join(entries)
    trailer = hashlib.sha1(password + _JKS_WHITENER + body).digest()  # noqa: S324 - JKS format
    return body + trailer


def _millis(now: dt.datetime) -> int:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return int(now.timestamp() * 1000)


def encode_jks_keystore(
    password: bytes | str,
    alias: str | None,
    key_pem: bytes,
    cert_pem: bytes,
    ca_pem: bytes | None,
    *,
    now: dt.datetime,
) -> bytes:
    """Build ``keystore.jks``: the key with its chain under ``alias``, plus the CAs as trusted.

    Args:
        password: the store and key password (UTF-8), never empty.
        alias: ``keystores.jks.alias``; ``None`` or ``""`` means ``certificate``. Lowercased.
        key_pem: ``tls.key``.
        cert_pem: ``tls.crt``, leaf first; the whole chain goes into the entry.
        ca_pem: ``ca.crt`` or ``None``/empty; its certificates become ``ca``, ``ca-1``, ...
        now: the entries' creation time, timezone-aware.

    Returns:
        The JKS file.

    Raises:
        KeystoreError: the password is empty or the PEM data undecodable.
        TypeError: the password is neither bytes nor str.
        ValueError: ``now`` is naive.
    """
    secret = _jks_password(_password(password))
    millis = _millis(now)
    key = _key(key_pem)
    chain = _certs(cert_pem, "certificate chain")
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    protected = _protect_key(pkcs8, secret)
    name = (alias or DEFAULT_JKS_ALIAS).lower()
    key_entry = (
        struct.pack(">I", _JKS_PRIVATE_KEY_TAG)
        + _java_utf(name)
        + struct.pack(">qI", millis, len(protected))
        + protected
        + struct.pack(">I", len(chain))
        + b"".join(_jks_cert(cert) for cert in chain)
    )
    trusted = [entry for _, entry in _jks_trusted_entries(_cas(ca_pem), millis)]
    return _jks_file([key_entry, *trusted], secret)


def encode_jks_truststore(password: bytes | str, ca_pem: bytes, *, now: dt.datetime) -> bytes:
    """Build ``truststore.jks``: every CA certificate as a trusted entry (``ca``, ``ca-1``, ...).

    Args:
        password: the store password (UTF-8), never empty.
        ca_pem: ``ca.crt``.
        now: the entries' creation time, timezone-aware.

    Returns:
        The JKS file.

    Raises:
        KeystoreError: the password is empty or ``ca_pem`` undecodable.
        TypeError: the password is neither bytes nor str.
        ValueError: ``now`` is naive.
    """
    secret = _jks_password(_password(password))
    millis = _millis(now)
    cas = _certs(ca_pem, "CA certificates")
    return _jks_file([entry for _, entry in _jks_trusted_entries(cas, millis)], secret)


def keystore_outputs(
    keystores: CertificateKeystores | None,
    *,
    key_pem: bytes,
    cert_pem: bytes,
    ca_pem: bytes | None,
    pkcs12_password: bytes | None,
    jks_password: bytes | None,
    now: dt.datetime,
) -> dict[str, bytes]:
    """The keystore Secret keys ``spec.keystores`` asks for (cert-manager's ``setKeystores``).

    Truststores are written only when ``ca_pem`` is non-empty. Reading ``passwordSecretRef`` is
    I/O, so the caller resolves each password (the literal ``password`` or the referenced
    Secret's bytes) and passes it in.

    Args:
        keystores: ``spec.keystores``.
        key_pem: ``tls.key`` as written to the Secret.
        cert_pem: ``tls.crt``.
        ca_pem: ``ca.crt`` or ``None``/empty.
        pkcs12_password: the resolved PKCS#12 password, when ``pkcs12.create``.
        jks_password: the resolved JKS password, when ``jks.create``.
        now: the JKS entries' creation time, timezone-aware.

    Returns:
        Some of ``keystore.p12``, ``truststore.p12``, ``keystore.jks``, ``truststore.jks``.

    Raises:
        KeystoreError: a store is asked for without a password, or cannot be encoded; the
            message names the store, never the password.
    """
    out: dict[str, bytes] = {}
    if keystores is None:
        return out
    p12 = keystores.pkcs12
    if p12 is not None and p12.create:
        if not pkcs12_password:
            raise KeystoreError(
                "either passwordSecretRef or password must be set for PKCS#12 keystore"
            )
        try:
            out[PKCS12_KEYSTORE_KEY] = encode_pkcs12_keystore(
                p12.profile, pkcs12_password, key_pem, cert_pem, ca_pem
            )
        except KeystoreError as err:
            raise KeystoreError(f"error encoding PKCS12 bundle: {err}") from None
        if ca_pem:
            try:
                out[PKCS12_TRUSTSTORE_KEY] = encode_pkcs12_truststore(
                    p12.profile, pkcs12_password, ca_pem
                )
            except KeystoreError as err:
                raise KeystoreError(f"error encoding PKCS12 trust store bundle: {err}") from None
    jks = keystores.jks
    if jks is not None and jks.create:
        if not jks_password:
            raise KeystoreError("either passwordSecretRef or password must be set for JKS keystore")
        try:
            out[JKS_KEYSTORE_KEY] = encode_jks_keystore(
                jks_password, jks.alias, key_pem, cert_pem, ca_pem, now=now
            )
        except KeystoreError as err:
            raise KeystoreError(f"error encoding JKS bundle: {err}") from None
        if ca_pem:
            try:
                out[JKS_TRUSTSTORE_KEY] = encode_jks_truststore(jks_password, ca_pem, now=now)
            except KeystoreError as err:
                raise KeystoreError(f"error encoding JKS trust store bundle: {err}") from None
    return out


# --- additional output formats -----------------------------------------------------------------


def private_key_der(key_pem: bytes) -> bytes:
    """``key.der``: the bytes inside the first private key PEM block of ``tls.key``.

    Raises:
        KeystoreError: ``key_pem`` holds no private key PEM block.
    """
    match = _KEY_BLOCK.search(key_pem)
    if match is None:
        raise KeystoreError("error decoding private key PEM block: no private key found")
    try:
        return base64.b64decode(b"".join(match.group(2).split()), validate=True)
    except binascii.Error:
        raise KeystoreError("error decoding private key PEM block: invalid base64") from None


def combined_pem(key_pem: bytes, cert_pem: bytes) -> bytes:
    """``tls-combined.pem``: ``tls.key``, a newline, ``tls.crt``, byte for byte."""
    return key_pem + b"\n" + cert_pem


def additional_outputs(
    formats: Sequence[CertificateAdditionalOutputFormat] | None,
    key_pem: bytes,
    cert_pem: bytes,
) -> dict[str, bytes]:
    """The Secret keys ``spec.additionalOutputFormats`` asks for, with their bytes.

    Args:
        formats: ``spec.additionalOutputFormats``.
        key_pem: ``tls.key`` as written to the Secret.
        cert_pem: ``tls.crt``.

    Returns:
        ``{"key.der": ...}`` and/or ``{"tls-combined.pem": ...}``; empty for no formats.

    Raises:
        KeystoreError: ``DER`` was asked for and ``key_pem`` holds no key block.
    """
    out: dict[str, bytes] = {}
    for item in formats or ():
        kind: AdditionalOutputFormatType = item.type
        if kind == "DER":
            out[DER_KEY] = private_key_der(key_pem)
        elif kind == "CombinedPEM":
            out[COMBINED_PEM_KEY] = combined_pem(key_pem, cert_pem)
    return out


# --- temporary certificate ---------------------------------------------------------------------


def _temporary_ca(now: dt.datetime) -> tuple[x509.Certificate, PrivateKey]:
    ca_key = generate_private_key("ECDSA", 521)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, TEMPORARY_CA_COMMON_NAME)])
    template = CertificateTemplate(
        public_key=ca_key.public_key(),
        subject=subject,
        raw_subject=subject.public_bytes(),
        serial_number=x509.random_serial_number(),
        not_before=now,
        not_after=now + dt.timedelta(days=90),
        is_ca=True,
        key_usage=x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=True,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=True,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        ),
    )
    return self_sign(template, ca_key), ca_key


def temporary_certificate(spec: CertificateSpec, key: PrivateKey, now: dt.datetime) -> bytes:
    """The temporary ``tls.crt`` written while issuance is pending (SPEC §5.5).

    The subject, SANs, usages and duration come from ``spec`` (duration default 90 days); the
    subject serialNumber is ``1234567890`` unless ``literalSubject`` fixes the subject bytes, as
    in cert-manager. The issuer is a self-signed ECDSA P-521 CA ``cert-manager.local`` that is
    thrown away.

    Args:
        spec: the Certificate's spec.
        key: the private key the temporary certificate certifies (the Secret's ``tls.key``).
        now: notBefore, timezone-aware.

    Returns:
        The certificate PEM (the leaf only).

    Raises:
        KeystoreError: the spec cannot be turned into a certificate (bad SAN, usage, duration).
        ValueError: ``now`` is naive.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not spec.literal_subject:
        subject = spec.subject or X509Subject()
        subject = subject.model_copy(update={"serial_number": TEMPORARY_SERIAL_NUMBER})
        spec = spec.model_copy(update={"subject": subject})
    try:
        duration = parse_go_duration(spec.duration) if spec.duration else None
        template = certificate_template_from_csr(
            generate_csr(spec, key),
            is_ca=bool(spec.is_ca),
            usages=list(spec.usages or ()),
            duration=duration,
            now=now,
        )
        ca_cert, ca_key = _temporary_ca(now)
        leaf = sign_certificate(template, issuer_cert=ca_cert, signer_key=ca_key)
    except (CSRError, TemplateError, SignError, ValueError) as err:
        raise KeystoreError(f"error generating temporary certificate: {err}") from err
    return certificate_to_pem(leaf)
