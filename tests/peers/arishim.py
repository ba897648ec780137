"""A test-only HTTPS proxy in front of pebble that adds ACME Renewal Information (RFC 9773).

Pebble 2.4 has no ``renewalInfo``. :class:`AriShim` forwards every request to pebble,
adds ``renewalInfo`` to the directory, answers ``GET <renewalInfo>/<certID>`` with a
configurable ``suggestedWindow`` (and ``Retry-After``), and records the ``replaces`` value
of every newOrder it forwards. It keeps the client's ``Host`` header, so pebble builds its
URLs (Location, order, authorization, certificate) for the shim and every request of an
ACME flow passes through it; pebble's own URLs are rewritten as a fallback.

The shim serves with pebble's listener certificate, so the same CA bundle trusts both.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from aiohttp import web
from tests.peers.pebble import Pebble
from tests.servertools import free_port

RENEWAL_INFO_PATH = "/renewal-info"
_FORWARDED_HEADERS = ("Content-Type", "Accept", "User-Agent")
_RETURNED_HEADERS = ("Content-Type", "Replay-Nonce", "Location", "Retry-After", "Cache-Control")


def _rfc3339(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _jws_payload(body: bytes) -> dict[str, Any]:
    try:
        envelope = json.loads(body)
        text = envelope.get("payload", "")
        if not text:
            return {}
        decoded = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        return decoded if isinstance(decoded, dict) else {}
    except (ValueError, AttributeError):
        return {}


@dataclass
class Window:
    """A suggested renewal window and how long the client should wait before asking again."""

    start: dt.datetime
    end: dt.datetime
    retry_after: int | None = 21600
    explanation_url: str | None = None


@dataclass
class AriShim:
    """The proxy; configure ``default_window`` / ``windows`` and read what it recorded."""

    pebble: Pebble
    port: int = field(default_factory=free_port)
    default_window: Window | None = None
    windows: dict[str, Window] = field(default_factory=dict)
    """Per-CertID windows; others get ``default_window`` (404 when that is None)."""
    replaces_seen: list[str | None] = field(default_factory=list)
    """The ``replaces`` of every newOrder, in order (None when the order had none)."""
    new_orders: list[dict[str, Any]] = field(default_factory=list)
    renewal_info_requests: list[str] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _upstream: httpx.AsyncClient | None = None
    _new_order_path: str | None = None

    @property
    def base_url(self) -> str:
        """``https://127.0.0.1:<port>``."""
        return f"https://127.0.0.1:{self.port}"

    @property
    def directory_url(self) -> str:
        """The directory URL clients use instead of pebble's."""
        return self.base_url + urlsplit(self.pebble.directory_url).path

    @property
    def renewal_info_url(self) -> str:
        """The ``renewalInfo`` base URL the directory advertises."""
        return self.base_url + RENEWAL_INFO_PATH

    @property
    def _pebble_base(self) -> str:
        parts = urlsplit(self.pebble.directory_url)
        return f"{parts.scheme}://{parts.netloc}"

    def set_window(
        self,
        start: dt.datetime,
        end: dt.datetime,
        *,
        cert_id: str | None = None,
        retry_after: int | None = 21600,
        explanation_url: str | None = None,
    ) -> None:
        """Suggest ``[start, end]`` for ``cert_id`` (or every certificate when None)."""
        window = Window(start, end, retry_after, explanation_url)
        if cert_id is None:
            self.default_window = window
        else:
            self.windows[cert_id] = window

    def _rewrite(self, text: str) -> str:
        return text.replace(self._pebble_base, self.base_url)

    async def _renewal_info(self, request: web.Request) -> web.Response:
        cert_id = request.match_info["cert_id"]
        self.renewal_info_requests.append(cert_id)
        window = self.windows.get(cert_id, self.default_window)
        if window is None:
            return web.json_response(
                {"type": "urn:ietf:params:acme:error:malformed", "detail": "unknown certificate"},
                status=404,
                content_type="application/problem+json",
            )
        body: dict[str, Any] = {
            "suggestedWindow": {"start": _rfc3339(window.start), "end": _rfc3339(window.end)}
        }
        if window.explanation_url:
            body["explanationURL"] = window.explanation_url
        headers = {"Retry-After": str(window.retry_after)} if window.retry_after else {}
        return web.json_response(body, headers=headers)

    async def _proxy(self, request: web.Request) -> web.StreamResponse:
        assert self._upstream is not None
        body = await request.read()
        if request.method == "POST" and request.path == self._new_order_path:
            payload = _jws_payload(body)
            self.new_orders.append(payload)
            self.replaces_seen.append(payload.get("replaces"))
        headers = {k: v for k in _FORWARDED_HEADERS if (v := request.headers.get(k))}
        headers["Host"] = request.host
        upstream = await self._upstream.request(
            request.method,
            self._pebble_base + request.path_qs,
            content=body or None,
            headers=headers,
        )
        content = upstream.content
        if request.path == urlsplit(self.pebble.directory_url).path and upstream.is_success:
            directory = json.loads(self._rewrite(content.decode()))
            directory["renewalInfo"] = self.renewal_info_url
            self._new_order_path = urlsplit(directory["newOrder"]).path
            content = json.dumps(directory).encode()
        elif "json" in upstream.headers.get("Content-Type", ""):
            content = self._rewrite(content.decode()).encode()
        response = web.Response(status=upstream.status_code, body=content)
        for name in _RETURNED_HEADERS:
            if name in upstream.headers:
                response.headers[name] = self._rewrite(upstream.headers[name])
        for link in upstream.headers.get_list("Link"):
            response.headers.add("Link", self._rewrite(link))
        return response

    async def start(self) -> None:
        """Listen on ``127.0.0.1:port`` with pebble's listener certificate."""
        self._upstream = httpx.AsyncClient(verify=self.pebble.ssl_context(), timeout=30)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        listener = self.pebble.ca_bundle_path.parent
        context.load_cert_chain(listener / "listener.pem", listener / "listener.key")
        app = web.Application()
        app.router.add_get(RENEWAL_INFO_PATH + "/{cert_id}", self._renewal_info)
        app.router.add_route("*", "/{tail:.*}", self._proxy)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=context).start()
        # Learn the newOrder path before the first client asks.
        await self._upstream_directory()

    async def _upstream_directory(self) -> None:
        assert self._upstream is not None
        response = await self._upstream.get(self.pebble.directory_url)
        self._new_order_path = urlsplit(response.json()["newOrder"]).path

    async def stop(self) -> None:
        """Stop listening and close the upstream connections."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._upstream is not None:
            await self._upstream.aclose()
            self._upstream = None


@contextlib.asynccontextmanager
async def running_arishim(pebble: Pebble, **kwargs: Any) -> AsyncIterator[AriShim]:
    """An :class:`AriShim` in front of ``pebble`` for the duration of the block."""
    shim = AriShim(pebble, **kwargs)
    await shim.start()
    try:
        yield shim
    finally:
        await shim.stop()


@pytest.fixture
async def ari_shim(pebble: Pebble) -> AsyncIterator[AriShim]:
    """An :class:`AriShim` in front of the session pebble, for one test."""
    async with running_arishim(pebble) as shim:
        yield shim
