"""The ``/ui`` request handlers: read objects through a KubeClient, render a template.

:class:`WebUI` is built before the server starts (its routes are mounted then) and given its
client once the server answers (:meth:`WebUI.attach`); until then, and after
:meth:`WebUI.detach`, pages answer 503. Reads (GET and LIST only: the view never writes) use
that client's identity, so the view shows what that identity may read; who may open the view at
all is decided by the API's RBAC on the non-resource URLs ``/ui`` and ``/ui/*``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any, Final

import jinja2
from aiohttp import web

from certsmith.client.errors import ClientError, NotFound
from certsmith.client.protocol import JSONObject, KubeClient
from certsmith.client.resources import (
    CERTIFICATE_REQUESTS,
    CERTIFICATES,
    CLUSTER_ISSUERS,
    ISSUERS,
    ResourceRef,
)
from certsmith.status.gather import diagnose
from certsmith.status.jsonview import mapping
from certsmith.util.clock import Clock
from certsmith.web.model import (
    EXPIRING_SOON,
    SORT_KEYS,
    CertificateRow,
    Query,
    State,
    Surroundings,
    certificate_row,
    format_delta,
    summary,
    with_causes,
)
from certsmith.web.timeline import CHART_HEIGHT, CHART_WIDTH, timeline

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Route = tuple[str, str, Handler]

UI_PATH: Final = "/ui"
LIST_PAGE_SIZE: Final = 500
HIDDEN_ANNOTATIONS: Final = frozenset({"kubectl.kubernetes.io/last-applied-configuration"})
"""Annotations that repeat the spec: noise on a page meant for reading."""

_CSP: Final = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
"""Nothing but the page itself and its inline styles: no script runs even if escaping failed."""


def environment() -> jinja2.Environment:
    """The template environment: package templates, autoescaping on for everything."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("certsmith.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["delta"] = format_delta
    env.filters["time"] = _format_time
    env.filters["shorttime"] = _format_short_time
    env.globals.update(
        states=list(State),
        sort_keys=SORT_KEYS,
        chart_width=CHART_WIDTH,
        chart_height=CHART_HEIGHT,
        ui_path=UI_PATH,
    )
    return env


def _format_time(value: dt.datetime | None) -> str:
    return "" if value is None else value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _format_short_time(value: dt.datetime | None) -> str:
    return "" if value is None else value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")


async def list_all(client: KubeClient, resource: ResourceRef) -> list[JSONObject]:
    """Every object of ``resource`` across namespaces, page by page."""
    items: list[JSONObject] = []
    token: str | None = None
    while True:
        page = await client.list(resource, None, limit=LIST_PAGE_SIZE, continue_token=token)
        items.extend(page.items)
        token = page.continue_token
        if not token:
            return items


