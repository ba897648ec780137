"""The API server over real HTTPS: CRUD semantics, errors, watch, selectors, admission."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml

from certsmith.apiserver.server import ApiServer
from tests.servertools import admin_client, running_server

CRS = "/apis/cert-manager.io/v1/namespaces/default/certificaterequests"
CERTS = "/apis/cert-manager.io/v1/namespaces/default/certificates"
SECRETS = "/api/v1/namespaces/default/secrets"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
DATA = Path(__file__).parent.parent / "data"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ApiServer]:
    async with running_server(tmp_path / "data", bookmark_interval=0.2) as srv:
        yield srv


@pytest.fixture
async def client(server: ApiServer, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with admin_client(server, tmp_path / "client") as c:
        yield c


def certificate(name: str = "demo", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": name},
        "spec": {
            "secretName": f"{name}-tls",
            "dnsNames": ["example.com"],
            "issuerRef": {"name": "ca", "kind": "Issuer"},
            **spec,
        },
    }


def cr_manifest() -> dict[str, Any]:
    docs = yaml.safe_load((DATA / "my-ca-cr.yaml").read_text())
    assert isinstance(docs, dict)
    return docs


async def test_version_health_and_unknown_paths(client: httpx.AsyncClient) -> None:
    assert (await client.get("/version/")).json()["minor"] == "32"
    assert (await client.get("/healthz")).text == "ok"
    r = await client.get("/nope/here")
    assert r.status_code == 404
    assert r.json()["kind"] == "Status"
    assert r.json()["reason"] == "NotFound"


async def test_anonymous_is_401(server: ApiServer) -> None:
    async with httpx.AsyncClient(verify=False) as anon:
        r = await anon.get(f"{server.url}/api/v1/namespaces")
        assert r.status_code == 401
        assert r.json()["reason"] == "Unauthorized"
        assert (await anon.get(f"{server.url}/healthz")).status_code == 200


async def test_discovery_aggregated_content_type(client: httpx.AsyncClient) -> None:
    accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    r = await client.get("/apis", headers={"Accept": accept})
    assert r.headers["Content-Type"] == accept
    r = await client.get("/apis/", headers={"Accept": "*/*"})
    assert r.json()["kind"] == "APIGroupList"
    r = await client.get("/openapi/v3")
    assert "apis/cert-manager.io/v1" in r.json()["paths"]


async def test_create_sets_server_fields_and_drops_status(client: httpx.AsyncClient) -> None:
    body = certificate()
    body["status"] = {"revision": 3}
    r = await client.post(CERTS, json=body)
    assert r.status_code == 201, r.text
    meta = r.json()["metadata"]
    assert meta["generation"] == 1
    assert meta["uid"]
    assert meta["creationTimestamp"].endswith("Z")
    assert meta["namespace"] == "default"
    assert "status" not in r.json()
    again = await client.post(CERTS, json=certificate())
    assert again.status_code == 409
    assert again.json()["reason"] == "AlreadyExists"


async def test_generate_name(client: httpx.AsyncClient) -> None:
    body = certificate()
    del body["metadata"]["name"]
    body["metadata"]["generateName"] = "gen-"
    r = await client.post(CERTS, json=body)
    assert r.status_code == 201
    assert r.json()["metadata"]["name"].startswith("gen-")
    assert len(r.json()["metadata"]["name"]) == 9


async def test_missing_namespace_is_404(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/apis/cert-manager.io/v1/namespaces/nope/certificates", json=certificate()
    )
    assert r.status_code == 404
    assert r.json()["message"] == 'namespaces "nope" not found'


async def test_update_conflict_noop_and_generation(client: httpx.AsyncClient) -> None:
    created = (await client.post(CERTS, json=certificate())).json()
    rv = created["metadata"]["resourceVersion"]
    same = await client.put(f"{CERTS}/demo", json=created)
    assert same.status_code == 200
    assert same.json()["metadata"]["resourceVersion"] == rv
    labelled = copy.deepcopy(created)
    labelled["metadata"]["labels"] = {"a": "b"}
    r = await client.put(f"{CERTS}/demo", json=labelled)
    assert r.json()["metadata"]["generation"] == 1
    assert r.json()["metadata"]["resourceVersion"] != rv
    stale = await client.put(f"{CERTS}/demo", json=labelled)
    assert stale.status_code == 409
    assert stale.json()["reason"] == "Conflict"
    changed = r.json()
    changed["spec"]["secretName"] = "other"
    r2 = await client.put(f"{CERTS}/demo", json=changed)
    assert r2.json()["metadata"]["generation"] == 2


async def test_status_split(client: httpx.AsyncClient) -> None:
    created = (await client.post(CERTS, json=certificate())).json()
    with_status = copy.deepcopy(created)
    with_status["status"] = {"revision": 1}
    with_status["spec"]["secretName"] = "ignored"
    r = await client.put(f"{CERTS}/demo/status", json=with_status)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == {"revision": 1}
    assert r.json()["spec"]["secretName"] == "demo-tls"
    assert r.json()["metadata"]["generation"] == 1
    main = r.json()
    main["status"] = {"revision": 9}
    r2 = await client.put(f"{CERTS}/demo", json=main)
    assert r2.json()["status"] == {"revision": 1}
    assert (await client.get(f"{CERTS}/demo/status")).json()["status"] == {"revision": 1}


async def test_finalizers_and_202(client: httpx.AsyncClient) -> None:
    body = certificate()
    body["metadata"]["finalizers"] = ["example.com/hold"]
    await client.post(CERTS, json=body)
    r = await client.request("DELETE", f"{CERTS}/demo")
    assert r.status_code == 202
    assert r.json()["metadata"]["deletionTimestamp"]
    assert r.json()["metadata"]["generation"] == 2
    obj = r.json()
    obj["metadata"]["finalizers"] = []
    gone = await client.put(f"{CERTS}/demo", json=obj)
    assert gone.status_code == 200
    assert (await client.get(f"{CERTS}/demo")).status_code == 404


async def test_merge_patch_and_strategic_415(client: httpx.AsyncClient) -> None:
    await client.post(CERTS, json=certificate())
    r = await client.patch(
        f"{CERTS}/demo",
        content=b'{"metadata":{"labels":{"x":"y"}}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["metadata"]["labels"] == {"x": "y"}
    r = await client.patch(
        f"{CERTS}/demo",
        content=b"{}",
        headers={"Content-Type": "application/strategic-merge-patch+json"},
    )
    assert r.status_code == 415


async def test_secret_string_data_and_dry_run(client: httpx.AsyncClient) -> None:
    body = {"metadata": {"name": "s"}, "stringData": {"k": "v"}}
    r = await client.post(f"{SECRETS}?dryRun=All", json=body)
    assert r.status_code == 201
    assert (await client.get(f"{SECRETS}/s")).status_code == 404
    r = await client.post(SECRETS, json=body)
    assert r.json()["data"] == {"k": "dg=="}
    assert r.json()["type"] == "Opaque"
    assert "stringData" not in r.json()


async def test_bad_bodies(client: httpx.AsyncClient) -> None:
    r = await client.post(CERTS, content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert "json parse error" in r.json()["message"]
    r = await client.post(CERTS, content=b"x" * (3 * 1024 * 1024 + 10))
    assert r.status_code == 413
    bad = certificate()
    bad["spec"]["bogus"] = 1
    r = await client.post(f"{CERTS}?fieldValidation=Strict", json=bad)
    assert r.status_code == 400
    assert 'unknown field "spec.bogus"' in r.json()["message"]
    r = await client.post(CERTS, json=bad)
    assert r.status_code == 201
    assert 'unknown field \\"spec.bogus\\"' in r.headers["Warning"]
    assert "bogus" not in r.json()["spec"]


async def test_yaml_body(client: httpx.AsyncClient) -> None:
    r = await client.post(
        CERTS,
        content=yaml.safe_dump(certificate("y")).encode(),
        headers={"Content-Type": "application/yaml"},
    )
    assert r.status_code == 201


async def test_list_selectors_pagination_and_table(client: httpx.AsyncClient) -> None:
    for i in range(5):
        body = certificate(f"c{i}")
        body["metadata"]["labels"] = {"even": str(i % 2 == 0).lower()}
        await client.post(CERTS, json=body)
    r = await client.get(CERTS, params={"labelSelector": "even=true"})
    assert [o["metadata"]["name"] for o in r.json()["items"]] == ["c0", "c2", "c4"]
    r = await client.get(CERTS, params={"fieldSelector": "metadata.name=c3"})
    assert [o["metadata"]["name"] for o in r.json()["items"]] == ["c3"]
    r = await client.get(CERTS, params={"fieldSelector": "spec.foo=x"})
    assert r.status_code == 400
    page = (await client.get(CERTS, params={"limit": "2"})).json()
    assert len(page["items"]) == 2
    assert page["metadata"]["continue"]
    rest = await client.get(CERTS, params={"continue": page["metadata"]["continue"]})
    assert len(rest.json()["items"]) == 3
    r = await client.get("/apis/cert-manager.io/v1/certificates", headers={"Accept": TABLE})
    table = r.json()
    assert table["kind"] == "Table"
    assert table["rows"][0]["object"]["metadata"]["namespace"] == "default"


async def _watch_lines(
    client: httpx.AsyncClient, url: str, params: dict[str, str], count: int
) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    async with client.stream("GET", url, params={"watch": "true", **params}) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line:
                lines.append(orjson.loads(line))
            if len(lines) >= count:
                break
    return lines


async def test_watch_initial_resume_and_selector(client: httpx.AsyncClient) -> None:
    first = (await client.post(CERTS, json=certificate("a"))).json()
    events = await _watch_lines(client, CERTS, {"timeoutSeconds": "5"}, 1)
    assert events[0]["type"] == "ADDED"
    rv = first["metadata"]["resourceVersion"]

    async def later() -> None:
        await asyncio.sleep(0.2)
        await client.post(CERTS, json=certificate("b"))
        await client.request("DELETE", f"{CERTS}/a")

    task = asyncio.create_task(later())
    events = await _watch_lines(client, CERTS, {"resourceVersion": rv, "timeoutSeconds": "5"}, 2)
    await task
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "b"),
        ("DELETED", "a"),
    ]
    assert int(events[1]["object"]["metadata"]["resourceVersion"]) > int(rv)


async def test_watch_label_stop_matching_is_deleted(client: httpx.AsyncClient) -> None:
    body = certificate("w")
    body["metadata"]["labels"] = {"app": "x"}
    created = (await client.post(CERTS, json=body)).json()

    async def relabel() -> None:
        await asyncio.sleep(0.2)
        created["metadata"]["labels"] = {"app": "y"}
        await client.put(f"{CERTS}/w", json=created)

    task = asyncio.create_task(relabel())
    params = {"labelSelector": "app=x", "timeoutSeconds": "5"}
    events = await _watch_lines(client, CERTS, params, 2)
    await task
    assert [e["type"] for e in events] == ["ADDED", "DELETED"]


async def test_watch_bookmark_and_timeout(client: httpx.AsyncClient) -> None:
    rv = (await client.post(CERTS, json=certificate("bm"))).json()["metadata"]["resourceVersion"]
    params = {"resourceVersion": rv, "allowWatchBookmarks": "true", "timeoutSeconds": "1"}
    events = await _watch_lines(client, CERTS, params, 100)
    assert events
    assert all(e["type"] == "BOOKMARK" for e in events)


async def test_watch_expired_is_error_event(server: ApiServer, client: httpx.AsyncClient) -> None:
    for i in range(3):
        await client.post(CERTS, json=certificate(f"e{i}"))
    assert server.store is not None
    await server.store.compact(server.store.current_revision())
    events = await _watch_lines(client, CERTS, {"resourceVersion": "1"}, 1)
    assert events[0]["type"] == "ERROR"
    assert events[0]["object"]["code"] == 410


async def test_certificate_request_identity_and_admission(client: httpx.AsyncClient) -> None:
    body = cr_manifest()
    body["spec"]["username"] = "mallory"
    r = await client.post(CRS, json=body)
    assert r.status_code == 201, r.text
    assert r.json()["spec"]["username"] == "admin"
    assert "system:masters" in r.json()["spec"]["groups"]
    changed = r.json()
    changed["spec"]["duration"] = "1h"
    r = await client.put(f"{CRS}/my-ca-cr", json=changed)
    assert r.status_code == 403
    assert 'admission webhook "webhook.cert-manager.io" denied the request' in r.json()["message"]
    assert "cannot change spec after creation" in r.json()["message"]


async def test_admission_rejection_stores_nothing(client: httpx.AsyncClient) -> None:
    body = cr_manifest()
    body["metadata"]["name"] = "broken"
    body["spec"]["request"] = ""
    r = await client.post(CRS, json=body)
    assert r.status_code in (403, 422)
    assert (await client.get(f"{CRS}/broken")).status_code == 404
    bad = certificate("bad", secretName=7)
    r = await client.post(CERTS, json=bad)
    assert r.status_code == 422
    assert r.json()["reason"] == "Invalid"
    assert (await client.get(f"{CERTS}/bad")).status_code == 404


async def test_namespace_delete_cascades(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/namespaces", json={"metadata": {"name": "tmp"}})
    assert r.status_code == 201
    await client.post("/apis/cert-manager.io/v1/namespaces/tmp/certificates", json=certificate())
    r = await client.request("DELETE", "/api/v1/namespaces/tmp")
    assert r.json()["status"]["phase"] == "Terminating"
    for _ in range(50):
        if (await client.get("/api/v1/namespaces/tmp")).status_code == 404:
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("namespace was not deleted")
