"""The resource registry: which group/version/resources the server serves and how they look.

Everything the HTTP layer needs to route, discover, print and validate a resource hangs off one
frozen :class:`ResourceType`. Custom resources are read from apiextensions.k8s.io/v1
``CustomResourceDefinition`` manifests (``ResourceType.from_crd``), so the cert-manager types are
described by exactly the data kubectl would see on a real cluster. Built-in types are declared in
code with compact schemas (the fields that matter plus ``x-kubernetes-preserve-unknown-fields``)
and the printer columns, short names and verbs of a real Kubernetes 1.32 apiserver.

``is_custom`` decides patch support: strategic merge patch exists only for compiled-in types, so a
custom resource answers it with 415 like apiextensions-apiserver. Gateway API types are CRDs on a
real cluster, so they are registered as custom even though they are declared here.

The registry is mutable on purpose: ``kubectl apply -f crds.yaml`` adds types at runtime.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from certsmith.api.meta import JSONObject

ALL_VERBS: Final = (
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
)
"""Verbs of an ordinary resource, in the order discovery lists them."""

NAMESPACE_VERBS: Final = ("create", "delete", "get", "list", "patch", "update", "watch")
"""Namespaces have no ``deletecollection``."""

SUBRESOURCE_VERBS: Final = ("get", "patch", "update")
"""Verbs of the ``status`` subresource."""

NAME_DESCRIPTION: Final = (
    "Name must be unique within a namespace. Is required when creating resources, although some "
    "resources may allow a client to request the generation of an appropriate name automatically."
    " Name is primarily intended for creation idempotence and configuration definition. Cannot be "
    "updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
"""``ObjectMeta.name``'s swagger doc: the description of every table's Name column."""

CREATION_TIMESTAMP_DESCRIPTION: Final = (
    "CreationTimestamp is a timestamp representing the server time when this object was created."
    " It is not guaranteed to be set in happens-before order across separate operations. Clients "
    "may not set this value. It is represented in RFC3339 form and is in UTC.\n\n"
    "Populated by the system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
"""``ObjectMeta.creationTimestamp``'s swagger doc: the description of Age columns."""


@dataclass(frozen=True)
class PrinterColumn:
    """One column of ``kubectl get`` output (a CRD ``additionalPrinterColumns`` entry).

    ``type`` is the OpenAPI type (``string``, ``integer``, ``number``, ``boolean``, ``date``);
    ``priority`` > 0 shows only with ``-o wide``.
    """

    name: str
    type: str
    json_path: str
    priority: int = 0
    description: str = ""
    format: str = ""


