"""RBAC evaluation as kube-apiserver does it: request attributes, rules, bindings, wording."""

from __future__ import annotations

from typing import Any

import pytest

from certsmith.api.meta import UserInfo
from certsmith.apiserver.auth import RequestAttributes, authorize, forbidden_error
from certsmith.apiserver.rbac import PolicyIndex, PolicyRule, service_account_username

RBAC = "rbac.authorization.k8s.io"


def res(
    verb: str,
    resource: str,
    *,
    group: str = "cert-manager.io",
    namespace: str = "",
    name: str = "",
    sub: str = "",
) -> RequestAttributes:
    """A resource request."""
    return RequestAttributes(verb, "/x", group, resource, sub, namespace, name)


def url(verb: str, path: str) -> RequestAttributes:
    """A non-resource request."""
    return RequestAttributes(verb, path)


def rule(**fields: Any) -> PolicyRule:
    """A rule from wire fields (camelCase)."""
    return PolicyRule.from_dict(fields)


# --- rules ----------------------------------------------------------------------------------

CM = {"apiGroups": ["cert-manager.io"]}
RULE_CASES: list[tuple[str, PolicyRule, RequestAttributes, bool]] = [
    ("exact verb, group and resource", rule(verbs=["get"], resources=["certificates"], **CM),
     res("get", "certificates"), True),
    ("another verb is not allowed", rule(verbs=["get"], resources=["certificates"], **CM),
     res("list", "certificates"), False),
    ("verb wildcard", rule(verbs=["*"], resources=["certificates"], **CM),
     res("deletecollection", "certificates"), True),
    ("another group is not allowed", rule(verbs=["get"], resources=["certificates"], **CM),
     res("get", "certificates", group="acme.cert-manager.io"), False),
    ("group wildcard", rule(verbs=["get"], apiGroups=["*"], resources=["secrets"]),
     res("get", "secrets", group=""), True),
    ("core group is the empty string", rule(verbs=["get"], apiGroups=[""], resources=["secrets"]),
     res("get", "secrets", group=""), True),
    ("another resource is not allowed", rule(verbs=["get"], resources=["certificates"], **CM),
     res("get", "issuers"), False),
    ("resource wildcard", rule(verbs=["get"], resources=["*"], **CM), res("get", "issuers"), True),
    ("resource wildcard covers subresources", rule(verbs=["update"], resources=["*"], **CM),
     res("update", "certificaterequests", sub="status"), True),
    ("a resource does not cover its subresource",
     rule(verbs=["update"], resources=["certificaterequests"], **CM),
     res("update", "certificaterequests", sub="status"), False),
    ("a subresource does not cover its resource",
     rule(verbs=["update"], resources=["certificaterequests/status"], **CM),
     res("update", "certificaterequests"), False),
    ("resource/subresource", rule(verbs=["update"], resources=["certificaterequests/status"], **CM),
     res("update", "certificaterequests", sub="status"), True),
    ("*/subresource", rule(verbs=["update"], resources=["*/status"], **CM),
     res("update", "orders", sub="status"), True),
    ("*/subresource needs that subresource", rule(verbs=["update"], resources=["*/status"], **CM),
     res("update", "orders", sub="finalize"), False),
    ("resourceNames allow the named object",
     rule(verbs=["get"], resources=["issuers"], resourceNames=["ca"], **CM),
     res("get", "issuers", name="ca"), True),
    ("resourceNames refuse other objects",
     rule(verbs=["get"], resources=["issuers"], resourceNames=["ca"], **CM),
     res("get", "issuers", name="other"), False),
    ("resourceNames refuse an unnamed list",
     rule(verbs=["list"], resources=["issuers"], resourceNames=["ca"], **CM),
     res("list", "issuers"), False),
    ("a resourceName of * is literal, not a wildcard",
     rule(verbs=["approve"], resources=["signers"], resourceNames=["issuers.cert-manager.io/*"],
          **CM),
     res("approve", "signers", name="issuers.cert-manager.io/ns.ca"), False),
    ("signer name matches exactly",
     rule(verbs=["approve"], resources=["signers"], resourceNames=["issuers.cert-manager.io/*"],
          **CM),
     res("approve", "signers", name="issuers.cert-manager.io/*"), True),
    ("nonResourceURL exact", rule(verbs=["get"], nonResourceURLs=["/version"]),
     url("get", "/version"), True),
    ("nonResourceURL prefix", rule(verbs=["get"], nonResourceURLs=["/apis/*"]),
     url("get", "/apis/cert-manager.io/v1"), True),
    ("nonResourceURL prefix needs the prefix", rule(verbs=["get"], nonResourceURLs=["/apis/*"]),
     url("get", "/apis"), False),
    ("nonResourceURL wildcard", rule(verbs=["*"], nonResourceURLs=["*"]),
     url("post", "/anything"), True),
    ("nonResourceURLs do not grant resources", rule(verbs=["*"], nonResourceURLs=["*"]),
     res("get", "issuers"), False),
    ("resource rules do not grant paths", rule(verbs=["*"], apiGroups=["*"], resources=["*"]),
     url("get", "/version"), False),
    ("malformed fields match nothing", rule(verbs="get", resources=["issuers"], **CM),
     res("get", "issuers"), False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rule_", "attrs", "allowed"), [c[1:] for c in RULE_CASES], ids=[c[0] for c in RULE_CASES]
)
def test_rule_matching(rule_: PolicyRule, attrs: RequestAttributes, allowed: bool) -> None:
    assert rule_.allows(attrs) is allowed


# --- bindings -------------------------------------------------------------------------------


def role(name: str, *rules: dict[str, Any], namespace: str = "") -> dict[str, Any]:
    """A Role (with ``namespace``) or ClusterRole."""
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"metadata": meta, "rules": list(rules)}


