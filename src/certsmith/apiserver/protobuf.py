"""Decode Kubernetes protobuf request bodies for v1 Secret, ConfigMap and Namespace.

Also the SelfSubjectAccessReview ``kubectl auth can-i`` sends, the same way.

Imperative ``kubectl create secret|configmap|namespace`` sends
``application/vnd.kubernetes.protobuf`` bodies and has no JSON fallback (K8S-API §1.2, §4.14), so
the server must read them. Only those three kinds are needed; a hand-written wire-format reader
(varints and length-delimited fields) is smaller and safer than a protobuf dependency plus
generated Kubernetes types.

The envelope is the four-byte magic (``k8s`` + NUL) followed by ``runtime.Unknown{1: typeMeta{1:
apiVersion, 2: kind}, 2: raw, 3: contentEncoding, 4: contentType}``; ``raw`` is the message. Proto2
writes empty strings and zeros, so those are treated as unset, as Go's JSON ``omitempty`` would
drop them. The result is the JSON dict form the rest of the server works with (``data`` values
base64-encoded as in JSON).

Errors: a malformed body is 400 BadRequest; any other kind is 415, as the apiserver answers for a
media type a resource does not accept.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Iterator
from typing import Final

from certsmith.api.errors import StatusError
from certsmith.api.meta import JSONObject, format_time

MAGIC: Final = b"k8s\x00"
CONTENT_TYPE: Final = "application/vnd.kubernetes.protobuf"

_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5

_Field = tuple[int, int, int | bytes]


class ProtobufError(ValueError):
    """Malformed protobuf wire data."""


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 64:
            raise ProtobufError("varint too long")


def iter_fields(data: bytes) -> Iterator[_Field]:
    """Yield ``(field number, wire type, value)`` for each field of a message.

    Raises:
        ProtobufError: the data is truncated or uses an unsupported wire type.
    """
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtobufError("field number 0")
        if wire == _VARINT:
            value, pos = _read_varint(data, pos)
            yield number, wire, value
        elif wire == _BYTES:
            size, pos = _read_varint(data, pos)
            if pos + size > len(data):
                raise ProtobufError("truncated length-delimited field")
            yield number, wire, data[pos : pos + size]
            pos += size
        elif wire == _FIXED64:
            if pos + 8 > len(data):
                raise ProtobufError("truncated fixed64")
            yield number, wire, int.from_bytes(data[pos : pos + 8], "little")
            pos += 8
        elif wire == _FIXED32:
            if pos + 4 > len(data):
                raise ProtobufError("truncated fixed32")
            yield number, wire, int.from_bytes(data[pos : pos + 4], "little")
            pos += 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")


def _bytes(value: int | bytes) -> bytes:
    if not isinstance(value, bytes):
        raise ProtobufError("expected a length-delimited field")
    return value


def _string(value: int | bytes) -> str:
    try:
        return _bytes(value).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtobufError("invalid UTF-8 in string field") from exc


def _int(value: int | bytes) -> int:
    if isinstance(value, bytes):
        raise ProtobufError("expected a varint field")
    return value - (1 << 64) if value >= 1 << 63 else value


def _map_entry(value: int | bytes) -> tuple[str, bytes]:
    key, item = "", b""
    for number, _, field in iter_fields(_bytes(value)):
        if number == 1:
            key = _string(field)
        elif number == 2:
            item = _bytes(field)
    return key, item


def _time(value: int | bytes) -> str | None:
    seconds = 0
    for number, _, field in iter_fields(_bytes(value)):
        if number == 1:
            seconds = _int(field)
    if seconds == 0:
        return None
    return format_time(dt.datetime.fromtimestamp(seconds, tz=dt.UTC))


def _owner_reference(value: int | bytes) -> JSONObject:
    names = {1: "kind", 3: "name", 4: "uid", 5: "apiVersion"}
    ref: JSONObject = {}
    for number, _, field in iter_fields(_bytes(value)):
        if number in names:
            text = _string(field)
            if text:
                ref[names[number]] = text
        elif number == 6:
            ref["controller"] = bool(_int(field))
        elif number == 7:
            ref["blockOwnerDeletion"] = bool(_int(field))
    return ref


def decode_object_meta(data: bytes) -> JSONObject:
    """Decode a ``k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta`` message.

    Raises:
        ProtobufError: the message is malformed.
    """
    strings = {1: "name", 2: "generateName", 3: "namespace", 5: "uid", 6: "resourceVersion"}
    meta: JSONObject = {}
    for number, _, field in iter_fields(data):
        if number in strings:
            text = _string(field)
            if text:
                meta[strings[number]] = text
        elif number == 7:
            if _int(field):
                meta["generation"] = _int(field)
        elif number in (8, 9):
            stamp = _time(field)
            if stamp:
                meta["creationTimestamp" if number == 8 else "deletionTimestamp"] = stamp
        elif number == 10:
            meta["deletionGracePeriodSeconds"] = _int(field)
        elif number in (11, 12):
            key, item = _map_entry(field)
            target = meta.setdefault("labels" if number == 11 else "annotations", {})
            target[key] = item.decode("utf-8", errors="strict")
        elif number == 13:
            meta.setdefault("ownerReferences", []).append(_owner_reference(field))
        elif number == 14:
            meta.setdefault("finalizers", []).append(_string(field))
    return meta


def _decode_secret(data: bytes) -> JSONObject:
    obj: JSONObject = {"apiVersion": "v1", "kind": "Secret", "metadata": {}}
    for number, _, field in iter_fields(data):
        if number == 1:
            obj["metadata"] = decode_object_meta(_bytes(field))
        elif number == 2:
            key, item = _map_entry(field)
            obj.setdefault("data", {})[key] = base64.b64encode(item).decode("ascii")
        elif number == 3:
            text = _string(field)
            if text:
                obj["type"] = text
        elif number == 4:
            key, item = _map_entry(field)
            obj.setdefault("stringData", {})[key] = item.decode("utf-8")
        elif number == 5:
            obj["immutable"] = bool(_int(field))
    return obj


def _decode_configmap(data: bytes) -> JSONObject:
    obj: JSONObject = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}
    for number, _, field in iter_fields(data):
        if number == 1:
            obj["metadata"] = decode_object_meta(_bytes(field))
        elif number == 2:
            key, item = _map_entry(field)
            obj.setdefault("data", {})[key] = item.decode("utf-8")
        elif number == 3:
            key, item = _map_entry(field)
            obj.setdefault("binaryData", {})[key] = base64.b64encode(item).decode("ascii")
        elif number == 4:
            obj["immutable"] = bool(_int(field))
    return obj


def _decode_namespace(data: bytes) -> JSONObject:
    obj: JSONObject = {"apiVersion": "v1", "kind": "Namespace", "metadata": {}}
    for number, _, field in iter_fields(data):
        if number == 1:
            obj["metadata"] = decode_object_meta(_bytes(field))
        elif number == 2:
            finalizers = [_string(f) for n, _, f in iter_fields(_bytes(field)) if n == 1]
            obj["spec"] = {"finalizers": finalizers} if finalizers else {}
        elif number == 3:
            phase = next((_string(f) for n, _, f in iter_fields(_bytes(field)) if n == 1), "")
            obj["status"] = {"phase": phase} if phase else {}
    return obj


_RESOURCE_ATTRIBUTES: Final = {
    1: "namespace",
    2: "verb",
    3: "group",
    4: "version",
    5: "resource",
    6: "subresource",
    7: "name",
}
_NON_RESOURCE_ATTRIBUTES: Final = {1: "path", 2: "verb"}


def _strings_message(data: bytes, names: dict[int, str]) -> JSONObject:
    out: JSONObject = {}
    for number, _, value in iter_fields(data):
        name = names.get(number)
        if name is not None and _string(value):
            out[name] = _string(value)
    return out


def _decode_self_subject_access_review(data: bytes) -> JSONObject:
    # kubectl auth can-i sends this kind as protobuf too (selectors, fields 8-9, are ignored).
    obj: JSONObject = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "metadata": {},
        "spec": {},
    }
    for number, _, value in iter_fields(data):
        if number == 1:
            obj["metadata"] = decode_object_meta(_bytes(value))
        elif number == 2:
            for sub, _, attrs in iter_fields(_bytes(value)):
                if sub == 1:
                    obj["spec"]["resourceAttributes"] = _strings_message(
                        _bytes(attrs), _RESOURCE_ATTRIBUTES
                    )
                elif sub == 2:
                    obj["spec"]["nonResourceAttributes"] = _strings_message(
                        _bytes(attrs), _NON_RESOURCE_ATTRIBUTES
                    )
    return obj


_DECODERS: Final[dict[tuple[str, str], Callable[[bytes], JSONObject]]] = {
    ("v1", "Secret"): _decode_secret,
    ("v1", "ConfigMap"): _decode_configmap,
    ("v1", "Namespace"): _decode_namespace,
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): _decode_self_subject_access_review,
}


def _unsupported() -> StatusError:
    return StatusError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json, application/yaml",
    )


def decode(body: bytes) -> JSONObject:
    """Decode a protobuf request body into the JSON dict form of the object.

    Raises:
        StatusError: 400 BadRequest for a malformed body; 415 UnsupportedMediaType for kinds
            other than v1 Secret, ConfigMap, Namespace and SelfSubjectAccessReview.
    """
    if not body.startswith(MAGIC):
        raise StatusError(
            400,
            "BadRequest",
            "provided data does not appear to be a protobuf message, expected prefix "
            "[107 56 115 0]",
        )
    try:
        api_version = kind = ""
        raw = b""
        encoding = ""
        for number, _, field in iter_fields(body[len(MAGIC) :]):
            if number == 1:
                for sub, _, value in iter_fields(_bytes(field)):
                    if sub == 1:
                        api_version = _string(value)
                    elif sub == 2:
                        kind = _string(value)
            elif number == 2:
                raw = _bytes(field)
            elif number == 3:
                encoding = _string(field)
        decoder = _DECODERS.get((api_version, kind))
        if decoder is None or encoding:
            raise _unsupported()
        return decoder(raw)
    except (ProtobufError, UnicodeDecodeError) as exc:
        raise StatusError(400, "BadRequest", f"unable to decode protobuf body: {exc}") from None
