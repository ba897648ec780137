"""Server-side Tables (``meta.k8s.io/v1`` ``Table``) for ``kubectl get``.

kubectl prints a CRD's printer columns only when the server converts lists to Tables
(K8S-API §1.6, §3.4); each row must also carry ``object`` as ``PartialObjectMetadata`` or
``get -A`` and ``--show-labels`` print blanks. This module decides what a Table looks like:

* Custom resources get ``Name`` plus ``additionalPrinterColumns`` (``Age`` alone when the CRD has
  none), cells computed with :mod:`certsmith.apiserver.jsonpath` exactly as apiextensions'
  table convertor does: string columns print the first match, other types are coerced or
  ``null``, ``date`` cells are humanised ages.
* Built-in kinds get the columns and cells of Kubernetes' own printers (``Wide`` output, as
  the apiserver always generates; kubectl hides ``priority > 0`` columns itself).
* Ages are computed from an explicit ``now``; nothing here reads the clock.
* In a Table watch only the first event carries ``columnDefinitions``; later ones have ``null``,
  as the apiserver's ``NoHeaders`` option gives. ``ERROR`` and ``BOOKMARK`` events pass through.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from typing import Any, Final

from certsmith.api.errors import StatusError
from certsmith.api.meta import JSON, JSONObject
from certsmith.apiserver.jsonpath import JSONPath, JSONPathError, go_print, go_quote
from certsmith.apiserver.resources import (
    CREATION_TIMESTAMP_DESCRIPTION,
    NAME_DESCRIPTION,
    PrinterColumn,
    ResourceType,
)

TABLE_GROUP: Final = "meta.k8s.io"


class IncludeObject(StrEnum):
    """What each row's ``object`` holds (the ``includeObject`` query parameter)."""

    NONE = "None"
    METADATA = "Metadata"
    OBJECT = "Object"


def parse_include_object(value: str | None) -> IncludeObject:
    """Read ``includeObject``; empty means ``Metadata``.

    Raises:
        StatusError: 400 BadRequest for an unknown value, worded as the apiserver does.
    """
    if not value:
        return IncludeObject.METADATA
    try:
        return IncludeObject(value)
    except ValueError:
        raise StatusError(
            400, "BadRequest", f"unrecognized includeObject value: {go_quote(value)}"
        ) from None


def table_version(accept: str | None) -> str | None:
    """The Table version (``v1`` or ``v1beta1``) an Accept header asks for, or ``None``.

    The first Accept entry the server can serve wins, so ``application/json`` before any
    Table entry means a plain list.
    """
    for media_range in (accept or "").split(","):
        parts = [p.strip() for p in media_range.split(";")]
        params = {}
        for part in parts[1:]:
            key, _, value = part.partition("=")
            params[key.strip()] = value.strip()
        if params.get("as") == "Table":
            if params.get("g") == TABLE_GROUP and params.get("v") in ("v1", "v1beta1"):
                return params["v"]
            continue
        if params.get("as"):
            continue
        if parts[0].lower() in ("application/json", "application/yaml", "*/*", "application/*"):
            return None
    return None


def human_duration(delta: dt.timedelta) -> str:
    """Format an age like Kubernetes' ``duration.HumanDuration`` (``5s``, ``3m2s``, ``2d3h``)."""
    seconds = int(delta.total_seconds())
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = seconds // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if days == 0 else f"{years}y{days}d"
    return f"{hours // 24 // 365}y"


