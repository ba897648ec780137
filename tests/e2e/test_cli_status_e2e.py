"""A user's debugging session with the installed ``certsmith`` binary, kubectl and ``serve``.

``certsmith serve`` runs without the built-in approver and the CA Secret is missing: ``check api``
says the API is ready, ``status certificate`` first says the request waits for approval, after
``certsmith approve`` that the Issuer lacks its CA Secret (ErrGetKeyPair), and once ``kubectl
create secret tls`` adds it, ``wait certificate`` sees the Certificate Ready, ``status`` says it
is up to date and ``inspect secret`` checks the issued key pair.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.builders import private_key_pem
from tests.e2e.procs import CERTSMITH
from tests.pkitools import make_root, pem
from tests.servertools import ServeProcess, serve_subprocess, wait_until

pytestmark = pytest.mark.e2e

MANIFESTS = """\
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: ca, namespace: ns}
spec: {ca: {secretName: ca-key-pair}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: web, namespace: ns}
spec:
  secretName: web-tls
  dnsNames: [web.example.com]
  issuerRef: {name: ca}
"""


def certsmith(serve: ServeProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(serve.kubeconfig), "HOME": str(serve.cache_dir)}
    return subprocess.run(
        [str(CERTSMITH), *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def last_status_line(serve: ServeProcess) -> str:
    result = certsmith(serve, "status", "certificate", "web", "-n", "ns")
    assert result.returncode == 0, result.stderr
    return result.stdout.rstrip("\n").splitlines()[-1]


def test_debugging_a_certificate_from_waiting_for_approval_to_up_to_date(tmp_path: Path) -> None:
    args = ["--controllers=*,-certificaterequests-approver"]
    with serve_subprocess(tmp_path / "data", extra_args=args) as serve:
        ready = certsmith(serve, "check", "api", "--wait", "30s", "--interval", "500ms")
        assert ready.returncode == 0, ready.stderr
        assert ready.stdout == "The cert-manager API is ready\n"

        serve.kubectl("create", "namespace", "ns")
        serve.kubectl("apply", "-f", "-", input_text=MANIFESTS)
        wait_until(lambda: "waiting for approval" in last_status_line(serve), timeout=30)
        assert last_status_line(serve).startswith(
            "Root cause: CertificateRequest ns/web-1 is waiting for approval"
        )

        approved = certsmith(serve, "approve", "web-1", "-n", "ns")
        assert approved.returncode == 0, approved.stderr
        wait_until(lambda: "(ErrGetKeyPair)" in last_status_line(serve), timeout=30)
        assert last_status_line(serve).startswith("Root cause: Issuer ns/ca is not ready")

        root, root_key = make_root("e2e root")
        (tmp_path / "ca.crt").write_bytes(pem(root))
        (tmp_path / "ca.key").write_bytes(private_key_pem(root_key))
        serve.kubectl(
            "create", "secret", "tls", "ca-key-pair", "-n", "ns",
            f"--cert={tmp_path / 'ca.crt'}", f"--key={tmp_path / 'ca.key'}",
        )  # fmt: skip
        waited = certsmith(serve, "wait", "certificate", "web", "-n", "ns", "--timeout", "60s")
        assert waited.returncode == 0, waited.stderr
        assert waited.stdout.splitlines()[-2:] == [
            "1/1 Certificates ready",
            "All 1 Certificates are Ready",
        ]
        assert last_status_line(serve).startswith("Certificate is up to date; next renewal at")

        inspected = certsmith(serve, "inspect", "secret", "web-tls", "-n", "ns")
        assert inspected.returncode == 0, inspected.stderr
        assert "Key matches tls.crt    yes" in inspected.stdout
        assert "ca.crt signed the last certificate of tls.crt" in inspected.stdout
        assert "PRIVATE KEY" not in inspected.stdout
