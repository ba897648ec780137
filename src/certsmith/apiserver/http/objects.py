"""What the server does to an object on create, update and delete (K8S-API §4.5-§4.8).

These are the strategies of kube-apiserver and apiextensions-apiserver, as pure functions of
(old, new) so that the handlers stay thin and the rules are testable alone:

* create: ``uid``, ``creationTimestamp``, ``generation: 1`` for custom resources, the namespace
  from the URL, ``generateName``; ``status`` dropped when a status subresource exists; Secret
  ``stringData`` folded into ``data``; Namespace phase, finalizer and name label.
* update through the main endpoint keeps the stored ``status`` (status subresource) and the
  immutable metadata; ``generation`` moves iff something outside ``metadata``/``status``
  changed. Through ``/status`` only ``.status`` is taken from the request.
* finalizers: adding a new one to an object being deleted is 422; once the last one is gone
  the handler deletes the object.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import secrets
import uuid
from typing import Any, Final

from certsmith.api.errors import FieldError, InvalidError, StatusError
from certsmith.api.meta import JSONObject, format_time
from certsmith.apiserver.http.errors import bad_request
from certsmith.apiserver.resources import ResourceType

_NAME_CHARS: Final = "bcdfghjklmnpqrstvwxz2456789"
_IMMUTABLE_META: Final = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "namespace",
    "name",
    "selfLink",
)


def now_time() -> str:
    """The current time as ``metav1.Time`` prints it."""
    return format_time(dt.datetime.now(dt.UTC))


def random_suffix() -> str:
    """The 5 characters kube appends to a ``generateName``."""
    return "".join(secrets.choice(_NAME_CHARS) for _ in range(5))


def is_core_secret(rt: ResourceType) -> bool:
    """Whether ``rt`` is core/v1 Secret."""
    return rt.group == "" and rt.plural == "secrets"


def is_namespace(rt: ResourceType) -> bool:
    """Whether ``rt`` is core/v1 Namespace."""
    return rt.group == "" and rt.plural == "namespaces"


_META_STRINGS: Final = (
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "deletionTimestamp",
)
_META_STRING_MAPS: Final = ("labels", "annotations")
_META_INTEGERS: Final = ("generation", "deletionGracePeriodSeconds")
_META_LISTS: Final = {"finalizers": "[]string", "ownerReferences": "[]v1.OwnerReference"}


def _go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _unmarshal_error(value: Any, field: str, go_type: str) -> StatusError:
    return bad_request(
        f"json: cannot unmarshal {_go_type(value)} into Go struct field "
        f"ObjectMeta.metadata.{field} of type {go_type}"
    )


def _check_meta_types(meta: dict[str, Any]) -> None:
    """Refuse ObjectMeta fields of the wrong JSON type, as decoding into Go structs does."""
    for field in _META_STRINGS:
        value = meta.get(field)
        if value is not None and not isinstance(value, str):
            raise _unmarshal_error(value, field, "string")
    for field in _META_STRING_MAPS:
        value = meta.get(field)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise _unmarshal_error(value, field, "map[string]string")
        for key, item in value.items():
            if item is None:
                value[key] = ""  # Go decodes null into a map[string]string as ""
            elif not isinstance(item, str):
                raise _unmarshal_error(item, field, "string")
    for field in _META_INTEGERS:
        value = meta.get(field)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise _unmarshal_error(value, field, "int64")
    for field, go_type in _META_LISTS.items():
        value = meta.get(field)
        if value is not None and not isinstance(value, list):
            raise _unmarshal_error(value, field, go_type)
    for item in meta.get("finalizers") or ():
        if not isinstance(item, str):
            raise _unmarshal_error(item, "finalizers", "string")
    for item in meta.get("ownerReferences") or ():
        if not isinstance(item, dict):
            raise _unmarshal_error(item, "ownerReferences", "v1.OwnerReference")


def _meta(obj: JSONObject) -> dict[str, Any]:
    meta = obj.get("metadata")
    if meta is None:
        meta = obj["metadata"] = {}
    if not isinstance(meta, dict):
        raise bad_request("metadata must be an object")
    _check_meta_types(meta)
    return meta


def _fold_string_data(obj: JSONObject) -> None:
    string_data = obj.pop("stringData", None)
    if string_data:
        data = obj.get("data") or {}
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode("ascii")
        obj["data"] = data
    if not obj.get("type"):
        obj["type"] = "Opaque"


def check_type_meta(rt: ResourceType, obj: JSONObject) -> None:
    """Fill ``kind``/``apiVersion``; a body naming another kind is 400.

    Raises:
        StatusError: 400 when the body names a different kind or apiVersion.
    """
    kind = obj.get("kind")
    api_version = obj.get("apiVersion")
    if (kind and kind != rt.kind) or (api_version and api_version != rt.api_version):
        raise bad_request(
            f"the API version in the data ({api_version}) does not match the expected API "
            f"version ({rt.api_version})"
            if api_version and api_version != rt.api_version
            else f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})"
        )
    obj["kind"] = rt.kind
    obj["apiVersion"] = rt.api_version


def prepare_create(rt: ResourceType, obj: JSONObject, namespace: str) -> JSONObject:
    """Set the server-owned fields of a new object; ``obj`` is modified and returned.

    The name is left empty when only ``generateName`` is given; :func:`assign_name` fills it.

    Raises:
        StatusError: 400 for a namespace mismatch or a client-set resourceVersion, 422 when
            neither name nor generateName is given.
    """
    check_type_meta(rt, obj)
    meta = _meta(obj)
    if rt.namespaced:
        body_ns = meta.get("namespace")
        if body_ns and body_ns != namespace:
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on "
                "the request"
            )
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
    if meta.get("resourceVersion"):
        raise bad_request("resourceVersion should not be set on objects to be created")
    if not meta.get("name") and not meta.get("generateName"):
        raise InvalidError(
            rt.group,
            rt.kind,
            "",
            [FieldError.required("metadata.name", "name or generateName is required")],
        )
    for key in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
        meta.pop(key, None)
    meta["uid"] = str(uuid.uuid4())
    meta["creationTimestamp"] = now_time()
    if rt.is_custom:
        meta["generation"] = 1
    else:
        meta.pop("generation", None)
    if rt.has_status:
        obj.pop("status", None)
    if is_core_secret(rt):
        _fold_string_data(obj)
    if is_namespace(rt):
        name = meta.get("name") or ""
        obj["spec"] = {"finalizers": ["kubernetes"]}
        obj["status"] = {"phase": "Active"}
        if name:
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = name
    return obj


def assign_name(obj: JSONObject) -> str:
    """The object's name, generating one from ``generateName`` if it has none."""
    meta = obj["metadata"]
    if not meta.get("name"):
        meta["name"] = f"{meta['generateName']}{random_suffix()}"
    return str(meta["name"])


