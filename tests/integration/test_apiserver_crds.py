"""CustomResourceDefinitions written at runtime are served, and unserved when deleted."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from certsmith.apiserver.server import ApiServer
from tests.servertools import admin_client, eventually_async, running_server

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
WIDGETS = "/apis/example.com/v1/namespaces/default/widgets"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ApiServer]:
    async with running_server(tmp_path / "data") as srv:
        yield srv


@pytest.fixture
async def client(server: ApiServer, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with admin_client(server, tmp_path / "client") as c:
        yield c


def widget_crd(name: str = "widgets.example.com") -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": name},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {
                "plural": "widgets",
                "singular": "widget",
                "kind": "Widget",
                "shortNames": ["wd"],
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": "Size", "type": "integer", "jsonPath": ".spec.size"}
                    ],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "A widget for tests.",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {
                                        "size": {
                                            "type": "integer",
                                            "description": "How big.",
                                        }
                                    },
                                },
                                "status": {
                                    "type": "object",
                                    "x-kubernetes-preserve-unknown-fields": True,
                                },
                            },
                        }
                    },
                }
            ],
        },
    }


def widget(name: str = "w1", size: int = 3) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"size": size},
    }


async def established(client: httpx.AsyncClient, name: str = "widgets.example.com") -> bool:
    r = await client.get(f"{CRDS}/{name}")
    conditions = r.json().get("status", {}).get("conditions", [])
    return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)


async def served(client: httpx.AsyncClient) -> bool:
    return (await client.get(WIDGETS)).status_code == 200


async def install_widgets(client: httpx.AsyncClient) -> None:
    r = await client.post(CRDS, json=widget_crd())
    assert r.status_code == 201, r.text
    await eventually_async(lambda: established(client))


async def test_a_created_crd_is_served_with_discovery_and_openapi(
    client: httpx.AsyncClient,
) -> None:
    await install_widgets(client)
    resources = (await client.get("/apis/example.com/v1")).json()["resources"]
    assert {r["name"] for r in resources} == {"widgets", "widgets/status"}
    index = (await client.get("/openapi/v3")).json()["paths"]
    assert "apis/example.com/v1" in index
    doc = (await client.get(index["apis/example.com/v1"]["serverRelativeURL"])).json()
    assert "com.example.v1.Widget" in doc["components"]["schemas"]


async def test_a_created_crd_serves_crud_for_its_kind(client: httpx.AsyncClient) -> None:
    await install_widgets(client)
    r = await client.post(WIDGETS, json=widget())
    assert r.status_code == 201, r.text
    assert r.json()["metadata"]["generation"] == 1
    assert (await client.get(f"{WIDGETS}/w1")).json()["spec"]["size"] == 3


async def test_a_crd_gets_accepted_names_status_and_the_cleanup_finalizer(
    client: httpx.AsyncClient,
) -> None:
    await install_widgets(client)
    crd = (await client.get(f"{CRDS}/widgets.example.com")).json()
    assert crd["status"]["acceptedNames"]["kind"] == "Widget"
    assert crd["status"]["storedVersions"] == ["v1"]
    assert crd["metadata"]["finalizers"] == ["customresourcecleanup.apiextensions.k8s.io"]


async def test_deleting_a_crd_deletes_its_objects_and_unserves_it(
    client: httpx.AsyncClient,
) -> None:
    await install_widgets(client)
    await client.post(WIDGETS, json=widget())
    r = await client.delete(f"{CRDS}/widgets.example.com")
    assert r.status_code == 202

    async def crd_gone() -> bool:
        return (await client.get(f"{CRDS}/widgets.example.com")).status_code == 404

    await eventually_async(crd_gone)
    assert (await client.get(WIDGETS)).status_code == 404
    assert (await client.get("/apis/example.com/v1")).status_code == 404
    await install_widgets(client)
    assert (await client.get(WIDGETS)).json()["items"] == []


async def test_a_crd_whose_name_does_not_match_is_not_served(client: httpx.AsyncClient) -> None:
    r = await client.post(CRDS, json=widget_crd("gadgets.example.com"))
    assert r.status_code == 201

    async def rejected() -> bool:
        crd = (await client.get(f"{CRDS}/gadgets.example.com")).json()
        conditions = crd.get("status", {}).get("conditions", [])
        return any(c["type"] == "NamesAccepted" and c["status"] == "False" for c in conditions)

    await eventually_async(rejected)
    assert not await served(client)


async def test_changing_a_crd_reregisters_its_printer_columns(
    client: httpx.AsyncClient, server: ApiServer
) -> None:
    await install_widgets(client)
    changed = copy.deepcopy(widget_crd())
    changed["spec"]["versions"][0]["additionalPrinterColumns"][0]["name"] = "Bigness"
    changed["metadata"]["resourceVersion"] = (
        await client.get(f"{CRDS}/widgets.example.com")
    ).json()["metadata"]["resourceVersion"]
    r = await client.put(f"{CRDS}/widgets.example.com", json=changed)
    assert r.status_code == 200, r.text
    assert server.context is not None

    async def renamed() -> bool:
        assert server.context is not None
        rt = server.context.registry.get("example.com", "v1", "widgets")
        return rt is not None and rt.printer_columns[0].name == "Bigness"

    await eventually_async(renamed)


async def test_the_project_crds_are_stored_and_established(client: httpx.AsyncClient) -> None:
    names = {c["metadata"]["name"] for c in (await client.get(CRDS)).json()["items"]}
    assert "certificates.cert-manager.io" in names
    await eventually_async(lambda: established(client, "certificates.cert-manager.io"))


async def test_a_stored_crd_is_served_again_after_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with running_server(data) as first, admin_client(first, tmp_path / "c1") as client:
        await install_widgets(client)
        await client.post(WIDGETS, json=widget())
    async with running_server(data) as second, admin_client(second, tmp_path / "c2") as client:
        assert (await client.get(f"{WIDGETS}/w1")).status_code == 200
