"""The ``KubeClient`` protocol: everything a controller may ask of a Kubernetes API.

Controllers depend on this protocol only, never on httpx or on the embedded server, so the same
reconcile code runs against the embedded server, a real kube-apiserver, or an in-memory fake in
tests. Objects travel as plain JSON dicts (the wire shape): controllers parse them into models
where they need types, and the client stays a thin, lossless pipe.

Errors are the classes in :mod:`certsmith.client.errors`. A watch turns an ``ERROR`` event into
an exception (``Gone`` for 410) instead of yielding it, so every consumer handles it the same way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from certsmith.client.resources import ResourceRef

JSONObject = dict[str, Any]
PatchBody = JSONObject | list[JSONObject]


class PatchType(StrEnum):
    """The patch flavours the client sends, with their wire content types."""

    MERGE = "merge"
    JSON = "json"
    APPLY = "apply"

    @property
    def content_type(self) -> str:
        """The ``Content-Type`` header for this patch type."""
        return _PATCH_CONTENT_TYPES[self]


_PATCH_CONTENT_TYPES = {
    PatchType.MERGE: "application/merge-patch+json",
    PatchType.JSON: "application/json-patch+json",
    PatchType.APPLY: "application/apply-patch+yaml",
}


class WatchEventType(StrEnum):
    """The event types a watch yields (``ERROR`` is raised, never yielded)."""

    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"
    BOOKMARK = "BOOKMARK"


@dataclass(frozen=True)
class WatchEvent:
    """One watch event: the type and the object (for BOOKMARK, only kind and metadata)."""

    type: WatchEventType
    object: JSONObject

    @property
    def resource_version(self) -> str:
        """The event's resourceVersion, the point to resume a watch from."""
        return str(self.object.get("metadata", {}).get("resourceVersion") or "")


@dataclass(frozen=True)
class ListPage:
    """One page of a list: the items, the snapshot resourceVersion and the next-page token."""

    items: list[JSONObject]
    resource_version: str
    continue_token: str | None = None
    remaining_item_count: int | None = field(default=None, compare=False)


class KubeClient(Protocol):
    """An asynchronous Kubernetes API client.

    ``namespace`` is ``None`` for cluster-scoped resources (and, for ``list``/``watch``, means
    "all namespaces"). Every write returns the object as the server stored it.
    """

    async def get(self, resource: ResourceRef, namespace: str | None, name: str) -> JSONObject:
        """Read one object.

        Raises:
            NotFound: the object does not exist.
            ApiError: any other failure answer.
            TransportError: no answer.
        """
        ...

    async def list(
        self,
        resource: ResourceRef,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
        resource_version: str | None = None,
    ) -> ListPage:
        """Read one page of a collection.

        Raises:
            Gone: the continue token expired, or an exact resourceVersion was compacted.
            ApiError: any other failure answer (e.g. 400 for a bad selector).
            TransportError: no answer.
        """
        ...

    def watch(
        self,
        resource: ResourceRef,
        namespace: str | None = None,
        *,
        resource_version: str | None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        allow_bookmarks: bool = True,
        timeout_seconds: int | None = None,
    ) -> AsyncIterator[WatchEvent]:
        """Stream changes after ``resource_version``; the iterator ends when the server ends it.

        Raises:
            Gone: ``resource_version`` is too old (an ERROR 410 event); list again.
            ApiError: the watch was refused, or another ERROR event arrived.
            TransportError: the connection failed or broke mid-stream.
        """
        ...

    async def create(
        self,
        resource: ResourceRef,
        namespace: str | None,
        body: JSONObject,
        *,
        field_manager: str | None = None,
    ) -> JSONObject:
        """Create an object.

        Raises:
            AlreadyExists: the name is taken.
            Invalid: the object failed validation.
            ApiError: any other failure answer.
            TransportError: no answer.
        """
        ...

    async def replace(
        self,
        resource: ResourceRef,
        namespace: str | None,
        name: str,
        body: JSONObject,
        *,
        field_manager: str | None = None,
    ) -> JSONObject:
        """Replace an object (PUT); ``metadata.resourceVersion`` in ``body`` makes it conditional.

        Raises:
            Conflict: the resourceVersion is stale.
            NotFound: the object does not exist.
            ApiError: any other failure answer.
            TransportError: no answer.
        """
        ...

    async def replace_status(
        self,
        resource: ResourceRef,
        namespace: str | None,
        name: str,
        body: JSONObject,
        *,
        field_manager: str | None = None,
    ) -> JSONObject:
        """Replace the status subresource (PUT ``/status``).

        Raises:
            Conflict: the resourceVersion is stale.
            NotFound: the object does not exist.
            ApiError: any other failure answer.
            TransportError: no answer.
        """
        ...

    async def patch(
        self,
        resource: ResourceRef,
        namespace: str | None,
        name: str,
        body: PatchBody,
        *,
        patch_type: PatchType = PatchType.MERGE,
        field_manager: str | None = None,
        force: bool = False,
    ) -> JSONObject:
        """Patch an object; ``APPLY`` needs a ``field_manager`` and may create the object.

        Raises:
            ValueError: an apply patch without a field manager, or a body that does not fit
                the patch type.
            Conflict: a failed precondition or a field manager conflict (apply without force).
            Invalid: a failed JSON Patch ``test`` or an invalid result.
            NotFound: the object does not exist (merge and JSON patches).
            ApiError: any other failure answer.
            TransportError: no answer.
        """
        ...

    async def patch_status(
        self,
        resource: ResourceRef,
        namespace: str | None,
        name: str,
        body: PatchBody,
        *,
        patch_type: PatchType = PatchType.MERGE,
        field_manager: str | None = None,
        force: bool = False,
    ) -> JSONObject:
        """Patch the status subresource; as :meth:`patch`.

        Raises:
            ValueError: as for :meth:`patch`.
            ApiError: any failure answer.
            TransportError: no answer.
        """
        ...

    async def delete(
        self,
        resource: ResourceRef,
        namespace: str | None,
        name: str,
        *,
        propagation_policy: str | None = None,
        preconditions_rv: str | None = None,
    ) -> JSONObject:
        """Delete an object; returns the object (or a Success Status, for some built-ins).

        Raises:
            NotFound: the object does not exist.
            Conflict: ``preconditions_rv`` does not match.
            ApiError: any other failure answer.
            TransportError: no answer.
        """
        ...


def check_patch_body(body: PatchBody, patch_type: PatchType) -> None:
    """Refuse a body that cannot be valid for its patch type, before it travels.

    Raises:
        ValueError: a JSON Patch that is not a list, or a merge/apply patch that is not a dict.
    """
    if patch_type is PatchType.JSON:
        if not isinstance(body, list):
            raise ValueError("a JSON Patch body must be a list of operations")
    elif not isinstance(body, dict):
        raise ValueError(f"a {patch_type.value} patch body must be an object")
