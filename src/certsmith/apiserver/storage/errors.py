"""The errors the object store raises, each one a Kubernetes ``Status``.

The HTTP layer renders any :class:`~certsmith.api.errors.StatusError` as it is, so every
storage failure a client can cause carries kube-apiserver's code, reason and message shape
(``certificates.cert-manager.io "x" not found``). ``details.kind`` is the plural resource, as
kube-apiserver sends for NotFound, AlreadyExists and Conflict.

::

    StatusError (certsmith.api.errors)
    └── StorageError
        ├── NotFoundError              404 NotFound
        ├── AlreadyExistsError         409 AlreadyExists
        ├── ConflictError              409 Conflict      stale expected resourceVersion
        ├── GoneError                  410 Expired       revision older than the compacted one
        │   └── ContinueExpiredError   410 Expired       continue token older than it
        ├── InvalidArgumentError       400 BadRequest    malformed resourceVersion / continue
        ├── TooLargeResourceVersionError 504 Timeout     resourceVersion from the future
        ├── StoreClosedError           503 ServiceUnavailable
        └── StoreLockedError           503 ServiceUnavailable  another process holds the store
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from certsmith.api.errors import StatusError

if TYPE_CHECKING:
    from certsmith.apiserver.storage.model import ObjectKey


def qualified_resource(group: str, resource: str) -> str:
    """``certificates.cert-manager.io`` for a named group, ``secrets`` for the core group."""
    return f"{resource}.{group}" if group else resource


def _details(key: ObjectKey) -> dict[str, Any]:
    details: dict[str, Any] = {"name": key.name}
    if key.group:
        details["group"] = key.group
    details["kind"] = key.resource
    return details


class StorageError(StatusError):
    """Root of every error the object store raises on purpose."""


class NotFoundError(StorageError):
    """The object does not exist (404)."""

    def __init__(self, key: ObjectKey) -> None:
        what = qualified_resource(key.group, key.resource)
        super().__init__(404, "NotFound", f'{what} "{key.name}" not found', _details(key))
        self.key = key


class AlreadyExistsError(StorageError):
    """An object with that key exists already (409)."""

    def __init__(self, key: ObjectKey) -> None:
        what = qualified_resource(key.group, key.resource)
        super().__init__(409, "AlreadyExists", f'{what} "{key.name}" already exists', _details(key))
        self.key = key


class ConflictError(StorageError):
    """The caller's expected resourceVersion is not the stored one (409)."""

    def __init__(self, key: ObjectKey) -> None:
        what = qualified_resource(key.group, key.resource)
        message = (
            f'Operation cannot be fulfilled on {what} "{key.name}": the object has been '
            "modified; please apply your changes to the latest version and try again"
        )
        super().__init__(409, "Conflict", message, _details(key))
        self.key = key


class GoneError(StorageError):
    """The requested revision is older than the oldest one the store still has (410).

    Watches answer it with an ``ERROR`` event, reads with HTTP 410; clients then re-list.
    """

    def __init__(self, requested: int, oldest: int, message: str | None = None) -> None:
        text = message or f"too old resource version: {requested} ({oldest})"
        super().__init__(410, "Expired", text)
        self.requested = requested
        self.oldest = oldest


class ContinueExpiredError(GoneError):
    """A continue token points at a revision that has been compacted (410)."""

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(
            requested,
            oldest,
            "The provided continue parameter is too old to display a consistent list result. "
            "You can start a new list without the continue parameter.",
        )


class InvalidArgumentError(StorageError):
    """A resourceVersion or continue token that cannot be parsed (400)."""

    def __init__(self, message: str) -> None:
        super().__init__(400, "BadRequest", message)


class TooLargeResourceVersionError(StorageError):
    """A read asked for a revision the store has not reached yet (504, as kube-apiserver)."""

    def __init__(self, requested: int, current: int) -> None:
        super().__init__(
            504,
            "Timeout",
            f"Too large resource version: {requested}, current: {current}",
            {
                "causes": [
                    {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
                ],
                "retryAfterSeconds": 1,
            },
        )
        self.requested = requested
        self.current = current


class StoreClosedError(StorageError):
    """The store was closed; nothing more can be read or written (503)."""

    def __init__(self) -> None:
        super().__init__(503, "ServiceUnavailable", "the object store is closed")


class StoreLockedError(StorageError):
    """Another process (or another Store in this one) has the data directory open (503)."""

    def __init__(self, path: str) -> None:
        super().__init__(
            503, "ServiceUnavailable", f"the object store at {path} is in use by another process"
        )
        self.path = path
