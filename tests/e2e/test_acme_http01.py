"""ACME with HTTP-01 end to end: certsmith serve, kubectl and a real pebble.

certsmith answers the challenges itself (``--acme-http01-listen``) on the port pebble's
validation authority connects to; pebble's DNS (challtestsrv) resolves every name to 127.0.0.1,
and the self-check resolves through it too.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tests.e2e.acmetools import (
    NAMESPACE,
    acme_issuer,
    certificate,
    condition,
    openssl_verify,
    secret_data,
    serve_for_pebble,
    wait_ready,
)
from tests.peers.pebble import pebble_available, running_pebble
from tests.servertools import wait_until

pytestmark = pytest.mark.skipif(not pebble_available(), reason="Debian's pebble is not installed")


def test_http01_certificate_is_issued_by_pebble_with_a_verifiable_chain_and_no_ca(
    tmp_path: Path,
) -> None:
    with (
        running_pebble(tmp_path / "pebble") as pebble,
        serve_for_pebble(tmp_path / "certsmith", pebble) as serve,
    ):
        serve.apply(acme_issuer("le", pebble))
        issuer = wait_ready(serve, "issuer", "le")
        assert condition(issuer)["reason"] == "ACMEAccountRegistered"
        acme_status = issuer["status"]["acme"]
        assert acme_status["uri"].startswith(pebble.directory_url.rsplit("/", 1)[0])
        assert acme_status["lastRegisteredEmail"] == "ops@example.test"
        account_secret = serve.get("secret", "le-account", NAMESPACE)
        assert account_secret["metadata"]["labels"] == {
            "app.kubernetes.io/managed-by": "cert-manager"
        }

        serve.apply(certificate("web", "le", ["web.example.test"]))
        wait_ready(serve, "certificate", "web", timeout=120)

        chain = secret_data(serve, "web-tls", "tls.crt")
        output = openssl_verify(pebble.root_pem(), chain, tmp_path)
        assert ": OK" in output, output
        request = serve.get("certificaterequest", "web-1", NAMESPACE)
        assert "ca" not in request["status"]
        assert condition(request)["reason"] == "Issued"
        orders = serve.list("order", NAMESPACE)
        assert len(orders) == 1
        order = orders[0]
        assert order["status"]["state"] == "valid"
        assert order["metadata"]["ownerReferences"][0]["name"] == "web-1"
        assert base64.b64decode(order["status"]["certificate"]) == chain
        wait_until(lambda: serve.list("challenge", NAMESPACE) == [], timeout=30)
