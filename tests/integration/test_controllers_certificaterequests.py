"""The shared CertificateRequest reconciler against the real server: one reconcile per step.

Each case seeds the real SQLite store through the real HTTPS app, runs one reconcile of the
``certificaterequests-issuer`` controller, and asserts the Ready condition, the Events and the
exact set of writes (SPEC §1.5, §12 behaviours 1, 3-7, 13, 14).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest
from cryptography import x509

from certsmith.api.certmanager import AnyIssuer, CertificateRequest
from certsmith.api.conditions import ConditionStatus, ConditionType
from certsmith.api.meta import Condition, decode_bytes
from certsmith.client.http import HttpKubeClient
from certsmith.client.resources import (
    CERTIFICATE_REQUESTS,
    CLUSTER_ISSUERS,
    ISSUERS,
    NAMESPACES,
    SECRETS,
)
from certsmith.controllers.errors import RetryLater
from certsmith.controllers.runtime.manager import Requeue
from certsmith.controllers.setup import REQUEST_ISSUER, ControllerOptions
from certsmith.issuers.base import Issued, IssuerContext, IssuerReady, SignPending
from certsmith.issuers.registry import build
from certsmith.issuers.selfsigned import SelfSignedIssuer
from certsmith.util.clock import FakeClock
from tests.builders import (
    cached_ec_key,
    make_ca_secret,
    make_cert_request,
    make_issuer,
    private_key_pem,
)
from tests.fakes import ControllerHarness, Write
from tests.pkitools import make_intermediate, make_root, pem
from tests.servertools import running_server

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
PRIVATE_KEY_ANNOTATION = "cert-manager.io/private-key-secret-name"


def approved(*extra: Condition) -> tuple[Condition, ...]:
    return (
        Condition(
            type=ConditionType.APPROVED,
            status=ConditionStatus.TRUE,
            reason="test",
            message="approved by the test",
            last_transition_time=NOW,
        ),
        *extra,
    )


def condition(ctype: ConditionType, status: str, reason: str, message: str = "") -> Condition:
    return Condition(
        type=ctype,
        status=ConditionStatus(status),
        reason=reason,
        message=message,
        last_transition_time=NOW,
    )


def ready_issuer_status() -> dict[str, Any]:
    return {
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "KeyPairVerified",
                "message": "Signing CA verified",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }
        ]
    }


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
    options = ControllerOptions(controllers="*,-certificaterequests-approver", clock=FakeClock(NOW))
    async with ControllerHarness(raw, options=options) as h:
        yield h


# -- seeding -----------------------------------------------------------------------------------


async def seed_ca(
    h: ControllerHarness,
    *,
    name: str = "ca",
    namespace: str = "ns",
    chain: bytes | None = None,
    ready: bool = True,
    cluster: bool = False,
    secret: bool = True,
) -> None:
    root, root_key = make_root()
    if secret:
        secret_ns = "cert-manager" if cluster else namespace
        await h.apply(
            SECRETS,
            make_ca_secret(
                namespace=secret_ns, chain_pem=chain or pem(root), key_pem=private_key_pem(root_key)
            ),
        )
    issuer: AnyIssuer = make_issuer(name, namespace=namespace, cluster=cluster)
    body = issuer.to_dict()
    if ready:
        body["status"] = ready_issuer_status()
    await h.apply(CLUSTER_ISSUERS if cluster else ISSUERS, body)


async def seed_selfsigned(h: ControllerHarness, *, with_key: bool = True) -> None:
    body = make_issuer("ss", namespace="ns", selfSigned={}).to_dict()
    body["status"] = ready_issuer_status()
    await h.apply(ISSUERS, body)
    if with_key:
        await h.apply(
            SECRETS,
            make_ca_secret(
                "ss-key", namespace="ns", chain_pem=b"", key_pem=private_key_pem(cached_ec_key())
            ),
        )


async def read_cr(h: ControllerHarness, name: str = "cr") -> CertificateRequest:
    return CertificateRequest.from_dict(await h.raw.get(CERTIFICATE_REQUESTS, "ns", name))


def ready(cr: CertificateRequest) -> Condition | None:
    conds = cr.status.conditions if cr.status else None
    return next((c for c in conds or () if c.type == ConditionType.READY), None)


def event_summary(writes: list[Write]) -> list[tuple[str, str]]:
    return [
        (w.body["type"], w.body["reason"])
        for w in writes
        if w.plural == "events" and w.verb == "create"
    ]


def object_writes(writes: list[Write]) -> set[tuple[str, str, str | None, str]]:
    return {w.target for w in writes if w.plural != "events"}


Target = tuple[str, str, str | None, str]
CR_STATUS_WRITE: set[Target] = {("replace_status", "certificaterequests", "ns", "cr")}


# -- the table ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    given: Callable[[ControllerHarness], Awaitable[None]]
    request: Callable[[], CertificateRequest]
    expect_reason: str | None
    expect_message: str = ""
    expect_events: list[tuple[str, str]] = field(default_factory=list)
    expect_writes: set[tuple[str, str, str | None, str]] = field(default_factory=set)
    expect_failure_time: bool = False
    expect_certificate: bool = False


async def nothing(h: ControllerHarness) -> None:
    del h


CASES = [
    Case(
        "unapproved_request_gets_waiting_for_approval_event_and_no_condition",
        seed_ca,
        lambda: make_cert_request(),
        expect_reason=None,
        expect_events=[("Normal", "WaitingForApproval")],
    ),
    Case(
        "missing_issuer_leaves_request_pending_with_issuer_not_found",
        nothing,
        lambda: make_cert_request(issuer="missing", conditions=approved()),
        expect_reason="Pending",
        expect_message='Referenced "Issuer" not found: issuer.cert-manager.io "missing" not found',
        expect_events=[("Normal", "IssuerNotFound")],
        expect_writes=CR_STATUS_WRITE,
    ),
    Case(
        "missing_cluster_issuer_names_the_cluster_issuer_kind",
        nothing,
        lambda: make_cert_request(
            issuer="gone", issuer_kind="ClusterIssuer", conditions=approved()
        ),
        expect_reason="Pending",
        expect_message=(
            'Referenced "ClusterIssuer" not found: clusterissuer.cert-manager.io "gone" not found'
        ),
        expect_events=[("Normal", "IssuerNotFound")],
        expect_writes=CR_STATUS_WRITE,
    ),
    Case(
        "issuer_without_ready_condition_leaves_request_pending",
        lambda h: seed_ca(h, ready=False),
        lambda: make_cert_request(conditions=approved()),
        expect_reason="Pending",
        expect_message="Referenced issuer does not have a Ready status condition",
        expect_events=[("Normal", "IssuerNotReady")],
        expect_writes=CR_STATUS_WRITE,
    ),
    Case(
        "foreign_issuer_group_is_never_touched",
        seed_ca,
        # Unapproved on purpose: the server's approval check refuses unknown signers, and an
        # unapproved request would get a WaitingForApproval event if the group gate let it by.
        lambda: make_cert_request(issuer_group="example.com"),
        expect_reason=None,
    ),
    Case(
        "denied_request_gets_ready_false_denied_with_failure_time",
        seed_ca,
        lambda: make_cert_request(
            conditions=(condition(ConditionType.DENIED, "True", "test", "no"),)
        ),
        expect_reason="Denied",
        expect_message="The CertificateRequest was denied by an approval controller",
        expect_writes=CR_STATUS_WRITE,
        expect_failure_time=True,
    ),
    Case(
        "invalid_request_is_left_alone",
        seed_ca,
        lambda: make_cert_request(
            conditions=approved(condition(ConditionType.INVALID_REQUEST, "True", "Bad", "bad"))
        ),
        expect_reason=None,
    ),
    Case(
        "failed_request_is_never_retried",
        seed_ca,
        lambda: make_cert_request(
            conditions=approved(condition(ConditionType.READY, "False", "Failed", "earlier"))
        ),
        expect_reason="Failed",
        expect_message="earlier",
    ),
    Case(
        "selfsigned_request_without_key_annotation_fails_for_good",
        seed_selfsigned,
        lambda: make_cert_request(issuer="ss", conditions=approved()),
        expect_reason="Failed",
        expect_message=(
            'Annotation "cert-manager.io/private-key-secret-name" missing or reference empty: '
            "secret name missing"
        ),
        expect_events=[("Warning", "MissingAnnotation")],
        expect_writes=CR_STATUS_WRITE,
        expect_failure_time=True,
    ),
    Case(
        "selfsigned_request_with_key_annotation_is_issued",
        seed_selfsigned,
        lambda: make_cert_request(
            issuer="ss", conditions=approved(), annotations={PRIVATE_KEY_ANNOTATION: "ss-key"}
        ),
        expect_reason="Issued",
        expect_message="Certificate fetched from issuer successfully",
        expect_events=[("Normal", "CertificateIssued")],
        expect_writes=CR_STATUS_WRITE,
        expect_certificate=True,
    ),
    Case(
        "ca_request_is_issued",
        seed_ca,
        lambda: make_cert_request(conditions=approved()),
        expect_reason="Issued",
        expect_message="Certificate fetched from issuer successfully",
        expect_events=[("Normal", "CertificateIssued")],
        expect_writes=CR_STATUS_WRITE,
        expect_certificate=True,
    ),
    Case(
        "ready_ca_issuer_with_missing_secret_leaves_request_pending",
        lambda h: seed_ca(h, secret=False),
        lambda: make_cert_request(conditions=approved()),
        expect_reason="Pending",
        expect_message='Referenced secret ns/ca-key-pair not found: secret "ca-key-pair" not found',
        expect_events=[("Normal", "SecretMissing")],
        expect_writes=CR_STATUS_WRITE,
    ),
    Case(
        "cluster_issuer_reads_its_secret_from_the_cluster_resource_namespace",
        lambda h: seed_ca(h, name="cluster-ca", cluster=True),
        lambda: make_cert_request(
            issuer="cluster-ca", issuer_kind="ClusterIssuer", conditions=approved()
        ),
        expect_reason="Issued",
        expect_message="Certificate fetched from issuer successfully",
        expect_events=[("Normal", "CertificateIssued")],
        expect_writes=CR_STATUS_WRITE,
        expect_certificate=True,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_one_reconcile(case: Case, harness: ControllerHarness) -> None:
    await case.given(harness)
    await harness.apply(CERTIFICATE_REQUESTS, case.request())

    result = await harness.reconcile(REQUEST_ISSUER, "ns", "cr")

    assert result is None
    writes = harness.client.take()
    assert object_writes(writes) == case.expect_writes
    assert event_summary(writes) == case.expect_events
    cr = await read_cr(harness)
    cond = ready(cr)
    if case.expect_reason is None:
        assert cond is None
    else:
        assert cond is not None
        assert cond.reason == case.expect_reason
        assert cond.message == case.expect_message
        assert cond.status == ("True" if case.expect_reason == "Issued" else "False")
    failure_time = cr.status.failure_time if cr.status else None
    assert (failure_time is not None) == case.expect_failure_time
    certificate = cr.status.certificate if cr.status else None
    assert bool(certificate) == case.expect_certificate


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_second_reconcile_changes_nothing(case: Case, harness: ControllerHarness) -> None:
    """Re-running is harmless: no status write, and Pending does not repeat its event."""
    await case.given(harness)
    await harness.apply(CERTIFICATE_REQUESTS, case.request())
    await harness.reconcile(REQUEST_ISSUER, "ns", "cr")
    first = await read_cr(harness)

    await harness.reconcile(REQUEST_ISSUER, "ns", "cr")

    writes = harness.client.take()
    assert object_writes(writes) == set()
    # Only the approval gate speaks again, and the recorder folds it into the first Event.
    assert event_summary(writes) == []
    if case.expect_reason is None and case.expect_events:
        assert [w.verb for w in writes] == ["patch"]
        assert writes[0].body["count"] == 2
    else:
        assert writes == []
    assert await read_cr(harness) == first


# -- sequences ---------------------------------------------------------------------------------


async def test_missing_issuer_pending_then_issued_once_the_issuer_appears(
    harness: ControllerHarness,
) -> None:
    created = await harness.apply(
        CERTIFICATE_REQUESTS, make_cert_request(issuer="ca", conditions=approved())
    )
    await harness.reconcile(REQUEST_ISSUER, "ns", "cr")
    pending = await read_cr(harness)
    assert ready(pending) is not None
    assert ready(pending).reason == "Pending"  # type: ignore[union-attr]
    assert pending.status is not None
    assert pending.status.failure_time is None

    await seed_ca(harness)
    await harness.reconcile(REQUEST_ISSUER, "ns", "cr")

    issued = await read_cr(harness)
    cond = ready(issued)
    assert cond is not None
    assert (cond.status, cond.reason) == ("True", "Issued")
    assert issued.metadata.uid == created["metadata"]["uid"]  # the same request, not recreated


async def test_denied_failure_time_is_set_once(harness: ControllerHarness) -> None:
    await seed_ca(harness)
    await harness.apply(
        CERTIFICATE_REQUESTS,
        make_cert_request(conditions=(condition(ConditionType.DENIED, "True", "test", "no"),)),
    )
    await harness.reconcile(REQUEST_ISSUER, "ns", "cr")
    first = (await read_cr(harness)).status
    assert first is not None
    assert first.failure_time is not None

    # Even a stale Ready reason is replaced, but the failure time stays the first one.
    status = (await harness.raw.get(CERTIFICATE_REQUESTS, "ns", "cr"))["status"]
    status["conditions"] = [c for c in status["conditions"] if c["type"] != "Ready"]
    await harness.set_status(CERTIFICATE_REQUESTS, "ns", "cr", status)
    await harness.reconcile(REQUEST_ISSUER, "ns", "cr")

    second = (await read_cr(harness)).status
    assert second is not None
    assert second.failure_time == first.failure_time
    assert second.certificate is None


async def test_deleted_request_is_skipped(harness: ControllerHarness) -> None:
    await seed_ca(harness)
    body = make_cert_request(conditions=approved()).to_dict()
    body["metadata"]["finalizers"] = ["example.com/hold"]
    await harness.apply(CERTIFICATE_REQUESTS, body)
    await harness.raw.delete(CERTIFICATE_REQUESTS, "ns", "cr")
    current = await harness.raw.get(CERTIFICATE_REQUESTS, "ns", "cr")
    await harness.wait_cached(current, plural="certificaterequests")

    await harness.reconcile(REQUEST_ISSUER, "ns", "cr")

    assert harness.client.take() == []


# -- CA certificates (SPEC §12 behaviours 13, 14) ----------------------------------------------


def chain_of(cr: CertificateRequest) -> tuple[list[x509.Certificate], list[x509.Certificate]]:
    assert cr.status is not None
    assert cr.status.certificate is not None
    assert cr.status.ca is not None
    chain = x509.load_pem_x509_certificates(decode_bytes(cr.status.certificate))
    ca = x509.load_pem_x509_certificates(decode_bytes(cr.status.ca))
    return chain, ca


async def test_ca_issuer_defaults(harness: ControllerHarness) -> None:
    root, _ = make_root()
    await seed_ca(harness, chain=pem(root))  # make_root's key is cached: the same pair
    await harness.apply(CERTIFICATE_REQUESTS, make_cert_request(conditions=approved()))

    await harness.reconcile(REQUEST_ISSUER, "ns", "cr")

    chain, ca = chain_of(await read_cr(harness))
    assert len(chain) == 1
    leaf = chain[0]
    assert ca == [root]
    assert leaf.issuer == root.subject
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == dt.timedelta(hours=2160)
    ku = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical
    assert ku.value.digital_signature
    assert ku.value.key_encipherment
    assert not ku.value.key_cert_sign
    with pytest.raises(x509.ExtensionNotFound):
        leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["example.com"]


async def test_ca_chain_omits_the_root_and_reports_it_as_ca(harness: ControllerHarness) -> None:
    root, root_key = make_root()
    inter, inter_key = make_intermediate("intermediate", root, root_key)
    await harness.apply(
        SECRETS,
        make_ca_secret(
            namespace="ns", chain_pem=pem(inter, root), key_pem=private_key_pem(inter_key)
        ),
    )
    body = make_issuer("ca", namespace="ns").to_dict()
    body["status"] = ready_issuer_status()
    await harness.apply(ISSUERS, body)
    await harness.apply(CERTIFICATE_REQUESTS, make_cert_request(conditions=approved()))

    await harness.reconcile(REQUEST_ISSUER, "ns", "cr")

    chain, ca = chain_of(await read_cr(harness))
    assert chain[1:] == [inter]
    assert chain[0].issuer == inter.subject
    assert ca == [root]


async def test_ca_chain_with_only_an_intermediate_reports_it_as_ca(
    harness: ControllerHarness,
) -> None:
    root, root_key = make_root()
    inter, inter_key = make_intermediate("intermediate", root, root_key)
    await harness.apply(
        SECRETS,
        make_ca_secret(namespace="ns", chain_pem=pem(inter), key_pem=private_key_pem(inter_key)),
    )
    body = make_issuer("ca", namespace="ns").to_dict()
    body["status"] = ready_issuer_status()
    await harness.apply(ISSUERS, body)
    await harness.apply(CERTIFICATE_REQUESTS, make_cert_request(conditions=approved()))

    await harness.reconcile(REQUEST_ISSUER, "ns", "cr")

    chain, ca = chain_of(await read_cr(harness))
    assert chain[1:] == [inter]
    assert ca == [inter]


# -- issuer outcomes the reconciler must map (a static issuer at the edge) ----------------------


class StaticIssuer:
    """An issuer whose sign outcome the test chooses."""

    spec_key: ClassVar[str] = "ca"

    def __init__(self, outcome: Issued | BaseException) -> None:
        self.outcome = outcome

    async def check(self, issuer: AnyIssuer, ctx: IssuerContext) -> IssuerReady:
        raise NotImplementedError

    async def sign(
        self, request: CertificateRequest, issuer: AnyIssuer, ctx: IssuerContext
    ) -> Issued:
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


async def static_harness(raw: HttpKubeClient, outcome: Issued | BaseException) -> ControllerHarness:
    issuers = {"ca": StaticIssuer(outcome), **build([SelfSignedIssuer])}
    options = ControllerOptions(
        controllers="certificaterequests-issuer-ca", clock=FakeClock(NOW), issuers=issuers
    )
    return ControllerHarness(raw, options=options)


async def test_unexpected_issuer_error_is_pending_without_leaking_and_retried(
    raw: HttpKubeClient,
) -> None:
    secret = private_key_pem(cached_ec_key()).decode()
    async with await static_harness(raw, RuntimeError(f"boom {secret}")) as h:
        await seed_ca(h)
        await h.apply(CERTIFICATE_REQUESTS, make_cert_request(conditions=approved()))
        with pytest.raises(RetryLater):
            await h.reconcile(REQUEST_ISSUER, "ns", "cr")
        writes = h.client.take()
        cond = ready(await read_cr(h))
        assert cond is not None
        assert cond.reason == "Pending"
        assert "PRIVATE KEY" not in (cond.message or "")
        assert "boom" not in (cond.message or "")
        assert object_writes(writes) == CR_STATUS_WRITE
        assert event_summary(writes) == [("Normal", "SigningError")]


async def test_sign_pending_with_retry_after_requeues_after_that_delay(
    raw: HttpKubeClient,
) -> None:
    from certsmith.api.conditions import EventReason

    outcome = SignPending(EventReason.SECRET_MISSING, "wait for it", retry_after=30)
    async with await static_harness(raw, outcome) as h:
        await seed_ca(h)
        await h.apply(CERTIFICATE_REQUESTS, make_cert_request(conditions=approved()))
        assert await h.reconcile(REQUEST_ISSUER, "ns", "cr") == Requeue(30)
        cond = ready(await read_cr(h))
        assert cond is not None
        assert (cond.reason, cond.message) == ("Pending", "wait for it")


async def test_undecodable_certificate_fails_with_the_ca_hint(raw: HttpKubeClient) -> None:
    async with await static_harness(raw, Issued(chain_pem=b"not a certificate")) as h:
        await seed_ca(h)
        await h.apply(CERTIFICATE_REQUESTS, make_cert_request(conditions=approved()))
        await h.reconcile(REQUEST_ISSUER, "ns", "cr")
        writes = h.client.take()
        cr = await read_cr(h)
        cond = ready(cr)
        assert cond is not None
        assert cond.reason == "Failed"
        assert (cond.message or "").startswith("Failed to decode returned certificate: ")
        assert (cond.message or "").endswith("to avoid overwriting the CA secret")
        assert cr.status is not None
        assert cr.status.failure_time is not None
        assert event_summary(writes) == [("Warning", "DecodeError")]


async def test_disabled_issuer_type_is_left_to_another_controller(raw: HttpKubeClient) -> None:
    options = ControllerOptions(
        controllers="certificaterequests-issuer-selfsigned", clock=FakeClock(NOW)
    )
    async with ControllerHarness(raw, options=options) as h:
        await seed_ca(h)
        await h.apply(CERTIFICATE_REQUESTS, make_cert_request(conditions=approved()))
        await h.reconcile(REQUEST_ISSUER, "ns", "cr")
        assert h.client.take() == []
        assert ready(await read_cr(h)) is None
