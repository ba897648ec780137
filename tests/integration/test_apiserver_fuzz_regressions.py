"""Inputs the fuzz test (``test_apiserver_fuzz.py``) once turned into 5xx, pinned one by one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from certsmith.apiserver.server import ApiServer
from tests.servertools import admin_client, running_server

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ApiServer]:
    async with running_server(tmp_path / "data") as srv:
        yield srv


@pytest.fixture
async def client(server: ApiServer, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with admin_client(server, tmp_path / "client") as c:
        yield c


def configmap(name: str = "cm", **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **meta}}


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        (
            {"name": True},
            "json: cannot unmarshal bool into Go struct field ObjectMeta.metadata.name of type "
            "string",
        ),
        (
            {"name": "cm", "labels": ["a"]},
            "json: cannot unmarshal array into Go struct field ObjectMeta.metadata.labels of type "
            "map[string]string",
        ),
        (
            {"name": "cm", "annotations": {"a": 1}},
            "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.annotations "
            "of type string",
        ),
        (
            {"name": "cm", "finalizers": "x"},
            "json: cannot unmarshal string into Go struct field ObjectMeta.metadata.finalizers "
            "of type []string",
        ),
    ],
    ids=["name", "labels", "annotation value", "finalizers"],
)
async def test_metadata_of_the_wrong_type_is_a_bad_request(
    client: httpx.AsyncClient, metadata: dict[str, Any], message: str
) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}
    response = await client.post(CONFIGMAPS, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["message"] == message


async def test_a_patch_giving_labels_the_wrong_type_is_a_bad_request_that_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    created = (await client.post(CONFIGMAPS, json=configmap())).json()
    response = await client.patch(
        f"{CONFIGMAPS}/cm",
        content=b'{"metadata": {"labels": 7}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 400, response.text
    after = (await client.get(f"{CONFIGMAPS}/cm")).json()
    assert after["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


async def test_a_null_label_value_is_stored_as_an_empty_string(client: httpx.AsyncClient) -> None:
    response = await client.post(CONFIGMAPS, json=configmap(labels={"a": None}))
    assert response.status_code == 201, response.text
    assert response.json()["metadata"]["labels"] == {"a": ""}
