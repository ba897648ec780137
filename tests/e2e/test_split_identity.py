"""The split deployment's controller identity is the install manifests' ServiceAccount, and
nothing more: what ``deploy/overlays/cluster`` does not grant, kube's 403 refuses.

Every split-mode e2e test runs ``certsmith controller`` as that identity
(:class:`~tests.e2e.procs.ManifestInstall`) and fails if the controller was refused anything.
These tests show the other side: the same identity (its token kubeconfig, used with kubectl)
is refused outside the rules after the controllers issued with it, and a rule left out is
caught rather than silently retried.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.certenv import CaNamespace
from tests.e2e.manifestrbac import forbidden_message
from tests.e2e.procs import INSTALL_NAMESPACE, Deployment, ManifestInstall, deployed
from tests.servertools import kubectl_path, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True, scope="module")
def _tools() -> None:
    if not kubectl_path().exists():
        pytest.skip("pinned kubectl is not installed")


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Deployment, CaNamespace]]:
    root = tmp_path_factory.mktemp("split-identity")
    with deployed("split", root) as deployment:
        ns = CaNamespace(deployment.serve, "apps", root)  # its Issuer Ready: the controller ran
        ns.certificate("web")
        ns.wait_revision("web", 1)
        yield deployment, ns


def install_of(deployment: Deployment) -> ManifestInstall:
    assert deployment.install is not None
    return deployment.install


def test_the_controller_identity_reads_what_the_manifests_grant(
    split: tuple[Deployment, CaNamespace],
) -> None:
    deployment, ns = split
    install = install_of(deployment)
    out = install.kubectl("get", "certificates", "-A", "-o", "json").stdout
    assert [c["metadata"]["name"] for c in json.loads(out)["items"]] == ["web"]
    lease = install.kubectl("get", "lease", "certsmith-controller", "-n", INSTALL_NAMESPACE)
    assert lease.returncode == 0
    assert ns.secret_data("web-tls")["tls.crt"]


@pytest.mark.parametrize(
    ("args", "refused"),
    [
        (("delete", "namespace", "apps"),
         'delete resource "namespaces" in API group "" in the namespace "apps"'),
        (("get", "configmaps", "-n", "kube-system"),
         'list resource "configmaps" in API group "" in the namespace "kube-system"'),
        (("get", "lease", "other", "-n", INSTALL_NAMESPACE),
         'get resource "leases" in API group "coordination.k8s.io" in the namespace '
         f'"{INSTALL_NAMESPACE}"'),
        (("delete", "clusterrolebinding", "certsmith-controller"),
         'delete resource "clusterrolebindings" in API group "rbac.authorization.k8s.io" at '
         "the cluster scope"),
        (("annotate", "certificate", "web", "-n", "apps", "example.com/by=hand"),
         'patch resource "certificates" in API group "cert-manager.io" in the namespace '
         '"apps"'),
    ],
    ids=["delete-namespace", "configmaps-kube-system", "other-lease", "delete-binding",
         "patch-certificate"],
)  # fmt: skip
def test_the_controller_identity_is_refused_outside_the_manifests_rules(
    split: tuple[Deployment, CaNamespace], args: tuple[str, ...], refused: str
) -> None:
    deployment, _ = split
    result = install_of(deployment).kubectl(*args, check=False)

    assert result.returncode == 1
    assert "Error from server (Forbidden)" in result.stderr
    assert forbidden_message(INSTALL_NAMESPACE, refused) in result.stderr


def test_a_rule_left_out_is_reported_as_a_refusal(tmp_path: Path) -> None:
    # --enable-gateway-api without docs/deploy.md's rules for it: the gateway-shim's informer
    # is refused, and the deployment sees the controller's log say so.
    deployment = Deployment("split", tmp_path, ["--enable-gateway-api"])
    assert deployment.controller is not None
    try:
        deployment.serve.start()
        install_of(deployment).apply()
        deployment.controller.start()
        wait_until(deployment.rbac_denials, timeout=30)
    finally:
        deployment.stop()

    gateways = 'resource "gateways" in API group "gateway.networking.k8s.io" at the cluster scope'
    assert forbidden_message(INSTALL_NAMESPACE, f"list {gateways}") in deployment.rbac_denials()[0]
