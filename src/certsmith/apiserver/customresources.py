"""CustomResourceDefinitions stored through the API become served resource types.

What this module decides, and why:

* **Stored CRDs are the truth**, as in apiextensions-apiserver: a controller watches
  ``customresourcedefinitions`` and registers or unregisters resource types in the registry.
  Discovery, OpenAPI and routing all read the registry, so they follow. A CRD is therefore
  served a moment *after* ``kubectl apply`` returns, exactly as on a real cluster, where
  clients wait for the ``Established`` condition (``kubectl wait --for=condition=Established``).
* The controller writes the CRD's status (``acceptedNames``, ``NamesAccepted``,
  ``Established``, ``storedVersions``). A CRD whose name is not ``<plural>.<group>``, that is
  not a usable v1 CRD, or that would replace a compiled-in type is not served and says so in
  ``NamesAccepted=False``, instead of failing the write that stored it.
* **Deleting a CRD deletes its instances first.** Each CRD carries the
  ``customresourcecleanup.apiextensions.k8s.io`` finalizer; while it terminates, every instance
  goes through the ordinary delete path (its own finalizers honoured, and the type still served
  so that clients can remove them). Then the finalizer goes, the CRD is deleted and its types
  are unregistered. Without this, a re-created CRD would resurrect stale objects.
* **The project's CRDs are installed at start**, like an installer would: created when absent,
  their spec replaced when the shipped one changed. Every stored CRD is registered before the
  listener binds, so a restarted server serves what it served before.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson

from certsmith.api.meta import JSONObject
from certsmith.apiserver.http.context import ApiContext
from certsmith.apiserver.http.handlers import delete_one
from certsmith.apiserver.http.objects import now_time, prepare_create
from certsmith.apiserver.http.target import Target
from certsmith.apiserver.resources import ResourceType, builtin_types
from certsmith.apiserver.storage import (
    AlreadyExistsError,
    ConflictError,
    EventType,
    GoneError,
    NotFoundError,
    ObjectKey,
    ResourcePrefix,
    StorageError,
    Watch,
    WatchEvent,
)

_log = logging.getLogger(__name__)

CRD_GROUP: Final = "apiextensions.k8s.io"
CRD_RESOURCE: Final = "customresourcedefinitions"
CLEANUP_FINALIZER: Final = "customresourcecleanup.apiextensions.k8s.io"
_WRITE_ATTEMPTS: Final = 8


def crd_key(name: str) -> ObjectKey:
    """The storage key of a CustomResourceDefinition."""
    return ObjectKey(CRD_GROUP, CRD_RESOURCE, "", name)


def _canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


class CustomResourceController:
    """Keeps the registry in step with the stored CRDs of one server.

    Args:
        ctx: the server's shared state.
        cleanup_poll: seconds between checks while a deleted CRD's instances are going away.
    """

    def __init__(self, ctx: ApiContext, *, cleanup_poll: float = 0.2) -> None:
        self._ctx = ctx
        self._cleanup_poll = cleanup_poll
        self._compiled: dict[tuple[str, str], list[ResourceType]] = {}
        for rt in builtin_types():
            self._compiled.setdefault((rt.group, rt.plural), []).append(rt)
        self._served: dict[str, tuple[str, str, bytes]] = {}  # name -> group, plural, spec
        self._cleanups: dict[str, asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None

    def _crd_type(self) -> ResourceType:
        rt = self._ctx.registry.get(CRD_GROUP, "v1", CRD_RESOURCE)
        assert rt is not None, "the CustomResourceDefinition type is compiled in"
        return rt

    async def install(self, crds: Sequence[Mapping[str, Any]]) -> None:
        """Create the given CRDs, or replace their spec when it differs from the stored one."""
        store = self._ctx.store
        for manifest in crds:
            name = str(manifest["metadata"]["name"])
            key = crd_key(name)
            try:
                stored = await store.get(key)
            except NotFoundError:
                obj = prepare_create(self._crd_type(), copy.deepcopy(dict(manifest)), "")
                with contextlib.suppress(AlreadyExistsError):
                    await store.create(key, obj)
                continue
            spec = copy.deepcopy(manifest["spec"])

            def replace_spec(obj: JSONObject, spec: Any = spec) -> JSONObject | None:
                if obj.get("spec") == spec or obj["metadata"].get("deletionTimestamp"):
                    return None
                obj["spec"] = spec
                obj["metadata"]["generation"] = int(obj["metadata"].get("generation") or 0) + 1
                return obj

            if stored.get("spec") != spec:
                await store.guaranteed_update(key, replace_spec)

    async def start(self) -> None:
        """Register every stored CRD now, then follow changes in the background."""
        watch = await self._resync()
        self._task = asyncio.create_task(self._follow(watch), name="crd-controller")

    async def stop(self) -> None:
        """Cancel the controller's tasks and wait for them."""
        tasks = [t for t in (self._task, *self._cleanups.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._task = None
        self._cleanups.clear()

    async def _resync(self) -> Watch:
        """Handle the current state (and forget vanished CRDs); returns the watch to follow."""
        watch = await self._ctx.store.watch(
            ResourcePrefix(CRD_GROUP, CRD_RESOURCE), initial_events=True
        )
        seen: set[str] = set()
        try:
            async for event in watch:
                if event.type is EventType.BOOKMARK:
                    break
                seen.add(str(event.object["metadata"]["name"]))
                await self.observe(event)
        except BaseException:
            watch.close()
            raise
        for name in set(self._served) - seen:
            self._unserve(name)
        return watch

    async def _follow(self, watch: Watch) -> None:
        while True:
            try:
                async with watch:
                    async for event in watch:
                        try:
                            await self.observe(event)
                        except StorageError:
                            _log.warning("crd: handling %s failed", event.key, exc_info=True)
                return  # the store closed
            except GoneError:
                watch = await self._resync()

    async def observe(self, event: WatchEvent) -> None:
        """Serve, re-serve, clean up or forget a CRD after one watch event."""
        crd = event.object
        name = str(crd.get("metadata", {}).get("name") or "")
        if not name or event.type is EventType.BOOKMARK:
            return
        if event.type is EventType.DELETED:
            self._unserve(name)
            return
        if crd["metadata"].get("deletionTimestamp"):
            finalizers = crd["metadata"].get("finalizers") or ()
            if CLEANUP_FINALIZER in finalizers and name not in self._cleanups:
                task = asyncio.create_task(self._cleanup(name), name=f"crd-cleanup-{name}")
                self._cleanups[name] = task
                task.add_done_callback(lambda _t: self._cleanups.pop(name, None))
            return
        problem = self.problem(crd)
        if problem is None:
            self._serve(name, crd)
        else:
            self._unserve(name)
        await self._write_status(name, problem)

    def problem(self, crd: JSONObject) -> str | None:
        """Why a CRD cannot be served, or ``None`` when it can."""
        try:
            types = ResourceType.from_crd(crd)
        except (ValueError, KeyError, TypeError) as exc:
            return str(exc)
        if not types:
            return "spec.versions: no version is served"
        spec = crd["spec"]
        group, plural = spec["group"], spec["names"]["plural"]
        if crd["metadata"]["name"] != f"{plural}.{group}":
            return f'metadata.name: must be spec.names.plural+"."+spec.group: "{plural}.{group}"'
        if "." not in group:
            return "spec.group: should be a domain with at least one dot"
        compiled = self._compiled.get((group, plural))
        if compiled and not all(rt.is_custom for rt in compiled):
            return f'"{plural}" is already in use by a built-in type'
        for other, (o_group, o_plural, _spec) in self._served.items():
            if other != crd["metadata"]["name"] and (o_group, o_plural) == (group, plural):
                return f'"{plural}" is already in use'
        return None

    def _serve(self, name: str, crd: JSONObject) -> None:
        spec = crd["spec"]
        group, plural = spec["group"], spec["names"]["plural"]
        canonical = _canonical(spec)
        served = self._served.get(name)
        if served is not None and served[2] == canonical:
            return
        if served is not None and served[:2] != (group, plural):
            self._unserve(name)
        self._ctx.registry.register_crd(crd)
        self._served[name] = (group, plural, canonical)
        _log.info("crd: serving %s", name)

    def _unserve(self, name: str) -> None:
        served = self._served.pop(name, None)
        if served is None:
            return
        group, plural, _spec = served
        registry = self._ctx.registry
        registry.remove(group, plural)
        for rt in self._compiled.get((group, plural), ()):
            registry.register(rt)  # a CRD had replaced a declared type: bring it back
        _log.info("crd: no longer serving %s", name)

    async def _write_status(self, name: str, problem: str | None) -> None:
        now = now_time()

        def update(obj: JSONObject) -> JSONObject | None:
            meta = obj["metadata"]
            if meta.get("deletionTimestamp"):
                return None
            before = copy.deepcopy(obj)
            finalizers = list(meta.get("finalizers") or ())
            if CLEANUP_FINALIZER not in finalizers:
                meta["finalizers"] = [*finalizers, CLEANUP_FINALIZER]
            obj["status"] = crd_status(obj, problem, obj.get("status") or {}, now)
            return None if obj == before else obj

        with contextlib.suppress(NotFoundError):
            await self._ctx.store.guaranteed_update(crd_key(name), update)

    async def _cleanup(self, name: str) -> None:
        try:
            crd = await self._ctx.store.get(crd_key(name))
        except NotFoundError:
            return
        spec = crd.get("spec") or {}
        group = str(spec.get("group") or "")
        plural = str((spec.get("names") or {}).get("plural") or "")
        if group and plural and self._served.get(name, ("", "", b""))[:2] == (group, plural):
            await self._delete_instances(group, plural)
        await self._drop_finalizer(name, str(crd["metadata"]["uid"]))

    async def _delete_instances(self, group: str, plural: str) -> None:
        store = self._ctx.store
        while True:
            served = self._ctx.registry.preferred()
            rt = next((t for t in served if (t.group, t.plural) == (group, plural)), None)
            page = await store.list(ResourcePrefix(group, plural))
            if not page.items or rt is None:
                return
            for obj in page.items:
                meta = obj["metadata"]
                if meta.get("deletionTimestamp"):
                    continue
                key = ObjectKey(group, plural, meta.get("namespace", ""), meta["name"])
                with contextlib.suppress(NotFoundError, ConflictError):
                    await delete_one(
                        self._ctx,
                        Target(rt, key.namespace or None, key.name, None),
                        key,
                        propagation=None,
                        preconditions={"uid": meta.get("uid")},
                        dry_run=False,
                    )
            await asyncio.sleep(self._cleanup_poll)

    async def _drop_finalizer(self, name: str, uid: str) -> None:
        store = self._ctx.store
        key = crd_key(name)
        for _ in range(_WRITE_ATTEMPTS):
            try:
                obj = await store.get(key)
            except NotFoundError:
                return
            meta = obj["metadata"]
            if meta.get("uid") != uid:
                return
            finalizers = [f for f in meta.get("finalizers") or () if f != CLEANUP_FINALIZER]
            try:
                if not finalizers:
                    await store.delete(key, expected_rv=meta["resourceVersion"])
                else:
                    meta["finalizers"] = finalizers
                    await store.update(key, obj, expected_rv=meta["resourceVersion"])
                return
            except ConflictError:
                continue


def _condition(
    kind: str, ok: bool, reason: str, message: str, old: list[Any], now: str
) -> JSONObject:
    status = "True" if ok else "False"
    previous = next((c for c in old if isinstance(c, dict) and c.get("type") == kind), None)
    since = now
    if previous is not None and previous.get("status") == status:
        since = previous.get("lastTransitionTime") or now
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": since,
    }


def crd_status(
    crd: JSONObject, problem: str | None, old: Mapping[str, Any], now: str
) -> JSONObject:
    """The status apiextensions-apiserver would report for a CRD (accepted or not)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    old_conditions = list(old.get("conditions") or ())
    stored = set(old.get("storedVersions") or ())
    stored.update(v["name"] for v in spec.get("versions") or () if v.get("storage"))
    if problem is None:
        accepted: JSONObject = {
            "plural": names.get("plural", ""),
            "singular": names.get("singular") or str(names.get("kind", "")).lower(),
            "kind": names.get("kind", ""),
            "listKind": names.get("listKind") or f"{names.get('kind', '')}List",
        }
        for extra in ("shortNames", "categories"):
            if names.get(extra):
                accepted[extra] = list(names[extra])
        conditions = [
            _condition(
                "NamesAccepted", True, "NoConflicts", "no conflicts found", old_conditions, now
            ),
            _condition(
                "Established",
                True,
                "InitialNamesAccepted",
                "the initial names have been accepted",
                old_conditions,
                now,
            ),
        ]
    else:
        accepted = {"plural": "", "kind": ""}
        conditions = [
            _condition("NamesAccepted", False, "InvalidNames", problem, old_conditions, now),
            _condition(
                "Established",
                False,
                "NotAccepted",
                "not all names are accepted",
                old_conditions,
                now,
            ),
        ]
    return {"acceptedNames": accepted, "conditions": conditions, "storedVersions": sorted(stored)}
