"""Imperative ``kubectl create <kind>`` against ``certsmith serve``, read back with ``get -o yaml``.

kubectl sends every built-in kind of these commands as a protobuf body with no JSON fallback
(K8S-API §1.2), so each one is a check that the server decodes that kind with Kubernetes'
field numbers and stores what kube-apiserver would.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization

from tests.pkitools import make_root, pem
from tests.servertools import ServeProcess, serve_subprocess

RBAC = "rbac.authorization.k8s.io"


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    with serve_subprocess(tmp_path_factory.mktemp("data")) as started:
        yield started


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    cert, key = make_root("kubectl-create.example")
    out = tmp_path_factory.mktemp("tls")
    (out / "tls.crt").write_bytes(pem(cert))
    (out / "tls.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return out / "tls.crt", out / "tls.key"


def subset(actual: Any, expected: Any) -> bool:
    """Whether every member of ``expected`` is in ``actual`` with the same value (recursively)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and subset(actual[k], v) for k, v in expected.items()
        )
    return bool(actual == expected)


def created_then_read(serve: ServeProcess, create: list[str], kind_name: str) -> Any:
    serve.kubectl("create", *create)
    return yaml.safe_load(serve.kubectl("get", kind_name, "-o", "yaml").stdout)


CASES = [
    pytest.param(
        ["clusterrole", "reader", "--verb=get,list", "--resource=secrets", "--resource-name=db"],
        "clusterrole/reader",
        {
            "apiVersion": f"{RBAC}/v1",
            "kind": "ClusterRole",
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["secrets"],
                    "resourceNames": ["db"],
                    "verbs": ["get", "list"],
                }
            ],
        },
        id="clusterrole",
    ),
    pytest.param(
        ["clusterrole", "prober", "--verb=get", "--non-resource-url=/healthz"],
        "clusterrole/prober",
        {"rules": [{"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]},
        id="clusterrole non-resource",
    ),
    pytest.param(
        ["clusterrole", "aggregated", "--aggregation-rule=example.com/aggregate-to-x=true"],
        "clusterrole/aggregated",
        {
            "aggregationRule": {
                "clusterRoleSelectors": [{"matchLabels": {"example.com/aggregate-to-x": "true"}}]
            }
        },
        id="clusterrole aggregation",
    ),
    pytest.param(
        [
            "clusterrolebinding",
            "reader-binding",
            "--clusterrole=reader",
            "--user=alice",
            "--group=devs",
            "--serviceaccount=team-a:robot",
        ],
        "clusterrolebinding/reader-binding",
        {
            "kind": "ClusterRoleBinding",
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "reader"},
            "subjects": [
                {"apiGroup": RBAC, "kind": "User", "name": "alice"},
                {"apiGroup": RBAC, "kind": "Group", "name": "devs"},
                {"kind": "ServiceAccount", "name": "robot", "namespace": "team-a"},
            ],
        },
        id="clusterrolebinding",
    ),
    pytest.param(
        ["role", "cert-editor", "--verb=get,update", "--resource=certificates.cert-manager.io"],
        "role/cert-editor",
        {
            "kind": "Role",
            "metadata": {"name": "cert-editor", "namespace": "default"},
            "rules": [
                {
                    "apiGroups": ["cert-manager.io"],
                    "resources": ["certificates"],
                    "verbs": ["get", "update"],
                }
            ],
        },
        id="role",
    ),
    pytest.param(
        ["rolebinding", "cert-editors", "--role=cert-editor", "--user=bob"],
        "rolebinding/cert-editors",
        {
            "kind": "RoleBinding",
            "metadata": {"namespace": "default"},
            "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": "cert-editor"},
            "subjects": [{"apiGroup": RBAC, "kind": "User", "name": "bob"}],
        },
        id="rolebinding",
    ),
    pytest.param(
        [
            "ingress",
            "web",
            "--class=nginx",
            "--rule=foo.example/api*=web:8080,tls=foo-tls",
            "--default-backend=fallback:http",
            "--annotation=example.com/owner=team-a",
        ],
        "ingress/web",
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"annotations": {"example.com/owner": "team-a"}},
            "spec": {
                "ingressClassName": "nginx",
                "defaultBackend": {"service": {"name": "fallback", "port": {"name": "http"}}},
                "rules": [
                    {
                        "host": "foo.example",
                        "http": {
                            "paths": [
                                {
                                    "path": "/api",
                                    "pathType": "Prefix",
                                    "backend": {
                                        "service": {"name": "web", "port": {"number": 8080}}
                                    },
                                }
                            ]
                        },
                    }
                ],
                "tls": [{"hosts": ["foo.example"], "secretName": "foo-tls"}],
            },
        },
        id="ingress",
    ),
    pytest.param(
        ["secret", "generic", "db", "--from-literal=user=admin", "--type=example.com/db"],
        "secret/db",
        {"type": "example.com/db", "data": {"user": "YWRtaW4="}},
        id="secret generic",
    ),
    pytest.param(
        [
            "secret",
            "docker-registry",
            "pull",
            "--docker-server=registry.example",
            "--docker-username=u",
            "--docker-password=p",
        ],
        "secret/pull",
        {"type": "kubernetes.io/dockerconfigjson"},
        id="secret docker-registry",
    ),
    pytest.param(
        ["configmap", "settings", "--from-literal=mode=fast", "--from-literal=level=3"],
        "configmap/settings",
        {"kind": "ConfigMap", "data": {"mode": "fast", "level": "3"}},
        id="configmap",
    ),
    pytest.param(
        ["namespace", "team-z"],
        "namespace/team-z",
        {
            "kind": "Namespace",
            "metadata": {"labels": {"kubernetes.io/metadata.name": "team-z"}},
            "status": {"phase": "Active"},
        },
        id="namespace",
    ),
]


