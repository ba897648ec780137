"""Kubernetes object metadata, conditions and references shared by every resource.

Models are pydantic v2 with camelCase on the wire. ``to_dict`` drops unset ``None``
fields, as Kubernetes omits empty pointers, so a parse → dump round trip is lossless.
Times are RFC 3339 in UTC with a ``Z`` and whole seconds, as ``metav1.Time`` prints them.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Iterable, Sequence
from typing import Annotated, Any, ClassVar, Self, TypeAlias

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)
from pydantic.alias_generators import to_camel

from certsmith.api.conditions import ConditionStatus, ConditionType

JSON: TypeAlias = Any
JSONObject: TypeAlias = dict[str, Any]


def format_time(value: dt.datetime) -> str:
    """Print a time as ``metav1.Time`` does: UTC, whole seconds, ``Z`` suffix."""
    if value.tzinfo is None:
        raise ValueError("Kubernetes times must be timezone-aware")
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_micro_time(value: dt.datetime) -> str:
    """Print a time as ``metav1.MicroTime`` does: UTC, microseconds, ``Z`` suffix."""
    if value.tzinfo is None:
        raise ValueError("Kubernetes times must be timezone-aware")
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


Time = Annotated[dt.datetime, PlainSerializer(format_time, return_type=str, when_used="json")]
MicroTime = Annotated[
    dt.datetime, PlainSerializer(format_micro_time, return_type=str, when_used="json")
]


_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def decode_bytes(value: str) -> bytes:
    """Decode a ``format: byte`` wire string (standard base64, line breaks ignored, as Go does).

    Raises:
        ValueError: ``value`` is not valid standard base64.
    """
    text = value.replace("\r", "").replace("\n", "")
    # Python tolerates excess padding ("QUJD="); Go's StdEncoding, and so the apiserver, does not.
    if len(text) % 4 or not _BASE64.fullmatch(text):
        raise ValueError("illegal base64 data: not standard padded base64")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:  # pragma: no cover - the pattern already rules these out
        raise ValueError(f"illegal base64 data: {exc}") from exc


def encode_bytes(data: bytes) -> str:
    """Encode bytes for a ``format: byte`` field (standard base64, no line breaks)."""
    return base64.b64encode(data).decode("ascii")


def _check_base64(value: str) -> str:
    decode_bytes(value)
    return value


# A ``format: byte`` field: the wire string is kept verbatim (lossless round trips) and checked
# to be base64 on parse, as the apiserver's CRD validation does; decode with ``decode_bytes``.
Base64 = Annotated[
    str,
    AfterValidator(_check_base64),
    WithJsonSchema({"type": "string", "format": "byte"}),
]

# Go ``int32``/``int64`` fields: plain ints in Python; the format reaches the generated CRDs.
Int32 = Annotated[int, WithJsonSchema({"type": "integer", "format": "int32"})]
Int64 = Annotated[int, WithJsonSchema({"type": "integer", "format": "int64"})]


class Model(BaseModel):
    """Base of every wire model: camelCase aliases, unknown fields rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        validate_assignment=False,
    )

    def to_dict(self) -> JSONObject:
        """Return the wire (JSON) form, omitting fields that are ``None``."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    @classmethod
    def from_dict(cls, data: JSONObject) -> Self:
        """Parse the wire form.

        Raises:
            pydantic.ValidationError: the data does not fit the model.
        """
        return cls.model_validate(data)


class OwnerReference(Model):
    """A pointer from a dependent object to its owner, matched by ``uid``."""

    api_version: str
    kind: str
    name: str
    uid: str
    controller: bool | None = None
    block_owner_deletion: bool | None = None


class ManagedFieldsEntry(Model):
    """One field manager's claim on a set of fields (server-side apply)."""

    manager: str | None = None
    operation: str | None = None
    api_version: str | None = None
    time: Time | None = None
    fields_type: str | None = None
    fields_v1: JSONObject | None = Field(default=None, alias="fieldsV1")
    subresource: str | None = None


class ObjectMeta(Model):
    """``metadata`` of every Kubernetes object."""

    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: Time | None = None
    deletion_timestamp: Time | None = None
    deletion_grace_period_seconds: int | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    owner_references: list[OwnerReference] | None = None
    finalizers: list[str] | None = None
    managed_fields: list[ManagedFieldsEntry] | None = None
    self_link: str | None = None


class TypeMeta(Model):
    """``apiVersion`` and ``kind``; the base of every top-level object."""

    api_version: str | None = None
    kind: str | None = None


