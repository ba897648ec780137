"""The DNS-01 self-check against a real bind9 (and a stand-in second NS for two-ns.test)."""

from typing import Any

import dns.rcode
import pytest

from certsmith.acme.dns01 import (
    DNS01Error,
    DNS01Solver,
    PropagationCheckError,
)
from tests.dns01tools import bind9_rfc2136, bind9_settings, bind9_tsig_store, make_dns01_challenge
from tests.integration.dns01.secondary import running_secondary
from tests.peers.bind9 import SECONDARY_ADDRESS, Bind9


def solver_for(bind9: Bind9, **overrides: Any) -> DNS01Solver:
    return DNS01Solver(bind9_settings(bind9, **overrides), bind9_tsig_store(bind9))


def dns01(bind9: Bind9, **extra: Any) -> dict[str, Any]:
    return bind9_rfc2136(bind9) | extra


async def test_authoritative_check_is_false_before_present_and_true_after(bind9):
    solver = solver_for(bind9)
    name = f"{bind9.unique()}.www.example.test"  # below www, so no wildcard: NXDOMAIN
    challenge = make_dns01_challenge(dns01(bind9), dns_name=name, key="abc")
    before = await solver.check(challenge)
    assert before.propagated is False
    assert before.authoritative is True
    assert before.reason() == (
        f'DNS record for "{name}" not yet propagated (_acme-challenge.{name}. TXT: '
        f"ns1.example.test. (127.0.0.1:{bind9.port}): NXDOMAIN)"
    )
    await solver.present(challenge, "ns")
    after = await solver.check(challenge)
    assert after.propagated is True
    assert after.details() == f'ns1.example.test. (127.0.0.1:{bind9.port}): TXT "abc"'


async def test_a_name_matched_by_a_wildcard_has_no_txt_record_yet(bind9):
    # example.test has "* A": the challenge name exists (NOERROR) but has no TXT record.
    name = f"{bind9.unique()}.example.test"
    result = await solver_for(bind9).check(make_dns01_challenge(dns01(bind9), dns_name=name))
    assert result.propagated is False
    assert result.details() == f"ns1.example.test. (127.0.0.1:{bind9.port}): no TXT record"


async def test_another_value_at_the_name_is_not_propagation(bind9):
    solver = solver_for(bind9)
    name = f"{bind9.unique()}.example.test"
    await solver.present(make_dns01_challenge(dns01(bind9), dns_name=name, key="other"), "ns")
    result = await solver.check(make_dns01_challenge(dns01(bind9), dns_name=name, key="mine"))
    assert result.propagated is False
    assert result.answers[0].values == ("other",)


@pytest.mark.parametrize("how", ["solver nameservers", "recursive-only flag"])
async def test_recursive_mode_asks_the_configured_nameservers(bind9, how):
    name = f"{bind9.unique()}.www.example.test"
    extra = {"nameservers": [bind9.address]} if how == "solver nameservers" else {}
    solver = solver_for(bind9, check_authoritative=how != "recursive-only flag")
    challenge = make_dns01_challenge(dns01(bind9, **extra), dns_name=name, key="rec")
    before = await solver.check(challenge)
    assert before.authoritative is False
    assert before.propagated is False
    assert before.details() == f"127.0.0.1:{bind9.port}: NXDOMAIN"
    await solver.present(challenge, "ns")
    after = await solver.check(challenge)
    assert after.propagated is True
    assert after.details() == f'127.0.0.1:{bind9.port}: TXT "rec"'


async def test_check_follows_cnames_to_the_target(bind9):
    solver = solver_for(bind9)
    key = bind9.unique("c")
    challenge = make_dns01_challenge(
        dns01(bind9, cnameStrategy="Follow"), dns_name="alias.example.test", key=key
    )
    await solver.present(challenge, "ns")
    result = await solver.check(challenge)
    assert result.fqdn == "_acme-challenge.target.acme-delegate.test."
    assert result.propagated is True
    await solver.cleanup(challenge, "ns")
    assert (await solver.check(challenge)).propagated is False


