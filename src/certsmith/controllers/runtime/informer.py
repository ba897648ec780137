"""Informers: list, then watch from the list's resourceVersion, keeping a :class:`Cache` current.

The loop is client-go's reflector, reduced to what our controllers need:

1. list (paged) and replace the cache, telling handlers what was added, changed or removed
   since the previous list (after a relist only real differences produce events, so a 410
   does not re-reconcile every object);
2. watch from the list's resourceVersion with bookmarks; every event and bookmark advances
   the resume point, and a clean end of the stream (``timeoutSeconds``) re-watches from it;
3. on ``Gone`` (410: the resume point was compacted) relist at once; on any other failure
   wait with exponential backoff (0.8s doubling to 30s, reset after a good list) and relist.

Secrets are the reason for ``label_selector`` and ``transform``: a controller should cache only
the Secrets it manages (selected by label) or only their metadata (``metadata_only``), never
every Secret's data in the cluster.

Handlers run inline on the informer task and must be cheap and non-blocking: enqueueing keys is
the intended use. A failing handler is logged and does not stop the informer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from certsmith.client.errors import Gone
from certsmith.client.protocol import KubeClient, WatchEventType
from certsmith.client.resources import ResourceRef
from certsmith.controllers.runtime.cache import Cache, Indexer, JSONObject, ObjectKey
from certsmith.controllers.runtime.workqueue import Backoff, Sleeper, WorkQueue

log = logging.getLogger(__name__)

RELIST_BACKOFF: Final = Backoff(0.8, 30.0)
DEFAULT_PAGE_SIZE: Final = 500
DEFAULT_WATCH_TIMEOUT: Final = 300

Transform = Callable[[JSONObject], JSONObject]


def metadata_only(obj: JSONObject) -> JSONObject:
    """A transform that keeps apiVersion, kind, metadata and (for Secrets) ``type``."""
    kept: JSONObject = {k: obj[k] for k in ("apiVersion", "kind", "metadata", "type") if k in obj}
    return kept


@dataclass(frozen=True)
class Handlers:
    """Callbacks for cache changes; any may be ``None``."""

    on_add: Callable[[JSONObject], None] | None = None
    on_update: Callable[[JSONObject, JSONObject], None] | None = None
    on_delete: Callable[[JSONObject], None] | None = None


def enqueue(queue: WorkQueue[ObjectKey]) -> Handlers:
    """Handlers that queue the changed object's own key."""

    def add(obj: JSONObject) -> None:
        queue.add(ObjectKey.of(obj))

    return Handlers(on_add=add, on_update=lambda _old, new: add(new), on_delete=add)


def enqueue_mapped(
    queue: WorkQueue[ObjectKey], mapper: Callable[[JSONObject], list[ObjectKey]]
) -> Handlers:
    """Handlers that queue the keys ``mapper`` derives (e.g. a Secret → its Certificates)."""

    def add(obj: JSONObject) -> None:
        for key in mapper(obj):
            queue.add(key)

    return Handlers(on_add=add, on_update=lambda _old, new: add(new), on_delete=add)


