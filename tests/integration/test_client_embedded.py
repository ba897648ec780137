"""HttpKubeClient and the runtime against the real embedded API server (HTTPS, client cert)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from certsmith.apiserver.server import ApiServer
from certsmith.client.errors import Conflict, NotFound
from certsmith.client.http import HttpKubeClient
from certsmith.client.protocol import PatchType, WatchEventType
from certsmith.client.resources import CERTIFICATES, LEASES, SECRETS
from certsmith.controllers.runtime.informer import Informer
from certsmith.controllers.runtime.leader import LeaderElector
from certsmith.util.clock import SystemClock
from tests.fakes import eventually
from tests.servertools import running_server


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ApiServer]:
    async with running_server(tmp_path / "data") as srv:
        yield srv


@pytest.fixture
async def client(server: ApiServer) -> AsyncIterator[HttpKubeClient]:
    async with HttpKubeClient.from_kubeconfig(server.kubeconfig_path) as c:
        yield c


def secret(name: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": {}}


async def test_crud_with_optimistic_concurrency(client):
    created = await client.create(SECRETS, "default", secret("s"))
    assert (await client.get(SECRETS, "default", "s"))["metadata"]["uid"] == created["metadata"][
        "uid"
    ]
    updated = await client.patch(SECRETS, "default", "s", {"metadata": {"labels": {"a": "b"}}})
    with pytest.raises(Conflict):
        await client.replace(SECRETS, "default", "s", created)  # stale resourceVersion
    await client.replace(SECRETS, "default", "s", updated)
    await client.delete(SECRETS, "default", "s")
    with pytest.raises(NotFound):
        await client.get(SECRETS, "default", "s")


async def test_apply_creates_then_updates(client):
    body = secret("applied") | {"stringData": {"k": "v"}}
    await client.patch(
        SECRETS, "default", "applied", body, patch_type=PatchType.APPLY, field_manager="certsmith"
    )
    assert (await client.get(SECRETS, "default", "applied"))["data"]["k"] == "dg=="


async def test_list_pages_then_watch_sees_changes(client):
    for index in range(3):
        await client.create(SECRETS, "default", secret(f"p{index}"))
    first = await client.list(SECRETS, "default", limit=2)
    assert len(first.items) == 2
    assert first.continue_token
    rest = await client.list(SECRETS, "default", limit=2, continue_token=first.continue_token)
    assert len(rest.items) >= 1
    events = client.watch(SECRETS, "default", resource_version=first.resource_version)
    await client.create(SECRETS, "default", secret("late"))
    event = await asyncio.wait_for(anext(events), 5)
    await events.aclose()
    assert (event.type, event.object["metadata"]["name"]) == (WatchEventType.ADDED, "late")


async def test_an_informer_syncs_and_follows_custom_resources(client):
    informer = Informer(client, CERTIFICATES, namespace="default")
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.wait_synced(), 5)
        cert = {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": {"name": "web"},
            "spec": {
                "secretName": "web-tls",
                "dnsNames": ["example.com"],
                "issuerRef": {"name": "ca"},
            },
        }
        await client.create(CERTIFICATES, "default", cert)
        await eventually(lambda: informer.cache.get("default", "web") is not None, timeout=5)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_leader_election_on_a_real_lease(client):
    elector = LeaderElector(
        client, namespace="kube-system", name="certsmith", identity="me", clock=SystemClock()
    )
    assert await elector.try_acquire_or_renew()
    assert await elector.try_acquire_or_renew()
    lease = await client.get(LEASES, "kube-system", "certsmith")
    assert lease["spec"]["holderIdentity"] == "me"
    rival = LeaderElector(
        client, namespace="kube-system", name="certsmith", identity="rival", clock=SystemClock()
    )
    assert not await rival.try_acquire_or_renew()
