"""Order and Challenge names: FNV-1 32-bit over Go's JSON, cert-manager's own test vectors."""

from __future__ import annotations

import pytest

from certsmith.issuers.acme.naming import (
    challenge_name,
    dns_safe_shorten,
    fnv1_32,
    go_struct,
    order_name,
)

ORDER_SPEC = {
    "request": "ignored",
    "issuerRef": {"name": "test-issuer", "kind": "Issuer", "group": "cert-manager.io"},
    "commonName": "example.com",
    "dnsNames": ["example.com", "foo.com"],
}
CHALLENGE_SPEC = {
    "url": "http://chalurl",
    "authorizationURL": "http://authzurl",
    "dnsName": "test.com",
    "wildcard": False,
    "type": "HTTP-01",
    "token": "token",
    "key": "key",
    "solver": {"selector": {"dnsNames": ["test.com"]}, "http01": {"ingress": {}}},
    "issuerRef": {"name": "testissuer", "kind": "Issuer", "group": "cert-manager.io"},
}


@pytest.mark.parametrize(
    ("data", "expect"),
    [(b"", 0x811C9DC5), (b"a", 0x050C5D7E), (b"foobar", 0x31F0B262)],
)
def test_fnv1_32_matches_the_reference_vectors(data: bytes, expect: int) -> None:
    assert fnv1_32(data) == expect


def test_order_name_matches_cert_managers_test_vector() -> None:
    # pkg/controller/certificaterequests/acme/acme_test.go: "test-cr-1733622556"
    assert order_name("test-cr", ORDER_SPEC) == "test-cr-1733622556"


def test_challenge_name_matches_cert_managers_test_vector_and_ignores_the_key() -> None:
    # pkg/controller/acmeorders/sync_test.go: "testorder-2580184217"
    assert challenge_name("testorder", CHALLENGE_SPEC) == "testorder-2580184217"
    assert challenge_name("testorder", {**CHALLENGE_SPEC, "key": "other"}) == (
        "testorder-2580184217"
    )


def test_order_name_ignores_the_csr_but_not_the_identifiers() -> None:
    same = order_name("web-1", {**ORDER_SPEC, "request": "another csr"})
    other = order_name("web-1", {**ORDER_SPEC, "dnsNames": ["example.com"]})
    assert same == order_name("web-1", ORDER_SPEC)
    assert other != same


def test_long_request_names_are_shortened_and_hashed_with_the_name() -> None:
    long_a = "a" * 60
    long_b = "a" * 59 + "b"
    name_a, name_b = order_name(long_a, ORDER_SPEC), order_name(long_b, ORDER_SPEC)
    assert name_a.startswith("a" * 52 + "-")
    assert name_b.startswith("a" * 52 + "-")
    assert name_a != name_b
    assert len(name_a) <= 63


@pytest.mark.parametrize(
    ("given", "expect"),
    [
        ("short", "short"),
        ("a" * 51, "a" * 51),
        ("a" * 51 + "-b", "a" * 51),
        ("a" * 50 + "..xyz", "a" * 50),
    ],
)
def test_dns_safe_shorten_cuts_to_52_and_back_to_a_letter_or_digit(given: str, expect: str) -> None:
    assert dns_safe_shorten(given) == expect


def test_go_json_keeps_declaration_order_omitempty_and_escapes_html() -> None:
    solver = {
        "dns01": {"rfc2136": {"nameserver": "ns<1>&"}},
        "waitInsteadOfSelfCheck": "1m",
    }
    assert go_struct("Solver", solver) == (
        '{"dns01":{"rfc2136":{"nameserver":"ns\\u003c1\\u003e\\u0026",'
        '"tsigSecretSecretRef":{"name":""}}},"waitInsteadOfSelfCheck":"1m0s"}'
    )


def test_order_duration_is_hashed_as_go_prints_it() -> None:
    assert order_name("web-1", {**ORDER_SPEC, "duration": "1h"}) == order_name(
        "web-1", {**ORDER_SPEC, "duration": "60m"}
    )