@dataclass(frozen=True)
class ResourceType:
    """One served group/version/resource and everything clients learn about it.

    ``printer_columns`` are the columns after the leading Name column; built-ins whose kube
    printer does not start with Name (Event) set ``name_column_first=False`` and list Name
    themselves. ``schema`` is the ``openAPIV3Schema`` of the whole object.
    """

    group: str
    version: str
    plural: str
    singular: str
    kind: str
    list_kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[str, ...] = ()
    printer_columns: tuple[PrinterColumn, ...] = ()
    schema: Mapping[str, Any] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, hash=False
    )
    is_custom: bool = True
    selectable_fields: tuple[str, ...] = ()
    name_column_first: bool = True

    def __post_init__(self) -> None:
        for attr in ("version", "plural", "kind", "list_kind"):
            if not getattr(self, attr):
                raise ValueError(f"ResourceType.{attr} must be non-empty")
        if self.plural != self.plural.lower():
            raise ValueError(f"plural must be lowercase, got {self.plural!r}")
        for attr in ("short_names", "categories", "verbs", "subresources", "printer_columns"):
            if not isinstance(getattr(self, attr), tuple):
                raise TypeError(f"ResourceType.{attr} must be a tuple")

    @property
    def api_version(self) -> str:
        """``apiVersion`` of objects: ``v1`` for core, ``group/version`` otherwise."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        """Same as :attr:`api_version`; the name discovery uses."""
        return self.api_version

    @property
    def group_resource(self) -> str:
        """``plural.group`` (``certificates.cert-manager.io``), or ``plural`` for core."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def group_kind(self) -> str:
        """``Kind.group`` (``Certificate.cert-manager.io``), or ``Kind`` for core."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def has_status(self) -> bool:
        """Whether a ``status`` subresource splits spec and status writes."""
        return "status" in self.subresources

    @property
    def url_prefix(self) -> str:
        """``/api/v1`` for core, ``/apis/{group}/{version}`` otherwise."""
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    @classmethod
    def from_crd(cls, crd: Mapping[str, Any]) -> list[ResourceType]:
        """Read the served versions of an apiextensions.k8s.io/v1 CustomResourceDefinition.

        Args:
            crd: the CRD manifest as a dict.

        Returns:
            One ResourceType per served version, storage version first, then in the order the
            CRD lists them.

        Raises:
            ValueError: the manifest is not a v1 CRD or lacks a required field.
        """
        if crd.get("kind") != "CustomResourceDefinition":
            raise ValueError(f"expected kind CustomResourceDefinition, got {crd.get('kind')!r}")
        if crd.get("apiVersion") != "apiextensions.k8s.io/v1":
            raise ValueError(f"expected apiextensions.k8s.io/v1, got {crd.get('apiVersion')!r}")
        spec = crd.get("spec")
        if not isinstance(spec, Mapping):
            raise ValueError("CustomResourceDefinition has no spec")
        names = spec.get("names") or {}
        group = spec.get("group")
        plural = names.get("plural")
        kind = names.get("kind")
        if not group or not plural or not kind:
            raise ValueError("CustomResourceDefinition needs spec.group, names.plural, names.kind")
        scope = spec.get("scope", "Namespaced")
        if scope not in ("Namespaced", "Cluster"):
            raise ValueError(f"spec.scope must be Namespaced or Cluster, got {scope!r}")
        versions = [v for v in spec.get("versions") or () if v.get("served", True)]
        versions.sort(key=lambda v: not v.get("storage", False))
        out: list[ResourceType] = []
        for ver in versions:
            columns = tuple(
                PrinterColumn(
                    name=col["name"],
                    type=col.get("type", "string"),
                    json_path=col["jsonPath"],
                    priority=int(col.get("priority", 0)),
                    description=col.get("description", ""),
                    format=col.get("format", ""),
                )
                for col in ver.get("additionalPrinterColumns") or ()
            )
            schema = (ver.get("schema") or {}).get("openAPIV3Schema") or {
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": True,
            }
            subresources = tuple(sorted((ver.get("subresources") or {}).keys()))
            out.append(
                cls(
                    group=group,
                    version=ver["name"],
                    plural=plural,
                    singular=names.get("singular") or kind.lower(),
                    kind=kind,
                    list_kind=names.get("listKind") or f"{kind}List",
                    namespaced=scope == "Namespaced",
                    short_names=tuple(names.get("shortNames") or ()),
                    categories=tuple(names.get("categories") or ()),
                    subresources=subresources,
                    printer_columns=columns,
                    schema=schema,
                    is_custom=True,
                    selectable_fields=tuple(
                        f["jsonPath"].lstrip(".") for f in ver.get("selectableFields") or ()
                    ),
                )
            )
        return out


_VERSION_RANK = {"": 0, "beta": 1, "alpha": 2}


def version_priority(version: str) -> tuple[int, int, int, int, str]:
    """Sort key ordering versions as Kubernetes does (v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > x).

    Smaller sorts first; non-kube-like versions sort last, alphabetically.
    """
    match = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if match is None:
        return (1, 0, 0, 0, version)
    major, stage, minor = match.group(1), match.group(2) or "", match.group(3) or "0"
    return (0, _VERSION_RANK[stage], -int(major), -int(minor), "")


class ResourceRegistry:
    """Every served resource, looked up by URL parts, kind or short name.

    Groups keep their registration order (the core group is always first in discovery); versions
    within a group are ordered by Kubernetes version priority.
    """

    def __init__(self, types: Sequence[ResourceType] = ()) -> None:
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        self._group_order: list[str] = []
        self.generation = 0
        for rt in types:
            self.register(rt)

    def register(self, rt: ResourceType) -> None:
        """Add or replace a resource type (keyed by group, version, plural)."""
        if rt.group not in self._group_order:
            self._group_order.append(rt.group)
        self._types[(rt.group, rt.version, rt.plural)] = rt
        self.generation += 1

    def register_crd(self, crd: Mapping[str, Any]) -> list[ResourceType]:
        """Register (or re-register) every served version of a CRD manifest.

        Versions the CRD no longer serves are removed.

        Raises:
            ValueError: the manifest is not a usable v1 CRD.
        """
        types = ResourceType.from_crd(crd)
        group, plural = crd["spec"]["group"], crd["spec"]["names"]["plural"]
        self.remove(group, plural)
        for rt in types:
            self.register(rt)
        return types

    def remove(self, group: str, plural: str) -> None:
        """Forget every version of ``plural.group`` (a deleted CRD)."""
        for key in [k for k in self._types if k[0] == group and k[2] == plural]:
            del self._types[key]
            self.generation += 1
        if not any(k[0] == group for k in self._types) and group in self._group_order:
            self._group_order.remove(group)

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        """The resource served at ``{prefix}/{plural}``, or ``None``."""
        return self._types.get((group, version, plural))

    def by_kind(self, group: str, kind: str, version: str | None = None) -> ResourceType | None:
        """The resource of a kind; with no version, the preferred version's."""
        for gv_version in self.versions(group):
            if version is not None and gv_version != version:
                continue
            for rt in self.resources(group, gv_version):
                if rt.kind == kind:
                    return rt
        return None

    def by_short_name(self, short_name: str) -> list[ResourceType]:
        """Preferred-version resources whose short names include ``short_name``."""
        return [rt for rt in self.preferred() if short_name in rt.short_names]

    def by_category(self, category: str) -> list[ResourceType]:
        """Preferred-version resources in a category (``kubectl get cert-manager``)."""
        return [rt for rt in self.preferred() if category in rt.categories]

    def groups(self) -> list[str]:
        """Served group names, core (``""``) first, then in registration order."""
        order = sorted(self._group_order, key=lambda g: g != "")
        return [g for g in order if any(k[0] == g for k in self._types)]

    def versions(self, group: str) -> list[str]:
        """Served versions of a group, most preferred first."""
        found = {k[1] for k in self._types if k[0] == group}
        return sorted(found, key=version_priority)

    def preferred_version(self, group: str) -> str | None:
        """The version clients should use for a group, or ``None`` if it is not served."""
        versions = self.versions(group)
        return versions[0] if versions else None

    def resources(self, group: str, version: str) -> list[ResourceType]:
        """The resources of one group-version, in registration order."""
        return [rt for k, rt in self._types.items() if k[0] == group and k[1] == version]

    def preferred(self) -> list[ResourceType]:
        """One entry per resource: its group's preferred version."""
        out: list[ResourceType] = []
        for group in self.groups():
            version = self.preferred_version(group)
            assert version is not None
            out.extend(self.resources(group, version))
        return out

    def __iter__(self) -> Iterator[ResourceType]:
        for group in self.groups():
            for version in self.versions(group):
                yield from self.resources(group, version)

    def __len__(self) -> int:
        return len(self._types)

    def __contains__(self, rt: object) -> bool:
        return isinstance(rt, ResourceType) and (rt.group, rt.version, rt.plural) in self._types


