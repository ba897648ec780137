"""The event recorder: Event shape, folding repeats into a count, redaction, never failing."""

from __future__ import annotations

import datetime as dt

from certsmith.api.conditions import EventReason, EventType
from certsmith.client.errors import error_from_status
from certsmith.client.resources import EVENTS
from certsmith.controllers.events import EventRecorder, Note
from certsmith.util.clock import FakeClock
from tests.builders import cached_ec_key, make_cert_request, make_issuer, private_key_pem
from tests.fakes import FakeKubeClient

NOTE = Note(EventType.NORMAL, EventReason.WAITING_FOR_APPROVAL, "wait")


def recorder() -> tuple[EventRecorder, FakeKubeClient, FakeClock]:
    clock = FakeClock()
    client = FakeKubeClient(clock)
    return EventRecorder(client, clock=clock, instance="pod-1"), client, clock


def stored_events(client: FakeKubeClient) -> list[dict[str, object]]:
    return [obj for (res, _, _), obj in client.objects.items() if res == EVENTS]


async def test_event_names_the_object_and_the_component() -> None:
    rec, client, _ = recorder()
    cr = make_cert_request()
    cr.metadata.uid = "uid-1"
    cr.metadata.resource_version = "7"

    await rec.record(cr, NOTE)

    [event] = stored_events(client)
    assert event["involvedObject"] == {
        "apiVersion": "cert-manager.io/v1",
        "kind": "CertificateRequest",
        "name": "cr",
        "namespace": "ns",
        "uid": "uid-1",
        "resourceVersion": "7",
    }
    assert (event["type"], event["reason"], event["message"]) == (
        "Normal",
        "WaitingForApproval",
        "wait",
    )
    assert event["source"] == {"component": "certsmith"}
    assert (event["reportingComponent"], event["reportingInstance"]) == ("certsmith", "pod-1")
    assert event["count"] == 1
    assert event["firstTimestamp"] == event["lastTimestamp"] == "2026-01-01T00:00:00Z"
    assert event["metadata"]["namespace"] == "ns"  # type: ignore[index]


async def test_repeats_increment_the_count_of_the_first_event() -> None:
    rec, client, clock = recorder()
    cr = make_cert_request()
    cr.metadata.uid = "uid-1"
    await rec.record(cr, NOTE)
    clock.advance(dt.timedelta(minutes=1))

    await rec.record(cr, NOTE)
    await rec.record(cr, NOTE)

    [event] = stored_events(client)
    assert event["count"] == 3
    assert event["firstTimestamp"] == "2026-01-01T00:00:00Z"
    assert event["lastTimestamp"] == "2026-01-01T00:01:00Z"


async def test_different_messages_or_objects_are_separate_events() -> None:
    rec, client, _ = recorder()
    a, b = make_cert_request("a"), make_cert_request("b")
    a.metadata.uid, b.metadata.uid = "uid-a", "uid-b"
    await rec.record(a, NOTE)
    await rec.record(b, NOTE)
    await rec.record(a, Note(NOTE.type, NOTE.reason, "other"))
    assert len(stored_events(client)) == 3


async def test_an_expired_event_is_created_again() -> None:
    rec, client, _ = recorder()
    cr = make_cert_request()
    cr.metadata.uid = "uid-1"
    await rec.record(cr, NOTE)
    client.objects = {k: v for k, v in client.objects.items() if k[0] != EVENTS}

    await rec.record(cr, NOTE)

    [event] = stored_events(client)
    assert event["count"] == 1


async def test_private_keys_never_reach_an_event() -> None:
    rec, client, _ = recorder()
    secret = private_key_pem(cached_ec_key()).decode().strip()
    note = Note(EventType.WARNING, EventReason.SIGNING_ERROR, f"x {secret} y")
    await rec.record(make_cert_request(), note)
    [event] = stored_events(client)
    assert "PRIVATE KEY" not in str(event["message"])
    assert event["message"] == "x <redacted private key> y"


async def test_cluster_scoped_objects_get_events_in_default() -> None:
    rec, client, _ = recorder()
    await rec.record(make_issuer("cca", cluster=True), NOTE)
    [event] = stored_events(client)
    assert event["metadata"]["namespace"] == "default"  # type: ignore[index]
    assert "namespace" not in event["involvedObject"]  # type: ignore[operator]


async def test_a_failed_write_is_dropped_not_raised() -> None:
    rec, client, _ = recorder()
    client.fail("create", error_from_status({"code": 403, "reason": "Forbidden", "message": "no"}))
    await rec.record(make_cert_request(), NOTE)
    assert stored_events(client) == []
