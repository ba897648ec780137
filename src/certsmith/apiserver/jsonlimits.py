"""What a decoded request body may contain: only what the store and every response can write.

Bodies arrive as JSON, YAML or protobuf and are parsed by three different decoders, while every
object leaves through orjson (store, lists, watch events, Tables). orjson refuses more than 254
levels of nesting, integers outside 64 bits, lone UTF-16 surrogates, non-string keys, sets and
bytes, and the Python code that walks objects (pruning, patches, managedFields) recurses once or
twice per level. A body past these limits is refused with 400 on the way in, before anything is
stored; otherwise one stored object would make every later list, watch and Table of its
collection fail (fuzzing found that).

Kubernetes objects seldom nest past 20 levels; :data:`MAX_DEPTH` leaves room for embedded
resources and free-form JSON under ``x-kubernetes-preserve-unknown-fields``, and for the few
levels a watch event, a Table row and ``managedFields`` add on the way out.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Final

MAX_DEPTH: Final = 100
"""Deepest nesting of objects and arrays accepted in a request body."""

_INT_MIN: Final = -(2**63)
_INT_MAX: Final = 2**64 - 1


def _is_utf8(text: str) -> bool:
    """False for lone surrogates (a JSON escape of half a pair), which UTF-8 cannot encode."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def json_problem(value: Any, max_depth: int = MAX_DEPTH) -> str | None:
    """Why ``value`` cannot be stored as JSON, or ``None`` when it can.

    YAML dates and timestamps pass: orjson writes them as RFC 3339 strings.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= max_depth:
                return f"exceeded max depth of {max_depth}"
            if isinstance(item, dict):
                for key, child in item.items():
                    if not isinstance(key, str):
                        return f"object key {key!r} is not a string"
                    if not _is_utf8(key):
                        return f"object key {key!r} is not valid UTF-8"
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            if not _is_utf8(item):
                return f"string {item[:40]!r} is not valid UTF-8"
        elif item is None or isinstance(item, bool | dt.date):
            continue
        elif isinstance(item, int):
            if not _INT_MIN <= item <= _INT_MAX:
                return f"number {item} overflows a 64-bit integer"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return f"number {item} is not finite"
        else:
            return f"unsupported value of type {type(item).__name__}"
    return None
