"""Authentication of the HTTPS server: minted client certificates, tokens, file modes."""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

import httpx
import yaml

from certsmith.cli.main import main
from tests.servertools import admin_client, credentials, running_server

CRS = "/apis/cert-manager.io/v1/namespaces/default/certificaterequests"
DATA = Path(__file__).parent.parent / "data"
RBAC = "/apis/rbac.authorization.k8s.io/v1"


async def grant_in_default(admin: httpx.AsyncClient, groups: list[str]) -> None:
    """Let ``groups`` create and list CertificateRequests in ``default`` (RBAC is enforced)."""
    role = {
        "metadata": {"name": "cr-editor"},
        "rules": [
            {
                "apiGroups": ["cert-manager.io"],
                "resources": ["certificaterequests"],
                "verbs": ["create", "get", "list"],
            }
        ],
    }
    binding = {
        "metadata": {"name": "cr-editors"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cr-editor"},
        "subjects": [{"kind": "Group", "name": g} for g in groups],
    }
    for path, body in (("roles", role), ("rolebindings", binding)):
        r = await admin.post(f"{RBAC}/namespaces/default/{path}", json=body)
        assert r.status_code == 201, r.text


async def test_minted_user_identity_and_tokens(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "tokens.csv").write_text('tok123,robot,uid-1,"ops,dev"\n')
    async with running_server(data) as server:
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        assert stat.S_IMODE(server.kubeconfig_path.stat().st_mode) == 0o600
        async with admin_client(server, tmp_path / "admin") as admin:
            await grant_in_default(admin, ["g1", "ops"])
        out = tmp_path / "alice.kubeconfig"
        assert main(["kubeconfig", "--data-dir", str(data), "--user", "alice", "--group", "g1",
                     "--out", str(out)]) == 0  # fmt: skip
        creds = credentials(out, tmp_path / "alice")
        body = yaml.safe_load((DATA / "my-ca-cr.yaml").read_text())
        async with httpx.AsyncClient(base_url=creds.server, verify=creds.ssl_context()) as alice:
            r = await alice.post(CRS, json=body)
            assert r.status_code == 201, r.text
            assert r.json()["spec"]["username"] == "alice"
            assert r.json()["spec"]["groups"] == ["g1", "system:authenticated"]
        trust = ssl.create_default_context(cafile=str(creds.ca_file))
        async with httpx.AsyncClient(base_url=creds.server, verify=trust) as robot:
            ok = await robot.get(CRS, headers={"Authorization": "Bearer tok123"})
            assert ok.status_code == 200
            bad = await robot.get(CRS, headers={"Authorization": "Bearer nope"})
            assert bad.status_code == 401


async def test_apply_patch_creates_and_json_patch_test_fails_422(tmp_path: Path) -> None:
    async with running_server(tmp_path / "data") as server:
        creds = credentials(server.kubeconfig_path, tmp_path / "c")
        async with httpx.AsyncClient(base_url=creds.server, verify=creds.ssl_context()) as c:
            url = "/api/v1/namespaces/default/configmaps/cm"
            r = await c.patch(
                f"{url}?fieldManager=me",
                content=b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"},'
                b'"data":{"a":"b"}}',
                headers={"Content-Type": "application/apply-patch+yaml"},
            )
            assert r.status_code == 201, r.text
            r = await c.patch(
                url,
                content=b'[{"op":"test","path":"/metadata/resourceVersion","value":"1"}]',
                headers={"Content-Type": "application/json-patch+json"},
            )
            assert r.status_code == 422