# --- built-in types -------------------------------------------------------------------------

_PRESERVE: Final[JSONObject] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
_STR: Final[JSONObject] = {"type": "string"}
_TIME: Final[JSONObject] = {"type": "string", "format": "date-time"}
_INT32: Final[JSONObject] = {"type": "integer", "format": "int32"}
_STR_MAP: Final[JSONObject] = {"type": "object", "additionalProperties": {"type": "string"}}
_BYTES_MAP: Final[JSONObject] = {
    "type": "object",
    "additionalProperties": {"type": "string", "format": "byte"},
}
_STR_LIST: Final[JSONObject] = {"type": "array", "items": {"type": "string"}}


def _object_schema(description: str, **properties: JSONObject) -> JSONObject:
    return {
        "type": "object",
        "description": description,
        "properties": {
            "apiVersion": {
                "type": "string",
                "description": "APIVersion defines the versioned schema of this representation "
                "of an object.",
            },
            "kind": {
                "type": "string",
                "description": "Kind is a string value representing the REST resource this object "
                "represents.",
            },
            "metadata": {"type": "object"},
            **properties,
        },
    }


def _age() -> PrinterColumn:
    return PrinterColumn(
        "Age", "string", ".metadata.creationTimestamp", 0, CREATION_TIMESTAMP_DESCRIPTION
    )


