"""certsmith.controllers.metrics: cert-manager's collectors over cached objects, and readiness."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from certsmith.client.resources import CERTIFICATES, CHALLENGES
from certsmith.controllers import metrics as cm
from certsmith.controllers.runtime.cache import ObjectKey
from certsmith.controllers.runtime.informer import Informer
from certsmith.controllers.runtime.manager import Controller
from certsmith.controllers.runtime.workqueue import WorkQueue
from certsmith.util.clock import FakeClock
from certsmith.util.metricsserver import parse_listen_address
from tests.fakes import FakeKubeClient, FakeSleeper

NOT_AFTER = "2026-05-01T00:00:00Z"
NOT_BEFORE = "2026-02-01T00:00:00Z"
RENEWAL = "2026-04-01T00:00:00Z"


def epoch(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


def certificate(name: str = "web", *, ready: str | None = None, **status: Any) -> dict[str, Any]:
    conditions = [{"type": "Ready", "status": ready}] if ready else []
    return {
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {"issuerRef": {"name": "ca", "kind": "Issuer", "group": "cert-manager.io"}},
        "status": {"conditions": conditions, **status},
    }


def series(family: Any) -> dict[tuple[tuple[str, str], ...], float]:
    return {tuple(s.labels.items()): s.value for s in family.samples}


def by_name(families: list[Any]) -> dict[str, Any]:
    return {f.name: f for f in families}


CERT_LABELS = (
    ("name", "web"), ("namespace", "ns"), ("issuer_name", "ca"), ("issuer_kind", "Issuer"),
    ("issuer_group", "cert-manager.io"),
)  # fmt: skip


@pytest.mark.parametrize(
    ("ready", "current"),
    [("True", "True"), ("False", "False"), ("Unknown", "Unknown"), (None, "Unknown")],
    ids=["ready", "not-ready", "unknown", "no-ready-condition"],
)
def test_ready_status_is_one_for_the_current_condition_and_zero_for_the_others(ready, current):
    family = by_name(cm.certificate_families([certificate(ready=ready)]))[
        "certmanager_certificate_ready_status"
    ]
    values = {s.labels["condition"]: s.value for s in family.samples}
    assert values == {c: 1.0 if c == current else 0.0 for c in ("True", "False", "Unknown")}
    assert list(family.samples[0].labels) == [
        "name", "namespace", "condition", "issuer_name", "issuer_kind", "issuer_group",
    ]  # fmt: skip


def test_timestamps_come_from_status_in_whole_seconds():
    cert = certificate(
        notAfter=NOT_AFTER, notBefore=NOT_BEFORE, renewalTime="2026-04-01T00:00:00.900Z"
    )
    fams = by_name(cm.certificate_families([cert]))
    want = {
        "certmanager_certificate_expiration_timestamp_seconds": epoch(NOT_AFTER),
        "certmanager_certificate_not_after_timestamp_seconds": epoch(NOT_AFTER),
        "certmanager_certificate_not_before_timestamp_seconds": epoch(NOT_BEFORE),
        "certmanager_certificate_renewal_timestamp_seconds": epoch(RENEWAL),
    }
    assert {name: series(fams[name]) for name in want} == {
        name: {CERT_LABELS: value} for name, value in want.items()
    }


def test_timestamps_are_zero_before_the_first_issuance():
    fams = by_name(cm.certificate_families([certificate()]))
    assert series(fams["certmanager_certificate_expiration_timestamp_seconds"]) == {
        CERT_LABELS: 0.0
    }
    assert series(fams["certmanager_certificate_renewal_timestamp_seconds"]) == {CERT_LABELS: 0.0}


def test_an_empty_issuer_kind_stays_empty_in_the_labels():
    cert = certificate()
    cert["spec"]["issuerRef"] = {"name": "ca"}
    family = by_name(cm.certificate_families([cert]))[
        "certmanager_certificate_expiration_timestamp_seconds"
    ]
    assert family.samples[0].labels["issuer_kind"] == ""
    assert family.samples[0].labels["issuer_group"] == ""


@pytest.mark.parametrize(
    ("attempts", "wait"),
    [(1, dt.timedelta(hours=1)), (3, dt.timedelta(hours=4)), (20, dt.timedelta(hours=32))],
    ids=["first-failure", "third-failure", "capped"],
)
def test_next_retry_is_last_failure_plus_the_backoff(attempts, wait):
    failed = "2026-03-01T10:00:00Z"
    cert = certificate(ready="False", lastFailureTime=failed, failedIssuanceAttempts=attempts)
    family = by_name(cm.certificate_families([cert]))[
        "certsmith_certificate_next_retry_timestamp_seconds"
    ]
    assert series(family) == {CERT_LABELS: epoch(failed) + wait.total_seconds()}


def test_next_retry_follows_the_configured_backoff_and_is_absent_without_a_failure():
    failed = "2026-03-01T10:00:00Z"
    backoff = (dt.timedelta(minutes=5), dt.timedelta(minutes=30))
    certs = [
        certificate("web", lastFailureTime=failed, failedIssuanceAttempts=2),
        certificate("fine", ready="True"),
    ]
    family = by_name(cm.certificate_families(certs, backoff))[
        "certsmith_certificate_next_retry_timestamp_seconds"
    ]
    assert series(family) == {CERT_LABELS: epoch(failed) + 600}


def test_issuer_and_cluster_issuer_ready_status():
    issuer = {
        "metadata": {"name": "ca", "namespace": "ns"},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    cluster = {"metadata": {"name": "root"}, "status": {}}
    namespaced = cm.issuer_family([issuer], cluster=False)
    clustered = cm.issuer_family([cluster], cluster=True)
    assert namespaced.name == "certmanager_issuer_ready_status"
    assert series(namespaced) == {
        (("name", "ca"), ("namespace", "ns"), ("condition", c)): float(c == "True")
        for c in ("True", "False", "Unknown")
    }
    assert clustered.name == "certmanager_clusterissuer_ready_status"
    assert series(clustered) == {
        (("name", "root"), ("condition", c)): float(c == "Unknown")
        for c in ("True", "False", "Unknown")
    }


def challenge(state: str | None, *, processing: bool = True) -> dict[str, Any]:
    status: dict[str, Any] = {"processing": processing, "reason": "Waiting for HTTP-01"}
    if state is not None:
        status["state"] = state
    return {
        "metadata": {"name": "web-1-2-3", "namespace": "ns"},
        "spec": {"dnsName": "web.example.com", "type": "HTTP-01"},
        "status": status,
    }


@pytest.mark.parametrize("state", ["pending", "valid", "errored", None], ids=str)
def test_challenge_status_has_one_series_per_state_with_one_for_the_current(state):
    family = cm.challenge_family([challenge(state)])
    assert family.name == "certmanager_certificate_challenge_status"
    values = {s.labels["status"]: s.value for s in family.samples}
    assert list(values) == list(cm.CHALLENGE_STATES)
    assert values == {s: float(s == (state or "")) for s in cm.CHALLENGE_STATES}
    assert family.samples[0].labels == {
        "status": "ready", "domain": "web.example.com", "reason": "Waiting for HTTP-01",
        "processing": "true", "name": "web-1-2-3", "namespace": "ns", "type": "HTTP-01",
    }  # fmt: skip


def test_challenge_processing_false_is_spelled_as_go_prints_it():
    family = cm.challenge_family([challenge("valid", processing=False)])
    assert {s.labels["processing"] for s in family.samples} == {"false"}


async def test_queue_gauges_count_ready_delayed_and_in_flight_keys():
    clock, sleeper = FakeClock(), FakeSleeper()
    queue: WorkQueue[ObjectKey] = WorkQueue(clock=clock, sleep=sleeper, name="issuers")
    for name in ("a", "b", "c"):
        queue.add(ObjectKey("ns", name))
    await queue.get()
    queue.add_after(ObjectKey("ns", "later"), 60)

    async def reconcile(key: ObjectKey) -> None:
        return None

    fams = by_name(cm.queue_families([Controller("issuers", reconcile, queue)]))
    assert series(fams["certsmith_workqueue_depth"]) == {(("name", "issuers"),): 2.0}
    assert series(fams["certsmith_workqueue_delayed_keys"]) == {(("name", "issuers"),): 1.0}
    assert series(fams["certsmith_workqueue_in_flight_keys"]) == {(("name", "issuers"),): 1.0}
    await queue.shutdown()


async def test_collector_reads_only_synced_informers_and_skips_absent_resources():
    client = FakeKubeClient()
    await client.create(CERTIFICATES, "ns", certificate(ready="True"))
    certs = Informer(client, CERTIFICATES, sleep=FakeSleeper())
    challenges = Informer(client, CHALLENGES, sleep=FakeSleeper())
    collector = cm.ControllerCollector([certs, challenges])
    assert [f.name for f in collector.collect()] == []  # nothing listed yet
    task = asyncio.create_task(certs.run())
    await certs.wait_synced()
    names = [f.name for f in collector.collect()]
    task.cancel()
    assert "certmanager_certificate_ready_status" in names
    assert "certmanager_certificate_challenge_status" not in names  # not synced
    assert not any(n.startswith("certmanager_issuer") for n in names)  # no informer


class Elector:
    def __init__(self, leader: bool) -> None:
        self.is_leader = leader


async def test_a_standby_replica_is_ready_while_it_keeps_trying_for_the_lease():
    election: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    readiness = cm.Readiness(elector=Elector(False), election=election)  # type: ignore[arg-type]
    assert readiness()
    election.set_result(None)
    assert not readiness()


def test_a_manager_that_has_not_started_is_not_ready():
    assert not cm.Readiness()()


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("0.0.0.0:9402", ("0.0.0.0", 9402)),
        (":9403", ("0.0.0.0", 9403)),
        ("[::1]:9402", ("::1", 9402)),
        ("0", None),
        ("", None),
    ],
)
def test_listen_addresses_follow_cert_managers_flags(value, parsed):
    assert parse_listen_address(value) == parsed


@pytest.mark.parametrize("value", ["9402", "host:", "host:70000", "host:port"])
def test_bad_listen_addresses_are_refused(value):
    with pytest.raises(ValueError, match="expected HOST:PORT, or 0 to disable"):
        parse_listen_address(value)
