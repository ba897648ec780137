"""Fakes for the edges only: an issuer context backed by a dict of Secrets and a fake clock,
a sleeper driven by that clock, and an in-memory ``KubeClient``.

In the running program the controllers provide the issuer context from their informer cache;
issuer unit tests need only the same three answers, so a plain class stands in for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import heapq
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from certsmith.api.certmanager import AnyIssuer, ClusterIssuer
from certsmith.api.core import Secret
from certsmith.client.errors import ApiError, error_from_status
from certsmith.client.protocol import ListPage, PatchBody, PatchType, WatchEvent, WatchEventType
from certsmith.client.resources import ResourceRef
from certsmith.pki.keys import PrivateKey, parse_private_key_pem
from certsmith.util.clock import FakeClock


@dataclass
class StaticIssuerContext:
    """An ``IssuerContext`` over fixed Secrets; ``fail_reads`` makes every read raise."""

    secrets: dict[tuple[str, str], Secret] = field(default_factory=dict)
    fake_clock: FakeClock = field(default_factory=FakeClock)
    cluster_resource_namespace: str = "cert-manager"
    fail_reads: Exception | None = None
    objects: dict[tuple[str, str | None, str], dict[str, Any]] = field(default_factory=dict)

    @property
    def clock(self) -> FakeClock:
        return self.fake_clock

    def resource_namespace(self, issuer: AnyIssuer) -> str:
        if isinstance(issuer, ClusterIssuer):
            return self.cluster_resource_namespace
        return issuer.namespace

    async def get_secret(self, namespace: str, name: str) -> Secret | None:
        if self.fail_reads is not None:
            raise self.fail_reads
        return self.secrets.get((namespace, name))

    async def private_key(self, secret: Secret, key: str = "tls.key") -> PrivateKey | None:
        """Parse every time: issuer tests see exactly what is in the Secret, no cache."""
        pem = secret.decoded(key)
        return parse_private_key_pem(pem) if pem else None

    def add(self, secret: Secret) -> None:
        self.secrets[(secret.namespace, secret.name)] = secret

    async def create_secret(self, secret: Secret) -> Secret:
        key = (secret.namespace, secret.name)
        if key in self.secrets:
            raise error_from_status(
                {"code": 409, "reason": "AlreadyExists", "message": f"{secret.name} exists"}
            )
        stored = secret.model_copy(deep=True)
        stored.metadata.uid = f"uid-{secret.name}"
        stored.metadata.resource_version = "1"
        self.secrets[key] = stored
        return stored

    async def get_object(
        self, resource: ResourceRef, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        if self.fail_reads is not None:
            raise self.fail_reads
        obj = self.objects.get((resource.plural, namespace, name))
        return copy.deepcopy(obj) if obj is not None else None

    async def create_object(
        self, resource: ResourceRef, namespace: str | None, body: dict[str, Any]
    ) -> dict[str, Any]:
        name = body["metadata"]["name"]
        if (resource.plural, namespace, name) in self.objects:
            raise error_from_status(
                {"code": 409, "reason": "AlreadyExists", "message": f"{name} exists"}
            )
        stored = copy.deepcopy(body)
        stored["metadata"].setdefault("uid", f"uid-{name}")
        self.objects[(resource.plural, namespace, name)] = stored
        return copy.deepcopy(stored)

    async def delete_object(self, resource: ResourceRef, namespace: str | None, name: str) -> None:
        self.objects.pop((resource.plural, namespace, name), None)


# -- time: a sleeper driven by a FakeClock, and the one polling helper --------------------------


class FakeSleeper:
    """An ``asyncio.sleep`` replacement that waits on a ``FakeClock``.

    ``await sleeper(5)`` returns once the test has advanced the clock by 5 seconds, so hours of
    backoff run in milliseconds. ``calls`` records every requested delay.
    """

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.calls: list[float] = []
        self._waiting: list[tuple[dt.datetime, int, asyncio.Future[None]]] = []
        self._seq = 0

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        entry = (self.clock.now() + dt.timedelta(seconds=seconds), self._seq, future)
        heapq.heappush(self._waiting, entry)
        try:
            await future
        finally:
            if entry in self._waiting:
                self._waiting.remove(entry)
                heapq.heapify(self._waiting)

    @property
    def pending(self) -> int:
        """Sleepers still waiting."""
        return sum(1 for *_, fut in self._waiting if not fut.done())

    def next_due(self) -> dt.datetime | None:
        """When the earliest waiting sleeper wakes, if any."""
        live = [when for when, _, fut in self._waiting if not fut.done()]
        return min(live) if live else None

    async def advance(self, seconds: float) -> None:
        """Move the clock forward, wake every sleeper now due, and let woken tasks run."""
        self.clock.advance(dt.timedelta(seconds=seconds))
        now = self.clock.now()
        while self._waiting and self._waiting[0][0] <= now:
            _, _, future = heapq.heappop(self._waiting)
            if not future.done():
                future.set_result(None)
        await settle()

    async def advance_to_next(self) -> None:
        """Jump the clock to the earliest waiting sleeper and wake it.

        Raises:
            AssertionError: nothing is sleeping.
        """
        due = self.next_due()
        assert due is not None, "no sleeper is waiting"
        await self.advance(max(0.0, (due - self.clock.now()).total_seconds()))


async def settle(rounds: int = 20) -> None:
    """Yield to the event loop a few times so woken tasks run their next step (no real time)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


