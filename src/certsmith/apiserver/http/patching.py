"""PATCH: merge, JSON, strategic merge and server-side apply (K8S-API §4.12, §4.13).

The patch algebra lives in :mod:`certsmith.apiserver.patch`; this module wires it into the
update path (:func:`~certsmith.apiserver.http.handlers.write_update`): the patch is applied
to the freshly read object on every attempt, a resourceVersion carried by the patch is a
precondition (409 when stale), and apply-patch creates the object when it does not exist.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from aiohttp import web

from certsmith.api.meta import JSONObject
from certsmith.apiserver.http import handlers
from certsmith.apiserver.http.body import read_body
from certsmith.apiserver.http.context import context_of
from certsmith.apiserver.http.fields import check_unknown_fields, parse_field_validation
from certsmith.apiserver.http.params import flag
from certsmith.apiserver.http.target import Target
from certsmith.apiserver.patch import (
    PatchType,
    apply_patch,
    last_applied_fields,
    parse_apply_body,
    patch_type_for,
    server_side_apply,
)
from certsmith.apiserver.storage import NotFoundError


async def patch_object(request: web.Request, target: Target) -> web.StreamResponse:
    """PATCH one object or its ``/status``.

    Raises:
        StatusError: 415 for unsupported patch types, 422/400 for bad patches, and every
            update failure.
    """
    rt = target.rt
    patch_type = patch_type_for(request.headers.get("Content-Type"), rt)
    body = await read_body(request)
    validation = parse_field_validation(request.query.get("fieldValidation"))
    warnings: list[str] = []
    manager = request.query.get("fieldManager")
    if patch_type is PatchType.APPLY:
        force = flag(request.query, "force")
        ctx = context_of(request)
        try:
            await ctx.store.get(target.key)
        except NotFoundError:
            if target.subresource is not None:
                raise
            result = server_side_apply(
                None, body, rt=rt, field_manager=manager, force=force, now=dt.datetime.now(dt.UTC)
            )
            obj = result.object
            warnings += check_unknown_fields(rt, obj, validation)
            obj.setdefault("metadata", {}).setdefault("name", target.name)
            return await handlers.create_object(request, target, obj, warnings=warnings)
        parse_apply_body(body)  # reject undecodable bodies before any read-modify-write

        def apply(old: JSONObject) -> JSONObject:
            result = server_side_apply(
                old,
                body,
                rt=rt,
                field_manager=manager,
                force=force,
                now=dt.datetime.now(dt.UTC),
                subresource=target.subresource,
                allowed_conflicts=last_applied_fields(old, manager),
            )
            return result.object

        compute: Callable[[JSONObject], JSONObject] = apply
    else:

        def patch(old: JSONObject) -> JSONObject:
            return apply_patch(patch_type, old, body, rt)

        compute = patch

    def checked(old: JSONObject) -> JSONObject:
        new = compute(old)
        warnings.extend(check_unknown_fields(rt, new, validation))
        return new

    return await handlers.write_update(
        request,
        target,
        checked,
        expected_rv=None,
        warnings=warnings,
        pin_rv_from_result=True,
        record_manager=patch_type is not PatchType.APPLY,
    )
