"""Garbage collection of ``ownerReferences``, in the background and by uid (K8S-API §4.9).

This is kube-controller-manager's garbage collector, shrunk to one process:

* **Index, not scans.** Every served resource is watched (``initial_events`` first, so list and
  watch are one consistent snapshot) and an in-memory :class:`OwnerIndex` keeps, per object
  uid, its key and owner references, and per owner uid the set of dependents. When an owner is
  deleted its dependents are looked up there; nothing is ever scanned per deletion. A full
  sweep of the index (not of the store) at a low frequency is the safety net for anything a
  race could hide, as kube's periodic resync is.
* **Decisions read the store.** The index only says *which* objects to look at. Whether an
  owner exists is always decided by a fresh read of ``(kind, namespace, name)`` compared by
  **uid**, so an owner that never existed, or was re-created under the same name, counts as
  gone, and watches of different resources running in any order cannot fool it.
* **Kube's rules** (``attemptToDeleteItem``): a dependent with at least one live owner only
  loses its references to gone owners. One whose every owner is gone is deleted with
  background propagation (or with its own ``orphan``/``foregroundDeletion`` preference);
  one whose owners are all gone or waiting in foreground deletion is deleted with foreground
  propagation when it has dependents itself. An owner marked with ``orphan`` has the
  references to it stripped from its dependents; one marked with ``foregroundDeletion`` has its
  dependents deleted first and is removed once no dependent with ``blockOwnerDeletion`` is left.
  Deletes go through the same path as a client's DELETE, so finalizers are honoured.
* Owners of a kind the server does not serve are treated as alive: without a type there is no
  way to look them up, and deleting on a guess is the one mistake a GC must not make.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from enum import Enum
from typing import Final

from certsmith.api.meta import JSONObject
from certsmith.apiserver.http.context import ApiContext
from certsmith.apiserver.http.handlers import delete_one
from certsmith.apiserver.http.target import Target
from certsmith.apiserver.ownerindex import (
    FOREGROUND,
    ORPHAN,
    Node,
    OwnerIndex,
    OwnerRef,
    owner_refs,
)
from certsmith.apiserver.resources import ResourceType
from certsmith.apiserver.storage import (
    ConflictError,
    EventType,
    GoneError,
    NotFoundError,
    ObjectKey,
    ResourcePrefix,
    StorageError,
    WatchEvent,
)

_log = logging.getLogger(__name__)

_WRITE_ATTEMPTS: Final = 8


class OwnerState(Enum):
    """What a dependent's reference finds when it looks up its owner."""

    ALIVE = "alive"
    GONE = "gone"
    WAITING = "waiting"  # being deleted in the foreground: its dependents go first
    UNKNOWN = "unknown"  # a kind the server does not serve: treated as alive


