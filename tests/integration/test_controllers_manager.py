"""The whole controller manager against a running server: documentation manifests get issued.

``build_manager`` runs the issuer readiness controllers, the approver and the shared
CertificateRequest reconciler; the test only applies objects, as a user would, and waits.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from certsmith.api.meta import decode_bytes
from certsmith.client.http import HttpKubeClient
from certsmith.client.resources import (
    CERTIFICATE_REQUESTS,
    CLUSTER_ISSUERS,
    EVENTS,
    ISSUERS,
    NAMESPACES,
    SECRETS,
)
from certsmith.controllers.runtime.manager import Manager
from certsmith.controllers.setup import ControllerOptions, build_manager
from tests.builders import make_ca_secret, make_issuer, private_key_pem
from tests.pkitools import make_root, openssl, pem
from tests.servertools import eventually_async, running_server

DATA = Path(__file__).parent.parent / "data"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[HttpKubeClient]:
    async with running_server(tmp_path / "data") as server:
        raw = HttpKubeClient.from_kubeconfig(server.kubeconfig_path)
        try:
            await raw.create(NAMESPACES, None, {"metadata": {"name": "cert-manager"}})
            yield raw
        finally:
            await raw.aclose()


@contextlib.asynccontextmanager
async def running(manager: Manager) -> AsyncIterator[Manager]:
    task = asyncio.create_task(manager.run())
    try:
        await asyncio.wait_for(manager.wait_started(), 10)
        yield manager
    finally:
        manager.stop()
        await asyncio.wait_for(task, 30)


def ready_of(obj: dict[str, Any]) -> tuple[str, str, str] | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond["type"] == "Ready":
            return (cond["status"], cond.get("reason", ""), cond.get("message", ""))
    return None


async def test_documentation_request_is_approved_and_issued(
    client: HttpKubeClient, tmp_path: Path
) -> None:
    root, root_key = make_root("doc root")
    await client.create(
        SECRETS,
        "default",
        make_ca_secret(
            namespace="default", chain_pem=pem(root), key_pem=private_key_pem(root_key)
        ).to_dict(),
    )
    await client.create(ISSUERS, "default", make_issuer("ca-issuer", namespace="default").to_dict())
    manifest = yaml.safe_load((DATA / "my-ca-cr.yaml").read_text())

    async with running(build_manager(client, options=ControllerOptions(workers=2))):
        await client.create(CERTIFICATE_REQUESTS, "default", manifest)

        async def issued() -> bool:
            cr = await client.get(CERTIFICATE_REQUESTS, "default", "my-ca-cr")
            return ready_of(cr) == (
                "True",
                "Issued",
                "Certificate fetched from issuer successfully",
            )

        await eventually_async(issued, timeout=20)

    issuer = await client.get(ISSUERS, "default", "ca-issuer")
    assert ready_of(issuer) == ("True", "KeyPairVerified", "Signing CA verified")
    cr = await client.get(CERTIFICATE_REQUESTS, "default", "my-ca-cr")
    approved = next(c for c in cr["status"]["conditions"] if c["type"] == "Approved")
    assert (approved["status"], approved["reason"], approved["message"]) == (
        "True",
        "cert-manager.io",
        "Certificate request has been approved by cert-manager.io",
    )
    leaf = tmp_path / "leaf.pem"
    leaf.write_bytes(decode_bytes(cr["status"]["certificate"]))
    ca = tmp_path / "ca.pem"
    ca.write_bytes(decode_bytes(cr["status"]["ca"]))
    assert ca.read_bytes() == pem(root)
    result = openssl("verify", "-CAfile", ca, leaf)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout

    events = (await client.list(EVENTS, "default")).items
    reasons = {(e["involvedObject"]["kind"], e["reason"]) for e in events}
    assert {
        ("CertificateRequest", "cert-manager.io"),
        ("CertificateRequest", "CertificateIssued"),
        ("Issuer", "KeyPairVerified"),
    } <= reasons


async def test_missing_cluster_issuer_secret_then_created_gets_ready_and_issues(
    client: HttpKubeClient,
) -> None:
    """A Secret appearing in the cluster resource namespace re-queues the ClusterIssuer."""
    root, root_key = make_root("cluster root")
    await client.create(CLUSTER_ISSUERS, None, make_issuer("cca", cluster=True).to_dict())
    manifest = yaml.safe_load((DATA / "my-ca-cr.yaml").read_text())
    manifest["spec"]["issuerRef"] = {"name": "cca", "kind": "ClusterIssuer"}

    options = ControllerOptions(workers=1, cluster_resource_namespace="cert-manager")
    async with running(build_manager(client, options=options)):
        await client.create(CERTIFICATE_REQUESTS, "default", manifest)

        async def issuer_reason(expected: str) -> bool:
            obj = await client.get(CLUSTER_ISSUERS, None, "cca")
            state = ready_of(obj)
            return state is not None and state[1] == expected

        await eventually_async(lambda: issuer_reason("ErrGetKeyPair"), timeout=20)

        async def cr_reason() -> str | None:
            state = ready_of(await client.get(CERTIFICATE_REQUESTS, "default", "my-ca-cr"))
            return state[1] if state else None

        await eventually_async(lambda: _equals(cr_reason(), "Pending"), timeout=20)

        await client.create(
            SECRETS,
            "cert-manager",
            make_ca_secret(
                namespace="cert-manager", chain_pem=pem(root), key_pem=private_key_pem(root_key)
            ).to_dict(),
        )
        await eventually_async(lambda: issuer_reason("KeyPairVerified"), timeout=20)
        await eventually_async(lambda: _equals(cr_reason(), "Issued"), timeout=20)


async def _equals(value: Any, expected: Any) -> bool:
    return bool(await value == expected)


async def test_none_selection_runs_no_controllers(client: HttpKubeClient) -> None:
    manager = build_manager(client, options=ControllerOptions(controllers="none"))
    assert manager.controllers == []
