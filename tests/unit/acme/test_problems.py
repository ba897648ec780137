"""Problem documents, Retry-After and the error predicates."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from certsmith.acme import (
    AcmeProblem,
    AriNotSupportedError,
    NetworkError,
    Problem,
    ProfileNotSupportedError,
    is_bad_nonce,
    is_client_error,
    is_malformed,
    is_rate_limited,
    is_replaces_rejection,
    is_retryable,
)
from certsmith.acme.problems import parse_retry_after, problem_from_response

NOW = dt.datetime(2026, 11, 27, 12, 0, 0, tzinfo=dt.UTC)

REJECTED = {
    "type": "urn:ietf:params:acme:error:rejectedIdentifier",
    "detail": "Error creating new order :: 2 identifiers were rejected",
    "status": 400,
    "subproblems": [
        {
            "type": "urn:ietf:params:acme:error:malformed",
            "detail": "Invalid underscore in DNS name",
            "identifier": {"type": "dns", "value": "_example.org"},
        },
        {
            "type": "urn:ietf:params:acme:error:rejectedIdentifier",
            "detail": "This CA will not issue for this name",
            "identifier": {"type": "dns", "value": "example.net"},
        },
    ],
}


def test_problem_document_with_subproblems_is_parsed():
    err = problem_from_response(
        400, "application/problem+json", json.dumps(REJECTED).encode(), retry_after=None
    )
    assert err.type == "urn:ietf:params:acme:error:rejectedIdentifier"
    assert err.status == 400
    assert [s.identifier for s in err.subproblems] == [
        ("dns", "_example.org"),
        ("dns", "example.net"),
    ]
    assert err.subproblems[0].is_type("urn:ietf:params:acme:error:malformed")
    assert str(err) == (
        "400 urn:ietf:params:acme:error:rejectedIdentifier: Error creating new order :: "
        "2 identifiers were rejected; dns _example.org: urn:ietf:params:acme:error:malformed: "
        "Invalid underscore in DNS name; dns example.net: "
        "urn:ietf:params:acme:error:rejectedIdentifier: This CA will not issue for this name"
    )


def test_status_comes_from_the_response_when_the_document_has_none():
    body = json.dumps({"type": "urn:ietf:params:acme:error:badNonce", "detail": "stale"})
    err = problem_from_response(400, "application/problem+json", body.encode(), retry_after=None)
    assert err.status == 400
    assert is_bad_nonce(err)


def test_a_body_that_is_no_problem_document_keeps_a_short_excerpt():
    err = problem_from_response(502, "text/html", b"<html>Bad Gateway</html>" * 50, retry_after=3)
    assert err.type == "about:blank"
    assert err.status == 502
    assert len(err.detail) <= 200
    assert err.retry_after == 3


def test_rate_limit_carries_retry_after():
    body = json.dumps(
        {"type": "urn:ietf:params:acme:error:rateLimited", "detail": "too many certificates"}
    )
    err = problem_from_response(429, "application/problem+json", body.encode(), retry_after=3600)
    assert is_rate_limited(err)
    assert err.retry_after == 3600
    assert is_client_error(err)


def _problem(type_: str, status: int | None) -> AcmeProblem:
    return AcmeProblem(Problem(type=type_, detail="d", status=status))


@pytest.mark.parametrize(
    ("err", "rate_limited", "bad_nonce", "malformed", "client_error"),
    [
        (_problem("urn:ietf:params:acme:error:rateLimited", 429), True, False, False, True),
        (_problem("urn:ietf:params:acme:error:badNonce", 400), False, True, False, True),
        (_problem("urn:acme:error:badNonce", 400), False, True, False, True),  # old namespace
        (_problem("urn:ietf:params:acme:error:malformed", 400), False, False, True, True),
        (_problem("urn:ietf:params:acme:error:serverInternal", 500), False, False, False, False),
        (NetworkError("connect refused"), False, False, False, False),
        (ValueError("x"), False, False, False, False),
    ],
)
def test_predicates(err, rate_limited, bad_nonce, malformed, client_error):
    assert is_rate_limited(err) is rate_limited
    assert is_bad_nonce(err) is bad_nonce
    assert is_malformed(err) is malformed
    assert is_client_error(err) is client_error


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("120", 120.0),
        (" 5 ", 5.0),
        ("Fri, 27 Nov 2026 13:00:00 GMT", 3600.0),
        ("Fri, 27 Nov 2026 11:00:00 GMT", 0.0),  # in the past: ask now
        ("soon", None),
    ],
)
def test_retry_after(header, seconds):
    assert parse_retry_after(header, NOW) == seconds


@pytest.mark.parametrize(
    ("err", "rejection"),
    [
        (_problem("urn:ietf:params:acme:error:alreadyReplaced", 409), True),
        (_problem("urn:ietf:params:acme:error:malformed", 400), False),
        (
            AcmeProblem(Problem("urn:ietf:params:acme:error:malformed", "bad Replaces field", 400)),
            True,
        ),
        (AriNotSupportedError("no ARI"), True),
        (NetworkError("x"), False),
    ],
)
def test_replaces_rejections(err, rejection):
    assert is_replaces_rejection(err) is rejection


@pytest.mark.parametrize(
    ("err", "retryable"),
    [
        (_problem("urn:ietf:params:acme:error:malformed", 400), False),
        (_problem("urn:ietf:params:acme:error:rateLimited", 429), False),
        (_problem("urn:ietf:params:acme:error:serverInternal", 500), True),
        (ProfileNotSupportedError("no profiles"), False),
        (NetworkError("timeout"), True),
    ],
)
def test_retryable(err, retryable):
    assert is_retryable(err) is retryable