def parse_time(value: JSON) -> dt.datetime | None:
    """Parse an RFC 3339 timestamp (``metav1.Time`` or ``MicroTime``); ``None`` if unset/bad."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def age(timestamp: JSON, now: dt.datetime) -> str:
    """Humanised time since ``timestamp``; ``<unknown>`` when unset, as kube prints it."""
    parsed = parse_time(timestamp)
    if parsed is None:
        return "<unknown>"
    return human_duration(now - parsed)


# --- columns ------------------------------------------------------------------------------


def _name_column() -> JSONObject:
    return {
        "name": "Name",
        "type": "string",
        "format": "name",
        "description": NAME_DESCRIPTION,
        "priority": 0,
    }


def _custom_columns(rt: ResourceType) -> tuple[PrinterColumn, ...]:
    if rt.printer_columns:
        return rt.printer_columns
    return (
        PrinterColumn(
            "Age", "date", ".metadata.creationTimestamp", 0, CREATION_TIMESTAMP_DESCRIPTION
        ),
    )


def _column_definition(col: PrinterColumn, *, custom: bool) -> JSONObject:
    description = col.description
    if custom and not description:
        description = f"Custom resource definition column (in JSONPath format): {col.json_path}"
    return {
        "name": col.name,
        "type": col.type,
        "format": col.format,
        "description": description,
        "priority": col.priority,
    }


def column_definitions(rt: ResourceType) -> list[JSONObject]:
    """The ``columnDefinitions`` of a kind's Table."""
    builtin = rt.group_kind in _BUILTIN_ROWS
    columns = rt.printer_columns if builtin else _custom_columns(rt)
    defs = [_column_definition(col, custom=not builtin) for col in columns]
    return [_name_column(), *defs] if rt.name_column_first else defs


# --- cells --------------------------------------------------------------------------------


def _custom_cell(
    col: PrinterColumn, path: JSONPath | None, obj: JSONObject, now: dt.datetime
) -> JSON:
    if path is None:
        return None
    results = path.find(obj)
    if not results:
        return None
    value = results[0]
    if col.type == "string":
        return go_print(value)
    return _cell_for_json_value(col.type, value, now)


def _cell_for_json_value(type_: str, value: JSON, now: dt.datetime) -> JSON:
    if value is None:
        return None
    if type_ == "integer":
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return int(value)
        return None
    if type_ == "number":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        return None
    if type_ == "boolean":
        return value if isinstance(value, bool) else None
    if type_ == "date":
        if isinstance(value, str):
            parsed = parse_time(value)
            return "<invalid>" if parsed is None else human_duration(now - parsed)
        return None
    return None


def _compiled(rt: ResourceType) -> list[tuple[PrinterColumn, JSONPath | None]]:
    out: list[tuple[PrinterColumn, JSONPath | None]] = []
    for col in _custom_columns(rt):
        try:
            out.append((col, JSONPath.parse(col.json_path)))
        except JSONPathError:
            out.append((col, None))
    return out


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _get(obj: Mapping[str, Any], *path: str) -> Any:
    value: Any = obj
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _count(value: Any) -> int:
    return len(value) if isinstance(value, Mapping | list) else 0


def _created(obj: JSONObject, now: dt.datetime) -> str:
    return age(_meta(obj).get("creationTimestamp"), now)


def _created_at(obj: JSONObject, now: dt.datetime) -> str:
    parsed = parse_time(_meta(obj).get("creationTimestamp"))
    if parsed is None:
        return "0001-01-01T00:00:00Z"
    return parsed.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _namespace_row(obj: JSONObject, now: dt.datetime) -> list[JSON]:
    return [_text(_get(obj, "status", "phase")), _created(obj, now)]


def _secret_row(obj: JSONObject, now: dt.datetime) -> list[JSON]:
    return [_text(obj.get("type")), _count(obj.get("data")), _created(obj, now)]


def _configmap_row(obj: JSONObject, now: dt.datetime) -> list[JSON]:
    return [_count(obj.get("data")) + _count(obj.get("binaryData")), _created(obj, now)]


def _lease_row(obj: JSONObject, now: dt.datetime) -> list[JSON]:
    return [_text(_get(obj, "spec", "holderIdentity")), _created(obj, now)]


