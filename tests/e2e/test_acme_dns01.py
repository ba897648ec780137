"""ACME with DNS-01 end to end: certsmith serve, kubectl, pebble and bind9 (RFC 2136 + TSIG).

pebble resolves through bind9, so it sees exactly the TXT records certsmith wrote there. The
self-check asks bind9 directly (``--dns01-recursive-nameservers`` with ``-only``: the zone's NS
records say port 53, where nothing of this test listens) and does not sit out cert-manager's
60 s (``--dns01-check-settle=0s``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
from tests.peers.bind9 import Bind9
from tests.peers.pebble import running_pebble
from tests.servertools import wait_until


def _dns01_args(bind9: Bind9) -> list[str]:
    return [
        f"--dns01-recursive-nameservers={bind9.address}",
        "--dns01-recursive-nameservers-only",
        "--dns01-check-settle=0s",
    ]


def _tsig_secret(bind9: Bind9, algorithm: str = "HMACSHA256") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "tsig", "namespace": NAMESPACE},
        "stringData": {"secret": bind9.keys[algorithm].secret},
    }


def _rfc2136(bind9: Bind9, *, key_name: str | None = None) -> list[dict[str, Any]]:
    key = bind9.keys["HMACSHA256"]
    return [
        {
            "dns01": {
                "rfc2136": {
                    "nameserver": bind9.address,
                    "tsigKeyName": key_name or key.name,
                    "tsigAlgorithm": "HMACSHA256",
                    "tsigSecretSecretRef": {"name": "tsig", "key": "secret"},
                }
            }
        }
    ]


def test_dns01_rfc2136_issues_a_name_and_a_wildcard_and_cleans_up_the_records(
    tmp_path: Path, bind9: Bind9
) -> None:
    label = bind9.unique("dns")
    name, wildcard = f"{label}.example.test", f"*.{label}.example.test"
    with (
        running_pebble(tmp_path / "pebble", dns_server=bind9.address) as pebble,
        serve_for_pebble(tmp_path / "certsmith", pebble, _dns01_args(bind9)) as serve,
    ):
        serve.apply(_tsig_secret(bind9))
        serve.apply(acme_issuer("le", pebble, solvers=_rfc2136(bind9)))
        wait_ready(serve, "issuer", "le")
        serve.apply(certificate("web", "le", [name, wildcard]))
        wait_ready(serve, "certificate", "web", timeout=150)

        chain = secret_data(serve, "web-tls", "tls.crt")
        assert ": OK" in openssl_verify(pebble.root_pem(), chain, tmp_path)
        order = serve.list("order", NAMESPACE)[0]
        kinds = {
            (a["identifier"], bool(a.get("wildcard"))) for a in order["status"]["authorizations"]
        }
        assert kinds == {(name, False), (name, True)}
        wait_until(lambda: serve.list("challenge", NAMESPACE) == [], timeout=30)
        # Both challenges used the same record name; cleanup removed both values.
        wait_until(lambda: bind9.txt(f"_acme-challenge.{name}.") == [], timeout=30)


def test_bind9_refusing_the_tsig_key_is_a_clear_error_on_the_challenge(
    tmp_path: Path, bind9: Bind9
) -> None:
    label = bind9.unique("tsig")
    name = f"{label}.example.test"
    with (
        running_pebble(tmp_path / "pebble", dns_server=bind9.address) as pebble,
        serve_for_pebble(tmp_path / "certsmith", pebble, _dns01_args(bind9)) as serve,
    ):
        serve.apply(_tsig_secret(bind9))
        solvers = _rfc2136(bind9, key_name="unknown-key")
        serve.apply(acme_issuer("le", pebble, solvers=solvers))
        wait_ready(serve, "issuer", "le")
        serve.apply(certificate("web", "le", [name]))

        found: dict[str, Any] = {}

        def reported() -> bool:
            challenges = serve.list("challenge", NAMESPACE)
            if not challenges:
                return False
            found.update(challenges[0])
            return bool((found.get("status") or {}).get("reason"))

        wait_until(reported, timeout=60)
        reason = found["status"]["reason"]
        assert 'the server refused TSIG key "unknown-key." (BADKEY)' in reason, reason
        assert reason.startswith('DNS update for zone "example.test." sent to '), reason
        assert found["status"].get("presented") is not True
        events = serve.kubectl(
            "get",
            "events",
            "-n",
            NAMESPACE,
            "--field-selector",
            "reason=PresentError",
            "-o",
            "jsonpath={.items[*].message}",
        ).stdout
        assert events.startswith("Error presenting challenge: "), events
        assert bind9.txt(f"_acme-challenge.{name}.") == []
        assert condition(serve.get("certificaterequest", "web-1", NAMESPACE))["reason"] == "Pending"
