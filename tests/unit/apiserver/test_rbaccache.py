"""The store-fed policy cache and the bootstrap policy, against a real store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from certsmith.api.meta import UserInfo
from certsmith.apiserver.auth import RequestAttributes
from certsmith.apiserver.http.objects import prepare_create
from certsmith.apiserver.rbac import RBAC_GROUP
from certsmith.apiserver.rbaccache import PolicyCache
from certsmith.apiserver.rbacpolicy import (
    AUTOUPDATE,
    CONTROLLER_GROUP,
    CONTROLLER_ROLE,
    CONTROLLER_USER,
    ensure_bootstrap_policy,
)
from certsmith.apiserver.resources import default_registry
from certsmith.apiserver.storage import ObjectKey, Store
from tests.servertools import eventually_async

REGISTRY = default_registry()
ALICE = UserInfo(username="alice", groups=["system:authenticated"])
LIST_CERTS = RequestAttributes("list", "/x", "cert-manager.io", "certificates", namespace="a")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "data")
    try:
        yield opened
    finally:
        await opened.close()


async def put(store: Store, resource: str, obj: dict[str, object], namespace: str = "") -> None:
    rt = REGISTRY.get(RBAC_GROUP, "v1", resource)
    assert rt is not None
    meta = obj["metadata"]
    assert isinstance(meta, dict)
    key = ObjectKey(RBAC_GROUP, resource, namespace, str(meta["name"]))
    await store.create(key, prepare_create(rt, obj, namespace))


EDITOR = {
    "metadata": {"name": "editor"},
    "rules": [{"apiGroups": ["cert-manager.io"], "resources": ["certificates"], "verbs": ["*"]}],
}
ALICE_IN_A = {
    "metadata": {"name": "alice"},
    "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": "editor"},
    "subjects": [{"kind": "User", "name": "alice"}],
}


async def test_cache_lists_at_start_and_follows_changes(store: Store) -> None:
    await put(store, "clusterroles", dict(EDITOR))
    cache = PolicyCache(store)
    await cache.start()
    try:
        assert not cache.allows(ALICE, LIST_CERTS)
        await put(store, "rolebindings", dict(ALICE_IN_A), "a")

        async def granted() -> bool:
            return cache.allows(ALICE, LIST_CERTS)

        await eventually_async(granted)
        await store.delete(ObjectKey(RBAC_GROUP, "clusterroles", "", "editor"))

        async def revoked() -> bool:
            return not cache.allows(ALICE, LIST_CERTS)

        await eventually_async(revoked)
    finally:
        await cache.stop()


async def test_bootstrap_is_idempotent_and_reconciles_autoupdated_roles(store: Store) -> None:
    await ensure_bootstrap_policy(store, REGISTRY)
    key = ObjectKey(RBAC_GROUP, "clusterroles", "", CONTROLLER_ROLE)
    first = await store.get(key)
    await ensure_bootstrap_policy(store, REGISTRY)
    assert (await store.get(key))["metadata"]["resourceVersion"] == first["metadata"][
        "resourceVersion"
    ]
    # An auto-updated role that lost rules gets them back; an opted-out one is left alone.
    await store.update(key, {**first, "rules": []})
    await ensure_bootstrap_policy(store, REGISTRY)
    assert (await store.get(key))["rules"] == first["rules"]
    opted_out = await store.get(key)
    opted_out["metadata"]["annotations"][AUTOUPDATE] = "false"
    opted_out["rules"] = []
    await store.update(key, opted_out)
    await ensure_bootstrap_policy(store, REGISTRY)
    assert (await store.get(key))["rules"] == []


CONTROLLER = UserInfo(username=CONTROLLER_USER, groups=[CONTROLLER_GROUP, "system:authenticated"])
CONTROLLER_CASES = [
    (CONTROLLER, RequestAttributes("update", "/x", "cert-manager.io", "certificaterequests",
                                   "status", "ns", "cr"), True),
    (CONTROLLER, RequestAttributes("create", "/x", "", "secrets", "", "ns"), True),
    (CONTROLLER, RequestAttributes("watch", "/x", "acme.cert-manager.io", "orders"), True),
    (CONTROLLER, RequestAttributes("create", "/x", "events.k8s.io", "events", "", "ns"), True),
    (CONTROLLER, RequestAttributes("update", "/x", "coordination.k8s.io", "leases", "", "ns",
                                   "l"), True),
    (CONTROLLER, RequestAttributes("approve", "", "cert-manager.io", "signers", "", "",
                                   "clusterissuers.cert-manager.io/*"), True),
    (CONTROLLER, RequestAttributes("approve", "", "cert-manager.io", "signers", "", "",
                                   "example.com/*"), False),
    (CONTROLLER, RequestAttributes("delete", "/x", "", "namespaces", "", "a", "a"), False),
    (CONTROLLER, RequestAttributes("create", "/x", RBAC_GROUP, "clusterrolebindings"), False),
    (CONTROLLER, RequestAttributes("delete", "/x", "", "events", "", "ns", "e"), False),
    (ALICE, RequestAttributes("get", "/apis/cert-manager.io/v1"), True),
    (ALICE, RequestAttributes("get", "/openapi/v3"), True),
    (ALICE, RequestAttributes("create", "/x", "authorization.k8s.io",
                              "selfsubjectaccessreviews"), True),
    (ALICE, RequestAttributes("get", "/metrics"), False),
    (ALICE, RequestAttributes("list", "/x", "", "namespaces"), False),
]  # fmt: skip


@pytest.mark.parametrize(("user", "attrs", "allowed"), CONTROLLER_CASES)
async def test_bootstrap_grants(
    store: Store, user: UserInfo, attrs: RequestAttributes, allowed: bool
) -> None:
    await ensure_bootstrap_policy(store, REGISTRY)
    cache = PolicyCache(store)
    await cache.start()
    try:
        assert cache.allows(user, attrs) is allowed
    finally:
        await cache.stop()