def binding(
    name: str, role_kind: str, role_name: str, *subjects: dict[str, Any], namespace: str = ""
) -> dict[str, Any]:
    """A RoleBinding (with ``namespace``) or ClusterRoleBinding."""
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {
        "metadata": meta,
        "roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": role_name},
        "subjects": list(subjects),
    }


def user(name: str) -> dict[str, Any]:
    return {"kind": "User", "name": name, "apiGroup": RBAC}


def group(name: str) -> dict[str, Any]:
    return {"kind": "Group", "name": name, "apiGroup": RBAC}


def service_account(name: str, namespace: str = "") -> dict[str, Any]:
    subject = {"kind": "ServiceAccount", "name": name}
    if namespace:
        subject["namespace"] = namespace
    return subject


EDIT_CERTS = {"apiGroups": ["cert-manager.io"], "resources": ["certificates"], "verbs": ["*"]}
READ_NS = {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]}

POLICY = PolicyIndex.build(
    cluster_roles=[
        role("cert-editor", EDIT_CERTS),
        role("ns-reader", READ_NS),
        role("no-rules"),
    ],
    roles=[
        role("local-editor", EDIT_CERTS, namespace="team-a"),
        role("elsewhere", EDIT_CERTS, namespace="team-b"),
    ],
    cluster_role_bindings=[
        binding("global", "ClusterRole", "cert-editor", user("carol"), group("platform")),
        binding("ns", "ClusterRole", "ns-reader", service_account("ops", "infra")),
        binding("to-a-role", "Role", "local-editor", user("mallory")),
        binding("dangling", "ClusterRole", "missing", user("dave")),
    ],
    role_bindings=[
        binding("alice", "Role", "local-editor", user("alice"), namespace="team-a"),
        binding("bob", "ClusterRole", "cert-editor", user("bob"), namespace="team-a"),
        binding("sa", "Role", "local-editor", service_account("builder"), namespace="team-a"),
        binding("cross", "Role", "elsewhere", user("erin"), namespace="team-a"),
        binding("ns-self", "ClusterRole", "ns-reader", group("team-a-admins"), namespace="team-a"),
    ],
)


def who(name: str, *groups: str) -> UserInfo:
    return UserInfo(username=name, groups=[*groups, "system:authenticated"])


