"""``HttpKubeClient``: the :class:`~certsmith.client.protocol.KubeClient` over HTTP (httpx).

One ``HttpKubeClient`` per process serves every controller, with two connection pools: one for
requests (keep-alive connections reused) and one for watches (each holds one streaming
connection). They are apart because httpcore looks at every pooled connection on each request
(polling the idle ones); with the informers' long-lived watches in the same pool that scan was
~15-24% of ``serve``'s CPU (py-spy, docs/performance.md). Bodies are JSON; an apply patch
is JSON too, which is valid YAML for ``application/apply-patch+yaml``.

Failures are mapped to :mod:`certsmith.client.errors` from the server's ``Status`` body. A 429
is retried (at most ``max_retries`` times) after its Retry-After, because the server did not
process the request; every other error goes to the caller, whose work queue backs off.
The ``Authorization`` header is attached per request from a token source and never logged.
A configuration with ``unix_socket`` (:meth:`HttpKubeClient.from_unix_socket`) changes only the
transport underneath: requests, errors, watches and rate limiting are the same code.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from pathlib import Path
from typing import Any, Final, Self

import httpx

from certsmith.client.config import SERVICE_ACCOUNT_DIR as SERVICE_ACCOUNT_DIR
from certsmith.client.config import (
    ClusterConfig,
    TokenSource,
    load_in_cluster,
    load_kubeconfig,
    unix_socket_config,
)
from certsmith.client.errors import (
    ApiError,
    TooManyRequests,
    TransportError,
    error_from_status,
    parse_retry_after,
    status_for_unparsable,
)
from certsmith.client.protocol import (
    JSONObject,
    ListPage,
    PatchBody,
    PatchType,
    WatchEvent,
    WatchEventType,
    check_patch_body,
)
from certsmith.client.ratelimit import DEFAULT_BURST, DEFAULT_QPS, TokenBucket
from certsmith.client.resources import ResourceRef
from certsmith.client.uds import UnixSocketTransport
from certsmith.util.clock import Clock

log = logging.getLogger(__name__)

USER_AGENT: Final = "certsmith/0.1"
DEFAULT_TIMEOUT: Final = httpx.Timeout(30.0, connect=10.0)
# Extra read time beyond a watch's timeoutSeconds before the connection counts as dead.
WATCH_READ_GRACE: Final = 30.0
MAX_RETRY_AFTER: Final = 30.0


class _BearerAuth(httpx.Auth):
    """Adds the current token to each request; the token is read per request (rotation)."""

    def __init__(self, source: TokenSource) -> None:
        self._source = source

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._source.token().reveal()}"
        yield request


class HttpKubeClient:
    """A Kubernetes API client on ``httpx.AsyncClient``; close it with :meth:`aclose`."""

    def __init__(
        self,
        config: ClusterConfig,
        *,
        qps: float = DEFAULT_QPS,
        burst: int = DEFAULT_BURST,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        max_connections: int = 200,
        max_retries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.config = config
        self.namespace = config.namespace
        self._limiter = TokenBucket(qps, burst, sleep=sleep)
        self._sleep = sleep
        self._max_retries = max_retries
        verify: Any = config.ssl_context if config.ssl_context is not None else True
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=50)

        def pool(given: httpx.AsyncBaseTransport | None, *, watches: bool) -> httpx.AsyncClient:
            if given is None and config.unix_socket is not None:
                # Watches hold their connection for minutes, so httpcore's pool scan is cheap
                # there; the request pool sees every reconcile's requests (see client/uds.py).
                # httpx applies ``limits`` only to the transport it builds itself.
                given = (
                    httpx.AsyncHTTPTransport(uds=str(config.unix_socket), limits=limits)
                    if watches
                    else UnixSocketTransport(str(config.unix_socket))
                )
            return httpx.AsyncClient(
                base_url=config.server,
                verify=verify,
                auth=_BearerAuth(config.token_source) if config.token_source else None,
                timeout=timeout,
                limits=limits,
                headers={
                    "User-Agent": USER_AGENT,
                    "Accept": "application/json",
                    **config.extra_headers,
                },
                transport=given,
            )

        self._http = pool(transport, watches=False)
        # A caller's transport is one pool already; only our own transports are split.
        self._watch_http = self._http if transport is not None else pool(None, watches=True)

    @classmethod
    def from_kubeconfig(
        cls,
        path: Path | str,
        context: str | None = None,
        *,
        clock: Clock | None = None,
        **kwargs: Any,
    ) -> Self:
        """A client for a kubeconfig context (the current one by default).

        Raises:
            ConfigError: the kubeconfig cannot be used (see ``load_kubeconfig``).
        """
        return cls(load_kubeconfig(path, context, clock=clock), **kwargs)

    @classmethod
    def from_unix_socket(
        cls, path: Path | str, *, namespace: str = "default", **kwargs: Any
    ) -> Self:
        """A client speaking plain HTTP over the Unix domain socket at ``path``.

        For ``certsmith serve``'s ``controller.sock``, where the socket itself is the
        credential; nothing is checked until the first request connects.
        """
        return cls(unix_socket_config(path, namespace=namespace), **kwargs)

    @classmethod
    def in_cluster(
        cls,
        *,
        root: Path = SERVICE_ACCOUNT_DIR,
        environ: dict[str, str] | None = None,
        clock: Clock | None = None,
        **kwargs: Any,
    ) -> Self:
        """A client from the pod's service account (token re-read as it rotates).

        Raises:
            ConfigError: not in a cluster, or the service account files are unreadable.
        """
        return cls(load_in_cluster(root=root, environ=environ, clock=clock), **kwargs)

    async def aclose(self) -> None:
        """Close both connection pools."""
        await self._http.aclose()
        if self._watch_http is not self._http:
            await self._watch_http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- reads ---------------------------------------------------------------------------

    async def get(self, resource: ResourceRef, namespace: str | None, name: str) -> JSONObject:
        """Read one object.

        Raises:
            NotFound: the object does not exist.
            ApiError: any other failure answer.
            TransportError: no answer.
        """
        return await self._json("GET", resource.path(namespace, name))

    async def list(
        self,
        resource: ResourceRef,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
        resource_version: str | None = None,
    ) -> ListPage:
        """Read one page of a collection.

        Raises:
            Gone: the continue token expired, or an exact resourceVersion was compacted.
            ApiError: any other failure answer.
            TransportError: no answer.
        """
        params = _params(
            labelSelector=label_selector,
            fieldSelector=field_selector,
            limit=limit,
            resourceVersion=resource_version,
        )
        if continue_token:
            params["continue"] = continue_token
        body = await self._json("GET", resource.path(namespace), params=params)
        meta = body.get("metadata") or {}
        remaining = meta.get("remainingItemCount")
        return ListPage(
            items=list(body.get("items") or []),
            resource_version=str(meta.get("resourceVersion") or ""),
            continue_token=meta.get("continue") or None,
            remaining_item_count=remaining if isinstance(remaining, int) else None,
        )

    async def watch(
        self,
        resource: ResourceRef,
        namespace: str | None = None,
        *,
        resource_version: str | None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        allow_bookmarks: bool = True,
        timeout_seconds: int | None = None,
    ) -> AsyncIterator[WatchEvent]:
        """Stream changes after ``resource_version`` until the server ends the stream.

        Raises:
            Gone: ``resource_version`` is too old (an ERROR 410 event); list again.
            ApiError: the watch was refused, or another ERROR event arrived.
            TransportError: the connection failed or broke mid-stream.
        """
        params = _params(
            watch="true",
            resourceVersion=resource_version,
            labelSelector=label_selector,
            fieldSelector=field_selector,
            allowWatchBookmarks="true" if allow_bookmarks else None,
            timeoutSeconds=timeout_seconds,
        )
        read = None if timeout_seconds is None else timeout_seconds + WATCH_READ_GRACE
        timeout = httpx.Timeout(self._watch_http.timeout.connect or 10.0, read=read)
        await self._limiter.acquire()
        request = self._watch_http.build_request(
            "GET", resource.path(namespace), params=params, timeout=timeout
        )
        try:
            response = await self._watch_http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise _transport_error(exc) from exc
        try:
            if response.status_code != 200:
                await response.aread()
                raise _api_error(response)
            async for line in response.aiter_lines():
                if not line.strip():
                    continue
                yield _watch_event(line)
        except httpx.TransportError as exc:
            raise _transport_error(exc) from exc
        finally:
            await response.aclose()

    # -- writes --------------------------------------------------------------------------

    async def create(
        self,
        resource: ResourceRef,
        namespace: str | None,
        body: JSONObject,
        *,
        field_manager: str | None = None,
    ) -> JSONObject:
        """Create an object.

        Raises:
            AlreadyExists: the name is taken.
            ApiError: any other failure answer.
            TransportError: no answer.
        """
        return await self._json(
            "POST",
            resource.path(namespace),
            params=_params(fieldManager=field_manager),
            body=body,
        )

    async def replace(
        self,
        resource: ResourceRef,
        namespace: str | None,
        name: str,
        body: JSONObject,
        *,
        field_manager: str | None = None,
    ) -> JSONObject:
        """Replace an object (PUT).

        Raises:
            Conflict: the resourceVersion is stale.
            ApiError: any other failure answer.
            TransportError: no answer.
        """
        return await self._json(
            "PUT",
            resource.path(namespace, name),
            params=_params(fieldManager=field_manager),
            body=body,
        )

    async def replace_status(
        self,
        resource: ResourceRef,
        namespace: str | None,
        name: str,
        body: JSONObject,
        *,
        field_manager: str | None = None,
    ) -> JSONObject:
        """Replace the status subresource (PUT ``/status``).

        Raises:
            Conflict: the resourceVersion is stale.
            ApiError: any other failure answer.
            TransportError: no answer.
        """
        return await self._json(
            "PUT",
            resource.path(namespace, name, "status"),
            params=_params(fieldManager=field_manager),
            body=body,
        )

    async def patch(
        self,
        resource: ResourceRef,
        namespace: str | None,
        name: str,
        body: PatchBody,
        *,
        patch_type: PatchType = PatchType.MERGE,
        field_manager: str | None = None,
        force: bool = False,
    ) -> JSONObject:
        """Patch an object with the content type of ``patch_type``.

        Raises:
            ValueError: an apply patch without a field manager, or a mismatched body.
            ApiError: any failure answer.
            TransportError: no answer.
        """
        return await self._patch(
            resource.path(namespace, name), body, patch_type, field_manager, force
        )

    async def patch_status(
        self,
        resource: ResourceRef,
        namespace: str | None,
        name: str,
        body: PatchBody,
        *,
        patch_type: PatchType = PatchType.MERGE,
        field_manager: str | None = None,
        force: bool = False,
    ) -> JSONObject:
        """Patch the status subresource.

        Raises:
            ValueError: an apply patch without a field manager, or a mismatched body.
            ApiError: any failure answer.
            TransportError: no answer.
        """
        return await self._patch(
            resource.path(namespace, name, "status"), body, patch_type, field_manager, force
        )

    async def delete(
        self,
        resource: ResourceRef,
        namespace: str | None,
        name: str,
        *,
        propagation_policy: str | None = None,
        preconditions_rv: str | None = None,
    ) -> JSONObject:
        """Delete an object.

        Raises:
            NotFound: the object does not exist.
            Conflict: ``preconditions_rv`` does not match.
            ApiError: any other failure answer.
            TransportError: no answer.
        """
        options: JSONObject = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy is not None:
            options["propagationPolicy"] = propagation_policy
        if preconditions_rv is not None:
            options["preconditions"] = {"resourceVersion": preconditions_rv}
        return await self._json("DELETE", resource.path(namespace, name), body=options)

    # -- plumbing ------------------------------------------------------------------------

    async def _patch(
        self,
        path: str,
        body: PatchBody,
        patch_type: PatchType,
        field_manager: str | None,
        force: bool,
    ) -> JSONObject:
        check_patch_body(body, patch_type)
        if patch_type is PatchType.APPLY and not field_manager:
            raise ValueError("an apply patch needs a field_manager")
        params = _params(fieldManager=field_manager)
        if patch_type is PatchType.APPLY and force:
            params["force"] = "true"
        return await self._json(
            "PATCH", path, params=params, body=body, content_type=patch_type.content_type
        )

    async def _json(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: PatchBody | None = None,
        content_type: str = "application/json",
    ) -> JSONObject:
        content = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        headers = {"Content-Type": content_type} if content is not None else None
        attempt = 0
        while True:
            await self._limiter.acquire()
            try:
                response = await self._http.request(
                    method, path, params=params, content=content, headers=headers
                )
            except httpx.TransportError as exc:
                raise _transport_error(exc) from exc
            if response.is_success:
                try:
                    decoded = response.json()
                except ValueError as exc:
                    raise TransportError(f"{method} {path}: the answer is not JSON") from exc
                return decoded if isinstance(decoded, dict) else {"items": decoded}
            error = _api_error(response)
            if isinstance(error, TooManyRequests) and attempt < self._max_retries:
                attempt += 1
                wait = error.retry_after if error.retry_after is not None else 1.0
                delay = min(wait, MAX_RETRY_AFTER)
                log.info("%s %s: throttled by the server, retrying in %.1fs", method, path, delay)
                await self._sleep(delay)
                continue
            raise error


def _params(**values: object) -> dict[str, str]:
    return {key: str(value) for key, value in values.items() if value is not None}


def _api_error(response: httpx.Response) -> ApiError:
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or body.get("kind") not in ("Status", None):
        body = status_for_unparsable(response.status_code, response.text)
    return error_from_status(body, http_code=response.status_code, retry_after=retry_after)


def _watch_event(line: str) -> WatchEvent:
    try:
        raw = json.loads(line)
        kind = raw["type"]
        obj = raw["object"]
    except (ValueError, KeyError, TypeError) as exc:
        raise TransportError("malformed watch event") from exc
    if not isinstance(obj, dict):
        raise TransportError("malformed watch event: object is not a mapping")
    if kind == "ERROR":
        raise error_from_status(obj)
    try:
        event_type = WatchEventType(kind)
    except ValueError as exc:
        raise TransportError(f"unknown watch event type {kind!r}") from exc
    return WatchEvent(event_type, obj)


def _transport_error(exc: httpx.TransportError) -> TransportError:
    # The request URL is safe to show; headers (the token) are not part of the message.
    return TransportError(f"{type(exc).__name__}: {exc}")
