"""Unmodified kubectl as a namespace-scoped user: RBAC denials and ``kubectl auth can-i``."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from certsmith.cli.main import main
from tests.servertools import ServeProcess, kubectl_path, serve_subprocess

pytestmark = pytest.mark.e2e

POLICY = """
apiVersion: v1
kind: Namespace
metadata: {name: team-a}
---
apiVersion: v1
kind: Namespace
metadata: {name: team-b}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: cert-editor, namespace: team-a}
rules:
- apiGroups: [cert-manager.io]
  resources: [certificates]
  verbs: [get, list, watch, create, update, patch, delete]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: alice, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: cert-editor}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: alice}
"""


@pytest.fixture(scope="module")
def alice(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """kubectl as ``alice``, who may edit certificates in team-a only."""
    if not kubectl_path().exists():
        pytest.skip("pinned kubectl is not installed")
    with serve_subprocess(tmp_path_factory.mktemp("serve") / "data") as admin:
        admin.kubectl("apply", "-f", "-", input_text=POLICY)
        config = admin.data_dir.parent / "alice.kubeconfig"
        args = ["kubeconfig", "--data-dir", str(admin.data_dir), "--user", "alice"]
        assert main([*args, "--out", str(config)]) == 0
        yield dataclasses.replace(admin, kubeconfig=config)


def test_forbidden_outside_the_users_namespace(alice: ServeProcess) -> None:
    assert "No resources found in team-a namespace." in (
        alice.kubectl("get", "certificates", "-n", "team-a").stderr
    )
    denied = alice.kubectl("get", "certificates", "-n", "team-b", check=False)
    assert denied.returncode != 0
    assert (
        'Error from server (Forbidden): certificates.cert-manager.io is forbidden: User "alice" '
        'cannot list resource "certificates" in API group "cert-manager.io" in the namespace '
        '"team-b"' in denied.stderr
    )
    cluster = alice.kubectl("get", "clusterissuers", check=False)
    assert cluster.returncode != 0
    assert "at the cluster scope" in cluster.stderr


def test_auth_can_i(alice: ServeProcess) -> None:
    yes = alice.kubectl("auth", "can-i", "create", "certificates", "-n", "team-a")
    assert yes.stdout.strip() == "yes"
    no = alice.kubectl("auth", "can-i", "list", "certificates", "-n", "team-b", check=False)
    assert (no.returncode, no.stdout.strip()) == (1, "no")
    no = alice.kubectl("auth", "can-i", "delete", "namespaces", check=False)
    assert (no.returncode, no.stdout.strip()) == (1, "no")
