"""Parsing of ACME resources and the preferred-chain choice."""

from __future__ import annotations

import datetime as dt

import pytest

from certsmith.acme import (
    Authorization,
    CertificateChain,
    CertificateChains,
    Directory,
    Identifier,
    Order,
    RenewalInfo,
    preferred_chain,
)
from certsmith.acme.models import parse_time
from certsmith.acme.problems import AcmeProtocolError
from tests import pkitools

DIRECTORY = {
    "newNonce": "https://a.test/nonce",
    "newAccount": "https://a.test/acct",
    "newOrder": "https://a.test/order",
    "revokeCert": "https://a.test/revoke",
    "keyChange": "https://a.test/key",
    "meta": {"externalAccountRequired": True, "termsOfService": "https://a.test/tos"},
}


def test_directory_without_renewal_info_has_none():
    directory = Directory.from_json("https://a.test/dir", DIRECTORY)
    assert directory.renewal_info is None
    assert directory.external_account_required
    assert directory.terms_of_service == "https://a.test/tos"
    assert directory.profiles == {}


def test_directory_with_renewal_info_and_profiles():
    data = {
        **DIRECTORY,
        "renewalInfo": "https://a.test/ari",
        "meta": {"profiles": {"classic": "the usual", "shortlived": "6 days"}},
    }
    directory = Directory.from_json("https://a.test/dir", data)
    assert directory.renewal_info == "https://a.test/ari"
    assert set(directory.profiles) == {"classic", "shortlived"}


def test_directory_missing_new_order_is_a_protocol_error():
    data = {k: v for k, v in DIRECTORY.items() if k != "newOrder"}
    with pytest.raises(AcmeProtocolError, match="newOrder"):
        Directory.from_json("https://a.test/dir", data)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-28T22:23:27Z", dt.datetime(2026, 11, 28, 22, 23, 27, tzinfo=dt.UTC)),
        (
            "2026-11-28T22:23:27.123456789Z",
            dt.datetime(2026, 11, 28, 22, 23, 27, 123456, tzinfo=dt.UTC),
        ),
        ("2026-11-28T23:23:27+01:00", dt.datetime(2026, 11, 28, 22, 23, 27, tzinfo=dt.UTC)),
        ("garbage", None),
        (None, None),
    ],
)
def test_parse_time(text, expected):
    assert parse_time(text) == expected


def test_order_parses_error_profile_and_replaces():
    order = Order.from_json(
        "https://a.test/order/1",
        {
            "status": "invalid",
            "identifiers": [{"type": "dns", "value": "a.test"}, {"type": "ip", "value": "::1"}],
            "authorizations": ["https://a.test/authz/1"],
            "finalize": "https://a.test/order/1/finalize",
            "error": {"type": "urn:ietf:params:acme:error:unauthorized", "detail": "no"},
            "profile": "shortlived",
            "replaces": "aYhb.AIdl",
        },
    )
    assert order.identifiers == (Identifier.dns("a.test"), Identifier.ip("::1"))
    assert order.error is not None
    assert order.error.short_type == "unauthorized"
    assert (order.profile, order.replaces) == ("shortlived", "aYhb.AIdl")


def test_authorization_finds_its_challenges_by_type():
    authz = Authorization.from_json(
        "https://a.test/authz/1",
        {
            "identifier": {"type": "dns", "value": "example.test"},
            "status": "pending",
            "wildcard": True,
            "challenges": [
                {"url": "https://a.test/c/1", "type": "dns-01", "token": "t1", "status": "pending"},
            ],
        },
    )
    assert authz.wildcard
    challenge = authz.challenge("dns-01")
    assert challenge is not None
    assert challenge.token == "t1"
    assert authz.challenge("http-01") is None


def test_ip_identifiers_are_canonical():
    assert Identifier.ip("2001:DB8:0:0::1").value == "2001:db8::1"


def _chain(url: str, root_cn: str) -> CertificateChain:
    root, root_key = pkitools.make_root(root_cn)
    inter, inter_key = pkitools.make_intermediate(f"{root_cn} intermediate", root, root_key)
    leaf = pkitools.make_leaf("leaf", inter, inter_key)
    return CertificateChain(url, pkitools.pem(leaf, inter).decode())


CHAINS = CertificateChains(
    _chain("https://a.test/cert/1", "Root X1"),
    (_chain("https://a.test/cert/1/1", "Root X2"), _chain("https://a.test/cert/1/2", "Root X3")),
)


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("Root X1", "https://a.test/cert/1"),
        ("Root X2", "https://a.test/cert/1/1"),
        ("Root X3", "https://a.test/cert/1/2"),
        ("root x2", "https://a.test/cert/1"),  # exact match only
        ("Root X1 intermediate", "https://a.test/cert/1"),  # the leaf's issuer does not count
        ("", "https://a.test/cert/1"),
        (None, "https://a.test/cert/1"),
    ],
)
def test_preferred_chain_matches_the_top_certificates_issuer_cn(name, url):
    assert preferred_chain(CHAINS, name).url == url


def test_preferred_chain_accepts_a_plain_list():
    assert preferred_chain(list(CHAINS.all), "Root X3").url == "https://a.test/cert/1/2"


def test_renewal_info_window_and_pick_time():
    info = RenewalInfo.from_json(
        {
            "suggestedWindow": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-03T00:00:00Z"},
            "explanationURL": "https://a.test/why",
        },
        retry_after=21600,
    )
    assert info.explanation_url == "https://a.test/why"
    assert info.retry_after == 21600
    assert info.pick_time(lambda: 0.5) == dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    assert info.pick_time(lambda: 0.0) == info.start


@pytest.mark.parametrize(
    "window",
    [
        None,
        {"start": "2026-01-03T00:00:00Z", "end": "2026-01-01T00:00:00Z"},  # end before start
        {"start": "2026-01-03T00:00:00Z"},
    ],
)
def test_renewal_info_without_a_valid_window_is_a_protocol_error(window):
    data = {} if window is None else {"suggestedWindow": window}
    with pytest.raises(AcmeProtocolError, match="suggestedWindow"):
        RenewalInfo.from_json(data)
