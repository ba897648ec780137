"""Issuer readiness and the built-in approver against the real server, one reconcile per step.

SPEC §12 behaviour 17 (issuer readiness reasons, ClusterIssuer secret namespace) and behaviour 2
(built-in approval), plus the approver's skips and its signer-name list.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from certsmith.client.http import HttpKubeClient
from certsmith.client.resources import (
    CERTIFICATE_REQUESTS,
    CLUSTER_ISSUERS,
    ISSUERS,
    NAMESPACES,
    SECRETS,
)
from certsmith.controllers.errors import RetryLater
from certsmith.controllers.setup import APPROVER, ControllerOptions
from certsmith.controllers.setup import CLUSTER_ISSUERS as CLUSTER_ISSUERS_CONTROLLER
from certsmith.controllers.setup import ISSUERS as ISSUERS_CONTROLLER
from certsmith.util.clock import FakeClock
from tests.builders import make_ca_secret, make_cert_request, make_issuer, private_key_pem
from tests.fakes import ControllerHarness, Write
from tests.pkitools import make_leaf, make_root, pem
from tests.servertools import running_server

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
async def raw(tmp_path: Path) -> AsyncIterator[HttpKubeClient]:
    async with running_server(tmp_path / "data") as server:
        client = HttpKubeClient.from_kubeconfig(server.kubeconfig_path)
        try:
            for name in ("ns", "cert-manager"):
                await client.create(NAMESPACES, None, {"metadata": {"name": name}})
            yield client
        finally:
            await client.aclose()


@pytest.fixture
async def harness(raw: HttpKubeClient) -> AsyncIterator[ControllerHarness]:
    options = ControllerOptions(
        controllers="issuers,clusterissuers,certificaterequests-approver", clock=FakeClock(NOW)
    )
    async with ControllerHarness(raw, options=options) as h:
        yield h


def ready(obj: dict[str, Any]) -> dict[str, Any] | None:
    conds = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conds if c["type"] == "Ready"), None)


def events(writes: list[Write]) -> list[tuple[str, str, str]]:
    return [
        (w.body["type"], w.body["reason"], w.body["message"])
        for w in writes
        if w.plural == "events" and w.verb == "create"
    ]


def targets(writes: list[Write]) -> set[tuple[str, str, str | None, str]]:
    return {w.target for w in writes if w.plural != "events"}


# -- issuer readiness (SPEC §12 behaviour 17) ----------------------------------------------------


async def test_ca_issuer_readiness_follows_its_secret(harness: ControllerHarness) -> None:
    await harness.apply(ISSUERS, make_issuer("ca", namespace="ns"))

    with pytest.raises(RetryLater):
        await harness.reconcile(ISSUERS_CONTROLLER, "ns", "ca")
    writes = harness.client.take()
    issuer = await harness.raw.get(ISSUERS, "ns", "ca")
    cond = ready(issuer)
    assert cond is not None
    assert (cond["status"], cond["reason"]) == ("False", "ErrGetKeyPair")
    assert cond["message"].startswith("Error getting keypair for CA issuer:")
    assert cond["observedGeneration"] == issuer["metadata"]["generation"]
    assert targets(writes) == {("replace_status", "issuers", "ns", "ca")}
    assert [e[:2] for e in events(writes)] == [("Warning", "ErrGetKeyPair")]

    # A certificate that is not a CA: not retried.
    root, root_key = make_root()
    leaf = make_leaf("leaf", root, root_key)
    secret = await harness.apply(
        SECRETS,
        make_ca_secret(namespace="ns", chain_pem=pem(leaf), key_pem=private_key_pem(root_key)),
    )
    assert await harness.reconcile(ISSUERS_CONTROLLER, "ns", "ca") is None
    writes = harness.client.take()
    cond = ready(await harness.raw.get(ISSUERS, "ns", "ca"))
    assert cond is not None
    assert (cond["status"], cond["reason"], cond["message"]) == (
        "False",
        "ErrInvalidKeyPair",
        "Error getting keypair for CA issuer: certificate is not a CA",
    )
    assert [e[:2] for e in events(writes)] == [("Warning", "ErrInvalidKeyPair")]

    # A CA certificate and key: ready.
    secret["data"] = make_ca_secret(
        namespace="ns", chain_pem=pem(root), key_pem=private_key_pem(root_key)
    ).data
    stored = await harness.raw.replace(SECRETS, "ns", "ca-key-pair", secret)
    await harness.wait_cached(stored, plural="secrets")
    assert await harness.reconcile(ISSUERS_CONTROLLER, "ns", "ca") is None
    writes = harness.client.take()
    cond = ready(await harness.raw.get(ISSUERS, "ns", "ca"))
    assert cond is not None
    assert (cond["status"], cond["reason"], cond["message"]) == (
        "True",
        "KeyPairVerified",
        "Signing CA verified",
    )
    assert events(writes) == [("Normal", "KeyPairVerified", "Signing CA verified")]

    # Nothing changed: no write, no event.
    assert await harness.reconcile(ISSUERS_CONTROLLER, "ns", "ca") is None
    assert harness.client.take() == []


async def test_selfsigned_issuer_is_ready_with_reason_is_ready(harness: ControllerHarness) -> None:
    await harness.apply(ISSUERS, make_issuer("ss", namespace="ns", selfSigned={}))

    await harness.reconcile(ISSUERS_CONTROLLER, "ns", "ss")

    cond = ready(await harness.raw.get(ISSUERS, "ns", "ss"))
    assert cond is not None
    assert (cond["status"], cond["reason"], cond.get("message", "")) == ("True", "IsReady", "")


async def test_cluster_issuer_reads_the_cluster_resource_namespace(
    harness: ControllerHarness,
) -> None:
    root, root_key = make_root()
    # The same Secret name in another namespace must not count.
    await harness.apply(
        SECRETS,
        make_ca_secret(namespace="ns", chain_pem=pem(root), key_pem=private_key_pem(root_key)),
    )
    await harness.apply(CLUSTER_ISSUERS, make_issuer("cca", cluster=True))
    with pytest.raises(RetryLater):
        await harness.reconcile(CLUSTER_ISSUERS_CONTROLLER, None, "cca")
    cond = ready(await harness.raw.get(CLUSTER_ISSUERS, None, "cca"))
    assert cond is not None
    assert cond["reason"] == "ErrGetKeyPair"

    await harness.apply(
        SECRETS,
        make_ca_secret(
            namespace="cert-manager", chain_pem=pem(root), key_pem=private_key_pem(root_key)
        ),
    )
    await harness.reconcile(CLUSTER_ISSUERS_CONTROLLER, None, "cca")
    writes = harness.client.take()
    cond = ready(await harness.raw.get(CLUSTER_ISSUERS, None, "cca"))
    assert cond is not None
    assert (cond["status"], cond["reason"]) == ("True", "KeyPairVerified")
    assert targets(writes) == {("replace_status", "clusterissuers", None, "cca")}
    # Events about cluster-scoped objects land in "default", as client-go puts them.
    assert [w.namespace for w in writes if w.plural == "events"] == ["default"]


async def test_secret_changes_queue_only_the_issuers_that_read_them(
    harness: ControllerHarness,
) -> None:
    await harness.apply(ISSUERS, make_issuer("ca", namespace="ns"))
    await harness.apply(CLUSTER_ISSUERS, make_issuer("cca", cluster=True))
    root, root_key = make_root()
    queue = harness.controllers[ISSUERS_CONTROLLER].queue
    cluster_queue = harness.controllers[CLUSTER_ISSUERS_CONTROLLER].queue
    for q in (queue, cluster_queue):
        while len(q):
            q.done(await q.get())

    await harness.apply(
        SECRETS,
        make_ca_secret(namespace="ns", chain_pem=pem(root), key_pem=private_key_pem(root_key)),
    )
    assert len(queue) == 1
    assert len(cluster_queue) == 0

    await harness.apply(
        SECRETS,
        make_ca_secret(
            namespace="cert-manager", chain_pem=pem(root), key_pem=private_key_pem(root_key)
        ),
    )
    assert len(queue) == 1
    assert len(cluster_queue) == 1


# -- the built-in approver (SPEC §3.1, §12 behaviour 2) --------------------------------------


APPROVED = (
    "True",
    "cert-manager.io",
    "Certificate request has been approved by cert-manager.io",
)


def approved(obj: dict[str, Any]) -> tuple[str, str, str] | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond["type"] == "Approved":
            return (cond["status"], cond["reason"], cond["message"])
    return None


async def test_approver_approves_cert_manager_requests(harness: ControllerHarness) -> None:
    await harness.apply(CERTIFICATE_REQUESTS, make_cert_request())

    assert await harness.reconcile(APPROVER, "ns", "cr") is None

    writes = harness.client.take()
    assert targets(writes) == {("replace_status", "certificaterequests", "ns", "cr")}
    assert events(writes) == [("Normal", *APPROVED[1:])]
    assert approved(await harness.raw.get(CERTIFICATE_REQUESTS, "ns", "cr")) == APPROVED

    # Already approved: nothing more.
    await harness.reconcile(APPROVER, "ns", "cr")
    assert harness.client.take() == []


async def test_approver_approves_cluster_issuer_requests(harness: ControllerHarness) -> None:
    await harness.apply(
        CERTIFICATE_REQUESTS, make_cert_request(issuer="cca", issuer_kind="ClusterIssuer")
    )
    await harness.reconcile(APPROVER, "ns", "cr")
    assert approved(await harness.raw.get(CERTIFICATE_REQUESTS, "ns", "cr")) == APPROVED


@pytest.mark.parametrize(
    "status",
    [
        pytest.param(
            {"conditions": [{"type": "Denied", "status": "True", "reason": "r", "message": "m"}]},
            id="denied",
        ),
        pytest.param(
            {
                "conditions": [
                    {"type": "Ready", "status": "False", "reason": "Failed", "message": "m"}
                ]
            },
            id="failed",
        ),
    ],
)
async def test_approver_skips_denied_and_terminal_requests(
    harness: ControllerHarness, status: dict[str, Any]
) -> None:
    await harness.apply(CERTIFICATE_REQUESTS, make_cert_request())
    for cond in status["conditions"]:
        cond["lastTransitionTime"] = "2026-01-01T00:00:00Z"
    await harness.set_status(CERTIFICATE_REQUESTS, "ns", "cr", status)

    await harness.reconcile(APPROVER, "ns", "cr")

    assert harness.client.take() == []


async def test_approver_leaves_external_issuers_to_their_approvers(
    harness: ControllerHarness,
) -> None:
    await harness.apply(CERTIFICATE_REQUESTS, make_cert_request(issuer_group="example.com"))

    await harness.reconcile(APPROVER, "ns", "cr")

    assert harness.client.take() == []
    assert approved(await harness.raw.get(CERTIFICATE_REQUESTS, "ns", "cr")) is None


async def test_approver_signer_list_limits_approval(raw: HttpKubeClient) -> None:
    options = ControllerOptions(
        controllers=APPROVER,
        clock=FakeClock(NOW),
        approve_signer_names=("issuers.cert-manager.io/ns.allowed",),
    )
    async with ControllerHarness(raw, options=options) as h:
        await h.apply(CERTIFICATE_REQUESTS, make_cert_request("yes", issuer="allowed"))
        await h.apply(CERTIFICATE_REQUESTS, make_cert_request("no", issuer="other"))
        await h.reconcile(APPROVER, "ns", "yes")
        await h.reconcile(APPROVER, "ns", "no")
        assert approved(await raw.get(CERTIFICATE_REQUESTS, "ns", "yes")) == APPROVED
        assert approved(await raw.get(CERTIFICATE_REQUESTS, "ns", "no")) is None