def _outside_meta(obj: JSONObject, *, has_status: bool) -> dict[str, Any]:
    skip = {"metadata", "kind", "apiVersion"}
    if has_status:
        skip.add("status")
    return {k: v for k, v in obj.items() if k not in skip}


def prepare_update(rt: ResourceType, old: JSONObject, new: JSONObject) -> JSONObject:
    """Merge a PUT/PATCH through the main endpoint into the stored object's invariants.

    Raises:
        StatusError: 400 for a name/namespace that differs from the stored one, 422 for a
            finalizer added while the object is being deleted.
    """
    check_type_meta(rt, new)
    meta = _meta(new)
    old_meta = old["metadata"]
    if meta.get("name") not in (None, "", old_meta["name"]):
        raise bad_request(
            f"the name of the object ({meta.get('name')}) does not match the name on the URL "
            f"({old_meta['name']})"
        )
    if rt.namespaced and meta.get("namespace") not in (None, "", old_meta.get("namespace")):
        raise bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    for key in _IMMUTABLE_META:
        if key in old_meta:
            meta[key] = old_meta[key]
        else:
            meta.pop(key, None)
    if rt.has_status:
        if "status" in old:
            new["status"] = copy.deepcopy(old["status"])
        else:
            new.pop("status", None)
    if is_core_secret(rt):
        _fold_string_data(new)
    if is_namespace(rt):
        new["spec"] = copy.deepcopy(old.get("spec", {}))
        new["status"] = copy.deepcopy(old.get("status", {}))
    _check_finalizers(rt, old, new)
    if rt.is_custom and _outside_meta(old, has_status=rt.has_status) != _outside_meta(
        new, has_status=rt.has_status
    ):
        meta["generation"] = int(old_meta.get("generation") or 0) + 1
    return new


