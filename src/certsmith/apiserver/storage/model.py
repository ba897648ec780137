"""The values the object store speaks in: keys, prefixes, events and list pages.

Decisions made here:

* A key is four strings, ``(group, resource, namespace, name)``, never a joined path: the
  store orders and filters on the columns, so no escaping rule can ever be wrong.
* Objects travel as JSON *bytes* alongside the decoded dict. A watch event is encoded once,
  when it is written, and every watcher shares that one :class:`WatchEvent`; its ``object``
  is decoded at most once, on first use. Shared objects are read-only by contract: copy
  before changing one (kube-apiserver's watch cache has the same rule).
* JSON is written with sorted keys, so the bytes are a canonical form: two objects are equal
  exactly when their encodings are, which makes the no-op-update check a byte comparison.
  kube-apiserver stores custom resources as Go maps, which ``encoding/json`` sorts too.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any, Final, TypeAlias

import orjson

from certsmith.apiserver.storage.errors import InvalidArgumentError

JSONObject: TypeAlias = dict[str, Any]
"""A decoded Kubernetes object."""


@dataclass(frozen=True, slots=True, order=True)
class ObjectKey:
    """Where one object lives.

    ``namespace`` is ``""`` for a cluster-scoped object, ``group`` is ``""`` for the core group.

    Raises:
        TypeError: a part is not a string.
        ValueError: ``resource`` or ``name`` is empty.
    """

    group: str
    resource: str
    namespace: str
    name: str

    def __post_init__(self) -> None:
        for part in ("group", "resource", "namespace", "name"):
            if not isinstance(getattr(self, part), str):
                raise TypeError(f"ObjectKey.{part} must be a str")
        if not self.resource:
            raise ValueError("ObjectKey.resource must not be empty")
        if not self.name:
            raise ValueError("ObjectKey.name must not be empty")


@dataclass(frozen=True, slots=True)
class ResourcePrefix:
    """The set of keys a list or watch covers: one resource, one namespace or all (``None``).

    Raises:
        TypeError: a part has the wrong type.
        ValueError: ``resource`` is empty.
    """

    group: str
    resource: str
    namespace: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.group, str) or not isinstance(self.resource, str):
            raise TypeError("ResourcePrefix.group and .resource must be str")
        if self.namespace is not None and not isinstance(self.namespace, str):
            raise TypeError("ResourcePrefix.namespace must be a str or None")
        if not self.resource:
            raise ValueError("ResourcePrefix.resource must not be empty")

    def matches(self, key: ObjectKey) -> bool:
        """Whether ``key`` lies under this prefix."""
        return (
            key.resource == self.resource
            and key.group == self.group
            and (self.namespace is None or key.namespace == self.namespace)
        )


class EventType(StrEnum):
    """The watch event types; the values are the wire words."""

    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"
    BOOKMARK = "BOOKMARK"
    """Only after ``initial_events``: marks the end of the synthetic ``ADDED`` events."""


class ResourceVersionMatch(StrEnum):
    """How a list's ``resource_version`` is to be honoured (kube's ``resourceVersionMatch``)."""

    NOT_OLDER_THAN = "NotOlderThan"
    EXACT = "Exact"


@dataclass(frozen=True, eq=False)
class WatchEvent:
    """One change, shared by every watcher that sees it; treat ``object`` as read-only.

    ``revision`` is the change's revision; for the synthetic ``ADDED`` events of an initial
    state it is the object's own resourceVersion, for ``BOOKMARK`` the state's revision.
    ``raw`` is the object's JSON and ``prev_raw`` the JSON it replaced (``None`` for a creation
    and for synthetic events): with it a selector-filtering watcher can tell "stopped matching"
    (send ``DELETED``) from "changed".
    """

    type: EventType
    revision: int
    key: ObjectKey | None
    raw: bytes
    prev_raw: bytes | None = None

    @cached_property
    def object(self) -> JSONObject:
        """The object, decoded once and shared: do not modify it."""
        return decode(self.raw)

    @cached_property
    def prev_object(self) -> JSONObject | None:
        """The object before the change, decoded once and shared, or ``None``."""
        return None if self.prev_raw is None else decode(self.prev_raw)

    @cached_property
    def json_line(self) -> bytes:
        """The event as one newline-terminated line of a kube watch stream."""
        return b'{"type":"' + self.type.value.encode() + b'","object":' + self.raw + b"}\n"


@dataclass(frozen=True)
class ListResult:
    """One page of a list, read at ``resource_version``.

    ``items`` and ``raw_items`` are parallel: the HTTP layer may stream the bytes without
    encoding again. ``continue_token`` and ``remaining_item_count`` are set only when more
    items remain; the count is left out when a predicate filtered the list, as kube does.
    """

    items: list[JSONObject]
    raw_items: list[bytes] = field(repr=False)
    resource_version: str
    continue_token: str | None = None
    remaining_item_count: int | None = None


def encode(obj: JSONObject, resource_version: str) -> bytes:
    """The canonical JSON of ``obj`` with ``metadata.resourceVersion`` set; ``obj`` is unchanged.

    Raises:
        TypeError: ``obj`` holds something JSON cannot express.
    """
    metadata = dict(obj["metadata"])
    metadata["resourceVersion"] = resource_version
    stored = dict(obj)
    stored["metadata"] = metadata
    return orjson.dumps(stored, option=orjson.OPT_SORT_KEYS)


def decode(raw: bytes) -> JSONObject:
    """Decode stored JSON into a fresh dict."""
    value = orjson.loads(raw)
    assert isinstance(value, dict)
    return value


def parse_revision(resource_version: str, *, what: str = "resource version") -> int:
    """The revision a resourceVersion string names.

    Raises:
        InvalidArgumentError: it is not a non-negative decimal integer.
    """
    if not resource_version.isascii() or not resource_version.isdigit():
        raise InvalidArgumentError(f"invalid {what}: {resource_version!r}")
    return int(resource_version)


_TOKEN_VERSION: Final = 1


@dataclass(frozen=True, slots=True)
class Continuation:
    """What a continue token carries: the list's revision and the last key it returned."""

    revision: int
    group: str
    resource: str
    namespace: str
    name: str

    def encode(self) -> str:
        """The opaque token: URL-safe base64 of a small JSON document."""
        doc = [_TOKEN_VERSION, self.revision, self.group, self.resource, self.namespace, self.name]
        return base64.urlsafe_b64encode(orjson.dumps(doc)).decode("ascii")

    @classmethod
    def decode(cls, token: str) -> Continuation:
        """Parse a token made by :meth:`encode`.

        Raises:
            InvalidArgumentError: the token is not one this store made.
        """
        try:
            doc = orjson.loads(base64.urlsafe_b64decode(token.encode("ascii")))
        except (ValueError, binascii.Error, UnicodeEncodeError) as exc:
            raise InvalidArgumentError(f"invalid continue token: {exc}") from None
        if (
            not isinstance(doc, list)
            or len(doc) != 6
            or doc[0] != _TOKEN_VERSION
            or type(doc[1]) is not int
            or doc[1] < 0
            or not all(isinstance(part, str) for part in doc[2:])
        ):
            raise InvalidArgumentError("invalid continue token: unknown format")
        return cls(doc[1], doc[2], doc[3], doc[4], doc[5])
