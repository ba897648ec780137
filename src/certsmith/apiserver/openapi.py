"""OpenAPI v3 documents: the ``/openapi/v3`` index and one document per group-version.

Without these, ``kubectl apply``/``create -f``/``replace``/``edit`` fail under the default
``--validate=strict`` (K8S-API §1.1, §3.5). kubectl's query-param verifier looks, in the GV
document, for a **PATCH operation** whose ``x-kubernetes-group-version-kind`` (a single object)
names the kind and whose parameters include the ``fieldValidation`` query parameter; finding it,
kubectl leaves validation to the server. ``kubectl explain`` walks ``components.schemas``, finding
the kind through the schema's ``x-kubernetes-group-version-kind`` (a **list**).

Decisions:

* Patch operations never list ``application/strategic-merge-patch+json``. For custom resources it
  is not supported; for built-ins, leaving it out makes kubectl compute SMP from its compiled-in
  types instead of needing ``x-kubernetes-patch-merge-key`` annotations here.
* Schema names follow the apiserver: ``io.k8s.api.core.v1.Secret`` for built-ins and the reversed
  group for CRDs (``io.cert-manager.v1.Certificate``).
* The ``hash`` in each ``serverRelativeURL`` is the SHA-512 of the document, so it changes
  whenever the content does (kubectl HTTP-caches documents by URL).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final

from certsmith.api.meta import JSONObject
from certsmith.apiserver.resources import ResourceRegistry, ResourceType

META: Final = "io.k8s.apimachinery.pkg.apis.meta.v1"
OBJECT_META_REF: Final = f"#/components/schemas/{META}.ObjectMeta"
LIST_META_REF: Final = f"#/components/schemas/{META}.ListMeta"
PATCH_REF: Final = f"#/components/schemas/{META}.Patch"
STATUS_REF: Final = f"#/components/schemas/{META}.Status"
DELETE_OPTIONS_REF: Final = f"#/components/schemas/{META}.DeleteOptions"

PATCH_CONTENT_TYPES: Final = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
)
"""Patch media types advertised for every kind (strategic merge deliberately absent)."""

_BUILTIN_PREFIXES: Final = {
    "": "io.k8s.api.core",
    "coordination.k8s.io": "io.k8s.api.coordination",
    "rbac.authorization.k8s.io": "io.k8s.api.rbac",
    "networking.k8s.io": "io.k8s.api.networking",
    "apiextensions.k8s.io": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions",
}


def schema_name(rt: ResourceType, *, list_kind: bool = False) -> str:
    """The ``components.schemas`` key of a kind, as the apiserver names it."""
    prefix = _BUILTIN_PREFIXES.get(rt.group)
    if prefix is None:
        prefix = ".".join(reversed(rt.group.split(".")))
    return f"{prefix}.{rt.version}.{rt.list_kind if list_kind else rt.kind}"


def gv_path(group: str, version: str) -> str:
    """The index key of a group-version: ``api/v1`` or ``apis/{group}/{version}``."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


