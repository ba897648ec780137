"""Renewal end to end: ``certsmith serve`` on a movable clock, driven with kubectl.

SPEC §12 behaviours 19 (renewal time arithmetic; ``renewal.policy: Disabled`` expires instead)
and 20 (renewal at ``renewalTime``: ``Renewing``, a new key, revision + 1, one request kept).
The controllers' clock is moved through ``--clock-offset-file`` (tests/e2e/certenv.py), so days
pass in seconds; every wait is a bounded kubectl poll.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.certenv import (
    POLL,
    TIMEOUT,
    CaNamespace,
    MovableClock,
    deployed_with_clock,
    parse_time,
)
from tests.e2e.procs import MODES, Deployment, Mode, condition
from tests.servertools import kubectl_path, wait_until

pytestmark = pytest.mark.e2e

MINUTE = dt.timedelta(minutes=1)


@pytest.fixture(autouse=True, scope="module")
def _tools() -> None:
    if not kubectl_path().exists():
        pytest.skip("pinned kubectl is not installed")


@pytest.fixture
def timed(tmp_path: Path) -> Iterator[tuple[Deployment, MovableClock]]:
    with deployed_with_clock("serve", tmp_path) as running:
        yield running


def times(cert: dict[str, Any]) -> tuple[dt.datetime, dt.datetime, dt.datetime | None]:
    """``status`` notBefore, notAfter and renewalTime (``None`` when unset)."""
    status = cert["status"]
    renewal = status.get("renewalTime")
    return (
        parse_time(status["notBefore"]),
        parse_time(status["notAfter"]),
        None if renewal is None else parse_time(renewal),
    )


def test_renewal_time_follows_lifetime_renew_before_and_percentage_and_disabled_expires(
    timed: tuple[Deployment, MovableClock], tmp_path: Path
) -> None:
    """SPEC §12 behaviour 19."""
    deployment, clock = timed
    ns = CaNamespace(deployment.serve, "renewal-time", tmp_path)
    cases: dict[str, tuple[dict[str, object], dt.timedelta, dt.timedelta | None]] = {
        # name: (spec, lifetime, notAfter - renewalTime; None = no renewalTime)
        "ninety-days": ({}, dt.timedelta(days=90), dt.timedelta(days=30)),
        "renew-before": ({"duration": "1h", "renewBefore": "10m"}, 60 * MINUTE, 10 * MINUTE),
        "percentage": ({"duration": "1h", "renewBeforePercentage": 25}, 60 * MINUTE,
                       15 * MINUTE),
        "one-third": ({"duration": "1h"}, 60 * MINUTE, 20 * MINUTE),
        "disabled": ({"duration": "1h", "renewal": {"policy": "Disabled"}}, 60 * MINUTE, None),
    }  # fmt: skip
    for name, (spec, _, _) in cases.items():
        ns.certificate(name, **spec)
    for name, (_, lifetime, renew_before) in cases.items():
        cert = ns.wait_revision(name, 1)
        not_before, not_after, renewal = times(cert)
        assert not_after - not_before == lifetime, name
        if renew_before is None:
            assert renewal is None, name
        else:
            assert renewal == (not_after - renew_before).replace(microsecond=0), name
        ns.verify(f"{name}-tls", clock.now())

    # Past every notAfter of the 1h ones: those with a renewal policy were renewed, and the
    # Disabled one just expired (the renewed ones show the controllers handled the jump).
    _, disabled_not_after, _ = times(ns.get("certificate", "disabled"))
    clock.move_to(disabled_not_after + 5 * MINUTE)
    for name in ("renew-before", "percentage", "one-third"):
        ns.wait_revision(name, 2)
    cert = ns.wait_condition("disabled", "Ready", "False", "Expired")
    ready = condition(cert, "Ready")
    assert ready is not None
    assert ready["message"] == (
        f"Certificate expired on {disabled_not_after.strftime('%a, %d %b %Y %H:%M:%S')} UTC"
    )
    assert cert["status"]["revision"] == 1
    assert condition(cert, "Issuing") is None
    assert "renewalTime" not in cert["status"]
    assert [n for n in ns.request_names() if n.startswith("disabled-")] == ["disabled-1"]
    assert ns.get("certificate", "ninety-days")["status"]["revision"] == 1


@pytest.mark.parametrize("mode", MODES)
def test_renewal_at_renewal_time_issues_the_next_revision_with_a_new_key(
    mode: Mode, tmp_path: Path
) -> None:
    """SPEC §12 behaviour 20, with the controllers in serve and in ``certsmith controller``."""
    with deployed_with_clock(mode, tmp_path) as (deployment, clock):
        ns = CaNamespace(deployment.serve, "renewal", tmp_path)
        ns.certificate("web", duration="1h")
        cert = ns.wait_revision("web", 1)
        _, _, renewal = times(cert)
        assert renewal is not None
        first = ns.secret_data("web-tls")

        # The CA is taken away first so that the Renewing condition holds still to be read.
        ns.stall()
        clock.move_to(renewal + MINUTE)
        cert = ns.wait_condition("web", "Issuing", "True", "Renewing")
        issuing = condition(cert, "Issuing")
        assert issuing is not None
        assert issuing["message"] == (
            "Renewing certificate as renewal was scheduled at "
            f"{renewal.strftime('%Y-%m-%d %H:%M:%S')} +0000 UTC"
        )
        # (web-1 may already be gone: the revision manager keeps one request while Ready=True,
        # and a Certificate due for renewal but not expired is still Ready.)
        ns.wait(lambda: "web-2" in ns.request_names())
        request = ns.get("cr", "web-2")
        assert request["metadata"]["annotations"]["cert-manager.io/certificate-revision"] == "2"
        assert ns.get("certificate", "web")["status"]["revision"] == 1

        ns.resume()
        cert = ns.wait_revision("web", 2)
        assert condition(cert, "Issuing") is None
        second = ns.secret_data("web-tls")
        assert second["tls.key"] != first["tls.key"]  # rotationPolicy Always: a new key
        assert second["tls.crt"] != first["tls.crt"]
        ns.verify("web-tls", clock.now())
        ns.wait_requests(["web-2"])  # revisionHistoryLimit 1

        def rescheduled() -> dt.datetime | None:  # readiness reads the new certificate
            _, _, when = times(ns.get("certificate", "web"))
            return when if when is not None and when > renewal else None

        wait_until(rescheduled, timeout=TIMEOUT, interval=POLL)
        next_renewal = rescheduled()
        assert next_renewal is not None

        # And again, without holding anything back: revision 3, only web-3 kept.
        clock.move_to(next_renewal + MINUTE)
        ns.wait_revision("web", 3)
        ns.wait_requests(["web-3"])
        assert ns.secret_data("web-tls")["tls.key"] != second["tls.key"]
        assert any(m.startswith("Renewing certificate as renewal was scheduled at ")
                   for m in ns.events("Issuing"))  # fmt: skip
