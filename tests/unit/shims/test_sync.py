"""The shim reconcilers over a fake API: what one reconcile writes (SPEC §7, §12 behaviour 25)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from certsmith.client.resources import CERTIFICATES, EVENTS, GATEWAYS, INGRESSES
from certsmith.controllers.runtime.cache import ObjectKey
from certsmith.controllers.setup import ControllerOptions
from certsmith.controllers.shims.annotations import InvalidAnnotationError
from certsmith.controllers.shims.sync import ShimOptions
from certsmith.issuers.registry import BUILTIN, build
from tests.fakes import ControllerHarness, FakeKubeClient


@pytest.fixture
async def harness() -> AsyncIterator[ControllerHarness]:
    options = ControllerOptions(
        controllers="ingress-shim,gateway-shim",
        issuers=build(BUILTIN),
        shims=ShimOptions(enable_gateway_api=True),
    )
    async with ControllerHarness(FakeKubeClient(), options=options) as h:
        yield h


def app_ingress(annotations: dict[str, str], tls: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": "app",
            "namespace": "ns",
            "annotations": annotations,
            "labels": {"app": "web", "applyset.kubernetes.io/part-of": "set"},
        },
        "spec": {"tls": tls},
    }


LE = {"cert-manager.io/cluster-issuer": "le"}
A_TLS = [{"hosts": ["a.example.com", "10.0.0.1"], "secretName": "a-tls"}]


async def events(h: ControllerHarness) -> list[tuple[str, str, str]]:
    page = await h.raw.list(EVENTS, "ns")
    return [(e["type"], e["reason"], e["message"]) for e in page.items]


async def test_ingress_with_cluster_issuer_gets_a_controlled_certificate(
    harness: ControllerHarness,
) -> None:
    ingress = await harness.apply(INGRESSES, app_ingress(LE, A_TLS))
    await harness.reconcile("ingress-shim", "ns", "app")
    cert = harness.raw.stored(CERTIFICATES, "ns", "a-tls")
    assert cert["spec"] == {
        "secretName": "a-tls",
        "dnsNames": ["a.example.com"],
        "ipAddresses": ["10.0.0.1"],
        "issuerRef": {"name": "le", "kind": "ClusterIssuer", "group": "cert-manager.io"},
        "usages": ["digital signature", "key encipherment"],
    }
    assert cert["metadata"]["labels"] == {"app": "web"}
    assert cert["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "name": "app",
            "uid": ingress["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert await events(harness) == [
        ("Normal", "CreateCertificate", 'Successfully created Certificate "a-tls"')
    ]


async def test_second_reconcile_writes_nothing(harness: ControllerHarness) -> None:
    await harness.apply(INGRESSES, app_ingress(LE, A_TLS))
    await harness.reconcile("ingress-shim", "ns", "app")
    await harness.reconcile("ingress-shim", "ns", "app")
    assert harness.client.writes == []


async def test_removed_tls_entry_deletes_its_certificate(harness: ControllerHarness) -> None:
    await harness.apply(INGRESSES, app_ingress(LE, A_TLS))
    await harness.reconcile("ingress-shim", "ns", "app")
    current = await harness.raw.get(INGRESSES, "ns", "app")
    current["spec"]["tls"] = []
    stored = await harness.raw.replace(INGRESSES, "ns", "app", current)
    await harness.wait_cached(stored, plural="ingresses")
    await harness.reconcile("ingress-shim", "ns", "app")
    assert [(w.verb, w.name) for w in harness.client.writes if w.plural == "certificates"] == [
        ("delete", "a-tls")
    ]
    assert (
        "Normal",
        "DeleteCertificate",
        'Successfully deleted unrequired Certificate "a-tls"',
    ) in (await events(harness))


async def test_both_issuer_annotations_create_nothing_and_warn(harness: ControllerHarness) -> None:
    both = {**LE, "cert-manager.io/issuer": "ca"}
    await harness.apply(INGRESSES, app_ingress(both, A_TLS))
    await harness.reconcile("ingress-shim", "ns", "app")
    assert [w.plural for w in harness.client.writes] == ["events"]
    assert await events(harness) == [
        (
            "Warning",
            "BadConfig",
            "Could not determine issuer for ingress due to bad annotations: both "
            '"cert-manager.io/issuer" and "cert-manager.io/cluster-issuer" may not be set',
        )
    ]


async def test_duration_annotation_change_updates_only_that(harness: ControllerHarness) -> None:
    await harness.apply(INGRESSES, app_ingress(LE, A_TLS))
    await harness.reconcile("ingress-shim", "ns", "app")
    current = await harness.raw.get(INGRESSES, "ns", "app")
    current["metadata"]["annotations"]["cert-manager.io/duration"] = "720h"
    stored = await harness.raw.replace(INGRESSES, "ns", "app", current)
    await harness.wait_cached(stored, plural="ingresses")
    await harness.reconcile("ingress-shim", "ns", "app")
    assert [(w.verb, w.name) for w in harness.client.writes if w.plural == "certificates"] == [
        ("replace", "a-tls")
    ]
    assert harness.raw.stored(CERTIFICATES, "ns", "a-tls")["spec"]["duration"] == "720h0m0s"
    assert ("Normal", "UpdateCertificate", 'Successfully updated Certificate "a-tls"') in (
        await events(harness)
    )


async def test_certificate_it_does_not_control_is_left_alone(harness: ControllerHarness) -> None:
    await harness.apply(
        CERTIFICATES,
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": {"name": "a-tls", "namespace": "ns"},
            "spec": {"secretName": "a-tls", "dnsNames": ["x"], "issuerRef": {"name": "mine"}},
        },
    )
    await harness.apply(INGRESSES, app_ingress(LE, A_TLS))
    await harness.reconcile("ingress-shim", "ns", "app")
    assert [w for w in harness.client.writes if w.plural == "certificates"] == []
    assert harness.raw.stored(CERTIFICATES, "ns", "a-tls")["spec"]["dnsNames"] == ["x"]


async def test_invalid_annotation_fails_the_sync_before_any_write(
    harness: ControllerHarness,
) -> None:
    await harness.apply(INGRESSES, app_ingress({**LE, "cert-manager.io/duration": "1m"}, A_TLS))
    with pytest.raises(InvalidAnnotationError, match="duration must be greater than"):
        await harness.reconcile("ingress-shim", "ns", "app")
    assert harness.client.writes == []


async def test_ingress_without_shim_annotations_is_ignored(harness: ControllerHarness) -> None:
    await harness.apply(INGRESSES, app_ingress({}, A_TLS))
    await harness.reconcile("ingress-shim", "ns", "app")
    assert harness.client.writes == []


async def test_gateway_listener_becomes_a_certificate_with_parent_ref_hints(
    harness: ControllerHarness,
) -> None:
    gateway = await harness.apply(
        GATEWAYS,
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "Gateway",
            "metadata": {
                "name": "gw",
                "namespace": "ns",
                "annotations": {"cert-manager.io/issuer": "ca"},
            },
            "spec": {
                "gatewayClassName": "x",
                "listeners": [
                    {
                        "name": "https",
                        "hostname": "g.example.com",
                        "port": 443,
                        "protocol": "HTTPS",
                        "tls": {"certificateRefs": [{"name": "g-tls"}]},
                    }
                ],
            },
        },
    )
    await harness.reconcile("gateway-shim", "ns", "gw")
    cert = harness.raw.stored(CERTIFICATES, "ns", "g-tls")
    assert cert["spec"]["dnsNames"] == ["g.example.com"]
    assert cert["spec"]["issuerRef"] == {"name": "ca", "kind": "Issuer", "group": "cert-manager.io"}
    assert cert["metadata"]["annotations"] == {
        "acme.cert-manager.io/http01-parentrefkind": "Gateway",
        "acme.cert-manager.io/http01-parentrefname": "gw",
    }
    assert cert["metadata"]["ownerReferences"][0]["uid"] == gateway["metadata"]["uid"]
    assert cert["metadata"]["ownerReferences"][0]["kind"] == "Gateway"


async def drain(harness: ControllerHarness, controller: str) -> list[ObjectKey]:
    queue = harness.controllers[controller].queue
    keys = []
    while len(queue):
        key = await queue.get()
        queue.done(key)
        keys.append(key)
    return keys


async def test_certificate_deleted_by_hand_requeues_its_ingress_and_comes_back(
    harness: ControllerHarness,
) -> None:
    await harness.apply(INGRESSES, app_ingress(LE, A_TLS))
    await harness.reconcile("ingress-shim", "ns", "app")
    await drain(harness, "ingress-shim")
    await harness.raw.delete(CERTIFICATES, "ns", "a-tls")
    await harness.wait_deleted("certificates", "ns", "a-tls")
    assert await drain(harness, "ingress-shim") == [ObjectKey("ns", "app")]
    await harness.reconcile("ingress-shim", "ns", "app")
    assert harness.raw.stored(CERTIFICATES, "ns", "a-tls")["spec"]["secretName"] == "a-tls"


async def test_gateway_owned_certificate_does_not_requeue_the_ingress_shim(
    harness: ControllerHarness,
) -> None:
    await harness.apply(
        CERTIFICATES,
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": {
                "name": "g-tls",
                "namespace": "ns",
                "ownerReferences": [
                    {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                     "name": "gw", "uid": "u1", "controller": True}
                ],
            },
            "spec": {"secretName": "g-tls", "dnsNames": ["g"], "issuerRef": {"name": "ca"}},
        },
    )  # fmt: skip
    assert await drain(harness, "ingress-shim") == []
    assert await drain(harness, "gateway-shim") == [ObjectKey("ns", "gw")]


async def test_ingress_being_deleted_in_foreground_is_skipped(harness: ControllerHarness) -> None:
    ingress = app_ingress(LE, A_TLS)
    ingress["metadata"]["finalizers"] = ["foregroundDeletion"]
    await harness.apply(INGRESSES, ingress)
    await harness.reconcile("ingress-shim", "ns", "app")
    assert harness.client.writes == []