class Informer:
    """Keeps :attr:`cache` in step with one resource (optionally one namespace / selection)."""

    def __init__(
        self,
        client: KubeClient,
        resource: ResourceRef,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        indexers: Mapping[str, Indexer] | None = None,
        transform: Transform | None = None,
        sleep: Sleeper = asyncio.sleep,
        page_size: int = DEFAULT_PAGE_SIZE,
        watch_timeout: int = DEFAULT_WATCH_TIMEOUT,
        backoff: Backoff = RELIST_BACKOFF,
    ) -> None:
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.cache = Cache(indexers)
        self._transform = transform
        self._sleep = sleep
        self._page_size = page_size
        self._watch_timeout = watch_timeout
        self._backoff = backoff
        self._handlers: list[Handlers] = []
        self._synced = asyncio.Event()
        self.resource_version = ""
        self.lists = 0  # how many full lists ran; for tests and metrics

    def add_handlers(self, handlers: Handlers) -> None:
        """Register handlers; objects already cached are replayed to them as adds."""
        self._handlers.append(handlers)
        if handlers.on_add is not None:
            for obj in self.cache.list():
                self._call(handlers.on_add, obj)

    @property
    def has_synced(self) -> bool:
        """Whether the first list has filled the cache."""
        return self._synced.is_set()

    async def wait_synced(self) -> None:
        """Wait until the first list has filled the cache."""
        await self._synced.wait()

    def __repr__(self) -> str:
        where = self.namespace or "*"
        return f"Informer({self.resource.qualified_name}, namespace={where})"

    async def run(self) -> None:
        """List and watch until cancelled."""
        failures = 0
        while True:
            try:
                await self._list()
                failures = 0
                while True:
                    await self._watch()
            except asyncio.CancelledError:
                raise
            except Gone as exc:
                # The first 410 after a good list is routine (compaction): relist at once.
                # Repeated ones (an expiring continue token on a huge list) back off.
                delay = self._backoff.delay(failures - 1) if failures else 0.0
                failures += 1
                log.info("%r: %s; listing again in %.1fs", self, exc.message, delay)
                if delay:
                    await self._sleep(delay)
            except Exception as exc:
                delay = self._backoff.delay(failures)
                failures += 1
                log.warning("%r: %s; listing again in %.1fs", self, exc, delay)
                await self._sleep(delay)

    async def _list(self) -> None:
        items: list[JSONObject] = []
        token: str | None = None
        resource_version = ""
        while True:
            page = await self.client.list(
                self.resource,
                self.namespace,
                label_selector=self.label_selector,
                field_selector=self.field_selector,
                limit=self._page_size,
                continue_token=token,
            )
            items.extend(self._prepare(obj) for obj in page.items)
            resource_version = resource_version or page.resource_version
            token = page.continue_token
            if not token:
                break
        self.lists += 1
        self._replace(items)
        self.resource_version = resource_version
        self._synced.set()

    async def _watch(self) -> None:
        events = self.client.watch(
            self.resource,
            self.namespace,
            resource_version=self.resource_version,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            allow_bookmarks=True,
            timeout_seconds=self._watch_timeout,
        )
        async for event in events:
            if event.type is WatchEventType.BOOKMARK:
                pass
            elif event.type is WatchEventType.DELETED:
                obj = self._prepare(event.object)
                if self.cache.delete(ObjectKey.of(obj)) is not None:
                    self._emit_delete(obj)
            else:
                obj = self._prepare(event.object)
                old = self.cache.upsert(obj)
                if old is None:
                    self._emit_add(obj)
                else:
                    self._emit_update(old, obj)
            if event.resource_version:
                self.resource_version = event.resource_version

    def _prepare(self, obj: JSONObject) -> JSONObject:
        return self._transform(obj) if self._transform is not None else obj

    def _replace(self, items: list[JSONObject]) -> None:
        seen: set[ObjectKey] = set()
        for obj in items:
            key = ObjectKey.of(obj)
            seen.add(key)
            old = self.cache.upsert(obj)
            if old is None:
                self._emit_add(obj)
            elif _rv(old) != _rv(obj):
                self._emit_update(old, obj)
        for key in self.cache.object_keys():
            if key not in seen:
                gone = self.cache.delete(key)
                if gone is not None:
                    self._emit_delete(gone)

    def _emit_add(self, obj: JSONObject) -> None:
        for handlers in self._handlers:
            if handlers.on_add is not None:
                self._call(handlers.on_add, obj)

    def _emit_update(self, old: JSONObject, new: JSONObject) -> None:
        for handlers in self._handlers:
            if handlers.on_update is not None:
                self._call(handlers.on_update, old, new)

    def _emit_delete(self, obj: JSONObject) -> None:
        for handlers in self._handlers:
            if handlers.on_delete is not None:
                self._call(handlers.on_delete, obj)

    def _call(self, handler: Callable[..., None], *args: Any) -> None:
        try:
            handler(*args)
        except Exception:
            log.exception("%r: event handler failed", self)


def _rv(obj: JSONObject) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")
