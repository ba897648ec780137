"""DNS-01 settling: after the first passing check the Challenge waits without holding a worker."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import pytest

from certsmith.acme.dns01 import DNS01Solver, PropagationResult, ServerAnswer
from certsmith.api.acme import Challenge
from certsmith.controllers.acme.http01 import Http01Registry, Http01Responder, SelfCheckOptions
from certsmith.controllers.acme.solving import ChallengeSolvers, NotReadyError, SettlingError
from certsmith.util.clock import FakeClock


class Propagation:
    """What the DNS check sees: propagated or not."""

    def __init__(self) -> None:
        self.propagated = True

    async def check(self, challenge: Challenge) -> PropagationResult:
        return PropagationResult(
            dns_name="example.com",
            fqdn="_acme-challenge.example.com.",
            authoritative=True,
            answers=cast(tuple[ServerAnswer, ...], ()),
            propagated=self.propagated,
        )


def dns_challenge() -> Challenge:
    data: dict[str, Any] = {
        "metadata": {"name": "c", "namespace": "ns", "uid": "u1"},
        "spec": {
            "url": "u",
            "authorizationURL": "a",
            "dnsName": "example.com",
            "type": "DNS-01",
            "token": "t",
            "key": "k",
            "solver": {"dns01": {"rfc2136": {"nameserver": "192.0.2.1"}}},
            "issuerRef": {"name": "le"},
        },
    }
    return Challenge.from_dict(data)


async def test_a_propagated_record_settles_for_the_period_then_passes() -> None:
    clock = FakeClock()
    dns = Propagation()
    solvers = ChallengeSolvers(dns01=cast(DNS01Solver, dns), dns01_settle=60, clock=clock)
    with pytest.raises(SettlingError) as caught:
        await solvers.check(dns_challenge())
    assert caught.value.remaining == 60
    assert str(caught.value).startswith('DNS record for "example.com" propagated; waiting until ')
    clock.advance(dt.timedelta(seconds=30))
    with pytest.raises(SettlingError) as again:
        await solvers.check(dns_challenge())
    assert again.value.remaining == 30
    clock.advance(dt.timedelta(seconds=30))
    await solvers.check(dns_challenge())


async def test_a_record_that_disappears_starts_the_period_again() -> None:
    clock = FakeClock()
    dns = Propagation()
    solvers = ChallengeSolvers(dns01=cast(DNS01Solver, dns), dns01_settle=60, clock=clock)
    with pytest.raises(SettlingError):
        await solvers.check(dns_challenge())
    clock.advance(dt.timedelta(seconds=50))
    dns.propagated = False
    with pytest.raises(NotReadyError, match="not yet propagated"):
        await solvers.check(dns_challenge())
    dns.propagated = True
    with pytest.raises(SettlingError) as caught:
        await solvers.check(dns_challenge())
    assert caught.value.remaining == 60


async def test_no_settle_period_passes_at_once() -> None:
    dns = Propagation()
    solvers = ChallengeSolvers(dns01=cast(DNS01Solver, dns), dns01_settle=0)
    await solvers.check(dns_challenge())


def http_challenge() -> Challenge:
    data = dns_challenge().to_dict()
    data["spec"].update(
        {"type": "HTTP-01", "dnsName": "127.0.0.1", "solver": {"http01": {"ingress": {}}}}
    )
    return Challenge.from_dict(data)


async def test_http01_counts_passes_in_a_row_across_checks() -> None:
    tokens = Http01Registry()
    responder = Http01Responder(tokens, "127.0.0.1", 0)
    await responder.start()
    try:
        solvers = ChallengeSolvers(
            http01=tokens, http01_check=SelfCheckOptions(port=responder.port)
        )
        challenge = http_challenge()
        for passed in range(1, 5):
            with pytest.raises(SettlingError) as caught:
                await solvers.check(challenge)
            assert str(caught.value) == (
                f"self check passed {passed} of 5 times in a row; checking again in 2s"
            )
            assert caught.value.remaining == 2.0
        await solvers.check(challenge)
        # A failure starts the count again.
        with pytest.raises(SettlingError, match="passed 1 of 5"):
            await solvers.check(challenge)
        await responder.stop()
        with pytest.raises(NotReadyError, match="failed to perform self check GET request"):
            await solvers.check(challenge)
        responder = Http01Responder(tokens, "127.0.0.1", responder.port)
        await responder.start()
        with pytest.raises(SettlingError, match="passed 1 of 5"):
            await solvers.check(challenge)
    finally:
        await responder.stop()
