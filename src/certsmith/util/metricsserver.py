"""Plain-HTTP endpoints beside the controllers: ``/metrics`` and the health probes.

cert-manager's controller serves its metrics on ``--metrics-listen-address`` (default
``0.0.0.0:9402``) and its probes on ``--health-probe-bind-address`` (default ``0.0.0.0:9403``),
both plain HTTP without authentication, for the kubelet and an in-cluster Prometheus. The same
handlers are mounted on ``certsmith serve``'s API port, behind its authentication.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from aiohttp import web

from certsmith.util.metrics import CONTENT_TYPE, Metrics

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def parse_listen_address(value: str) -> tuple[str, int] | None:
    """``HOST:PORT`` (``[::]:9402``, ``:9402`` for every address) or ``None`` for ``0``/empty.

    cert-manager turns an endpoint off with ``0`` or an empty address.

    Raises:
        ValueError: not HOST:PORT with a port from 0 to 65535.
    """
    if value.strip() in ("", "0"):
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT, or 0 to disable, got {value!r}")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - Go's ":PORT" means all


def metrics_handler(metrics: Metrics) -> Handler:
    """A handler rendering ``metrics`` (everything registered) in the text format.

    Rendering runs in a worker thread: with 10,000 Certificates a scrape is ~70,000 series and
    most of a second of CPU, which on the event loop would stall the API server and the
    controllers for that long (measured: 1 s of loop lag inline, ~0.1 s threaded on a busy
    machine). The collectors only read: a cache snapshot (``list`` of a dict's values, one C
    call under the GIL) of objects the cache never mutates, queue lengths, and the inline
    families under their lock.
    """

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await asyncio.to_thread(metrics.render)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    return handle


def probe_handler(check: Callable[[], bool], failing: str) -> Handler:
    """A probe: 200 ``ok`` while ``check()`` holds, else 503 with ``failing`` as the body."""

    async def handle(request: web.Request) -> web.StreamResponse:
        if check():
            return web.Response(text="ok")
        return web.Response(status=503, text=failing)

    return handle


def _get_runner(routes: Sequence[tuple[str, Handler]]) -> web.AppRunner:
    """An aiohttp runner for ``routes`` (path, handler), GET only, without access logs."""
    app = web.Application()
    for path, handler in routes:
        app.router.add_get(path, handler)
    return web.AppRunner(app, access_log=None)


class PlainHttpServer:
    """A small aiohttp server for a few GET routes; :meth:`start` binds, :meth:`stop` closes."""

    def __init__(self, host: str, port: int, routes: Sequence[tuple[str, Handler]]) -> None:
        """Prepare ``routes`` (path, handler) on ``host:port`` (port 0 picks a free one)."""
        self.host = host
        self.port = port
        self._runner = _get_runner(routes)

    async def start(self) -> None:
        """Bind and serve; :attr:`port` is the bound port afterwards.

        Raises:
            OSError: the address cannot be bound.
        """
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError:
            await self._runner.cleanup()
            raise
        server = getattr(site, "_server", None)  # aiohttp exposes the bound sockets only here
        sockets = getattr(server, "sockets", None) or ()
        if sockets:
            self.port = int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Close the listener and open connections."""
        await self._runner.cleanup()

    @property
    def url(self) -> str:
        """``http://host:port`` of the listener."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


class UnixHttpServer:
    """Like :class:`PlainHttpServer`, on a Unix socket only its owner may connect to."""

    def __init__(self, path: Path, routes: Sequence[tuple[str, Handler]]) -> None:
        """Prepare ``routes`` (path, handler) on the socket at ``path``."""
        self.path = path
        self._runner = _get_runner(routes)

    async def start(self) -> None:
        """Bind (replacing a stale socket file) and serve.

        Raises:
            OSError: the socket cannot be bound.
        """
        await self._runner.setup()
        try:
            await web.UnixSite(self._runner, str(self.path)).start()
        except OSError:
            await self._runner.cleanup()
            raise
        # serve's data directory is 0700 already; this keeps the socket private elsewhere too.
        os.chmod(self.path, 0o600)

    async def stop(self) -> None:
        """Close the listener and remove the socket file."""
        await self._runner.cleanup()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
