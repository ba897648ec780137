from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from certsmith.admission.acme import validate_challenge_update, validate_order_update
from certsmith.api.acme import Challenge, Order

REQUEST = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0K"
OTHER_REQUEST = "b3RoZXI="


def order_dict(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web-1-123", "namespace": "ns"},
        "spec": {"request": REQUEST, "issuerRef": {"name": "le"}, "dnsNames": ["a.example"]},
        "status": status,
    }


AUTHZ = {
    "url": "https://acme/authz/1",
    "identifier": "a.example",
    "wildcard": False,
    "initialState": "pending",
    "challenges": [
        {"url": "https://acme/chall/1", "type": "http-01", "token": "tok"},
        {"url": "https://acme/chall/2", "type": "dns-01", "token": "tok2"},
    ],
}


def edit(base: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    import copy

    copied = copy.deepcopy(base)
    change(copied)
    return copied


@dataclass(frozen=True)
class OrderCase:
    id: str
    old: dict[str, Any]
    new: dict[str, Any]
    expect: tuple[str, ...] = ()


FULL = order_dict(
    url="https://acme/order/1",
    finalizeURL="https://acme/finalize/1",
    certificate="Y2VydA==",
    state="valid",
    authorizations=[AUTHZ],
)

ORDER_CASES = [
    OrderCase("status progress is free", order_dict(state="pending"), order_dict(state="ready")),
    OrderCase(
        "empty fields may be filled in",
        order_dict(),
        order_dict(url="u", finalizeURL="f", certificate="Y2VydA==", authorizations=[AUTHZ]),
    ),
    OrderCase(
        "request may not change",
        order_dict(),
        edit(order_dict(), lambda o: o["spec"].update(request=OTHER_REQUEST)),
        ("spec.request: Forbidden: field is immutable once set",),
    ),
    OrderCase(
        "other spec fields are not checked",
        order_dict(),
        edit(order_dict(), lambda o: o["spec"].update(dnsNames=["b.example"])),
    ),
    OrderCase(
        "url, finalizeURL and certificate are frozen once set",
        FULL,
        edit(
            FULL,
            lambda o: o["status"].update(url="x", finalizeURL="y", certificate="b3RoZXI="),
        ),
        (
            "status.url: Forbidden: field is immutable once set",
            "status.finalizeURL: Forbidden: field is immutable once set",
            "status.certificate: Forbidden: field is immutable once set",
        ),
    ),
    OrderCase(
        "authorizations may not be added or removed",
        FULL,
        edit(FULL, lambda o: o["status"]["authorizations"].append(AUTHZ)),
        ("status.authorizations: Forbidden: field is immutable once set",),
    ),
    OrderCase(
        "authorization fields are frozen once set",
        FULL,
        edit(
            FULL,
            lambda o: o["status"]["authorizations"][0].update(
                url="x", identifier="b.example", wildcard=True, initialState="valid"
            ),
        ),
        (
            "status.authorizations[0].url: Forbidden: field is immutable once set",
            "status.authorizations[0].identifier: Forbidden: field is immutable once set",
            "status.authorizations[0].wildcard: Forbidden: field is immutable once set",
            "status.authorizations[0].initialState: Forbidden: field is immutable once set",
        ),
    ),
    OrderCase(
        "unset wildcard may be set",
        edit(FULL, lambda o: o["status"]["authorizations"][0].pop("wildcard")),
        edit(FULL, lambda o: o["status"]["authorizations"][0].update(wildcard=True)),
    ),
    OrderCase(
        "challenge fields are frozen once set",
        FULL,
        edit(
            FULL,
            lambda o: o["status"]["authorizations"][0]["challenges"][1].update(
                url="x", type="tls-alpn-01", token="t"
            ),
        ),
        (
            "status.authorizations[0].challenges[1].url: Forbidden: field is immutable once set",
            "status.authorizations[0].challenges[1].type: Forbidden: field is immutable once set",
            "status.authorizations[0].challenges[1].token: Forbidden: field is immutable once set",
        ),
    ),
    OrderCase(
        "challenges may not be dropped",
        FULL,
        edit(FULL, lambda o: o["status"]["authorizations"][0]["challenges"].pop()),
        ("status.authorizations[0].challenges: Forbidden: field is immutable once set",),
    ),
]


@pytest.mark.parametrize("case", ORDER_CASES, ids=lambda c: c.id)
def test_order_update_rules(case: OrderCase):
    errors = validate_order_update(Order.from_dict(case.old), Order.from_dict(case.new))
    assert tuple(map(str, errors)) == case.expect


def challenge_dict(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "url": "https://acme/chall/1",
        "authorizationURL": "https://acme/authz/1",
        "dnsName": "a.example",
        "issuerRef": {"name": "le"},
        "key": "k",
        "solver": {"http01": {"ingress": {"class": "nginx"}}},
        "token": "tok",
        "type": "HTTP-01",
    }
    base.update(spec)
    return {"metadata": {"name": "c", "namespace": "ns"}, "spec": base}


@dataclass(frozen=True)
class ChallengeCase:
    id: str
    new: dict[str, Any]
    expect: tuple[str, ...] = ()


CHALLENGE_CASES = [
    ChallengeCase(
        "status changes are allowed",
        {**challenge_dict(), "status": {"processing": True, "state": "pending"}},
    ),
    ChallengeCase(
        "any spec change is refused",
        challenge_dict(key="other"),
        ("spec: Forbidden: challenge spec is immutable after creation",),
    ),
    ChallengeCase(
        "solver change is refused",
        challenge_dict(solver={"http01": {"ingress": {"class": "traefik"}}}),
        ("spec: Forbidden: challenge spec is immutable after creation",),
    ),
]


@pytest.mark.parametrize("case", CHALLENGE_CASES, ids=lambda c: c.id)
def test_challenge_update_rules(case: ChallengeCase):
    old = Challenge.from_dict(challenge_dict())
    errors = validate_challenge_update(old, Challenge.from_dict(case.new))
    assert tuple(map(str, errors)) == case.expect
