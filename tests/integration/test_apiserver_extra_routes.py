"""Routes served beside the API sit behind its authentication and authorization."""

from __future__ import annotations

from pathlib import Path

import httpx
from aiohttp import web

from certsmith.apiserver.http.app import ExtraRoute
from tests.servertools import admin_client, running_server


async def hello(request: web.Request) -> web.StreamResponse:
    return web.Response(text="hello")


async def test_extra_route_answers_the_admin(tmp_path: Path) -> None:
    routes = (ExtraRoute("GET", "/hello", hello),)
    async with (
        running_server(tmp_path / "data", extra_routes=routes) as server,
        admin_client(server, tmp_path) as client,
    ):
        response = await client.get("/hello")
    assert (response.status_code, response.text) == (200, "hello")


async def test_extra_route_refuses_anonymous_requests(tmp_path: Path) -> None:
    routes = (ExtraRoute("GET", "/hello", hello),)
    async with (
        running_server(tmp_path / "data", extra_routes=routes) as server,
        httpx.AsyncClient(base_url=server.url, verify=False) as client,
    ):
        response = await client.get("/hello")
    assert response.status_code == 401
    assert response.json()["kind"] == "Status"


async def test_api_still_served_next_to_extra_routes(tmp_path: Path) -> None:
    routes = (ExtraRoute("GET", "/hello", hello),)
    async with (
        running_server(tmp_path / "data", extra_routes=routes) as server,
        admin_client(server, tmp_path) as client,
    ):
        response = await client.get("/api/v1/namespaces/default")
    assert response.json()["metadata"]["name"] == "default"
