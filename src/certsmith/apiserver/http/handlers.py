"""The resource verbs: get, list, create, update (PUT), delete, deletecollection.

Each handler is parse → strategy (:mod:`.objects`) → prune/validate (:mod:`.fields`) →
admission (:mod:`certsmith.apiserver.admission`) → store. Nothing is written before every
check has passed, so a rejected request leaves no trace; ``dryRun=All`` stops right before
the store. Writes to an existing object go through :func:`write_update`, which re-reads and
retries when another writer got in between, unless the client pinned a resourceVersion (then
the race is the client's 409, as in kube).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import Callable
from typing import Final

from aiohttp import web

from certsmith.api.errors import FieldError, InvalidError, StatusError
from certsmith.api.meta import JSONObject, UserInfo
from certsmith.apiserver import admission
from certsmith.apiserver.http import managed, objects
from certsmith.apiserver.http.body import decode_object, parse_json, read_body
from certsmith.apiserver.http.context import ApiContext, context_of, user_of
from certsmith.apiserver.http.errors import json_response, method_not_allowed
from certsmith.apiserver.http.fields import check_unknown_fields, parse_field_validation
from certsmith.apiserver.http.params import (
    is_dry_run,
    non_negative_int,
    resource_version_match,
    selection,
)
from certsmith.apiserver.http.responses import list_body, list_response, object_response
from certsmith.apiserver.http.target import Target
from certsmith.apiserver.selectors import dns1123_subdomain_errors, path_segment_name_errors
from certsmith.apiserver.storage import (
    AlreadyExistsError,
    ConflictError,
    NotFoundError,
    ObjectKey,
    ResourcePrefix,
)

_log = logging.getLogger(__name__)

_WRITE_ATTEMPTS = 8
_GENERATE_NAME_ATTEMPTS = 8


def namespace_key(name: str) -> ObjectKey:
    """The storage key of a Namespace."""
    return ObjectKey("", "namespaces", "", name)


async def require_namespace(ctx: ApiContext, namespace: str) -> None:
    """Refuse writes into a missing (404) or terminating (403) namespace.

    Raises:
        StatusError: 404 ``namespaces "x" not found`` or 403 while it terminates.
    """
    try:
        ns = await ctx.store.get(namespace_key(namespace))
    except NotFoundError:
        raise StatusError(
            404,
            "NotFound",
            f'namespaces "{namespace}" not found',
            {"name": namespace, "kind": "namespaces"},
        ) from None
    if ns["metadata"].get("deletionTimestamp"):
        raise StatusError(
            403,
            "Forbidden",
            f"unable to create new content in namespace {namespace} because it is being terminated",
            {"name": namespace, "kind": "namespaces"},
        )


async def get_object(request: web.Request, target: Target) -> web.StreamResponse:
    """GET one object (or its ``/status``)."""
    obj = await context_of(request).store.get(target.key)
    return object_response(request, target.rt, obj)


async def list_objects(request: web.Request, target: Target) -> web.StreamResponse:
    """GET a collection: selectors, pagination, resourceVersion, Tables."""
    ctx = context_of(request)
    sel = selection(request, target.rt)
    result = await ctx.store.list(
        target.prefix,
        limit=non_negative_int(request.query, "limit"),
        continue_token=request.query.get("continue") or None,
        resource_version=request.query.get("resourceVersion"),
        resource_version_match=resource_version_match(request.query),
        predicate=sel.predicate(),
    )
    return list_response(request, target.rt, result)


RBAC_GROUP: Final = "rbac.authorization.k8s.io"


def _check_name(target: Target, obj: JSONObject) -> None:
    name = obj["metadata"]["name"]
    if target.rt.group == RBAC_GROUP:
        problems = path_segment_name_errors(name)
    else:
        problems = dns1123_subdomain_errors(name)
    if problems:
        raise InvalidError(
            target.rt.group,
            target.rt.kind,
            name,
            [FieldError.invalid("metadata.name", name, "; ".join(problems))],
        )


async def create_object(
    request: web.Request,
    target: Target,
    obj: JSONObject | None = None,
    *,
    warnings: list[str] | None = None,
) -> web.StreamResponse:
    """POST a new object (also the create-on-apply path of PATCH, which passes ``obj``).

    Raises:
        StatusError: any rejection, with nothing stored.
    """
    ctx = context_of(request)
    rt = target.rt
    if target.name is not None and obj is None:
        raise method_not_allowed(request.method)
    if rt.namespaced and target.namespace is None:
        raise method_not_allowed(request.method)
    warnings = list(warnings or [])
    from_body = obj is None  # apply-created objects already carry their Apply entry
    if obj is None:
        obj = decode_object(await read_body(request), request.headers.get("Content-Type"))
        validation = parse_field_validation(request.query.get("fieldValidation"))
        warnings += check_unknown_fields(rt, obj, validation)
    dry_run = is_dry_run(request)
    objects.prepare_create(rt, obj, target.namespace or "")
    if target.name is not None and obj["metadata"].get("name") not in (None, target.name):
        raise StatusError(400, "BadRequest", "the name of the object does not match the URL")
    if rt.namespaced:
        await require_namespace(ctx, target.namespace or "")
    generated = not obj["metadata"].get("name")
    for _ in range(_GENERATE_NAME_ATTEMPTS):
        candidate = copy.deepcopy(obj)
        name = objects.assign_name(candidate)
        _check_name(target, candidate)
        result = admission.admit_create(rt.group, rt.plural, candidate, user_of(request))
        warnings += result.warnings
        new = managed.record_write(request, rt, None, result.obj) if from_body else result.obj
        key = ObjectKey(rt.group, rt.plural, target.namespace or "", name)
        if dry_run:
            return object_response(request, rt, new, status=201, warnings=warnings)
        try:
            stored = await ctx.store.create(key, new)
        except AlreadyExistsError:
            if not generated:
                raise
            continue
        return object_response(request, rt, stored, status=201, warnings=warnings)
    raise StatusError(500, "InternalError", "could not generate a unique name")


def _resource_version(obj: JSONObject) -> str | None:
    """The request object's ``metadata.resourceVersion`` (none when metadata is no object)."""
    meta = obj.get("metadata")
    return meta.get("resourceVersion") if isinstance(meta, dict) else None


