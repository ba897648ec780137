from __future__ import annotations

import datetime as dt

import pytest

from certsmith.client.errors import parse_retry_after
from certsmith.client.ratelimit import TokenBucket
from certsmith.client.resources import CERTIFICATES, CLUSTER_ISSUERS, LEASES, SECRETS


class Ticker:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_burst_passes_without_waiting_then_requests_queue_at_qps():
    ticker = Ticker()
    bucket = TokenBucket(10, 3, monotonic=ticker)
    assert [bucket.reserve() for _ in range(3)] == [0, 0, 0]
    assert bucket.reserve() == pytest.approx(0.1)
    assert bucket.reserve() == pytest.approx(0.2)


def test_tokens_refill_over_time_up_to_the_burst():
    ticker = Ticker()
    bucket = TokenBucket(10, 2, monotonic=ticker)
    bucket.reserve()
    bucket.reserve()
    ticker.now = 100.0
    assert [bucket.reserve() for _ in range(2)] == [0, 0]
    assert bucket.reserve() > 0


def test_zero_qps_disables_the_limiter():
    bucket = TokenBucket(0, 0)
    assert not bucket.enabled
    assert all(bucket.reserve() == 0 for _ in range(1000))


def test_a_burst_below_one_is_refused():
    with pytest.raises(ValueError, match="burst"):
        TokenBucket(5, 0)


@pytest.mark.parametrize(
    ("header", "expect"),
    [
        ("7", 7.0),
        ("-3", 0.0),
        ("Thu, 01 Jan 2026 00:00:30 GMT", 30.0),
        ("soon", None),
        (None, None),
    ],
)
def test_retry_after_is_seconds_or_an_http_date(header, expect):
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert parse_retry_after(header, now=now) == expect


@pytest.mark.parametrize(
    ("ref", "args", "path"),
    [
        (CERTIFICATES, ("ns",), "/apis/cert-manager.io/v1/namespaces/ns/certificates"),
        (CERTIFICATES, (None,), "/apis/cert-manager.io/v1/certificates"),
        (CLUSTER_ISSUERS, (None, "ci"), "/apis/cert-manager.io/v1/clusterissuers/ci"),
        (SECRETS, ("ns", "s"), "/api/v1/namespaces/ns/secrets/s"),
        (
            LEASES,
            ("kube-system", "l", "status"),
            "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/l/status",
        ),
    ],
)
def test_resource_paths(ref, args, path):
    assert ref.path(*args) == path


@pytest.mark.parametrize(
    ("ref", "args", "message"),
    [
        (CLUSTER_ISSUERS, ("ns", "ci"), "cluster-scoped"),
        (CERTIFICATES, (None, "a"), "namespace is required"),
        (CERTIFICATES, ("ns", None, "status"), "needs an object name"),
        (CERTIFICATES, ("ns", "a/b"), "invalid object name"),
    ],
)
def test_impossible_paths_are_refused(ref, args, message):
    with pytest.raises(ValueError, match=message):
        ref.path(*args)


def test_api_version_and_qualified_name():
    assert (SECRETS.api_version, SECRETS.qualified_name) == ("v1", "secrets")
    assert CERTIFICATES.api_version == "cert-manager.io/v1"
    assert CERTIFICATES.qualified_name == "certificates.cert-manager.io"
