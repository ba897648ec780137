"""Keystores end to end: a Certificate asking for JKS and PKCS#12 through ``certsmith serve``.

The Certificate is applied with kubectl; the Secret's ``keystore.jks``/``truststore.jks`` and
``keystore.p12``/``truststore.p12`` are read back by Java's ``keytool`` with the password from
the ``passwordSecretRef``, and ``tls.crt`` passes ``openssl verify`` against ``ca.crt``
(SPEC §5.1 keystores, §5.5 Secret layout; issue 5 "Done when").
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.certenv import CaNamespace, openssl
from tests.e2e.procs import deployed
from tests.servertools import kubectl_path

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("keytool") is None, reason="needs keytool (install.sh)"),
]

PASSWORD = "changeit-e2e"


def keytool_list(path: Path, storetype: str, *extra: str) -> str:
    result = subprocess.run(
        ["keytool", "-list", "-rfc", "-storetype", storetype, "-keystore", str(path),
         "-storepass", PASSWORD, *extra],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def entries(path: Path, storetype: str) -> dict[str, tuple[str, list[str]]]:
    """``keytool -list -rfc``: alias -> (entry type, certificates as base64 bodies)."""
    listing = keytool_list(path, storetype)
    found: dict[str, tuple[str, list[str]]] = {}
    for section in listing.split("Alias name: ")[1:]:
        alias = section.splitlines()[0].strip()
        kind = section.split("Entry type: ", 1)[1].splitlines()[0].strip()
        found[alias] = (kind, pem_blocks(section))
    return found


def pem_blocks(text: str) -> list[str]:
    """The PEM certificates in ``text``, normalised to their base64 body."""
    blocks = text.split("-----BEGIN CERTIFICATE-----")[1:]
    return ["".join(b.split("-----END CERTIFICATE-----")[0].split()) for b in blocks]


def test_jks_and_pkcs12_keystores_are_read_back_by_keytool(tmp_path: Path) -> None:
    if not kubectl_path().exists():
        pytest.skip("pinned kubectl is not installed")
    with deployed("serve", tmp_path) as deployment:
        ns = CaNamespace(deployment.serve, "keystores", tmp_path)
        ns.kubectl("create", "secret", "generic", "store-pass",
                   f"--from-literal=password={PASSWORD}")  # fmt: skip
        ref = {"name": "store-pass", "key": "password"}
        ns.certificate(
            "web",
            keystores={
                "jks": {"create": True, "passwordSecretRef": ref},
                "pkcs12": {"create": True, "profile": "Modern2023", "passwordSecretRef": ref},
            },
        )
        ns.wait_revision("web", 1)
        data = ns.secret_data("web-tls")
        assert set(data) == {
            "tls.crt", "tls.key", "ca.crt",
            "keystore.jks", "truststore.jks", "keystore.p12", "truststore.p12",
        }  # fmt: skip
        ns.verify("web-tls")
        leaf = pem_blocks(data["tls.crt"].decode())[0]
        ca = pem_blocks(data["ca.crt"].decode())[0]
        for name in data:
            (tmp_path / name).write_bytes(data[name])

        jks = entries(tmp_path / "keystore.jks", "JKS")
        assert jks.keys() == {"certificate", "ca"}  # the alias (default) and the CA
        assert jks["certificate"][0] == "PrivateKeyEntry"
        assert jks["certificate"][1][0] == leaf
        assert jks["ca"] == ("trustedCertEntry", [ca])
        [(kind, chain)] = entries(tmp_path / "keystore.p12", "PKCS12").values()
        assert kind == "PrivateKeyEntry"
        assert chain[0] == leaf
        for store, storetype in (("truststore.jks", "JKS"), ("truststore.p12", "PKCS12")):
            assert list(entries(tmp_path / store, storetype).values()) == [
                ("trustedCertEntry", [ca])
            ]

        # The key in keystore.p12 is tls.key (openssl reads the Modern2023 profile).
        exported = openssl("pkcs12", "-in", tmp_path / "keystore.p12", "-nocerts", "-nodes",
                           "-passin", f"pass:{PASSWORD}").stdout  # fmt: skip
        (tmp_path / "p12.key").write_text(exported)
        assert (
            openssl("pkey", "-pubout", "-in", tmp_path / "p12.key").stdout
            == openssl("pkey", "-pubout", "-in", tmp_path / "tls.key").stdout
        )
        assert data["keystore.jks"][:4] == b"\xfe\xed\xfe\xed"  # JKS, not a PKCS#12 renamed
