"""The RBAC objects every certsmith server starts with, and their idempotent bootstrap.

Like kube-apiserver's bootstrap policy (``plugin/pkg/auth/authorizer/rbac/bootstrappolicy``),
with the same names where kube has the object, so kube habits work here:

* ``cluster-admin`` (everything) bound to the group ``system:masters``;
* ``system:discovery`` and ``system:public-info-viewer`` (reading ``/api*``, ``/openapi*``,
  ``/version``, health paths) and ``system:basic-user`` (self access reviews) bound to
  ``system:authenticated``, so every authenticated user can run kubectl's discovery;
* ``system:monitoring`` (reading ``/metrics`` and the health paths) bound to the group
  ``system:monitoring``, as in kube: a scraper gets ``/metrics`` with a client certificate in
  that group, or by binding the role to its user or service account;
* ``certsmith:controller``: exactly what the controllers need, bound to the controller
  identity (user :data:`CONTROLLER_USER`, group :data:`CONTROLLER_GROUP`), including
  cert-manager's Helm default approval grant (``approve`` on the ``signers``
  ``issuers.cert-manager.io/*`` and ``clusterissuers.cert-manager.io/*``).

Bootstrap creates what is missing. Objects that carry kube's
``rbac.authorization.kubernetes.io/autoupdate: "true"`` annotation (all of these, unless an
operator sets it to ``"false"``) are reconciled to this module's rules and subjects at every
start, so an upgraded server fixes its own policy; anything else the operator changed is
left alone.
"""

from __future__ import annotations

import contextlib
import copy
from typing import Final

from certsmith.api.meta import JSONObject
from certsmith.apiserver.http.objects import prepare_create
from certsmith.apiserver.rbac import RBAC_GROUP
from certsmith.apiserver.resources import ResourceRegistry
from certsmith.apiserver.storage import AlreadyExistsError, ConflictError, ObjectKey, Store

CONTROLLER_USER: Final = "system:certsmith:controller"
CONTROLLER_GROUP: Final = "certsmith:controllers"
CONTROLLER_ROLE: Final = "certsmith:controller"
AUTHENTICATED_GROUP: Final = "system:authenticated"
UNAUTHENTICATED_GROUP: Final = "system:unauthenticated"
AUTOUPDATE: Final = "rbac.authorization.kubernetes.io/autoupdate"

_READ: Final = ["get", "list", "watch"]
_WRITE: Final = ["get", "list", "watch", "create", "update", "patch", "delete"]
_SOLVER: Final = ["get", "list", "watch", "create", "update", "delete"]
_CERT_MANAGER: Final = ("certificates", "certificaterequests", "issuers", "clusterissuers")
_ACME: Final = ("orders", "challenges")
_PUBLIC_URLS: Final = ["/healthz", "/livez", "/readyz", "/version", "/version/"]
MONITORING: Final = "system:monitoring"
_MONITORING_URLS: Final = [
    "/healthz", "/healthz/*", "/livez", "/livez/*", "/readyz", "/readyz/*", "/metrics",
    "/metrics/slis",
]  # fmt: skip


def _with_status(resources: tuple[str, ...]) -> list[str]:
    return [r for name in resources for r in (name, f"{name}/status")]


