"""The cache indexes the Certificate controllers look things up by (no namespace scans)."""

from __future__ import annotations

from certsmith.controllers.certificates.state import (
    BY_SECRET_NAME,
    certificates_by_secret_name,
    secret_name_index_value,
)
from certsmith.controllers.runtime.cache import (
    CONTROLLER_UID_INDEX,
    Cache,
    JSONObject,
    by_controller_uid,
)


def _cert(namespace: str, name: str, secret_name: object) -> JSONObject:
    return {"metadata": {"namespace": namespace, "name": name}, "spec": {"secretName": secret_name}}


def _owned(namespace: str, name: str, *refs: JSONObject) -> JSONObject:
    return {"metadata": {"namespace": namespace, "name": name, "ownerReferences": list(refs)}}


def test_certificates_by_secret_name_is_per_namespace() -> None:
    cache = Cache({BY_SECRET_NAME: certificates_by_secret_name})
    cache.upsert(_cert("a", "one", "tls"))
    cache.upsert(_cert("a", "two", "tls"))
    cache.upsert(_cert("a", "three", "other"))
    cache.upsert(_cert("b", "four", "tls"))
    cache.upsert(_cert("a", "five", ""))
    cache.upsert(_cert("a", "six", 7))
    found = cache.by_index(BY_SECRET_NAME, secret_name_index_value("a", "tls"))
    assert [o["metadata"]["name"] for o in found] == ["one", "two"]


def test_secret_name_index_follows_edits() -> None:
    cache = Cache({BY_SECRET_NAME: certificates_by_secret_name})
    cache.upsert(_cert("a", "one", "tls"))
    cache.upsert(_cert("a", "one", "renamed"))
    assert cache.by_index(BY_SECRET_NAME, secret_name_index_value("a", "tls")) == []
    assert len(cache.by_index(BY_SECRET_NAME, secret_name_index_value("a", "renamed"))) == 1


def test_by_controller_uid_ignores_non_controller_owners() -> None:
    controller = {"uid": "u1", "controller": True, "kind": "Certificate", "name": "c"}
    plain = {"uid": "u2", "kind": "Certificate", "name": "d"}
    assert by_controller_uid(_owned("a", "r1", plain, controller)) == ["u1"]
    assert by_controller_uid(_owned("a", "r2", plain)) == []
    assert by_controller_uid({"metadata": {"name": "r3"}}) == []
    cache = Cache({CONTROLLER_UID_INDEX: by_controller_uid})
    cache.upsert(_owned("a", "r1", plain, controller))
    cache.upsert(_owned("a", "r2", plain))
    assert [o["metadata"]["name"] for o in cache.by_index(CONTROLLER_UID_INDEX, "u1")] == ["r1"]
    assert cache.by_index(CONTROLLER_UID_INDEX, "u2") == []
