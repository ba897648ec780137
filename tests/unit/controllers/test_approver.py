"""The approver's signer names (SPEC §2.3 format) and which requests its list covers."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from certsmith.controllers.approver import DEFAULT_APPROVE_SIGNER_NAMES, may_approve, signer_names
from tests.builders import make_cert_request


@dataclass(frozen=True)
class Case:
    id: str
    kind: str | None
    group: str | None
    expect_names: list[str]
    expect_default_approves: bool


CASES = [
    Case(
        "issuer_with_defaults_left_empty",
        None,
        None,
        ["issuers.cert-manager.io/*", "issuers.cert-manager.io/ns.ca"],
        True,
    ),
    Case(
        "cluster_issuer_is_cluster_scoped",
        "ClusterIssuer",
        "cert-manager.io",
        ["clusterissuers.cert-manager.io/*", "clusterissuers.cert-manager.io/ca"],
        True,
    ),
    Case(
        "external_issuer_is_not_approved_by_default",
        "AWSPCAIssuer",
        "awspca.cert-manager.io",
        ["awspcaissuers.awspca.cert-manager.io/*", "awspcaissuers.awspca.cert-manager.io/ns.ca"],
        False,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_signer_names_and_default_approval(case: Case) -> None:
    request = make_cert_request(issuer_kind=case.kind, issuer_group=case.group)
    assert signer_names(request) == case.expect_names
    assert may_approve(request, DEFAULT_APPROVE_SIGNER_NAMES) is case.expect_default_approves


def test_empty_signer_list_approves_everything() -> None:
    request = make_cert_request(issuer_kind="Thing", issuer_group="example.com")
    assert may_approve(request, ())


def test_named_signer_covers_only_that_issuer() -> None:
    allowed = ["issuers.cert-manager.io/ns.ca"]
    assert may_approve(make_cert_request(issuer="ca"), allowed)
    assert not may_approve(make_cert_request(issuer="other"), allowed)
    assert not may_approve(make_cert_request(issuer="ca", namespace="elsewhere"), allowed)
