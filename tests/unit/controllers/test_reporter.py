"""The CertificateRequest reporter (SPEC §1.4): conditions, failureTime once, events."""

from __future__ import annotations

import datetime as dt

from certsmith.api.conditions import ConditionType, EventReason, EventType
from certsmith.api.meta import get_condition
from certsmith.controllers.events import Note
from certsmith.controllers.reporter import Reporter
from tests.builders import make_cert_request

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(hours=1)


def ready(reporter: Reporter) -> tuple[str, str | None, str | None]:
    status = reporter.request.status
    cond = get_condition(status.conditions if status else None, ConditionType.READY)
    assert cond is not None
    return (cond.status.value, cond.reason, cond.message)


def test_pending_emits_an_event_only_on_the_transition_into_pending() -> None:
    first = Reporter(make_cert_request(), now=T0)
    first.pending(EventReason.ISSUER_NOT_FOUND, "waiting")
    assert ready(first) == ("False", "Pending", "waiting")
    assert first.notes == [Note(EventType.NORMAL, EventReason.ISSUER_NOT_FOUND, "waiting")]

    again = Reporter(first.request, now=T1)
    again.pending(EventReason.ISSUER_NOT_READY, "still waiting")
    assert ready(again) == ("False", "Pending", "still waiting")
    assert again.notes == []
    assert again.request.status is not None
    assert again.request.status.failure_time is None


def test_failed_sets_failure_time_once_and_warns() -> None:
    reporter = Reporter(make_cert_request(), now=T0)
    reporter.failed(EventReason.SIGNING_ERROR, "Error signing certificate: x")
    assert ready(reporter) == ("False", "Failed", "Error signing certificate: x")
    assert reporter.notes == [
        Note(EventType.WARNING, EventReason.SIGNING_ERROR, "Error signing certificate: x")
    ]
    later = Reporter(reporter.request, now=T1)
    later.failed(EventReason.SIGNING_ERROR, "again")
    assert later.request.status is not None
    assert later.request.status.failure_time == T0


def test_denied_sets_failure_time_and_no_event() -> None:
    reporter = Reporter(make_cert_request(), now=T0)
    reporter.denied()
    assert ready(reporter) == (
        "False",
        "Denied",
        "The CertificateRequest was denied by an approval controller",
    )
    assert reporter.notes == []
    assert reporter.request.status is not None
    assert reporter.request.status.failure_time == T0


def test_issued_is_ready_true_with_certificate_issued_event() -> None:
    reporter = Reporter(make_cert_request(), now=T0)
    reporter.pending(EventReason.ISSUER_NOT_READY, "waiting")
    reporter.store_certificate(b"chain", b"")
    reporter.issued()
    assert ready(reporter) == ("True", "Issued", "Certificate fetched from issuer successfully")
    assert reporter.notes[-1] == Note(
        EventType.NORMAL,
        EventReason.CERTIFICATE_ISSUED,
        "Certificate fetched from issuer successfully",
    )
    assert reporter.request.status is not None
    assert reporter.request.status.certificate_pem == b"chain"
    assert reporter.request.status.ca is None
    status = reporter.request.status
    cond = get_condition(status.conditions, ConditionType.READY)
    assert cond is not None
    assert cond.last_transition_time == T0
    assert cond.observed_generation is None  # requests' conditions carry none (SPEC §0.2)
