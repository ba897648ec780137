"""RFC 2136 present/cleanup against a real bind9 (tests/peers/bind9.py)."""

import pytest

from certsmith.acme.dns01 import (
    DNS01ConfigError,
    DNS01Error,
    DNS01Settings,
    DNS01Solver,
    DNSUpdateError,
    Nameserver,
)
from tests.dns01tools import (
    SecretStore,
    bind9_rfc2136,
    bind9_settings,
    bind9_tsig_store,
    make_dns01_challenge,
)


@pytest.mark.parametrize("algorithm", ["HMACMD5", "HMACSHA1", "HMACSHA256", "HMACSHA512"])
async def test_present_writes_the_record_with_each_tsig_algorithm(bind9, algorithm):
    name = f"{bind9.unique()}.example.test"
    solver = DNS01Solver(bind9_settings(bind9), bind9_tsig_store(bind9, algorithm))
    challenge = make_dns01_challenge(
        bind9_rfc2136(bind9, algorithm), dns_name=name, key="v-" + algorithm
    )
    request = await solver.present(challenge, "ns")
    assert request.resolved_fqdn == f"_acme-challenge.{name}."
    assert request.resolved_zone == "example.test."
    assert bind9.txt(f"_acme-challenge.{name}.") == ["v-" + algorithm]


@pytest.mark.parametrize("algorithm", ["hmacmd5", "HmacSha512"])
async def test_algorithm_names_are_case_insensitive_against_bind9(bind9, algorithm):
    name = f"{bind9.unique()}.example.test"
    upper = algorithm.upper()
    dns01 = bind9_rfc2136(bind9, upper)
    dns01["rfc2136"]["tsigAlgorithm"] = algorithm
    solver = DNS01Solver(bind9_settings(bind9), bind9_tsig_store(bind9, upper))
    await solver.present(make_dns01_challenge(dns01, dns_name=name), "ns")
    assert bind9.txt(f"_acme-challenge.{name}.") == ["txt-value"]


async def test_md5_is_the_default_algorithm(bind9):
    name = f"{bind9.unique()}.example.test"
    dns01 = bind9_rfc2136(bind9, "HMACMD5")
    del dns01["rfc2136"]["tsigAlgorithm"]
    solver = DNS01Solver(bind9_settings(bind9), bind9_tsig_store(bind9, "HMACMD5"))
    await solver.present(make_dns01_challenge(dns01, dns_name=name), "ns")
    assert bind9.txt(f"_acme-challenge.{name}.") == ["txt-value"]


@pytest.mark.parametrize("protocol", ["UDP", "TCP"])
async def test_updates_go_over_udp_or_tcp(bind9, protocol):
    name = f"{bind9.unique()}.example.test"
    solver = DNS01Solver(bind9_settings(bind9), bind9_tsig_store(bind9))
    challenge = make_dns01_challenge(bind9_rfc2136(bind9, protocol=protocol), dns_name=name)
    await solver.present(challenge, "ns")
    assert bind9.txt(f"_acme-challenge.{name}.") == ["txt-value"]
    await solver.cleanup(challenge, "ns")
    assert bind9.txt(f"_acme-challenge.{name}.") == []


async def test_cleanup_removes_only_its_own_value(bind9):
    # example.com and *.example.com share one record name with two values.
    name = f"{bind9.unique()}.example.test"
    solver = DNS01Solver(bind9_settings(bind9), bind9_tsig_store(bind9))
    plain = make_dns01_challenge(bind9_rfc2136(bind9), dns_name=name, key="for-plain")
    wildcard = make_dns01_challenge(
        bind9_rfc2136(bind9), dns_name=name, key="for-wildcard", wildcard=True
    )
    await solver.present(plain, "ns")
    await solver.present(wildcard, "ns")
    assert bind9.txt(f"_acme-challenge.{name}.") == ["for-plain", "for-wildcard"]
    await solver.cleanup(plain, "ns")
    assert bind9.txt(f"_acme-challenge.{name}.") == ["for-wildcard"]


async def test_present_and_cleanup_are_idempotent(bind9):
    name = f"{bind9.unique()}.example.test"
    solver = DNS01Solver(bind9_settings(bind9), bind9_tsig_store(bind9))
    challenge = make_dns01_challenge(bind9_rfc2136(bind9), dns_name=name)
    await solver.present(challenge, "ns")
    await solver.present(challenge, "ns")
    assert bind9.txt(f"_acme-challenge.{name}.") == ["txt-value"]
    await solver.cleanup(challenge, "ns")
    await solver.cleanup(challenge, "ns")
    assert bind9.txt(f"_acme-challenge.{name}.") == []


async def test_wrong_tsig_secret_is_refused_with_the_key_named_and_no_secret(bind9):
    wrong = bind9.keys["HMACSHA512"].secret  # a valid secret, of another key
    solver = DNS01Solver(bind9_settings(bind9), bind9_tsig_store(bind9, secret=wrong))
    name = f"{bind9.unique()}.example.test"
    with pytest.raises(DNSUpdateError) as err:
        await solver.present(make_dns01_challenge(bind9_rfc2136(bind9), dns_name=name), "ns")
    assert str(err.value) == (
        f'DNS update for zone "example.test." sent to {bind9.address}: the server refused TSIG '
        f'key "{bind9.keys["HMACSHA256"].name}." (BADSIG): the signature does not verify; the '
        "secret in tsigSecretSecretRef or tsigAlgorithm does not match the server's key"
    )
    assert wrong not in str(err.value)
    assert bind9.txt(f"_acme-challenge.{name}.") == []