def document_hash(document: Mapping[str, Any]) -> str:
    """Upper-case hex SHA-512 of the canonical JSON of a document."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha512(canonical.encode()).hexdigest().upper()


def _ref(target: str) -> JSONObject:
    return {"$ref": target}


def _str(description: str) -> JSONObject:
    return {"type": "string", "description": description}


_TIME: Final[JSONObject] = {"type": "string", "format": "date-time"}


def meta_schemas() -> dict[str, JSONObject]:
    """The apimachinery schemas every GV document references (ObjectMeta and friends)."""
    owner_reference: JSONObject = {
        "type": "object",
        "description": "OwnerReference contains enough information to let you identify an owning "
        "object. An owning object must be in the same namespace as the dependent, or be "
        "cluster-scoped, so there is no namespace field.",
        "required": ["apiVersion", "kind", "name", "uid"],
        "properties": {
            "apiVersion": _str("API version of the referent."),
            "kind": _str("Kind of the referent."),
            "name": _str("Name of the referent."),
            "uid": _str("UID of the referent."),
            "controller": {
                "type": "boolean",
                "description": "If true, this reference points to the managing controller.",
            },
            "blockOwnerDeletion": {
                "type": "boolean",
                "description": "If true, AND if the owner "
                'has the "foregroundDeletion" finalizer, then the owner '
                "cannot be deleted from the key-value store until this "
                "reference is removed.",
            },
        },
        "x-kubernetes-map-type": "atomic",
    }
    managed_fields_entry: JSONObject = {
        "type": "object",
        "description": "ManagedFieldsEntry is a workflow-id, a FieldSet and the group version of "
        "the resource that the fieldset applies to.",
        "properties": {
            "apiVersion": _str(
                "APIVersion defines the version of this resource that this field set applies to."
            ),
            "fieldsType": _str(
                "FieldsType is the discriminator for the different fields format "
                "and version. There is currently only one possible value: "
                '"FieldsV1"'
            ),
            "fieldsV1": {
                "type": "object",
                "description": "FieldsV1 holds the first JSON version "
                'format as described in the "FieldsV1" type.',
            },
            "manager": _str("Manager is an identifier of the workflow managing these fields."),
            "operation": _str(
                "Operation is the type of operation which lead to this "
                "ManagedFieldsEntry being created. The only valid values for this "
                "field are 'Apply' and 'Update'."
            ),
            "subresource": _str(
                "Subresource is the name of the subresource used to update "
                "that object, or empty string if the object was updated through "
                "the main resource."
            ),
            "time": {
                **_TIME,
                "description": "Time is the timestamp of when the ManagedFields entry was added.",
            },
        },
    }
    string_map: JSONObject = {"type": "object", "additionalProperties": {"type": "string"}}
    object_meta: JSONObject = {
        "type": "object",
        "description": "ObjectMeta is metadata that all persisted resources must have, which "
        "includes all objects users must create.",
        "properties": {
            "annotations": {
                **string_map,
                "description": "Annotations is an unstructured "
                "key value map stored with a resource that may be set by external "
                "tools to store and retrieve arbitrary metadata.",
            },
            "creationTimestamp": {
                **_TIME,
                "description": "CreationTimestamp is a timestamp "
                "representing the server time when this object was created.",
            },
            "deletionGracePeriodSeconds": {
                "type": "integer",
                "format": "int64",
                "description": "Number of seconds allowed for this object to "
                "gracefully terminate before it will be removed from "
                "the system.",
            },
            "deletionTimestamp": {
                **_TIME,
                "description": "DeletionTimestamp is RFC 3339 date "
                "and time at which this resource will be deleted.",
            },
            "finalizers": {
                "type": "array",
                "items": {"type": "string", "default": ""},
                "description": "Must be empty before the object is deleted from the registry.",
                "x-kubernetes-list-type": "set",
                "x-kubernetes-patch-strategy": "merge",
            },
            "generateName": _str(
                "GenerateName is an optional prefix, used by the server, to "
                "generate a unique name ONLY IF the Name field has not been "
                "provided."
            ),
            "generation": {
                "type": "integer",
                "format": "int64",
                "description": "A sequence "
                "number representing a specific generation of the desired state.",
            },
            "labels": {
                **string_map,
                "description": "Map of string keys and values that can be "
                "used to organize and categorize (scope and select) objects.",
            },
            "managedFields": {
                "type": "array",
                "items": {"$ref": f"#/components/schemas/{META}.ManagedFieldsEntry"},
                "description": "ManagedFields maps workflow-id and version to the set of fields "
                "that are managed by that workflow.",
                "x-kubernetes-list-type": "atomic",
            },
            "name": _str("Name must be unique within a namespace."),
            "namespace": _str("Namespace defines the space within which each name must be unique."),
            "ownerReferences": {
                "type": "array",
                "items": {"$ref": f"#/components/schemas/{META}.OwnerReference"},
                "description": "List of objects depended by this object.",
                "x-kubernetes-list-map-keys": ["uid"],
                "x-kubernetes-list-type": "map",
                "x-kubernetes-patch-merge-key": "uid",
                "x-kubernetes-patch-strategy": "merge",
            },
            "resourceVersion": _str(
                "An opaque value that represents the internal version of this object."
            ),
            "selfLink": _str(
                "Deprecated: selfLink is a legacy read-only field that is no longer "
                "populated by the system."
            ),
            "uid": _str("UID is the unique in time and space value for this object."),
        },
    }
    list_meta: JSONObject = {
        "type": "object",
        "description": "ListMeta describes metadata that synthetic resources must have, "
        "including lists and various status objects.",
        "properties": {
            "continue": _str(
                "continue may be set if the user set a limit on the number of items returned."
            ),
            "remainingItemCount": {"type": "integer", "format": "int64"},
            "resourceVersion": _str(
                "String that identifies the server's internal version of this object."
            ),
            "selfLink": _str("Deprecated."),
        },
    }
    status: JSONObject = {
        "type": "object",
        "description": "Status is a return value for calls that don't return other objects.",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": _ref(LIST_META_REF),
            "status": {"type": "string"},
            "message": {"type": "string"},
            "reason": {"type": "string"},
            "details": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "code": {"type": "integer", "format": "int32"},
        },
    }
    delete_options: JSONObject = {
        "type": "object",
        "description": "DeleteOptions may be provided when deleting an API object.",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "dryRun": {"type": "array", "items": {"type": "string"}},
            "gracePeriodSeconds": {"type": "integer", "format": "int64"},
            "orphanDependents": {"type": "boolean"},
            "preconditions": {
                "type": "object",
                "properties": {"resourceVersion": {"type": "string"}, "uid": {"type": "string"}},
            },
            "propagationPolicy": {"type": "string"},
        },
    }
    return {
        f"{META}.DeleteOptions": delete_options,
        f"{META}.ListMeta": list_meta,
        f"{META}.ManagedFieldsEntry": managed_fields_entry,
        f"{META}.ObjectMeta": object_meta,
        f"{META}.OwnerReference": owner_reference,
        f"{META}.Patch": {
            "type": "object",
            "description": "Patch is provided to give a concrete name and type to the "
            "Kubernetes PATCH request body.",
        },
        f"{META}.Status": status,
    }


def _gvk(rt: ResourceType, kind: str | None = None) -> JSONObject:
    return {"group": rt.group, "version": rt.version, "kind": kind or rt.kind}


def object_schema(rt: ResourceType) -> JSONObject:
    """A kind's schema for ``components.schemas``: metadata as an ObjectMeta ref, GVK list."""
    schema: JSONObject = copy.deepcopy(dict(rt.schema))
    schema.setdefault("type", "object")
    properties = schema.setdefault("properties", {})
    properties.setdefault("apiVersion", {"type": "string"})
    properties.setdefault("kind", {"type": "string"})
    properties["metadata"] = _ref(OBJECT_META_REF)
    schema["x-kubernetes-group-version-kind"] = [_gvk(rt)]
    return schema


