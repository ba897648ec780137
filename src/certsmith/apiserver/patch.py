"""PATCH semantics: JSON merge patch, JSON patch, strategic merge patch, server-side apply.

Each function takes the current object and the raw request body and returns the patched object
(or raises :class:`~certsmith.api.errors.StatusError` with the apiserver's wording, K8S-API
§3.6, §4.12, §4.13). The HTTP layer still owns identity checks, resourceVersion preconditions
and the status/spec split.

Decisions:

* **Content types.** :func:`patch_type_for` maps a Content-Type to a :class:`PatchType`; strategic
  merge on a custom resource is 415 with the exact apiextensions message (kubectl prints it).
* **JSON patch** failures while applying (a failed ``test``, a missing path) are 422 Invalid with
  the apiserver's generic text, which kopf relies on; a body that is not a list of operations is
  400, as ``jsonpatch.DecodePatch`` fails before applying.
* **Merge patch** with an array body yields a 422 whose message mirrors the apiserver's decode
  failure; ``null``/scalars/garbage are 400 ``Invalid JSON Patch``.
* **Strategic merge** knows the patch strategies that matter for the built-ins we serve
  (``metadata.finalizers`` as a set, ``ownerReferences`` by ``uid``, ``conditions`` by ``type``,
  pod-style ``containers``/``volumes``/``env`` by ``name``); other lists are replaced.
  ``$patch: replace|delete|merge`` and ``$deleteFromPrimitiveList/`` are honoured;
  ``$setElementOrder/`` and ``$retainKeys`` are stripped without reordering or pruning.
* **Server-side apply** is simplified: fields are tracked in ``managedFields`` (FieldsV1) per
  manager; re-applying a smaller config removes fields the manager no longer applies unless
  another manager owns them; changing a value another manager owns is a 409 conflict unless
  ``force``. Lists are atomic except sets (finalizers) and maps keyed by ``uid``/``type``/
  ``name``; map-typed fields merge per key. Defaulting, type-aware merging of unknown CRD lists
  and ``x-kubernetes-list-type`` from schemas are not modelled.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, TypeAlias

import yaml

from certsmith.api.errors import FieldError, InvalidError, StatusError
from certsmith.api.meta import JSON, JSONObject, format_time
from certsmith.apiserver.jsonlimits import json_problem
from certsmith.apiserver.jsonpath import go_quote
from certsmith.apiserver.resources import ResourceType

MAX_JSON_PATCH_OPERATIONS: Final = 10000
INVALID_422_MESSAGE: Final = "the server rejected our request due to an error in our request"


class PatchType(StrEnum):
    """The four PATCH media types Kubernetes accepts."""

    JSON = "application/json-patch+json"
    MERGE = "application/merge-patch+json"
    STRATEGIC = "application/strategic-merge-patch+json"
    APPLY = "application/apply-patch+yaml"


def accepted_patch_types(rt: ResourceType) -> tuple[PatchType, ...]:
    """Patch types a kind accepts, in the order the 415 message lists them."""
    if rt.is_custom:
        return (PatchType.JSON, PatchType.MERGE, PatchType.APPLY)
    return (PatchType.JSON, PatchType.MERGE, PatchType.STRATEGIC, PatchType.APPLY)


def unsupported_media_type(rt: ResourceType) -> StatusError:
    """The 415 a kind answers to a patch type it does not accept."""
    accepted = ", ".join(accepted_patch_types(rt))
    return StatusError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: "
        f"{accepted}",
    )


def patch_type_for(content_type: str | None, rt: ResourceType) -> PatchType:
    """The patch type of a request's Content-Type (parameters ignored).

    Raises:
        StatusError: 415 UnsupportedMediaType for an unknown type, or strategic merge on a CR.
    """
    media = (content_type or "").split(";")[0].strip().lower()
    try:
        patch_type = PatchType(media)
    except ValueError:
        raise unsupported_media_type(rt) from None
    if patch_type not in accepted_patch_types(rt):
        raise unsupported_media_type(rt)
    return patch_type


def _bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def _invalid_generic() -> StatusError:
    return StatusError(422, "Invalid", INVALID_422_MESSAGE)


def _go_type_name(value: JSON) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if value is None:
        return "null"
    return "number"


def _no_constant(name: str) -> JSON:
    raise ValueError(f"invalid character {name[0]!r} looking for beginning of value")


def _loads(body: bytes | str) -> JSON:
    """Parse a patch body; ValueError also for what the store could not write back."""
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("exceeded max depth") from None
    problem = json_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _json_compact(value: JSON) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _require_object_result(result: JSON) -> JSONObject:
    """Fail like the apiserver does when a patch result does not decode as an object."""
    if isinstance(result, dict):
        return result
    raw = _json_compact(result)
    detail = (
        "couldn't get version/kind; json parse error: json: cannot unmarshal "
        f"{_go_type_name(result)} into Go value of type struct "
        '{ APIVersion string "json:\\"apiVersion,omitempty\\""; '
        'Kind string "json:\\"kind,omitempty\\"" }'
    )
    body = f"Invalid value: {go_quote(raw)}: {detail}"
    return_error = StatusError(
        422,
        "Invalid",
        f' "" is invalid: patch: {body}',
        {"causes": [{"reason": "FieldValueInvalid", "message": body, "field": "patch"}]},
    )
    raise return_error


# --- JSON merge patch (RFC 7386) ----------------------------------------------------------


def merge_patch(target: JSON, patch: JSON) -> JSON:
    """Apply an RFC 7386 merge patch to a JSON value (pure; inputs are not modified)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result: JSONObject = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _prune_nulls(value: JSON) -> JSON:
    if isinstance(value, dict):
        return {k: _prune_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_prune_nulls(v) for v in value if v is not None]
    return value


