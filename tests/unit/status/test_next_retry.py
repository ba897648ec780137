"""When a backing-off Certificate retries: the RetryScheduled event first, else the default."""

from __future__ import annotations

import dataclasses
import datetime as dt

from certsmith.status.gather import next_retry
from certsmith.status.model import EventInfo
from tests.unit.status.test_rootcause import NOW, certificate

FAILED_AT = NOW - dt.timedelta(minutes=10)


def retry_event(at: str, seen: dt.datetime, kind: str = "Certificate") -> EventInfo:
    message = f"The next issuance attempt is at {at} (after a backoff of 5m0s)"
    return EventInfo("Normal", "RetryScheduled", message, 1, seen, kind, "web")


def test_no_failure_no_retry():
    assert next_retry(certificate(), []) == (None, None)


def test_the_newest_event_after_the_failure_wins():
    cert = certificate(last_failure_time=FAILED_AT, failed_issuance_attempts=2)
    events = [
        retry_event("2026-06-01T10:00:00Z", FAILED_AT - dt.timedelta(hours=2)),  # older failure
        retry_event("2026-06-01T11:55:00Z", FAILED_AT),
        retry_event("2026-06-01T13:00:00Z", FAILED_AT, kind="Issuer"),
    ]
    when, source = next_retry(cert, events)
    assert (when, source) == (dt.datetime(2026, 6, 1, 11, 55, tzinfo=dt.UTC), "event")


def test_without_an_event_the_default_backoff_doubles_per_attempt():
    cert = certificate(last_failure_time=FAILED_AT, failed_issuance_attempts=3)
    assert next_retry(cert, []) == (FAILED_AT + dt.timedelta(hours=4), "default-backoff")
    stale = [retry_event("2026-06-01T09:00:00Z", FAILED_AT - dt.timedelta(hours=3))]
    first = dataclasses.replace(cert, failed_issuance_attempts=None)
    assert next_retry(first, stale) == (FAILED_AT + dt.timedelta(hours=1), "default-backoff")
