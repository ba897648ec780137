"""The inventory's view model: states, rows from raw JSON, filters, order, causes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from certsmith.status.model import ConditionInfo
from certsmith.web.model import (
    CertificateRow,
    Query,
    State,
    Surroundings,
    cause_of,
    certificate_row,
    classify,
    format_delta,
    summary,
)

NOW = dt.datetime(2026, 11, 27, 12, 30, tzinfo=dt.UTC)


def ready(status: str = "True", reason: str = "Ready") -> ConditionInfo:
    return ConditionInfo("Ready", status, reason, "")


@pytest.mark.parametrize(
    ("ready_cond", "not_after", "failures", "expected"),
    [
        (ready(), NOW + dt.timedelta(days=60), 0, State.READY),
        (ready(), NOW + dt.timedelta(days=6), 0, State.EXPIRING),
        (ready(), NOW + dt.timedelta(hours=1), 0, State.EXPIRING),
        (ready(), NOW - dt.timedelta(seconds=1), 0, State.EXPIRED),
        (ready("False", "Expired"), NOW - dt.timedelta(days=1), 3, State.EXPIRED),
        (ready("False", "DoesNotExist"), None, 0, State.NOT_READY),
        (None, None, 0, State.NOT_READY),
        (ready("False", "DoesNotExist"), None, 1, State.FAILED),
        (ready(), NOW + dt.timedelta(days=60), 2, State.READY),  # a failed renewal, still valid
    ],
)
def test_classify_orders_expired_then_failed_then_readiness(
    ready_cond, not_after, failures, expected
) -> None:
    assert classify(ready_cond, not_after=not_after, failures=failures, now=NOW) is expected


def cert(
    name: str = "web",
    namespace: str = "shop",
    *,
    status: dict[str, Any] | None = None,
    issuer: dict[str, str] | None = None,
    uid: str = "",
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace, "uid": uid or f"uid-{name}"},
        "spec": {
            "secretName": f"{name}-tls",
            "dnsNames": [f"{name}.example.com"],
            "issuerRef": issuer or {"name": "ca"},
        },
        "status": status or {},
    }


def test_row_reads_status_and_defaults_the_issuer_kind() -> None:
    row = certificate_row(
        cert(
            status={
                "conditions": [{"type": "Ready", "status": "True", "reason": "Ready"}],
                "notAfter": "2026-12-27T12:30:00Z",
                "renewalTime": "2026-12-17T12:30:00Z",
            }
        ),
        NOW,
    )
    assert (row.state, row.issuer, row.secret_name) == (State.READY, "Issuer/ca", "web-tls")
    assert row.dns_names == ("web.example.com",)
    assert row.time_left == dt.timedelta(days=30)
    assert row.renewal_time == dt.datetime(2026, 12, 17, 12, 30, tzinfo=dt.UTC)


def test_row_of_malformed_status_shows_blanks_instead_of_failing() -> None:
    obj = cert(
        status={"conditions": "nope", "notAfter": "yesterday", "failedIssuanceAttempts": "x"}
    )
    obj["spec"]["dnsNames"] = ["ok.example.com", 7]
    row = certificate_row(obj, NOW)
    assert row.state is State.NOT_READY
    assert (row.reason, row.not_after, row.failures) == ("NoStatus", None, 0)
    assert row.dns_names == ("ok.example.com",)


def test_failed_row_explains_with_the_issuing_condition() -> None:
    row = certificate_row(
        cert(
            status={
                "failedIssuanceAttempts": 1,
                "conditions": [
                    {"type": "Ready", "status": "False", "reason": "DoesNotExist"},
                    {"type": "Issuing", "status": "False", "reason": "Policy", "message": "no"},
                ],
            }
        ),
        NOW,
    )
    assert (row.state, row.reason, row.message) == (State.FAILED, "Policy", "no")


def rows() -> list[CertificateRow]:
    def status(days: int) -> dict[str, Any]:
        return {
            "conditions": [{"type": "Ready", "status": "True"}],
            "notAfter": (NOW + dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    return [
        certificate_row(cert("api", "shop", status=status(80)), NOW),
        certificate_row(cert("web", "shop", status=status(3)), NOW),
        certificate_row(
            cert(
                "db", "payments", status=status(40), issuer={"name": "org", "kind": "ClusterIssuer"}
            ),
            NOW,
        ),
        certificate_row(cert("legacy", "payments", issuer={"name": "gone"}), NOW),
    ]


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({}, ["legacy", "web", "db", "api"]),  # worst first, then soonest expiry
        ({"state": "expiring-soon"}, ["web"]),
        ({"state": "bogus"}, ["legacy", "web", "db", "api"]),
        ({"namespace": "payments"}, ["legacy", "db"]),
        ({"issuer": "ClusterIssuer/org"}, ["db"]),
        ({"issuer": "org"}, ["db"]),
        ({"q": "WEB.example"}, ["web"]),
        ({"sort": "name"}, ["api", "db", "legacy", "web"]),
        ({"sort": "notAfter", "order": "desc"}, ["legacy", "api", "db", "web"]),
        ({"sort": "'; drop"}, ["legacy", "web", "db", "api"]),
    ],
)
def test_query_filters_and_orders_rows(params: dict[str, str], names: list[str]) -> None:
    assert [row.name for row in Query.from_params(params).apply(rows())] == names


def test_query_parameters_round_trip_without_defaults() -> None:
    query = Query.from_params({"state": "failed", "q": "x", "sort": "state"})
    assert query.to_params() == {"state": "failed", "q": "x"}
    assert query.to_params(state=None, sort="name") == {"q": "x", "sort": "name"}


def test_summary_counts_every_state_including_zeros() -> None:
    counts = summary(rows())
    assert counts == {
        State.READY: 2,
        State.EXPIRING: 1,
        State.NOT_READY: 1,
        State.FAILED: 0,
        State.EXPIRED: 0,
    }


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (None, ""),
        (dt.timedelta(seconds=42), "42s"),
        (dt.timedelta(minutes=59, seconds=59), "59m"),
        (dt.timedelta(hours=23, minutes=59), "23h 59m"),
        (dt.timedelta(days=4, hours=3), "4d 3h"),
        (dt.timedelta(days=89, hours=23), "89d"),
        (-dt.timedelta(hours=2, minutes=5), "-2h 5m"),
    ],
)
def test_format_delta(delta: dt.timedelta | None, text: str) -> None:
    assert format_delta(delta) == text


def issuer_obj(name: str, namespace: str | None, ready_status: str) -> dict[str, Any]:
    meta = {"name": name} | ({"namespace": namespace} if namespace else {})
    return {"metadata": meta, "status": {"conditions": [{"type": "Ready", "status": ready_status}]}}


def request_obj(owner: str, revision: int, *conditions: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"r{revision}",
            "annotations": {"cert-manager.io/certificate-revision": str(revision)},
            "ownerReferences": [{"uid": owner, "controller": True}],
        },
        "status": {"conditions": [{"type": t, "status": s, "reason": r} for t, s, r in conditions]},
    }


@pytest.mark.parametrize(
    ("issuer", "requests", "cause"),
    [
        ({"name": "gone"}, [], "Issuer not found"),
        ({"name": "org", "kind": "ClusterIssuer"}, [], "ClusterIssuer not ready"),
        ({"name": "ca"}, [request_obj("uid-web", 1)], "Waiting for approval"),
        (
            {"name": "ca"},
            [
                request_obj("uid-web", 1, ("Approved", "True", "x")),
                request_obj("uid-web", 2, ("Denied", "True", "Policy")),
            ],
            "Request denied",
        ),
        (
            {"name": "ca"},
            [request_obj("uid-web", 1, ("Approved", "True", "x"), ("Ready", "False", "Pending"))],
            "Request Pending",
        ),
        ({"name": "ca"}, [request_obj("someone-else", 1)], ""),
        ({"name": "ext", "kind": "Thing", "group": "example.com"}, [], ""),
    ],
)
def test_cause_of_a_certificate_that_is_not_ready(issuer, requests, cause) -> None:
    around = Surroundings.from_objects(
        [issuer_obj("ca", "shop", "True")], [issuer_obj("org", None, "False")], requests
    )
    row = certificate_row(cert("web", "shop", issuer=issuer), NOW)
    assert cause_of(row, around) == cause


def test_ready_rows_have_no_cause() -> None:
    around = Surroundings.from_objects([], [], [])
    assert cause_of(rows()[0], around) == ""