def apply_merge_patch(original: Mapping[str, Any], body: bytes | str) -> JSONObject:
    """Apply an ``application/merge-patch+json`` body to an object.

    Raises:
        StatusError: 400 for a body that is not JSON, ``null`` or a scalar; 422 for an array.
    """
    try:
        patch = _loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _bad_request("Invalid JSON Patch") from None
    if isinstance(patch, list):
        return _require_object_result(_prune_nulls(patch))
    if not isinstance(patch, dict):
        raise _bad_request("Invalid JSON Patch")
    return _require_object_result(merge_patch(dict(original), patch))


# --- JSON patch (RFC 6902) ----------------------------------------------------------------


class _PatchFailedError(Exception):
    """An operation that cannot apply; rendered as the apiserver's generic 422."""


def _json_equal(left: JSON, right: JSON) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_json_equal(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(
            _json_equal(a, b) for a, b in zip(left, right, strict=True)
        )
    return type(left) is type(right) and left == right


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str):
        raise _PatchFailedError("path must be a string")
    if path == "":
        return []
    if not path.startswith("/"):
        raise _PatchFailedError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container: list[Any], segment: str, *, allow_end: bool) -> int:
    if allow_end and segment == "-":
        return len(container)
    try:
        index = int(segment)
    except ValueError:
        raise _PatchFailedError(f"invalid array index {segment!r}") from None
    if index < 0:
        index += len(container)  # evanphx/json-patch supports negative indices
    limit = len(container) if allow_end else len(container) - 1
    if index < 0 or index > limit:
        raise _PatchFailedError(f"array index {segment} out of bounds")
    return index


def _parent(doc: JSON, tokens: list[str]) -> JSON:
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict):
            if token not in node:
                raise _PatchFailedError("doc is missing path")
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, allow_end=False)]
        else:
            raise _PatchFailedError("doc is missing path")
    return node


def _get(doc: JSON, tokens: list[str]) -> JSON:
    if not tokens:
        return doc
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _PatchFailedError("missing key")
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, allow_end=False)]
    raise _PatchFailedError("doc is missing path")


def _add(doc: JSON, tokens: list[str], value: JSON) -> JSON:
    if not tokens:
        return value
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, allow_end=True), value)
    else:
        raise _PatchFailedError("doc is missing path")
    return doc


def _remove(doc: JSON, tokens: list[str]) -> tuple[JSON, JSON]:
    if not tokens:
        raise _PatchFailedError("cannot remove the whole document")
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _PatchFailedError(f"Unable to remove nonexistent key: {last}")
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, last, allow_end=False))
    raise _PatchFailedError("doc is missing path")


