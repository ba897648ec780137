"""The RBAC policy of a running server, kept in memory and fresh from the store's watches.

Authorization runs on every request, so it must not read the store. :class:`PolicyCache`
watches the four RBAC resources through the store (an initial listing, then every change)
and rebuilds its :class:`~certsmith.apiserver.rbac.PolicyIndex` lazily, on the first question
after a change. Watching the store rather than hooking the HTTP handlers was chosen because
it sees every write, whichever path made it (HTTP, namespace finalization, garbage
collection, a direct store write at bootstrap) and cannot be forgotten by a future handler.

Freshness is that of kube's informer-fed RBAC authorizer: eventually consistent. In practice
the cache is current before the writer of an RBAC object gets its answer, because the store
publishes a write's events before it acknowledges the write and the watch task only has to
copy the event; nothing guarantees it, so clients that grant and then act at once may, as
with kube, need one retry. A watch that falls behind compaction (410) re-lists.

:meth:`PolicyCache.start` returns only after the initial listings, so a server that starts
answering requests already knows its policy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

from certsmith.api.meta import JSONObject, UserInfo
from certsmith.apiserver.auth import RequestAttributes
from certsmith.apiserver.rbac import RBAC_GROUP, PolicyIndex
from certsmith.apiserver.storage import (
    EventType,
    GoneError,
    ObjectKey,
    ResourcePrefix,
    StorageError,
    Store,
)

_log = logging.getLogger(__name__)

RBAC_RESOURCES: Final = ("clusterroles", "roles", "clusterrolebindings", "rolebindings")
_RETRY_SECONDS: Final = 1.0

_Objects = dict[tuple[str, str], JSONObject]


class PolicyCache:
    """Every Role, ClusterRole and binding of a store, ready to answer RBAC questions."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._objects: dict[str, _Objects] = {r: {} for r in RBAC_RESOURCES}
        self._index: PolicyIndex | None = PolicyIndex()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Start watching; return once every resource has been listed."""
        synced = [asyncio.get_running_loop().create_future() for _ in RBAC_RESOURCES]
        self._tasks = [
            asyncio.create_task(self._watch(resource, done), name=f"rbac-watch-{resource}")
            for resource, done in zip(RBAC_RESOURCES, synced, strict=True)
        ]
        await asyncio.gather(*synced)

    async def stop(self) -> None:
        """Stop watching."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []

    @property
    def index(self) -> PolicyIndex:
        """The current policy (rebuilt here when a change arrived since the last call)."""
        if self._index is None:
            self._index = PolicyIndex.build(
                cluster_roles=self._objects["clusterroles"].values(),
                roles=self._objects["roles"].values(),
                cluster_role_bindings=self._objects["clusterrolebindings"].values(),
                role_bindings=self._objects["rolebindings"].values(),
            )
        return self._index

    def allows(self, user: UserInfo, attrs: RequestAttributes) -> bool:
        """Whether some rule bound to ``user`` allows ``attrs``."""
        return self.index.allows(user, attrs)

    async def _watch(self, resource: str, synced: asyncio.Future[None]) -> None:
        try:
            while True:
                try:
                    await self._follow(resource, synced)
                    return  # the store closed
                except GoneError:
                    _log.info("rbac: watch of %s expired; re-listing", resource)
                except StorageError:
                    _log.warning("rbac: watch of %s failed; retrying", resource, exc_info=True)
                    await asyncio.sleep(_RETRY_SECONDS)
        finally:
            if not synced.done():  # start() must not wait for a listing that cannot come
                synced.set_exception(RuntimeError(f"rbac: could not list {resource}"))

    async def _follow(self, resource: str, synced: asyncio.Future[None]) -> None:
        prefix = ResourcePrefix(RBAC_GROUP, resource)
        listed: _Objects = {}
        initial = True
        async with await self._store.watch(prefix, initial_events=True) as watch:
            async for event in watch:
                if event.type is EventType.BOOKMARK:
                    if initial:
                        # Swap in the whole listing at once: a re-list must also drop
                        # objects deleted while the watch was away.
                        initial = False
                        self._objects[resource] = listed
                        self._index = None
                        if not synced.done():
                            synced.set_result(None)
                    continue
                assert event.key is not None
                target = listed if initial else self._objects[resource]
                _apply(target, event.type, event.key, event.object)
                if not initial:
                    self._index = None


def _apply(objects: _Objects, kind: EventType, key: ObjectKey, obj: JSONObject) -> None:
    if kind is EventType.DELETED:
        objects.pop((key.namespace, key.name), None)
    else:
        objects[(key.namespace, key.name)] = obj
