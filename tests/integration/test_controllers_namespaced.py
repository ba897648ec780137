"""``ControllerOptions(namespace=...)``: the controllers act in one namespace and nowhere else.

Objects are created in the watched namespace and in another one with identical content; only
the watched namespace's get conditions, certificates and Events. ClusterIssuers and requests
for them are left alone, and no informer lists anything outside the namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from certsmith.client.http import HttpKubeClient
from certsmith.client.protocol import KubeClient
from certsmith.client.resources import (
    CERTIFICATE_REQUESTS,
    CLUSTER_ISSUERS,
    EVENTS,
    ISSUERS,
    NAMESPACES,
    SECRETS,
)
from certsmith.controllers.runtime.manager import Manager
from certsmith.controllers.setup import CLUSTER_ISSUERS as CLUSTER_ISSUERS_CONTROLLER
from certsmith.controllers.setup import ControllerOptions, build_manager
from tests.builders import make_ca_secret, make_cert_request, make_issuer, private_key_pem
from tests.pkitools import make_root, pem
from tests.servertools import eventually_async, running_server

WATCHED = "team-a"
OTHER = "team-b"


@pytest.fixture
async def client(tmp_path: Any) -> AsyncIterator[HttpKubeClient]:
    async with running_server(tmp_path / "data") as server:
        raw = HttpKubeClient.from_kubeconfig(server.kubeconfig_path)
        try:
            for name in ("cert-manager", WATCHED, OTHER):
                await raw.create(NAMESPACES, None, {"metadata": {"name": name}})
            yield raw
        finally:
            await raw.aclose()


@contextlib.asynccontextmanager
async def running(manager: Manager) -> AsyncIterator[Manager]:
    task = asyncio.create_task(manager.run())
    try:
        await asyncio.wait_for(manager.wait_started(), 10)
        yield manager
    finally:
        manager.stop()
        await asyncio.wait_for(task, 30)


def conditions(obj: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (obj.get("status") or {}).get("conditions") or []
    return found


async def seed(client: KubeClient, namespace: str) -> None:
    root, root_key = make_root(f"{namespace} root")
    secret = make_ca_secret(
        namespace=namespace, chain_pem=pem(root), key_pem=private_key_pem(root_key)
    )
    await client.create(SECRETS, namespace, secret.to_dict())
    await client.create(ISSUERS, namespace, make_issuer("ca", namespace=namespace).to_dict())
    await client.create(
        CERTIFICATE_REQUESTS, namespace, make_cert_request("cr", namespace=namespace).to_dict()
    )


def test_namespaced_mode_drops_the_clusterissuers_controller_and_scopes_every_informer() -> None:
    from tests.fakes import FakeKubeClient

    manager = build_manager(FakeKubeClient(), options=ControllerOptions(namespace=WATCHED))
    assert CLUSTER_ISSUERS_CONTROLLER not in {c.name for c in manager.controllers}
    plurals = sorted(i.resource.plural for i in manager.informers)
    assert plurals == [
        "certificaterequests",
        "certificates",
        "challenges",
        "ingresses",
        "issuers",
        "orders",
        "secrets",
    ]
    assert {i.namespace for i in manager.informers} == {WATCHED}


async def test_only_the_watched_namespace_is_touched(client: HttpKubeClient) -> None:
    await seed(client, WATCHED)
    await seed(client, OTHER)
    root, root_key = make_root("cluster root")
    await client.create(
        SECRETS,
        "cert-manager",
        make_ca_secret(
            namespace="cert-manager", chain_pem=pem(root), key_pem=private_key_pem(root_key)
        ).to_dict(),
    )
    await client.create(CLUSTER_ISSUERS, None, make_issuer("cca", cluster=True).to_dict())
    cluster_cr = make_cert_request("for-cluster", namespace=WATCHED, issuer="cca",
                                   issuer_kind="ClusterIssuer")  # fmt: skip
    await client.create(CERTIFICATE_REQUESTS, WATCHED, cluster_cr.to_dict())

    options = ControllerOptions(workers=2, namespace=WATCHED)
    async with running(build_manager(client, options=options)):

        async def issued() -> bool:
            cr = await client.get(CERTIFICATE_REQUESTS, WATCHED, "cr")
            return bool((cr.get("status") or {}).get("certificate"))

        await eventually_async(issued, timeout=20)

        # The request for the ClusterIssuer was seen (approved: the approver runs on every
        # request in the namespace) but never got a Ready condition.
        async def approved() -> bool:
            cr = await client.get(CERTIFICATE_REQUESTS, WATCHED, "for-cluster")
            return any(c["type"] == "Approved" for c in conditions(cr))

        await eventually_async(approved, timeout=20)
        await asyncio.sleep(0.5)  # room for a wrong write to land before the checks below

    other_cr = await client.get(CERTIFICATE_REQUESTS, OTHER, "cr")
    assert conditions(other_cr) == []
    assert conditions(await client.get(ISSUERS, OTHER, "ca")) == []
    assert conditions(await client.get(CLUSTER_ISSUERS, None, "cca")) == []
    for_cluster = await client.get(CERTIFICATE_REQUESTS, WATCHED, "for-cluster")
    assert [c["type"] for c in conditions(for_cluster)] == ["Approved"]
    assert (await client.list(EVENTS, OTHER)).items == []
    assert (await client.list(EVENTS, "cert-manager")).items == []
    watched_events = {e["reason"] for e in (await client.list(EVENTS, WATCHED)).items}
    assert {"KeyPairVerified", "CertificateIssued"} <= watched_events