def list_schema(rt: ResourceType) -> JSONObject:
    """The ``{Kind}List`` schema of a kind."""
    return {
        "type": "object",
        "description": f"{rt.list_kind} is a list of {rt.kind}",
        "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string"},
            "items": {"type": "array", "items": _ref(f"#/components/schemas/{schema_name(rt)}")},
            "kind": {"type": "string"},
            "metadata": _ref(LIST_META_REF),
        },
        "x-kubernetes-group-version-kind": [_gvk(rt, rt.list_kind)],
    }


def _query(name: str, type_: str = "string") -> JSONObject:
    return {"name": name, "in": "query", "schema": {"type": type_}, "uniqueItems": True}


def _path_param(name: str) -> JSONObject:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "uniqueItems": True,
    }


_WRITE_PARAMS: Final = ("dryRun", "fieldManager", "fieldValidation")
_LIST_PARAMS: Final = (
    ("allowWatchBookmarks", "boolean"),
    ("continue", "string"),
    ("fieldSelector", "string"),
    ("labelSelector", "string"),
    ("limit", "integer"),
    ("resourceVersion", "string"),
    ("resourceVersionMatch", "string"),
    ("sendInitialEvents", "boolean"),
    ("timeoutSeconds", "integer"),
    ("watch", "boolean"),
)


