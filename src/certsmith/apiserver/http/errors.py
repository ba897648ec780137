"""Every non-2xx answer is a Kubernetes ``Status`` body (K8S-API §3.6); this decides how.

kubectl prints ``Error from server (<reason>): <message>`` from that body and the Python
clients raise on ``code``, so even paths the server does not know and internal failures get
one. Unexpected exceptions become a 500 whose message carries only a random id; the details
(which might hold request data, never shown to a client) go to the server log under that id.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import orjson
from aiohttp import web

from certsmith.api.errors import StatusError

_log = logging.getLogger(__name__)

JSON_CONTENT_TYPE: Final = "application/json"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def dumps(body: Any) -> bytes:
    """Serialise a JSON body the way every response does (compact, UTF-8)."""
    return orjson.dumps(body)


def json_response(
    body: Any,
    *,
    status: int = 200,
    content_type: str = JSON_CONTENT_TYPE,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """A JSON response with an exact Content-Type (aggregated discovery depends on it)."""
    response = web.Response(body=dumps(body), status=status, headers=headers)
    response.headers["Content-Type"] = content_type
    return response


def raw_json_response(raw: bytes, *, status: int = 200) -> web.Response:
    """A response whose body is already JSON bytes (stored objects are served as stored)."""
    response = web.Response(body=raw, status=status)
    response.headers["Content-Type"] = JSON_CONTENT_TYPE
    return response


def status_response(err: StatusError, headers: Mapping[str, str] | None = None) -> web.Response:
    """Render a :class:`StatusError` as its Status body with its HTTP code."""
    return json_response(err.to_status(), status=err.code, headers=headers)


def bad_request(message: str) -> StatusError:
    """400 BadRequest."""
    return StatusError(400, "BadRequest", message)


def not_found_path() -> StatusError:
    """404 for a path that names nothing, worded as kube-apiserver's default handler."""
    return StatusError(404, "NotFound", "the server could not find the requested resource", {})


def method_not_allowed(method: str) -> StatusError:
    """405 for a verb the resource does not support."""
    return StatusError(
        405,
        "MethodNotAllowed",
        f"the server does not allow this method on the requested resource ({method})",
        {},
    )


def internal_error(error_id: str) -> StatusError:
    """500 with nothing but an id to find the logged traceback by."""
    return StatusError(
        500, "InternalError", f"Internal error occurred: see the server log for error id {error_id}"
    )


def logged_internal_error(request: web.Request) -> StatusError:
    """Log the exception being handled under a new id; the 500 to answer names only that id."""
    error_id = uuid.uuid4().hex[:12]
    _log.exception("internal error id=%s on %s %s", error_id, request.method, request.path)
    return internal_error(error_id)


_HTTP_REASONS: Final = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every error raised by a handler into a Status response.

    Raises:
        asyncio.CancelledError: the client went away; nothing can be answered.
    """
    try:
        return await handler(request)
    except StatusError as err:
        return status_response(err)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.status == 404:
            return status_response(not_found_path())
        if exc.status == 405:
            return status_response(method_not_allowed(request.method))
        reason = _HTTP_REASONS.get(exc.status, "Unknown")
        return status_response(StatusError(exc.status, reason, exc.text or exc.reason))
    except Exception:
        return status_response(logged_internal_error(request))
