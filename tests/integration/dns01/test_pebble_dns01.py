"""DNS-01 end to end at the ACME level: pebble validates through bind9 what DNS01Solver wrote.

pebble resolves through the session's bind9 (``-dnsserver``); the solver writes the TXT record
with RFC 2136 and TSIG, checks propagation on the zone's NS, and cleans up after validation.
"""

from pathlib import Path
from typing import Any

from certsmith.acme import AcmeClient, ChallengeType, Identifier, Status
from certsmith.acme.dns01 import DNS01Solver
from tests.dns01tools import bind9_rfc2136, bind9_settings, bind9_tsig_store, make_dns01_challenge
from tests.integration.acme_client.flows import account_key, finalize, openssl_verify
from tests.peers.bind9 import Bind9


async def issue_by_dns01(
    bind9: Bind9,
    pebble: Any,
    names: list[str],
    dns01: dict[str, Any],
    algorithm: str = "HMACSHA256",
) -> tuple[list[str], Any]:
    """Order ``names``, solve every authorization with DNS01Solver, finalize.

    Returns the record names written and the chain.
    """
    solver = DNS01Solver(bind9_settings(bind9), bind9_tsig_store(bind9, algorithm))
    written = []
    async with AcmeClient(
        pebble.directory_url, account_key(), ca_bundle=pebble.ca_bundle
    ) as client:
        await client.register_account()
        order = await client.new_order([Identifier.dns(name) for name in names])
        for url in order.authorizations:
            authz = await client.get_authorization(url)
            acme_challenge = authz.challenge(ChallengeType.DNS01)
            assert acme_challenge is not None
            challenge = make_dns01_challenge(
                dns01,
                dns_name=authz.identifier.value,
                key=client.dns01_txt_value(acme_challenge.token),
                wildcard=bool(authz.wildcard),
            )
            request = await solver.present(challenge, "ns")
            written.append(request.resolved_fqdn)
            assert (await solver.check(challenge)).propagated
            await client.accept_challenge(acme_challenge)
            authz = await client.wait_authorization(url, max_wait=60)
            assert authz.status == Status.VALID, [c.error for c in authz.challenges]
            await solver.cleanup(challenge, "ns")
            assert challenge.spec.key not in bind9.txt(request.resolved_fqdn)
        _, chain = await finalize(client, order)
    return written, chain


async def test_pebble_issues_for_a_name_and_a_wildcard_validated_through_bind9(
    bind9, pebble_factory, tmp_path: Path
):
    pebble = pebble_factory(dns_server=bind9.address)
    name = f"{bind9.unique()}.www.example.test"
    written, chain = await issue_by_dns01(
        bind9,
        pebble,
        [name, "*.apps.example.test"],
        bind9_rfc2136(bind9, "HMACSHA512"),
        algorithm="HMACSHA512",
    )
    assert sorted(written) == sorted(
        [f"_acme-challenge.{name}.", "_acme-challenge.apps.example.test."]
    )
    assert "OK" in openssl_verify(chain, pebble.root_pem(), tmp_path)


async def test_pebble_follows_the_cname_the_solver_followed(bind9, pebble_factory, tmp_path):
    pebble = pebble_factory(dns_server=bind9.address)
    dns01 = bind9_rfc2136(bind9) | {"cnameStrategy": "Follow"}
    written, chain = await issue_by_dns01(bind9, pebble, ["inzone.example.test"], dns01)
    assert written == ["_acme-challenge.inzone-target.example.test."]
    assert "OK" in openssl_verify(chain, pebble.root_pem(), tmp_path)
