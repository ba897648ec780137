"""``certsmith controller`` configured as in a pod: no ``--kubeconfig``, only the service account.

A pod finds its API server in ``KUBERNETES_SERVICE_HOST``/``_PORT`` and its credentials in
``/var/run/secrets/kubernetes.io/serviceaccount`` (``token``, ``ca.crt``, ``namespace``). Here
the server is ``certsmith serve --controllers=none`` with ``deploy/overlays/cluster`` installed
(:class:`~tests.e2e.procs.ManifestInstall`: the ServiceAccount's token bound only by the
rendered RBAC), and the directory is a temporary one named by
``CERTSMITH_SERVICE_ACCOUNT_DIR`` (the test-only override of that path, see
``certsmith.client.config``). The controller runs with the rendered Deployment's args and
issues a Certificate from a CA Issuer, checked with openssl.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from certsmith.client.config import SERVICE_ACCOUNT_DIR_ENV
from tests.e2e.certenv import CaNamespace, openssl
from tests.e2e.manifestrbac import TOKEN, rbac_denials
from tests.e2e.procs import (
    LEASE_WAIT,
    ManifestInstall,
    Proc,
    Serve,
    running,
    wait_controllers_started,
)
from tests.servertools import kubectl_path

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def _tools() -> None:
    if not kubectl_path().exists():
        pytest.skip("pinned kubectl is not installed")


def mount_service_account(directory: Path, serve: Serve, namespace: str) -> Path:
    """What the kubelet mounts for the ServiceAccount: its token, the cluster CA, its namespace.

    The CA is the one the server's admin kubeconfig trusts (the server's own CA).
    """
    directory.mkdir(mode=0o700)
    config = yaml.safe_load(serve.kubeconfig.read_text())
    ca_data = config["clusters"][0]["cluster"]["certificate-authority-data"]
    (directory / "ca.crt").write_bytes(base64.b64decode(ca_data))
    (directory / "token").write_text(TOKEN + "\n")
    (directory / "namespace").write_text(namespace)
    return directory


def test_in_cluster_controller_issues_a_ca_certificate_as_the_service_account(
    tmp_path: Path,
) -> None:
    serve = Serve(tmp_path / "data", tmp_path, ["--controllers=none"])
    install = ManifestInstall(serve, tmp_path)
    mounted = tmp_path / "serviceaccount"
    env = {
        "KUBERNETES_SERVICE_HOST": "127.0.0.1",
        "KUBERNETES_SERVICE_PORT": str(serve.port),
        SERVICE_ACCOUNT_DIR_ENV: str(mounted),
    }
    args = [
        "controller",
        *install.controller_args(),
        "--metrics-listen-address=0",
        "--health-probe-bind-address=0",
    ]
    assert not any(a.startswith("--kubeconfig") for a in args)
    ctrl = Proc("controller", args, tmp_path, env=env)
    with running(serve, ctrl):
        serve.start()
        install.apply()
        mount_service_account(mounted, serve, install.namespace)
        ctrl.start()
        wait_controllers_started(ctrl, timeout=LEASE_WAIT)

        ns = CaNamespace(serve, "apps", tmp_path)  # waits until its Issuer is Ready
        ns.certificate("sub-ca", isCA=True, commonName="apps sub CA")
        ns.wait_revision("sub-ca", 1)
        ns.verify("sub-ca-tls")
        issued = tmp_path / "sub-ca.crt"
        issued.write_bytes(ns.secret_data("sub-ca-tls")["tls.crt"])
        verified = openssl("verify", "-CAfile", ns.ca_cert, issued).stdout
        assert verified.strip().endswith(": OK"), verified
        leaf = x509.load_pem_x509_certificate(issued.read_bytes())
        assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        assert leaf.subject.rfc4514_string() == "CN=apps sub CA"

        # The Deployment's leader election flags: the Lease is in the install namespace.
        lease = serve.get("lease", "certsmith-controller", install.namespace)
        assert lease["spec"]["holderIdentity"]
        assert ctrl.stop() == 0
    log = ctrl.log()
    assert rbac_denials(log) == []
    assert "started controllers" in log
