"""Durable object storage for the embedded API server: SQLite, one revision log, watches.

The public surface is re-exported here; the HTTP layer needs nothing else::

    store = await Store.open(data_dir)
    obj = await store.create(ObjectKey("cert-manager.io", "certificates", "ns", "a"), body)
    page = await store.list(ResourcePrefix("cert-manager.io", "certificates", "ns"), limit=500)
    async for event in await store.watch(prefix, from_rv=page.resource_version): ...
    await store.close()
"""

from certsmith.apiserver.storage.errors import (
    AlreadyExistsError,
    ConflictError,
    ContinueExpiredError,
    GoneError,
    InvalidArgumentError,
    NotFoundError,
    StorageError,
    StoreClosedError,
    StoreLockedError,
    TooLargeResourceVersionError,
)
from certsmith.apiserver.storage.model import (
    EventType,
    JSONObject,
    ListResult,
    ObjectKey,
    ResourcePrefix,
    ResourceVersionMatch,
    WatchEvent,
)
from certsmith.apiserver.storage.options import CompactionPolicy, StoreOptions, Synchronous
from certsmith.apiserver.storage.reads import Predicate
from certsmith.apiserver.storage.sqlite import Store, UpdateFunc
from certsmith.apiserver.storage.watch import Watch

__all__ = [
    "AlreadyExistsError",
    "CompactionPolicy",
    "ConflictError",
    "ContinueExpiredError",
    "EventType",
    "GoneError",
    "InvalidArgumentError",
    "JSONObject",
    "ListResult",
    "NotFoundError",
    "ObjectKey",
    "Predicate",
    "ResourcePrefix",
    "ResourceVersionMatch",
    "StorageError",
    "Store",
    "StoreClosedError",
    "StoreLockedError",
    "StoreOptions",
    "Synchronous",
    "TooLargeResourceVersionError",
    "UpdateFunc",
    "Watch",
    "WatchEvent",
]
