"""Lenient readers of wire JSON: a field that is missing or malformed reads as empty.

The diagnosis reads objects as plain JSON rather than through the strict :mod:`certsmith.api`
models: against a real cluster a newer cert-manager may have added fields or values the models
reject, and a diagnosis that fails on exactly the odd object is no diagnosis.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from certsmith.status.model import ConditionInfo

JSONObject = dict[str, Any]


def mapping(obj: Any, *path: str) -> Mapping[str, Any]:
    """``obj[path[0]][path[1]]...`` if every step is a mapping, else an empty mapping."""
    current: Any = obj
    for key in path:
        current = current.get(key) if isinstance(current, Mapping) else None
    return current if isinstance(current, Mapping) else {}


def text(obj: Mapping[str, Any], key: str) -> str:
    """``obj[key]`` as a string (``""`` when absent or not a scalar)."""
    value = obj.get(key)
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    return ""


def integer(obj: Mapping[str, Any], key: str) -> int | None:
    """``obj[key]`` as an int, or ``None``."""
    value = obj.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def strings(obj: Mapping[str, Any], key: str) -> tuple[str, ...]:
    """``obj[key]`` as a tuple of strings (non-strings skipped)."""
    value = obj.get(key)
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))


def parse_time(value: object) -> dt.datetime | None:
    """An RFC 3339 timestamp as an aware UTC datetime; ``None`` when absent or malformed."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(dt.UTC) if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def time_at(obj: Mapping[str, Any], key: str) -> dt.datetime | None:
    """``obj[key]`` parsed as a time."""
    return parse_time(obj.get(key))


def conditions(obj: Mapping[str, Any]) -> tuple[ConditionInfo, ...]:
    """The object's ``status.conditions``, skipping malformed entries."""
    raw = mapping(obj, "status").get("conditions")
    found: list[ConditionInfo] = []
    for cond in raw if isinstance(raw, list) else ():
        if not isinstance(cond, Mapping) or not isinstance(cond.get("type"), str):
            continue
        found.append(
            ConditionInfo(
                type=cond["type"],
                status=text(cond, "status") or "Unknown",
                reason=text(cond, "reason"),
                message=text(cond, "message"),
                last_transition_time=time_at(cond, "lastTransitionTime"),
                observed_generation=integer(cond, "observedGeneration"),
            )
        )
    return tuple(found)


def controller_uid(obj: Mapping[str, Any]) -> str | None:
    """The uid of the object's controlling owner, or ``None``."""
    refs = mapping(obj, "metadata").get("ownerReferences")
    for ref in refs if isinstance(refs, list) else ():
        if isinstance(ref, Mapping) and ref.get("controller") is True and ref.get("uid"):
            return str(ref["uid"])
    return None
