"""``certsmith status certificate`` on real ACME failures: certsmith serve with its ACME controllers
and a real pebble (the same set-ups as ``test_acme_http01``), asserting the root-cause line.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.acmetools import (
    NAMESPACE,
    acme_issuer,
    certificate,
    serve_for_pebble,
    static_http_server,
    wait_ready,
)
from tests.e2e.procs import CERTSMITH, Serve
from tests.peers.pebble import running_pebble
from tests.servertools import free_port, wait_until

pytestmark = pytest.mark.e2e


def last_status_line(serve: Serve, seen: list[str]) -> str:
    env = {**os.environ, "KUBECONFIG": str(serve.kubeconfig)}
    result = subprocess.run(
        [str(CERTSMITH), "status", "certificate", "web", "-n", NAMESPACE],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    seen[:] = [result.stdout]
    return result.stdout.rstrip("\n").splitlines()[-1]


def settles(serve: Serve, *texts: str, timeout: float) -> str:
    seen: list[str] = []

    def probe() -> bool:
        last = last_status_line(serve, seen)
        return all(text in last for text in texts)

    try:
        wait_until(probe, timeout=timeout, interval=1)
    except AssertionError as exc:
        raise AssertionError(f"last status output:\n{seen[0] if seen else ''}") from exc
    return seen[0].rstrip("\n").splitlines()[-1]


def test_wrong_http01_answer_is_named_from_the_challenges_self_check(tmp_path: Path) -> None:
    wrong = free_port()
    with (
        running_pebble(tmp_path / "pebble") as pebble,
        static_http_server(wrong, b"not-the-key"),
        serve_for_pebble(
            tmp_path / "certsmith",
            pebble,
            [f"--acme-http01-self-check-port={wrong}", "--acme-http01-listen=0"],
        ) as serve,
    ):
        serve.apply(acme_issuer("le", pebble))
        wait_ready(serve, "issuer", "le")
        serve.apply(certificate("web", "le", ["web.example.test"]))
        last = settles(serve, "did not get expected response", timeout=90)
    assert last.startswith("Root cause: HTTP-01 challenge for 'web.example.test' (")
    assert ") is pending: Waiting for HTTP-01 challenge propagation:" in last
    assert 'got "not-the-key"' in last
    assert last.endswith(
        "Next: check that the challenge is reachable (DNS record / HTTP path) from the ACME server"
    )


def test_invalid_order_is_named_with_the_servers_reason(tmp_path: Path) -> None:
    with (
        running_pebble(tmp_path / "pebble") as pebble,
        serve_for_pebble(tmp_path / "certsmith", pebble, ["--acme-http01-listen=0"]) as serve,
    ):
        # No responder and no self-check: pebble's validation finds nothing to connect to.
        solvers = [{"http01": {"ingress": {}}, "waitInsteadOfSelfCheck": "1s"}]
        serve.apply(acme_issuer("le", pebble, solvers=solvers))
        wait_ready(serve, "issuer", "le")
        serve.apply(certificate("web", "le", ["web.example.test"]))
        # The Certificate records the failure (and the retry) after the request fails.
        last = settles(serve, " is invalid: ", "next attempt at", timeout=120)
        order = serve.list("order", NAMESPACE)[0]
    assert last.startswith(f"Root cause: ACME Order {NAMESPACE}/{order['metadata']['name']}")
    assert order["status"]["reason"] in last
    assert "next attempt at" in last
    assert "a new Order is created for the next attempt" in last
