"""managedFields recorded on ordinary writes, and server-side apply conflicts against them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from certsmith.apiserver.server import ApiServer
from tests.servertools import admin_client, running_server

CERTS = "/apis/cert-manager.io/v1/namespaces/default/certificates"
MERGE = {"Content-Type": "application/merge-patch+json"}
APPLY = {"Content-Type": "application/apply-patch+yaml"}


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ApiServer]:
    async with running_server(tmp_path / "data") as srv:
        yield srv


@pytest.fixture
async def client(server: ApiServer, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with admin_client(server, tmp_path / "client") as c:
        yield c


def certificate(secret_name: str = "demo-tls") -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "demo"},
        "spec": {
            "secretName": secret_name,
            "dnsNames": ["example.com"],
            "issuerRef": {"name": "ca", "kind": "Issuer"},
        },
    }


def managers(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["manager"]: e for e in obj["metadata"].get("managedFields") or []}


async def test_create_records_an_update_entry_for_the_field_manager(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post(CERTS, params={"fieldManager": "creator"}, json=certificate())
    entry = managers(r.json())["creator"]
    assert entry["operation"] == "Update"
    assert entry["apiVersion"] == "cert-manager.io/v1"
    assert "f:secretName" in entry["fieldsV1"]["f:spec"]


async def test_without_a_field_manager_the_user_agent_product_names_the_manager(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post(CERTS, json=certificate(), headers={"User-Agent": "tool/1.2 (x)"})
    assert set(managers(r.json())) == {"tool"}


async def test_a_patch_moves_the_changed_field_to_the_patcher(client: httpx.AsyncClient) -> None:
    await client.post(CERTS, params={"fieldManager": "creator"}, json=certificate())
    r = await client.patch(
        f"{CERTS}/demo",
        params={"fieldManager": "patcher"},
        json={"spec": {"secretName": "patched-tls"}},
        headers=MERGE,
    )
    owners = managers(r.json())
    assert owners["patcher"]["fieldsV1"] == {"f:spec": {"f:secretName": {}}}
    assert "f:secretName" not in owners["creator"]["fieldsV1"]["f:spec"]


async def test_apply_conflicts_with_a_field_set_by_an_ordinary_patch(
    client: httpx.AsyncClient,
) -> None:
    await client.post(CERTS, params={"fieldManager": "creator"}, json=certificate())
    await client.patch(
        f"{CERTS}/demo",
        params={"fieldManager": "patcher"},
        json={"spec": {"secretName": "patched-tls"}},
        headers=MERGE,
    )
    r = await client.patch(
        f"{CERTS}/demo",
        params={"fieldManager": "applier"},
        json=certificate("applied-tls"),
        headers=APPLY,
    )
    assert r.status_code == 409
    causes = r.json()["details"]["causes"]
    assert {c["field"] for c in causes} == {".spec.secretName"}
    assert 'conflict with "patcher"' in r.json()["message"]


async def test_a_no_op_update_keeps_the_resource_version(client: httpx.AsyncClient) -> None:
    created = (await client.post(CERTS, params={"fieldManager": "a"}, json=certificate())).json()
    r = await client.patch(
        f"{CERTS}/demo",
        params={"fieldManager": "b"},
        json={"spec": {"secretName": "demo-tls"}},
        headers=MERGE,
    )
    assert r.json()["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert set(managers(r.json())) == {"a"}


async def test_a_status_write_is_recorded_with_its_subresource(
    client: httpx.AsyncClient,
) -> None:
    await client.post(CERTS, json=certificate())
    r = await client.patch(
        f"{CERTS}/demo/status",
        params={"fieldManager": "controller"},
        json={"status": {"revision": 1}},
        headers=MERGE,
    )
    entry = managers(r.json())["controller"]
    assert entry["subresource"] == "status"
    assert entry["fieldsV1"] == {"f:status": {"f:revision": {}}}


async def test_client_written_managed_fields_replace_the_stored_ones(
    client: httpx.AsyncClient,
) -> None:
    created = (await client.post(CERTS, params={"fieldManager": "a"}, json=certificate())).json()
    mine = {**managers(created)["a"], "manager": "renamed"}
    r = await client.patch(
        f"{CERTS}/demo",
        json=[{"op": "replace", "path": "/metadata/managedFields", "value": [mine]}],
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert set(managers(r.json())) == {"renamed"}


async def test_kubectl_apply_takes_over_fields_of_the_last_applied_configuration(
    client: httpx.AsyncClient,
) -> None:
    cert = certificate()
    annotation = "kubectl.kubernetes.io/last-applied-configuration"
    cert["metadata"]["annotations"] = {annotation: json.dumps(certificate())}
    params = {"fieldManager": "kubectl-client-side-apply"}
    await client.post(CERTS, params=params, json=cert)
    changed = certificate("applied-tls")
    r = await client.patch(
        f"{CERTS}/demo", params={"fieldManager": "other"}, json=changed, headers=APPLY
    )
    assert r.status_code == 409
    r = await client.patch(
        f"{CERTS}/demo", params={"fieldManager": "kubectl"}, json=changed, headers=APPLY
    )
    assert r.status_code == 200, r.text
    assert r.json()["spec"]["secretName"] == "applied-tls"
    owners = managers(r.json())
    assert "f:secretName" in owners["kubectl"]["fieldsV1"]["f:spec"]
    assert "f:secretName" not in owners["kubectl-client-side-apply"]["fieldsV1"].get("f:spec", {})
