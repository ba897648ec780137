"""RBAC over real HTTPS: minted user identities, the controller identity, approval (SPEC §2.3)."""

from __future__ import annotations

import datetime as dt
import ssl
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from certsmith.apiserver.server import ApiServer, mint_kubeconfig, write_kubeconfig
from tests.builders import my_ca_cr_manifest
from tests.servertools import admin_client, credentials, eventually_async, running_server

RBAC = "/apis/rbac.authorization.k8s.io/v1"
CM = "/apis/cert-manager.io/v1"
RBAC_GROUP = "rbac.authorization.k8s.io"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ApiServer]:
    async with running_server(tmp_path / "data") as srv:
        yield srv


@pytest.fixture
async def admin(server: ApiServer, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with admin_client(server, tmp_path / "admin") as client:
        yield client


@pytest.fixture
def as_user(server: ApiServer, tmp_path: Path) -> Any:
    """``as_user(name, *groups)``: an httpx client with a freshly minted client certificate."""

    def make(name: str, *groups: str) -> httpx.AsyncClient:
        assert server.pki is not None
        path = tmp_path / f"{name}.kubeconfig"
        write_kubeconfig(path, mint_kubeconfig(server.pki, server.url, name, groups))
        creds = credentials(path, tmp_path / name)
        return httpx.AsyncClient(base_url=creds.server, verify=creds.ssl_context())

    return make


async def create(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(path, json=body)
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


def role_ref(kind: str, name: str) -> dict[str, str]:
    return {"apiGroup": RBAC_GROUP, "kind": kind, "name": name}


def certificate(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": name},
        "spec": {"secretName": f"{name}-tls", "dnsNames": ["a.example.com"],
                 "issuerRef": {"name": "ca"}},
    }  # fmt: skip


def forbidden(message: str, **details: str) -> dict[str, Any]:
    """The Status body kube-apiserver sends for an RBAC denial."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "Forbidden",
        "details": details,
        "code": 403,
    }


async def test_namespace_scoped_user_works_in_its_namespace_only(
    admin: httpx.AsyncClient, as_user: Any
) -> None:
    for ns in ("team-a", "team-b"):
        await create(admin, "/api/v1/namespaces", {"metadata": {"name": ns}})
    await create(admin, f"{RBAC}/namespaces/team-a/roles", {
        "metadata": {"name": "cert-editor"},
        "rules": [{"apiGroups": ["cert-manager.io"], "resources": ["certificates"],
                   "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]}],
    })  # fmt: skip
    await create(admin, f"{RBAC}/namespaces/team-a/rolebindings", {
        "metadata": {"name": "alice"},
        "roleRef": role_ref("Role", "cert-editor"),
        "subjects": [{"kind": "User", "name": "alice", "apiGroup": RBAC_GROUP}],
    })  # fmt: skip
    async with as_user("alice") as alice:
        certs = f"{CM}/namespaces/team-a/certificates"
        made = await create(alice, certs, certificate("web"))
        assert (await alice.get(certs)).json()["items"][0]["metadata"]["name"] == "web"
        made["spec"]["dnsNames"] = ["b.example.com"]
        assert (await alice.put(f"{certs}/web", json=made)).status_code == 200
        r = await alice.patch(
            f"{certs}/web",
            json={"metadata": {"labels": {"x": "y"}}},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert r.status_code == 200, r.text
        assert (await alice.delete(f"{certs}/web")).status_code == 200

        r = await alice.get(f"{CM}/namespaces/team-b/certificates")
        assert r.status_code == 403
        assert r.json() == forbidden(
            'certificates.cert-manager.io is forbidden: User "alice" cannot list resource '
            '"certificates" in API group "cert-manager.io" in the namespace "team-b"',
            group="cert-manager.io",
            kind="certificates",
        )
        r = await alice.post(f"{CM}/namespaces/team-b/certificates", json=certificate("x"))
        assert r.status_code == 403
        r = await alice.get(f"{CM}/clusterissuers")
        assert r.json() == forbidden(
            'clusterissuers.cert-manager.io is forbidden: User "alice" cannot list resource '
            '"clusterissuers" in API group "cert-manager.io" at the cluster scope',
            group="cert-manager.io",
            kind="clusterissuers",
        )
        r = await alice.get("/api/v1/namespaces")
        assert r.json()["message"] == (
            'namespaces is forbidden: User "alice" cannot list resource "namespaces" in API '
            'group "" at the cluster scope'
        )
        r = await alice.delete("/api/v1/namespaces/team-b")
        assert r.json()["message"] == (
            'namespaces "team-b" is forbidden: User "alice" cannot delete resource "namespaces" '
            'in API group "" in the namespace "team-b"'
        )
        # Discovery and public paths are every authenticated user's (bootstrap policy).
        assert (await alice.get("/apis")).status_code == 200
        assert (await alice.get(f"{CM}")).status_code == 200
        assert (await alice.get("/version")).status_code == 200


async def test_anonymous_requests_are_401_except_public_paths(server: ApiServer) -> None:
    assert server.pki is not None
    trust = ssl.create_default_context(cafile=str(server.pki.ca_cert))
    async with httpx.AsyncClient(base_url=server.url, verify=trust) as anonymous:
        r = await anonymous.get(f"{CM}/namespaces/default/certificates")
        assert r.status_code == 401
        assert r.json()["reason"] == "Unauthorized"
        assert (await anonymous.get("/apis")).status_code == 401
        assert (await anonymous.get("/healthz")).status_code == 200


async def test_controller_identity_can_do_its_work_and_no_more(
    server: ApiServer, admin: httpx.AsyncClient, tmp_path: Path
) -> None:
    path = server.controller_kubeconfig_path
    assert path.name == "controller.kubeconfig"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    cr = await create(admin, f"{CM}/namespaces/default/certificaterequests", my_ca_cr_manifest())
    creds = credentials(path, tmp_path / "controller")
    async with httpx.AsyncClient(base_url=creds.server, verify=creds.ssl_context()) as ctl:
        name = cr["metadata"]["name"]
        url = f"{CM}/namespaces/default/certificaterequests/{name}/status"
        approved = {"status": {"conditions": [approved_condition()]}}
        r = await ctl.patch(
            url, json=approved, headers={"Content-Type": "application/merge-patch+json"}
        )
        assert r.status_code == 200, r.text  # cert-manager's default approve grant
        await create(ctl, "/api/v1/namespaces/default/secrets", {
            "metadata": {"name": "s"}, "stringData": {"tls.key": "k"},
        })  # fmt: skip
        await create(ctl, "/api/v1/namespaces/default/events", {
            "metadata": {"name": "e"}, "involvedObject": {"kind": "Certificate", "name": "c"},
            "reason": "Issuing", "message": "m", "type": "Normal",
        })  # fmt: skip
        await create(ctl, "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases", {
            "metadata": {"name": "certsmith-controller"}, "spec": {"holderIdentity": "me"},
        })  # fmt: skip
        for verb_path in (f"{CM}/certificates", f"{CM}/clusterissuers", "/api/v1/namespaces"):
            assert (await ctl.get(verb_path)).status_code == 200, verb_path
        r = await ctl.delete("/api/v1/namespaces/default")
        assert r.status_code == 403
        assert r.json()["message"] == (
            'namespaces "default" is forbidden: User "system:certsmith:controller" cannot '
            'delete resource "namespaces" in API group "" in the namespace "default"'
        )
        assert (await ctl.get("/api/v1/namespaces/default/configmaps")).status_code == 403
        r = await ctl.post(f"{RBAC}/clusterrolebindings", json={
            "metadata": {"name": "escalate"}, "roleRef": role_ref("ClusterRole", "cluster-admin"),
            "subjects": [{"kind": "User", "name": "system:certsmith:controller"}],
        })  # fmt: skip
        assert r.status_code == 403


def approved_condition(ctype: str = "Approved") -> dict[str, str]:
    return {
        "type": ctype,
        "status": "True",
        "reason": "KubectlCertManager",
        "message": 'manually approved by "cmctl"',
        "lastTransitionTime": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


async def test_approval_needs_approve_on_the_issuers_signer(
    admin: httpx.AsyncClient, as_user: Any
) -> None:
    """SPEC §12 behaviour 11, with the real server and store."""
    await create(admin, "/api/v1/namespaces", {"metadata": {"name": "ns"}})
    crs = f"{CM}/namespaces/ns/certificaterequests"
    names = []
    for i in range(3):
        body = my_ca_cr_manifest()
        body["metadata"]["name"] = f"cr-{i}"
        body["spec"]["issuerRef"] = {"name": "ca", "kind": "Issuer", "group": "cert-manager.io"}
        names.append((await create(admin, crs, body))["metadata"]["name"])
    # u may write CertificateRequest status in ns, which alone does not let it approve.
    await create(admin, f"{RBAC}/namespaces/ns/roles", {
        "metadata": {"name": "cr-status"},
        "rules": [{"apiGroups": ["cert-manager.io"], "resources": ["certificaterequests/status"],
                   "verbs": ["get", "update", "patch"]}],
    })  # fmt: skip
    await create(admin, f"{RBAC}/namespaces/ns/rolebindings", {
        "metadata": {"name": "u"}, "roleRef": role_ref("Role", "cr-status"),
        "subjects": [{"kind": "User", "name": "u"}],
    })  # fmt: skip

    async def set_condition(
        client: httpx.AsyncClient, name: str, ctype: str, *, dry_run: bool = False
    ) -> httpx.Response:
        return await client.patch(
            f"{crs}/{name}/status",
            params={"dryRun": "All"} if dry_run else {},
            json={"status": {"conditions": [approved_condition(ctype)]}},
            headers={"Content-Type": "application/merge-patch+json"},
        )

    denial = (
        'admission webhook "webhook.cert-manager.io" denied the request: status.conditions: '
        'Forbidden: user "u" does not have permissions to set approved/denied conditions for '
        "issuer {ca Issuer cert-manager.io}"
    )

    async def grant(name: str, signer: str) -> None:
        await create(admin, f"{RBAC}/clusterroles", {
            "metadata": {"name": name},
            "rules": [{"apiGroups": ["cert-manager.io"], "resources": ["signers"],
                       "verbs": ["approve"], "resourceNames": [signer]}],
        })  # fmt: skip
        await create(admin, f"{RBAC}/clusterrolebindings", {
            "metadata": {"name": name}, "roleRef": role_ref("ClusterRole", name),
            "subjects": [{"kind": "User", "name": "u"}],
        })  # fmt: skip

    async with as_user("u") as u:

        async def allowed(name: str, ctype: str, *, dry_run: bool = False) -> bool:
            r = await set_condition(u, name, ctype, dry_run=dry_run)
            assert r.status_code == 200, r.text
            return True

        async def refused(name: str, ctype: str) -> bool:
            r = await set_condition(u, name, ctype, dry_run=True)
            assert (r.status_code, r.json()["message"]) == (403, denial)
            return True

        for ctype in ("Approved", "Denied"):
            await refused(names[0], ctype)

        await grant("approve-ns-ca", "issuers.cert-manager.io/ns.ca")
        await eventually_async(lambda: allowed(names[0], "Approved"))
        stored = (await admin.get(f"{crs}/{names[0]}")).json()
        assert [c["type"] for c in stored["status"]["conditions"]] == ["Approved"]
        assert stored["status"]["conditions"][0]["reason"] == "KubectlCertManager"

        r = await admin.delete(f"{RBAC}/clusterrolebindings/approve-ns-ca")
        assert r.status_code == 200
        await eventually_async(lambda: refused(names[1], "Approved"))
        await grant("approve-all-issuers", "issuers.cert-manager.io/*")
        await eventually_async(lambda: allowed(names[1], "Approved"))
        await allowed(names[2], "Denied")
