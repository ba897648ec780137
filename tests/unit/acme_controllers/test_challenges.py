"""The ``challenges`` controller, one step per test (SPEC §6.4), and its scheduler pass."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from certsmith.acme.client import AcmeClient
from certsmith.acme.models import Challenge as AcmeChallenge
from certsmith.acme.problems import Problem
from certsmith.client.resources import CHALLENGES, ISSUERS
from certsmith.controllers.acme.http01 import Http01Registry, SelfCheckOptions
from certsmith.controllers.acme.scheduler import SCHEDULER_KEY
from certsmith.controllers.acme.wiring import AcmeOptions
from certsmith.controllers.runtime.manager import Requeue
from certsmith.controllers.setup import ControllerOptions
from certsmith.issuers.acme import AcmeIssuer
from certsmith.issuers.acme.accounts import AccountRegistry, ClientSettings
from certsmith.util.clock import FakeClock
from tests.fakes import ControllerHarness, FakeKubeClient
from tests.servertools import free_port
from tests.unit.acme_controllers.fakeacme import (
    AUTHZ_URL,
    CHALLENGE_URL,
    FakeAcme,
    authorization,
    problem,
)

NS = "ns"
NAME = "web-1-1-2"
FINALIZER = "acme.cert-manager.io/finalizer"


class Env:
    def __init__(self, harness: ControllerHarness, fake: FakeAcme, tokens: Http01Registry):
        self.harness = harness
        self.fake = fake
        self.tokens = tokens

    async def challenge(
        self,
        status: dict[str, Any] | None = None,
        *,
        finalizers: list[str] | None = None,
        solver: dict[str, Any] | None = None,
    ) -> None:
        meta: dict[str, Any] = {"name": NAME, "namespace": NS}
        if finalizers:
            meta["finalizers"] = finalizers
        body = {
            "apiVersion": "acme.cert-manager.io/v1",
            "kind": "Challenge",
            "metadata": meta,
            "spec": {
                "url": CHALLENGE_URL,
                "authorizationURL": AUTHZ_URL,
                "dnsName": "example.com",
                "type": "HTTP-01",
                "token": "tok",
                "key": "tok.thumbprint",
                "solver": solver or {"http01": {"ingress": {}}},
                "issuerRef": {"name": "le"},
            },
        }
        if status:
            body["status"] = status
        await self.harness.apply(CHALLENGES, body)

    async def reconcile(self) -> Any:
        return await self.harness.reconcile("challenges", NS, NAME)

    def stored(self) -> dict[str, Any]:
        return dict(self.harness.raw.stored(CHALLENGES, NS, NAME))

    def events(self) -> list[tuple[str, str, str]]:
        return [
            (w.body["type"], w.body["reason"], w.body["message"])
            for w in self.harness.client.writes
            if w.plural == "events" and w.verb == "create"
        ]


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    client = FakeKubeClient(FakeClock())
    fake = FakeAcme()
    tokens = Http01Registry()
    registry = AccountRegistry(factory=lambda s, k, o: cast(AcmeClient, fake))
    options = ControllerOptions(
        controllers="challenges",
        clock=client.clock,
        issuers={"acme": AcmeIssuer(registry)},
        acme=AcmeOptions(
            http01=tokens,
            # Nothing listens there: every self-check fails fast.
            http01_check=SelfCheckOptions(port=free_port(), passes=1, interval=0.0, timeout=2.0),
        ),
    )
    async with ControllerHarness(client, options=options) as harness:
        stored = await harness.apply(
            ISSUERS,
            {
                "metadata": {"name": "le", "namespace": NS},
                "spec": {
                    "acme": {"server": "https://ca.test/dir", "privateKeySecretRef": {"name": "a"}}
                },
            },
        )
        registry.put(
            stored["metadata"]["uid"],
            ClientSettings("https://ca.test/dir", "h"),
            cast(AcmeClient, fake),
        )
        yield Env(harness, fake, tokens)


PROCESSING = {"processing": True, "state": "pending"}
WAIT = {"http01": {"ingress": {}}, "waitInsteadOfSelfCheck": "0s"}


async def test_a_challenge_not_scheduled_is_left_alone(env: Env) -> None:
    await env.challenge({"processing": False})
    assert await env.reconcile() is None
    assert env.harness.client.writes == []


async def test_the_finalizer_replaces_the_legacy_one_first(env: Env) -> None:
    await env.challenge(PROCESSING, finalizers=["finalizer.acme.cert-manager.io", "other"])
    await env.reconcile()
    assert env.stored()["metadata"]["finalizers"] == ["other", FINALIZER]
    assert env.fake.calls == []


async def test_an_unknown_state_is_read_from_the_server(env: Env) -> None:
    await env.challenge({"processing": True}, finalizers=[FINALIZER])
    await env.reconcile()
    assert env.stored()["status"]["state"] == "pending"
    assert env.fake.called("get_challenge") == [((CHALLENGE_URL,), {})]


async def test_presenting_serves_the_key_and_a_failing_self_check_says_why(env: Env) -> None:
    await env.challenge(PROCESSING, finalizers=[FINALIZER])
    result = await env.reconcile()
    assert env.tokens.get("tok") == "tok.thumbprint"
    status = env.stored()["status"]
    assert status["presented"] is True
    assert "presentedAt" in status
    assert status["reason"].startswith(
        "Waiting for HTTP-01 challenge propagation: failed to perform self check GET request "
        "'http://example.com"
    )
    assert result == Requeue(10.0)
    assert ("Normal", "Presented", "Presented challenge using HTTP-01 challenge mechanism") in (
        env.events()
    )
    assert env.fake.called("accept_challenge") == []


async def test_accepted_and_valid_authorization_verifies_the_domain(env: Env) -> None:
    await env.challenge(PROCESSING, finalizers=[FINALIZER], solver=WAIT)
    env.fake.authorizations[AUTHZ_URL] = authorization("valid")
    await env.reconcile()
    status = env.stored()["status"]
    assert (status["state"], status["reason"]) == ("valid", "Successfully authorized domain")
    assert env.fake.called("accept_challenge") == [((CHALLENGE_URL,), {})]
    assert (
        "Normal",
        "DomainVerified",
        'Domain "example.com" verified with "HTTP-01" validation',
    ) in env.events()


async def test_invalid_authorization_carries_the_servers_problem(env: Env) -> None:
    await env.challenge(PROCESSING, finalizers=[FINALIZER], solver=WAIT)
    error = Problem("urn:ietf:params:acme:error:connection", "refused", 400)
    failed = AcmeChallenge(
        url=CHALLENGE_URL, type="http-01", token="tok", status="invalid", error=error
    )
    env.fake.authorizations[AUTHZ_URL] = authorization("invalid", challenges=(failed,))
    await env.reconcile()
    status = env.stored()["status"]
    assert status["state"] == "invalid"
    assert status["reason"] == (
        "Error accepting authorization: acme: authorization error for example.com: "
        "400 urn:ietf:params:acme:error:connection: refused"
    )
    assert (
        "Warning",
        "Failed",
        "Accepting challenge authorization failed: acme: authorization error for example.com: "
        "400 urn:ietf:params:acme:error:connection: refused",
    ) in env.events()


@pytest.mark.parametrize(
    ("error", "state"),
    [
        (problem(400, "malformed", "expired authorization"), "expired"),
        (problem(403, "unauthorized", "no"), "errored"),
    ],
)
async def test_refused_accept_ends_the_challenge(env: Env, error: Exception, state: str) -> None:
    await env.challenge(PROCESSING, finalizers=[FINALIZER], solver=WAIT)
    env.fake.fail("accept_challenge", error)
    await env.reconcile()
    status = env.stored()["status"]
    assert status["state"] == state
    assert status["reason"] == f"Error accepting challenge: {error}"


async def test_rate_limited_accept_waits_for_retry_after(env: Env) -> None:
    await env.challenge(PROCESSING, finalizers=[FINALIZER], solver=WAIT)
    env.fake.fail("accept_challenge", problem(429, "rateLimited", "slow down", retry_after=120))
    assert await env.reconcile() == Requeue(120)
    status = env.stored()["status"]
    assert status["state"] == "pending"
    assert "rate limited by the ACME server, not retrying before" in status["reason"]


async def test_final_challenge_is_cleaned_up_and_released(env: Env) -> None:
    env.tokens.present("tok", "tok.thumbprint")
    await env.challenge(
        {"processing": True, "presented": True, "state": "valid"}, finalizers=[FINALIZER]
    )
    await env.reconcile()
    assert env.tokens.get("tok") is None
    stored = env.stored()
    assert (stored["status"]["processing"], stored["status"]["presented"]) == (False, False)
    assert not stored["metadata"].get("finalizers")


async def test_scheduler_marks_candidates_processing_with_an_event(env: Env) -> None:
    await env.challenge()
    result = await env.harness.controllers["challenges-scheduler"].reconcile(SCHEDULER_KEY)
    assert result is None
    assert env.stored()["status"]["processing"] is True
    assert ("Normal", "Started", "Challenge scheduled for processing") in env.events()
