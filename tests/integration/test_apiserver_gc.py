"""Garbage collection of ownerReferences over real HTTPS (K8S-API §4.9)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from certsmith.apiserver.server import ApiServer
from tests.servertools import admin_client, eventually_async, running_server

CERTS = "/apis/cert-manager.io/v1/namespaces/default/certificates"
SECRETS = "/api/v1/namespaces/default/secrets"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ApiServer]:
    async with running_server(tmp_path / "data") as srv:
        yield srv


@pytest.fixture
async def client(server: ApiServer, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with admin_client(server, tmp_path / "client") as c:
        yield c


def certificate(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": name},
        "spec": {
            "secretName": f"{name}-tls",
            "dnsNames": ["example.com"],
            "issuerRef": {"name": "ca", "kind": "Issuer"},
        },
    }


def ref(owner: dict[str, Any], *, block: bool = False) -> dict[str, Any]:
    out = {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
    }
    if block:
        out["blockOwnerDeletion"] = True
    return out


async def create(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(path, json=body)
    assert r.status_code == 201, r.text
    obj: dict[str, Any] = r.json()
    return obj


async def owned_secret(
    client: httpx.AsyncClient, name: str, *owners: dict[str, Any], **meta: Any
) -> dict[str, Any]:
    body = {"metadata": {"name": name, "ownerReferences": list(owners), **meta}}
    return await create(client, SECRETS, body)


async def gone(client: httpx.AsyncClient, path: str) -> bool:
    return (await client.get(path)).status_code == 404


async def test_deleting_the_owner_deletes_its_dependent(client: httpx.AsyncClient) -> None:
    cert = await create(client, CERTS, certificate("owner"))
    await owned_secret(client, "owned", ref(cert))
    r = await client.delete(f"{CERTS}/owner")
    assert r.status_code == 200
    await eventually_async(lambda: gone(client, f"{SECRETS}/owned"))


async def test_a_dependent_whose_owner_never_existed_is_deleted(
    client: httpx.AsyncClient,
) -> None:
    cert = await create(client, CERTS, certificate("real"))
    phantom = {**ref(cert), "uid": "00000000-0000-0000-0000-000000000000"}
    await owned_secret(client, "orphaned", phantom)
    await eventually_async(lambda: gone(client, f"{SECRETS}/orphaned"))
    assert (await client.get(f"{CERTS}/real")).status_code == 200


async def test_a_dependent_with_a_live_owner_only_loses_the_dangling_reference(
    client: httpx.AsyncClient,
) -> None:
    first = await create(client, CERTS, certificate("first"))
    second = await create(client, CERTS, certificate("second"))
    await owned_secret(client, "shared", ref(first), ref(second))
    await client.delete(f"{CERTS}/first")

    async def only_second_left() -> bool:
        r = await client.get(f"{SECRETS}/shared")
        refs = r.json()["metadata"].get("ownerReferences") or []
        return [x["uid"] for x in refs] == [second["metadata"]["uid"]]

    await eventually_async(only_second_left)


async def test_deletion_cascades_through_a_chain_of_owners(client: httpx.AsyncClient) -> None:
    cert = await create(client, CERTS, certificate("top"))
    middle = await create(
        client, CONFIGMAPS, {"metadata": {"name": "middle", "ownerReferences": [ref(cert)]}}
    )
    await owned_secret(client, "bottom", ref({**middle, "kind": "ConfigMap", "apiVersion": "v1"}))
    await client.delete(f"{CERTS}/top")
    await eventually_async(lambda: gone(client, f"{SECRETS}/bottom"))
    assert await gone(client, f"{CONFIGMAPS}/middle")


async def test_a_dependent_with_a_finalizer_is_marked_and_waits(
    client: httpx.AsyncClient,
) -> None:
    cert = await create(client, CERTS, certificate("owner"))
    await owned_secret(client, "held", ref(cert), finalizers=["example.com/hold"])
    await client.delete(f"{CERTS}/owner")

    async def marked() -> bool:
        r = await client.get(f"{SECRETS}/held")
        return bool(r.json()["metadata"].get("deletionTimestamp"))

    await eventually_async(marked)
    patch = {"metadata": {"finalizers": None}}
    headers = {"Content-Type": "application/merge-patch+json"}
    await client.patch(f"{SECRETS}/held", json=patch, headers=headers)
    assert await gone(client, f"{SECRETS}/held")


async def test_orphan_propagation_strips_the_reference_and_keeps_the_dependent(
    client: httpx.AsyncClient,
) -> None:
    cert = await create(client, CERTS, certificate("owner"))
    await owned_secret(client, "kept", ref(cert))
    r = await client.request("DELETE", f"{CERTS}/owner", json={"propagationPolicy": "Orphan"})
    assert r.status_code == 202
    assert "orphan" in r.json()["metadata"]["finalizers"]
    await eventually_async(lambda: gone(client, f"{CERTS}/owner"))
    kept = (await client.get(f"{SECRETS}/kept")).json()
    assert "ownerReferences" not in kept["metadata"]


async def test_foreground_propagation_deletes_blocking_dependents_before_the_owner(
    client: httpx.AsyncClient,
) -> None:
    cert = await create(client, CERTS, certificate("owner"))
    await owned_secret(client, "blocker", ref(cert, block=True), finalizers=["example.com/hold"])
    r = await client.request("DELETE", f"{CERTS}/owner", json={"propagationPolicy": "Foreground"})
    assert r.status_code == 202
    assert "foregroundDeletion" in r.json()["metadata"]["finalizers"]

    async def blocker_marked() -> bool:
        r = await client.get(f"{SECRETS}/blocker")
        return bool(r.json()["metadata"].get("deletionTimestamp"))

    await eventually_async(blocker_marked)
    assert (await client.get(f"{CERTS}/owner")).status_code == 200
    headers = {"Content-Type": "application/merge-patch+json"}
    await client.patch(
        f"{SECRETS}/blocker", json={"metadata": {"finalizers": None}}, headers=headers
    )
    await eventually_async(lambda: gone(client, f"{CERTS}/owner"))


async def test_foreground_deletion_without_dependents_completes(
    client: httpx.AsyncClient,
) -> None:
    await create(client, CERTS, certificate("lonely"))
    r = await client.request("DELETE", f"{CERTS}/lonely", json={"propagationPolicy": "Foreground"})
    assert r.status_code == 202
    await eventually_async(lambda: gone(client, f"{CERTS}/lonely"))


async def test_an_owner_recreated_under_the_same_name_does_not_keep_old_dependents(
    client: httpx.AsyncClient,
) -> None:
    old = await create(client, CERTS, certificate("again"))
    await client.delete(f"{CERTS}/again")
    await create(client, CERTS, certificate("again"))
    await owned_secret(client, "stale", ref(old))
    await eventually_async(lambda: gone(client, f"{SECRETS}/stale"))
    assert (await client.get(f"{CERTS}/again")).status_code == 200