_OBJECT_REFERENCE: Final[JSONObject] = {
    "type": "object",
    "properties": {
        k: _STR
        for k in ("apiVersion", "fieldPath", "kind", "name", "namespace", "resourceVersion", "uid")
    },
}

_POLICY_RULE: Final[JSONObject] = {
    "type": "object",
    "required": ["verbs"],
    "properties": {
        "apiGroups": _STR_LIST,
        "nonResourceURLs": _STR_LIST,
        "resourceNames": _STR_LIST,
        "resources": _STR_LIST,
        "verbs": _STR_LIST,
    },
}

_SUBJECT: Final[JSONObject] = {
    "type": "object",
    "required": ["kind", "name"],
    "properties": {"apiGroup": _STR, "kind": _STR, "name": _STR, "namespace": _STR},
}

_ROLE_REF: Final[JSONObject] = {
    "type": "object",
    "required": ["apiGroup", "kind", "name"],
    "properties": {"apiGroup": _STR, "kind": _STR, "name": _STR},
}


def _rbac(kind: str, plural: str, namespaced: bool) -> ResourceType:
    extra_cols: tuple[PrinterColumn, ...]
    if kind.endswith("Binding"):
        schema = _object_schema(
            f"{kind} references a role and binds it to subjects.",
            subjects={"type": "array", "items": _SUBJECT},
            roleRef=_ROLE_REF,
        )
        schema["required"] = ["roleRef"]
        extra_cols = (
            PrinterColumn("Role", "string", ".roleRef.name", 0, "RoleRef can reference a Role."),
            _age(),
            PrinterColumn("Users", "string", ".subjects", 1, "Users in the binding"),
            PrinterColumn("Groups", "string", ".subjects", 1, "Groups in the binding"),
            PrinterColumn(
                "ServiceAccounts", "string", ".subjects", 1, "ServiceAccounts in the binding"
            ),
        )
    else:
        props: dict[str, JSONObject] = {"rules": {"type": "array", "items": _POLICY_RULE}}
        if kind == "ClusterRole":
            props["aggregationRule"] = _PRESERVE
        schema = _object_schema(f"{kind} is a logical grouping of PolicyRules.", **props)
        extra_cols = (
            PrinterColumn(
                "Created At",
                "date",
                ".metadata.creationTimestamp",
                0,
                CREATION_TIMESTAMP_DESCRIPTION,
            ),
        )
    return ResourceType(
        group="rbac.authorization.k8s.io",
        version="v1",
        plural=plural,
        singular=kind.lower(),
        kind=kind,
        list_kind=f"{kind}List",
        namespaced=namespaced,
        printer_columns=extra_cols,
        schema=schema,
        is_custom=False,
    )


