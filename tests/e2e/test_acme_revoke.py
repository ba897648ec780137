"""``certsmith revoke certificate``: real revocations at pebble, and the refusals users meet.

The revocations use a certificate that ``certsmith serve`` obtained from pebble by HTTP-01
(the set-up of ``test_acme_http01.py``, from :mod:`tests.e2e.acmetools`); pebble's management
API (``/cert-status-by-serial/<hex serial>``) is the independent witness that the certificate
is revoked and with which reason. The refusals need no ACME server: a ``serve`` without
controllers holds hand-made objects.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.e2e.acmetools import (
    NAMESPACE,
    acme_issuer,
    certificate,
    condition,
    secret_data,
    serve_for_pebble,
    wait_ready,
)
from tests.e2e.procs import Serve
from tests.peers.pebble import Pebble, running_pebble
from tests.servertools import wait_until

pytestmark = pytest.mark.e2e


def pebble_status(pebble: Pebble, chain_pem: bytes) -> dict[str, Any]:
    """What pebble's management API says about the chain's leaf (Status, Reason, ...)."""
    leaf = x509.load_pem_x509_certificates(chain_pem)[0]
    response = httpx.get(
        f"{pebble.management_url}/cert-status-by-serial/{leaf.serial_number:x}",
        verify=pebble.ssl_context(),
        timeout=10,
    )
    response.raise_for_status()
    status: dict[str, Any] = response.json()
    return status


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Pebble, Serve]]:
    """pebble and a serve that obtained Certificate ``web`` from it (Issuer ``le``)."""
    root = tmp_path_factory.mktemp("revoke")
    with (
        running_pebble(root / "pebble") as pebble,
        serve_for_pebble(root / "certsmith", pebble) as serve,
    ):
        serve.apply(acme_issuer("le", pebble))
        wait_ready(serve, "issuer", "le")
        serve.apply(certificate("web", "le", ["web.example.test"]))
        wait_ready(serve, "certificate", "web", timeout=120)
        yield pebble, serve


def test_revoke_revokes_the_secrets_certificate_at_the_acme_server_with_the_reason(
    issued: tuple[Pebble, Serve],
) -> None:
    pebble, serve = issued
    chain = secret_data(serve, "web-tls", "tls.crt")
    assert pebble_status(pebble, chain)["Status"] == "Valid"

    result = serve.certsmith("revoke", "certificate", "web", "--reason", "keyCompromise")

    assert result.returncode == 0, result.stderr
    serial = f"{x509.load_pem_x509_certificates(chain)[0].serial_number:x}"
    assert result.stdout.startswith(f"Revoked certificate {serial} of Certificate default/web")
    status = pebble_status(pebble, chain)
    assert status["Status"] == "Revoked"
    assert status["Reason"] == 1


def test_revoking_again_says_the_certificate_is_already_revoked(
    issued: tuple[Pebble, Serve],
) -> None:
    pebble, serve = issued
    chain = secret_data(serve, "web-tls", "tls.crt")
    first = serve.certsmith("revoke", "certificate", "web")
    assert first.returncode in (0, 1), first.stderr  # the test above may have revoked it

    again = serve.certsmith("revoke", "certificate", "web")

    assert again.returncode == 1
    assert "is already revoked at " in again.stderr, again.stderr
    assert "Traceback" not in again.stderr
    assert pebble_status(pebble, chain)["Status"] == "Revoked"


def test_reissue_after_revoking_gets_a_new_valid_certificate(
    issued: tuple[Pebble, Serve],
) -> None:
    pebble, serve = issued
    before = serve.get("certificate", "web", NAMESPACE)["status"]["revision"]
    old_chain = secret_data(serve, "web-tls", "tls.crt")

    result = serve.certsmith("revoke", "certificate", "web", "--reissue", "--reason", "superseded")

    assert result.returncode == 0, result.stderr
    assert "Manually triggered issuance of Certificate default/web" in result.stdout

    def reissued() -> bool:
        cert = serve.get("certificate", "web", NAMESPACE)
        return bool(
            cert["status"].get("revision") == before + 1 and condition(cert).get("status") == "True"
        )

    wait_until(reissued, timeout=120)
    new_chain = secret_data(serve, "web-tls", "tls.crt")
    assert new_chain != old_chain
    assert pebble_status(pebble, old_chain)["Status"] == "Revoked"
    assert pebble_status(pebble, new_chain)["Status"] == "Valid"


# --- refusals ---------------------------------------------------------------------------------


def _self_signed_pem(name: str) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


CORRUPT_KEY = (
    b"-----BEGIN RSA PRIVATE KEY-----\nc2VjcmV0LWJ1dC1icm9rZW4=\n-----END RSA PRIVATE KEY-----\n"
)


def _objects() -> list[dict[str, Any]]:
    acme = {
        "server": "https://127.0.0.1:9/dir",
        "privateKeySecretRef": {"name": "acct"},
        "solvers": [{"http01": {"ingress": {}}}],
    }
    tls = {"tls.crt": _b64(_self_signed_pem("x.example.test")), "tls.key": ""}

    def cert(name: str, issuer_ref: dict[str, str], secret: str) -> dict[str, Any]:
        return {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"secretName": secret, "dnsNames": ["x.example.test"], "issuerRef": issuer_ref},
        }

    def secret(name: str, data: dict[str, str], **annotations: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": NAMESPACE, "annotations": annotations},
            "data": data,
        }

    return [
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Issuer",
            "metadata": {"name": "selfsigned", "namespace": NAMESPACE},
            "spec": {"selfSigned": {}},
        },
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Issuer",
            "metadata": {"name": "acme", "namespace": NAMESPACE},
            "spec": {"acme": acme},
        },
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "ClusterIssuer",
            "metadata": {"name": "cluster-acme"},
            "spec": {"acme": acme},
        },
        secret("acct", {"tls.key": _b64(CORRUPT_KEY)}),
        secret("issued-tls", tls),
        secret("old-issuer-tls", tls, **{"cert-manager.io/issuer-name": "old"}),
        cert("from-ca", {"name": "selfsigned"}, "issued-tls"),
        cert("never-issued", {"name": "acme"}, "absent-tls"),
        cert("bad-account-key", {"name": "acme"}, "issued-tls"),
        cert("from-cluster", {"name": "cluster-acme", "kind": "ClusterIssuer"}, "issued-tls"),
        cert("external", {"name": "x", "kind": "Thing", "group": "example.com"}, "issued-tls"),
        cert("no-issuer", {"name": "missing"}, "issued-tls"),
        cert("issuer-changed", {"name": "acme"}, "old-issuer-tls"),
    ]


@pytest.fixture(scope="module")
def bare_serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    """A serve without controllers holding the hand-made objects of :func:`_objects`."""
    root = tmp_path_factory.mktemp("revoke-refusals")
    serve = Serve(root / "data", root, ["--controllers=none"])
    serve.start()
    try:
        serve.kubectl("create", "namespace", "cert-manager")
        for obj in _objects():
            serve.apply(obj)
        yield serve
    finally:
        serve.stop()


@pytest.mark.parametrize(
    ("name", "extra", "expected"),
    [
        ("absent", [], "Certificate default/absent not found"),
        (
            "from-ca",
            [],
            "Issuer default/selfsigned is not an ACME issuer (it is selfSigned): certsmith "
            "revoke only revokes certificates from ACME issuers",
        ),
        (
            "external",
            [],
            "is issued by Thing.example.com 'x', an external issuer",
        ),
        (
            "no-issuer",
            [],
            "Issuer default/missing (the issuerRef of Certificate default/no-issuer)",
        ),
        (
            "never-issued",
            [],
            "Secret default/absent-tls of Certificate default/never-issued not found: nothing "
            "to revoke",
        ),
        (
            "issuer-changed",
            [],
            "the certificate in Secret default/old-issuer-tls was issued by "
            "Issuer.cert-manager.io/old, not by the Certificate's issuerRef "
            "Issuer.cert-manager.io/acme",
        ),
        (
            "bad-account-key",
            [],
            'the ACME account key in Secret default/acct ("tls.key") is unusable',
        ),
        (
            "from-cluster",
            [],
            "the ACME account key Secret cert-manager/acct of ClusterIssuer cluster-acme not "
            "found (ClusterIssuer keys live in the cluster resource namespace; see "
            "--cluster-resource-namespace)",
        ),
        (
            "from-cluster",
            ["--cluster-resource-namespace", NAMESPACE],
            'the ACME account key in Secret default/acct ("tls.key") is unusable',
        ),
    ],
)
def test_revoke_refuses_with_a_clear_message_and_no_key_material(
    bare_serve: Serve, name: str, extra: list[str], expected: str
) -> None:
    result = bare_serve.certsmith("revoke", "certificate", name, *extra)

    assert result.returncode == 1
    assert result.stderr.startswith("certsmith revoke: "), result.stderr
    assert expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert "c2VjcmV0LWJ1dC1icm9rZW4" not in result.stderr + result.stdout
    assert "-----BEGIN" not in result.stderr + result.stdout