def _event_row(obj: JSONObject, now: dt.datetime) -> list[JSON]:
    first = obj.get("firstTimestamp")
    first_seen = age(first if first else obj.get("eventTime"), now)
    last = obj.get("lastTimestamp")
    last_seen = age(last, now) if last else first_seen
    count = obj.get("count") if isinstance(obj.get("count"), int) else 0
    series = obj.get("series")
    if isinstance(series, Mapping):
        last_seen = age(series.get("lastObservedTime"), now)
        count = series.get("count") if isinstance(series.get("count"), int) else 0
    elif count == 0:
        count = 1
    involved = _mapping(obj.get("involvedObject"))
    kind = _text(involved.get("kind")).lower()
    name = _text(involved.get("name"))
    target = f"{kind}/{name}" if name else kind
    component = _text(_get(obj, "source", "component")) or _text(obj.get("reportingComponent"))
    instance = _text(_get(obj, "source", "host")) or _text(obj.get("reportingInstance"))
    source = "" if not component else (f"{component}, {instance}" if instance else component)
    return [
        last_seen,
        _text(obj.get("type")),
        _text(obj.get("reason")),
        target,
        _text(involved.get("fieldPath")),
        source,
        _text(obj.get("message")).strip(),
        first_seen,
        count,
        _text(_meta(obj).get("name")),
    ]


def _role_row(obj: JSONObject, now: dt.datetime) -> list[JSON]:
    return [_created_at(obj, now)]


def _binding_row(obj: JSONObject, now: dt.datetime) -> list[JSON]:
    ref = _mapping(obj.get("roleRef"))
    users: list[str] = []
    groups: list[str] = []
    accounts: list[str] = []
    for subject in obj.get("subjects") or ():
        if not isinstance(subject, Mapping):
            continue
        kind, name = subject.get("kind"), _text(subject.get("name"))
        if kind == "User":
            users.append(name)
        elif kind == "Group":
            groups.append(name)
        elif kind == "ServiceAccount":
            accounts.append(f"{_text(subject.get('namespace'))}/{name}")
    return [
        f"{_text(ref.get('kind'))}/{_text(ref.get('name'))}",
        _created(obj, now),
        ", ".join(users),
        ", ".join(groups),
        ", ".join(accounts),
    ]


def _ingress_row(obj: JSONObject, now: dt.datetime) -> list[JSON]:
    spec = _mapping(obj.get("spec"))
    rules = [r for r in spec.get("rules") or () if isinstance(r, Mapping)]
    hosts: list[str] = []
    more = False
    for rule in rules:
        if len(hosts) == 3:
            more = True
        if not more and rule.get("host"):
            hosts.append(_text(rule.get("host")))
    host_text = ",".join(hosts) if hosts else "*"
    if more:
        host_text = f"{host_text} + {len(rules) - 3} more..."
    addresses = [
        _text(entry.get("ip")) or _text(entry.get("hostname"))
        for entry in _get(obj, "status", "loadBalancer", "ingress") or ()
        if isinstance(entry, Mapping)
    ]
    return [
        _text(spec.get("ingressClassName")) or "<none>",
        host_text,
        ",".join(a for a in addresses if a),
        "80, 443" if spec.get("tls") else "80",
        _created(obj, now),
    ]


def _ingress_class_row(obj: JSONObject, now: dt.datetime) -> list[JSON]:
    spec = _mapping(obj.get("spec"))
    params = _mapping(spec.get("parameters"))
    kind = _text(params.get("kind"))
    if params.get("apiGroup"):
        kind = f"{kind}.{_text(params.get('apiGroup'))}"
    return [
        _text(spec.get("controller")),
        f"{kind}/{_text(params.get('name'))}" if params else "<none>",
        _created(obj, now),
    ]


_BUILTIN_ROWS: Final[dict[str, Callable[[JSONObject, dt.datetime], list[JSON]]]] = {
    "Namespace": _namespace_row,
    "Secret": _secret_row,
    "ConfigMap": _configmap_row,
    "Event": _event_row,
    "Lease.coordination.k8s.io": _lease_row,
    "Role.rbac.authorization.k8s.io": _role_row,
    "ClusterRole.rbac.authorization.k8s.io": _role_row,
    "RoleBinding.rbac.authorization.k8s.io": _binding_row,
    "ClusterRoleBinding.rbac.authorization.k8s.io": _binding_row,
    "Ingress.networking.k8s.io": _ingress_row,
    "IngressClass.networking.k8s.io": _ingress_class_row,
    "CustomResourceDefinition.apiextensions.k8s.io": _role_row,
}


