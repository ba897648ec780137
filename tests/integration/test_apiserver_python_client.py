"""The unmodified Python ``kubernetes`` client against the server (K8S-API §1.7, §7).

The client is synchronous, so every call runs in a thread (``asyncio.to_thread``) while the
in-process server keeps serving on the event loop. The client is built from the kubeconfig
the server writes, exactly as a user would.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import config, watch
from kubernetes.client.exceptions import ApiException

from certsmith.apiserver.server import ApiServer
from tests.servertools import eventually_async, running_server

GROUP, VERSION = "cert-manager.io", "v1"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ApiServer]:
    async with running_server(tmp_path / "data") as srv:
        yield srv


@pytest.fixture
async def api(server: ApiServer) -> AsyncIterator[k8s.ApiClient]:
    api_client = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(server.kubeconfig_path)
    )
    try:
        yield api_client
    finally:
        await asyncio.to_thread(api_client.close)


def certificate(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "secretName": f"{name}-tls",
            "dnsNames": ["example.com"],
            "issuerRef": {"name": "ca", "kind": "Issuer"},
        },
    }


def create_certificate(api: k8s.ApiClient, name: str, namespace: str = "default") -> Any:
    return k8s.CustomObjectsApi(api).create_namespaced_custom_object(
        GROUP, VERSION, namespace, "certificates", certificate(name)
    )


async def call(fn: Callable[..., object], *args: Any, **kwargs: Any) -> Any:
    """Run one blocking client call in a thread; its result is left untyped for the asserts."""
    return await asyncio.to_thread(fn, *args, **kwargs)


async def error_status(call: Callable[[], object]) -> int | None:
    """The HTTP status ``call`` fails with (``None`` if it succeeds).

    The ApiException is dropped inside the thread: kept alive (as ``pytest.raises`` keeps it),
    its traceback pins the client's connection open past the server's shutdown.
    """

    def run() -> int | None:
        try:
            call()
        except ApiException as exc:
            return int(exc.status)
        return None

    return await asyncio.to_thread(run)


async def test_custom_objects_create_get_and_list(api: k8s.ApiClient) -> None:
    custom = k8s.CustomObjectsApi(api)
    created = await call(create_certificate, api, "demo")
    assert created["metadata"]["generation"] == 1
    got = await call(
        custom.get_namespaced_custom_object, GROUP, VERSION, "default", "certificates", "demo"
    )
    assert got["metadata"]["uid"] == created["metadata"]["uid"]
    listed = await call(
        custom.list_namespaced_custom_object, GROUP, VERSION, "default", "certificates"
    )
    assert [i["metadata"]["name"] for i in listed["items"]] == ["demo"]


async def test_custom_object_patch_is_a_merge_patch_by_default(api: k8s.ApiClient) -> None:
    custom = k8s.CustomObjectsApi(api)
    await call(create_certificate, api, "demo")
    patched = await call(
        custom.patch_namespaced_custom_object,
        GROUP,
        VERSION,
        "default",
        "certificates",
        "demo",
        {"metadata": {"labels": {"team": "a"}}, "spec": {"secretName": "other"}},
    )
    assert patched["metadata"]["labels"] == {"team": "a"}
    assert patched["spec"]["secretName"] == "other"
    assert patched["metadata"]["generation"] == 2


async def test_custom_object_json_patch_needs_the_explicit_content_type(
    api: k8s.ApiClient,
) -> None:
    custom = k8s.CustomObjectsApi(api)
    await call(create_certificate, api, "demo")
    ops = [{"op": "replace", "path": "/spec/secretName", "value": "by-json-patch"}]

    def as_sent_by_default() -> None:
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, "default", "certificates", "demo", ops
        )

    assert await error_status(as_sent_by_default) == 422
    patched = await call(
        lambda: custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            "default",
            "certificates",
            "demo",
            ops,
            _content_type="application/json-patch+json",
        )
    )
    assert patched["spec"]["secretName"] == "by-json-patch"


async def test_custom_object_status_patch_writes_only_status(api: k8s.ApiClient) -> None:
    custom = k8s.CustomObjectsApi(api)
    await call(create_certificate, api, "demo")
    condition = {"type": "Ready", "status": "True", "reason": "Ready", "message": "ok"}
    patched = await call(
        custom.patch_namespaced_custom_object_status,
        GROUP,
        VERSION,
        "default",
        "certificates",
        "demo",
        {"status": {"conditions": [condition]}, "spec": {"secretName": "ignored"}},
    )
    assert patched["status"]["conditions"][0]["type"] == "Ready"
    assert patched["spec"]["secretName"] == "demo-tls"
    assert patched["metadata"]["generation"] == 1


async def test_custom_object_delete_then_get_is_404(api: k8s.ApiClient) -> None:
    custom = k8s.CustomObjectsApi(api)
    await call(create_certificate, api, "demo")
    await call(
        custom.delete_namespaced_custom_object, GROUP, VERSION, "default", "certificates", "demo"
    )
    status = await error_status(
        lambda: custom.get_namespaced_custom_object(
            GROUP, VERSION, "default", "certificates", "demo"
        )
    )
    assert status == 404


async def test_list_cluster_custom_object_spans_namespaces(api: k8s.ApiClient) -> None:
    core = k8s.CoreV1Api(api)
    await call(core.create_namespace, k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name="other")))
    await call(create_certificate, api, "a", "default")
    await call(create_certificate, api, "b", "other")
    listed = await call(
        k8s.CustomObjectsApi(api).list_cluster_custom_object, GROUP, VERSION, "certificates"
    )
    found = {(i["metadata"]["namespace"], i["metadata"]["name"]) for i in listed["items"]}
    assert found == {("default", "a"), ("other", "b")}


async def test_watch_stream_sees_added_modified_and_deleted(api: k8s.ApiClient) -> None:
    custom = k8s.CustomObjectsApi(api)
    seen: list[tuple[str, str]] = []
    done = threading.Event()

    def follow() -> None:
        stream = watch.Watch()  # type: ignore[no-untyped-call]
        try:
            for event in stream.stream(  # type: ignore[no-untyped-call]
                custom.list_namespaced_custom_object,
                GROUP,
                VERSION,
                "default",
                "certificates",
                timeout_seconds=20,
            ):
                seen.append((event["type"], event["object"]["metadata"]["name"]))
                if event["type"] == "DELETED" or done.is_set():
                    break
        finally:
            stream.stop()  # type: ignore[no-untyped-call]

    watcher = asyncio.create_task(asyncio.to_thread(follow))
    try:
        await call(create_certificate, api, "watched")
        await eventually_async(lambda: ("ADDED", "watched") in seen)
        await call(
            custom.patch_namespaced_custom_object,
            GROUP,
            VERSION,
            "default",
            "certificates",
            "watched",
            {"metadata": {"labels": {"x": "1"}}},
        )
        await call(
            custom.delete_namespaced_custom_object,
            GROUP,
            VERSION,
            "default",
            "certificates",
            "watched",
        )
        await asyncio.wait_for(watcher, timeout=20)
    finally:
        done.set()
        if not watcher.done():
            await asyncio.wait_for(watcher, timeout=25)
    assert [t for t, _ in seen] == ["ADDED", "MODIFIED", "DELETED"]


async def test_core_secret_create_read_and_strategic_patch(api: k8s.ApiClient) -> None:
    core = k8s.CoreV1Api(api)
    body = k8s.V1Secret(
        metadata=k8s.V1ObjectMeta(name="s1", labels={"app": "x"}),
        string_data={"user": "admin"},
    )
    created = await call(core.create_namespaced_secret, "default", body)
    assert created.type == "Opaque"
    assert created.data == {"user": "YWRtaW4="}
    read = await call(core.read_namespaced_secret, "s1", "default")
    assert read.metadata.uid == created.metadata.uid
    patched = await call(
        core.patch_namespaced_secret,
        "s1",
        "default",
        {"metadata": {"labels": {"tier": "b"}}, "data": {"extra": "eA=="}},
    )
    assert patched.metadata.labels == {"app": "x", "tier": "b"}
    assert set(patched.data) == {"user", "extra"}


async def test_delete_collection_of_secrets_honours_the_label_selector(
    api: k8s.ApiClient,
) -> None:
    core = k8s.CoreV1Api(api)
    for name, app in (("a", "gone"), ("b", "gone"), ("c", "kept")):
        secret = k8s.V1Secret(metadata=k8s.V1ObjectMeta(name=name, labels={"app": app}))
        await call(core.create_namespaced_secret, "default", secret)
    await call(core.delete_collection_namespaced_secret, "default", label_selector="app=gone")
    left = await call(core.list_namespaced_secret, "default")
    assert [s.metadata.name for s in left.items] == ["c"]


async def test_create_namespace_sets_phase_and_name_label(api: k8s.ApiClient) -> None:
    core = k8s.CoreV1Api(api)
    ns = await call(
        core.create_namespace, k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name="team-a"))
    )
    assert ns.status.phase == "Active"
    assert ns.metadata.labels["kubernetes.io/metadata.name"] == "team-a"


async def test_events_are_listed_by_involved_object_name(api: k8s.ApiClient) -> None:
    core = k8s.CoreV1Api(api)
    for name, target in (("e1", "demo"), ("e2", "other")):
        event = k8s.CoreV1Event(
            metadata=k8s.V1ObjectMeta(name=name),
            involved_object=k8s.V1ObjectReference(
                kind="Certificate", name=target, namespace="default"
            ),
            reason="Issuing",
            message="hello",
            type="Normal",
        )
        await call(core.create_namespaced_event, "default", event)
    listed = await call(
        core.list_namespaced_event, "default", field_selector="involvedObject.name=demo"
    )
    assert [e.metadata.name for e in listed.items] == ["e1"]


async def test_lease_replace_with_a_stale_resource_version_is_409(api: k8s.ApiClient) -> None:
    coordination = k8s.CoordinationV1Api(api)
    lease = k8s.V1Lease(
        metadata=k8s.V1ObjectMeta(name="leader"),
        spec=k8s.V1LeaseSpec(holder_identity="a", lease_duration_seconds=15),
    )
    created = await call(coordination.create_namespaced_lease, "default", lease)
    created.spec.holder_identity = "a"
    created.spec.lease_transitions = 1
    renewed = await call(coordination.replace_namespaced_lease, "leader", "default", created)
    assert renewed.metadata.resource_version != created.metadata.resource_version
    created.spec.holder_identity = "b"  # still carries the first resourceVersion
    status = await error_status(
        lambda: coordination.replace_namespaced_lease("leader", "default", created)
    )
    assert status == 409
    current = await call(coordination.read_namespaced_lease, "leader", "default")
    assert current.spec.holder_identity == "a"