def _apply_operation(doc: JSON, op: Mapping[str, Any]) -> JSON:
    kind = op.get("op")
    tokens = _pointer(op.get("path"))
    if kind == "add":
        if "value" not in op:
            raise _PatchFailedError("missing value")
        return _add(doc, tokens, copy.deepcopy(op["value"]))
    if kind == "remove":
        return _remove(doc, tokens)[0]
    if kind == "replace":
        if "value" not in op:
            raise _PatchFailedError("missing value")
        _get(doc, tokens)
        if not tokens:
            return copy.deepcopy(op["value"])
        doc, _ = _remove(doc, tokens)
        return _add(doc, tokens, copy.deepcopy(op["value"]))
    if kind in ("move", "copy"):
        source = _pointer(op.get("from"))
        if kind == "move":
            if tokens[: len(source)] == source and len(tokens) > len(source):
                raise _PatchFailedError("cannot move a value into itself")
            doc, value = _remove(doc, source)
        else:
            value = copy.deepcopy(_get(doc, source))
        return _add(doc, tokens, value)
    if kind == "test":
        try:
            current = _get(doc, tokens)
        except _PatchFailedError:
            current = None
        if not _json_equal(current, op.get("value")):
            raise _PatchFailedError("test failed")
        return doc
    raise _PatchFailedError(f"Unexpected kind: {kind}")


def apply_json_patch(original: Mapping[str, Any], body: bytes | str) -> JSONObject:
    """Apply an ``application/json-patch+json`` body (RFC 6902, including ``test``).

    Raises:
        StatusError: 400 when the body is not a JSON list of operation objects; 413 past
            10000 operations; 422 Invalid when an operation fails (a failed ``test`` included).
    """
    try:
        ops = _loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad_request(f"invalid character in JSON patch: {exc}") from None
    if not isinstance(ops, list):
        raise _bad_request(
            f"json: cannot unmarshal {_go_type_name(ops)} into Go value of type jsonpatch.Patch"
        )
    for op in ops:
        if not isinstance(op, dict):
            raise _bad_request(
                f"json: cannot unmarshal {_go_type_name(op)} into Go value of type "
                "jsonpatch.Operation"
            )
    if len(ops) > MAX_JSON_PATCH_OPERATIONS:
        raise StatusError(
            413,
            "RequestEntityTooLarge",
            "Request entity too large: The allowed maximum operations in a JSON patch is "
            f"{MAX_JSON_PATCH_OPERATIONS}, got {len(ops)}",
        )
    doc: JSON = copy.deepcopy(dict(original))
    try:
        for op in ops:
            doc = _apply_operation(doc, op)
    except _PatchFailedError:
        raise _invalid_generic() from None
    return _require_object_result(doc)


# --- strategic merge patch ----------------------------------------------------------------

_PRIMITIVE_SET: Final = ""
"""Marker for a list merged as a set of scalars (``patchStrategy:"merge"`` on []string)."""

_LIST_MERGE_KEYS: Final[dict[tuple[str, ...], str]] = {
    ("metadata", "finalizers"): _PRIMITIVE_SET,
    ("metadata", "ownerReferences"): "uid",
    ("status", "conditions"): "type",
}
_FIELD_MERGE_KEYS: Final[dict[str, str]] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "imagePullSecrets": "name",
    "volumeMounts": "mountPath",
}

_DIRECTIVE: Final = "$patch"
_RETAIN_KEYS: Final = "$retainKeys"
_SET_ORDER: Final = "$setElementOrder/"
_DELETE_PRIMITIVE: Final = "$deleteFromPrimitiveList/"


def _merge_key(path: tuple[str, ...]) -> str | None:
    """Merge strategy of the list at ``path`` (dict keys only): a key, ``""`` for sets, or None."""
    if path in _LIST_MERGE_KEYS:
        return _LIST_MERGE_KEYS[path]
    return _FIELD_MERGE_KEYS.get(path[-1]) if path else None


