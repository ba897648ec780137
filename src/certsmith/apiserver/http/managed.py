"""``managedFields`` for ordinary writes: create, update (PUT) and non-apply PATCH.

Server-side apply can only report a conflict with a field someone *else* set if that someone
is on record, so every ordinary write adds an ``Update`` entry for its manager, as
kube-apiserver's field manager does (the field bookkeeping itself is
:func:`certsmith.apiserver.patch.record_update`). Decisions:

* The manager is ``?fieldManager=``, else the User-Agent's product name (the part before the
  first ``/``: ``kubectl``, ``OpenAPI-Generator``), as kube names it.
* A write that changes nothing but ``managedFields`` keeps the stored entries: no timestamp
  churn, so a no-op update stays a no-op (no new resourceVersion, no watch event).
* ``managedFields`` sent by the client replace the stored ones when they differ: ``kubectl
  apply --server-side`` upgrades client-side-apply ownership that way. An empty list is
  ignored (clients unaware of the field must not wipe it) and ``[{}]`` resets it, as in kube.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from aiohttp import web

from certsmith.api.meta import JSONObject
from certsmith.apiserver.patch import record_update
from certsmith.apiserver.resources import ResourceType

_MAX_MANAGER_LENGTH: Final = 128
_VOLATILE_META: Final = frozenset({"managedFields", "resourceVersion"})


def manager_of(request: web.Request) -> str:
    """Who is writing: ``?fieldManager=`` or the User-Agent's product name."""
    manager = request.query.get("fieldManager")
    if not manager:
        agent = request.headers.get("User-Agent") or "unknown"
        manager = agent.split("/", 1)[0].strip() or "unknown"
    return manager[:_MAX_MANAGER_LENGTH]


def _content(obj: JSONObject) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    return {
        **obj,
        "metadata": {k: v for k, v in meta.items() if k not in _VOLATILE_META},
    }


def _base(old: JSONObject | None, new: JSONObject) -> JSONObject | None:
    """``old`` with the client's managedFields in place of the stored ones, if it sent any."""
    incoming = (new.get("metadata") or {}).get("managedFields")
    if old is None or not incoming:
        return old
    stored = old["metadata"].get("managedFields")
    if incoming == stored:
        return old
    entries = [e for e in incoming if isinstance(e, dict) and e]  # ``[{}]`` resets
    meta = {k: v for k, v in old["metadata"].items() if k != "managedFields"}
    if entries:
        meta["managedFields"] = entries
    return {**old, "metadata": meta}


def record_write(
    request: web.Request,
    rt: ResourceType,
    old: JSONObject | None,
    new: JSONObject,
    *,
    subresource: str | None = None,
) -> JSONObject:
    """``new`` with ``managedFields`` updated for this request's (non-apply) write."""
    base = _base(old, new)
    if base is not None and _content(base) == _content(new):
        out = dict(new)
        meta = {k: v for k, v in new["metadata"].items() if k != "managedFields"}
        if base["metadata"].get("managedFields"):
            meta["managedFields"] = base["metadata"]["managedFields"]
        out["metadata"] = meta
        return out
    if base is None:
        incoming = new["metadata"].get("managedFields")
        if isinstance(incoming, list) and not any(isinstance(e, dict) and e for e in incoming):
            meta = {k: v for k, v in new["metadata"].items() if k != "managedFields"}
            new = {**new, "metadata": meta}
    return record_update(
        base,
        new,
        manager=manager_of(request),
        api_version=rt.api_version,
        now=dt.datetime.now(dt.UTC),
        subresource=subresource,
    )