def _operation_id(verb: str, rt: ResourceType, suffix: str = "") -> str:
    group = "".join(part.capitalize() for part in rt.group.replace("-", ".").split(".") if part)
    scope = "Namespaced" if rt.namespaced and verb not in ("listForAllNamespaces",) else ""
    if verb == "listForAllNamespaces":
        return f"list{group or 'Core'}{rt.version.capitalize()}{rt.kind}ForAllNamespaces"
    return f"{verb}{group or 'Core'}{rt.version.capitalize()}{scope}{rt.kind}{suffix}"


def _response(ref: str, *codes: str) -> JSONObject:
    content = {
        media: {"schema": _ref(ref)}
        for media in ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")
    }
    return {code: {"description": _CODE_TEXT[code], "content": content} for code in codes}


_CODE_TEXT: Final = {"200": "OK", "201": "Created", "202": "Accepted"}


def _op(
    rt: ResourceType,
    verb: str,
    action: str,
    response_ref: str,
    *codes: str,
    params: tuple[JSONObject, ...] = (),
    body_ref: str | None = None,
    suffix: str = "",
    tag: str = "",
) -> JSONObject:
    op: JSONObject = {
        "tags": [tag or rt.group_version.replace("/", "_")],
        "description": f"{action} {rt.kind}",
        "operationId": _operation_id(verb, rt, suffix),
    }
    if params:
        op["parameters"] = list(params)
    if body_ref is not None:
        op["requestBody"] = {
            "required": True,
            "content": {
                media: {"schema": _ref(body_ref)}
                for media in ("application/json", "application/yaml")
            },
        }
    op["responses"] = _response(response_ref, *codes)
    op["x-kubernetes-action"] = action
    op["x-kubernetes-group-version-kind"] = _gvk(rt)
    return op


def _patch_op(rt: ResourceType, suffix: str = "") -> JSONObject:
    own_ref = f"#/components/schemas/{schema_name(rt)}"
    op = _op(
        rt,
        "patch",
        "patch",
        own_ref,
        "200",
        "201",
        params=(*(_query(p) for p in _WRITE_PARAMS), _query("force", "boolean")),
        suffix=suffix,
    )
    op["requestBody"] = {
        "required": True,
        "content": {media: {"schema": _ref(PATCH_REF)} for media in PATCH_CONTENT_TYPES},
    }
    # Keep the conventional key order: requestBody before responses.
    op["responses"] = op.pop("responses")
    op["x-kubernetes-action"] = op.pop("x-kubernetes-action")
    op["x-kubernetes-group-version-kind"] = op.pop("x-kubernetes-group-version-kind")
    return op


