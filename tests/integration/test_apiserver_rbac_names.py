"""RBAC object names follow Kubernetes' path-segment rule, not the DNS-name rule."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from certsmith.apiserver.server import ApiServer
from tests.servertools import admin_client, running_server

ROLES = "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles"


@pytest.fixture
async def admin(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    server: ApiServer
    async with running_server(tmp_path / "data") as server, admin_client(server, tmp_path) as c:
        yield c


def role(name: str) -> dict[str, object]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": name},
        "rules": [
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get"]}
        ],
    }


@pytest.mark.parametrize("name", ["cert-manager:leaderelection", "Upper_Case:role"])
async def test_role_name_with_colon_is_stored_and_read_back(
    admin: httpx.AsyncClient, name: str
) -> None:
    created = await admin.post(ROLES, json=role(name))
    assert created.status_code == 201, created.text
    fetched = await admin.get(f"{ROLES}/{name}")
    assert fetched.json()["metadata"]["name"] == name


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("..", "may not be '..'"),
        ("a%b", "may not contain '%'"),
    ],
)
async def test_role_name_that_is_no_path_segment_is_invalid(
    admin: httpx.AsyncClient, name: str, message: str
) -> None:
    response = await admin.post(ROLES, json=role(name))
    assert response.status_code == 422
    assert message in response.json()["message"]


async def test_secret_name_with_colon_is_still_invalid(admin: httpx.AsyncClient) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a:b"}}
    response = await admin.post("/api/v1/namespaces/default/secrets", json=secret)
    assert response.status_code == 422
