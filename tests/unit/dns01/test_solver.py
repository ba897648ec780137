from pathlib import Path

import pytest

from certsmith.acme.dns01 import (
    DNS01ConfigError,
    DNS01Settings,
    DNS01Solver,
    Nameserver,
    PropagationResult,
    ServerAnswer,
    challenge_fqdn,
    not_propagated_message,
)
from certsmith.acme.dns01.execprovider import ExecProvider
from certsmith.acme.dns01.rfc2136 import RFC2136Provider
from certsmith.api.acme import Challenge
from tests.dns01tools import SecretStore, make_dns01_challenge

SETTINGS = DNS01Settings(recursive_nameservers=(Nameserver("192.0.2.53"),))


@pytest.mark.parametrize(
    ("dns_name", "fqdn"),
    [
        ("example.com", "_acme-challenge.example.com."),
        ("www.example.com.", "_acme-challenge.www.example.com."),
        ("*.apps.example.test", "_acme-challenge.apps.example.test."),
    ],
)
def test_challenge_record_name(dns_name, fqdn):
    assert challenge_fqdn(dns_name) == fqdn


def solver() -> DNS01Solver:
    return DNS01Solver(SETTINGS, SecretStore())


@pytest.mark.parametrize(
    ("dns01", "provider_type"),
    [
        ({"rfc2136": {"nameserver": "192.0.2.53"}}, RFC2136Provider),
        (
            {"webhook": {"groupName": "acme.certsmith.io", "solverName": "exec", "config": {}}},
            ExecProvider,
        ),
    ],
)
def test_solver_config_selects_the_provider(dns01, provider_type):
    challenge = make_dns01_challenge(dns01)
    assert challenge.spec.solver.dns01 is not None
    assert isinstance(solver().provider(challenge.spec.solver.dns01), provider_type)


@pytest.mark.parametrize(
    ("dns01", "message"),
    [
        (
            {"cloudflare": {"apiTokenSecretRef": {"name": "cf", "key": "token"}}},
            'DNS-01 provider "cloudflare" is not supported by certsmith; use rfc2136, or the '
            'exec provider (webhook groupName "acme.certsmith.io") with a script for your DNS '
            "provider",
        ),
        (
            {"acmeDNS": {"host": "https://a", "accountSecretRef": {"name": "a", "key": "k"}}},
            'DNS-01 provider "acmeDNS" is not supported by certsmith',
        ),
        (
            {"webhook": {"groupName": "acme.example.com", "solverName": "gandi"}},
            'DNS-01 webhook solver "gandi" of group "acme.example.com" is not supported: '
            'certsmith runs no webhook solvers except groupName "acme.certsmith.io", solverName '
            '"exec" (the exec provider)',
        ),
        ({}, "no DNS-01 provider is configured in the solver"),
    ],
)
async def test_unsupported_providers_fail_present_with_a_clear_message(dns01, message):
    with pytest.raises(DNS01ConfigError) as err:
        await solver().present(make_dns01_challenge(dns01), "ns")
    assert str(err.value).startswith(message)


async def test_a_challenge_without_dns01_solver_is_refused():
    challenge = Challenge.from_dict(
        make_dns01_challenge({}).to_dict()
        | {
            "spec": make_dns01_challenge({}).to_dict()["spec"]
            | {"solver": {"http01": {"ingress": {}}}, "type": "HTTP-01"}
        }
    )
    with pytest.raises(DNS01ConfigError, match=r'challenge for "www\.example\.test" has no dns01'):
        await solver().check(challenge)


def test_solver_nameservers_replace_the_recursive_ones_for_lookups():
    challenge = make_dns01_challenge(
        {"rfc2136": {"nameserver": "192.0.2.53"}, "nameservers": ["198.51.100.1:5353"]}
    )
    assert challenge.spec.solver.dns01 is not None
    client = solver().lookup_client(challenge.spec.solver.dns01)
    assert client.servers == (Nameserver("198.51.100.1", 5353),)
    default = make_dns01_challenge({"rfc2136": {"nameserver": "192.0.2.53"}}).spec.solver.dns01
    assert default is not None
    assert solver().lookup_client(default).servers == (Nameserver("192.0.2.53"),)


def test_settings_from_flags_parse_nameservers_and_scripts():
    settings = DNS01Settings.from_flags(
        ["10.0.0.1", "[2001:db8::1]:5353"],
        recursive_only=True,
        exec_commands=["cf=/opt/hooks/cf.sh"],
        query_timeout=2.5,
    )
    assert settings.recursive_nameservers == (
        Nameserver("10.0.0.1"),
        Nameserver("2001:db8::1", 5353),
    )
    assert settings.check_authoritative is False
    assert settings.exec_commands == {"cf": Path("/opt/hooks/cf.sh")}
    assert settings.query_timeout == 2.5


def result(*answers: ServerAnswer, propagated=False) -> PropagationResult:
    return PropagationResult(
        dns_name="www.example.test",
        fqdn="_acme-challenge.www.example.test.",
        authoritative=True,
        answers=answers,
        propagated=propagated,
    )


def test_not_propagated_text_is_cert_managers():
    assert not_propagated_message("www.example.test") == (
        'DNS record for "www.example.test" not yet propagated'
    )
    assert result().message == 'DNS record for "www.example.test" not yet propagated'


def test_reason_says_which_server_answered_what():
    text = result(
        ServerAnswer("ns1.example.test. (192.0.2.1:53)", "NXDOMAIN"),
        ServerAnswer("ns2.example.test. (192.0.2.2:53)", "NOERROR"),
        ServerAnswer("ns3.example.test. (192.0.2.3:53)", "NOERROR", ("old", "txt-value")),
        ServerAnswer("ns4.example.test. [192.0.2.4:53]", "", error="timed out"),
    ).reason()
    assert text == (
        'DNS record for "www.example.test" not yet propagated (_acme-challenge.www.example.test. '
        "TXT: ns1.example.test. (192.0.2.1:53): NXDOMAIN; ns2.example.test. (192.0.2.2:53): no "
        'TXT record; ns3.example.test. (192.0.2.3:53): TXT "old", "txt-value"; ns4.example.test. '
        "[192.0.2.4:53]: timed out)"
    )


@pytest.mark.parametrize(
    ("answer", "has", "failed"),
    [
        (ServerAnswer("s", "NOERROR", ("txt-value",)), True, False),
        (ServerAnswer("s", "NOERROR", ("other",)), False, False),
        (ServerAnswer("s", "NXDOMAIN"), False, False),
        (ServerAnswer("s", "SERVFAIL"), False, True),
        (ServerAnswer("s", "", error="timed out"), False, True),
    ],
)
def test_server_answer_classification(answer, has, failed):
    assert answer.has("txt-value") is has
    assert answer.failed is failed
