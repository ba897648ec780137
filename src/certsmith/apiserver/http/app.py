"""The aiohttp application of the API server: middlewares and the catch-all route.

Middlewares run outermost first: errors (every failure becomes a Status body), then
authentication (anonymous requests are 401 except for the public probe paths), then
authorization (:func:`certsmith.apiserver.auth.authorize`: ``system:masters``, then
Kubernetes RBAC from the context's policy cache; a denial is kube's 403 word for word).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web

from certsmith.api.errors import StatusError
from certsmith.apiserver.auth import RequestAttributes, authorize, forbidden_error
from certsmith.apiserver.http.body import MAX_BODY_BYTES
from certsmith.apiserver.http.context import CONTEXT, USER, ApiContext, user_of
from certsmith.apiserver.http.errors import Handler, error_middleware
from certsmith.apiserver.http.routes import PUBLIC_PATHS, dispatch


def unauthorized() -> StatusError:
    """401 for a request without valid credentials."""
    return StatusError(401, "Unauthorized", "Unauthorized")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate, then authorize, every request.

    Raises:
        StatusError: 401 for anonymous requests, 403 when authorization denies.
    """
    ctx = request.app[CONTEXT]
    if ctx.authenticate is not None:
        user = ctx.authenticate(request)
        if user is None:
            if request.path.rstrip("/") not in PUBLIC_PATHS:
                raise unauthorized()
        else:
            request[USER] = user
    attrs = RequestAttributes.from_request(request.method, request.path, request.query)
    user_info = user_of(request)
    if request.path.rstrip("/") not in PUBLIC_PATHS and not authorize(user_info, attrs, ctx.rbac):
        raise forbidden_error(user_info, attrs)
    return await handler(request)


@dataclass(frozen=True)
class ExtraRoute:
    """A route served next to the Kubernetes API (``/metrics``, ``/ui``...).

    It sits behind the same authentication and authorization as the API: a non-resource
    ``path`` needs an RBAC rule with that ``nonResourceURLs`` entry (``system:masters`` passes),
    unless it is one of the public probe paths. ``path`` uses aiohttp's syntax
    (``/ui/certificates/{namespace}/{name}``); routes are matched before the API's catch-all.
    """

    method: str
    path: str
    handler: Handler


def create_app(ctx: ApiContext, extra_routes: Sequence[ExtraRoute] = ()) -> web.Application:
    """Build the application around a context (store, registry, authentication)."""
    app = web.Application(
        middlewares=[error_middleware, auth_middleware], client_max_size=MAX_BODY_BYTES + 1
    )
    app[CONTEXT] = ctx
    for route in extra_routes:
        app.router.add_route(route.method, route.path, route.handler)
    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app
