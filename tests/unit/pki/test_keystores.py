from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from certsmith.api.certmanager import CertificateAdditionalOutputFormat, CertificateKeystores
from certsmith.pki.keys import encode_private_key_pem, public_keys_equal
from certsmith.pki.keystores import (
    KeystoreError,
    additional_outputs,
    combined_pem,
    encode_jks_keystore,
    encode_jks_truststore,
    encode_pkcs12_keystore,
    encode_pkcs12_truststore,
    keystore_outputs,
    private_key_der,
    temporary_certificate,
)
from tests.builders import make_certificate
from tests.pkitools import KeyKind, key, make_intermediate, make_leaf, make_root, openssl, pem

NOW = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
PROFILES = ["LegacyRC2", "LegacyDES", "Modern2023", "Modern2026"]
PW = "s3cret-pw"
KEYTOOL = shutil.which("keytool")
needs_keytool = pytest.mark.skipif(
    KEYTOOL is None,
    reason="Java keytool is not installed (scripts/install.sh installs openjdk-17-jre-headless)",
)


def bundle(kind: KeyKind = "p256"):
    """root -> intermediate -> leaf; tls.crt = leaf + intermediate, ca.crt = root."""
    root, root_key = make_root("keystore root", slot=21)
    inter, inter_key = make_intermediate("keystore intermediate", root, root_key, slot=22)
    leaf = make_leaf("leaf.example.com", inter, inter_key, kind=kind, slot=23)
    key_pem = encode_private_key_pem(key(kind, 23), "PKCS1")
    return key_pem, pem(leaf, inter), pem(root), (leaf, inter, root)


