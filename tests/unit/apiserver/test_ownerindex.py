"""The garbage collector's owner index and reference parsing (no server involved)."""

from __future__ import annotations

from typing import Any

from certsmith.apiserver.ownerindex import (
    FOREGROUND,
    ORPHAN,
    Node,
    OwnerIndex,
    OwnerRef,
    owner_refs,
)
from certsmith.apiserver.storage import ObjectKey


def obj(uid: str, *owners: str, **meta: Any) -> dict[str, Any]:
    refs = [{"apiVersion": "v1", "kind": "ConfigMap", "name": o, "uid": o} for o in owners]
    return {"metadata": {"name": uid, "uid": uid, "ownerReferences": refs, **meta}}


def node(uid: str, *owners: str, resource: str = "secrets", **meta: Any) -> Node:
    return Node.of(ObjectKey("", resource, "default", uid), obj(uid, *owners, **meta))


def test_owner_refs_skip_entries_without_a_uid() -> None:
    o = {"metadata": {"ownerReferences": [{"name": "x"}, {"uid": "u", "kind": "K"}, "junk"]}}
    assert [r.uid for r in owner_refs(o)] == ["u"]


def test_owner_ref_splits_group_and_version() -> None:
    ref = OwnerRef.parse({"uid": "u", "apiVersion": "cert-manager.io/v1", "kind": "Certificate"})
    assert ref is not None
    assert (ref.group, ref.version) == ("cert-manager.io", "v1")
    core = OwnerRef.parse({"uid": "u", "apiVersion": "v1", "kind": "Secret"})
    assert core is not None
    assert (core.group, core.version) == ("", "v1")


def test_block_owner_deletion_must_be_literally_true() -> None:
    ref = OwnerRef.parse({"uid": "u", "blockOwnerDeletion": "true"})
    assert ref is not None
    assert not ref.block_owner_deletion


def test_dependents_are_found_by_owner_uid() -> None:
    index = OwnerIndex()
    index.upsert(node("a", "owner"))
    index.upsert(node("b", "owner", "other"))
    index.upsert(node("c", "other"))
    assert index.dependents_of("owner") == {"a", "b"}
    assert index.dependents_of("other") == {"b", "c"}


def test_dependents_outlive_a_missing_owner() -> None:
    index = OwnerIndex()
    index.upsert(node("owner"))
    index.upsert(node("a", "owner"))
    index.remove("owner")
    assert index.dependents_of("owner") == {"a"}


def test_changed_references_move_the_dependent() -> None:
    index = OwnerIndex()
    index.upsert(node("a", "first"))
    previous = index.upsert(node("a", "second"))
    assert previous is not None
    assert [r.uid for r in previous.owners] == ["first"]
    assert index.dependents_of("first") == set()
    assert index.dependents_of("second") == {"a"}


def test_removing_a_dependent_unlinks_it_from_its_owners() -> None:
    index = OwnerIndex()
    index.upsert(node("a", "owner"))
    index.remove("a")
    assert index.dependents_of("owner") == set()
    assert "a" not in index
    assert len(index) == 0


def test_uids_are_grouped_by_resource() -> None:
    index = OwnerIndex()
    index.upsert(node("a"))
    index.upsert(node("b", resource="configmaps"))
    assert index.uids_of("", "secrets") == {"a"}
    assert index.uids_of("", "configmaps") == {"b"}


def test_an_owner_marked_for_orphan_or_foreground_deletion_needs_work() -> None:
    stamp = {"deletionTimestamp": "2026-01-01T00:00:00Z"}
    assert node("o", finalizers=[ORPHAN], **stamp).needs_owner_work
    assert node("o", finalizers=[FOREGROUND], **stamp).needs_owner_work
    assert not node("o", finalizers=["example.com/x"], **stamp).needs_owner_work
    assert not node("o", finalizers=[ORPHAN]).needs_owner_work
