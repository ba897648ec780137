"""Failed-issuance backoff end to end: ``certsmith serve`` on a movable clock, with kubectl.

SPEC §12 behaviour 23. The failing issuer is a real one: a CA Issuer whose Secret's ``tls.crt``
appends an unrelated certificate to the CA's, so every signature fails with ``Error signing
certificate: certificate chain is malformed or broken`` until the Secret is repaired. The
controllers' clock moves through ``--clock-offset-file`` (tests/e2e/certenv.py).

"Nothing happened before the backoff ended" needs a witness that the controllers saw the clock
move: Certificate ``tick`` (1h, renewBefore 5m) is renewed at every jump, so once its revision
went up, an early retry would have happened too.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.certenv import CaNamespace, MovableClock, deployed_with_clock, make_ca, parse_time
from tests.e2e.procs import condition
from tests.servertools import kubectl_path

pytestmark = pytest.mark.e2e

MINUTE = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)
RETRIED = "The certificate request has failed to complete and will be retried: "


@pytest.fixture(autouse=True, scope="module")
def _tools() -> None:
    if not kubectl_path().exists():
        pytest.skip("pinned kubectl is not installed")


def flaky_issuer(ns: CaNamespace, workdir: Path) -> None:
    """Issuer ``flaky`` over Secret ``flaky-ca``, whose broken chain fails every signature."""
    other, _ = make_ca(workdir, "unrelated")
    broken = workdir / "broken-chain.crt"
    broken.write_bytes(ns.ca_cert.read_bytes() + other.read_bytes())
    ns.kubectl("create", "secret", "tls", "flaky-ca", f"--cert={broken}", f"--key={ns.ca_key}")
    ns.add_issuer("flaky", "flaky-ca")


def repair_flaky_issuer(ns: CaNamespace) -> None:
    secret = ns.kubectl("create", "secret", "tls", "flaky-ca", f"--cert={ns.ca_cert}",
                        f"--key={ns.ca_key}", "--dry-run=client", "-o", "yaml").stdout  # fmt: skip
    ns.apply(secret)


def certificate_web(ns: CaNamespace) -> None:
    ns.certificate("web", issuerRef={"name": "flaky", "kind": "Issuer"})


def wait_attempts(ns: CaNamespace, attempts: int) -> dict[str, Any]:
    """Wait until ``web`` has failed ``attempts`` times in a row; return it."""
    seen: list[dict[str, Any]] = []

    def failed() -> bool:
        seen[:] = [ns.get("certificate", "web")]
        issuing = condition(seen[0], "Issuing") or {}
        status = seen[0].get("status") or {}
        return issuing.get("status") == "False" and status.get("failedIssuanceAttempts") == (
            attempts
        )

    ns.wait(failed)
    return seen[0]


def last_failure(cert: dict[str, Any]) -> dt.datetime:
    return parse_time(cert["status"]["lastFailureTime"])


def backoffs_announced(ns: CaNamespace) -> set[str]:
    """The backoffs of the ``RetryScheduled`` events (``1h0m0s``, …)."""
    return {m.rsplit("(after a backoff of ", 1)[1].rstrip(")") for m in ns.events("RetryScheduled")}


def uid(ns: CaNamespace, request: str) -> str:
    found: str = ns.get("cr", request)["metadata"]["uid"]
    return found


def move_and_witness(ns: CaNamespace, clock: MovableClock, when: dt.datetime) -> None:
    """Move the clock to ``when`` and wait until ``tick`` was renewed at that time."""
    revision = ns.get("certificate", "tick")["status"]["revision"]
    clock.move_to(when)
    ns.wait_revision("tick", revision + 1)


def test_failed_issuance_waits_1h_then_2h_recreates_the_same_request_and_success_clears(
    tmp_path: Path,
) -> None:
    """SPEC §12 behaviour 23 with cert-manager's default backoff (1h, doubling, 32h cap)."""
    with deployed_with_clock("serve", tmp_path) as (deployment, clock):
        ns = CaNamespace(deployment.serve, "backoff", tmp_path)
        flaky_issuer(ns, tmp_path)
        ns.certificate("tick", duration="1h", renewBefore="5m")
        ns.wait_revision("tick", 1)
        certificate_web(ns)

        cert = wait_attempts(ns, 1)
        ready = condition(ns.get("cr", "web-1"), "Ready")
        assert ready is not None
        assert (ready["status"], ready["reason"]) == ("False", "Failed")
        message = ready["message"]
        assert message.startswith("Error signing certificate: ")
        issuing = condition(cert, "Issuing")
        assert issuing is not None
        assert (issuing["reason"], issuing["message"]) == ("Failed", RETRIED + message)
        failed_at = last_failure(cert)
        first_uid = uid(ns, "web-1")
        ns.wait(lambda: backoffs_announced(ns) == {"1h0m0s"})

        # 59 minutes later: no new request yet.
        move_and_witness(ns, clock, failed_at + 59 * MINUTE)
        assert uid(ns, "web-1") == first_uid
        assert [n for n in ns.request_names() if n.startswith("web-")] == ["web-1"]
        assert last_failure(wait_attempts(ns, 1)) == failed_at

        # After the hour: web-1 is replaced by a new request of the same name, which fails too.
        clock.move_to(failed_at + HOUR + MINUTE)
        cert = wait_attempts(ns, 2)
        second_uid = uid(ns, "web-1")
        assert second_uid != first_uid
        assert [n for n in ns.request_names() if n.startswith("web-")] == ["web-1"]
        failed_again = last_failure(cert)
        assert failed_again >= failed_at + HOUR
        ns.wait(lambda: backoffs_announced(ns) == {"1h0m0s", "2h0m0s"})

        # The second wait is 2h: nothing at 1h59m, a retry after 2h.
        move_and_witness(ns, clock, failed_again + 2 * HOUR - MINUTE)
        assert uid(ns, "web-1") == second_uid
        assert last_failure(wait_attempts(ns, 2)) == failed_again
        clock.move_to(failed_again + 2 * HOUR + MINUTE)
        wait_attempts(ns, 3)
        assert uid(ns, "web-1") not in (first_uid, second_uid)
        ns.wait(lambda: backoffs_announced(ns) == {"1h0m0s", "2h0m0s", "4h0m0s"})

        # Editing the spec is a new attempt, not a retry: no 4h wait. The issuer is repaired
        # first, and success clears both failure fields.
        repair_flaky_issuer(ns)
        ns.kubectl("patch", "certificate", "web", "--type=merge",
                   "-p", '{"spec": {"dnsNames": ["www.example.com"]}}')  # fmt: skip
        cert = ns.wait_revision("web", 1)
        assert "failedIssuanceAttempts" not in cert["status"]
        assert "lastFailureTime" not in cert["status"]
        assert condition(cert, "Issuing") is None
        ns.verify("web-tls", clock.now())