def builtin_types() -> list[ResourceType]:
    """The compiled-in resource types, in discovery order."""
    return [
        ResourceType(
            group="",
            version="v1",
            plural="namespaces",
            singular="namespace",
            kind="Namespace",
            list_kind="NamespaceList",
            namespaced=False,
            short_names=("ns",),
            verbs=NAMESPACE_VERBS,
            subresources=("status",),
            printer_columns=(
                PrinterColumn(
                    "Status", "string", ".status.phase", 0, "The status of the namespace"
                ),
                _age(),
            ),
            schema=_object_schema(
                "Namespace provides a scope for Names. Use of multiple namespaces is optional.",
                spec={"type": "object", "properties": {"finalizers": _STR_LIST}},
                status={
                    "type": "object",
                    "properties": {
                        "phase": _STR,
                        "conditions": {"type": "array", "items": _PRESERVE},
                    },
                },
            ),
            is_custom=False,
        ),
        ResourceType(
            group="",
            version="v1",
            plural="secrets",
            singular="secret",
            kind="Secret",
            list_kind="SecretList",
            namespaced=True,
            printer_columns=(
                PrinterColumn(
                    "Type",
                    "string",
                    ".type",
                    0,
                    "Used to facilitate programmatic handling of secret data.",
                ),
                PrinterColumn(
                    "Data",
                    "string",
                    ".data",
                    0,
                    "Data contains the secret data. Each key must consist of "
                    "alphanumeric characters, '-', '_' or '.'.",
                ),
                _age(),
            ),
            schema=_object_schema(
                "Secret holds secret data of a certain type. The total bytes of the values in "
                "the Data field must be less than MaxSecretSize bytes.",
                data=_BYTES_MAP,
                stringData=_STR_MAP,
                type=_STR,
                immutable={"type": "boolean"},
            ),
            is_custom=False,
        ),
        ResourceType(
            group="",
            version="v1",
            plural="configmaps",
            singular="configmap",
            kind="ConfigMap",
            list_kind="ConfigMapList",
            namespaced=True,
            short_names=("cm",),
            printer_columns=(
                PrinterColumn(
                    "Data", "string", ".data", 0, "Data contains the configuration data."
                ),
                _age(),
            ),
            schema=_object_schema(
                "ConfigMap holds configuration data for pods to consume.",
                data=_STR_MAP,
                binaryData=_BYTES_MAP,
                immutable={"type": "boolean"},
            ),
            is_custom=False,
        ),
        ResourceType(
            group="",
            version="v1",
            plural="events",
            singular="event",
            kind="Event",
            list_kind="EventList",
            namespaced=True,
            short_names=("ev",),
            printer_columns=(
                PrinterColumn(
                    "Last Seen",
                    "string",
                    ".lastTimestamp",
                    0,
                    "The time at which the most recent occurrence of this event was recorded.",
                ),
                PrinterColumn(
                    "Type",
                    "string",
                    ".type",
                    0,
                    "Type of this event (Normal, Warning), new types could be added in the future",
                ),
                PrinterColumn(
                    "Reason",
                    "string",
                    ".reason",
                    0,
                    "This should be a short, machine understandable string that gives "
                    "the reason for the transition into the object's current status.",
                ),
                PrinterColumn(
                    "Object", "string", ".involvedObject", 0, "The object that this event is about."
                ),
                PrinterColumn(
                    "Subobject",
                    "string",
                    ".involvedObject.fieldPath",
                    1,
                    "If referring to a piece of an object instead of an entire "
                    "object, this string should contain a valid JSON/Go field access "
                    "statement.",
                ),
                PrinterColumn(
                    "Source",
                    "string",
                    ".source",
                    1,
                    "The component reporting this event. Should be a short machine "
                    "understandable string.",
                ),
                PrinterColumn(
                    "Message",
                    "string",
                    ".message",
                    0,
                    "A human-readable description of the status of this operation.",
                ),
                PrinterColumn(
                    "First Seen",
                    "string",
                    ".firstTimestamp",
                    1,
                    "The time at which the event was first recorded. (Time of server "
                    "receipt is in TypeMeta.)",
                ),
                PrinterColumn(
                    "Count", "string", ".count", 1, "The number of times this event has occurred."
                ),
                PrinterColumn("Name", "string", ".metadata.name", 1, NAME_DESCRIPTION, "name"),
            ),
            name_column_first=False,
            schema=_object_schema(
                "Event is a report of an event somewhere in the cluster.",
                involvedObject=_OBJECT_REFERENCE,
                reason=_STR,
                message=_STR,
                source={"type": "object", "properties": {"component": _STR, "host": _STR}},
                firstTimestamp=_TIME,
                lastTimestamp=_TIME,
                count=_INT32,
                type=_STR,
                eventTime={"type": "string", "format": "date-time"},
                series=_PRESERVE,
                action=_STR,
                related=_OBJECT_REFERENCE,
                reportingComponent=_STR,
                reportingInstance=_STR,
            ),
            is_custom=False,
        ),
        ResourceType(
            group="coordination.k8s.io",
            version="v1",
            plural="leases",
            singular="lease",
            kind="Lease",
            list_kind="LeaseList",
            namespaced=True,
            printer_columns=(
                PrinterColumn(
                    "Holder",
                    "string",
                    ".spec.holderIdentity",
                    0,
                    "holderIdentity contains the identity of the holder of a current lease.",
                ),
                _age(),
            ),
            schema=_object_schema(
                "Lease defines a lease concept.",
                spec={
                    "type": "object",
                    "properties": {
                        "holderIdentity": _STR,
                        "leaseDurationSeconds": _INT32,
                        "acquireTime": _TIME,
                        "renewTime": _TIME,
                        "leaseTransitions": _INT32,
                        "strategy": _STR,
                        "preferredHolder": _STR,
                    },
                },
            ),
            is_custom=False,
        ),
        # Pods and Services: the ACME HTTP-01 solver's objects in cluster mode (stored only;
        # no kubelet or service proxy here, so a NodePort is never allocated).
        ResourceType(
            group="",
            version="v1",
            plural="pods",
            singular="pod",
            kind="Pod",
            list_kind="PodList",
            namespaced=True,
            short_names=("po",),
            categories=("all",),
            subresources=("status",),
            printer_columns=(
                PrinterColumn("Status", "string", ".status.phase", 0, "The phase of the pod"),
                PrinterColumn("Node", "string", ".spec.nodeName", 1, "The node of the pod"),
                _age(),
            ),
            schema=_object_schema(
                "Pod is a collection of containers that can run on a host.",
                spec=_PRESERVE,
                status=_PRESERVE,
            ),
            is_custom=False,
        ),
        ResourceType(
            group="",
            version="v1",
            plural="services",
            singular="service",
            kind="Service",
            list_kind="ServiceList",
            namespaced=True,
            short_names=("svc",),
            categories=("all",),
            subresources=("status",),
            printer_columns=(
                PrinterColumn("Type", "string", ".spec.type", 0, "The type of the service"),
                PrinterColumn(
                    "Cluster-IP", "string", ".spec.clusterIP", 0, "The IP of the service"
                ),
                PrinterColumn("Ports", "string", ".spec.ports[*].port", 0, "The service's ports"),
                _age(),
            ),
            schema=_object_schema(
                "Service is a named abstraction of software service (for example, mysql) "
                "consisting of local port (for example 3306) that the proxy listens on, and the "
                "selector that determines which pods will answer requests sent through the proxy.",
                spec=_PRESERVE,
                status=_PRESERVE,
            ),
            is_custom=False,
        ),
        _rbac("ClusterRole", "clusterroles", namespaced=False),
        _rbac("ClusterRoleBinding", "clusterrolebindings", namespaced=False),
        _rbac("Role", "roles", namespaced=True),
        _rbac("RoleBinding", "rolebindings", namespaced=True),
        ResourceType(
            group="networking.k8s.io",
            version="v1",
            plural="ingresses",
            singular="ingress",
            kind="Ingress",
            list_kind="IngressList",
            namespaced=True,
            short_names=("ing",),
            subresources=("status",),
            printer_columns=(
                PrinterColumn(
                    "Class",
                    "string",
                    ".spec.ingressClassName",
                    0,
                    "The name of the IngressClass resource.",
                ),
                PrinterColumn(
                    "Hosts",
                    "string",
                    ".spec.rules",
                    0,
                    "Hosts that incoming requests are matched against before the ingress rule",
                ),
                PrinterColumn(
                    "Address",
                    "string",
                    ".status.loadBalancer.ingress",
                    0,
                    "Address is a list containing ingress points for the load-balancer",
                ),
                PrinterColumn(
                    "Ports", "string", ".spec.tls", 0, "Ports of TLS configurations that open"
                ),
                _age(),
            ),
            schema=_object_schema(
                "Ingress is a collection of rules that allow inbound connections to reach the "
                "endpoints defined by a backend.",
                spec={
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                    "properties": {
                        "ingressClassName": _STR,
                        "defaultBackend": _PRESERVE,
                        "rules": {"type": "array", "items": _PRESERVE},
                        "tls": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {"hosts": _STR_LIST, "secretName": _STR},
                            },
                        },
                    },
                },
                status=_PRESERVE,
            ),
            is_custom=False,
        ),
        ResourceType(
            group="networking.k8s.io",
            version="v1",
            plural="ingressclasses",
            singular="ingressclass",
            kind="IngressClass",
            list_kind="IngressClassList",
            namespaced=False,
            printer_columns=(
                PrinterColumn(
                    "Controller",
                    "string",
                    ".spec.controller",
                    0,
                    "Controller that is responsible for handling this class",
                ),
                PrinterColumn(
                    "Parameters",
                    "string",
                    ".spec.parameters",
                    0,
                    "A reference to a resource with additional parameters",
                ),
                _age(),
            ),
            schema=_object_schema(
                "IngressClass represents the class of the Ingress, referenced by the Ingress Spec.",
                spec={
                    "type": "object",
                    "properties": {"controller": _STR, "parameters": _PRESERVE},
                },
            ),
            is_custom=False,
        ),
        ResourceType(
            group="gateway.networking.k8s.io",
            version="v1",
            plural="gateways",
            singular="gateway",
            kind="Gateway",
            list_kind="GatewayList",
            namespaced=True,
            short_names=("gtw",),
            categories=("gateway-api",),
            subresources=("status",),
            printer_columns=(
                PrinterColumn("Class", "string", ".spec.gatewayClassName"),
                PrinterColumn("Address", "string", ".status.addresses[*].value"),
                PrinterColumn(
                    "Programmed", "string", '.status.conditions[?(@.type=="Programmed")].status'
                ),
                PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
            ),
            schema=_object_schema(
                "Gateway represents an instance of a service-traffic handling infrastructure by "
                "binding Listeners to a set of IP addresses.",
                spec={
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                    "properties": {
                        "gatewayClassName": _STR,
                        "listeners": {"type": "array", "items": _PRESERVE},
                    },
                },
                status=_PRESERVE,
            ),
            # A CRD on every real cluster: strategic merge patch is refused.
            is_custom=True,
        ),
        # Gateway API HTTPRoute (the ACME gatewayHTTPRoute solver's resource) and Istio's Gateway
        # (a third certificate-shim source): CRDs on a real cluster, declared here with the fields
        # the controllers read. Applying the upstream CRDs replaces these declarations.
        ResourceType(
            group="gateway.networking.k8s.io",
            version="v1",
            plural="httproutes",
            singular="httproute",
            kind="HTTPRoute",
            list_kind="HTTPRouteList",
            namespaced=True,
            categories=("gateway-api",),
            subresources=("status",),
            printer_columns=(
                PrinterColumn("Hostnames", "string", ".spec.hostnames"),
                PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
            ),
            schema=_object_schema(
                "HTTPRoute provides a way to route HTTP requests.",
                spec={
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                    "properties": {
                        "parentRefs": {"type": "array", "items": _PRESERVE},
                        "hostnames": _STR_LIST,
                        "rules": {"type": "array", "items": _PRESERVE},
                    },
                },
                status=_PRESERVE,
            ),
            is_custom=True,
        ),
        ResourceType(
            group="networking.istio.io",
            version="v1",
            plural="gateways",
            singular="gateway",
            kind="Gateway",
            list_kind="GatewayList",
            namespaced=True,
            short_names=("gw",),
            categories=("istio-io", "networking-istio-io"),
            subresources=("status",),
            printer_columns=(PrinterColumn("Age", "date", ".metadata.creationTimestamp"),),
            schema=_object_schema(
                "Configuration affecting edge load balancer. See more details at: "
                "https://istio.io/docs/reference/config/networking/gateway.html",
                spec={
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                    "properties": {
                        "selector": _STR_MAP,
                        "servers": {"type": "array", "items": _PRESERVE},
                    },
                },
                status=_PRESERVE,
            ),
            is_custom=True,
        ),
        ResourceType(
            group="apiextensions.k8s.io",
            version="v1",
            plural="customresourcedefinitions",
            singular="customresourcedefinition",
            kind="CustomResourceDefinition",
            list_kind="CustomResourceDefinitionList",
            namespaced=False,
            short_names=("crd", "crds"),
            categories=("api-extensions",),
            subresources=("status",),
            printer_columns=(
                PrinterColumn(
                    "Created At",
                    "date",
                    ".metadata.creationTimestamp",
                    0,
                    CREATION_TIMESTAMP_DESCRIPTION,
                ),
            ),
            schema=_object_schema(
                "CustomResourceDefinition represents a resource that should be exposed on the "
                "API server.",
                spec={
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                    "required": ["group", "names", "scope", "versions"],
                    "properties": {
                        "group": _STR,
                        "names": _PRESERVE,
                        "scope": _STR,
                        "versions": {"type": "array", "items": _PRESERVE},
                        "conversion": _PRESERVE,
                        "preserveUnknownFields": {"type": "boolean"},
                    },
                },
                status=_PRESERVE,
            ),
            is_custom=False,
        ),
    ]


def default_registry(crds: Sequence[Mapping[str, Any]] = ()) -> ResourceRegistry:
    """A registry with the built-in types plus the given CRD manifests.

    Raises:
        ValueError: a manifest is not a usable v1 CRD.
    """
    registry = ResourceRegistry(builtin_types())
    for crd in crds:
        registry.register_crd(crd)
    return registry