class WebUI:
    """The pages of ``/ui`` and the state they share (client, clock, templates)."""

    def __init__(self, clock: Clock, *, expiring_soon: dt.timedelta = EXPIRING_SOON) -> None:
        self._clock = clock
        self._expiring_soon = expiring_soon
        self._client: KubeClient | None = None
        self._env = environment()

    def attach(self, client: KubeClient) -> None:
        """Start answering pages, reading with ``client``."""
        self._client = client

    def detach(self) -> None:
        """Stop answering pages (the client is about to close)."""
        self._client = None

    def routes(self) -> list[Route]:
        """``(method, path, handler)`` of every page, for the server to mount."""
        return [
            ("GET", UI_PATH, self.inventory),
            ("GET", f"{UI_PATH}/", self.inventory),
            ("GET", f"{UI_PATH}/certificates/{{namespace}}/{{name}}", self.certificate),
        ]

    def render(self, template: str, status: int = 200, **context: Any) -> web.Response:
        """A rendered page with headers that keep it from being framed, sniffed or cached."""
        body = self._env.get_template(template).render(now=self._clock.now(), **context)
        return web.Response(
            text=body,
            status=status,
            content_type="text/html",
            charset="utf-8",
            headers={
                "Content-Security-Policy": _CSP,
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
                "Cache-Control": "no-store",
            },
        )

    def _error(self, status: int, title: str, detail: str) -> web.Response:
        return self.render("error.html", status=status, title=title, detail=detail)

    async def rows(self) -> list[CertificateRow]:
        """Every Certificate's inventory row, with the cause of each one that is not Ready.

        Raises:
            ClientError: the Certificates could not be read. Issuers and requests are optional
                (an identity may not read them): without them rows carry no cause.
        """
        client = self._require_client()
        certificates, *others = await asyncio.gather(
            list_all(client, CERTIFICATES),
            list_all(client, ISSUERS),
            list_all(client, CLUSTER_ISSUERS),
            list_all(client, CERTIFICATE_REQUESTS),
            return_exceptions=True,
        )
        if isinstance(certificates, BaseException):
            raise certificates
        now = self._clock.now()
        rows = [certificate_row(obj, now, self._expiring_soon) for obj in certificates]
        for listed in others:
            if isinstance(listed, ClientError):
                return rows
            if isinstance(listed, BaseException):
                raise listed
        issuers, cluster_issuers, requests = others
        assert isinstance(issuers, list)
        assert isinstance(cluster_issuers, list)
        assert isinstance(requests, list)
        return with_causes(rows, Surroundings.from_objects(issuers, cluster_issuers, requests))

    def _require_client(self) -> KubeClient:
        if self._client is None:
            raise _UnavailableError()
        return self._client

    async def inventory(self, request: web.Request) -> web.Response:
        """``/ui``: the summary bar, the expiry timeline and the filtered inventory."""
        query = Query.from_params(request.query)
        try:
            rows = await self.rows()
        except _UnavailableError:
            return self._error(503, "Starting", "The view is not connected to the API yet.")
        except ClientError as exc:
            return self._error(502, "Cannot read Certificates", str(exc))
        scoped = [row for row in rows if query.matches(row, ignore_state=True)]
        return self.render(
            "inventory.html",
            query=query,
            rows=query.apply(rows),
            total=len(rows),
            counts=summary(scoped),
            timeline=timeline(scoped, self._clock.now()),
            namespaces=sorted({row.namespace for row in rows}),
            issuers=sorted({row.issuer for row in rows}),
        )

    async def certificate(self, request: web.Request) -> web.Response:
        """``/ui/certificates/{namespace}/{name}``: one Certificate's chain and root cause.

        The chain is :func:`certsmith.status.gather.diagnose`'s, the same as ``certsmith status
        certificate`` prints; the Certificate is read once more for its labels and annotations.
        """
        namespace = request.match_info["namespace"]
        name = request.match_info["name"]
        now = self._clock.now()
        try:
            client = self._require_client()
            obj, diagnosis = await asyncio.gather(
                client.get(CERTIFICATES, namespace, name),
                diagnose(client, namespace, name, now=now),
            )
        except _UnavailableError:
            return self._error(503, "Starting", "The view is not connected to the API yet.")
        except NotFound:
            return self._error(404, "Not found", f"Certificate {namespace}/{name} does not exist.")
        except ClientError as exc:
            return self._error(502, "Cannot read the Certificate", str(exc))
        except ValueError:
            return self._error(400, "Bad name", "That is not a valid namespace and name.")
        meta = mapping(obj, "metadata")
        return self.render(
            "certificate.html",
            row=certificate_row(obj, now, self._expiring_soon),
            d=diagnosis,
            labels=sorted(mapping(meta, "labels").items()),
            annotations=sorted(
                (key, value)
                for key, value in mapping(meta, "annotations").items()
                if key not in HIDDEN_ANNOTATIONS
            ),
        )


class _UnavailableError(Exception):
    """No client attached (the server is starting or stopping)."""