def test_backoff_flags_set_the_first_wait_and_the_cap_in_certsmith_controller(
    tmp_path: Path,
) -> None:
    """SPEC §12 behaviour 23 with ``--certificate-request-{minimum,maximum}-backoff-duration``
    of 10m and 20m: the waits are 10m, 20m, 20m (capped), in the split deployment."""
    flags = (
        "--certificate-request-minimum-backoff-duration=10m",
        "--certificate-request-maximum-backoff-duration=20m",
    )
    with deployed_with_clock("split", tmp_path, flags) as (deployment, clock):
        ns = CaNamespace(deployment.serve, "backoff-flags", tmp_path)
        flaky_issuer(ns, tmp_path)
        certificate_web(ns)
        failed_at = last_failure(wait_attempts(ns, 1))
        ns.wait(lambda: backoffs_announced(ns) == {"10m0s"})
        clock.move_to(failed_at + 11 * MINUTE)
        failed_at = last_failure(wait_attempts(ns, 2))
        ns.wait(lambda: backoffs_announced(ns) == {"10m0s", "20m0s"})
        clock.move_to(failed_at + 21 * MINUTE)
        failed_at = last_failure(wait_attempts(ns, 3))
        # The third wait would be 40m uncapped; it is 20m again.
        ns.wait(lambda: len(ns.events("RetryScheduled")) >= 3)
        assert backoffs_announced(ns) == {"10m0s", "20m0s"}
        retry = (failed_at + 20 * MINUTE).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert f"The next issuance attempt is at {retry} (after a backoff of 20m0s)" in (
            ns.events("RetryScheduled")
        )
        repair_flaky_issuer(ns)
        clock.move_to(failed_at + 21 * MINUTE)
        cert = ns.wait_revision("web", 1)
        assert "failedIssuanceAttempts" not in cert["status"]