Compute = Callable[[JSONObject], JSONObject]
"""Turns (a private copy of) the stored object into the requested one."""


async def write_update(
    request: web.Request,
    target: Target,
    compute: Compute,
    *,
    expected_rv: str | None,
    warnings: list[str],
    pin_rv_from_result: bool = False,
    record_manager: bool = True,
) -> web.StreamResponse:
    """Read, compute, check and store an update of an existing object.

    ``expected_rv`` is the client's precondition (PUT body rv); with ``pin_rv_from_result``
    a resourceVersion left in the computed object (a patch that carried one) is one too.
    ``record_manager`` adds the writer's ``Update`` managedFields entry (server-side apply,
    which keeps its own entries, turns it off).

    Raises:
        StatusError: 404, 409, 422, 403 (admission), ... with nothing stored.
    """
    ctx = context_of(request)
    rt = target.rt
    key = target.key
    user: UserInfo = user_of(request)
    dry_run = is_dry_run(request)
    for _ in range(_WRITE_ATTEMPTS):
        old = await ctx.store.get(key)
        old_rv = old["metadata"]["resourceVersion"]
        if expected_rv and expected_rv != old_rv:
            raise ConflictError(key)
        candidate = compute(copy.deepcopy(old))
        pinned = expected_rv
        if pin_rv_from_result:
            result_rv = _resource_version(candidate)
            if result_rv and result_rv != old_rv:
                raise ConflictError(key)
            pinned = pinned or result_rv
        if target.subresource == "status":
            new = objects.prepare_status_update(rt, old, candidate)
        else:
            new = objects.prepare_update(rt, old, candidate)
        warnings = warnings + admission.admit_update(
            rt.group,
            rt.plural,
            old,
            new,
            user,
            subresource=target.subresource,
            approval=ctx.approval,
        )
        if record_manager:
            new = managed.record_write(request, rt, old, new, subresource=target.subresource)
        if objects.should_remove(new):
            if dry_run:
                return object_response(request, rt, new, warnings=warnings)
            try:
                gone = await ctx.store.delete(key, expected_rv=old_rv)
            except ConflictError:
                if pinned:
                    raise
                continue
            return object_response(request, rt, gone, warnings=warnings)
        new["metadata"]["resourceVersion"] = old_rv
        if dry_run:
            return object_response(request, rt, new, warnings=warnings)
        try:
            stored = await ctx.store.update(key, new, expected_rv=old_rv)
        except ConflictError:
            if pinned:
                raise
            continue
        return object_response(request, rt, stored, warnings=warnings)
    raise ConflictError(key)


async def replace_object(request: web.Request, target: Target) -> web.StreamResponse:
    """PUT an object or its ``/status``."""
    if target.name is None:
        raise method_not_allowed(request.method)
    body = decode_object(await read_body(request), request.headers.get("Content-Type"))
    validation = parse_field_validation(request.query.get("fieldValidation"))
    warnings = check_unknown_fields(target.rt, body, validation)
    expected = _resource_version(body) or None

    def compute(_old: JSONObject) -> JSONObject:
        return copy.deepcopy(body)

    return await write_update(request, target, compute, expected_rv=expected, warnings=warnings)


async def _delete_options(request: web.Request) -> JSONObject:
    raw = await read_body(request)
    options: JSONObject = {}
    if raw.strip():
        parsed = parse_json(raw)
        if isinstance(parsed, dict):
            options = parsed
    for name in ("propagationPolicy", "gracePeriodSeconds", "orphanDependents"):
        if name in request.query and name not in options:
            options[name] = request.query[name]
    return options


def _propagation(options: JSONObject) -> str | None:
    policy = options.get("propagationPolicy")
    if policy is None and options.get("orphanDependents") in (True, "true"):
        return "Orphan"
    if policy not in (None, "Background", "Foreground", "Orphan"):
        raise StatusError(
            422,
            "Invalid",
            f'propagationPolicy: Unsupported value: "{policy}": supported values: '
            '"Foreground", "Background", "Orphan"',
        )
    return str(policy) if policy else None


