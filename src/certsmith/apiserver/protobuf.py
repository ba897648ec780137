"""Decode Kubernetes protobuf request bodies of the built-in kinds the server serves.

Imperative ``kubectl create secret|configmap|namespace|role|rolebinding|clusterrole|
clusterrolebinding|ingress`` (and ``kubectl auth can-i``) send
``application/vnd.kubernetes.protobuf`` bodies and have no JSON fallback (K8S-API §1.2, §4.14);
client-go programs configured for protobuf send Events and Leases the same way. A hand-written
wire-format reader (varints and length-delimited fields) driven by field tables
(:mod:`certsmith.apiserver.protoschema`) is smaller and safer than a protobuf dependency plus
generated Kubernetes types. Responses stay JSON: every client that sends protobuf also lists
``application/json`` in Accept.

The envelope is the four-byte magic (``k8s`` + NUL) followed by ``runtime.Unknown{1: typeMeta{1:
apiVersion, 2: kind}, 2: raw, 3: contentEncoding, 4: contentType}``; ``raw`` is the message. The
result is the JSON dict form the rest of the server works with (bytes base64-encoded as in JSON,
times as RFC 3339).

Errors: a malformed body is 400 BadRequest; any other kind is 415, as the apiserver answers for a
media type a resource does not accept.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Final

import orjson

from certsmith.api.errors import StatusError
from certsmith.api.meta import JSON, JSONObject, format_micro_time, format_time
from certsmith.apiserver.protoschema import KINDS, OBJECT_META, Field, Message

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


def _timestamp(value: int | bytes) -> tuple[int, int]:
    seconds = nanos = 0
    for number, _, field in iter_fields(_bytes(value)):
        if number == 1:
            seconds = _int(field)
        elif number == 2:
            nanos = _int(field)
    return seconds, nanos


def _time(value: int | bytes, *, micro: bool) -> str | None:
    seconds, nanos = _timestamp(value)
    if seconds == 0 and nanos == 0:
        return None
    try:
        stamp = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
        stamp += dt.timedelta(microseconds=nanos // 1000)
    except (OverflowError, OSError, ValueError) as exc:
        raise ProtobufError(f"time out of range: {seconds}") from exc
    return format_micro_time(stamp) if micro else format_time(stamp)


def _fields_v1(value: int | bytes) -> JSON:
    raw = b"".join(_bytes(f) for n, _, f in iter_fields(_bytes(value)) if n == 1)
    try:
        return orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError as exc:
        raise ProtobufError("fieldsV1 is not JSON") from exc


def _map_entry(value: int | bytes) -> tuple[str, bytes]:
    key, item = "", b""
    for number, _, field in iter_fields(_bytes(value)):
        if number == 1:
            key = _string(field)
        elif number == 2:
            item = _bytes(field)
    return key, item


_UNSET: Final = object()


def _scalar(spec: Field, value: int | bytes) -> object:
    """One scalar in its JSON form, or ``_UNSET`` for a zero Go's JSON would omit."""
    kind = spec.type
    out: object
    if kind == "string":
        out = _string(value)
    elif kind == "bool":
        out = bool(_int(value))
    elif kind == "int":
        out = _int(value)
    elif kind == "bytes":
        out = base64.b64encode(_bytes(value)).decode("ascii")
    elif kind in ("time", "microtime"):
        return _time(value, micro=kind == "microtime") or _UNSET
    else:  # fieldsv1
        return _fields_v1(value)
    if not out and not spec.keep and not spec.repeated:
        return _UNSET
    return out


def decode_message(data: bytes, message: Message) -> JSONObject:
    """Decode one message by its field table into its JSON dict form.

    Raises:
        ProtobufError: the message is malformed or a field has the wrong wire type.
    """
    out: JSONObject = {}
    for number, _, value in iter_fields(data):
        spec = message.get(number)
        if spec is None:
            continue
        kind = spec.type
        if isinstance(kind, Mapping):
            nested = decode_message(_bytes(value), kind)
            if spec.inline:
                out.update(nested)
            elif spec.repeated:
                out.setdefault(spec.name, []).append(nested)
            else:
                out[spec.name] = nested
        elif kind in ("map<string>", "map<bytes>"):
            key, item = _map_entry(value)
            binary = kind == "map<bytes>"
            text = base64.b64encode(item).decode("ascii") if binary else _string(item)
            out.setdefault(spec.name, {})[key] = text
        else:
            scalar = _scalar(spec, value)
            if scalar is _UNSET:
                continue
            if spec.repeated:
                out.setdefault(spec.name, []).append(scalar)
            else:
                out[spec.name] = scalar
    return out


def decode_object_meta(data: bytes) -> JSONObject:
    """Decode a ``k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta`` message.

    Raises:
        ProtobufError: the message is malformed.
    """
    return decode_message(data, OBJECT_META)


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
            without a field table in :data:`certsmith.apiserver.protoschema.KINDS`.
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
        message = KINDS.get((api_version, kind))
        if message is None or encoding:
            raise _unsupported()
        obj: JSONObject = {"apiVersion": api_version, "kind": kind, "metadata": {}}
        obj.update(decode_message(raw, message))
        return obj
    except ProtobufError as exc:
        raise StatusError(400, "BadRequest", f"unable to decode protobuf body: {exc}") from None
