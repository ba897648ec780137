"""Unknown fields: pruning by the structural schema and ``fieldValidation`` (K8S-API §4.15).

kube-apiserver always prunes fields its schema does not know (except under
``x-kubernetes-preserve-unknown-fields``) and reports them according to ``fieldValidation``:
``Strict`` (kubectl's default for apply/create/edit) fails with 400, ``Warn`` (the server
default) answers with ``Warning: 299`` headers, ``Ignore`` stays silent. Paths are printed as
kube prints them: ``spec.foo``, ``spec.usages[0].x``, ``metadata.bogus``.

``metadata`` is checked against ``ObjectMeta``'s fields whatever the schema says, because CRD
schemas only say ``type: object`` for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Final

from certsmith.api.errors import StatusError
from certsmith.api.meta import JSONObject
from certsmith.apiserver.http.errors import bad_request
from certsmith.apiserver.resources import ResourceType

OBJECT_META_FIELDS: Final = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)


class FieldValidation(StrEnum):
    """The ``fieldValidation`` query parameter."""

    STRICT = "Strict"
    WARN = "Warn"
    IGNORE = "Ignore"


def parse_field_validation(value: str | None) -> FieldValidation:
    """Read ``fieldValidation``; empty means ``Warn`` (the server default).

    Raises:
        StatusError: 400 for an unknown value.
    """
    if not value:
        return FieldValidation.WARN
    try:
        return FieldValidation(value)
    except ValueError:
        raise bad_request(
            f"fieldValidation must be one of Ignore, Warn, Strict, got {value!r}"
        ) from None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _prune(value: Any, schema: Mapping[str, Any], path: str, unknown: list[str]) -> None:
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    if isinstance(value, dict):
        props = schema.get("properties")
        additional = schema.get("additionalProperties")
        if schema.get("x-kubernetes-embedded-resource"):
            props = {"apiVersion": {}, "kind": {}, "metadata": {}, **(props or {})}
        if isinstance(props, Mapping):
            for key in list(value):
                sub = props.get(key)
                if sub is None:
                    if isinstance(additional, Mapping):
                        _prune(value[key], additional, _join(path, key), unknown)
                    elif not preserve and additional is not True:
                        unknown.append(_join(path, key))
                        del value[key]
                else:
                    _prune(value[key], sub, _join(path, key), unknown)
        elif isinstance(additional, Mapping):
            for key in value:
                _prune(value[key], additional, _join(path, key), unknown)
        elif not preserve and additional is not True and schema.get("type") == "object":
            for key in list(value):
                unknown.append(_join(path, key))
                del value[key]
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            for index, item in enumerate(value):
                _prune(item, items, f"{path}[{index}]", unknown)


def prune_object(rt: ResourceType, obj: JSONObject) -> list[str]:
    """Drop unknown fields from ``obj`` in place; returns their paths in document order."""
    unknown: list[str] = []
    metadata = obj.get("metadata")
    if isinstance(metadata, dict):
        for key in list(metadata):
            if key not in OBJECT_META_FIELDS:
                unknown.append(f"metadata.{key}")
                del metadata[key]
    schema = rt.schema
    if not schema:
        return unknown
    props = schema.get("properties")
    if not isinstance(props, Mapping):
        return unknown
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    for key in list(obj):
        if key in ("apiVersion", "kind", "metadata"):
            continue
        sub = props.get(key)
        if sub is None:
            if not preserve:
                unknown.append(key)
                del obj[key]
        else:
            _prune(obj[key], sub, key, unknown)
    return unknown


def check_unknown_fields(
    rt: ResourceType, obj: JSONObject, validation: FieldValidation
) -> list[str]:
    """Prune ``obj`` and apply ``validation``; returns the warnings to send.

    Raises:
        StatusError: 400 BadRequest under ``Strict`` when there were unknown fields.
    """
    unknown = prune_object(rt, obj)
    if not unknown or validation is FieldValidation.IGNORE:
        return []
    texts = [f'unknown field "{path}"' for path in unknown]
    if validation is FieldValidation.STRICT:
        raise StatusError(
            400,
            "BadRequest",
            f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
            f"strict decoding error: {', '.join(texts)}",
        )
    return texts
