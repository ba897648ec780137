"""The target Secret's apply configuration (SPEC §5.5): outputs, keystores, temporary form."""

from __future__ import annotations

from certsmith.api.meta import IssuerReference, decode_bytes
from certsmith.controllers.certificates.issuing import secret_body
from tests.builders import make_certificate

KEY = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
CHAIN = b"-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n"


def data_of(body: dict[str, object]) -> dict[str, bytes]:
    raw = body["data"]
    assert isinstance(raw, dict)
    return {k: decode_bytes(v) for k, v in raw.items()}


def test_outputs_keystores_and_ca_are_added_to_the_pair() -> None:
    cert = make_certificate(
        "web",
        additionalOutputFormats=[{"type": "DER"}, {"type": "CombinedPEM"}],
        secretTemplate={"labels": {"team": "a"}},
    )
    body = secret_body(
        cert,
        key_pem=KEY,
        chain_pem=CHAIN,
        ca_pem=b"ca",
        leaf=None,
        issuer_ref=IssuerReference(name="ca"),
        secret_type="kubernetes.io/tls",
        keystores={"keystore.p12": b"p12"},
    )
    data = data_of(body)
    assert data["tls.key"] == KEY
    assert data["ca.crt"] == b"ca"
    assert data["keystore.p12"] == b"p12"
    assert data["key.der"] == bytes.fromhex("000000")
    assert data["tls-combined.pem"] == KEY + b"\n" + CHAIN
    meta = body["metadata"]
    assert isinstance(meta, dict)
    assert meta["labels"] == {"team": "a", "controller.cert-manager.io/fao": "true"}
    assert meta["annotations"]["cert-manager.io/issuer-name"] == "ca"


def test_a_temporary_secret_carries_only_the_certificate_name_annotation() -> None:
    cert = make_certificate("web", secretTemplate={"annotations": {"x": "1"}})
    body = secret_body(
        cert,
        key_pem=KEY,
        chain_pem=CHAIN,
        ca_pem=None,
        leaf=None,
        issuer_ref=None,
        secret_type="Opaque",
    )
    meta = body["metadata"]
    assert isinstance(meta, dict)
    assert meta["annotations"] == {"x": "1", "cert-manager.io/certificate-name": "web"}
    assert set(data_of(body)) == {"tls.key", "tls.crt"}
    assert body["type"] == "Opaque"
