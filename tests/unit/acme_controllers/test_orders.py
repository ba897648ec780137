"""The ``orders`` controller, one step per test (SPEC §6.3), over the in-memory client."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from certsmith.acme.client import AcmeClient
from certsmith.client.resources import CHALLENGES, ISSUERS, ORDERS
from certsmith.controllers.errors import RetryLater
from certsmith.controllers.runtime.manager import Requeue
from certsmith.controllers.setup import ControllerOptions
from certsmith.issuers.acme import AcmeIssuer
from certsmith.issuers.acme.accounts import AccountRegistry, ClientSettings
from certsmith.util.clock import FakeClock
from tests.builders import make_csr_pem
from tests.fakes import ControllerHarness, FakeKubeClient
from tests.unit.acme_controllers.fakeacme import (
    AUTHZ_URL,
    CHALLENGE_URL,
    ORDER_URL,
    FakeAcme,
    acme_order,
    problem,
)

NS = "ns"


class Env:
    def __init__(
        self, harness: ControllerHarness, fake: FakeAcme, registry: AccountRegistry
    ) -> None:
        self.harness = harness
        self.fake = fake
        self.registry = registry

    async def order(self, status: dict[str, Any] | None = None, **spec: Any) -> None:
        body: dict[str, Any] = {
            "apiVersion": "acme.cert-manager.io/v1",
            "kind": "Order",
            "metadata": {"name": "web-1-1", "namespace": NS, "labels": {"app": "web"}},
            "spec": {
                "request": base64.b64encode(make_csr_pem()).decode(),
                "issuerRef": {"name": "le"},
                "commonName": "example.com",
                "dnsNames": ["www.example.com", "example.com"],
                **spec,
            },
        }
        if status:
            body["status"] = status
        await self.harness.apply(ORDERS, body)

    async def reconcile(self) -> Any:
        return await self.harness.reconcile("orders", NS, "web-1-1")

    def stored(self) -> dict[str, Any]:
        return dict(self.harness.raw.stored(ORDERS, NS, "web-1-1"))

    def challenges(self) -> list[dict[str, Any]]:
        return [obj for (res, _, _), obj in self.harness.raw.objects.items() if res == CHALLENGES]

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
    registry = AccountRegistry(factory=lambda s, k, o: cast(AcmeClient, fake))
    options = ControllerOptions(
        controllers="orders", clock=client.clock, issuers={"acme": AcmeIssuer(registry)}
    )
    async with ControllerHarness(client, options=options) as harness:
        stored = await harness.apply(
            ISSUERS,
            {
                "metadata": {"name": "le", "namespace": NS},
                "spec": {
                    "acme": {
                        "server": "https://ca.test/dir",
                        "privateKeySecretRef": {"name": "acct"},
                        "solvers": [{"http01": {"ingress": {}}}],
                    }
                },
            },
        )
        registry.put(
            stored["metadata"]["uid"],
            ClientSettings("https://ca.test/dir", "hash"),
            cast(AcmeClient, fake),
        )
        yield Env(harness, fake, registry)


async def test_without_a_registered_client_the_order_waits(env: Env) -> None:
    await env.harness.apply(
        ISSUERS,
        {
            "metadata": {"name": "other", "namespace": NS},
            "spec": {"acme": {"server": "https://x/dir", "privateKeySecretRef": {"name": "a"}}},
        },
    )
    await env.order(issuerRef={"name": "other"})
    with pytest.raises(RetryLater, match="ACME client for issuer not initialised/available"):
        await env.reconcile()


async def test_new_order_with_sorted_identifiers_records_url_and_authorizations(env: Env) -> None:
    await env.order()
    await env.reconcile()
    [(args, _)] = env.fake.called("new_order")
    assert [i.value for i in args[0]] == ["example.com", "www.example.com"]
    status = env.stored()["status"]
    assert status == {
        "url": ORDER_URL,
        "finalizeURL": f"{ORDER_URL}/finalize",
        "authorizations": [{"url": AUTHZ_URL}],
        "state": "pending",
    }


async def test_refused_new_order_errors_the_order(env: Env) -> None:
    env.fake.fail("new_order", problem(400, "rejectedIdentifier", "no way"))
    await env.order()
    await env.reconcile()
    status = env.stored()["status"]
    assert status["state"] == "errored"
    assert status["reason"] == (
        "Failed to create Order: 400 urn:ietf:params:acme:error:rejectedIdentifier: no way"
    )
    assert "failureTime" in status


async def test_rate_limit_waits_for_retry_after_without_failing(env: Env) -> None:
    env.fake.fail("new_order", problem(429, "rateLimited", "too many", retry_after=3600))
    await env.order()
    result = await env.reconcile()
    assert result == Requeue(3600)
    status = env.stored()["status"]
    assert "state" not in status
    assert status["reason"].startswith(
        "Failed to create Order: rate limited by the ACME server, not retrying before "
    )
    assert status["reason"].endswith("429 urn:ietf:params:acme:error:rateLimited: too many")


async def test_authorizations_are_fetched(env: Env) -> None:
    await env.order({"url": ORDER_URL, "finalizeURL": "f", "authorizations": [{"url": AUTHZ_URL}]})
    await env.reconcile()
    [authz] = env.stored()["status"]["authorizations"]
    assert authz == {
        "url": AUTHZ_URL,
        "identifier": "example.com",
        "initialState": "pending",
        "challenges": [
            {"url": CHALLENGE_URL, "token": "tok", "type": "http-01"},
            {"url": "https://ca.test/chal/2", "token": "dtok", "type": "dns-01"},
        ],
    }


def fetched_status(state: str = "pending") -> dict[str, Any]:
    return {
        "url": ORDER_URL,
        "finalizeURL": f"{ORDER_URL}/finalize",
        "state": state,
        "authorizations": [
            {
                "url": AUTHZ_URL,
                "identifier": "example.com",
                "initialState": "pending",
                "challenges": [{"url": CHALLENGE_URL, "token": "tok", "type": "http-01"}],
            }
        ],
    }


async def test_one_challenge_per_pending_authorization_with_the_key(env: Env) -> None:
    await env.order(fetched_status())
    await env.reconcile()
    [challenge] = env.challenges()
    assert challenge["metadata"]["name"].startswith("web-1-1-")
    assert challenge["metadata"]["labels"] == {"app": "web"}
    assert challenge["metadata"]["ownerReferences"][0]["kind"] == "Order"
    spec = challenge["spec"]
    assert (spec["type"], spec["dnsName"], spec["token"], spec["key"]) == (
        "HTTP-01",
        "example.com",
        "tok",
        "tok.thumbprint",
    )
    name = challenge["metadata"]["name"]
    assert env.events() == [
        ("Normal", "Created", f'Created Challenge resource "{name}" for domain "example.com"')
    ]
    # Nothing more is created on the next pass.
    await env.reconcile()
    assert len(env.challenges()) == 1


async def test_no_solver_warns_and_creates_nothing(env: Env) -> None:
    status = fetched_status()
    status["authorizations"][0]["challenges"] = [
        {"url": CHALLENGE_URL, "token": "tok", "type": "tls-alpn-01"}
    ]
    await env.order(status)
    await env.reconcile()
    assert env.challenges() == []
    assert env.events() == [
        (
            "Warning",
            "Solver",
            "Failed to determine a valid solver configuration for the set of domains on the "
            "Order: no configured challenge solvers can be used for this challenge",
        )
    ]


async def test_ready_order_is_finalized_and_stores_the_chain(env: Env) -> None:
    status = fetched_status("ready")
    status["authorizations"][0]["initialState"] = "valid"
    await env.order(status)
    env.fake.order = acme_order("ready")
    env.fake.after_finalize = acme_order("valid", certificate=f"{ORDER_URL}/cert")
    env.fake.chain_pem = "-----BEGIN CERTIFICATE-----\nchain\n"
    await env.reconcile()
    assert len(env.fake.called("finalize_order")) == 1
    stored = env.stored()["status"]
    assert stored["state"] == "valid"
    assert base64.b64decode(stored["certificate"]) == env.fake.chain_pem.encode()
    assert env.events() == [("Normal", "Complete", "Order completed successfully")]


async def test_failed_challenge_copies_the_servers_verdict_with_a_reason(env: Env) -> None:
    await env.order(fetched_status())
    await env.reconcile()  # creates the Challenge
    [challenge] = env.challenges()
    await env.harness.set_status(
        CHALLENGES,
        NS,
        challenge["metadata"]["name"],
        {"state": "invalid", "reason": "Error accepting authorization: 403 unauthorized"},
    )
    env.fake.order = acme_order("invalid")
    await env.reconcile()
    status = env.stored()["status"]
    assert status["state"] == "invalid"
    assert status["reason"] == (
        'challenge failed: HTTP-01 for "example.com": Error accepting authorization: '
        "403 unauthorized"
    )


async def test_all_challenges_final_but_order_pending_rechecks_in_5s(env: Env) -> None:
    await env.order(fetched_status())
    await env.reconcile()
    [challenge] = env.challenges()
    await env.harness.set_status(CHALLENGES, NS, challenge["metadata"]["name"], {"state": "valid"})
    env.fake.order = acme_order("pending")
    assert await env.reconcile() == Requeue(5.0)


async def test_valid_order_deletes_its_challenges(env: Env) -> None:
    await env.order(fetched_status())
    await env.reconcile()
    assert len(env.challenges()) == 1
    done = fetched_status("valid")
    done["certificate"] = base64.b64encode(b"chain").decode()
    await env.harness.set_status(ORDERS, NS, "web-1-1", done)
    await env.reconcile()
    assert env.challenges() == []


async def test_authorization_fetch_refused_errors_the_order(env: Env) -> None:
    env.fake.fail("get_authorization", problem(404, "malformed", "no such authorization"))
    await env.order({"url": ORDER_URL, "finalizeURL": "f", "authorizations": [{"url": AUTHZ_URL}]})
    await env.reconcile()
    status = env.stored()["status"]
    assert status["state"] == "errored"
    assert status["reason"].startswith("Failed to fetch authorization: 404 ")


async def test_a_deleted_issuers_client_is_forgotten(env: Env) -> None:
    issuer = env.harness.raw.stored(ISSUERS, NS, "le")
    uid = issuer["metadata"]["uid"]
    assert uid in env.registry
    await env.harness.raw.delete(ISSUERS, NS, "le")
    await env.harness.wait_deleted("issuers", NS, "le")
    assert uid not in env.registry