def _go_v(value: JSON) -> str:
    """Go's ``%v`` of a decoded JSON value (for error messages)."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_v(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go_v(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _strip_directives(value: JSON) -> JSON:
    if isinstance(value, dict):
        return {
            k: _strip_directives(v)
            for k, v in value.items()
            if not (
                k in (_DIRECTIVE, _RETAIN_KEYS) or k.startswith((_SET_ORDER, _DELETE_PRIMITIVE))
            )
            and v is not None
        }
    if isinstance(value, list):
        return [
            _strip_directives(v)
            for v in value
            if not (isinstance(v, dict) and v.get(_DIRECTIVE) in ("delete", "replace"))
        ]
    return value


def _stripped_map(value: Mapping[str, Any]) -> JSONObject:
    result = _strip_directives(dict(value))
    assert isinstance(result, dict)
    return result


def _stripped_list(value: list[Any]) -> list[Any]:
    result = _strip_directives(value)
    assert isinstance(result, list)
    return result


def _smp_map(original: JSONObject, patch: Mapping[str, Any], path: tuple[str, ...]) -> JSONObject:
    directive = patch.get(_DIRECTIVE)
    if directive == "replace":
        return _stripped_map(patch)
    if directive not in (None, "merge", "delete"):
        raise StatusError(
            500, "Unknown", f"unknown patch type: {directive} in map: {_go_v(dict(patch))}"
        )
    result = dict(original)
    for key, value in patch.items():
        if key.startswith(_DELETE_PRIMITIVE):
            field = key[len(_DELETE_PRIMITIVE) :]
            if not isinstance(value, list):
                raise _bad_request("invalid patch format of primitive list")
            current = result.get(field)
            if isinstance(current, list):
                drop = [v for v in value]
                result[field] = [v for v in current if not any(_json_equal(v, d) for d in drop)]
            continue
        if key in (_DIRECTIVE, _RETAIN_KEYS) or key.startswith(_SET_ORDER):
            continue
        if value is None:
            result.pop(key, None)
            continue
        child_path = (*path, key)
        current = result.get(key)
        if isinstance(value, dict):
            if value.get(_DIRECTIVE) == "delete":
                result.pop(key, None)
            elif isinstance(current, dict):
                result[key] = _smp_map(current, value, child_path)
            else:
                result[key] = _strip_directives(value)
        elif isinstance(value, list) and isinstance(current, list):
            result[key] = _smp_list(current, value, child_path)
        else:
            result[key] = _strip_directives(value)
    return result


def _smp_list(original: list[Any], patch: list[Any], path: tuple[str, ...]) -> list[Any]:
    key = _merge_key(path)
    if any(isinstance(p, dict) and p.get(_DIRECTIVE) == "replace" for p in patch):
        return _stripped_list(patch)
    if key is None:
        return _stripped_list(patch)
    if key == _PRIMITIVE_SET:
        merged = list(original)
        for item in patch:
            if not any(_json_equal(item, have) for have in merged):
                merged.append(item)
        return merged
    result = [copy.deepcopy(item) for item in original]
    for item in patch:
        if not isinstance(item, dict):
            return _stripped_list(patch)
        if key not in item:
            raise StatusError(
                500,
                "Unknown",
                f"map: {_go_v(item)} does not contain declared merge key: {key}",
            )
        match = next(
            (
                i
                for i, have in enumerate(result)
                if isinstance(have, dict) and _json_equal(have.get(key), item[key])
            ),
            None,
        )
        if item.get(_DIRECTIVE) == "delete":
            if match is not None:
                del result[match]
            continue
        if match is None:
            result.append(_strip_directives(item))
        else:
            result[match] = _smp_map(result[match], item, path)
    return result


def strategic_merge(original: Mapping[str, Any], patch: Mapping[str, Any]) -> JSONObject:
    """Apply a parsed strategic merge patch to an object (pure).

    Raises:
        StatusError: for malformed directives, in the apiserver's wording.
    """
    if patch.get(_DIRECTIVE) == "delete":
        return {}
    return _smp_map(copy.deepcopy(dict(original)), patch, ())


def apply_strategic_merge_patch(
    original: Mapping[str, Any], body: bytes | str, rt: ResourceType
) -> JSONObject:
    """Apply an ``application/strategic-merge-patch+json`` body to a built-in object.

    Raises:
        StatusError: 415 for custom resources; 400 when the body is not a JSON object.
    """
    if rt.is_custom:
        raise unsupported_media_type(rt)
    try:
        patch = _loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad_request(f"invalid JSON in strategic merge patch: {exc}") from None
    if not isinstance(patch, dict):
        raise _bad_request(
            f"json: cannot unmarshal {_go_type_name(patch)} into Go value of type "
            "map[string]interface {}"
        )
    return strategic_merge(original, patch)


def apply_patch(
    patch_type: PatchType, original: Mapping[str, Any], body: bytes | str, rt: ResourceType
) -> JSONObject:
    """Apply a JSON, merge or strategic merge patch (server-side apply has its own entry).

    Raises:
        StatusError: as the individual patch functions; 415 for apply or unsupported types.
    """
    if patch_type is PatchType.JSON:
        return apply_json_patch(original, body)
    if patch_type is PatchType.MERGE:
        return apply_merge_patch(original, body)
    if patch_type is PatchType.STRATEGIC:
        return apply_strategic_merge_patch(original, body, rt)
    raise unsupported_media_type(rt)


# --- server-side apply --------------------------------------------------------------------

FieldPath: TypeAlias = tuple[str, ...]
"""One FieldsV1 path, e.g. ``("f:spec", "f:secretName")`` or ``(…, "f:finalizers", 'v:"x"')``."""

_IGNORED_TOP: Final = frozenset({"apiVersion", "kind"})
_IGNORED_META: Final = frozenset(
    {
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "selfLink",
        "generateName",
    }
)
_SSA_MAP_LISTS: Final[dict[tuple[str, ...], str]] = {
    ("metadata", "ownerReferences"): "uid",
    ("status", "conditions"): "type",
}


def _ssa_list_kind(path: tuple[str, ...]) -> str | None:
    """``""`` for a set, a key name for a map list, ``None`` for atomic (path of dict keys)."""
    if path == ("metadata", "finalizers"):
        return _PRIMITIVE_SET
    if path in _SSA_MAP_LISTS:
        return _SSA_MAP_LISTS[path]
    return _FIELD_MERGE_KEYS.get(path[-1]) if path else None


def _element_key(key: str, item: Mapping[str, Any]) -> str:
    return "k:" + json.dumps({key: item.get(key)}, separators=(",", ":"))


def _value_key(item: JSON) -> str:
    return "v:" + json.dumps(item, separators=(",", ":"))


def _collect(value: JSON, path: FieldPath, keys: tuple[str, ...], out: set[FieldPath]) -> None:
    if isinstance(value, dict):
        if not value and path:
            out.add(path)
        for name, child in value.items():
            if not keys and name in _IGNORED_TOP:
                continue
            if keys == ("metadata",) and name in _IGNORED_META:
                continue
            _collect(child, (*path, f"f:{name}"), (*keys, name), out)
        return
    if isinstance(value, list):
        kind = _ssa_list_kind(keys)
        if kind == _PRIMITIVE_SET:
            out.update((*path, _value_key(item)) for item in value)
            if not value:
                out.add(path)
            return
        if kind and all(isinstance(i, dict) and kind in i for i in value):
            if not value:
                out.add(path)
            for item in value:
                element = (*path, _element_key(kind, item))
                out.add((*element, "."))
                for name, child in item.items():
                    _collect(child, (*element, f"f:{name}"), (*keys, name), out)
            return
    out.add(path)


def field_set(obj: Mapping[str, Any]) -> set[FieldPath]:
    """The FieldsV1 paths an object (or applied configuration) sets."""
    out: set[FieldPath] = set()
    _collect(dict(obj), (), (), out)
    out.discard(())
    if ("f:metadata",) in out and not obj.get("metadata"):
        out.discard(("f:metadata",))
    return out


def fields_v1(paths: Iterable[FieldPath]) -> JSONObject:
    """Nest a set of paths into the ``fieldsV1`` tree form."""
    tree: JSONObject = {}
    for path in sorted(paths):
        node = tree
        for part in path:
            node = node.setdefault(part, {})
    return tree


def paths_of(tree: Mapping[str, Any], prefix: FieldPath = ()) -> set[FieldPath]:
    """Flatten a ``fieldsV1`` tree back to its leaf paths."""
    out: set[FieldPath] = set()
    for part, child in tree.items():
        path = (*prefix, part)
        if isinstance(child, Mapping) and child:
            out |= paths_of(child, path)
        else:
            out.add(path)
    return out


def _locate(obj: JSON, path: FieldPath) -> tuple[bool, JSON]:
    node = obj
    for part in path:
        if part == ".":
            continue
        if part.startswith("f:"):
            if not isinstance(node, dict) or part[2:] not in node:
                return False, None
            node = node[part[2:]]
        elif part.startswith("k:"):
            want = json.loads(part[2:])
            if not isinstance(node, list):
                return False, None
            found = [
                i
                for i in node
                if isinstance(i, dict) and all(_json_equal(i.get(k), v) for k, v in want.items())
            ]
            if not found:
                return False, None
            node = found[0]
        elif part.startswith("v:"):
            want_value = json.loads(part[2:])
            if not isinstance(node, list) or not any(_json_equal(i, want_value) for i in node):
                return False, None
            node = want_value
        else:
            return False, None
    return True, node


def _remove_path(obj: JSONObject, path: FieldPath) -> None:
    if not path:
        return
    if path[-1] == ".":
        path = path[:-1]
    found, parent = _locate(obj, path[:-1])
    if not found:
        return
    last = path[-1]
    if last.startswith("f:") and isinstance(parent, dict):
        parent.pop(last[2:], None)
    elif last.startswith("k:") and isinstance(parent, list):
        want = json.loads(last[2:])
        parent[:] = [
            i
            for i in parent
            if not (isinstance(i, dict) and all(_json_equal(i.get(k), v) for k, v in want.items()))
        ]
    elif last.startswith("v:") and isinstance(parent, list):
        value = json.loads(last[2:])
        parent[:] = [i for i in parent if not _json_equal(i, value)]


def _ssa_merge(live: JSON, config: JSON, keys: tuple[str, ...]) -> JSON:
    if isinstance(config, dict) and isinstance(live, dict):
        result = dict(live)
        for name, value in config.items():
            if value is None:
                result.pop(name, None)
            else:
                result[name] = _ssa_merge(live.get(name), value, (*keys, name))
        return result
    if isinstance(config, list) and isinstance(live, list):
        kind = _ssa_list_kind(keys)
        if kind == _PRIMITIVE_SET:
            merged = list(live)
            merged.extend(i for i in config if not any(_json_equal(i, h) for h in merged))
            return merged
        if kind and all(isinstance(i, dict) and kind in i for i in config + live):
            merged = list(live)
            for item in config:
                idx = next(
                    (n for n, h in enumerate(merged) if _json_equal(h.get(kind), item[kind])),
                    None,
                )
                if idx is None:
                    merged.append(copy.deepcopy(item))
                else:
                    merged[idx] = _ssa_merge(merged[idx], item, keys)
            return merged
    return _prune_nulls(copy.deepcopy(config))


def _printable_path(path: FieldPath) -> str:
    out = ""
    for part in path:
        if part == ".":
            continue
        if part.startswith("f:"):
            out += "." + part[2:]
        elif part.startswith("k:"):
            want = json.loads(part[2:])
            inner = ",".join(f"{k}={json.dumps(v)}" for k, v in want.items())
            out += f"[{inner}]"
        elif part.startswith("v:"):
            out += f"[={part[2:]}]"
    return out


def _print_manager(entry: Mapping[str, Any]) -> str:
    text = go_quote(str(entry.get("manager", "")))
    if entry.get("subresource"):
        text += f" with subresource {go_quote(str(entry['subresource']))}"
    if entry.get("operation") == "Update":
        if entry.get("time"):
            return f"{text} using {entry.get('apiVersion')} at {entry['time']}"
        return f"{text} using {entry.get('apiVersion')}"
    return text


def _managed(obj: Mapping[str, Any]) -> list[JSONObject]:
    meta = obj.get("metadata")
    entries = meta.get("managedFields") if isinstance(meta, Mapping) else None
    return [dict(e) for e in entries or () if isinstance(e, Mapping)]


def _same_manager(
    entry: Mapping[str, Any], manager: str, operation: str, subresource: str | None
) -> bool:
    return (
        entry.get("manager") == manager
        and entry.get("operation") == operation
        and (entry.get("subresource") or None) == subresource
    )


def _entry(
    manager: str,
    operation: str,
    api_version: str,
    now: dt.datetime,
    paths: set[FieldPath],
    subresource: str | None,
) -> JSONObject:
    entry: JSONObject = {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": format_time(now),
        "fieldsType": "FieldsV1",
        "fieldsV1": fields_v1(paths),
    }
    if subresource:
        entry["subresource"] = subresource
    return entry


@dataclass(frozen=True)
class ApplyResult:
    """The object after a server-side apply; ``created`` when it did not exist."""

    object: JSONObject
    created: bool


def parse_apply_body(body: bytes | str) -> JSONObject:
    """Decode an ``application/apply-patch+yaml`` body (YAML or JSON) to an object.

    Raises:
        StatusError: 400 ``error decoding YAML: …`` when it is not a YAML/JSON object.
    """
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        config = yaml.safe_load(text)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise _bad_request(f"error decoding YAML: {exc}") from None
    except RecursionError:
        raise _bad_request("error decoding YAML: exceeded max depth") from None
    problem = json_problem(config)
    if problem is not None:
        raise _bad_request(f"error decoding YAML: {problem}")
    if not isinstance(config, dict):
        raise _bad_request(
            "error decoding YAML: error unmarshaling JSON: while decoding JSON: json: cannot "
            f"unmarshal {_go_type_name(config)} into Go value of type map[string]interface {{}}"
        )
    metadata = config.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise _bad_request(
            f"error decoding YAML: .metadata: expected map, got {_go_type_name(metadata)}"
        )
    return config


def server_side_apply(
    live: Mapping[str, Any] | None,
    body: bytes | str,
    *,
    rt: ResourceType,
    field_manager: str | None,
    force: bool = False,
    now: dt.datetime,
    subresource: str | None = None,
    allowed_conflicts: frozenset[FieldPath] = frozenset(),
) -> ApplyResult:
    """Apply a configuration as ``field_manager`` (simplified server-side apply).

    With no live object the configuration is the new object (the caller creates it, 201).
    Otherwise fields the manager applied before but omits now are removed (unless another
    manager owns them), the configuration is merged in, and ``managedFields`` is updated.
    Conflicts on ``allowed_conflicts`` are taken over as if forced (kube's upgrade from
    client-side apply, see :func:`last_applied_fields`).

    Raises:
        StatusError: 422 when ``fieldManager`` is missing; 400 for an undecodable body;
            409 Conflict (causes ``FieldManagerConflict``) when the configuration changes a
            value another manager owns and ``force`` is false.
    """
    if not field_manager:
        raise InvalidError(
            "meta.k8s.io",
            "PatchOptions",
            "",
            [FieldError.required("fieldManager", "is required for apply patch")],
        )
    config = parse_apply_body(body)
    if rt.has_status and subresource is None:
        config.pop("status", None)  # the main endpoint ignores status (K8S-API §4.6)
    if subresource == "status":
        config = {k: v for k, v in config.items() if k in ("apiVersion", "kind", "status")}
    new_paths = field_set(config)

    if live is None:
        obj = _prune_nulls(copy.deepcopy(config))
        assert isinstance(obj, dict)
        obj.setdefault("metadata", {})["managedFields"] = [
            _entry(field_manager, "Apply", rt.api_version, now, new_paths, subresource)
        ]
        return ApplyResult(obj, created=True)

    obj = copy.deepcopy(dict(live))
    entries = _managed(obj)
    mine = next((e for e in entries if _same_manager(e, field_manager, "Apply", subresource)), None)
    others = [e for e in entries if e is not mine]
    other_paths = [(e, paths_of(e.get("fieldsV1") or {})) for e in others]

    conflicts: list[tuple[JSONObject, FieldPath]] = []
    for path in sorted(new_paths):
        if path[-1] == "." or path[-1].startswith("v:"):
            continue
        _, wanted = _locate(config, path)
        found, have = _locate(obj, path)
        if found and _json_equal(have, wanted):
            continue
        for entry, owned in other_paths:
            if path in owned:
                conflicts.append((entry, path))
    if any(p not in allowed_conflicts for _, p in conflicts) and not force:
        conflicts = [(e, p) for e, p in conflicts if p not in allowed_conflicts]
        causes = [
            {
                "reason": "FieldManagerConflict",
                "message": f"conflict with {_print_manager(e)}",
                "field": _printable_path(p),
            }
            for e, p in conflicts
        ]
        raise StatusError(409, "Conflict", _conflict_message(conflicts), {"causes": causes})

    if conflicts:
        taken = {p for _, p in conflicts}
        for entry, owned in other_paths:
            entry["fieldsV1"] = fields_v1(owned - taken)

    previous = paths_of(mine.get("fieldsV1") or {}) if mine else set()
    owned_by_others = set().union(*(owned for _, owned in other_paths)) if other_paths else set()
    for path in sorted(previous - new_paths - owned_by_others, key=len, reverse=True):
        _remove_path(obj, path)

    merged = _ssa_merge(obj, config, ())
    assert isinstance(merged, dict)
    kept = [e for e in others if paths_of(e.get("fieldsV1") or {})]
    merged.setdefault("metadata", {})["managedFields"] = [
        *kept,
        _entry(field_manager, "Apply", rt.api_version, now, new_paths, subresource),
    ]
    return ApplyResult(merged, created=False)


LAST_APPLIED_ANNOTATION: Final = "kubectl.kubernetes.io/last-applied-configuration"
KUBECTL_APPLY_MANAGER: Final = "kubectl"


def last_applied_fields(
    live: Mapping[str, Any] | None, field_manager: str | None
) -> frozenset[FieldPath]:
    """Fields ``kubectl apply --server-side`` may take over from client-side apply.

    kube-apiserver's ``lastAppliedManager``: when the manager is ``kubectl``, conflicts on
    fields of the ``last-applied-configuration`` annotation are forced, so moving an object
    from client-side to server-side apply transfers ownership instead of failing.
    """
    if live is None or field_manager != KUBECTL_APPLY_MANAGER:
        return frozenset()
    annotations = (live.get("metadata") or {}).get("annotations") or {}
    raw = annotations.get(LAST_APPLIED_ANNOTATION)
    if not raw:
        return frozenset()
    try:
        applied = json.loads(raw)
    except ValueError:
        return frozenset()
    return frozenset(field_set(applied)) if isinstance(applied, dict) else frozenset()


def _conflict_message(conflicts: list[tuple[JSONObject, FieldPath]]) -> str:
    if len(conflicts) == 1:
        entry, path = conflicts[0]
        return (
            f"Apply failed with 1 conflict: conflict with {_print_manager(entry)}: "
            f"{_printable_path(path)}"
        )
    by_manager: dict[str, list[str]] = {}
    for entry, path in conflicts:
        by_manager.setdefault(_print_manager(entry), []).append(_printable_path(path))
    lines: list[str] = []
    for manager in sorted(by_manager):
        lines.append(f"conflicts with {manager}:")
        lines.extend(f"- {p}" for p in by_manager[manager])
    return f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)


def record_update(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any],
    *,
    manager: str,
    api_version: str,
    now: dt.datetime,
    subresource: str | None = None,
) -> JSONObject:
    """Return ``new`` with ``managedFields`` updated for a non-apply write by ``manager``.

    The manager's ``Update`` entry gains every field whose value changed (all fields on
    create); other managers lose those fields, and entries left empty are dropped. Call it
    on create, update and non-apply patch; pass the manager from ``?fieldManager=`` or the
    User-Agent prefix.
    """
    result = copy.deepcopy(dict(new))
    before = field_set(old) if old else set()
    after = field_set(result)
    changed = {
        p
        for p in after
        if p not in before or not _json_equal(_locate(result, p)[1], _locate(old or {}, p)[1])
    }
    entries = _managed(old) if old else _managed(result)
    mine = next((e for e in entries if _same_manager(e, manager, "Update", subresource)), None)
    updated: list[JSONObject] = []
    for entry in entries:
        if entry is mine:
            continue
        owned = paths_of(entry.get("fieldsV1") or {}) - changed
        owned &= after
        if owned:
            updated.append({**entry, "fieldsV1": fields_v1(owned)})
    mine_paths = (paths_of(mine.get("fieldsV1") or {}) & after if mine else set()) | changed
    if mine_paths:
        updated.append(_entry(manager, "Update", api_version, now, mine_paths, subresource))
    result.setdefault("metadata", {})["managedFields"] = updated
    if not updated:
        result["metadata"].pop("managedFields")
    return result
