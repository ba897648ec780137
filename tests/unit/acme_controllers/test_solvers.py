"""Solver selection (SPEC §6.2), table-driven, and the Order's HTTP-01 override annotations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from certsmith.controllers.acme.solvers import (
    NO_SOLVER_MESSAGE,
    SolverError,
    apply_overrides,
    challenge_spec,
    pick,
    zone_match,
)

HTTP = {"type": "http-01", "url": "https://ca/chal/h", "token": "th"}
DNS = {"type": "dns-01", "url": "https://ca/chal/d", "token": "td"}


def http(name: str, **selector: Any) -> dict[str, Any]:
    solver: dict[str, Any] = {"http01": {"ingress": {"name": name}}}
    if selector:
        solver["selector"] = selector
    return solver


def dns(name: str, **selector: Any) -> dict[str, Any]:
    solver: dict[str, Any] = {"dns01": {"webhook": {"groupName": name, "solverName": "x"}}}
    if selector:
        solver["selector"] = selector
    return solver


def label_of(solver: dict[str, Any] | None) -> str | None:
    if solver is None:
        return None
    if "http01" in solver:
        return str(solver["http01"]["ingress"]["name"])
    return str(solver["dns01"]["webhook"]["groupName"])


@dataclass(frozen=True)
class Case:
    id: str
    solvers: list[dict[str, Any]]
    expect: str | None
    domain: str = "www.example.com"
    offered: list[dict[str, Any]] = field(default_factory=lambda: [HTTP, DNS])
    labels: dict[str, str] = field(default_factory=dict)


CASES = [
    Case("no_solvers_none_chosen", [], None),
    Case("a_solver_without_selector_is_the_default", [http("default")], "default"),
    Case("the_first_default_wins", [http("first"), dns("second")], "first"),
    Case(
        "a_matching_selector_beats_the_default",
        [http("default"), dns("zone", dnsZones=["example.com"])],
        "zone",
    ),
    Case(
        "a_default_after_a_match_does_not_replace_it",
        [dns("zone", dnsZones=["example.com"]), http("default")],
        "zone",
    ),
    Case(
        "type_not_offered_is_skipped",
        [http("http"), dns("dns")],
        "dns",
        offered=[DNS],
    ),
    Case(
        "dns_names_beat_zones",
        [dns("zone", dnsZones=["www.example.com"]), http("name", dnsNames=["www.example.com"])],
        "name",
    ),
    Case(
        "dns_names_beat_labels",
        [
            http("labels", matchLabels={"a": "1", "b": "2"}),
            dns("name", dnsNames=["www.example.com"]),
        ],
        "name",
        labels={"a": "1", "b": "2"},
    ),
    Case(
        "longer_zone_beats_shorter",
        [dns("short", dnsZones=["com"]), dns("long", dnsZones=["example.com"])],
        "long",
    ),
    Case(
        "zone_beats_labels_only",
        [http("labels", matchLabels={"a": "1"}), dns("zone", dnsZones=["com"])],
        "zone",
        labels={"a": "1"},
    ),
    Case(
        "equal_zones_more_labels_wins",
        [
            dns("zone", dnsZones=["example.com"]),
            http("zone+label", dnsZones=["example.com"], matchLabels={"a": "1"}),
        ],
        "zone+label",
        labels={"a": "1"},
    ),
    Case(
        "both_named_more_zone_labels_wins",
        [
            http("name", dnsNames=["www.example.com"]),
            dns("name+zone", dnsNames=["www.example.com"], dnsZones=["example.com"]),
        ],
        "name+zone",
    ),
    Case(
        "ties_keep_the_earlier_solver",
        [dns("first", dnsZones=["example.com"]), http("second", dnsZones=["example.com"])],
        "first",
    ),
    Case(
        "more_labels_wins_without_names_or_zones",
        [http("one", matchLabels={"a": "1"}), dns("two", matchLabels={"a": "1", "b": "2"})],
        "two",
        labels={"a": "1", "b": "2"},
    ),
    Case(
        "a_missing_label_fails_the_selector",
        [http("default"), dns("labels", matchLabels={"a": "1", "c": "3"})],
        "default",
        labels={"a": "1"},
    ),
    Case(
        "zones_match_on_label_boundaries_only",
        [dns("partial", dnsZones=["ample.com"])],
        None,
    ),
    Case(
        "zone_matching_ignores_case",
        [dns("zone", dnsZones=["Example.COM"])],
        "zone",
    ),
    Case(
        "dns_names_match_the_wildcard_form_exactly",
        [dns("plain", dnsNames=["example.com"]), dns("wild", dnsNames=["*.example.com"])],
        "wild",
        domain="*.example.com",
        offered=[DNS],
    ),
    Case(
        "a_wildcard_authorization_offers_no_http01",
        [http("http")],
        None,
        domain="*.example.com",
        offered=[DNS],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_pick(case: Case) -> None:
    picked = pick(case.domain, case.offered, case.solvers, case.labels)
    assert label_of(picked[0] if picked else None) == case.expect


def test_pick_returns_the_challenge_of_the_chosen_type() -> None:
    picked = pick("a.example.com", [HTTP, DNS], [dns("d")], {})
    assert picked is not None
    assert picked[1] == DNS


@pytest.mark.parametrize(
    ("zone", "domain", "expect"),
    [
        ("example.com", "www.example.com", 2),
        ("example.com.", "www.example.com", 2),
        ("www.example.com", "www.example.com", 3),
        ("example.com", "example.org", 0),
        ("ample.com", "www.example.com", 0),
        ("a.b.example.com", "b.example.com", 0),
    ],
)
def test_zone_match_counts_whole_labels(zone: str, domain: str, expect: int) -> None:
    assert zone_match(zone, domain) == expect


def authz(**extra: Any) -> dict[str, Any]:
    return {
        "url": "https://ca/authz/1",
        "identifier": "example.com",
        "challenges": [HTTP, DNS],
        **extra,
    }


def test_challenge_spec_for_a_wildcard_uses_the_base_name_and_the_dns_solver() -> None:
    spec = challenge_spec(
        authz(wildcard=True, challenges=[DNS]),
        [http("h"), dns("d")],
        {},
        {},
        "ns",
        {"name": "le"},
    )
    assert spec["dnsName"] == "example.com"
    assert spec["wildcard"] is True
    assert spec["type"] == "DNS-01"
    assert spec["token"] == "td"
    assert spec["url"] == DNS["url"]
    assert spec["authorizationURL"] == "https://ca/authz/1"
    assert spec["issuerRef"] == {"name": "le"}


def test_challenge_spec_without_a_usable_solver_says_so() -> None:
    with pytest.raises(SolverError, match=NO_SOLVER_MESSAGE):
        challenge_spec(authz(challenges=[DNS]), [http("h")], {}, {}, "ns", {"name": "le"})


@pytest.mark.parametrize(
    ("annotation", "field_name"),
    [
        ("acme.cert-manager.io/http01-override-ingress-name", "name"),
        ("acme.cert-manager.io/http01-override-ingress-class", "class"),
        ("acme.cert-manager.io/http01-override-ingress-ingressclassname", "ingressClassName"),
    ],
)
def test_one_ingress_override_replaces_the_other_ingress_settings(
    annotation: str, field_name: str
) -> None:
    solver = {"http01": {"ingress": {"name": "old", "class": "nginx", "ingressClassName": "x"}}}
    apply_overrides(solver, {annotation: "new"}, "ns")
    assert solver["http01"]["ingress"] == {field_name: "new"}


def test_two_ingress_overrides_are_refused() -> None:
    solver: dict[str, Any] = {"http01": {"ingress": {}}}
    annotations = {
        "acme.cert-manager.io/http01-override-ingress-name": "a",
        "acme.cert-manager.io/http01-override-ingress-class": "b",
    }
    with pytest.raises(SolverError, match="may not specify more than one"):
        apply_overrides(solver, annotations, "ns")


def test_parent_ref_override_replaces_the_matching_ref_and_defaults_the_namespace() -> None:
    solver = {
        "http01": {
            "gatewayHTTPRoute": {
                "parentRefs": [
                    {"name": "gw", "namespace": "ns", "kind": "Gateway"},
                    {"name": "other", "namespace": "ns"},
                ]
            }
        }
    }
    annotations = {
        "acme.cert-manager.io/http01-parentrefname": "gw",
        "acme.cert-manager.io/http01-parentrefkind": "Gateway",
    }
    apply_overrides(solver, annotations, "ns")
    assert solver["http01"]["gatewayHTTPRoute"]["parentRefs"] == [
        {"name": "other", "namespace": "ns"},
        {"name": "gw", "namespace": "ns", "kind": "Gateway"},
    ]


@pytest.mark.parametrize(
    ("annotations", "message"),
    [
        ({"acme.cert-manager.io/http01-parentrefname": "gw"}, "cannot specify only one"),
        ({}, "must specify parentRefs"),
    ],
)
def test_parent_ref_overrides_must_come_in_pairs_and_leave_a_ref(
    annotations: dict[str, str], message: str
) -> None:
    solver: dict[str, Any] = {"http01": {"gatewayHTTPRoute": {}}}
    with pytest.raises(SolverError, match=message):
        apply_overrides(solver, annotations, "ns")
