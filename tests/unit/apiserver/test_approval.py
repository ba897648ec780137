"""Approval authorization (SPEC §2.3): signer names, first-allowed wins, exact denials."""

from __future__ import annotations

import datetime as dt

import pytest

from certsmith.api.certmanager import CertificateRequest
from certsmith.api.conditions import ConditionStatus
from certsmith.api.crds import load_crds
from certsmith.api.meta import Condition, UserInfo
from certsmith.apiserver.approval import ApprovalAuthorizer
from certsmith.apiserver.rbac import PolicyIndex
from certsmith.apiserver.resources import default_registry
from tests.builders import make_cert_request

REGISTRY = default_registry(load_crds())
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
RBAC = "rbac.authorization.k8s.io"


def cond(ctype: str) -> Condition:
    return Condition(
        type=ctype, status=ConditionStatus.TRUE, reason="r", message="m", last_transition_time=T0
    )


def approver_policy(*signer_names: str) -> PolicyIndex:
    """User ``u`` may approve ``signer_names`` (any signer when none are given)."""
    rule: dict[str, object] = {
        "apiGroups": ["cert-manager.io"],
        "resources": ["signers"],
        "verbs": ["approve"],
    }
    if signer_names:
        rule["resourceNames"] = list(signer_names)
    return PolicyIndex.build(
        cluster_roles=[{"metadata": {"name": "approver"}, "rules": [rule]}],
        cluster_role_bindings=[
            {
                "metadata": {"name": "approver"},
                "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "approver"},
                "subjects": [{"kind": "User", "name": "u"}],
            }
        ],
    )


U = UserInfo(username="u", groups=["system:authenticated"])
ISSUER_CA = "status.conditions: Forbidden: user \"u\" does not have permissions to set " \
    "approved/denied conditions for issuer {ca Issuer cert-manager.io}"  # fmt: skip


def update(**ref: str) -> tuple[CertificateRequest, CertificateRequest]:
    """(old, new) where new adds Approved; ``ref`` overrides issuer kind/group/name."""
    old = make_cert_request(
        namespace="ns",
        issuer=ref.get("name", "ca"),
        issuer_kind=ref.get("kind", "Issuer"),
        issuer_group=ref.get("group", "cert-manager.io"),
    )
    new = CertificateRequest.from_dict(
        {**old.to_dict(), "status": {"conditions": [cond("Approved").to_dict()]}}
    )
    return old, new


CASES: list[tuple[str, PolicyIndex, dict[str, str], list[str]]] = [
    ("no permission is denied with cert-manager's words", PolicyIndex(), {}, [ISSUER_CA]),
    ("the issuer's own signer name", approver_policy("issuers.cert-manager.io/ns.ca"), {}, []),
    ("the wildcard signer name", approver_policy("issuers.cert-manager.io/*"), {}, []),
    ("no resourceNames approves every signer", approver_policy(), {}, []),
    ("another namespace's issuer does not count",
     approver_policy("issuers.cert-manager.io/other.ca"), {}, [ISSUER_CA]),
    ("a ClusterIssuer's signer has no namespace",
     approver_policy("clusterissuers.cert-manager.io/ca"), {"kind": "ClusterIssuer"}, []),
    ("a ClusterIssuer grant is not an Issuer grant",
     approver_policy("clusterissuers.cert-manager.io/*"), {}, [ISSUER_CA]),
    ("an unknown kind is a missing signer resource", approver_policy(), {"kind": "Nope"},
     ["spec.issuerRef: Forbidden: referenced signer resource does not exist: "
      "{ca Nope cert-manager.io}"]),
    ("an unknown group is a missing signer resource", approver_policy(),
     {"group": "example.com"},
     ["spec.issuerRef: Forbidden: referenced signer resource does not exist: "
      "{ca Issuer example.com}"]),
    ("an empty kind and group default to Issuer in cert-manager.io and print as stored",
     PolicyIndex(), {"kind": "", "group": ""},
     ['status.conditions: Forbidden: user "u" does not have permissions to set '
      "approved/denied conditions for issuer {ca  }"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("policy", "ref", "errors"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_approval(policy: PolicyIndex, ref: dict[str, str], errors: list[str]) -> None:
    old, new = update(**ref)
    found = ApprovalAuthorizer(REGISTRY, policy).check(old, new, U)
    assert [str(e) for e in found] == errors


def test_denied_needs_the_same_permission() -> None:
    old, _ = update()
    denied = CertificateRequest.from_dict(
        {**old.to_dict(), "status": {"conditions": [cond("Denied").to_dict()]}}
    )
    assert [str(e) for e in ApprovalAuthorizer(REGISTRY).check(old, denied, U)] == [ISSUER_CA]
    granted = ApprovalAuthorizer(REGISTRY, approver_policy("issuers.cert-manager.io/ns.ca"))
    assert granted.check(old, denied, U) == []


def test_only_newly_added_conditions_are_checked() -> None:
    _, approved = update()
    unchanged = ApprovalAuthorizer(REGISTRY).check(approved, approved, U)
    assert unchanged == []


def test_system_masters_may_approve_without_rbac() -> None:
    old, new = update()
    admin = UserInfo(username="admin", groups=["system:masters"])
    assert ApprovalAuthorizer(REGISTRY).check(old, new, admin) == []
