"""Shaping objects and lists for the wire: plain JSON, ``{Kind}List``, a ``Table`` or metadata.

The shape comes from the Accept header (:mod:`.negotiate`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Final

from aiohttp import web

from certsmith.api.meta import JSONObject
from certsmith.apiserver.http.errors import dumps, json_response
from certsmith.apiserver.http.negotiate import PARTIAL, PARTIAL_LIST, TABLE, Rendering, negotiate
from certsmith.apiserver.resources import ResourceType
from certsmith.apiserver.storage import ListResult
from certsmith.apiserver.tables import (
    TableConverter,
    parse_include_object,
    partial_object_metadata,
)

_WARNING_ESCAPES: Final = {"\\": "\\\\", '"': '\\"', "\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _warning_text(text: str) -> str:
    """Quote ``text`` for a header: control characters would make aiohttp drop the connection."""
    return "".join(
        _WARNING_ESCAPES.get(ch) or (f"\\x{ord(ch):02x}" if ch < " " or ch == "\x7f" else ch)
        for ch in text
    )


def warning_headers(response: web.StreamResponse, warnings: Iterable[str]) -> None:
    """Add one ``Warning: 299`` header per warning; kubectl prints them as ``Warning: ...``."""
    for text in warnings:
        response.headers.add("Warning", f'299 - "{_warning_text(text)}"')


def rendering(request: web.Request) -> Rendering:
    """The response shape the request's Accept header asks for."""
    return negotiate(request.headers.get("Accept"))


def table_converter(
    request: web.Request, rt: ResourceType, shape: Rendering | None = None
) -> TableConverter | None:
    """A Table converter when the Accept header asks for a Table, else ``None``."""
    shape = shape or rendering(request)
    return TableConverter(rt, version=shape.version) if shape.as_kind == TABLE else None


def object_response(
    request: web.Request,
    rt: ResourceType,
    obj: JSONObject,
    *,
    status: int = 200,
    warnings: Iterable[str] = (),
) -> web.Response:
    """One object, as a one-row Table or its metadata when the client asked for those.

    Raises:
        StatusError: 406 when the client asked for a list conversion.
    """
    shape = rendering(request)
    shape.require_object()
    converter = table_converter(request, rt, shape)
    if shape.as_kind == PARTIAL:
        response = json_response(partial_object_metadata(obj, shape.version), status=status)
    elif converter is not None:
        include = parse_include_object(request.query.get("includeObject"))
        rv = obj.get("metadata", {}).get("resourceVersion")
        body: JSONObject = converter.table(
            [obj],
            now=dt.datetime.now(dt.UTC),
            include=include,
            list_metadata={"resourceVersion": rv} if rv else {},
        )
        response = json_response(body, status=status)
    else:
        response = json_response(obj, status=status)
    warning_headers(response, warnings)
    return response


def _list_metadata(result: ListResult) -> JSONObject:
    meta: JSONObject = {"resourceVersion": result.resource_version}
    if result.continue_token:
        meta["continue"] = result.continue_token
    if result.remaining_item_count is not None:
        meta["remainingItemCount"] = result.remaining_item_count
    return meta


def list_response(request: web.Request, rt: ResourceType, result: ListResult) -> web.Response:
    """A list page as ``{Kind}List`` (stored bytes spliced in), a Table or metadata only.

    Raises:
        StatusError: 406 when the client asked for a single-object conversion.
    """
    shape = rendering(request)
    shape.require_list()
    if shape.as_kind == PARTIAL_LIST:
        return json_response(
            {
                "kind": PARTIAL_LIST,
                "apiVersion": shape.api_version,
                "metadata": _list_metadata(result),
                "items": [partial_object_metadata(obj, shape.version) for obj in result.items],
            }
        )
    converter = table_converter(request, rt, shape)
    if converter is not None:
        include = parse_include_object(request.query.get("includeObject"))
        table = converter.table(
            result.items,
            now=dt.datetime.now(dt.UTC),
            include=include,
            list_metadata=_list_metadata(result),
        )
        return json_response(table)
    head = dumps(
        {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": _list_metadata(result)}
    )
    body = head[:-1] + b',"items":[' + b",".join(result.raw_items) + b"]}"
    response = web.Response(body=body)
    response.headers["Content-Type"] = "application/json"
    return response


def list_body(rt: ResourceType, items: list[JSONObject], resource_version: str) -> JSONObject:
    """A ``{Kind}List`` of ``items`` (deletecollection answers with one)."""
    return {
        "kind": rt.list_kind,
        "apiVersion": rt.api_version,
        "metadata": {"resourceVersion": resource_version},
        "items": items,
    }
