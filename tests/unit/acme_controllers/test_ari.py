"""The ``certificates-ari`` controller: the server's window into ``status.acme.ari``."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from certsmith.acme.client import AcmeClient
from certsmith.acme.models import RenewalInfo
from certsmith.client.resources import CERTIFICATES, ISSUERS, SECRETS
from certsmith.controllers.runtime.manager import Requeue
from certsmith.controllers.setup import ControllerOptions
from certsmith.issuers.acme import AcmeIssuer
from certsmith.issuers.acme.accounts import AccountRegistry, ClientSettings
from certsmith.util.clock import FakeClock
from tests.fakes import ControllerHarness, FakeKubeClient
from tests.pkitools import make_leaf, make_root, pem
from tests.unit.acme_controllers.fakeacme import FakeAcme, problem

NS = "ns"


@pytest.fixture
async def env() -> AsyncIterator[tuple[ControllerHarness, FakeAcme, FakeClock]]:
    clock = FakeClock()
    client = FakeKubeClient(clock)
    fake = FakeAcme()
    registry = AccountRegistry(factory=lambda s, k, o: cast(AcmeClient, fake))
    options = ControllerOptions(
        controllers="certificates-ari", clock=clock, issuers={"acme": AcmeIssuer(registry)}
    )
    async with ControllerHarness(client, options=options) as harness:
        stored = await harness.apply(
            ISSUERS,
            {
                "metadata": {"name": "le", "namespace": NS},
                "spec": {
                    "acme": {"server": "https://ca/dir", "privateKeySecretRef": {"name": "a"}}
                },
            },
        )
        registry.put(
            stored["metadata"]["uid"], ClientSettings("https://ca/dir", "h"), cast(AcmeClient, fake)
        )
        root, root_key = make_root()
        leaf = make_leaf("web.example.com", root, root_key)
        await harness.apply(
            SECRETS,
            {
                "metadata": {
                    "name": "web-tls",
                    "namespace": NS,
                    "annotations": {"cert-manager.io/issuer-name": "le"},
                },
                "type": "kubernetes.io/tls",
                "stringData": {"tls.crt": pem(leaf).decode()},
            },
        )
        await harness.apply(
            CERTIFICATES,
            {
                "metadata": {"name": "web", "namespace": NS},
                "spec": {
                    "secretName": "web-tls",
                    "dnsNames": ["web.example.com"],
                    "issuerRef": {"name": "le"},
                },
                "status": {
                    "conditions": [
                        {"type": "Ready", "status": "True", "reason": "Ready", "message": ""}
                    ]
                },
            },
        )
        yield harness, fake, clock


def ari_status(harness: ControllerHarness) -> dict[str, Any]:
    return dict(harness.raw.stored(CERTIFICATES, NS, "web")["status"]["acme"]["ari"])


async def test_the_window_is_recorded_with_the_next_check(
    env: tuple[ControllerHarness, FakeAcme, FakeClock],
) -> None:
    harness, fake, clock = env
    now = clock.now()
    start, end = now + dt.timedelta(days=30), now + dt.timedelta(days=32)
    fake.renewal_info = RenewalInfo(start, end, "https://ca/why", retry_after=7200)
    result = await harness.reconcile("certificates-ari", NS, "web")
    assert result == Requeue(7200)
    ari = ari_status(harness)
    assert ari["suggestedWindow"] == {
        "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    assert ari["explanationURL"] == "https://ca/why"
    assert ari["nextCheck"] == (now + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    # Not asked again before nextCheck.
    assert isinstance(await harness.reconcile("certificates-ari", NS, "web"), Requeue)
    assert len(fake.called("get_renewal_info")) == 1


async def test_a_failure_is_recorded_with_an_event_and_retried_in_an_hour(
    env: tuple[ControllerHarness, FakeAcme, FakeClock],
) -> None:
    harness, fake, _ = env
    fake.fail("get_renewal_info", problem(500, "serverInternal", "down"))
    result = await harness.reconcile("certificates-ari", NS, "web")
    assert result == Requeue(3600)
    assert ari_status(harness)["lastError"] == "500 urn:ietf:params:acme:error:serverInternal: down"
    events = [w.body for w in harness.client.writes if w.plural == "events"]
    assert [(e["type"], e["reason"]) for e in events] == [("Warning", "ARIError")]


async def test_a_server_without_ari_leaves_the_status_alone(
    env: tuple[ControllerHarness, FakeAcme, FakeClock],
) -> None:
    harness, fake, _ = env
    assert await harness.reconcile("certificates-ari", NS, "web") == Requeue(6 * 3600)
    assert "acme" not in harness.raw.stored(CERTIFICATES, NS, "web")["status"]
    assert len(fake.called("get_renewal_info")) == 1