class GarbageCollector:
    """The background collector of one server; :meth:`start` it after the store opens.

    Args:
        ctx: the server's shared state (store, registry).
        sweep_interval: seconds between full sweeps of the index (the safety net).
        registry_poll: seconds between checks for resource types added or removed at runtime.
        retry_delay: seconds before an item whose processing failed is tried again.
    """

    def __init__(
        self,
        ctx: ApiContext,
        *,
        sweep_interval: float = 300.0,
        registry_poll: float = 0.5,
        retry_delay: float = 1.0,
    ) -> None:
        self._ctx = ctx
        self._sweep_interval = sweep_interval
        self._registry_poll = registry_poll
        self._retry_delay = retry_delay
        self.index = OwnerIndex()
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._watchers: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._retries: set[asyncio.TimerHandle] = set()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start watching every served resource and processing the queue."""
        self._sync_watchers()
        self._tasks = [
            asyncio.create_task(self._supervise(), name="gc-supervisor"),
            asyncio.create_task(self._work(), name="gc-worker"),
        ]

    async def stop(self) -> None:
        """Cancel every task of the collector and wait for them."""
        for handle in self._retries:
            handle.cancel()
        self._retries.clear()
        tasks = [*self._tasks, *self._watchers.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        self._watchers.clear()

    def enqueue(self, uid: str) -> None:
        """Ask for ``uid`` to be looked at (deduplicated while it waits)."""
        if uid and uid not in self._queued:
            self._queued.add(uid)
            self._queue.put_nowait(uid)

    def sweep(self) -> None:
        """Enqueue every indexed object with owners and every owner awaiting the collector."""
        for node in self.index.nodes():
            if node.owners or node.needs_owner_work:
                self.enqueue(node.uid)

    # -- watching ----------------------------------------------------------------------------

    def _served(self) -> dict[tuple[str, str], ResourceType]:
        served: dict[tuple[str, str], ResourceType] = {}
        for rt in self._ctx.registry.preferred():
            served.setdefault((rt.group, rt.plural), rt)
        return served

    def _sync_watchers(self) -> None:
        served = self._served()
        for resource, task in list(self._watchers.items()):
            if resource not in served:
                task.cancel()
                del self._watchers[resource]
                for uid in self.index.uids_of(*resource):
                    self._forget(uid)
        for group, plural in served:
            if (group, plural) not in self._watchers:
                self._watchers[(group, plural)] = asyncio.create_task(
                    self._watch(group, plural), name=f"gc-watch-{plural}.{group}"
                )

    async def _supervise(self) -> None:
        loop = asyncio.get_running_loop()
        generation = self._ctx.registry.generation
        next_sweep = loop.time() + self._sweep_interval
        while True:
            await asyncio.sleep(self._registry_poll)
            if self._ctx.registry.generation != generation:
                generation = self._ctx.registry.generation
                self._sync_watchers()
            if loop.time() >= next_sweep:
                next_sweep = loop.time() + self._sweep_interval
                self.sweep()

    async def _watch(self, group: str, plural: str) -> None:
        prefix = ResourcePrefix(group, plural)
        while True:
            try:
                await self._follow(prefix)
                return  # the store closed
            except GoneError:
                _log.info("gc: watch of %s.%s expired; re-listing", plural, group)
            except asyncio.CancelledError:
                raise
            except StorageError:
                _log.warning("gc: watch of %s.%s failed", plural, group, exc_info=True)
                await asyncio.sleep(self._retry_delay)

    async def _follow(self, prefix: ResourcePrefix) -> None:
        seen: set[str] | None = set()
        async with await self._ctx.store.watch(prefix, initial_events=True) as watch:
            async for event in watch:
                if event.type is EventType.BOOKMARK:
                    if seen is not None:
                        # End of the initial state: whatever the index still holds that the
                        # store no longer has was deleted while we were not looking.
                        for uid in self.index.uids_of(prefix.group, prefix.resource) - seen:
                            self._forget(uid)
                        seen = None
                    continue
                if seen is not None:
                    seen.add(str(event.object.get("metadata", {}).get("uid") or ""))
                self.observe(event)

    def observe(self, event: WatchEvent) -> None:
        """Update the index from one watch event and enqueue what it makes worth a look."""
        if event.key is None:
            return
        node = Node.of(event.key, event.object)
        if not node.uid:
            return
        if event.type is EventType.DELETED:
            self._forget(node.uid)
            return
        previous = self.index.upsert(node)
        if node.needs_owner_work:
            self.enqueue(node.uid)
        if node.owners and not node.deleting:
            changed = previous is None or previous.owners != node.owners
            if changed and not all(ref.uid in self.index for ref in node.owners):
                self.enqueue(node.uid)
        if previous is not None:
            # An owner in foreground deletion may have been waiting for this reference.
            dropped = {r.uid for r in previous.owners} - {r.uid for r in node.owners}
            for uid in dropped:
                self.enqueue(uid)

    def _forget(self, uid: str) -> None:
        node = self.index.remove(uid)
        for dependent in self.index.dependents_of(uid):
            self.enqueue(dependent)
        if node is not None:
            for ref in node.owners:
                self.enqueue(ref.uid)  # a foreground owner may have been waiting for it

    # -- processing --------------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            uid = await self._queue.get()
            self._queued.discard(uid)
            try:
                await self.process(uid)
            except asyncio.CancelledError:
                raise
            except Exception:
                _log.warning("gc: processing %s failed; retrying", uid, exc_info=True)
                self._retry_later(uid)

    def _retry_later(self, uid: str) -> None:
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._retries.discard(handle)
            self.enqueue(uid)

        handle = loop.call_later(self._retry_delay, fire)
        self._retries.add(handle)

    async def process(self, uid: str) -> None:
        """Do what the collector owes one object, as an owner and as a dependent."""
        node = self.index.get(uid)
        if node is None:
            return
        live = await self._live(node.key, uid)
        if live is None:
            return
        meta = live["metadata"]
        if meta.get("deletionTimestamp"):
            finalizers = meta.get("finalizers") or ()
            if ORPHAN in finalizers:
                await self._orphan_dependents(node.key, uid)
            elif FOREGROUND in finalizers:
                await self._delete_dependents_first(node.key, uid)
            return
        if owner_refs(live):
            await self._attempt_to_delete(node.key, live)

    async def _live(self, key: ObjectKey, uid: str) -> JSONObject | None:
        try:
            obj = await self._ctx.store.get(key)
        except NotFoundError:
            return None
        return obj if obj["metadata"].get("uid") == uid else None

    def _type_of(self, group: str, resource: str) -> ResourceType | None:
        return self._served().get((group, resource))

    async def owner_state(self, ref: OwnerRef, namespace: str) -> OwnerState:
        """Look up the owner a reference names, in the dependent's namespace, by uid."""
        rt = self._ctx.registry.by_kind(ref.group, ref.kind, ref.version) or (
            self._ctx.registry.by_kind(ref.group, ref.kind)
        )
        if rt is None:
            return OwnerState.UNKNOWN
        if rt.namespaced and not namespace:
            return OwnerState.GONE  # a cluster-scoped object cannot have a namespaced owner
        key = ObjectKey(rt.group, rt.plural, namespace if rt.namespaced else "", ref.name)
        owner = await self._live(key, ref.uid) if ref.name else None
        if owner is None:
            return OwnerState.GONE
        meta = owner["metadata"]
        if meta.get("deletionTimestamp") and FOREGROUND in (meta.get("finalizers") or ()):
            return OwnerState.WAITING
        return OwnerState.ALIVE

    async def _attempt_to_delete(self, key: ObjectKey, dependent: JSONObject) -> None:
        uid = dependent["metadata"]["uid"]
        states = [
            (ref, await self.owner_state(ref, key.namespace)) for ref in owner_refs(dependent)
        ]
        alive = [r for r, s in states if s in (OwnerState.ALIVE, OwnerState.UNKNOWN)]
        gone = {r.uid for r, s in states if s is OwnerState.GONE}
        waiting = {r.uid for r, s in states if s is OwnerState.WAITING}
        if alive:
            if gone or waiting:
                await self._strip_refs(key, uid, gone | waiting)
            return
        finalizers = dependent["metadata"].get("finalizers") or ()
        if waiting and self.index.dependents_of(uid):
            policy = "Foreground"
        elif ORPHAN in finalizers:
            policy = "Orphan"
        elif FOREGROUND in finalizers:
            policy = "Foreground"
        else:
            policy = "Background"
        await self._delete(key, uid, policy)

    async def _delete(self, key: ObjectKey, uid: str, policy: str) -> None:
        rt = self._type_of(key.group, key.resource)
        if rt is None:
            return
        target = Target(rt, key.namespace or None, key.name, None)
        _log.info("gc: deleting %s/%s (%s, %s)", rt.group_resource, key.name, uid, policy)
        with contextlib.suppress(NotFoundError, ConflictError):
            await delete_one(
                self._ctx,
                target,
                key,
                propagation=policy,
                preconditions={"uid": uid},
                dry_run=False,
            )

    async def _strip_refs(self, key: ObjectKey, uid: str, owners: Iterable[str]) -> None:
        drop = set(owners)

        def strip(obj: JSONObject) -> JSONObject | None:
            meta = obj["metadata"]
            refs = meta.get("ownerReferences") or []
            kept = [r for r in refs if not (isinstance(r, dict) and r.get("uid") in drop)]
            if meta.get("uid") != uid or len(kept) == len(refs):
                return None
            if kept:
                meta["ownerReferences"] = kept
            else:
                meta.pop("ownerReferences", None)
            return obj

        with contextlib.suppress(NotFoundError):
            await self._ctx.store.guaranteed_update(key, strip)

    async def _orphan_dependents(self, key: ObjectKey, uid: str) -> None:
        for dependent in self.index.dependents_of(uid):
            node = self.index.get(dependent)
            if node is not None:
                await self._strip_refs(node.key, dependent, {uid})
        await self._remove_finalizer(key, uid, ORPHAN)

    async def _delete_dependents_first(self, key: ObjectKey, uid: str) -> None:
        blocked = False
        for dependent in self.index.dependents_of(uid):
            node = self.index.get(dependent)
            if node is None:
                continue
            live = await self._live(node.key, dependent)
            if live is not None and not live["metadata"].get("deletionTimestamp"):
                await self._attempt_to_delete(node.key, live)
                live = await self._live(node.key, dependent)
            if live is None:
                continue
            ref = next((r for r in owner_refs(live) if r.uid == uid), None)
            if ref is not None and ref.block_owner_deletion:
                blocked = True
        if not blocked:
            await self._remove_finalizer(key, uid, FOREGROUND)

    async def _remove_finalizer(self, key: ObjectKey, uid: str, finalizer: str) -> None:
        store = self._ctx.store
        for _ in range(_WRITE_ATTEMPTS):
            obj = await self._live(key, uid)
            if obj is None:
                return
            meta = obj["metadata"]
            finalizers = [f for f in meta.get("finalizers") or () if f != finalizer]
            if len(finalizers) == len(meta.get("finalizers") or ()):
                return
            rv = meta["resourceVersion"]
            try:
                if meta.get("deletionTimestamp") and not finalizers:
                    await store.delete(key, expected_rv=rv)
                else:
                    meta["finalizers"] = finalizers
                    if not finalizers:
                        del meta["finalizers"]
                    await store.update(key, obj, expected_rv=rv)
                return
            except ConflictError:
                continue
            except NotFoundError:
                return
        raise ConflictError(key)
