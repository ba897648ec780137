"""``UnixSocketTransport``: the controllers' request pool on ``controller.sock``.

A real aiohttp server on a Unix socket answers; each answer names the server-side connection
it came in on, so the tests see which connections the transport reused.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from certsmith.client.uds import UnixSocketTransport


@pytest.fixture
def socket_path() -> Iterator[Path]:
    """A socket path short enough for ``sun_path`` whatever pytest's tmp_path is."""
    directory = Path(tempfile.mkdtemp(prefix="cs-uds-", dir="/tmp"))
    try:
        yield directory / "api.sock"
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.asynccontextmanager
async def unix_server(path: Path, *, keepalive_timeout: float = 75.0) -> AsyncIterator[None]:
    async def whoami(request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.query.get("delay", "0")))
        return web.Response(text=str(id(request.transport)))

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 1_000_000)

    app = web.Application()
    app.router.add_get("/whoami", whoami)
    app.router.add_get("/big", big)
    runner = web.AppRunner(app, keepalive_timeout=keepalive_timeout)
    await runner.setup()
    site = web.UnixSite(runner, str(path))
    await site.start()
    try:
        yield
    finally:
        await runner.cleanup()


def client(transport: UnixSocketTransport) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=transport, base_url="http://localhost")


async def test_sequential_requests_share_one_connection(socket_path):
    transport = UnixSocketTransport(str(socket_path))
    async with unix_server(socket_path), client(transport) as http:
        seen = {(await http.get("/whoami")).text for _ in range(5)}
    assert len(seen) == 1


async def test_concurrent_requests_get_their_own_connections_and_keep_them_idle(socket_path):
    transport = UnixSocketTransport(str(socket_path))
    async with unix_server(socket_path), client(transport) as http:
        answers = await asyncio.gather(*(http.get("/whoami?delay=0.2") for _ in range(4)))
        assert len({a.text for a in answers}) == 4
        assert transport.idle_connections == 4


async def test_idle_connections_beyond_the_cap_are_closed(socket_path):
    transport = UnixSocketTransport(str(socket_path), max_idle=2)
    async with unix_server(socket_path), client(transport) as http:
        await asyncio.gather(*(http.get("/whoami?delay=0.2") for _ in range(4)))
        assert transport.idle_connections == 2


async def test_a_response_closed_before_its_end_does_not_return_its_connection(socket_path):
    transport = UnixSocketTransport(str(socket_path))
    async with unix_server(socket_path), client(transport) as http:
        async with http.stream("GET", "/big") as response:
            assert response.status_code == 200
        assert transport.idle_connections == 0
        assert (await http.get("/whoami")).status_code == 200


async def test_a_connection_the_server_closed_is_replaced(socket_path):
    transport = UnixSocketTransport(str(socket_path))
    async with unix_server(socket_path, keepalive_timeout=0.1), client(transport) as http:
        first = (await http.get("/whoami")).text
        await asyncio.sleep(0.5)  # the server drops the idle keep-alive connection
        second = await http.get("/whoami")
    assert second.status_code == 200
    assert second.text != first


async def test_a_missing_socket_is_an_httpx_connect_error(socket_path):
    async with client(UnixSocketTransport(str(socket_path))) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get("/whoami")


async def test_closing_the_transport_closes_its_idle_connections(socket_path):
    transport = UnixSocketTransport(str(socket_path))
    async with unix_server(socket_path):
        async with client(transport) as http:
            await http.get("/whoami")
            assert transport.idle_connections == 1
        assert transport.idle_connections == 0