def spki(public_key: object) -> bytes:
    assert hasattr(public_key, "public_bytes")
    return bytes(
        public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def keytool(*args: str | Path) -> str:
    assert KEYTOOL is not None
    done = subprocess.run(
        [KEYTOOL, *map(str, args)], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def keytool_list(path: Path, storetype: str, password: str = PW) -> list[dict[str, str]]:
    """``keytool -list -v`` as one dict per entry: alias, type and chain length."""
    out = keytool("-list", "-v", "-keystore", path, "-storetype", storetype, "-storepass", password)
    entries: list[dict[str, str]] = []
    for line in out.splitlines():
        if line.startswith("Alias name: "):
            entries.append({"alias": line.removeprefix("Alias name: ")})
        elif line.startswith("Entry type: "):
            entries[-1]["type"] = line.removeprefix("Entry type: ")
        elif line.startswith("Certificate chain length: "):
            entries[-1]["chain"] = line.removeprefix("Certificate chain length: ")
    return entries


def openssl_pkcs12(path: Path, *args: str) -> str:
    """``openssl pkcs12 -info``; retried with ``-legacy`` when OpenSSL 3 refuses old ciphers."""
    done = openssl("pkcs12", "-info", "-in", path, "-passin", f"pass:{PW}", *args)
    if done.returncode != 0 and "unsupported" in done.stderr.lower():
        done = openssl("pkcs12", "-legacy", "-info", "-in", path, "-passin", f"pass:{PW}", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def subjects(text: str) -> list[str]:
    return re.findall(r"^subject=.*?CN ?= ?(.+)$", text, flags=re.MULTILINE)


# --- PKCS#12 -----------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_pkcs12_keystore_holds_the_key_and_whole_chain_for_every_profile(profile, tmp_path):
    key_pem, cert_pem, ca_pem, (leaf, inter, root) = bundle()
    data = encode_pkcs12_keystore(profile, PW, key_pem, cert_pem, ca_pem)

    loaded = pkcs12.load_pkcs12(data, PW.encode())
    assert loaded.key is not None
    assert spki(loaded.key.public_key()) == spki(leaf.public_key())
    assert loaded.cert is not None
    assert loaded.cert.certificate == leaf
    assert [c.certificate for c in loaded.additional_certs] == [inter, root]

    path = tmp_path / "keystore.p12"
    path.write_bytes(data)
    info = openssl_pkcs12(path, "-nokeys")
    assert subjects(info) == ["leaf.example.com", "keystore intermediate", "keystore root"]
    keys = openssl_pkcs12(path, "-nocerts", "-nodes")
    extracted = serialization.load_pem_private_key(keys[keys.index("-----BEGIN") :].encode(), None)
    assert public_keys_equal(extracted.public_key(), leaf.public_key())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("profile", "cipher", "mac"),
    [
        (None, "pbeWithSHA1And3-KeyTripleDES-CBC", "sha1"),
        ("LegacyRC2", "pbeWithSHA1And3-KeyTripleDES-CBC", "sha1"),
        ("LegacyDES", "pbeWithSHA1And3-KeyTripleDES-CBC", "sha1"),
        ("Modern2023", "PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256", "sha256"),
        ("Modern2026", "PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256", "sha256"),
    ],
)
def test_pkcs12_profiles_choose_cipher_and_mac(profile, cipher, mac, tmp_path):
    key_pem, cert_pem, ca_pem, _ = bundle()
    path = tmp_path / "keystore.p12"
    path.write_bytes(encode_pkcs12_keystore(profile, PW, key_pem, cert_pem, ca_pem))
    info = openssl_pkcs12(path, "-nokeys")
    assert f"MAC: {mac}, Iteration 2048" in info
    assert f"PKCS7 Encrypted data: {cipher}" in info


@needs_keytool
@pytest.mark.parametrize("profile", PROFILES)
def test_keytool_reads_the_pkcs12_keystore_and_truststore(profile, tmp_path):
    key_pem, cert_pem, ca_pem, _ = bundle()
    store = tmp_path / "keystore.p12"
    store.write_bytes(encode_pkcs12_keystore(profile, PW, key_pem, cert_pem, ca_pem))
    assert keytool_list(store, "PKCS12") == [
        {"alias": "1", "type": "PrivateKeyEntry", "chain": "3"}
    ]
    trust = tmp_path / "truststore.p12"
    trust.write_bytes(encode_pkcs12_truststore(profile, PW, ca_pem))
    assert keytool_list(trust, "PKCS12") == [
        {"alias": "cn=keystore root", "type": "trustedCertEntry"}
    ]


def test_pkcs12_keystore_without_ca_keeps_only_the_chain():
    key_pem, cert_pem, _, (leaf, inter, _) = bundle()
    loaded = pkcs12.load_pkcs12(
        encode_pkcs12_keystore(None, PW, key_pem, cert_pem, b""), PW.encode()
    )
    assert loaded.cert is not None
    assert loaded.cert.certificate == leaf
    assert [c.certificate for c in loaded.additional_certs] == [inter]


def test_pkcs12_truststore_holds_every_ca_certificate():
    _, _, _, (_, inter, root) = bundle()
    loaded = pkcs12.load_pkcs12(
        encode_pkcs12_truststore("Modern2023", PW, pem(root, inter)), PW.encode()
    )
    assert loaded.key is None
    assert [c.certificate for c in loaded.additional_certs] == [root, inter]
    assert [c.friendly_name for c in loaded.additional_certs] == [
        b"CN=keystore root",
        b"CN=keystore intermediate",
    ]


@pytest.mark.parametrize("kind", ["rsa2048", "p384", "ed25519"])
def test_pkcs12_keystore_accepts_every_key_type(kind):
    key_pem, cert_pem, ca_pem, (leaf, _, _) = bundle(kind)
    loaded = pkcs12.load_pkcs12(
        encode_pkcs12_keystore("Modern2023", PW, key_pem, cert_pem, ca_pem), PW.encode()
    )
    assert loaded.key is not None
    assert spki(loaded.key.public_key()) == spki(leaf.public_key())


# --- JKS ---------------------------------------------------------------------------------------


@needs_keytool
@pytest.mark.parametrize("kind", ["rsa2048", "p256", "ed25519"])
def test_keytool_reads_the_jks_keystore_and_decrypts_its_key(kind, tmp_path):
    key_pem, cert_pem, ca_pem, (leaf, _, _) = bundle(kind)
    store = tmp_path / "keystore.jks"
    store.write_bytes(encode_jks_keystore(PW, None, key_pem, cert_pem, ca_pem, now=NOW))
    assert keytool_list(store, "JKS") == [
        {"alias": "ca", "type": "trustedCertEntry"},
        {"alias": "certificate", "type": "PrivateKeyEntry", "chain": "2"},
    ]
    # Converting needs the key itself: it proves the key protection decrypts with the password.
    converted = tmp_path / "converted.p12"
    keytool(
        "-importkeystore", "-noprompt",
        "-srckeystore", store, "-srcstoretype", "JKS", "-srcstorepass", PW,
        "-srcalias", "certificate",
        "-destkeystore", converted, "-deststoretype", "PKCS12", "-deststorepass", PW,
    )  # fmt: skip
    loaded = pkcs12.load_pkcs12(converted.read_bytes(), PW.encode())
    assert loaded.key is not None
    assert spki(loaded.key.public_key()) == spki(leaf.public_key())


@needs_keytool
def test_keytool_reads_the_jks_truststore(tmp_path):
    _, _, _, (_, inter, root) = bundle()
    trust = tmp_path / "truststore.jks"
    trust.write_bytes(encode_jks_truststore(PW, pem(root, inter), now=NOW))
    assert keytool_list(trust, "JKS") == [
        {"alias": "ca", "type": "trustedCertEntry"},
        {"alias": "ca-1", "type": "trustedCertEntry"},
    ]


@needs_keytool
def test_jks_alias_is_lowercased_and_a_non_ascii_password_works(tmp_path):
    key_pem, cert_pem, _, _ = bundle()
    store = tmp_path / "keystore.jks"
    store.write_bytes(
        encode_jks_keystore("pässwört", "My-Server", key_pem, cert_pem, None, now=NOW)
    )
    assert keytool_list(store, "JKS", "pässwört") == [
        {"alias": "my-server", "type": "PrivateKeyEntry", "chain": "2"}
    ]


@needs_keytool
def test_jks_with_the_wrong_password_fails_its_integrity_check(tmp_path):
    key_pem, cert_pem, ca_pem, _ = bundle()
    store = tmp_path / "keystore.jks"
    store.write_bytes(encode_jks_keystore(PW, None, key_pem, cert_pem, ca_pem, now=NOW))
    assert KEYTOOL is not None
    done = subprocess.run(
        [KEYTOOL, "-list", "-keystore", str(store), "-storetype", "JKS", "-storepass", "wrong"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0
    assert "password was incorrect" in done.stdout + done.stderr


def test_jks_layout_and_timestamps():
    key_pem, cert_pem, ca_pem, _ = bundle()
    data = encode_jks_keystore(PW, None, key_pem, cert_pem, ca_pem, now=NOW)
    assert data[:12] == bytes.fromhex("feedfeed0000000200000002")
    millis = int(NOW.timestamp() * 1000).to_bytes(8, "big")
    assert data[12:16] == b"\x00\x00\x00\x01"  # PrivateKeyEntry tag
    assert data[16:29] == b"\x00\x0bcertificate"
    assert data[29:37] == millis


# --- inputs and secrets ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda k, c, a: encode_pkcs12_keystore(None, "", k, c, a),
        lambda k, c, a: encode_pkcs12_truststore(None, b"", a),
        lambda k, c, a: encode_jks_keystore("", None, k, c, a, now=NOW),
        lambda k, c, a: encode_jks_truststore("", a, now=NOW),
    ],
)
def test_empty_passwords_are_refused(build):
    key_pem, cert_pem, ca_pem, _ = bundle()
    with pytest.raises(KeystoreError, match="password must not be empty"):
        build(key_pem, cert_pem, ca_pem)


def test_errors_never_mention_the_password():
    password = "hunter2-very-secret"
    _, cert_pem, ca_pem, _ = bundle()
    calls: list[Callable[[], bytes]] = [
        lambda: encode_pkcs12_keystore(None, password, b"not a key", cert_pem, ca_pem),
        lambda: encode_jks_keystore(password, None, b"not a key", cert_pem, ca_pem, now=NOW),
        lambda: encode_jks_truststore(password, b"garbage", now=NOW),
        lambda: encode_pkcs12_keystore("Legacy3000", password, b"", cert_pem, ca_pem),  # type: ignore[arg-type]
    ]
    for call in calls:
        with pytest.raises(KeystoreError) as err:
            call()
        assert password not in str(err.value)
        assert password not in repr(err.value)


# --- additional output formats -----------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["PKCS1", "PKCS8"])
def test_key_der_is_the_der_of_the_key_pem_block(encoding):
    k = key("rsa2048", 23)
    key_pem = encode_private_key_pem(k, encoding)
    der = private_key_der(key_pem)
    fmt = (
        serialization.PrivateFormat.TraditionalOpenSSL
        if encoding == "PKCS1"
        else serialization.PrivateFormat.PKCS8
    )
    assert der == k.private_bytes(serialization.Encoding.DER, fmt, serialization.NoEncryption())


def test_combined_pem_is_key_newline_chain_byte_for_byte():
    key_pem, cert_pem, _, _ = bundle()
    assert combined_pem(key_pem, cert_pem) == key_pem + b"\n" + cert_pem


def test_additional_outputs_follow_the_spec():
    key_pem, cert_pem, _, _ = bundle()
    formats = [
        CertificateAdditionalOutputFormat(type="DER"),
        CertificateAdditionalOutputFormat(type="CombinedPEM"),
    ]
    assert additional_outputs(formats, key_pem, cert_pem) == {
        "key.der": private_key_der(key_pem),
        "tls-combined.pem": key_pem + b"\n" + cert_pem,
    }
    assert additional_outputs(None, key_pem, cert_pem) == {}


def test_key_der_without_a_key_block_is_an_error():
    with pytest.raises(KeystoreError, match="no private key found"):
        private_key_der(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")


# --- temporary certificate ---------------------------------------------------------------------


def test_temporary_certificate_is_signed_by_a_throwaway_p521_ca():
    cert_key = key("rsa2048", 23)
    spec = make_certificate(commonName="web", dnsNames=["web.example.com"]).spec
    cert = x509.load_pem_x509_certificate(temporary_certificate(spec, cert_key, NOW))

    assert cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "cert-manager.local"
    assert cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == "1234567890"
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "web"
    assert public_keys_equal(cert.public_key(), cert_key.public_key())
    assert cert.signature_algorithm_oid.dotted_string == "1.2.840.10045.4.3.4"  # ecdsa-with-SHA512
    assert cert.not_valid_before_utc == NOW
    assert cert.not_valid_after_utc - NOW == dt.timedelta(days=90)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["web.example.com"]


def test_temporary_certificate_follows_the_spec_duration_and_replaces_the_serial_number():
    spec = make_certificate(duration="2h", subject={"serialNumber": "mine"}).spec
    cert = x509.load_pem_x509_certificate(temporary_certificate(spec, key("p256", 23), NOW))
    assert cert.not_valid_after_utc - NOW == dt.timedelta(hours=2)
    serials = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    assert [a.value for a in serials] == ["1234567890"]


def test_temporary_certificate_with_a_bad_spec_is_a_keystore_error():
    spec = make_certificate(ipAddresses=["not-an-ip"]).spec
    with pytest.raises(KeystoreError, match="error generating temporary certificate"):
        temporary_certificate(spec, key("p256", 23), NOW)


# --- keystore_outputs --------------------------------------------------------------------------


def keystores(**wire: Any) -> CertificateKeystores | None:
    return make_certificate(keystores=wire).spec.keystores


def test_keystore_outputs_write_truststores_only_with_a_ca():
    key_pem, cert_pem, ca_pem, _ = bundle()
    spec = keystores(pkcs12={"create": True, "password": PW}, jks={"create": True, "password": PW})
    common = {"key_pem": key_pem, "cert_pem": cert_pem, "pkcs12_password": b"pw", "now": NOW}
    with_ca = keystore_outputs(spec, ca_pem=ca_pem, jks_password=b"pw", **common)
    assert sorted(with_ca) == ["keystore.jks", "keystore.p12", "truststore.jks", "truststore.p12"]
    without_ca = keystore_outputs(spec, ca_pem=b"", jks_password=b"pw", **common)
    assert sorted(without_ca) == ["keystore.jks", "keystore.p12"]


def test_keystore_outputs_skip_stores_not_created():
    key_pem, cert_pem, ca_pem, _ = bundle()
    spec = keystores(pkcs12={"create": False, "password": PW})
    assert (
        keystore_outputs(
            spec,
            key_pem=key_pem,
            cert_pem=cert_pem,
            ca_pem=ca_pem,
            pkcs12_password=None,
            jks_password=None,
            now=NOW,
        )
        == {}
    )
    assert (
        keystore_outputs(
            None,
            key_pem=key_pem,
            cert_pem=cert_pem,
            ca_pem=ca_pem,
            pkcs12_password=None,
            jks_password=None,
            now=NOW,
        )
        == {}
    )


def test_keystore_outputs_need_a_password():
    key_pem, cert_pem, ca_pem, _ = bundle()
    spec = keystores(jks={"create": True, "password": PW})
    with pytest.raises(
        KeystoreError, match=r"^either passwordSecretRef or password must be set for JKS keystore$"
    ):
        keystore_outputs(
            spec,
            key_pem=key_pem,
            cert_pem=cert_pem,
            ca_pem=ca_pem,
            pkcs12_password=None,
            jks_password=b"",
            now=NOW,
        )


def test_keystore_outputs_name_the_store_that_failed():
    _, cert_pem, ca_pem, _ = bundle()
    spec = keystores(pkcs12={"create": True, "password": PW})
    with pytest.raises(
        KeystoreError, match=r"^error encoding PKCS12 bundle: error decoding private"
    ):
        keystore_outputs(
            spec,
            key_pem=b"junk",
            cert_pem=cert_pem,
            ca_pem=ca_pem,
            pkcs12_password=b"pw",
            jks_password=None,
            now=NOW,
        )
