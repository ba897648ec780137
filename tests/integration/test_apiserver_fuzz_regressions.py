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
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


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


def deep_json(depth: int) -> str:
    return '{"n":' * depth + "1" + "}" * depth


async def test_a_body_nested_past_the_limit_is_refused_and_lists_keep_working(
    client: httpx.AsyncClient,
) -> None:
    body = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"deep"},"zz":%s}'
    response = await client.post(CONFIGMAPS, content=(body % deep_json(252)).encode())
    assert response.status_code == 400, response.text
    assert "exceeded max depth of 100" in response.json()["message"]
    table = await client.get(CONFIGMAPS, headers={"Accept": TABLE})
    assert table.status_code == 200, table.text


@pytest.mark.parametrize(
    "body",
    [b"[" * 5000 + b"]" * 5000, b"a: !!set {x, y}\n", b"1: one\n"],
    ids=["deep flow sequence", "set", "integer key"],
)
async def test_yaml_bodies_that_are_not_json_are_bad_requests(
    client: httpx.AsyncClient, body: bytes
) -> None:
    response = await client.post(
        CONFIGMAPS, content=body, headers={"Content-Type": "application/yaml"}
    )
    assert response.status_code == 400, response.text


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/merge-patch+json", deep_json(5000)),
        ("application/strategic-merge-patch+json", '{"data": {"n": ' + str(2**70) + "}}"),
        ("application/merge-patch+json", '{"data": {"n": NaN}}'),
        (
            "application/json-patch+json",
            '[{"op": "add", "path": "/x", "value": ' + deep_json(150) + "}]",
        ),
        ("application/apply-patch+yaml", "[" * 5000 + "]" * 5000),
        ("application/apply-patch+yaml", '{"data": {"a": "\\ud800"}}'),
        ("application/merge-patch+json", '{"data": {"\\ud800": "a"}}'),
    ],
    ids=[
        "deep merge patch",
        "huge integer",
        "nan",
        "deep json patch value",
        "deep apply",
        "lone surrogate in apply",
        "lone surrogate key in merge patch",
    ],
)
async def test_patch_bodies_the_store_could_not_write_are_bad_requests(
    client: httpx.AsyncClient, content_type: str, body: str
) -> None:
    created = (await client.post(CONFIGMAPS, json=configmap())).json()
    response = await client.patch(
        f"{CONFIGMAPS}/cm",
        content=body.encode(),
        params={"fieldManager": "test"},
        headers={"Content-Type": content_type},
    )
    assert response.status_code == 400, response.text
    after = (await client.get(f"{CONFIGMAPS}/cm")).json()
    assert after["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


async def test_a_warning_about_a_field_with_control_characters_is_escaped(
    client: httpx.AsyncClient,
) -> None:
    body = b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "a\\nb\\f": 1}'
    response = await client.post(CONFIGMAPS, content=body)
    assert response.status_code == 201, response.text
    assert response.headers.get_list("Warning") == ['299 - "unknown field \\"a\\nb\\x0c\\""']


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_metadata_that_is_not_an_object_is_a_bad_request_on_update(
    client: httpx.AsyncClient, method: str
) -> None:
    await client.post(CONFIGMAPS, json=configmap())
    headers = {"Content-Type": "application/merge-patch+json"} if method == "PATCH" else {}
    response = await client.request(
        method,
        f"{CONFIGMAPS}/cm",
        content=b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": 1.5}',
        headers=headers,
    )
    assert response.status_code == 400, response.text
    assert response.json()["message"] == "metadata must be an object"
