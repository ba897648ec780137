"""``serve``'s controller socket: ``<data-dir>/controller.sock``, plain HTTP as the controllers.

The server authenticates every connection on it as the controllers' identity and RBAC still
decides what that identity may do; ``run_serve`` points its controllers at it by default.
Socket paths are limited to 107 bytes, so these tests use a short directory under /tmp.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import stat
import tempfile
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from typing import cast

import httpx
import pytest

from certsmith.apiserver.rbacpolicy import CONTROLLER_USER
from certsmith.apiserver.server import CONTROLLER_SOCKET_NAME, ApiServer
from certsmith.app import CONTROLLER_TRANSPORT_ENV, StartupError, run_serve
from certsmith.client.errors import Forbidden
from certsmith.client.http import HttpKubeClient
from certsmith.client.protocol import WatchEvent
from certsmith.client.resources import CERTIFICATES, NAMESPACES, SECRETS
from tests.integration.test_app import seed_ca_issuer, serving, wait_for
from tests.servertools import running_server


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory whose socket path fits in ``sun_path`` whatever pytest's tmp_path is."""
    path = Path(tempfile.mkdtemp(prefix="cs-sock-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def socket_client(server: ApiServer) -> HttpKubeClient:
    assert server.controller_socket is not None
    return HttpKubeClient.from_unix_socket(server.controller_socket)


def raw_socket_http(server: ApiServer, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    """Bare httpx on the socket, to see the server's answers without certsmith's client."""
    assert server.controller_socket is not None
    transport = httpx.AsyncHTTPTransport(uds=str(server.controller_socket))
    return httpx.AsyncClient(transport=transport, base_url="http://localhost", headers=headers)


async def test_the_socket_is_private_while_serving_and_removed_on_stop(short_dir):
    path = short_dir / "data" / CONTROLLER_SOCKET_NAME
    async with running_server(short_dir / "data") as server:
        assert server.controller_socket == path
        mode = path.stat().st_mode
        assert stat.S_ISSOCK(mode)
        assert stat.S_IMODE(mode) == 0o600
    assert not path.exists()


async def test_a_stale_socket_from_a_crashed_run_does_not_stop_the_start(short_dir):
    data = short_dir / "data"
    data.mkdir(mode=0o700)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(data / CONTROLLER_SOCKET_NAME))
    stale.close()  # the file stays, as after kill -9
    async with running_server(data) as server, socket_client(server) as client:
        assert (await client.get(NAMESPACES, None, "default"))["metadata"]["name"] == "default"


async def test_something_else_at_the_socket_path_is_refused_and_kept(short_dir):
    data = short_dir / "data"
    data.mkdir(mode=0o700)
    (data / CONTROLLER_SOCKET_NAME).write_text("not mine")
    server = ApiServer(data, "127.0.0.1", 0)
    try:
        with pytest.raises(OSError, match="is not a socket"):
            await server.start()
    finally:
        await server.stop()
    assert (data / CONTROLLER_SOCKET_NAME).read_text() == "not mine"


async def test_a_data_dir_too_long_for_a_socket_serves_https_only(short_dir):
    data = short_dir / ("d" * 110)
    async with running_server(data) as server:
        assert server.controller_socket is None
        assert not (data / CONTROLLER_SOCKET_NAME).exists()


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/apis/cert-manager.io/v1/certificates", 200),
        ("GET", "/api/v1/namespaces/default/secrets", 200),
        ("DELETE", "/api/v1/namespaces/default", 403),
        ("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles", 403),
    ],
)
async def test_requests_on_the_socket_are_the_controller_identity_under_rbac(
    short_dir, method, path, status
):
    async with (
        running_server(short_dir / "data") as server,
        raw_socket_http(server) as http,
    ):
        response = await http.request(method, path)
    assert response.status_code == status, response.text
    if status == 403:
        assert f'User "{CONTROLLER_USER}" cannot' in response.json()["message"]


async def test_credentials_sent_on_the_socket_do_not_change_who_it_is(short_dir):
    async with (
        running_server(short_dir / "data") as server,
        raw_socket_http(server, {"Authorization": "Bearer some-admin-token"}) as http,
    ):
        response = await http.delete("/api/v1/namespaces/default")
    assert response.status_code == 403
    assert f'User "{CONTROLLER_USER}" cannot delete' in response.json()["message"]


async def test_the_client_reports_a_denial_on_the_socket_as_forbidden(short_dir):
    async with running_server(short_dir / "data") as server, socket_client(server) as client:
        with pytest.raises(Forbidden):
            await client.delete(NAMESPACES, None, "default")


async def test_a_watch_streams_over_the_socket(short_dir):
    async with (
        running_server(short_dir / "data") as server,
        socket_client(server) as client,
        HttpKubeClient.from_kubeconfig(server.kubeconfig_path) as admin,
    ):
        page = await client.list(SECRETS, "default")
        secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "watched"}}
        await admin.create(SECRETS, "default", secret)
        # watch() is an async generator; closing it ends the stream's connection.
        events = cast(
            AsyncGenerator[WatchEvent, None],
            client.watch(SECRETS, "default", resource_version=page.resource_version),
        )
        async with contextlib.aclosing(events):
            event = await anext(events)
    assert (event.type, event.object["metadata"]["name"]) == ("ADDED", "watched")


CA_CERTIFICATE = {
    "apiVersion": "cert-manager.io/v1",
    "kind": "Certificate",
    "metadata": {"name": "socket-ca"},
    "spec": {
        "secretName": "socket-ca-tls",
        "isCA": True,
        "commonName": "socket CA",
        "issuerRef": {"name": "ca-issuer", "kind": "Issuer"},
    },
}


@pytest.mark.parametrize(
    ("transport", "reached_over"),
    [(None, CONTROLLER_SOCKET_NAME), ("unix", CONTROLLER_SOCKET_NAME), ("https", "https://")],
)
async def test_serve_controllers_issue_a_ca_certificate_over_the_chosen_transport(
    short_dir, monkeypatch, caplog, transport, reached_over
):
    if transport is None:
        monkeypatch.delenv(CONTROLLER_TRANSPORT_ENV, raising=False)
    else:
        monkeypatch.setenv(CONTROLLER_TRANSPORT_ENV, transport)

    async def ready() -> bool:
        cert = await admin.get(CERTIFICATES, "default", "socket-ca")
        conditions = (cert.get("status") or {}).get("conditions") or []
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    caplog.set_level(logging.INFO, logger="certsmith.app")
    async with (
        serving(short_dir) as server,
        HttpKubeClient.from_kubeconfig(server.kubeconfig_path) as admin,
    ):
        await seed_ca_issuer(admin)
        await admin.create(CERTIFICATES, "default", CA_CERTIFICATE)
        await wait_for(ready, timeout=30)
    reached = [r.getMessage() for r in caplog.records if "controllers reach" in r.getMessage()]
    assert len(reached) == 1, reached
    assert reached_over in reached[0]


async def test_serve_refuses_an_unknown_controller_transport(short_dir, monkeypatch):
    monkeypatch.setenv(CONTROLLER_TRANSPORT_ENV, "tcp")
    with pytest.raises(StartupError, match="CERTSMITH_CONTROLLER_TRANSPORT='tcp'"):
        await run_serve(short_dir / "data", "127.0.0.1", 0)
