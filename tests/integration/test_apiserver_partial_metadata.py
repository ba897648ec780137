"""Metadata-only responses (``as=PartialObjectMetadata[List];g=meta.k8s.io``) for get, list, watch.

client-go's metadata client and metadata informers send exactly the Accept headers below
(protobuf listed first, which the server skips for the JSON entry); the Python client's
DynamicClient asks for the list form through ``header_params``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import config as k8s_config
from kubernetes.dynamic import DynamicClient

from certsmith.apiserver.server import ApiServer
from tests.servertools import admin_client, running_server

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
GO_OBJECT = (
    "application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,"
    "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"
)
GO_LIST = (
    "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,"
    "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
)


def config_map(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels},
        "data": {"secret-ish": "not for metadata readers"},
    }


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ApiServer]:
    async with running_server(tmp_path / "data") as started:
        yield started


@pytest.fixture
async def http(server: ApiServer, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with admin_client(server, tmp_path / "creds") as client:
        for name in ("a", "b", "c"):
            created = await client.post(CONFIGMAPS, json=config_map(name, app=name))
            assert created.status_code == 201
        yield client


def assert_partial(obj: dict[str, Any], name: str, version: str = "v1") -> None:
    assert obj["kind"] == "PartialObjectMetadata"
    assert obj["apiVersion"] == f"meta.k8s.io/{version}"
    assert set(obj) == {"kind", "apiVersion", "metadata"}
    assert obj["metadata"]["name"] == name
    assert obj["metadata"]["namespace"] == "default"
    assert obj["metadata"]["uid"]


async def test_list_as_partial_object_metadata_list(http: httpx.AsyncClient) -> None:
    response = await http.get(CONFIGMAPS, headers={"Accept": GO_LIST})
    assert response.status_code == 200
    body = response.json()
    assert (body["kind"], body["apiVersion"]) == ("PartialObjectMetadataList", "meta.k8s.io/v1")
    assert body["metadata"]["resourceVersion"]
    for item, name in zip(body["items"], ("a", "b", "c"), strict=True):
        assert_partial(item, name)
        assert item["metadata"]["labels"] == {"app": name}


async def test_partial_list_pages_and_selects_like_a_list(http: httpx.AsyncClient) -> None:
    first = await http.get(
        CONFIGMAPS, params={"limit": "1", "labelSelector": "app!=b"}, headers={"Accept": GO_LIST}
    )
    page = first.json()
    assert [i["metadata"]["name"] for i in page["items"]] == ["a"]
    params = {"limit": "1", "labelSelector": "app!=b", "continue": page["metadata"]["continue"]}
    second = await http.get(CONFIGMAPS, params=params, headers={"Accept": GO_LIST})
    assert [i["metadata"]["name"] for i in second.json()["items"]] == ["c"]
    assert "continue" not in second.json()["metadata"]


async def test_empty_partial_list_has_an_empty_items_array(http: httpx.AsyncClient) -> None:
    response = await http.get(
        CONFIGMAPS, params={"labelSelector": "app=none"}, headers={"Accept": GO_LIST}
    )
    assert response.json()["items"] == []


async def test_get_as_partial_object_metadata(http: httpx.AsyncClient) -> None:
    response = await http.get(f"{CONFIGMAPS}/b", headers={"Accept": GO_OBJECT})
    assert response.status_code == 200
    assert_partial(response.json(), "b")


async def test_v1beta1_is_served_too(http: httpx.AsyncClient) -> None:
    accept = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1beta1"
    response = await http.get(f"{CONFIGMAPS}/a", headers={"Accept": accept})
    assert_partial(response.json(), "a", "v1beta1")


async def test_patch_answers_with_metadata_as_the_metadata_client_asks(
    http: httpx.AsyncClient,
) -> None:
    response = await http.patch(
        f"{CONFIGMAPS}/a",
        content=b'{"metadata":{"labels":{"patched":"yes"}}}',
        headers={"Content-Type": "application/merge-patch+json", "Accept": GO_OBJECT},
    )
    assert response.status_code == 200
    assert_partial(response.json(), "a")
    assert response.json()["metadata"]["labels"] == {"app": "a", "patched": "yes"}


@pytest.mark.parametrize(
    ("path", "accept", "message"),
    [
        pytest.param(
            CONFIGMAPS,
            "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
            "you requested PartialObjectMetadata, but the requested object is a list",
            id="object form of a list",
        ),
        pytest.param(
            f"{CONFIGMAPS}/a",
            "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
            "you requested PartialObjectMetadataList, but the requested object is not a list",
            id="list form of an object",
        ),
    ],
)
async def test_mismatched_form_is_406(
    http: httpx.AsyncClient, path: str, accept: str, message: str
) -> None:
    response = await http.get(path, headers={"Accept": accept})
    assert response.status_code == 406
    assert (response.json()["reason"], response.json()["message"]) == ("NotAcceptable", message)


async def test_watch_sends_every_event_as_partial_object_metadata(
    http: httpx.AsyncClient,
) -> None:
    listed = await http.get(CONFIGMAPS, headers={"Accept": GO_LIST})
    rv = listed.json()["metadata"]["resourceVersion"]
    await http.patch(
        f"{CONFIGMAPS}/a",
        content=b'{"metadata":{"labels":{"app":"changed"}}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    await http.delete(f"{CONFIGMAPS}/b")
    params = {"watch": "true", "resourceVersion": rv, "timeoutSeconds": "1"}
    async with http.stream(
        "GET", CONFIGMAPS, params=params, headers={"Accept": GO_OBJECT}
    ) as stream:
        assert stream.status_code == 200
        events = [json.loads(line) async for line in stream.aiter_lines() if line]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("MODIFIED", "a"),
        ("DELETED", "b"),
    ]
    for event in events:
        assert_partial(event["object"], event["object"]["metadata"]["name"])
    assert events[0]["object"]["metadata"]["labels"] == {"app": "changed"}


async def test_watch_of_the_list_form_is_406_before_streaming(http: httpx.AsyncClient) -> None:
    response = await http.get(
        CONFIGMAPS,
        params={"watch": "1"},
        headers={"Accept": "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"},
    )
    assert response.status_code == 406


def _dynamic_client_metadata_list(kubeconfig: Path) -> Any:
    api_client = k8s_config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(kubeconfig)
    )
    try:
        dynamic = DynamicClient(api_client)  # type: ignore[no-untyped-call]
        configmaps = dynamic.resources.get(api_version="v1", kind="ConfigMap")
        accept = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"
        return configmaps.get(namespace="default", header_params={"Accept": accept}).to_dict()
    finally:
        api_client.close()


async def test_python_dynamic_client_metadata_list(
    server: ApiServer, http: httpx.AsyncClient
) -> None:
    body = await asyncio.to_thread(_dynamic_client_metadata_list, server.kubeconfig_path)
    assert (body["kind"], body["apiVersion"]) == ("PartialObjectMetadataList", "meta.k8s.io/v1")
    assert [i["metadata"]["name"] for i in body["items"]] == ["a", "b", "c"]
    assert all("data" not in item for item in body["items"])
