"""The informer's in-memory cache: objects by namespace/name, plus custom indexes.

Reconcilers read from here instead of the API server, so a reconcile costs no request until it
writes. Objects are stored exactly as received (JSON dicts) and handed out without copying: a
reconciler that wants to change one must ``copy.deepcopy`` it first (STYLE: "reads from the
cache, copies deeply"). Copying on every read would make listing thousands of objects
quadratic in practice for no gain.

Indexes answer "which Certificates use issuer X" or "which CertificateRequests does this
Certificate own" without scanning; an indexer maps an object to zero or more index values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

JSONObject = dict[str, Any]
ObjectList = list[JSONObject]
Indexer = Callable[[JSONObject], Iterable[str]]

NAMESPACE_INDEX: Final = "namespace"
#: The index of :func:`by_controller_uid` (CertificateRequests, Secrets).
CONTROLLER_UID_INDEX: Final = "controller-uid"


@dataclass(frozen=True, order=True)
class ObjectKey:
    """What a work queue carries: the namespace (``None`` if cluster-scoped) and name."""

    namespace: str | None
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ObjectKey:
        """The key of a JSON object, from its metadata.

        Raises:
            ValueError: the object has no ``metadata.name``.
        """
        meta = obj.get("metadata") or {}
        name = meta.get("name")
        if not name:
            raise ValueError("object has no metadata.name")
        return cls(meta.get("namespace") or None, str(name))


def by_issuer_ref_name(obj: JSONObject) -> list[str]:
    """Indexer: ``spec.issuerRef`` as ``<kind>/<name>`` (kind defaults to ``Issuer``)."""
    ref = (obj.get("spec") or {}).get("issuerRef") or {}
    name = ref.get("name")
    return [f"{ref.get('kind') or 'Issuer'}/{name}"] if name else []


def by_owner_uid(obj: JSONObject) -> list[str]:
    """Indexer: the uid of every owner reference."""
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return [str(ref["uid"]) for ref in refs if isinstance(ref, dict) and ref.get("uid")]


def by_controller_uid(obj: JSONObject) -> list[str]:
    """Indexer: the uid of the controlling owner reference (the first with ``controller``)."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller") and ref.get("uid"):
            return [str(ref["uid"])]
    return []


def _by_namespace(obj: JSONObject) -> list[str]:
    namespace = (obj.get("metadata") or {}).get("namespace")
    return [namespace] if namespace else []


class Cache:
    """Objects keyed by :class:`ObjectKey`, with named secondary indexes."""

    def __init__(self, indexers: Mapping[str, Indexer] | None = None) -> None:
        self._indexers: dict[str, Indexer] = {NAMESPACE_INDEX: _by_namespace}
        for name, indexer in (indexers or {}).items():
            if name == NAMESPACE_INDEX:
                raise ValueError(f"index name {NAMESPACE_INDEX!r} is built in")
            self._indexers[name] = indexer
        self._objects: dict[ObjectKey, JSONObject] = {}
        self._indexes: dict[str, dict[str, set[ObjectKey]]] = {n: {} for n in self._indexers}
        self._values: dict[ObjectKey, dict[str, list[str]]] = {}

    def __len__(self) -> int:
        return len(self._objects)

    def __contains__(self, key: object) -> bool:
        return key in self._objects

    def get(self, namespace: str | None, name: str) -> JSONObject | None:
        """The cached object, or ``None``; do not mutate it."""
        return self._objects.get(ObjectKey(namespace or None, name))

    def get_key(self, key: ObjectKey) -> JSONObject | None:
        """The cached object for ``key``, or ``None``; do not mutate it."""
        return self._objects.get(key)

    def object_keys(self) -> list[ObjectKey]:
        """Every key in the cache."""
        return list(self._objects)

    def list(self, namespace: str | None = None) -> ObjectList:
        """Every object, or those in one namespace; do not mutate them."""
        if namespace is None:
            return list(self._objects.values())
        return self.by_index(NAMESPACE_INDEX, namespace)

    def by_index(self, index: str, value: str) -> ObjectList:
        """Objects whose indexer returned ``value``, sorted by key for stable output.

        Raises:
            KeyError: no index called ``index``.
        """
        keys = self._indexes[index].get(value, set())
        return [self._objects[key] for key in sorted(keys, key=_sort_key)]

    def upsert(self, obj: JSONObject) -> JSONObject | None:
        """Store ``obj``; return the object it replaced, if any.

        Raises:
            ValueError: the object has no name.
        """
        key = ObjectKey.of(obj)
        old = self._objects.get(key)
        if old is not None:
            self._unindex(key)
        self._objects[key] = obj
        values: dict[str, list[str]] = {}
        for index_name, indexer in self._indexers.items():
            found = list(dict.fromkeys(indexer(obj)))
            values[index_name] = found
            bucket = self._indexes[index_name]
            for value in found:
                bucket.setdefault(value, set()).add(key)
        self._values[key] = values
        return old

    def delete(self, key: ObjectKey) -> JSONObject | None:
        """Remove ``key``; return the object it held, if any."""
        old = self._objects.pop(key, None)
        if old is not None:
            self._unindex(key)
        return old

    def _unindex(self, key: ObjectKey) -> None:
        for index_name, found in self._values.pop(key, {}).items():
            bucket = self._indexes[index_name]
            for value in found:
                members = bucket.get(value)
                if members is not None:
                    members.discard(key)
                    if not members:
                        del bucket[value]


def _sort_key(key: ObjectKey) -> tuple[str, str]:
    return (key.namespace or "", key.name)