def prepare_status_update(rt: ResourceType, old: JSONObject, new: JSONObject) -> JSONObject:
    """The stored object with only ``.status`` (and managedFields) taken from the request.

    Raises:
        StatusError: 400 for a name that differs from the stored one.
    """
    meta = _meta(new)
    if meta.get("name") not in (None, "", old["metadata"]["name"]):
        raise bad_request("the name of the object does not match the name on the URL")
    out = copy.deepcopy(old)
    if "status" in new:
        out["status"] = new["status"]
    else:
        out.pop("status", None)
    if "managedFields" in meta:
        out["metadata"]["managedFields"] = meta["managedFields"]
    return out


def _check_finalizers(rt: ResourceType, old: JSONObject, new: JSONObject) -> None:
    if not old["metadata"].get("deletionTimestamp"):
        return
    before = set(old["metadata"].get("finalizers") or ())
    added = [f for f in new["metadata"].get("finalizers") or () if f not in before]
    if added:
        raise InvalidError(
            rt.group,
            rt.kind,
            old["metadata"]["name"],
            [
                FieldError.forbidden(
                    "metadata.finalizers",
                    f"no new finalizers can be added if the object is being deleted, found new "
                    f"finalizers {_go_list(added)}",
                )
            ],
        )


def _go_list(values: list[str]) -> str:
    return "[]string{" + ", ".join(f'"{v}"' for v in values) + "}"


def should_remove(obj: JSONObject) -> bool:
    """Whether an object being deleted has lost its last finalizer and must go now."""
    meta = obj["metadata"]
    return bool(meta.get("deletionTimestamp")) and not meta.get("finalizers")


def mark_deleting(obj: JSONObject, propagation: str | None) -> JSONObject:
    """Mark an object for deletion (``markAsDeleting``): timestamp, grace 0, generation+1.

    ``Foreground``/``Orphan`` propagation add their finalizers as kube does.
    """
    out = copy.deepcopy(obj)
    meta = out["metadata"]
    finalizers = list(meta.get("finalizers") or ())
    extra = {"Foreground": "foregroundDeletion", "Orphan": "orphan"}.get(propagation or "")
    if extra and extra not in finalizers:
        finalizers.append(extra)
    if finalizers:
        meta["finalizers"] = finalizers
    if not meta.get("deletionTimestamp"):
        meta["deletionTimestamp"] = now_time()
        meta["deletionGracePeriodSeconds"] = 0
        if int(meta.get("generation") or 0) > 0:
            meta["generation"] = int(meta["generation"]) + 1
    return out


def needs_finalizing(obj: JSONObject, propagation: str | None) -> bool:
    """Whether a DELETE must mark the object instead of removing it."""
    return bool(obj["metadata"].get("finalizers")) or propagation in ("Foreground", "Orphan")


def check_preconditions(obj: JSONObject, preconditions: Any, conflict: StatusError) -> None:
    """Apply DeleteOptions ``preconditions`` (uid, resourceVersion).

    Raises:
        StatusError: ``conflict`` (409) when a precondition does not hold.
    """
    if not isinstance(preconditions, dict):
        return
    meta = obj["metadata"]
    uid = preconditions.get("uid")
    rv = preconditions.get("resourceVersion")
    if (uid and uid != meta.get("uid")) or (rv and rv != meta.get("resourceVersion")):
        raise conflict
