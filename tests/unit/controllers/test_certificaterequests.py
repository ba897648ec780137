"""The shared CertificateRequest reconciler over the in-memory client: errors and triggers.

The gates are covered against the real server in ``tests/integration``; these are the cases the
server's admission would not let us seed (an invalid issuer kind) and the wiring of triggers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from certsmith.api.conditions import ConditionStatus, ConditionType
from certsmith.api.meta import Condition
from certsmith.client.errors import Conflict, error_from_status
from certsmith.client.resources import CERTIFICATE_REQUESTS, CLUSTER_ISSUERS, ISSUERS, SECRETS
from certsmith.controllers.certificaterequests import (
    InvalidIssuerKindError,
    requests_for_issuer,
    requests_for_secret,
)
from certsmith.controllers.informers import SharedInformers
from certsmith.controllers.runtime.cache import ObjectKey
from certsmith.controllers.setup import REQUEST_ISSUER, ControllerOptions
from certsmith.util.clock import FakeClock
from tests.builders import make_cert_request, make_issuer, make_secret
from tests.fakes import ControllerHarness, FakeKubeClient

APPROVED = Condition(
    type=ConditionType.APPROVED, status=ConditionStatus.TRUE, reason="t", message="t"
)


@pytest.fixture
async def harness() -> AsyncIterator[ControllerHarness]:
    client = FakeKubeClient(FakeClock())
    options = ControllerOptions(controllers="*,-certificaterequests-approver", clock=client.clock)
    async with ControllerHarness(client, options=options) as h:
        yield h


async def test_invalid_issuer_kind_is_an_error_to_retry(harness: ControllerHarness) -> None:
    await harness.apply(
        CERTIFICATE_REQUESTS, make_cert_request(issuer_kind="Other", conditions=(APPROVED,))
    )
    with pytest.raises(InvalidIssuerKindError) as raised:
        await harness.reconcile(REQUEST_ISSUER, "ns", "cr")
    assert str(raised.value) == (
        'invalid value "Other" for issuerRef.kind. Must be empty, "Issuer" or "ClusterIssuer"'
    )
    assert harness.client.take() == []


async def test_issuer_without_type_leaves_request_pending(harness: ControllerHarness) -> None:
    await harness.apply(ISSUERS, {"metadata": {"name": "ca", "namespace": "ns"}, "spec": {}})
    await harness.apply(CERTIFICATE_REQUESTS, make_cert_request(conditions=(APPROVED,)))

    await harness.reconcile(REQUEST_ISSUER, "ns", "cr")

    stored = harness.raw.stored(CERTIFICATE_REQUESTS, "ns", "cr")
    ready = next(c for c in stored["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["reason"], ready["message"]) == (
        "Pending",
        "Missing issuer type: no issuer specified for Issuer 'ns/ca'",
    )


async def test_status_conflict_propagates_for_a_retry_and_records_no_event(
    harness: ControllerHarness,
) -> None:
    await harness.apply(CERTIFICATE_REQUESTS, make_cert_request(conditions=(APPROVED,)))
    conflict = error_from_status({"code": 409, "reason": "Conflict", "message": "stale"})
    harness.raw.fail("replace_status", conflict)

    with pytest.raises(Conflict):
        await harness.reconcile(REQUEST_ISSUER, "ns", "cr")

    assert harness.client.take() == []


def _informers_with(objects: dict[str, list[dict[str, Any]]]) -> SharedInformers:
    informers = SharedInformers(FakeKubeClient(), cluster_resource_namespace="cert-manager")
    for plural, items in objects.items():
        informer = getattr(informers, plural)
        for obj in items:
            informer.cache.upsert(obj)
    return informers


def test_issuer_events_map_to_the_requests_that_name_them() -> None:
    informers = _informers_with(
        {
            "requests": [
                make_cert_request("a", issuer="ca").to_dict(),
                make_cert_request("b", issuer="ca", namespace="other").to_dict(),
                make_cert_request("c", issuer="ca", issuer_kind="ClusterIssuer").to_dict(),
                make_cert_request("d", issuer="ca", issuer_group="example.com").to_dict(),
            ]
        }
    )
    issuer = make_issuer("ca", namespace="ns").to_dict()
    cluster_issuer = make_issuer("ca", cluster=True).to_dict()
    assert requests_for_issuer(informers, issuer) == [ObjectKey("ns", "a")]
    assert requests_for_issuer(informers, cluster_issuer) == [ObjectKey("ns", "c")]


def test_secret_events_map_to_key_owners_and_to_requests_of_issuers_reading_them() -> None:
    informers = _informers_with(
        {
            "requests": [
                make_cert_request(
                    "ss",
                    issuer="self",
                    annotations={"cert-manager.io/private-key-secret-name": "k"},
                ).to_dict(),
                make_cert_request("via-ca", issuer="ca").to_dict(),
                make_cert_request("via-cca", issuer="cca", issuer_kind="ClusterIssuer").to_dict(),
            ],
            "issuers": [make_issuer("ca", namespace="ns").to_dict()],
            "cluster_issuers": [make_issuer("cca", cluster=True).to_dict()],
        }
    )
    key = make_secret("k", namespace="ns").to_dict()
    ca_secret = make_secret("ca-key-pair", namespace="ns").to_dict()
    cluster_secret = make_secret("ca-key-pair", namespace="cert-manager").to_dict()
    assert requests_for_secret(informers, key) == [ObjectKey("ns", "ss")]
    assert requests_for_secret(informers, ca_secret) == [ObjectKey("ns", "via-ca")]
    assert requests_for_secret(informers, cluster_secret) == [ObjectKey("ns", "via-cca")]


def test_resources_are_the_expected_ones() -> None:
    informers = _informers_with({})
    assert informers.requests.resource == CERTIFICATE_REQUESTS
    assert informers.cluster_issuers.resource == CLUSTER_ISSUERS
    assert informers.secrets.resource == SECRETS