async def delete_one(
    ctx: ApiContext,
    target: Target,
    key: ObjectKey,
    *,
    propagation: str | None,
    preconditions: object,
    dry_run: bool,
) -> tuple[int, JSONObject]:
    """Delete or mark one object; returns (HTTP status, object).

    Raises:
        StatusError: 404, 409 (preconditions or lost races).
    """
    rt = target.rt
    for _ in range(_WRITE_ATTEMPTS):
        old = await ctx.store.get(key)
        objects.check_preconditions(old, preconditions, ConflictError(key))
        if objects.is_namespace(rt):
            return await _delete_namespace(ctx, old, dry_run=dry_run)
        if objects.needs_finalizing(old, propagation):
            marked = objects.mark_deleting(old, propagation)
            if dry_run or marked == old:
                return 202, marked
            try:
                stored = await ctx.store.update(
                    key, marked, expected_rv=old["metadata"]["resourceVersion"]
                )
            except ConflictError:
                continue
            return 202, stored
        if dry_run:
            return 200, old
        try:
            gone = await ctx.store.delete(key, expected_rv=old["metadata"]["resourceVersion"])
        except ConflictError:
            continue
        return 200, gone
    raise ConflictError(key)


async def delete_object(request: web.Request, target: Target) -> web.StreamResponse:
    """DELETE one object: 200 when gone now, 202 while finalizers are pending."""
    ctx = context_of(request)
    if target.subresource is not None:
        raise method_not_allowed(request.method)
    options = await _delete_options(request)
    dry_run = is_dry_run(request) or options.get("dryRun") == ["All"]
    status, obj = await delete_one(
        ctx,
        target,
        target.key,
        propagation=_propagation(options),
        preconditions=options.get("preconditions"),
        dry_run=dry_run,
    )
    return object_response(request, target.rt, obj, status=status)


async def delete_collection(request: web.Request, target: Target) -> web.StreamResponse:
    """DELETE a collection: every selected object, one by one."""
    ctx = context_of(request)
    if "deletecollection" not in target.rt.verbs:
        raise method_not_allowed(request.method)
    options = await _delete_options(request)
    sel = selection(request, target.rt)
    dry_run = is_dry_run(request)
    page = await ctx.store.list(target.prefix, predicate=sel.predicate())
    deleted: list[JSONObject] = []
    for obj in page.items:
        meta = obj["metadata"]
        key = ObjectKey(target.rt.group, target.rt.plural, meta.get("namespace", ""), meta["name"])
        try:
            _, gone = await delete_one(
                ctx,
                target,
                key,
                propagation=_propagation(options),
                preconditions=None,
                dry_run=dry_run,
            )
        except NotFoundError:
            continue
        deleted.append(gone)
    return json_response(list_body(target.rt, deleted, page.resource_version))


# --- namespaces -----------------------------------------------------------------------------


async def _delete_namespace(
    ctx: ApiContext, ns: JSONObject, *, dry_run: bool
) -> tuple[int, JSONObject]:
    """Mark a namespace Terminating and start emptying it (K8S-API §4.17)."""
    if dry_run:
        return 200, ns
    name = ns["metadata"]["name"]

    def mark(obj: JSONObject) -> JSONObject:
        obj["metadata"].setdefault("deletionTimestamp", objects.now_time())
        obj["metadata"].setdefault("deletionGracePeriodSeconds", 0)
        obj["status"] = {"phase": "Terminating"}
        return obj

    marked = await ctx.store.guaranteed_update(namespace_key(name), mark)
    task = asyncio.create_task(finalize_namespace(ctx, name), name=f"finalize-ns-{name}")
    ctx.background.add(task)
    task.add_done_callback(ctx.background.discard)
    return 200, marked


async def finalize_namespace(ctx: ApiContext, name: str, *, poll: float = 0.2) -> None:
    """Delete everything in a terminating namespace, then the namespace itself."""
    while True:
        remaining = 0
        done: set[tuple[str, str]] = set()
        for rt in list(ctx.registry):
            if not rt.namespaced or (rt.group, rt.plural) in done:
                continue
            done.add((rt.group, rt.plural))
            prefix = ResourcePrefix(rt.group, rt.plural, name)
            page = await ctx.store.list(prefix)
            for obj in page.items:
                remaining += 1
                if obj["metadata"].get("deletionTimestamp"):
                    continue
                key = ObjectKey(rt.group, rt.plural, name, obj["metadata"]["name"])
                target = Target(rt, name, key.name, None)
                with contextlib.suppress(NotFoundError, ConflictError):
                    await delete_one(
                        ctx, target, key, propagation=None, preconditions=None, dry_run=False
                    )
        if remaining == 0:
            break
        await asyncio.sleep(poll)
    with contextlib.suppress(NotFoundError):
        await ctx.store.delete(namespace_key(name))
    _log.info("namespace %s deleted", name)