async def eventually(check: Callable[[], object], *, timeout: float = 2.0) -> None:  # noqa: ASYNC109
    """Wait until ``check()`` is truthy (or stops raising AssertionError), else fail.

    Raises:
        AssertionError: ``check`` did not pass within ``timeout`` seconds of real time.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            if check():
                return
            failure: BaseException | None = None
        except AssertionError as exc:
            failure = exc
        if loop.time() >= deadline:
            raise AssertionError(f"condition not met within {timeout}s") from failure
        await asyncio.sleep(0.001)


# -- an in-memory KubeClient --------------------------------------------------------------------

_Key = tuple[ResourceRef, str | None, str]


class FakeKubeClient:
    """An in-memory ``KubeClient``: a store with a global resourceVersion, watches and faults.

    Enough of the API-server contract for runtime tests: optimistic concurrency on replace and
    delete preconditions, watch replay from a resourceVersion, 410 after ``compact()``,
    bookmarks, merge and apply patches (apply is treated as a merge that may create), and
    ``k=v`` label selectors. ``fail(verb, exc)`` makes the next call of ``verb`` raise.
    """

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.objects: dict[_Key, dict[str, Any]] = {}
        self.rv = 0
        self.compacted_rv = 0
        self.history: list[tuple[ResourceRef, WatchEvent]] = []
        self.calls: list[tuple[str, str, str | None, str | None]] = []
        self._faults: dict[str, list[BaseException]] = {}
        self._watchers: list[tuple[ResourceRef, str | None, str | None, asyncio.Queue[Any]]] = []
        self.muted = False  # when True, writes reach history but not open watches

    # -- test controls

    def fail(self, verb: str, exc: BaseException, times: int = 1) -> None:
        """Make the next ``times`` calls of ``verb`` (``get``, ``list``, ``watch``…) raise."""
        self._faults.setdefault(verb, []).extend([exc] * times)

    def compact(self) -> None:
        """Forget history: watching from any older resourceVersion now gives 410 Gone."""
        self.compacted_rv = self.rv
        self.history.clear()

    def end_watches(self) -> None:
        """End every open watch cleanly, as a server does at ``timeoutSeconds``."""
        for *_, queue in self._watchers:
            queue.put_nowait(None)

    def break_watches(self, exc: BaseException) -> None:
        """Make every open watch raise ``exc`` (e.g. ``Gone`` as an ERROR event)."""
        for *_, queue in self._watchers:
            queue.put_nowait(exc)

    def bookmark(self, resource: ResourceRef) -> None:
        """Send a BOOKMARK at the current resourceVersion to watches of ``resource``."""
        obj = {"kind": "Bookmark", "metadata": {"resourceVersion": str(self.rv)}}
        for res, _, _, queue in self._watchers:
            if res == resource:
                queue.put_nowait(WatchEvent(WatchEventType.BOOKMARK, obj))

    @property
    def open_watches(self) -> int:
        return len(self._watchers)

    def seed(self, resource: ResourceRef, obj: dict[str, Any]) -> dict[str, Any]:
        """Store an object directly (as a create would, with events)."""
        meta = obj.get("metadata") or {}
        return self._create(resource, meta.get("namespace"), obj)

    def stored(self, resource: ResourceRef, namespace: str | None, name: str) -> dict[str, Any]:
        return self.objects[(resource, namespace, name)]

    # -- KubeClient

    async def get(self, resource: ResourceRef, namespace: str | None, name: str) -> dict[str, Any]:
        self._enter("get", resource, namespace, name)
        obj = self.objects.get((resource, namespace, name))
        if obj is None:
            raise self._not_found(resource, name)
        return copy.deepcopy(obj)

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
        self._enter("list", resource, namespace, None)
        items = [
            copy.deepcopy(obj)
            for (res, ns, _), obj in sorted(self.objects.items(), key=lambda kv: kv[0][1:])
            if res == resource and _matches(obj, namespace, label_selector)
        ]
        start = int(continue_token or 0)
        end = len(items) if limit is None else start + limit
        token = str(end) if end < len(items) else None
        return ListPage(items[start:end], str(self.rv), token)

    async def watch(
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
        self._enter("watch", resource, namespace, None)
        if resource_version not in (None, "", "0") and int(resource_version) < self.compacted_rv:
            raise error_from_status(
                {"code": 410, "reason": "Expired", "message": "too old resource version"}
            )
        queue: asyncio.Queue[Any] = asyncio.Queue()
        entry = (resource, namespace, label_selector, queue)
        self._watchers.append(entry)
        if resource_version in (None, "", "0"):
            backlog = [
                WatchEvent(WatchEventType.ADDED, copy.deepcopy(obj))
                for (res, _, _), obj in self.objects.items()
                if res == resource
            ]
        else:
            after = int(resource_version)
            backlog = [
                event
                for res, event in self.history
                if res == resource and int(event.resource_version) > after
            ]
        try:
            for event in backlog:
                if _matches(event.object, namespace, label_selector):
                    yield event
            while True:
                item = await queue.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            if entry in self._watchers:
                self._watchers.remove(entry)

    async def create(
        self,
        resource: ResourceRef,
        namespace: str | None,
        body: dict[str, Any],
        *,
        field_manager: str | None = None,
    ) -> dict[str, Any]:
        self._enter("create", resource, namespace, (body.get("metadata") or {}).get("name"))
        return copy.deepcopy(self._create(resource, namespace, body))

    async def replace(
        self,
        resource: ResourceRef,
        namespace: str | None,
        name: str,
        body: dict[str, Any],
        *,
        field_manager: str | None = None,
    ) -> dict[str, Any]:
        self._enter("replace", resource, namespace, name)
        return copy.deepcopy(self._update(resource, namespace, name, body, status_only=False))

    async def replace_status(
        self,
        resource: ResourceRef,
        namespace: str | None,
        name: str,
        body: dict[str, Any],
        *,
        field_manager: str | None = None,
    ) -> dict[str, Any]:
        self._enter("replace_status", resource, namespace, name)
        return copy.deepcopy(self._update(resource, namespace, name, body, status_only=True))

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
    ) -> dict[str, Any]:
        self._enter("patch", resource, namespace, name)
        return copy.deepcopy(self._patch(resource, namespace, name, body, patch_type, False))

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
    ) -> dict[str, Any]:
        self._enter("patch_status", resource, namespace, name)
        return copy.deepcopy(self._patch(resource, namespace, name, body, patch_type, True))

    async def delete(
        self,
        resource: ResourceRef,
        namespace: str | None,
        name: str,
        *,
        propagation_policy: str | None = None,
        preconditions_rv: str | None = None,
    ) -> dict[str, Any]:
        self._enter("delete", resource, namespace, name)
        key = (resource, namespace, name)
        obj = self.objects.get(key)
        if obj is None:
            raise self._not_found(resource, name)
        if preconditions_rv is not None and obj["metadata"]["resourceVersion"] != preconditions_rv:
            raise self._conflict(resource, name)
        del self.objects[key]
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = self._next_rv()
        self._emit(resource, WatchEvent(WatchEventType.DELETED, obj))
        return copy.deepcopy(obj)

    # -- internals

    def _enter(self, verb: str, resource: ResourceRef, namespace: str | None, name: Any) -> None:
        self.calls.append((verb, resource.plural, namespace, name))
        faults = self._faults.get(verb)
        if faults:
            raise faults.pop(0)

    def _next_rv(self) -> str:
        self.rv += 1
        return str(self.rv)

    def _emit(self, resource: ResourceRef, event: WatchEvent) -> None:
        self.history.append((resource, event))
        if self.muted:
            return
        for res, namespace, selector, queue in self._watchers:
            if res == resource and _matches(event.object, namespace, selector):
                queue.put_nowait(WatchEvent(event.type, copy.deepcopy(event.object)))

    def _create(
        self, resource: ResourceRef, namespace: str | None, body: dict[str, Any]
    ) -> dict[str, Any]:
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        name = meta.get("name")
        key = (resource, namespace, name)
        if key in self.objects:
            raise error_from_status(
                {
                    "code": 409,
                    "reason": "AlreadyExists",
                    "message": f'{resource.qualified_name} "{name}" already exists',
                }
            )
        if namespace is not None:
            meta["namespace"] = namespace
        meta["uid"] = f"uid-{name}-{self.rv + 1}"
        meta["creationTimestamp"] = self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        meta["resourceVersion"] = self._next_rv()
        self.objects[key] = obj
        self._emit(resource, WatchEvent(WatchEventType.ADDED, obj))
        return obj

    def _update(
        self,
        resource: ResourceRef,
        namespace: str | None,
        name: str,
        body: dict[str, Any],
        *,
        status_only: bool,
    ) -> dict[str, Any]:
        key = (resource, namespace, name)
        old = self.objects.get(key)
        if old is None:
            raise self._not_found(resource, name)
        given = (body.get("metadata") or {}).get("resourceVersion")
        if given and given != old["metadata"]["resourceVersion"]:
            raise self._conflict(resource, name)
        if status_only:
            new = copy.deepcopy(old)
            new["status"] = copy.deepcopy(body.get("status"))
        else:
            new = copy.deepcopy(body)
            new["metadata"] = {**old["metadata"], **(body.get("metadata") or {})}
        new["metadata"]["resourceVersion"] = self._next_rv()
        self.objects[key] = new
        self._emit(resource, WatchEvent(WatchEventType.MODIFIED, new))
        return new

    def _patch(
        self,
        resource: ResourceRef,
        namespace: str | None,
        name: str,
        body: PatchBody,
        patch_type: PatchType,
        status_only: bool,
    ) -> dict[str, Any]:
        if patch_type is PatchType.JSON or not isinstance(body, dict):
            raise NotImplementedError("FakeKubeClient supports merge and apply patches only")
        key = (resource, namespace, name)
        old = self.objects.get(key)
        if old is None:
            if patch_type is PatchType.APPLY:
                return self._create(resource, namespace, body)
            raise self._not_found(resource, name)
        merged = _merge(copy.deepcopy(old), body)
        merged["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        return self._update(resource, namespace, name, merged, status_only=status_only)

    @staticmethod
    def _not_found(resource: ResourceRef, name: str) -> ApiError:
        return error_from_status(
            {
                "code": 404,
                "reason": "NotFound",
                "message": f'{resource.qualified_name} "{name}" not found',
            }
        )

    @staticmethod
    def _conflict(resource: ResourceRef, name: str) -> ApiError:
        return error_from_status(
            {
                "code": 409,
                "reason": "Conflict",
                "message": f'Operation cannot be fulfilled on {resource.qualified_name} "{name}": '
                "the object has been modified; please apply your changes to the latest version "
                "and try again",
            }
        )


def _matches(obj: dict[str, Any], namespace: str | None, selector: str | None) -> bool:
    meta = obj.get("metadata") or {}
    if namespace is not None and meta.get("namespace") != namespace:
        return False
    labels = meta.get("labels") or {}
    for term in filter(None, (selector or "").split(",")):
        if "=" in term:
            k, v = term.split("=", 1)
            if labels.get(k.strip()) != v.strip():
                return False
        elif term.strip() not in labels:
            return False
    return True


def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        else:
            target[k] = _merge(target.get(k), v)
    return target


# -- controllers: a recording client and a one-reconcile harness --------------------------------

WRITE_VERBS = frozenset({"create", "replace", "replace_status", "patch", "patch_status", "delete"})


@dataclass(frozen=True)
class Write:
    """One write a controller made: verb, resource plural, namespace, name and body."""

    verb: str
    plural: str
    namespace: str | None
    name: str
    body: Any
    result: Any = field(default=None, compare=False, repr=False)

    @property
    def target(self) -> tuple[str, str, str | None, str]:
        """The write without its body, for exact-set assertions."""
        return (self.verb, self.plural, self.namespace, self.name)


class RecordingClient:
    """A ``KubeClient`` wrapper that records every write and passes everything through."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.writes: list[Write] = []

    def __getattr__(self, verb: str) -> Any:
        attr = getattr(self.inner, verb)
        if verb not in WRITE_VERBS:
            return attr

        async def call(resource: ResourceRef, namespace: str | None, *args: Any, **kw: Any) -> Any:
            if verb == "create":
                body = args[0]
                name = str((body.get("metadata") or {}).get("name") or "")
            else:
                name = args[0]
                body = args[1] if len(args) > 1 else None
            result = await attr(resource, namespace, *args, **kw)
            self.writes.append(
                Write(verb, resource.plural, namespace, name, copy.deepcopy(body), result)
            )
            return result

        return call

    def take(self) -> list[Write]:
        """The writes since the last ``take``."""
        writes, self.writes = self.writes, []
        return writes