@pytest.mark.parametrize(("create", "kind_name", "expected"), CASES)
def test_kubectl_create_stores_what_kubectl_sent(
    serve: ServeProcess, create: list[str], kind_name: str, expected: dict[str, Any]
) -> None:
    obj = created_then_read(serve, create, kind_name)
    assert subset(obj, expected), yaml.safe_dump(obj)


def test_kubectl_create_secret_tls_stores_the_pem_files(
    serve: ServeProcess, tls_files: tuple[Path, Path]
) -> None:
    cert, key = tls_files
    obj = created_then_read(
        serve, ["secret", "tls", "site-tls", f"--cert={cert}", f"--key={key}"], "secret/site-tls"
    )
    assert obj["type"] == "kubernetes.io/tls"
    assert base64.b64decode(obj["data"]["tls.crt"]) == cert.read_bytes()
    assert base64.b64decode(obj["data"]["tls.key"]) == key.read_bytes()


def test_kubectl_create_dry_run_server_stores_nothing(serve: ServeProcess) -> None:
    result = serve.kubectl("create", "clusterrole", "ghost", "--verb=get", "--resource=leases",
                           "--dry-run=server")  # fmt: skip
    assert "created (server dry run)" in result.stdout
    missing = serve.kubectl("get", "clusterrole", "ghost", check=False)
    assert missing.returncode != 0
    assert 'clusterroles.rbac.authorization.k8s.io "ghost" not found' in missing.stderr


def test_kubectl_create_of_an_existing_role_is_already_exists(serve: ServeProcess) -> None:
    serve.kubectl("create", "role", "twice", "--verb=get", "--resource=secrets")
    again = serve.kubectl("create", "role", "twice", "--verb=get", "--resource=secrets",
                          check=False)  # fmt: skip
    assert again.returncode != 0
    assert "(AlreadyExists)" in again.stderr


RECONCILED_ROLE = """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: reconciled
  labels: {team: a}
rules:
- apiGroups: [""]
  resources: [secrets]
  verbs: [VERBS]
"""


def test_kubectl_auth_reconcile_creates_then_puts_protobuf_roles(serve: ServeProcess) -> None:
    # reconcile POSTs a missing role, then PUTs the stored one (full ObjectMeta, with
    # resourceVersion and managedFields) with the missing rules added, both as protobuf.
    serve.kubectl(
        "auth", "reconcile", "-f", "-", input_text=RECONCILED_ROLE.replace("VERBS", "get")
    )
    first = yaml.safe_load(serve.kubectl("get", "clusterrole", "reconciled", "-o", "yaml").stdout)
    serve.kubectl(
        "auth", "reconcile", "-f", "-", input_text=RECONCILED_ROLE.replace("VERBS", "get, list")
    )
    second = yaml.safe_load(serve.kubectl("get", "clusterrole", "reconciled", "-o", "yaml").stdout)
    assert second["metadata"]["uid"] == first["metadata"]["uid"]
    assert second["metadata"]["labels"] == {"team": "a"}
    assert int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    verbs = sorted(v for rule in second["rules"] for v in rule["verbs"])
    assert verbs == ["get", "list"]
