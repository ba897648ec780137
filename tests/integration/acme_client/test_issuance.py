"""Issuance against real pebble: HTTP-01, DNS-01 wildcard, IP, nonce rejection, authz reuse,
problem documents, alternate chains, revocation, and what the request observer sees."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from certsmith.acme import (
    AcmeClient,
    AcmeProblem,
    ChallengeType,
    Identifier,
    NetworkError,
    Status,
    preferred_chain,
)
from certsmith.acme.problems import ALREADY_REVOKED
from tests import pkitools
from tests.integration.acme_client.flows import (
    account_key,
    authorize,
    csr_der,
    finalize,
    issue_http01,
    openssl_verify,
)
from tests.peers.pebble import http01_responder, running_challtestsrv


def _client(pebble, **kwargs) -> AcmeClient:
    return AcmeClient(pebble.directory_url, account_key(), ca_bundle=pebble.ca_bundle, **kwargs)


async def test_http01_issues_a_chain_that_verifies_against_pebbles_root(pebble, tmp_path):
    async with _client(pebble) as client, http01_responder(pebble.http_port) as responder:
        await client.register_account("a@example.test")
        order = await client.new_order([Identifier.dns("www.example.test")])
        assert order.status == Status.PENDING
        (authz,) = await authorize(client, order, responder=responder)
        order, chain = await finalize(client, order)
    assert authz.status == Status.VALID
    solved = authz.challenge(ChallengeType.HTTP01)
    assert solved is not None
    assert solved.status == Status.VALID
    assert len(responder.requests) >= 1
    assert chain.certificates[1] == x509.load_pem_x509_certificate(pebble.intermediate_pem())
    san = chain.certificates[0].extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.value.get_values_for_type(x509.DNSName) == ["www.example.test"]
    assert openssl_verify(chain, pebble.root_pem(), tmp_path).strip().endswith("OK")


async def test_dns01_issues_a_wildcard(pebble, tmp_path):
    assert pebble.challtestsrv is not None
    async with _client(pebble) as client:
        await client.register_account()
        order = await client.new_order([Identifier.dns("*.apps.example.test")])
        (authz,) = await authorize(client, order, dns=pebble.challtestsrv)
        assert authz.wildcard
        assert authz.identifier == Identifier.dns("apps.example.test")
        assert [c.type for c in authz.challenges] == [ChallengeType.DNS01]
        order, chain = await finalize(client, order)
        pebble.challtestsrv.clear_txt("_acme-challenge.apps.example.test")
    assert "OK" in openssl_verify(chain, pebble.root_pem(), tmp_path)


async def test_ip_identifier_by_http01(pebble, tmp_path):
    async with _client(pebble) as client:
        await client.register_account()
        order, chain = await issue_http01(client, pebble, [Identifier.ip("127.0.0.1")])
    assert order.identifiers == (Identifier.ip("127.0.0.1"),)
    assert "OK" in openssl_verify(chain, pebble.root_pem(), tmp_path)


async def test_half_the_nonces_rejected_still_issues(pebble_factory, tmp_path):
    pebble = pebble_factory(nonce_reject=50)
    seen: list[tuple[str, str, str, str, int, float]] = []
    async with _client(pebble, observer=lambda *labels: seen.append(labels)) as client:
        await client.register_account()
        _, chain = await issue_http01(client, pebble, [Identifier.dns("nonces.example.test")])
    assert "OK" in openssl_verify(chain, pebble.root_pem(), tmp_path)
    # The run really met badNonce refusals (a 400 POST), and got through them.
    assert any(label[3] == "POST" and label[4] == 400 for label in seen)


async def _second_order_authz_status(pebble) -> str:
    async with _client(pebble) as client, http01_responder(pebble.http_port) as responder:
        await client.register_account()
        first = await client.new_order([Identifier.dns("reuse.example.test")])
        await authorize(client, first, responder=responder)
        second = await client.new_order([Identifier.dns("reuse.example.test")])
        authz = await client.get_authorization(second.authorizations[0])
        return authz.status


async def test_authz_reuse_on_gives_the_second_order_a_valid_authorization(pebble_factory):
    assert await _second_order_authz_status(pebble_factory(authz_reuse=100)) == Status.VALID


async def test_authz_reuse_off_gives_the_second_order_a_pending_authorization(pebble_factory):
    assert await _second_order_authz_status(pebble_factory(authz_reuse=0)) == Status.PENDING


@pytest.mark.parametrize(
    ("identifier", "types"),
    [
        (Identifier.dns("bad_name.example.test"), {"malformed", "rejectedIdentifier"}),
        (Identifier.dns("*.*.example.test"), {"malformed", "rejectedIdentifier"}),
        (Identifier("email", "a@example.test"), {"malformed", "unsupportedIdentifier"}),
    ],
)
async def test_new_order_for_an_invalid_identifier_surfaces_the_problem(pebble, identifier, types):
    async with _client(pebble) as client:
        await client.register_account()
        with pytest.raises(AcmeProblem) as info:
            await client.new_order([identifier])
    assert info.value.problem.short_type in types
    assert info.value.detail
    assert info.value.status == 400
    assert info.value.detail in str(info.value)


async def test_a_wrong_http01_answer_invalidates_the_authorization(pebble):
    async with _client(pebble) as client, http01_responder(pebble.http_port) as responder:
        await client.register_account()
        order = await client.new_order([Identifier.dns("wrong.example.test")])
        authz = await client.get_authorization(order.authorizations[0])
        challenge = authz.challenge(ChallengeType.HTTP01)
        assert challenge is not None
        responder.tokens[challenge.token] = "not-the-key-authorization"
        await client.accept_challenge(challenge)
        authz = await client.wait_authorization(authz.url, max_wait=60)
        order = await client.get_order(order.url)
    assert authz.status == Status.INVALID
    failed = authz.challenge(ChallengeType.HTTP01)
    assert failed is not None
    assert failed.status == Status.INVALID
    assert failed.error is not None
    assert failed.error.short_type == "unauthorized"
    assert "not-the-key-authorization" in failed.error.detail
    assert order.status == Status.INVALID


async def test_finalize_before_ready_is_order_not_ready(pebble):
    async with _client(pebble) as client:
        await client.register_account()
        order = await client.new_order([Identifier.dns("early.example.test")])
        with pytest.raises(AcmeProblem) as info:
            await client.finalize_order(order, csr_der(order.identifiers))
    assert info.value.problem.short_type == "orderNotReady"


async def test_revoke_by_account_then_again_is_already_revoked(pebble):
    async with _client(pebble) as client:
        await client.register_account()
        _, chain = await issue_http01(client, pebble, [Identifier.dns("revoke.example.test")])
        leaf = chain.certificates[0]
        await client.revoke_certificate(leaf, reason=4)
        with pytest.raises(AcmeProblem) as info:
            await client.revoke_certificate(leaf, reason=4)
    assert info.value.problem.is_type(ALREADY_REVOKED)


async def test_preferred_chain_selects_the_alternate_root(pebble_factory, tmp_path):
    pebble = pebble_factory(alternate_roots=1)
    async with _client(pebble) as client:
        await client.register_account()
        order, default = await issue_http01(client, pebble, [Identifier.dns("chains.example.test")])
        assert order.certificate is not None
        url = order.certificate
        chains = await client.fetch_certificate_chains(url)
        alternate_cn = chains.alternates[0].top_issuer_cn
        chosen = await client.fetch_certificate(url, preferred_chain_cn=alternate_cn)
        fallback = await client.fetch_certificate(url, preferred_chain_cn="Nobody")
    assert len(chains.alternates) == 1
    assert chains.default.pem == default.pem == fallback.pem
    assert alternate_cn != default.top_issuer_cn
    assert chosen.pem == chains.alternates[0].pem == preferred_chain(chains, alternate_cn).pem
    assert "OK" in openssl_verify(chosen, pebble.root_pem(1), tmp_path / "alt")
    assert "OK" not in openssl_verify(chosen, pebble.root_pem(0), tmp_path / "default")


async def test_observer_sees_every_exchange_with_cert_managers_labels(pebble):
    seen: list[tuple[str, str, str, str, int, float]] = []
    async with _client(pebble, observer=lambda *labels: seen.append(labels)) as client:
        await client.register_account()
        await issue_http01(client, pebble, [Identifier.dns("observed.example.test")])
    host = pebble.directory_url.split("/")[2]
    assert {(s[0], s[1]) for s in seen} == {("https", host)}
    assert {s[2] for s in seen} >= {
        "register_account",
        "authorize_order",
        "get_authorization",
        "accept_challenge",
        "wait_authorization",
        "wait_order",
        "create_order_cert",
        "fetch_cert",
    }
    assert {s[3] for s in seen} <= {"GET", "HEAD", "POST"}
    assert all(200 <= s[4] < 300 for s in seen)
    assert all(s[5] >= 0 for s in seen)


async def test_not_after_is_sent_and_honoured(pebble):
    not_after = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=5)).replace(microsecond=0)
    async with _client(pebble) as client:
        await client.register_account()
        order, chain = await issue_http01(
            client, pebble, [Identifier.dns("duration.example.test")], not_after=not_after
        )
    assert order.not_after == not_after
    assert chain.certificates[0].not_valid_after_utc == not_after


async def test_certificate_validity_period_is_configurable(pebble_factory):
    pebble = pebble_factory(validity_seconds=3600)
    async with _client(pebble) as client:
        await client.register_account()
        _, chain = await issue_http01(client, pebble, [Identifier.dns("short.example.test")])
    leaf = chain.certificates[0]
    lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    assert dt.timedelta(minutes=59) <= lifetime <= dt.timedelta(minutes=61)


async def test_revoke_signed_by_the_certificate_key(pebble):
    cert_key = ec.generate_private_key(ec.SECP256R1())
    async with _client(pebble) as client:
        await client.register_account()
        identifiers = [Identifier.dns("keyrevoke.example.test")]
        async with http01_responder(pebble.http_port) as responder:
            order = await client.new_order(identifiers)
            await authorize(client, order, responder=responder)
        order = await client.wait_order(order.url)
        order = await client.finalize_order(order, csr_der(identifiers, cert_key))
        order = await client.wait_order(order.url)
        assert order.certificate is not None
        leaf = (await client.fetch_certificate(order.certificate)).certificates[0]
    # Another account's client: only the certificate's own key can authorise this.
    async with _client(pebble) as stranger:
        await stranger.register_account()
        with pytest.raises(AcmeProblem) as refused:
            await stranger.revoke_certificate(leaf)
        assert refused.value.problem.short_type == "unauthorized"
        await stranger.revoke_certificate(leaf, reason=1, certificate_key=cert_key)
        with pytest.raises(AcmeProblem) as info:
            await stranger.revoke_certificate(leaf, certificate_key=cert_key)
    assert info.value.problem.is_type(ALREADY_REVOKED)


async def test_an_untrusted_server_certificate_is_a_network_error(pebble):
    other_ca = pkitools.pem(pkitools.make_root("someone else")[0])
    async with AcmeClient(pebble.directory_url, account_key(), ca_bundle=other_ca) as client:
        with pytest.raises(NetworkError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.directory()


async def test_skip_tls_verify_talks_to_an_untrusted_server(pebble):
    async with AcmeClient(pebble.directory_url, account_key(), skip_tls_verify=True) as client:
        directory = await client.directory()
    assert directory.renewal_info is None
    assert directory.new_order.startswith("https://127.0.0.1:")


async def test_validation_follows_dns_and_reports_the_connection_failure(pebble):
    assert pebble.challtestsrv is not None
    # Nothing listens on 127.0.0.2: pebble's VA cannot connect.
    pebble.challtestsrv.add_a("elsewhere.example.test", "127.0.0.2")
    async with _client(pebble) as client, http01_responder(pebble.http_port) as responder:
        await client.register_account()
        order = await client.new_order([Identifier.dns("elsewhere.example.test")])
        (authz,) = await authorize(client, order, responder=responder)
    assert authz.status == Status.INVALID
    failed = authz.challenge(ChallengeType.HTTP01)
    assert failed is not None
    assert failed.error is not None
    assert failed.error.short_type == "connection"
    assert "127.0.0.2" in failed.error.detail
    assert responder.requests == []


async def test_pebble_resolves_through_a_given_dns_server(pebble_factory, tmp_path):
    with running_challtestsrv(tmp_path / "dns") as dns:
        pebble = pebble_factory(dns_server=dns.dns_address)
        assert pebble.challtestsrv is None
        async with _client(pebble) as client:
            await client.register_account()
            order = await client.new_order([Identifier.dns("own-dns.example.test")])
            (authz,) = await authorize(client, order, dns=dns)
    assert authz.status == Status.VALID
