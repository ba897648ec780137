"""``certsmith.app`` in-process: serve with controllers, API-only serve, cmctl-style approval."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from certsmith.api.conditions import ConditionType
from certsmith.apiserver.server import ApiServer
from certsmith.app import StartupError, run_controller, run_serve
from certsmith.cli.commands.approve import CommandError, set_approval
from certsmith.client.errors import NotFound
from certsmith.client.http import HttpKubeClient
from certsmith.client.resources import CERTIFICATE_REQUESTS, ISSUERS, SECRETS, ResourceRef
from tests.builders import my_ca_cr_manifest, private_key_pem
from tests.pkitools import make_root, pem


@contextlib.asynccontextmanager
async def serving(tmp_path: Path, **kwargs: Any) -> AsyncIterator[ApiServer]:
    """``run_serve`` in a task, yielding the server once it answers; stopped on exit."""
    stop = asyncio.Event()
    ready: asyncio.Future[ApiServer] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        run_serve(tmp_path / "data", "127.0.0.1", 0, stop=stop, on_ready=ready.set_result, **kwargs)
    )
    done, _ = await asyncio.wait((task, ready), return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()
    try:
        yield ready.result()
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


async def seed_ca_issuer(client: HttpKubeClient) -> None:
    root, root_key = make_root("app root")
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "ca-key-pair"},
        "type": "kubernetes.io/tls",
        "stringData": {
            "tls.crt": pem(root).decode(),
            "tls.key": private_key_pem(root_key).decode(),
        },
    }
    await client.create(SECRETS, "default", secret)
    issuer = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Issuer",
        "metadata": {"name": "ca-issuer"},
        "spec": {"ca": {"secretName": "ca-key-pair"}},
    }
    await client.create(ISSUERS, "default", issuer)


def reason(cr: dict[str, Any], ctype: str) -> str | None:
    for cond in (cr.get("status") or {}).get("conditions") or []:
        if cond["type"] == ctype:
            return f"{cond['status']}/{cond['reason']}"
    return None


def issued(client: HttpKubeClient, name: str) -> Callable[[], Any]:
    async def check() -> bool:
        cr = await client.get(CERTIFICATE_REQUESTS, "default", name)
        return reason(cr, "Ready") == "True/Issued"

    return check


async def wait_for(check: Callable[[], Any], timeout: float = 15.0) -> None:  # noqa: ASYNC109
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        assert loop.time() < deadline, "condition not met"
        await asyncio.sleep(0.05)


async def test_serve_runs_the_controllers_as_the_controller_identity(tmp_path):
    async with (
        serving(tmp_path) as server,
        HttpKubeClient.from_kubeconfig(server.kubeconfig_path) as client,
    ):
        assert server.controller_kubeconfig_path.exists()
        await seed_ca_issuer(client)
        await client.create(CERTIFICATE_REQUESTS, "default", my_ca_cr_manifest())
        await wait_for(issued(client, "my-ca-cr"))
        cr = await client.get(CERTIFICATE_REQUESTS, "default", "my-ca-cr")
        assert reason(cr, "Approved") == "True/cert-manager.io"


async def test_serve_with_controllers_none_serves_the_api_alone(tmp_path):
    async with (
        serving(tmp_path, controllers="none") as server,
        HttpKubeClient.from_kubeconfig(server.kubeconfig_path) as client,
    ):
        await seed_ca_issuer(client)
        await client.create(CERTIFICATE_REQUESTS, "default", my_ca_cr_manifest())
        with pytest.raises(AssertionError):
            await wait_for(issued(client, "my-ca-cr"), timeout=1.0)
        issuer = await client.get(ISSUERS, "default", "ca-issuer")
        assert "status" not in issuer or not issuer["status"].get("conditions")


async def test_manual_approval_then_refusals(tmp_path):
    async with (
        serving(tmp_path, controllers="*,-certificaterequests-approver") as server,
        HttpKubeClient.from_kubeconfig(server.kubeconfig_path) as client,
    ):
        await seed_ca_issuer(client)
        await client.create(CERTIFICATE_REQUESTS, "default", my_ca_cr_manifest())
        cr = await set_approval(
            client, "default", "my-ca-cr", ConditionType.APPROVED, "KubectlCertManager", "ok"
        )
        assert reason(cr, "Approved") == "True/KubectlCertManager"
        await wait_for(issued(client, "my-ca-cr"))
        with pytest.raises(CommandError, match=r"^CertificateRequest is already approved$"):
            await set_approval(client, "default", "my-ca-cr", ConditionType.DENIED, "R", "M")
        with pytest.raises(NotFound):
            await set_approval(client, "default", "absent", ConditionType.DENIED, "R", "M")


async def test_serve_rejects_an_unknown_controller_before_starting(tmp_path):
    with pytest.raises(StartupError, match="unknown controller 'nope'"):
        await run_serve(tmp_path / "data", "127.0.0.1", 0, controllers="*,nope")
    assert not (tmp_path / "data").exists()


async def test_serve_reports_a_taken_port(tmp_path):
    async with serving(tmp_path / "first") as server:
        with pytest.raises(StartupError, match="cannot listen on"):
            await run_serve(tmp_path / "second", "127.0.0.1", server.port)


async def test_controller_needs_a_kubeconfig_outside_a_cluster(tmp_path, monkeypatch):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(StartupError, match="not running in a cluster"):
        await run_controller(None)
    with pytest.raises(StartupError, match="cannot read kubeconfig"):
        await run_controller(tmp_path / "missing")
    with pytest.raises(StartupError, match="nothing to run"):
        await run_controller(tmp_path / "missing", controllers="none")


CRDS = ResourceRef("apiextensions.k8s.io", "v1", "customresourcedefinitions", False)
THING_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "things.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {
            "plural": "things",
            "singular": "thing",
            "kind": "Thing",
            "listKind": "ThingList",
        },
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            }
        ],
    },
}


async def test_empty_approve_signer_names_approves_external_issuers_too(tmp_path):
    """``--approve-signer-names ''``: the approver and the controller's RBAC cover every signer."""
    external = my_ca_cr_manifest()
    external["metadata"]["name"] = "external"
    external["spec"]["issuerRef"] = {"name": "x", "kind": "Thing", "group": "example.com"}

    async def approved() -> bool:
        cr = await client.get(CERTIFICATE_REQUESTS, "default", "external")
        return reason(cr, "Approved") == "True/cert-manager.io"

    async with (
        serving(tmp_path, approve_signer_names=()) as server,
        HttpKubeClient.from_kubeconfig(server.kubeconfig_path) as client,
    ):
        await client.create(CRDS, None, THING_CRD)
        await client.create(CERTIFICATE_REQUESTS, "default", external)
        await wait_for(approved, timeout=20)
        cr = await client.get(CERTIFICATE_REQUESTS, "default", "external")
        assert reason(cr, "Ready") is None  # approved, but cert-manager's controllers never sign


async def test_a_narrow_signer_list_approves_only_the_named_issuer(tmp_path):
    names = ("issuers.cert-manager.io/default.ca-issuer",)
    other = my_ca_cr_manifest()
    other["metadata"]["name"] = "other"
    other["spec"]["issuerRef"]["name"] = "other-issuer"
    async with (
        serving(tmp_path, approve_signer_names=names) as server,
        HttpKubeClient.from_kubeconfig(server.kubeconfig_path) as client,
    ):
        await seed_ca_issuer(client)
        await client.create(CERTIFICATE_REQUESTS, "default", other)
        await client.create(CERTIFICATE_REQUESTS, "default", my_ca_cr_manifest())
        await wait_for(issued(client, "my-ca-cr"))
        cr = await client.get(CERTIFICATE_REQUESTS, "default", "other")
        assert reason(cr, "Approved") is None