class ControllerHarness:
    """The selected controllers over a real (or fake) client, driven one reconcile at a time.

    ``start`` runs the informers only (no workers), so a test seeds objects, calls
    :meth:`reconcile` once and asserts the writes it made (:attr:`client` records them) and the
    resulting objects. Every write, the test's and the controller's, is waited for in the caches
    before the next step, so a reconcile never sees a stale cache.
    """

    def __init__(self, raw: Any, *, options: Any) -> None:
        from certsmith.controllers.setup import build_controllers

        self.raw = raw
        self.client = RecordingClient(raw)
        self.controllers = {c.name: c for c in build_controllers(self.client, options=options)}
        self.informers = {
            inf.resource.plural: inf for c in self.controllers.values() for inf in c.informers
        }
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> ControllerHarness:
        for informer in self.informers.values():
            self._tasks.append(asyncio.create_task(informer.run()))
        await asyncio.wait_for(
            asyncio.gather(*(i.wait_synced() for i in self.informers.values())), 10
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def wait_cached(self, stored: dict[str, Any], *, plural: str) -> None:
        """Wait until the informer of ``plural`` (if any) holds ``stored`` or something newer."""
        informer = self.informers.get(plural)
        if informer is None:
            return
        meta = stored.get("metadata") or {}
        want = int(meta.get("resourceVersion") or 0)

        def cached() -> bool:
            obj = informer.cache.get(meta.get("namespace"), meta["name"])
            return obj is not None and int(obj["metadata"]["resourceVersion"]) >= want

        await eventually(cached, timeout=10)

    async def wait_deleted(self, plural: str, namespace: str | None, name: str) -> None:
        informer = self.informers.get(plural)
        if informer is not None:
            await eventually(lambda: informer.cache.get(namespace, name) is None, timeout=10)

    async def apply(self, resource: ResourceRef, obj: Any) -> dict[str, Any]:
        """Create ``obj`` (a model or dict) with the raw client, then its status if it has one."""
        body = obj if isinstance(obj, dict) else obj.to_dict()
        body = copy.deepcopy(body)
        status = body.pop("status", None)
        namespace = (body.get("metadata") or {}).get("namespace") if resource.namespaced else None
        stored = await self.raw.create(resource, namespace, body)
        if status:
            stored["status"] = status
            stored = await self.raw.replace_status(
                resource, namespace, stored["metadata"]["name"], stored
            )
        await self.wait_cached(stored, plural=resource.plural)
        return dict(stored)

    async def set_status(
        self, resource: ResourceRef, namespace: str | None, name: str, status: dict[str, Any]
    ) -> dict[str, Any]:
        """Replace an object's status with the raw client and wait for the caches."""
        current = await self.raw.get(resource, namespace, name)
        current["status"] = status
        stored = await self.raw.replace_status(resource, namespace, name, current)
        await self.wait_cached(stored, plural=resource.plural)
        return dict(stored)

    async def reconcile(self, controller: str, namespace: str | None, name: str) -> Any:
        """Run one reconcile of ``controller``; wait for its writes to reach the caches."""
        from certsmith.controllers.runtime.cache import ObjectKey

        self.client.take()
        try:
            return await self.controllers[controller].reconcile(ObjectKey(namespace, name))
        finally:
            for write in self.client.writes:
                if write.verb == "delete":
                    await self.wait_deleted(write.plural, write.namespace, write.name)
                elif isinstance(write.result, dict) and write.plural != "events":
                    await self.wait_cached(write.result, plural=write.plural)
