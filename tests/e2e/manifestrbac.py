"""The install manifests' identity and RBAC, for running ``certsmith controller`` as the
Deployment would: a ServiceAccount bearer token bound only to the rendered roles.

Shared by ``tests/e2e/test_rbac_manifests.py`` (an in-process server that records every call),
the ``split`` deployment mode of :mod:`tests.e2e.procs` (every split-mode e2e test runs its
controller as this identity) and ``tests/e2e/test_incluster.py`` (the same identity, read from
a pod-style service account directory). Nothing here starts a process or talks to a server:
it renders the overlay, picks out what a cluster would apply, and words what kube refuses.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Final

import yaml

from certsmith.api.meta import UserInfo
from certsmith.cli import kustomize
from certsmith.client.resources import ResourceRef

DEPLOY: Final = Path(__file__).resolve().parents[2] / "deploy"
DEPLOY_DOC: Final = DEPLOY.parent / "docs" / "deploy.md"
TOKEN: Final = "certsmith-sa-token-0123456789abcdef"
RBAC: Final = "rbac.authorization.k8s.io"
CONTROLLER_ROLE: Final = "certsmith-controller"
RBAC_REFS: Final = {
    "ClusterRole": ResourceRef(RBAC, "v1", "clusterroles", False),
    "ClusterRoleBinding": ResourceRef(RBAC, "v1", "clusterrolebindings", False),
    "Role": ResourceRef(RBAC, "v1", "roles", True),
    "RoleBinding": ResourceRef(RBAC, "v1", "rolebindings", True),
}
#: The roles every Kubernetes cluster binds to all authenticated users (discovery, version,
#: self reviews): the controller may use them without the manifests granting anything.
KUBE_DEFAULTS: Final = ("system:discovery", "system:public-info-viewer", "system:basic-user")
#: kube-apiserver's RBAC denial says "cannot <verb> resource"; approval refusals do not.
RBAC_DENIAL: Final = "cannot "


def service_account(namespace: str) -> UserInfo:
    """The identity a ServiceAccount token has on a real cluster."""
    return UserInfo(
        username=f"system:serviceaccount:{namespace}:certsmith",
        uid="sa-uid",
        groups=[
            "system:serviceaccounts",
            f"system:serviceaccounts:{namespace}",
            "system:authenticated",
        ],
    )


def write_token_file(data_dir: Path, namespace: str, token: str = TOKEN) -> None:
    """``<data-dir>/tokens.csv`` naming ``token`` as the install's ServiceAccount.

    ``system:authenticated`` is left out: the server adds it to every authenticated user.
    """
    user = service_account(namespace)
    groups = ",".join(g for g in user.groups if g != "system:authenticated")
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "tokens.csv").write_text(f'{token},{user.username},{user.uid},"{groups}"\n')


def token_kubeconfig(admin_kubeconfig: Path, path: Path, token: str = TOKEN) -> Path:
    """The admin kubeconfig's cluster with a bearer-token user (no client certificate)."""
    config = yaml.safe_load(admin_kubeconfig.read_text())
    config["users"] = [{"name": "certsmith", "user": {"token": token}}]
    config["contexts"][0]["context"]["user"] = "certsmith"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def rendered(overlay: str, namespace: str) -> list[dict[str, Any]]:
    """The objects ``certsmith install manifests`` prints for ``overlay`` in ``namespace``."""
    return kustomize.build(kustomize.overlay_dir(overlay, DEPLOY), namespace=namespace)


def rbac_objects(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Roles, ClusterRoles and their bindings among ``objects``, in order."""
    return [o for o in objects if o["kind"] in RBAC_REFS]


def cluster_objects(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What an install applies that the embedded server serves: the Namespace and the RBAC.

    The CRDs are built in, and ServiceAccounts, Deployments, Services and PodDisruptionBudgets
    are a kubelet's business: the token in ``tokens.csv`` stands for the ServiceAccount.
    """
    return [o for o in objects if o["kind"] == "Namespace"] + rbac_objects(objects)


def deployment_args(objects: list[dict[str, Any]], namespace: str) -> list[str]:
    """The container's args with ``$(POD_NAMESPACE)`` expanded, as the kubelet does."""
    (deployment,) = [o for o in objects if o["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return [str(a).replace("$(POD_NAMESPACE)", namespace) for a in container["args"]]


def documented_optional_rules() -> list[dict[str, Any]]:
    """The rules docs/deploy.md tells users to add for the Gateway shims."""
    text = DEPLOY_DOC.read_text(encoding="utf-8")
    section = text.split("### Rules to add for optional features", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    rules: list[dict[str, Any]] = yaml.safe_load(block)
    return rules


def with_controller_rules(
    objects: list[dict[str, Any]], rules: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``objects`` with ``rules`` appended to the ClusterRole ``certsmith-controller``, as a
    user following docs/deploy.md's "Rules to add" would."""
    out = copy.deepcopy(objects)
    (role,) = [
        o for o in out if o["kind"] == "ClusterRole" and o["metadata"]["name"] == CONTROLLER_ROLE
    ]
    role["rules"].extend(copy.deepcopy(rules))
    return out


def rbac_denials(log: str) -> list[str]:
    """The lines of a controller's log that report kube's RBAC refusal of one of its calls."""
    return [
        line for line in log.splitlines() if "forbidden" in line.lower() and RBAC_DENIAL in line
    ]


def forbidden_message(namespace: str, what: str) -> str:
    """kube's denial text for the install's ServiceAccount; ``what`` is from ``cannot`` on."""
    return f'User "system:serviceaccount:{namespace}:certsmith" cannot {what}'
