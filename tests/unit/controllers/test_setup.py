"""The ``--controllers`` selection and which controllers ``build_manager`` composes."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from certsmith.controllers.certificates.wiring import BUILDERS as CERTIFICATE_BUILDERS
from certsmith.controllers.setup import (
    APPROVER,
    CLUSTER_ISSUERS,
    ISSUERS,
    REQUEST_ISSUER,
    ControllerOptions,
    available_controllers,
    build_manager,
    parse_controllers,
)
from certsmith.controllers.shims.sync import ShimOptions
from certsmith.issuers.registry import BUILTIN, build
from tests.fakes import FakeKubeClient

ISSUERS_BUILTIN = build(BUILTIN)
AVAILABLE = available_controllers(ISSUERS_BUILTIN)
CA = "certificaterequests-issuer-ca"
SELFSIGNED = "certificaterequests-issuer-selfsigned"
CERTIFICATES = frozenset(CERTIFICATE_BUILDERS)
ACME = frozenset({"certificaterequests-issuer-acme", "orders", "challenges", "certificates-ari"})
SHIMS = frozenset({"ingress-shim", "gateway-shim", "istio-gateway-shim"})
ALL = frozenset({ISSUERS, CLUSTER_ISSUERS, APPROVER, CA, SELFSIGNED}) | CERTIFICATES | ACME | SHIMS


@dataclass(frozen=True)
class Case:
    id: str
    given: str | list[str]
    expect: frozenset[str]


CASES = [
    Case("star_enables_everything", "*", ALL),
    Case("empty_selection_means_star", "", ALL),
    Case(
        "star_minus_approver_is_the_charts_disable_auto_approval",
        "*,-" + APPROVER,
        ALL - {APPROVER},
    ),
    Case("removal_wins_whatever_the_order", f"-{APPROVER},*", ALL - {APPROVER}),
    Case("explicit_list", f"{ISSUERS},{CA}", frozenset({ISSUERS, CA})),
    Case("removal_alone_enables_nothing", f"-{APPROVER}", frozenset()),
    Case("none_selects_nothing", "none", frozenset()),
    Case("repeated_flags_are_joined", ["*", f"-{CA}"], ALL - {CA}),
    Case(
        "spaces_are_ignored",
        f" {ISSUERS} , {CLUSTER_ISSUERS} ",
        frozenset({ISSUERS, CLUSTER_ISSUERS}),
    ),
    Case(
        "upstream_only_names_are_accepted_and_ignored",
        "*,-certificates-metrics,certificatesigningrequests-issuer-ca",
        ALL,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_parse_controllers(case: Case) -> None:
    assert parse_controllers(case.given, AVAILABLE) == case.expect


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("issuer", "unknown controller 'issuer'; valid names: certificaterequests-approver"),
        ("*,-nope", "unknown controller 'nope'"),
        ("none,issuers", '"none" cannot be combined'),
        ("-", "invalid controller selection item '-'"),
    ],
)
def test_parse_controllers_rejects_bad_selections_clearly(given: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("*", r"\*")):
        parse_controllers(given, AVAILABLE)


def test_available_controllers_follow_the_issuer_registry() -> None:
    assert set(AVAILABLE) == ALL


def test_all_request_issuer_names_map_to_one_shared_reconciler() -> None:
    manager = build_manager(FakeKubeClient(), options=ControllerOptions(issuers=ISSUERS_BUILTIN))
    assert sorted(c.name for c in manager.controllers) == sorted(
        [
            ISSUERS,
            CLUSTER_ISSUERS,
            REQUEST_ISSUER,
            APPROVER,
            *CERTIFICATES,
            "orders",
            "challenges",
            "challenges-scheduler",
            "certificates-ari",
            # gateway-shim and istio-gateway-shim need their opt-in flags.
            "ingress-shim",
        ]
    )
    # One informer per resource, however many controllers share it.
    plurals = [i.resource.plural for i in manager.informers]
    assert sorted(plurals) == [
        "certificaterequests",
        "certificates",
        "challenges",
        "clusterissuers",
        "ingresses",
        "issuers",
        "orders",
        "secrets",
    ]


def test_disabling_every_issuer_type_drops_the_request_reconciler() -> None:
    options = ControllerOptions(
        controllers=(
            f"*,-{CA},-{SELFSIGNED},-certificaterequests-issuer-acme,-orders,-challenges,"
            "-certificates-ari"
        ),
        issuers=ISSUERS_BUILTIN,
    )
    names = {c.name for c in build_manager(FakeKubeClient(), options=options).controllers}
    assert names == {ISSUERS, CLUSTER_ISSUERS, APPROVER, *CERTIFICATES, "ingress-shim"}


def test_unknown_controller_fails_build_manager() -> None:
    with pytest.raises(ValueError, match="unknown controller"):
        build_manager(FakeKubeClient(), options=ControllerOptions(controllers="bogus"))


@pytest.mark.parametrize(
    ("gateway_api", "istio", "expect"),
    [
        (False, False, {"ingress-shim"}),
        (True, False, {"ingress-shim", "gateway-shim"}),
        (True, True, {"ingress-shim", "gateway-shim", "istio-gateway-shim"}),
    ],
)
def test_gateway_shims_run_only_with_their_opt_in_flags(
    gateway_api: bool, istio: bool, expect: set[str]
) -> None:
    options = ControllerOptions(
        issuers=ISSUERS_BUILTIN,
        shims=ShimOptions(enable_gateway_api=gateway_api, enable_istio_gateway=istio),
    )
    names = {c.name for c in build_manager(FakeKubeClient(), options=options).controllers}
    assert names & SHIMS == expect


def test_shims_share_the_certificate_controllers_informer() -> None:
    options = ControllerOptions(issuers=ISSUERS_BUILTIN, shims=ShimOptions(enable_gateway_api=True))
    manager = build_manager(FakeKubeClient(), options=options)
    plurals = [i.resource.plural for i in manager.informers]
    assert plurals.count("certificates") == 1
    assert plurals.count("gateways") == 1