async def test_wildcard_check_looks_at_the_base_name(bind9):
    solver = solver_for(bind9)
    key = bind9.unique("w")
    challenge = make_dns01_challenge(
        dns01(bind9), dns_name="*.apps.example.test", key=key, wildcard=True
    )
    await solver.present(challenge, "ns")
    result = await solver.check(challenge)
    assert result.fqdn == "_acme-challenge.apps.example.test."
    assert result.propagated is True
    await solver.cleanup(challenge, "ns")


async def test_every_authoritative_nameserver_must_serve_the_value(bind9):
    solver = solver_for(bind9)
    name = f"{bind9.unique()}.two-ns.test"
    fqdn = f"_acme-challenge.{name}."
    challenge = make_dns01_challenge(dns01(bind9), dns_name=name, key="v1")
    await solver.present(challenge, "ns")
    async with running_secondary(SECONDARY_ADDRESS, bind9.port) as secondary:
        lagging = await solver.check(challenge)
        assert lagging.propagated is False
        assert lagging.details() == (
            f'ns1.two-ns.test. (127.0.0.1:{bind9.port}): TXT "v1"; '
            f"ns2.two-ns.test. ({SECONDARY_ADDRESS}:{bind9.port}): NXDOMAIN"
        )
        secondary.txt[fqdn] = ["v1"]
        assert (await solver.check(challenge)).propagated is True
        # Authoritative servers are asked without recursion.
        assert (fqdn, False) in secondary.queries


async def test_an_error_rcode_from_one_nameserver_is_an_error_naming_it(bind9):
    solver = solver_for(bind9)
    name = f"{bind9.unique()}.two-ns.test"
    challenge = make_dns01_challenge(dns01(bind9), dns_name=name, key="v1")
    await solver.present(challenge, "ns")
    async with running_secondary(SECONDARY_ADDRESS, bind9.port) as secondary:
        secondary.rcode = dns.rcode.SERVFAIL
        with pytest.raises(PropagationCheckError) as err:
            await solver.check(challenge)
    assert str(err.value) == (
        f"checking _acme-challenge.{name}. TXT: ns2.two-ns.test. "
        f"({SECONDARY_ADDRESS}:{bind9.port}): SERVFAIL"
    )
    assert [a.rcode for a in err.value.result.answers] == ["NOERROR", "SERVFAIL"]


async def test_a_silent_nameserver_is_an_error_after_the_query_timeout(bind9):
    solver = solver_for(bind9, query_timeout=0.3)
    name = f"{bind9.unique()}.two-ns.test"  # nothing listens on ns2's address
    with pytest.raises(PropagationCheckError) as err:
        await solver.check(make_dns01_challenge(dns01(bind9), dns_name=name))
    assert str(err.value).startswith(
        f"checking _acme-challenge.{name}. TXT: ns2.two-ns.test.: TXT query for "
        f"_acme-challenge.{name}. to {SECONDARY_ADDRESS}:{bind9.port} failed: The DNS operation "
        "timed out"
    )
    assert err.value.result.answers[0].rcode == "NXDOMAIN"


async def test_refused_in_recursive_mode_is_an_error(bind9):
    solver = solver_for(bind9)
    challenge = make_dns01_challenge(
        dns01(bind9, nameservers=[bind9.address]), dns_name="www.elsewhere.invalid"
    )
    with pytest.raises(PropagationCheckError) as err:
        await solver.check(challenge)
    assert str(err.value) == (
        f"checking _acme-challenge.www.elsewhere.invalid. TXT: 127.0.0.1:{bind9.port}: REFUSED"
    )


async def test_zone_lookup_refused_is_an_error(bind9):
    solver = solver_for(bind9)
    challenge = make_dns01_challenge(dns01(bind9), dns_name="www.elsewhere.invalid")
    with pytest.raises(DNS01Error) as err:
        await solver.present(challenge, "ns")
    assert str(err.value) == (
        'looking up the SOA record of "_acme-challenge.www.elsewhere.invalid." at '
        f"127.0.0.1:{bind9.port}: expected NOERROR or NXDOMAIN, got REFUSED"
    )