def _resource_paths(rt: ResourceType) -> dict[str, JSONObject]:
    own_ref = f"#/components/schemas/{schema_name(rt)}"
    list_ref = f"#/components/schemas/{schema_name(rt, list_kind=True)}"
    base = rt.url_prefix + ("/namespaces/{namespace}" if rt.namespaced else "")
    scope_params = [_path_param("namespace")] if rt.namespaced else []
    write_params = tuple(_query(p) for p in _WRITE_PARAMS)
    list_params = tuple(_query(n, t) for n, t in _LIST_PARAMS)
    paths: dict[str, JSONObject] = {}

    collection: JSONObject = {"parameters": [*scope_params, _query("pretty")]}
    if "list" in rt.verbs:
        collection["get"] = _op(rt, "list", "list", list_ref, "200", params=list_params)
    if "create" in rt.verbs:
        collection["post"] = _op(
            rt,
            "create",
            "post",
            own_ref,
            "200",
            "201",
            "202",
            params=write_params,
            body_ref=own_ref,
        )
    if "deletecollection" in rt.verbs:
        collection["delete"] = _op(
            rt,
            "deleteCollection",
            "deletecollection",
            STATUS_REF,
            "200",
            params=(*list_params, _query("dryRun")),
            body_ref=DELETE_OPTIONS_REF,
        )
    paths[f"{base}/{rt.plural}"] = collection

    item: JSONObject = {"parameters": [_path_param("name"), *scope_params, _query("pretty")]}
    if "get" in rt.verbs:
        item["get"] = _op(rt, "read", "get", own_ref, "200")
    if "update" in rt.verbs:
        item["put"] = _op(
            rt, "replace", "put", own_ref, "200", "201", params=write_params, body_ref=own_ref
        )
    if "patch" in rt.verbs:
        item["patch"] = _patch_op(rt)
    if "delete" in rt.verbs:
        item["delete"] = _op(
            rt,
            "delete",
            "delete",
            STATUS_REF,
            "200",
            "202",
            params=(
                _query("dryRun"),
                _query("gracePeriodSeconds", "integer"),
                _query("propagationPolicy"),
            ),
            body_ref=DELETE_OPTIONS_REF,
        )
    paths[f"{base}/{rt.plural}/{{name}}"] = item

    for sub in rt.subresources:
        suffix = sub.capitalize()
        paths[f"{base}/{rt.plural}/{{name}}/{sub}"] = {
            "parameters": [_path_param("name"), *scope_params, _query("pretty")],
            "get": _op(rt, "read", "get", own_ref, "200", suffix=suffix),
            "put": _op(
                rt,
                "replace",
                "put",
                own_ref,
                "200",
                "201",
                params=write_params,
                body_ref=own_ref,
                suffix=suffix,
            ),
            "patch": _patch_op(rt, suffix=suffix),
        }

    if rt.namespaced and "list" in rt.verbs:
        paths[f"{rt.url_prefix}/{rt.plural}"] = {
            "parameters": [_query("pretty")],
            "get": _op(rt, "listForAllNamespaces", "list", list_ref, "200", params=list_params),
        }
    return paths


def openapi_document(
    registry: ResourceRegistry, group: str, version: str, *, kube_version: str = "v1.32.0"
) -> JSONObject | None:
    """The OpenAPI 3 document of one group-version, or ``None`` when it is not served."""
    resources = registry.resources(group, version)
    if not resources:
        return None
    paths: dict[str, JSONObject] = {}
    schemas: dict[str, JSONObject] = {}
    for rt in resources:
        paths.update(_resource_paths(rt))
        schemas[schema_name(rt)] = object_schema(rt)
        schemas[schema_name(rt, list_kind=True)] = list_schema(rt)
    schemas.update(meta_schemas())
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": kube_version},
        "paths": paths,
        "components": {"schemas": dict(sorted(schemas.items()))},
    }


class OpenAPIV3:
    """Builds and caches the index and GV documents until the registry changes.

    Documents are rebuilt lazily when ``registry.generation`` moves (a CRD was added or
    removed), which also changes their hashes.
    """

    def __init__(self, registry: ResourceRegistry, *, kube_version: str = "v1.32.0") -> None:
        self._registry = registry
        self._kube_version = kube_version
        self._generation = -1
        self._documents: dict[str, tuple[JSONObject, str]] = {}

    def _refresh(self) -> None:
        if self._generation == self._registry.generation:
            return
        documents: dict[str, tuple[JSONObject, str]] = {}
        for group in self._registry.groups():
            for version in self._registry.versions(group):
                doc = openapi_document(
                    self._registry, group, version, kube_version=self._kube_version
                )
                assert doc is not None
                documents[gv_path(group, version)] = (doc, document_hash(doc))
        self._documents = documents
        self._generation = self._registry.generation

    def index(self) -> JSONObject:
        """The ``GET /openapi/v3`` body: every GV path with a hashed ``serverRelativeURL``."""
        self._refresh()
        return {
            "paths": {
                path: {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
                for path, (_, digest) in self._documents.items()
            }
        }

    def document(self, path: str) -> tuple[JSONObject, str] | None:
        """The document and its hash for ``api/v1`` or ``apis/{g}/{v}``, or ``None``."""
        self._refresh()
        return self._documents.get(path.strip("/"))