async def test_unknown_tsig_key_name_is_refused_as_badkey(bind9):
    dns01 = bind9_rfc2136(bind9)
    dns01["rfc2136"]["tsigKeyName"] = "no-such-key"
    solver = DNS01Solver(bind9_settings(bind9), bind9_tsig_store(bind9))
    with pytest.raises(DNSUpdateError) as err:
        await solver.present(
            make_dns01_challenge(dns01, dns_name=f"{bind9.unique()}.example.test"), "ns"
        )
    assert 'the server refused TSIG key "no-such-key." (BADKEY)' in str(err.value)


async def test_zone_the_key_may_not_update_is_refused(bind9):
    solver = DNS01Solver(bind9_settings(bind9), bind9_tsig_store(bind9))
    challenge = make_dns01_challenge(bind9_rfc2136(bind9), dns_name="www.locked.test")
    with pytest.raises(DNSUpdateError) as err:
        await solver.present(challenge, "ns")
    assert str(err.value) == "DNS update failed. Server replied: REFUSED"


async def test_unsigned_update_is_refused_by_update_policy(bind9):
    solver = DNS01Solver(bind9_settings(bind9), SecretStore())
    challenge = make_dns01_challenge(
        {"rfc2136": {"nameserver": bind9.address}}, dns_name=f"{bind9.unique()}.example.test"
    )
    with pytest.raises(DNSUpdateError, match=r"^DNS update failed\. Server replied: REFUSED$"):
        await solver.present(challenge, "ns")


async def test_missing_tsig_secret_fails_before_anything_is_sent(bind9):
    solver = DNS01Solver(bind9_settings(bind9), SecretStore())
    challenge = make_dns01_challenge(
        bind9_rfc2136(bind9), dns_name=f"{bind9.unique()}.example.test"
    )
    with pytest.raises(DNS01ConfigError) as err:
        await solver.present(challenge, "ns")
    assert str(err.value) == 'failed to get secret "tsig": secrets "tsig" not found'


async def test_cname_follow_writes_the_record_at_the_target(bind9):
    solver = DNS01Solver(bind9_settings(bind9), bind9_tsig_store(bind9))
    key = bind9.unique("v")
    challenge = make_dns01_challenge(
        bind9_rfc2136(bind9) | {"cnameStrategy": "Follow"}, dns_name="alias.example.test", key=key
    )
    request = await solver.present(challenge, "ns")
    assert request.resolved_fqdn == "_acme-challenge.target.acme-delegate.test."
    assert request.resolved_zone == "acme-delegate.test."
    assert key in bind9.txt("_acme-challenge.target.acme-delegate.test.")
    assert bind9.txt("_acme-challenge.alias.example.test.") == []
    await solver.cleanup(challenge, "ns")
    assert key not in bind9.txt("_acme-challenge.target.acme-delegate.test.")


async def test_without_follow_the_cname_itself_is_the_record_name(bind9):
    solver = DNS01Solver(bind9_settings(bind9), bind9_tsig_store(bind9))
    challenge = make_dns01_challenge(bind9_rfc2136(bind9), dns_name="alias.example.test")
    request = await solver.request(challenge, "present", "ns")
    assert request.resolved_fqdn == "_acme-challenge.alias.example.test."


async def test_cname_loop_is_reported(bind9):
    solver = DNS01Solver(bind9_settings(bind9), bind9_tsig_store(bind9))
    challenge = make_dns01_challenge(
        bind9_rfc2136(bind9) | {"cnameStrategy": "Follow"}, dns_name="loop1.example.test"
    )
    with pytest.raises(
        DNS01Error, match=r'found a CNAME loop: "_acme-challenge\.loop1\.example\.test\."'
    ):
        await solver.present(challenge, "ns")


async def test_wildcard_identifier_writes_under_its_base_name(bind9):
    solver = DNS01Solver(bind9_settings(bind9), bind9_tsig_store(bind9))
    key = bind9.unique("w")
    challenge = make_dns01_challenge(
        bind9_rfc2136(bind9), dns_name="*.apps.example.test", key=key, wildcard=True
    )
    request = await solver.present(challenge, "ns")
    assert request.resolved_fqdn == "_acme-challenge.apps.example.test."
    assert key in bind9.txt("_acme-challenge.apps.example.test.")
    await solver.cleanup(challenge, "ns")
    assert key not in bind9.txt("_acme-challenge.apps.example.test.")


async def test_nameserver_given_by_hostname_is_resolved(bind9):
    name = f"{bind9.unique()}.example.test"
    dns01 = bind9_rfc2136(bind9)
    dns01["rfc2136"]["nameserver"] = f"localhost:{bind9.port}"
    solver = DNS01Solver(bind9_settings(bind9), bind9_tsig_store(bind9))
    await solver.present(make_dns01_challenge(dns01, dns_name=name), "ns")
    assert bind9.txt(f"_acme-challenge.{name}.") == ["txt-value"]


async def test_no_reply_from_the_update_server_is_a_timeout_error(bind9):
    dns01 = bind9_rfc2136(bind9)
    dns01["rfc2136"]["nameserver"] = "192.0.2.1:53"  # TEST-NET-1: nothing answers
    fast = DNS01Settings(
        recursive_nameservers=(Nameserver("127.0.0.1", bind9.port),), update_timeout=0.3
    )
    solver = DNS01Solver(fast, bind9_tsig_store(bind9))
    with pytest.raises(DNSUpdateError) as err:
        await solver.present(
            make_dns01_challenge(dns01, dns_name=f"{bind9.unique()}.example.test"), "ns"
        )
    assert str(err.value) == (
        'DNS update for zone "example.test." sent to 192.0.2.1:53 over UDP: no reply within 0.3 s'
    )