# --- rows and tables ----------------------------------------------------------------------


def partial_object_metadata(obj: Mapping[str, Any], version: str = "v1") -> JSONObject:
    """The ``PartialObjectMetadata`` form of an object: its metadata only."""
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": f"{TABLE_GROUP}/{version}",
        "metadata": dict(_meta(obj)),
    }


class TableConverter:
    """Turns objects of one kind into Table rows; compiles the printer columns once."""

    def __init__(self, rt: ResourceType, *, version: str = "v1") -> None:
        self.rt = rt
        self.version = version
        self._builtin = _BUILTIN_ROWS.get(rt.group_kind)
        self._columns = [] if self._builtin else _compiled(rt)
        self._definitions = column_definitions(rt)

    @property
    def column_definitions(self) -> list[JSONObject]:
        """The ``columnDefinitions`` of this kind's Table."""
        return self._definitions

    def cells(self, obj: JSONObject, now: dt.datetime) -> list[JSON]:
        """One row's cells, in column order."""
        if self._builtin is not None:
            cells = self._builtin(obj, now)
        else:
            cells = [_custom_cell(col, path, obj, now) for col, path in self._columns]
        if self.rt.name_column_first:
            return [_text(_meta(obj).get("name")), *cells]
        return cells

    def row(self, obj: JSONObject, now: dt.datetime, include: IncludeObject) -> JSONObject:
        """One ``TableRow``: cells plus the object as ``include`` asks."""
        row: JSONObject = {"cells": self.cells(obj, now)}
        if include is IncludeObject.METADATA:
            row["object"] = partial_object_metadata(obj, self.version)
        elif include is IncludeObject.OBJECT:
            row["object"] = obj
        return row

    def table(
        self,
        objects: Iterable[JSONObject],
        *,
        now: dt.datetime,
        include: IncludeObject = IncludeObject.METADATA,
        list_metadata: Mapping[str, Any] | None = None,
        headers: bool = True,
    ) -> JSONObject:
        """A whole Table; ``list_metadata`` is the list's ``metadata`` (rv, continue...)."""
        return {
            "kind": "Table",
            "apiVersion": f"{TABLE_GROUP}/{self.version}",
            "metadata": dict(list_metadata or {}),
            "columnDefinitions": self._definitions if headers else None,
            "rows": [self.row(obj, now, include) for obj in objects],
        }

    def watch_event(
        self,
        event: Mapping[str, Any],
        *,
        now: dt.datetime,
        include: IncludeObject = IncludeObject.METADATA,
        first: bool,
    ) -> JSONObject:
        """Shape one watch event for a Table watch: a one-row Table, headers only if ``first``.

        ``ERROR`` and ``BOOKMARK`` events are returned unchanged.
        """
        event_type = event.get("type")
        obj = event.get("object")
        if event_type in ("ERROR", "BOOKMARK") or not isinstance(obj, dict):
            return dict(event)
        rv = _meta(obj).get("resourceVersion")
        table = self.table(
            [obj],
            now=now,
            include=include,
            list_metadata={"resourceVersion": rv} if rv else {},
            headers=first,
        )
        return {"type": event_type, "object": table}


def to_table(
    rt: ResourceType,
    objects: Iterable[JSONObject],
    *,
    now: dt.datetime,
    include: IncludeObject = IncludeObject.METADATA,
    list_metadata: Mapping[str, Any] | None = None,
    version: str = "v1",
) -> JSONObject:
    """Convert a list of objects of kind ``rt`` to a ``Table`` (see :class:`TableConverter`)."""
    converter = TableConverter(rt, version=version)
    return converter.table(objects, now=now, include=include, list_metadata=list_metadata)
