"""A tiny protobuf wire encoder for tests: bodies laid out as kubectl's generated Go marshalers
write them (every proto2 scalar of a non-pointer Go field written, even when empty).

Field numbers are written out by hand in the tests, from Kubernetes' ``generated.proto``, so
the tests check the server's field tables rather than repeat them.
"""

from __future__ import annotations

MAGIC = b"k8s\x00"


def varint(value: int) -> bytes:
    """Base-128 varint; negative numbers as 64-bit two's complement, as Go writes int64."""
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field_bytes(number: int, payload: bytes | str) -> bytes:
    """A length-delimited field (string, bytes or nested message)."""
    raw = payload.encode() if isinstance(payload, str) else payload
    return varint(number << 3 | 2) + varint(len(raw)) + raw


def field_varint(number: int, value: int) -> bytes:
    """A varint field (bool, int32, int64)."""
    return varint(number << 3) + varint(value)


def message(number: int, *parts: bytes) -> bytes:
    """A nested message field made of already encoded fields."""
    return field_bytes(number, b"".join(parts))


def map_entries(number: int, mapping: dict[str, bytes | str]) -> bytes:
    """A protobuf map: one ``{1 key, 2 value}`` entry per item."""
    return b"".join(
        field_bytes(number, field_bytes(1, k) + field_bytes(2, v)) for k, v in mapping.items()
    )


def timestamp(number: int, seconds: int, nanos: int = 0) -> bytes:
    """A ``metav1.Time``/``MicroTime`` field."""
    return message(number, field_varint(1, seconds), field_varint(2, nanos))


def object_meta(
    name: str = "",
    namespace: str = "",
    generate_name: str = "",
    labels: dict[str, bytes | str] | None = None,
    annotations: dict[str, bytes | str] | None = None,
    finalizers: tuple[str, ...] = (),
    created: int = 0,
    owner: dict[str, str] | None = None,
) -> bytes:
    """An ObjectMeta message as kubectl writes it for a new object."""
    out = field_bytes(1, name) + field_bytes(2, generate_name) + field_bytes(3, namespace)
    out += field_bytes(5, "") + field_bytes(6, "") + field_varint(7, 0)
    out += timestamp(8, created)
    out += map_entries(11, labels or {}) + map_entries(12, annotations or {})
    if owner:
        out += field_bytes(
            13,
            field_bytes(1, owner["kind"])
            + field_bytes(3, owner["name"])
            + field_bytes(4, owner["uid"])
            + field_bytes(5, owner["apiVersion"])
            + field_varint(6, 1),
        )
    for fin in finalizers:
        out += field_bytes(14, fin)
    return out


def envelope(api_version: str, kind: str, raw: bytes, encoding: str = "") -> bytes:
    """The ``k8s\\0`` magic + ``runtime.Unknown{typeMeta, raw, contentEncoding, contentType}``."""
    type_meta = field_bytes(1, api_version) + field_bytes(2, kind)
    unknown = field_bytes(1, type_meta) + field_bytes(2, raw) + field_bytes(3, encoding)
    unknown += field_bytes(4, "")
    return MAGIC + unknown
