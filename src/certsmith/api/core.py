"""The built-in Kubernetes objects certsmith stores and controllers use.

Secret, ConfigMap and Namespace (core/v1), Event (core/v1) and Lease (coordination.k8s.io/v1).

What this module decides: these types are **open** (``extra="allow"``), unlike cert-manager's own
types. The fields our code reads and writes are typed, but anything else a real client sends
(``kubectl``, client-go, the Python client, kopf: e.g. newer Event or Lease fields, a
Namespace's conditions) is kept verbatim and written back, because we do not own these schemas
and rejecting or dropping a field Kubernetes accepts would break those clients. Times follow
Kubernetes: ``Time`` for whole-second stamps, ``MicroTime`` for ``eventTime``, Event series and
Lease ``acquireTime``/``renewTime``.

Secret and ConfigMap ``binaryData`` keep their base64 wire strings; ``Secret.decoded`` returns
bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import ConfigDict, Field

from certsmith.api.meta import (
    Base64,
    JSONObject,
    KubeObject,
    MicroTime,
    Model,
    ObjectReference,
    Time,
    decode_bytes,
    encode_bytes,
)

__all__ = [
    "ConfigMap",
    "CoreModel",
    "CoreObject",
    "Event",
    "EventSeries",
    "EventSource",
    "Lease",
    "LeaseSpec",
    "Namespace",
    "NamespaceSpec",
    "NamespaceStatus",
    "Secret",
]


class CoreModel(Model):
    """Base of the nested core types: unknown fields are kept, not rejected."""

    model_config = ConfigDict(extra="allow")


class CoreObject(KubeObject):
    """Base of the top-level core objects: unknown fields are kept, not rejected."""

    model_config = ConfigDict(extra="allow")


class Secret(CoreObject):
    """core/v1 Secret: ``data`` holds base64 strings, ``stringData`` plain text (write-only)."""

    API_VERSION: ClassVar[str] = "v1"
    KIND: ClassVar[str] = "Secret"

    type: str | None = None
    data: dict[str, Base64] | None = None
    string_data: dict[str, str] | None = None
    immutable: bool | None = None

    def decoded(self, key: str) -> bytes | None:
        """The value of ``key`` as bytes, or ``None`` when the Secret lacks it.

        ``stringData`` wins over ``data``, as the apiserver merges it over ``data`` on write.

        Raises:
            ValueError: the ``data`` entry is not valid base64.
        """
        if self.string_data is not None and key in self.string_data:
            return self.string_data[key].encode("utf-8")
        if self.data is not None and key in self.data:
            return decode_bytes(self.data[key])
        return None

    @staticmethod
    def encode_data(values: Mapping[str, bytes]) -> dict[str, str]:
        """Encode raw values for ``data``."""
        return {key: encode_bytes(value) for key, value in values.items()}


class ConfigMap(CoreObject):
    """core/v1 ConfigMap: UTF-8 ``data`` and base64 ``binaryData``."""

    API_VERSION: ClassVar[str] = "v1"
    KIND: ClassVar[str] = "ConfigMap"

    data: dict[str, str] | None = None
    binary_data: dict[str, Base64] | None = None
    immutable: bool | None = None


class NamespaceSpec(CoreModel):
    """``spec`` of a Namespace: the finalizers that must clear before it is removed."""

    finalizers: list[str] | None = None


class NamespaceStatus(CoreModel):
    """``status`` of a Namespace: ``Active`` or ``Terminating``."""

    phase: str | None = None
    conditions: list[JSONObject] | None = None


class Namespace(CoreObject):
    """core/v1 Namespace (cluster-scoped)."""

    API_VERSION: ClassVar[str] = "v1"
    KIND: ClassVar[str] = "Namespace"

    spec: NamespaceSpec | None = None
    status: NamespaceStatus | None = None


class EventSource(CoreModel):
    """Which component (on which host) reported an Event."""

    component: str | None = None
    host: str | None = None


class EventSeries(CoreModel):
    """A run of repeated Events (newer recorders)."""

    count: int | None = None
    last_observed_time: MicroTime | None = None


class Event(CoreObject):
    """core/v1 Event: what ``kubectl describe`` and ``kubectl events`` show for an object."""

    API_VERSION: ClassVar[str] = "v1"
    KIND: ClassVar[str] = "Event"

    involved_object: ObjectReference = Field(default_factory=ObjectReference)
    reason: str | None = None
    message: str | None = None
    source: EventSource | None = None
    first_timestamp: Time | None = None
    last_timestamp: Time | None = None
    count: int | None = None
    type: str | None = None
    event_time: MicroTime | None = None
    series: EventSeries | None = None
    action: str | None = None
    related: ObjectReference | None = None
    reporting_component: str | None = None
    reporting_instance: str | None = None


class LeaseSpec(CoreModel):
    """``spec`` of a Lease: the holder and how long its claim lasts."""

    holder_identity: str | None = None
    lease_duration_seconds: int | None = None
    acquire_time: MicroTime | None = None
    renew_time: MicroTime | None = None
    lease_transitions: int | None = None
    preferred_holder: str | None = None
    strategy: str | None = None


class Lease(CoreObject):
    """coordination.k8s.io/v1 Lease: the leader-election lock."""

    API_VERSION: ClassVar[str] = "coordination.k8s.io/v1"
    KIND: ClassVar[str] = "Lease"

    spec: LeaseSpec | None = None