BINDING_CASES: list[tuple[str, UserInfo, RequestAttributes, bool]] = [
    ("a Role binding grants in its namespace", who("alice"),
     res("create", "certificates", namespace="team-a"), True),
    ("a Role binding grants nothing in another namespace", who("alice"),
     res("create", "certificates", namespace="team-b"), False),
    ("a Role binding grants nothing at the cluster scope", who("alice"),
     res("list", "certificates"), False),
    ("a RoleBinding to a ClusterRole grants only in its namespace", who("bob"),
     res("list", "certificates", namespace="team-b"), False),
    ("a RoleBinding to a ClusterRole grants in its namespace", who("bob"),
     res("list", "certificates", namespace="team-a"), True),
    ("a ClusterRoleBinding grants in every namespace", who("carol"),
     res("delete", "certificates", namespace="team-b", name="x"), True),
    ("a ClusterRoleBinding grants at the cluster scope", who("carol"),
     res("list", "certificates"), True),
    ("a Group subject matches members", who("someone", "platform"),
     res("get", "certificates", namespace="x", name="y"), True),
    ("a Group subject does not match by user name", who("platform"),
     res("get", "certificates", namespace="x", name="y"), False),
    ("a ServiceAccount subject matches its user name",
     who(service_account_username("infra", "ops")), res("get", "namespaces", group="", name="a"),
     True),
    ("a ServiceAccount of another namespace does not match",
     who(service_account_username("other", "ops")), res("get", "namespaces", group="", name="a"),
     False),
    ("a ServiceAccount without namespace means the binding's",
     who(service_account_username("team-a", "builder")),
     res("update", "certificates", namespace="team-a", name="c"), True),
    ("a ServiceAccount without namespace is not another namespace's",
     who(service_account_username("team-b", "builder")),
     res("update", "certificates", namespace="team-a", name="c"), False),
    ("a RoleBinding cannot use another namespace's Role", who("erin"),
     res("get", "certificates", namespace="team-a", name="c"), False),
    ("a ClusterRoleBinding to a Role grants nothing", who("mallory"),
     res("get", "certificates", namespace="team-a", name="c"), False),
    ("a binding to a missing role grants nothing", who("dave"), res("list", "certificates"),
     False),
    ("a namespace's own URL is in that namespace", who("x", "team-a-admins"),
     RequestAttributes.from_request("GET", "/api/v1/namespaces/team-a", {}), True),
    ("another namespace's URL is not", who("x", "team-a-admins"),
     RequestAttributes.from_request("GET", "/api/v1/namespaces/team-b", {}), False),
    ("an unbound user gets nothing", who("nobody"),
     res("get", "certificates", namespace="team-a", name="c"), False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("user_", "attrs", "allowed"),
    [c[1:] for c in BINDING_CASES],
    ids=[c[0] for c in BINDING_CASES],
)
def test_bindings(user_: UserInfo, attrs: RequestAttributes, allowed: bool) -> None:
    assert authorize(user_, attrs, POLICY) is allowed


def test_system_masters_may_do_anything_without_rbac() -> None:
    admin = who("admin", "system:masters")
    assert authorize(admin, res("delete", "namespaces", group="", name="kube-system"))
    assert authorize(admin, url("post", "/anything"), PolicyIndex())


def test_without_a_policy_only_system_masters_is_allowed() -> None:
    assert not authorize(who("carol", "platform"), res("list", "certificates"))


def test_malformed_stored_objects_grant_nothing_and_do_not_crash() -> None:
    policy = PolicyIndex.build(
        cluster_roles=[{"metadata": {"name": "r"}, "rules": "nope"}],
        cluster_role_bindings=[
            {"metadata": {"name": "b"}, "roleRef": "r", "subjects": [user("u")]},
            {"metadata": {"name": "c"}, "roleRef": {"kind": "ClusterRole", "name": "r"},
             "subjects": ["u", {"kind": 3}]},
        ],
    )  # fmt: skip
    assert not authorize(who("u"), res("get", "issuers", namespace="a", name="b"), policy)


# --- request attributes ---------------------------------------------------------------------

ATTR_CASES: list[tuple[str, str, str, dict[str, str], RequestAttributes]] = [
    ("namespaced list", "GET", "/apis/cert-manager.io/v1/namespaces/a/certificates", {},
     RequestAttributes("list", "/apis/cert-manager.io/v1/namespaces/a/certificates",
                       "cert-manager.io", "certificates", "", "a", "")),
    ("watch", "GET", "/api/v1/secrets", {"watch": "true"},
     RequestAttributes("watch", "/api/v1/secrets", "", "secrets")),
    ("named get", "GET", "/api/v1/namespaces/a/secrets/s", {},
     RequestAttributes("get", "/api/v1/namespaces/a/secrets/s", "", "secrets", "", "a", "s")),
    ("field selector on metadata.name names the object", "GET", "/api/v1/namespaces/a/secrets",
     {"fieldSelector": "metadata.name=s", "watch": "1"},
     RequestAttributes("watch", "/api/v1/namespaces/a/secrets", "", "secrets", "", "a", "s")),
    ("status update", "PUT",
     "/apis/cert-manager.io/v1/namespaces/a/certificaterequests/cr/status", {},
     RequestAttributes("update",
                       "/apis/cert-manager.io/v1/namespaces/a/certificaterequests/cr/status",
                       "cert-manager.io", "certificaterequests", "status", "a", "cr")),
    ("a namespace is in itself", "DELETE", "/api/v1/namespaces/a", {},
     RequestAttributes("delete", "/api/v1/namespaces/a", "", "namespaces", "", "a", "a")),
    ("namespace finalize", "PUT", "/api/v1/namespaces/a/finalize", {},
     RequestAttributes("update", "/api/v1/namespaces/a/finalize", "", "namespaces", "finalize",
                       "a", "a")),
    ("namespace list", "GET", "/api/v1/namespaces", {},
     RequestAttributes("list", "/api/v1/namespaces", "", "namespaces")),
    ("deletecollection", "DELETE", "/api/v1/namespaces/a/secrets", {},
     RequestAttributes("deletecollection", "/api/v1/namespaces/a/secrets", "", "secrets", "",
                       "a")),
    ("patch", "PATCH", "/apis/cert-manager.io/v1/clusterissuers/x", {},
     RequestAttributes("patch", "/apis/cert-manager.io/v1/clusterissuers/x", "cert-manager.io",
                       "clusterissuers", "", "", "x")),
    ("discovery is a path", "GET", "/apis/cert-manager.io/v1", {},
     RequestAttributes("get", "/apis/cert-manager.io/v1")),
    ("post to a path", "POST", "/version", {}, RequestAttributes("post", "/version")),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [c[1:] for c in ATTR_CASES],
    ids=[c[0] for c in ATTR_CASES],
)
def test_request_attributes(
    method: str, path: str, query: dict[str, str], expected: RequestAttributes
) -> None:
    assert RequestAttributes.from_request(method, path, query) == expected


# --- wording --------------------------------------------------------------------------------

FORBIDDEN_CASES: list[tuple[str, RequestAttributes, str]] = [
    ("namespaced", res("list", "certificates", namespace="team-b"),
     'certificates.cert-manager.io is forbidden: User "alice" cannot list resource '
     '"certificates" in API group "cert-manager.io" in the namespace "team-b"'),
    ("cluster scope", res("list", "clusterissuers"),
     'clusterissuers.cert-manager.io is forbidden: User "alice" cannot list resource '
     '"clusterissuers" in API group "cert-manager.io" at the cluster scope'),
    ("named core object", res("get", "namespaces", group="", namespace="kube-system",
                              name="kube-system"),
     'namespaces "kube-system" is forbidden: User "alice" cannot get resource "namespaces" in '
     'API group "" in the namespace "kube-system"'),
    ("subresource", res("update", "certificaterequests", namespace="a", name="cr", sub="status"),
     'certificaterequests.cert-manager.io "cr" is forbidden: User "alice" cannot update resource '
     '"certificaterequests/status" in API group "cert-manager.io" in the namespace "a"'),
    ("path", url("get", "/metrics"), 'forbidden: User "alice" cannot get path "/metrics"'),
]  # fmt: skip


@pytest.mark.parametrize(
    ("attrs", "message"), [c[1:] for c in FORBIDDEN_CASES], ids=[c[0] for c in FORBIDDEN_CASES]
)
def test_forbidden_wording_is_kubes(attrs: RequestAttributes, message: str) -> None:
    err = forbidden_error(who("alice"), attrs)
    assert (err.code, err.reason, err.message) == (403, "Forbidden", message)


def test_forbidden_details_name_group_kind_and_object() -> None:
    err = forbidden_error(who("alice"), res("get", "issuers", namespace="a", name="ca"))
    assert err.details == {"group": "cert-manager.io", "kind": "issuers", "name": "ca"}