CONTROLLER_RULES: Final[list[JSONObject]] = [
    {"apiGroups": ["cert-manager.io"], "resources": _with_status(_CERT_MANAGER), "verbs": _WRITE},
    {"apiGroups": ["acme.cert-manager.io"], "resources": _with_status(_ACME), "verbs": _WRITE},
    {"apiGroups": [""], "resources": ["secrets"], "verbs": _WRITE},
    {
        "apiGroups": ["", "events.k8s.io"],
        "resources": ["events"],
        "verbs": ["create", "patch", "update"],
    },
    {
        "apiGroups": ["coordination.k8s.io"],
        "resources": ["leases"],
        "verbs": ["get", "create", "update"],
    },
    {"apiGroups": [""], "resources": ["namespaces"], "verbs": _READ},
    # The certificate shims' sources (ingress-shim, gateway-shim, istio-gateway-shim).
    {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"], "verbs": _READ},
    {"apiGroups": ["gateway.networking.k8s.io"], "resources": ["gateways"], "verbs": _READ},
    {"apiGroups": ["networking.istio.io"], "resources": ["gateways"], "verbs": _READ},
    # The ACME HTTP-01 solver in cluster mode: its pods, Services, Ingresses (created, or a
    # path added to an existing one) and Gateway API HTTPRoutes.
    {"apiGroups": [""], "resources": ["pods", "services"], "verbs": _SOLVER},
    {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"], "verbs": _SOLVER},
    {"apiGroups": ["gateway.networking.k8s.io"], "resources": ["httproutes"], "verbs": _SOLVER},
    {
        "apiGroups": ["cert-manager.io"],
        "resources": ["signers"],
        "verbs": ["approve"],
        "resourceNames": ["issuers.cert-manager.io/*", "clusterissuers.cert-manager.io/*"],
    },
]
"""What the controllers do: cert-manager's controller RBAC, reduced to certsmith's resources."""


def _meta(name: str) -> JSONObject:
    return {
        "name": name,
        "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
        "annotations": {AUTOUPDATE: "true"},
    }


def _cluster_role(name: str, rules: list[JSONObject]) -> JSONObject:
    return {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": "ClusterRole",
        "metadata": _meta(name),
        "rules": rules,
    }


def _subject(kind: str, name: str) -> JSONObject:
    return {"apiGroup": RBAC_GROUP, "kind": kind, "name": name}


def _cluster_binding(name: str, role: str, subjects: list[JSONObject]) -> JSONObject:
    return {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": _meta(name),
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role},
        "subjects": subjects,
    }


def bootstrap_objects() -> list[tuple[str, JSONObject]]:
    """``(resource, object)`` for every bootstrap ClusterRole and ClusterRoleBinding."""
    authenticated = _subject("Group", AUTHENTICATED_GROUP)
    return [
        ("clusterroles", _cluster_role("cluster-admin", [
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
            {"nonResourceURLs": ["*"], "verbs": ["*"]},
        ])),
        ("clusterroles", _cluster_role("system:discovery", [
            {
                "nonResourceURLs": [
                    "/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*", *_PUBLIC_URLS
                ],
                "verbs": ["get"],
            },
        ])),
        ("clusterroles", _cluster_role("system:public-info-viewer", [
            {"nonResourceURLs": _PUBLIC_URLS, "verbs": ["get"]},
        ])),
        ("clusterroles", _cluster_role("system:basic-user", [
            {
                "apiGroups": ["authorization.k8s.io"],
                "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                "verbs": ["create"],
            },
        ])),
        ("clusterroles", _cluster_role(MONITORING, [
            {"nonResourceURLs": _MONITORING_URLS, "verbs": ["get"]},
        ])),
        ("clusterroles", _cluster_role(CONTROLLER_ROLE, CONTROLLER_RULES)),
        ("clusterrolebindings", _cluster_binding(
            "cluster-admin", "cluster-admin", [_subject("Group", "system:masters")]
        )),
        ("clusterrolebindings", _cluster_binding(
            "system:discovery", "system:discovery", [authenticated]
        )),
        ("clusterrolebindings", _cluster_binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            [authenticated, _subject("Group", UNAUTHENTICATED_GROUP)],
        )),
        ("clusterrolebindings", _cluster_binding(
            "system:basic-user", "system:basic-user", [authenticated]
        )),
        ("clusterrolebindings", _cluster_binding(
            MONITORING, MONITORING, [_subject("Group", MONITORING)]
        )),
        ("clusterrolebindings", _cluster_binding(
            CONTROLLER_ROLE,
            CONTROLLER_ROLE,
            [_subject("User", CONTROLLER_USER), _subject("Group", CONTROLLER_GROUP)],
        )),
    ]  # fmt: skip


_RECONCILED: Final = ("rules", "subjects")


def _reconciled(stored: JSONObject, wanted: JSONObject) -> JSONObject | None:
    """``stored`` with the wanted rules/subjects, or ``None`` when nothing is to change."""
    annotations = stored.get("metadata", {}).get("annotations") or {}
    if annotations.get(AUTOUPDATE) != "true":
        return None
    if all(stored.get(k) == wanted.get(k) for k in _RECONCILED):
        return None
    updated = copy.deepcopy(stored)
    for key in _RECONCILED:
        if key in wanted:
            updated[key] = copy.deepcopy(wanted[key])
    return updated


async def ensure_bootstrap_policy(store: Store, registry: ResourceRegistry) -> None:
    """Create the bootstrap objects that are missing and reconcile the auto-updated ones."""
    for resource, obj in bootstrap_objects():
        rt = registry.get(RBAC_GROUP, "v1", resource)
        assert rt is not None, f"{resource} is a built-in type"
        key = ObjectKey(RBAC_GROUP, resource, "", obj["metadata"]["name"])
        try:
            await store.create(key, prepare_create(rt, copy.deepcopy(obj), ""))
            continue
        except AlreadyExistsError:
            stored = await store.get(key)
        updated = _reconciled(stored, obj)
        if updated is not None:
            # Another writer in between only means the next start reconciles again.
            with contextlib.suppress(ConflictError):
                await store.update(key, updated, expected_rv=stored["metadata"]["resourceVersion"])
