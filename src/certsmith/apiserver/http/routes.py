"""URL dispatch: non-resource paths (version, health, discovery, OpenAPI) and resources.

One catch-all route feeds :func:`dispatch`, which strips trailing slashes (kr8s sends
``/api/``) and picks the handler by path shape and method. Discovery negotiation and
OpenAPI documents come from :mod:`certsmith.apiserver.discovery` and
:mod:`certsmith.apiserver.openapi`; this module only frames them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web

from certsmith.apiserver import discovery
from certsmith.apiserver.http import handlers, reviews
from certsmith.apiserver.http.context import context_of
from certsmith.apiserver.http.errors import json_response, method_not_allowed, not_found_path
from certsmith.apiserver.http.params import flag
from certsmith.apiserver.http.patching import patch_object
from certsmith.apiserver.http.target import Target, parse_target
from certsmith.apiserver.http.watch import serve_watch

ResourceHandler = Callable[[web.Request, Target], Awaitable[web.StreamResponse]]

PUBLIC_PATHS: Final = frozenset({"/version", "/healthz", "/readyz", "/livez"})
"""Paths kube's default RBAC lets anyone read (system:public-info-viewer)."""


def _text(body: str) -> web.Response:
    return web.Response(text=body, content_type="text/plain")


async def _resource(request: web.Request, target: Target) -> web.StreamResponse:
    method = request.method
    named = target.name is not None
    if method == "GET":
        if flag(request.query, "watch"):
            return await serve_watch(request, target)
        return await (handlers.get_object if named else handlers.list_objects)(request, target)
    if method == "POST":
        return await handlers.create_object(request, target)
    if method == "PUT" and named:
        return await handlers.replace_object(request, target)
    if method == "PATCH" and named:
        return await patch_object(request, target)
    if method == "DELETE":
        if named:
            return await handlers.delete_object(request, target)
        return await handlers.delete_collection(request, target)
    raise method_not_allowed(method)


def _openapi(request: web.Request, parts: list[str]) -> web.StreamResponse:
    ctx = context_of(request)
    if parts == ["openapi", "v3"]:
        return json_response(ctx.openapi.index())
    if len(parts) > 2 and parts[:2] == ["openapi", "v3"]:
        found = ctx.openapi.document("/".join(parts[2:]))
        if found is not None:
            doc, digest = found
            headers = {"Etag": f'"{digest}"'}
            if request.query.get("hash") == digest:
                headers["Cache-Control"] = "public, immutable"
            return json_response(doc, headers=headers)
    raise not_found_path()


async def dispatch(request: web.Request) -> web.StreamResponse:
    """Route one request.

    Raises:
        StatusError: 404 for unknown paths, 405 for unsupported verbs, and every handler error.
    """
    ctx = context_of(request)
    path = request.path.rstrip("/") or "/"
    parts = [p for p in path.split("/") if p]
    method = request.method
    if path in ("/healthz", "/readyz", "/livez") and method == "GET":
        return _text("ok")
    if path == "/version" and method == "GET":
        return json_response(discovery.version_info())
    if parts[:1] == ["openapi"] and method == "GET":
        return _openapi(request, parts)
    registry = ctx.registry
    accept = request.headers.get("Accept")
    if parts[:1] == ["api"]:
        if len(parts) == 1 and method == "GET":
            ctype, body = discovery.root_discovery(
                registry, core=True, accept=accept, server_address=ctx.server_address
            )
            return json_response(body, content_type=ctype)
        if len(parts) >= 2 and parts[1] == "v1":
            if len(parts) == 2 and method == "GET":
                doc = discovery.api_resource_list(registry, "", "v1")
                if doc is None:
                    raise not_found_path()
                return json_response(doc)
            return await _resource(request, parse_target(registry, "", "v1", parts[2:]))
        raise not_found_path()
    if parts[:1] == ["apis"]:
        if len(parts) == 1 and method == "GET":
            ctype, body = discovery.root_discovery(
                registry, core=False, accept=accept, server_address=ctx.server_address
            )
            return json_response(body, content_type=ctype)
        if len(parts) == 2 and method == "GET":
            group_doc = discovery.api_group(registry, parts[1])
            if group_doc is None:
                raise not_found_path()
            return json_response(group_doc)
        if len(parts) == 3 and method == "GET":
            doc = discovery.api_resource_list(registry, parts[1], parts[2])
            if doc is None:
                raise not_found_path()
            return json_response(doc)
        if path == reviews.PATH and method == "POST":
            return await reviews.self_subject_access_review(request)
        if len(parts) > 3:
            if not registry.resources(parts[1], parts[2]):
                raise not_found_path()
            return await _resource(request, parse_target(registry, parts[1], parts[2], parts[3:]))
    raise not_found_path()
