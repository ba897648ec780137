"""The root-cause analysis on hand-built chains: which cause wins, and what the line says."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from certsmith.status.model import (
    CauseCode,
    CertificateInfo,
    ChallengeInfo,
    ConditionInfo,
    IssuerInfo,
    IssuerRefInfo,
    OrderInfo,
    RequestInfo,
    SecretInfo,
)
from certsmith.status.rootcause import analyse, is_rate_limited

NOW = dt.datetime(2026, 6, 1, 12, 0, 0, tzinfo=dt.UTC)


def cond(ctype: str, status: str, reason: str = "", message: str = "") -> ConditionInfo:
    return ConditionInfo(ctype, status, reason, message)


READY = cond("Ready", "True", "Ready", "Certificate is up to date and has not expired")
NOT_READY = cond("Ready", "False", "DoesNotExist", "Issuing certificate as Secret does not exist")
ISSUING = cond("Issuing", "True", "DoesNotExist", "Issuing certificate as Secret does not exist")
APPROVED = cond("Approved", "True", "cert-manager.io", "approved")


def certificate(*conditions: ConditionInfo, **changes: Any) -> CertificateInfo:
    base = CertificateInfo(
        namespace="ns",
        name="web",
        uid="u1",
        generation=1,
        secret_name="web-tls",
        common_name="",
        dns_names=("web.example.com",),
        issuer_ref=IssuerRefInfo("ca"),
        conditions=conditions,
        renewal_time=NOW + dt.timedelta(days=30),
        not_after=NOW + dt.timedelta(days=60),
    )
    return dataclasses.replace(base, **changes)


SECRET = SecretInfo(namespace="ns", name="web-tls", exists=True)
ISSUER = IssuerInfo(
    ref=IssuerRefInfo("ca"),
    namespace="ns",
    exists=True,
    type="ca",
    ready=cond("Ready", "True", "KeyPairVerified", "Signing CA verified"),
    secret_name="ca-key-pair",
)
ISSUER_NOT_READY = dataclasses.replace(
    ISSUER,
    ready=cond(
        "Ready",
        "False",
        "ErrGetKeyPair",
        'Error getting keypair for CA issuer: secret "ca-key-pair" not found',
    ),
)


def request(*conditions: ConditionInfo, role: str = "next") -> RequestInfo:
    return RequestInfo("ns", "web-1", "r1", role, 1, conditions)


def order(state: str, reason: str = "", *challenges: ChallengeInfo) -> OrderInfo:
    return OrderInfo("ns", "web-1-1", state, reason, "", None, challenges)


def challenge(state: str, reason: str) -> ChallengeInfo:
    return ChallengeInfo(
        "web-1-1-2", "HTTP-01", "web.example.com", False, state, reason, True, True
    )


PENDING = cond("Ready", "False", "Pending", "Waiting on certificate issuance from order")

CASES = [
    pytest.param(
        certificate(READY),
        SECRET,
        ISSUER,
        None,
        None,
        CauseCode.UP_TO_DATE,
        "Certificate is up to date; next renewal at 2026-07-01T12:00:00Z.",
        id="up-to-date",
    ),
    pytest.param(
        certificate(READY, renewal_time=None),
        SECRET,
        ISSUER,
        None,
        None,
        CauseCode.UP_TO_DATE,
        "Certificate is up to date; renewal is disabled.",
        id="renewal-disabled",
    ),
    pytest.param(
        certificate(READY),
        SECRET,
        ISSUER_NOT_READY,
        None,
        None,
        CauseCode.ISSUER_NOT_READY,
        "but Issuer ns/ca is not ready (ErrGetKeyPair)",
        id="ready-but-issuer-broken",
    ),
    pytest.param(
        certificate(READY),
        SECRET,
        IssuerInfo(ref=IssuerRefInfo("ca"), namespace="ns", exists=False),
        None,
        None,
        CauseCode.ISSUER_NOT_FOUND,
        "stays valid until 2026-07-31T12:00:00Z but cannot be renewed",
        id="ready-but-issuer-gone",
    ),
    pytest.param(
        certificate(NOT_READY, ISSUING, issuer_ref=IssuerRefInfo("ca", "Secret")),
        SECRET,
        IssuerInfo(ref=IssuerRefInfo("ca", "Secret"), namespace="ns", exists=False),
        None,
        None,
        CauseCode.ISSUER_NOT_FOUND,
        "spec.issuerRef.kind 'Secret' is invalid",
        id="bad-kind",
    ),
    pytest.param(
        certificate(NOT_READY, ISSUING),
        SECRET,
        ISSUER,
        request(APPROVED, cond("InvalidRequest", "True", "BadCSR", "the CSR is odd")),
        None,
        CauseCode.REQUEST_INVALID,
        "CertificateRequest ns/web-1 is invalid: the CSR is odd",
        id="invalid-request",
    ),
    pytest.param(
        certificate(NOT_READY, ISSUING),
        SECRET,
        ISSUER,
        request(APPROVED, cond("Ready", "True", "Issued", "done")),
        None,
        CauseCode.ISSUING,
        "is issued; the certificate is being stored in Secret ns/web-tls",
        id="issued-not-stored-yet",
    ),
    pytest.param(
        certificate(NOT_READY, ISSUING),
        SECRET,
        ISSUER,
        None,
        None,
        CauseCode.ISSUING,
        "but no CertificateRequest exists yet",
        id="issuing-without-request",
    ),
    pytest.param(
        certificate(NOT_READY, ISSUING),
        SECRET,
        ISSUER,
        request(APPROVED, PENDING),
        order("pending", "", challenge("pending", "")),
        CauseCode.REQUEST_PENDING,
        "(issuing because DoesNotExist: Issuing certificate as Secret does not exist)",
        id="pending-without-problem",
    ),
    pytest.param(
        certificate(NOT_READY, ISSUING),
        SECRET,
        ISSUER,
        request(APPROVED, PENDING),
        order("pending", "", challenge("invalid", "Error accepting authorization: 403")),
        CauseCode.CHALLENGE_FAILING,
        "is invalid: Error accepting authorization: 403",
        id="challenge-invalid-before-order-catches-up",
    ),
    pytest.param(
        certificate(NOT_READY, ISSUING),
        SECRET,
        ISSUER_NOT_READY,
        request(PENDING),
        None,
        CauseCode.WAITING_FOR_APPROVAL,
        "is waiting for approval",
        id="approval-before-issuer-readiness",
    ),
    pytest.param(
        certificate(NOT_READY, ISSUING),
        SECRET,
        ISSUER_NOT_READY,
        request(APPROVED, PENDING),
        None,
        CauseCode.ISSUER_NOT_READY,
        "create or fix the CA Secret 'ca-key-pair' in ns",
        id="issuer-not-ready",
    ),
    pytest.param(
        certificate(NOT_READY, ISSUING, issuer_ref=IssuerRefInfo("x", "X", "example.io")),
        SECRET,
        IssuerInfo(ref=IssuerRefInfo("x", "X", "example.io"), namespace="ns", exists=False),
        request(APPROVED, PENDING),
        None,
        CauseCode.REQUEST_PENDING,
        "check the external issuer's controller for group example.io",
        id="external-issuer",
    ),
    pytest.param(
        certificate(NOT_READY),
        SecretInfo(namespace="ns", name="web-tls", exists=False),
        ISSUER,
        request(APPROVED, cond("Ready", "True", "Issued", "done"), role="current"),
        None,
        CauseCode.SECRET_MISSING,
        "Secret ns/web-tls does not exist",
        id="current-request-does-not-hide-a-missing-secret",
    ),
    pytest.param(
        certificate(cond("Ready", "False", "WindowError", "Could not calculate renewal time")),
        SECRET,
        ISSUER,
        None,
        None,
        CauseCode.NOT_READY,
        "Certificate is not Ready (WindowError): Could not calculate renewal time",
        id="other-not-ready",
    ),
    pytest.param(
        certificate(),
        SECRET,
        ISSUER,
        None,
        None,
        CauseCode.NOT_READY,
        "has no Ready condition yet",
        id="no-conditions",
    ),
    pytest.param(
        certificate(READY, deleting=True),
        SECRET,
        ISSUER,
        None,
        None,
        CauseCode.DELETING,
        "is being deleted",
        id="deleting",
    ),
]


@pytest.mark.parametrize(("cert", "secret", "issuer", "req", "order_", "code", "text"), CASES)
def test_root_cause(cert, secret, issuer, req, order_, code, text):
    cause = analyse(cert, secret, issuer, req, order_, now=NOW)
    assert cause.code == code
    assert text in cause.line
    assert cause.healthy is (code == CauseCode.UP_TO_DATE)
    assert "\n" not in cause.line


def test_failure_without_request_names_the_issuing_message_and_retry():
    failed = cond("Issuing", "False", "Failed", "The certificate request has failed: boom")
    cert = certificate(
        NOT_READY,
        failed,
        failed_issuance_attempts=3,
        last_failure_time=NOW - dt.timedelta(hours=1),
        next_retry_time=NOW + dt.timedelta(hours=3),
    )
    cause = analyse(cert, SECRET, ISSUER, None, None, now=NOW)
    assert cause.code == CauseCode.REQUEST_FAILED
    assert cause.line == (
        "The last issuance failed (Failed): The certificate request has failed: boom. "
        "Next: fix the cause; next attempt at 2026-06-01T15:00:00Z (in 3h0m, 3 failed attempts), "
        "or run `certsmith renew web -n ns` to retry now"
    )


def test_a_retry_in_the_past_is_due_now():
    denied = cond("Denied", "True", "policy", "no wildcard")
    cert = certificate(NOT_READY, ISSUING, next_retry_time=NOW - dt.timedelta(seconds=1))
    cause = analyse(cert, SECRET, ISSUER, request(denied), None, now=NOW)
    assert cause.code == CauseCode.REQUEST_DENIED
    assert "was denied by policy: no wildcard" in cause.line
    assert "a retry is due now (1 failed attempt)" in cause.line


@pytest.mark.parametrize(
    ("text", "limited"),
    [
        ("429 urn:ietf:params:acme:error:rateLimited: too many", True),
        ("too many certificates already issued", True),
        ("hit a Rate Limit", True),
        ("Waiting for HTTP-01 challenge propagation: 404", False),
        ("", False),
    ],
)
def test_rate_limit_detection(text, limited):
    assert is_rate_limited(text) is limited


def test_a_failed_renewal_of_a_valid_certificate_says_it_still_serves():
    failed = cond("Issuing", "False", "Failed", "The certificate request has failed: boom")
    cert = certificate(READY, failed, revision=1, next_retry_time=NOW + dt.timedelta(hours=1))
    req = dataclasses.replace(
        request(APPROVED, cond("Ready", "False", "Failed", "boom")), name="web-2", revision=2
    )
    cause = analyse(cert, SECRET, ISSUER, req, None, now=NOW)
    assert cause.code == CauseCode.REQUEST_FAILED
    assert cause.cause == (
        "CertificateRequest ns/web-2 failed: boom "
        "(the current certificate stays valid until 2026-07-31T12:00:00Z)"
    )


def test_success_under_the_server_side_apply_gate_is_up_to_date():
    issued = cond("Issuing", "False", "Issued", "The certificate has been successfully issued")
    cause = analyse(certificate(READY, issued), SECRET, ISSUER, None, None, now=NOW)
    assert cause.code == CauseCode.UP_TO_DATE


def test_a_renewal_that_never_started_is_overdue():
    cert = certificate(READY, renewal_time=NOW - dt.timedelta(hours=2))
    cause = analyse(cert, SECRET, ISSUER, None, None, now=NOW)
    assert cause.code == CauseCode.RENEWAL_OVERDUE
    assert cause.line.startswith(
        "Certificate is valid until 2026-07-31T12:00:00Z but its renewal was due at "
        "2026-06-01T10:00:00Z and has not started. Next: check that the certsmith controllers run"
    )
    just_due = certificate(READY, renewal_time=NOW - dt.timedelta(minutes=1))
    assert analyse(just_due, SECRET, ISSUER, None, None, now=NOW).code == CauseCode.UP_TO_DATE
