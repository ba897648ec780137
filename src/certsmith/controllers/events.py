"""Recording core/v1 Events about the objects the controllers reconcile.

What this module decides:

* Events are written through the :class:`~certsmith.client.protocol.KubeClient`, as client-go's
  recorder does, so ``kubectl describe`` and ``kubectl events`` show them on any API server.
* Repeats are folded like client-go's correlator, kept simple: the recorder remembers, per
  (object uid, type, reason, message), the name of the Event it wrote, and a repeat patches that
  Event's ``count`` and ``lastTimestamp`` instead of creating a new one. The memory is a bounded
  LRU (client-go's 4096 entries) and is lost on restart, which costs at most one extra Event.
* Every message passes through :func:`certsmith.util.log.redact`, so a private key that found its
  way into an error text can never be stored in an Event, which any reader of the namespace sees.
* Recording never fails a reconcile: an Event is a diagnostic, so a failed write is logged and
  dropped, exactly as client-go's asynchronous recorder drops it.
"""

from __future__ import annotations

import logging
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

from certsmith.api.conditions import EventReason, EventType
from certsmith.api.meta import KubeObject, format_time
from certsmith.client.errors import NotFound
from certsmith.client.protocol import JSONObject, KubeClient
from certsmith.client.resources import EVENTS
from certsmith.util.clock import Clock
from certsmith.util.log import redact

log = logging.getLogger(__name__)

COMPONENT: Final = "certsmith"
MAX_CACHE_ENTRIES: Final = 4096
# Events of cluster-scoped objects (ClusterIssuers) go to "default", as client-go puts them.
CLUSTER_EVENT_NAMESPACE: Final = "default"


@dataclass(frozen=True)
class Note:
    """An event to record: its type, reason and message."""

    type: EventType
    reason: EventReason
    message: str


@dataclass
class _Seen:
    namespace: str
    name: str
    count: int


class EventRecorder:
    """Writes Events for objects, folding identical repeats into one Event's ``count``."""

    def __init__(
        self,
        client: KubeClient,
        *,
        clock: Clock,
        component: str = COMPONENT,
        instance: str | None = None,
        max_entries: int = MAX_CACHE_ENTRIES,
    ) -> None:
        """Create a recorder.

        Args:
            client: where Events are written.
            clock: the source of first/last timestamps.
            component: ``source.component`` and ``reportingComponent``.
            instance: ``reportingInstance`` (e.g. the pod name); omitted when ``None``.
            max_entries: how many distinct events are remembered for folding repeats.
        """
        self._client = client
        self._clock = clock
        self._component = component
        self._instance = instance
        self._max_entries = max_entries
        self._seen: OrderedDict[tuple[str, str, str, str], _Seen] = OrderedDict()

    async def record(self, obj: KubeObject, note: Note) -> None:
        """Record ``note`` about ``obj``; never raises (failures are logged)."""
        try:
            await self._record(obj, note)
        except Exception as exc:
            log.warning(
                "dropping event %s %s for %s %s: %s",
                note.type.value,
                note.reason.value,
                obj.KIND,
                obj.name,
                exc,
            )

    async def event(
        self, obj: KubeObject, type_: EventType, reason: EventReason, message: str
    ) -> None:
        """Record an event given by its parts; see :meth:`record`."""
        await self.record(obj, Note(type_, reason, message))

    async def _record(self, obj: KubeObject, note: Note) -> None:
        message = redact(note.message)
        uid = obj.metadata.uid or f"{obj.namespace}/{obj.name}"
        cache_key = (uid, note.type.value, note.reason.value, message)
        now = format_time(self._clock.now())
        seen = self._seen.get(cache_key)
        if seen is not None:
            self._seen.move_to_end(cache_key)
            try:
                await self._client.patch(
                    EVENTS,
                    seen.namespace,
                    seen.name,
                    {"count": seen.count + 1, "lastTimestamp": now},
                    field_manager=self._component,
                )
            except NotFound:
                # The Event expired (the API server's event TTL) or was deleted: start afresh.
                del self._seen[cache_key]
            else:
                seen.count += 1
                return
        namespace = obj.namespace or CLUSTER_EVENT_NAMESPACE
        body = self._body(obj, note, message, namespace, now)
        created = await self._client.create(EVENTS, namespace, body, field_manager=self._component)
        name = str((created.get("metadata") or {}).get("name") or body["metadata"]["name"])
        self._seen[cache_key] = _Seen(namespace, name, 1)
        while len(self._seen) > self._max_entries:
            self._seen.popitem(last=False)

    def _body(
        self, obj: KubeObject, note: Note, message: str, namespace: str, now: str
    ) -> JSONObject:
        involved: JSONObject = {
            "apiVersion": obj.api_version or obj.API_VERSION,
            "kind": obj.kind or obj.KIND,
            "name": obj.name,
        }
        if obj.namespace:
            involved["namespace"] = obj.namespace
        if obj.metadata.uid:
            involved["uid"] = obj.metadata.uid
        if obj.metadata.resource_version:
            involved["resourceVersion"] = obj.metadata.resource_version
        # client-go names Events "<object>.<unix nanos in hex>"; a random suffix is as unique
        # without depending on the clock's resolution (a fake clock in tests does not move).
        stamp = int(self._clock.now().timestamp() * 1e9)
        name = f"{obj.name}.{stamp:x}{secrets.token_hex(2)}"
        body: JSONObject = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": involved,
            "reason": note.reason.value,
            "message": message,
            "type": note.type.value,
            "source": {"component": self._component},
            "reportingComponent": self._component,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        if self._instance:
            body["reportingInstance"] = self._instance
        return body
