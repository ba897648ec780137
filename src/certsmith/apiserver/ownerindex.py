"""The garbage collector's in-memory index: who owns whom, by uid (K8S-API §4.9).

Pure data, fed from watch events by :mod:`certsmith.apiserver.gc`: per object uid its key and
owner references, per referenced uid the set of dependents. The dependents map is keyed by the
*referenced* uid whether or not that owner exists, which is exactly what is needed when it is
deleted, or never existed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from certsmith.api.meta import JSONObject
from certsmith.apiserver.storage import ObjectKey

ORPHAN: Final = "orphan"
FOREGROUND: Final = "foregroundDeletion"


@dataclass(frozen=True)
class OwnerRef:
    """The parts of one ``metadata.ownerReferences`` entry the collector uses."""

    uid: str
    api_version: str
    kind: str
    name: str
    block_owner_deletion: bool = False

    @classmethod
    def parse(cls, raw: Any) -> OwnerRef | None:
        """Read one entry; ``None`` when it is not a usable reference."""
        if not isinstance(raw, dict) or not raw.get("uid"):
            return None
        return cls(
            uid=str(raw["uid"]),
            api_version=str(raw.get("apiVersion") or ""),
            kind=str(raw.get("kind") or ""),
            name=str(raw.get("name") or ""),
            block_owner_deletion=raw.get("blockOwnerDeletion") is True,
        )

    @property
    def group(self) -> str:
        """The owner's API group (``""`` for core ``v1``)."""
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        """The owner's API version without the group."""
        return self.api_version.rpartition("/")[2]


def owner_refs(obj: JSONObject) -> tuple[OwnerRef, ...]:
    """The usable owner references of an object, in order."""
    refs = (OwnerRef.parse(r) for r in obj.get("metadata", {}).get("ownerReferences") or ())
    return tuple(r for r in refs if r is not None)


@dataclass(frozen=True)
class Node:
    """What the index knows about one object."""

    uid: str
    key: ObjectKey
    owners: tuple[OwnerRef, ...]
    deleting: bool
    finalizers: tuple[str, ...]

    @classmethod
    def of(cls, key: ObjectKey, obj: JSONObject) -> Node:
        """The node of a stored object."""
        meta = obj.get("metadata", {})
        return cls(
            uid=str(meta.get("uid") or ""),
            key=key,
            owners=owner_refs(obj),
            deleting=bool(meta.get("deletionTimestamp")),
            finalizers=tuple(meta.get("finalizers") or ()),
        )

    @property
    def needs_owner_work(self) -> bool:
        """Whether it is an owner waiting for the collector (orphan or foreground)."""
        return self.deleting and (ORPHAN in self.finalizers or FOREGROUND in self.finalizers)


class OwnerIndex:
    """uid → :class:`Node` and owner uid → dependent uids, kept from watch events.

    The dependents map is keyed by the *referenced* uid and kept whether or not that owner
    exists, which is exactly what is needed when it is deleted (or never existed).
    """

    def __init__(self) -> None:
        self._nodes: dict[str, Node] = {}
        self._dependents: dict[str, set[str]] = {}
        self._by_resource: dict[tuple[str, str], set[str]] = {}

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, uid: object) -> bool:
        return uid in self._nodes

    def get(self, uid: str) -> Node | None:
        """The node of ``uid``, if indexed."""
        return self._nodes.get(uid)

    def nodes(self) -> Iterator[Node]:
        """Every indexed node (a snapshot, safe to use while the index changes)."""
        return iter(list(self._nodes.values()))

    def dependents_of(self, owner_uid: str) -> set[str]:
        """The uids of the objects that reference ``owner_uid`` (a copy)."""
        return set(self._dependents.get(owner_uid, ()))

    def uids_of(self, group: str, resource: str) -> set[str]:
        """The uids of the indexed objects of one resource (a copy)."""
        return set(self._by_resource.get((group, resource), ()))

    def upsert(self, node: Node) -> Node | None:
        """Add or replace a node; returns the node it replaced."""
        previous = self._nodes.get(node.uid)
        if previous is not None:
            self._unlink(previous)
        self._nodes[node.uid] = node
        self._by_resource.setdefault((node.key.group, node.key.resource), set()).add(node.uid)
        for ref in node.owners:
            self._dependents.setdefault(ref.uid, set()).add(node.uid)
        return previous

    def remove(self, uid: str) -> Node | None:
        """Forget a node; returns it."""
        node = self._nodes.pop(uid, None)
        if node is not None:
            self._unlink(node)
            resource = self._by_resource.get((node.key.group, node.key.resource))
            if resource is not None:
                resource.discard(uid)
        return node

    def _unlink(self, node: Node) -> None:
        for ref in node.owners:
            deps = self._dependents.get(ref.uid)
            if deps is not None:
                deps.discard(node.uid)
                if not deps:
                    del self._dependents[ref.uid]