class KubeObject(TypeMeta):
    """A top-level object: type, metadata and (in subclasses) spec and status."""

    API_VERSION: ClassVar[str] = ""
    KIND: ClassVar[str] = ""

    metadata: ObjectMeta = Field(default_factory=ObjectMeta)

    @property
    def name(self) -> str:
        """``metadata.name``, or ``""`` while unset."""
        return self.metadata.name or ""

    @property
    def namespace(self) -> str:
        """``metadata.namespace``, or ``""`` for cluster-scoped objects."""
        return self.metadata.namespace or ""

    @property
    def annotations(self) -> dict[str, str]:
        """``metadata.annotations`` (a copy-safe empty dict when unset)."""
        return self.metadata.annotations or {}

    def to_dict(self) -> JSONObject:
        """Return the wire form with ``apiVersion`` and ``kind`` filled in."""
        data = super().to_dict()
        data.setdefault("apiVersion", self.API_VERSION)
        data.setdefault("kind", self.KIND)
        return {"apiVersion": data.pop("apiVersion"), "kind": data.pop("kind"), **data}


class LocalObjectReference(Model):
    """A reference to an object in the same namespace, by name."""

    name: str


class SecretKeySelector(Model):
    """A key of a Secret in the same namespace (cert-manager's ``SecretKeySelector``)."""

    name: str
    key: str | None = None


class ObjectReference(Model):
    """core/v1 ``ObjectReference``: a pointer to any object (an Event's ``involvedObject``)."""

    api_version: str | None = None
    kind: str | None = None
    namespace: str | None = None
    name: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    field_path: str | None = None


class ServiceAccountRef(Model):
    """A ServiceAccount whose token cert-manager requests, with optional extra ``audiences``."""

    name: str
    audiences: list[str] | None = None


class IssuerReference(Model):
    """Which issuer signs: ``kind`` defaults to ``Issuer``, ``group`` to ``cert-manager.io``.

    Stored objects keep empty strings; readers apply the defaults (SPEC §0.1).
    """

    name: str
    kind: str | None = None
    group: str | None = None

    @property
    def effective_kind(self) -> str:
        """The kind with the default applied."""
        return self.kind or "Issuer"

    @property
    def effective_group(self) -> str:
        """The group with the default applied."""
        return self.group or "cert-manager.io"


class Condition(Model):
    """A status condition; cert-manager's carry ``observedGeneration`` except on requests."""

    type: str
    status: ConditionStatus
    last_transition_time: Time | None = None
    reason: str | None = None
    message: str | None = None
    observed_generation: Int64 | None = None


def get_condition(conditions: Iterable[Condition] | None, ctype: ConditionType) -> Condition | None:
    """Return the condition of type ``ctype``, or ``None``."""
    for cond in conditions or ():
        if cond.type == ctype:
            return cond
    return None


def is_true(conditions: Iterable[Condition] | None, ctype: ConditionType) -> bool:
    """Tell whether a condition of type ``ctype`` exists with status ``True``."""
    cond = get_condition(conditions, ctype)
    return cond is not None and cond.status == ConditionStatus.TRUE


def set_condition(
    conditions: Sequence[Condition] | None,
    ctype: ConditionType,
    status: ConditionStatus,
    reason: str,
    message: str,
    *,
    now: dt.datetime,
    observed_generation: int | None = None,
) -> list[Condition]:
    """Return a new list with the condition of ``ctype`` set (SPEC §0.2).

    The entry of the same type is replaced in place; ``lastTransitionTime`` is kept
    when the status does not change and set to ``now`` otherwise; a new type is appended.
    """
    result = list(conditions or ())
    for index, old in enumerate(result):
        if old.type != ctype:
            continue
        transition = old.last_transition_time if old.status == status else None
        result[index] = Condition(
            type=ctype,
            status=status,
            reason=reason,
            message=message,
            last_transition_time=transition or now,
            observed_generation=observed_generation,
        )
        return result
    result.append(
        Condition(
            type=ctype,
            status=status,
            reason=reason,
            message=message,
            last_transition_time=now,
            observed_generation=observed_generation,
        )
    )
    return result


def remove_condition(
    conditions: Sequence[Condition] | None, ctype: ConditionType
) -> list[Condition]:
    """Return a new list without the condition of type ``ctype``."""
    return [c for c in conditions or () if c.type != ctype]


class UserInfo(Model):
    """Who makes a request: the authenticated user as admission and RBAC see it."""

    username: str = ""
    uid: str = ""
    groups: list[str] = Field(default_factory=list)
    extra: dict[str, list[str]] = Field(default_factory=dict)
