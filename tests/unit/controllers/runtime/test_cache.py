from __future__ import annotations

from typing import Any

import pytest

from certsmith.controllers.runtime.cache import Cache, ObjectKey, by_issuer_ref_name, by_owner_uid


def cert(name: str, ns: str = "ns", *, issuer: str = "ca", kind: str | None = None, owner=None):
    ref = {"name": issuer} | ({"kind": kind} if kind else {})
    meta: dict[str, Any] = {"name": name, "namespace": ns, "resourceVersion": "1"}
    if owner:
        meta["ownerReferences"] = [{"uid": owner, "name": "o", "kind": "Certificate"}]
    return {"metadata": meta, "spec": {"issuerRef": ref}}


def make_cache() -> Cache:
    return Cache({"issuer": by_issuer_ref_name, "owner": by_owner_uid})


def test_objects_are_found_by_namespace_and_name():
    cache = make_cache()
    cache.upsert(cert("a"))
    assert cache.get("ns", "a") == cert("a")
    assert cache.get("other", "a") is None


def test_cluster_scoped_objects_use_a_key_without_namespace():
    cache = Cache()
    cache.upsert({"metadata": {"name": "ci"}})
    assert ObjectKey(None, "ci") in cache
    assert str(ObjectKey(None, "ci")) == "ci"
    assert str(ObjectKey("ns", "a")) == "ns/a"


def test_list_filters_by_namespace():
    cache = make_cache()
    cache.upsert(cert("a", "one"))
    cache.upsert(cert("b", "two"))
    assert [o["metadata"]["name"] for o in cache.list("two")] == ["b"]
    assert len(cache.list()) == 2


def test_issuer_index_defaults_the_kind_to_issuer():
    cache = make_cache()
    cache.upsert(cert("a", issuer="ca"))
    cache.upsert(cert("b", issuer="ca", kind="ClusterIssuer"))
    assert [o["metadata"]["name"] for o in cache.by_index("issuer", "Issuer/ca")] == ["a"]
    assert [o["metadata"]["name"] for o in cache.by_index("issuer", "ClusterIssuer/ca")] == ["b"]


def test_an_update_moves_the_object_between_index_values():
    cache = make_cache()
    cache.upsert(cert("a", issuer="old"))
    previous = cache.upsert(cert("a", issuer="new"))
    assert previous is not None
    assert cache.by_index("issuer", "Issuer/old") == []
    assert len(cache.by_index("issuer", "Issuer/new")) == 1


def test_delete_removes_the_object_from_every_index():
    cache = make_cache()
    cache.upsert(cert("a", owner="u1"))
    assert cache.delete(ObjectKey("ns", "a")) is not None
    assert cache.by_index("owner", "u1") == []
    assert cache.list("ns") == []
    assert cache.delete(ObjectKey("ns", "a")) is None


def test_owner_index_finds_dependents_by_uid():
    cache = make_cache()
    cache.upsert(cert("cr-1", owner="u1"))
    cache.upsert(cert("cr-2", owner="u1"))
    cache.upsert(cert("cr-3", owner="u2"))
    assert [o["metadata"]["name"] for o in cache.by_index("owner", "u1")] == ["cr-1", "cr-2"]


def test_an_unknown_index_raises_keyerror():
    with pytest.raises(KeyError):
        make_cache().by_index("nope", "x")


def test_the_namespace_index_name_is_reserved():
    with pytest.raises(ValueError, match="built in"):
        Cache({"namespace": by_owner_uid})


def test_an_object_without_a_name_is_refused():
    with pytest.raises(ValueError, match=r"metadata\.name"):
        Cache().upsert({"metadata": {}})
