"""The controllers end to end: real ``certsmith serve``/``controller`` processes, kubectl, openssl.

Every object is created with kubectl, every certificate is checked with ``openssl verify``, and
every wait is a bounded poll (:func:`wait_until`), never a bare sleep.

Every test about controller behaviour runs in both deployment modes (the ``mode`` fixture,
:class:`~tests.e2e.procs.Deployment`): controllers inside ``certsmith serve``, and a separate
``certsmith controller --kubeconfig`` against ``certsmith serve --controllers=none``. Restart
and kill tests act on whichever process holds the controllers. Tests about one mode only
(leader election, ``--namespace``, a controller process against an API-only server) use that
mode. Module-scoped deployments are shared by the tests that need nothing special.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.e2e.procs import (
    MODES,
    Mode,
    Proc,
    Serve,
    condition,
    controller_proc,
    deployed,
    elapsed,
    running,
    wait_controllers_started,
)
from tests.servertools import kubectl_path, wait_until

pytestmark = pytest.mark.e2e

SEED_CR = Path(__file__).parent.parent / "data" / "my-ca-cr.yaml"
KEY_ANNOTATION = "cert-manager.io/private-key-secret-name"
TIMINGS: dict[str, float] = {}


@pytest.fixture(autouse=True, scope="module")
def _tools() -> Iterator[None]:
    if not kubectl_path().exists():
        pytest.skip("pinned kubectl is not installed")
    yield
    for what, value in TIMINGS.items():  # the figures, shown with ``pytest -s``
        print(f"\n{what}: {value:.2f}")


def openssl(*args: str | Path, input_text: str | None = None) -> str:
    result = subprocess.run(
        ["openssl", *map(str, args)],
        input=input_text,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, f"openssl {args} failed:\n{result.stdout}{result.stderr}"
    return result.stdout


@dataclass(frozen=True)
class CA:
    cert: Path
    key: Path


def make_ca(directory: Path, cn: str = "certsmith e2e CA") -> CA:
    """A self-signed root made with the openssl CLI, as a user would (README)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = CA(directory / "ca.crt", directory / "ca.key")
    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca.key, "-out", ca.cert,
        "-days", "365", "-subj", f"/CN={cn}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    return ca


def make_key(path: Path) -> Path:
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)
    return path


def make_csr(key: Path, cn: str) -> str:
    return openssl(
        "req", "-new", "-key", key, "-subj", f"/CN={cn}", "-addext", f"subjectAltName=DNS:{cn}"
    )


def b64(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return base64.b64encode(data).decode()


def cert_request(
    name: str,
    csr: str,
    *,
    issuer: str,
    kind: str = "Issuer",
    group: str = "cert-manager.io",
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "CertificateRequest",
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": {
            "request": b64(csr),
            "issuerRef": {"name": issuer, "kind": kind, "group": group},
        },
    }


def ca_issuer(name: str, secret: str, *, cluster: bool = False) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer" if cluster else "Issuer",
        "metadata": {"name": name},
        "spec": {"ca": {"secretName": secret}},
    }


def selfsigned_cluster_issuer(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": name},
        "spec": {"selfSigned": {}},
    }


def create_namespace(serve: Serve, name: str) -> None:
    serve.kubectl("create", "namespace", name)


def create_ca_secret(serve: Serve, ca: CA, name: str, namespace: str) -> None:
    serve.kubectl(
        "create", "secret", "tls", name, f"--cert={ca.cert}", f"--key={ca.key}", "-n", namespace
    )


def ready_reason(serve: Serve, name: str, namespace: str) -> str | None:
    cond = condition(serve.get("cr", name, namespace), "Ready")
    return None if cond is None else f"{cond['status']}/{cond['reason']}"


def wait_issued(serve: Serve, name: str, namespace: str, timeout: float = 30) -> dict[str, Any]:
    wait_until(lambda: ready_reason(serve, name, namespace) == "True/Issued", timeout=timeout)
    return serve.get("cr", name, namespace)


def pem_blocks(pem: str) -> list[str]:
    return re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", pem, re.S)


def verify(cr: dict[str, Any], ca_file: Path, workdir: Path) -> x509.Certificate:
    """``openssl verify`` the request's certificate against ``ca_file``; one leaf, no chain."""
    pem = base64.b64decode(cr["status"]["certificate"]).decode()
    assert len(pem_blocks(pem)) == 1, pem
    leaf = workdir / f"{cr['metadata']['name']}.crt"
    leaf.write_text(pem)
    assert openssl("verify", "-CAfile", ca_file, leaf).strip().endswith(": OK")
    return x509.load_pem_x509_certificate(pem.encode())


# --- one server with every controller, shared by the tests that need nothing special ---------


@pytest.fixture(scope="module", params=MODES)
def mode(request: pytest.FixtureRequest) -> Mode:
    """The deployment mode; module scope, so each mode's shared deployments are started once."""
    value: Mode = request.param
    return value


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, mode: Mode) -> Iterator[Serve]:
    root = tmp_path_factory.mktemp(f"cluster-{mode}")
    with deployed(mode, root) as deployment:
        yield deployment.serve


def test_seed_example_is_approved_issued_and_verifies(cluster: Serve, tmp_path: Path) -> None:
    ca = make_ca(tmp_path)
    create_ca_secret(cluster, ca, "ca-key-pair", "default")
    cluster.apply(ca_issuer("ca-issuer", "ca-key-pair"), "default")
    start = time.monotonic()
    cluster.kubectl("apply", "-f", str(SEED_CR))
    cr = wait_issued(cluster, "my-ca-cr", "default")
    TIMINGS["seed example: apply to Ready"] = elapsed(start)

    approved = condition(cr, "Approved")
    assert approved is not None
    assert approved["reason"] == "cert-manager.io"
    assert approved["message"] == "Certificate request has been approved by cert-manager.io"
    ready = condition(cr, "Ready")
    assert ready is not None
    assert ready["message"] == "Certificate fetched from issuer successfully"
    leaf = verify(cr, ca.cert, tmp_path)
    assert leaf.issuer.rfc4514_string() == "CN=certsmith e2e CA"
    assert base64.b64decode(cr["status"]["ca"]).decode().strip() == ca.cert.read_text().strip()
    assert "failureTime" not in cr["status"]
    table = cluster.kubectl("get", "cr", "my-ca-cr").stdout.splitlines()[1].split()
    assert table[1:4] == ["True", "True", "ca-issuer"]  # APPROVED, READY, ISSUER (no DENIED)


def test_selfsigned_cluster_issuer_signs_with_the_annotated_key(
    cluster: Serve, tmp_path: Path
) -> None:
    create_namespace(cluster, "selfsigned")
    cluster.apply(selfsigned_cluster_issuer("selfsigned"))
    key = make_key(tmp_path / "tls.key")
    cluster.kubectl(
        "create", "secret", "generic", "self-key", f"--from-file=tls.key={key}", "-n", "selfsigned"
    )
    csr = make_csr(key, "self.example.com")
    cluster.apply(
        cert_request(
            "self",
            csr,
            issuer="selfsigned",
            kind="ClusterIssuer",
            annotations={KEY_ANNOTATION: "self-key"},
        ),
        "selfsigned",
    )
    cr = wait_issued(cluster, "self", "selfsigned")
    pem = base64.b64decode(cr["status"]["certificate"]).decode()
    cert_file = tmp_path / "self.crt"
    cert_file.write_text(pem)
    # Self-signed: it is its own trust anchor, and status.ca is the certificate itself.
    assert openssl("verify", "-CAfile", cert_file, cert_file).strip().endswith(": OK")
    assert base64.b64decode(cr["status"]["ca"]).decode() == pem
    leaf = x509.load_pem_x509_certificate(pem.encode())
    own_key = serialization.load_pem_private_key(key.read_bytes(), None)
    assert leaf.public_key() == own_key.public_key()


def test_missing_issuer_is_pending_then_issued_without_recreating(
    cluster: Serve, tmp_path: Path
) -> None:
    create_namespace(cluster, "late")
    csr = make_csr(make_key(tmp_path / "k.pem"), "late.example.com")
    cluster.apply(cert_request("late", csr, issuer="late-ca"), "late")

    def pending() -> bool:
        cond = condition(cluster.get("cr", "late", "late"), "Ready")
        return cond is not None and cond["reason"] == "Pending"

    wait_until(pending, timeout=30)
    cr = cluster.get("cr", "late", "late")
    ready = condition(cr, "Ready")
    assert ready is not None
    assert ready["status"] == "False"
    assert ready["message"].startswith('Referenced "Issuer" not found')
    assert "failureTime" not in cr["status"]
    uid = cr["metadata"]["uid"]

    ca = make_ca(tmp_path / "ca")
    cluster.apply(ca_issuer("late-ca", "late-ca-key"), "late")
    create_ca_secret(cluster, ca, "late-ca-key", "late")
    issued = wait_issued(cluster, "late", "late")
    assert issued["metadata"]["uid"] == uid
    verify(issued, ca.cert, tmp_path)


def test_foreign_issuer_group_is_never_touched(cluster: Serve, tmp_path: Path) -> None:
    create_namespace(cluster, "foreign")
    key = make_key(tmp_path / "k.pem")
    cluster.apply(
        cert_request("foreign", make_csr(key, "f.example.com"), issuer="x", group="example.com"),
        "foreign",
    )
    # A request created after it that does get issued proves the controllers have seen both.
    ca = make_ca(tmp_path / "ca")
    create_ca_secret(cluster, ca, "ca", "foreign")
    cluster.apply(ca_issuer("ca", "ca"), "foreign")
    cluster.apply(cert_request("probe", make_csr(key, "p.example.com"), issuer="ca"), "foreign")
    wait_issued(cluster, "probe", "foreign")
    cr = cluster.get("cr", "foreign", "foreign")
    assert (cr.get("status") or {}).get("conditions") in (None, [])
    assert "certificate" not in (cr.get("status") or {})


def test_cluster_issuer_reads_its_ca_from_the_cluster_resource_namespace(
    cluster: Serve, tmp_path: Path
) -> None:
    ca = make_ca(tmp_path)
    # Applied, not created: in split mode the install made it (the controller's own namespace).
    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cert-manager"}})
    create_ca_secret(cluster, ca, "cluster-ca", "cert-manager")
    cluster.apply(ca_issuer("cluster-ca", "cluster-ca", cluster=True))

    def issuer_ready() -> bool:
        cond = condition(cluster.get("clusterissuer", "cluster-ca"), "Ready")
        return cond is not None and cond["status"] == "True"

    wait_until(issuer_ready, timeout=30)
    create_namespace(cluster, "team")
    csr = make_csr(make_key(tmp_path / "k.pem"), "team.example.com")
    cluster.apply(cert_request("team", csr, issuer="cluster-ca", kind="ClusterIssuer"), "team")
    verify(wait_issued(cluster, "team", "team"), ca.cert, tmp_path)


# --- manual approval ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def manual(tmp_path_factory: pytest.TempPathFactory, mode: Mode) -> Iterator[tuple[Serve, CA]]:
    root = tmp_path_factory.mktemp(f"manual-{mode}")
    with deployed(mode, root, ["--controllers=*,-certificaterequests-approver"]) as deployment:
        serve = deployment.serve
        ca = make_ca(root / "ca")
        create_ca_secret(serve, ca, "ca-key-pair", "default")
        serve.apply(ca_issuer("ca-issuer", "ca-key-pair"), "default")
        yield serve, ca


def test_without_the_approver_nothing_happens_until_certsmith_approve(
    manual: tuple[Serve, CA], tmp_path: Path
) -> None:
    serve, ca = manual
    key = make_key(tmp_path / "k.pem")
    serve.apply(cert_request("wait", make_csr(key, "wait.example.com"), issuer="ca-issuer"))
    # The WaitingForApproval event proves the controllers looked at it and stopped at the gate.
    wait_until(
        lambda: (
            "WaitingForApproval"
            in serve.kubectl("get", "events", "--field-selector", "involvedObject.name=wait").stdout
        ),
        timeout=30,
    )
    cr = serve.get("cr", "wait")
    assert condition(cr, "Ready") is None
    assert condition(cr, "Approved") is None

    start = time.monotonic()
    result = serve.certsmith("approve", "wait", "-n", "default")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Approved CertificateRequest 'default/wait'"
    issued = wait_issued(serve, "wait", "default")
    TIMINGS["certsmith approve to Ready"] = elapsed(start)
    approved = condition(issued, "Approved")
    assert approved is not None
    assert (approved["reason"], approved["message"]) == (
        "KubectlCertManager",
        'manually approved by "cmctl"',
    )
    verify(issued, ca.cert, tmp_path)

    again = serve.certsmith("approve", "wait")
    assert again.returncode == 1
    assert again.stderr.strip() == "certsmith approve: CertificateRequest is already approved"
    assert "Traceback" not in again.stderr
    deny = serve.certsmith("deny", "wait")
    assert deny.returncode == 1
    assert "CertificateRequest is already approved" in deny.stderr


def test_certsmith_deny_is_terminal_and_never_signed(
    manual: tuple[Serve, CA], tmp_path: Path
) -> None:
    serve, _ = manual
    key = make_key(tmp_path / "k.pem")
    serve.apply(cert_request("no", make_csr(key, "no.example.com"), issuer="ca-issuer"))
    result = serve.certsmith("deny", "no", "--reason", "Policy", "--message", "not today")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Denied CertificateRequest 'default/no'"

    wait_until(lambda: ready_reason(serve, "no", "default") == "False/Denied", timeout=30)
    cr = serve.get("cr", "no")
    ready = condition(cr, "Ready")
    denied = condition(cr, "Denied")
    assert ready is not None
    assert denied is not None
    assert ready["message"] == "The CertificateRequest was denied by an approval controller"
    assert (denied["reason"], denied["message"]) == ("Policy", "not today")
    assert cr["status"].get("failureTime")
    assert "certificate" not in cr["status"]

    approve = serve.certsmith("approve", "no")
    assert approve.returncode == 1
    assert "CertificateRequest is already denied" in approve.stderr
    missing = serve.certsmith("approve", "absent")
    assert missing.returncode == 1
    assert 'certificaterequests.cert-manager.io "absent" not found' in missing.stderr
    assert "Traceback" not in missing.stderr


# --- restarts ----------------------------------------------------------------------------------


def test_terminal_failure_is_not_retried_after_a_restart(mode: Mode, tmp_path: Path) -> None:
    with deployed(mode, tmp_path) as deployment:
        serve = deployment.serve
        serve.apply(selfsigned_cluster_issuer("selfsigned"))
        key = make_key(tmp_path / "k.pem")
        serve.apply(cert_request("bad", make_csr(key, "bad.example.com"), issuer="selfsigned",
                                 kind="ClusterIssuer"))  # fmt: skip
        wait_until(lambda: ready_reason(serve, "bad", "default") == "False/Failed", timeout=30)
        before = serve.get("cr", "bad")
        ready = condition(before, "Ready")
        assert ready is not None
        assert ready["message"] == (
            'Annotation "cert-manager.io/private-key-secret-name" missing or reference empty: '
            "secret name missing"
        )
        assert before["status"]["failureTime"]

        deployment.restart_controllers()
        # A second failing request reaching Failed proves the restarted controllers ran.
        serve.apply(cert_request("probe", make_csr(key, "p.example.com"), issuer="selfsigned",
                                 kind="ClusterIssuer"))  # fmt: skip
        wait_until(lambda: ready_reason(serve, "probe", "default") == "False/Failed", timeout=30)
        after = serve.get("cr", "bad")
        assert after["status"] == before["status"]
        assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_sigkill_while_signing_200_requests_then_restart(mode: Mode, tmp_path: Path) -> None:
    """SIGKILL the controllers' process mid-burst: ``serve`` (server and all) or the controller."""
    count = 200
    with deployed(mode, tmp_path) as deployment:
        serve = deployment.serve
        ca = make_ca(tmp_path / "ca")
        key = ec.generate_private_key(ec.SECP256R1())
        items = []
        for index in range(count):
            csr = (
                x509.CertificateSigningRequestBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"n{index}")]))
                .sign(key, hashes.SHA256())
                .public_bytes(serialization.Encoding.PEM)
            )
            items.append(cert_request(f"bulk-{index:03d}", csr.decode(), issuer="ca-issuer"))
        serve.apply("\n---\n".join(json.dumps(item) for item in items), "default")
        # All 200 wait (Pending) for the issuer; once it is Ready they are signed in one burst,
        # and the controllers' process is killed as soon as the first certificate is stored.
        wait_until(lambda: ready_reason(serve, f"bulk-{count - 1:03d}", "default"), timeout=60)
        start = time.monotonic()
        create_ca_secret(serve, ca, "ca-key-pair", "default")
        serve.apply(ca_issuer("ca-issuer", "ca-key-pair"), "default")

        seen: dict[str, str] = {}

        def some_issued() -> bool:
            for cr in serve.list("cr", "default"):
                cert = (cr.get("status") or {}).get("certificate")
                if cert:
                    seen[cr["metadata"]["name"]] = cert
            return bool(seen)

        wait_until(some_issued, timeout=60, interval=0.02)
        deployment.kill_controllers()
        TIMINGS[f"200 requests ({mode}): issued before SIGKILL"] = len(seen)

        deployment.start_controllers()

        def all_issued() -> bool:
            crs = serve.list("cr", "default")
            ready = [c for c in crs if (condition(c, "Ready") or {}).get("reason") == "Issued"]
            return len(ready) == count

        wait_until(all_issued, timeout=180, interval=0.5)
        TIMINGS[f"200 requests ({mode}): issuer to all Ready, SIGKILL + restart included"] = (
            elapsed(start)
        )
        crs = serve.list("cr", "default")
        assert len(crs) == count
        paths = []
        for cr in crs:
            cert = cr["status"]["certificate"]
            name = cr["metadata"]["name"]
            if name in seen:
                assert cert == seen[name], f"{name} was signed again after the restart"
            pem = base64.b64decode(cert).decode()
            assert len(pem_blocks(pem)) == 1, name
            leaf = x509.load_pem_x509_certificate(pem.encode())
            assert leaf.public_key() == key.public_key()
            assert leaf.subject.rfc4514_string() == f"CN=n{int(name.split('-')[1])}"
            path = tmp_path / f"{name}.pem"
            path.write_text(pem)
            paths.append(path)
        out = openssl("verify", "-CAfile", ca.cert, *paths)
        assert out.count(": OK") == count


# --- cluster mode ------------------------------------------------------------------------------


def test_controller_process_against_an_api_only_server(tmp_path: Path) -> None:
    serve = Serve(tmp_path / "data", tmp_path, ["--controllers=none"])
    ctrl = controller_proc("controller", serve, tmp_path)
    with running(serve, ctrl):
        serve.start()
        ca = make_ca(tmp_path / "ca")
        create_ca_secret(serve, ca, "ca-key-pair", "default")
        serve.apply(ca_issuer("ca-issuer", "ca-key-pair"), "default")
        serve.kubectl("apply", "-f", str(SEED_CR))
        # Without controllers nothing happens to the request: no approval, no Ready.
        assert condition(serve.get("cr", "my-ca-cr", "default"), "Approved") is None
        ctrl.start()
        cr = wait_issued(serve, "my-ca-cr", "default")
        verify(cr, ca.cert, tmp_path)
        assert ctrl.stop() == 0
        assert "started controllers" in ctrl.log()


def holder(serve: Serve) -> str:
    result = serve.kubectl(
        "get", "lease", "certsmith-controller", "-n", "kube-system",
        "-o", "jsonpath={.spec.holderIdentity}", check=False,
    )  # fmt: skip
    return result.stdout.strip() if result.returncode == 0 else ""


def identity(proc: Proc) -> str:
    found = re.search(r"waiting to acquire lease \S+ as (\S+)", proc.log(since_start=True))
    assert found, proc.log()
    return found.group(1)


def test_leader_election_only_the_holder_acts_and_hands_over(tmp_path: Path) -> None:
    serve = Serve(tmp_path / "data", tmp_path, ["--controllers=none"])
    flags = ("--leader-elect", "--leader-election-lease-duration=4s")
    first = controller_proc("candidate-a", serve, tmp_path, *flags)
    second = controller_proc("candidate-b", serve, tmp_path, *flags)
    with running(serve, first, second):
        serve.start()
        ca = make_ca(tmp_path / "ca")
        create_ca_secret(serve, ca, "ca-key-pair", "default")
        serve.apply(ca_issuer("ca-issuer", "ca-key-pair"), "default")
        first.start()
        wait_until(lambda: "started controllers" in first.log(), timeout=30)
        second.start()
        wait_until(lambda: "waiting to acquire lease" in second.log(), timeout=30)
        ids = {identity(first): first, identity(second): second}
        assert holder(serve) == identity(first)

        key = make_key(tmp_path / "k.pem")
        serve.apply(cert_request("one", make_csr(key, "one.example.com"), issuer="ca-issuer"))
        verify(wait_issued(serve, "one", "default"), ca.cert, tmp_path)
        assert "started controllers" not in second.log()
        assert "became leader" not in second.log()

        first.kill()
        killed = time.monotonic()
        wait_until(lambda: holder(serve) == identity(second), timeout=15)
        wait_until(lambda: "started controllers" in second.log(), timeout=15)
        handover = elapsed(killed)
        TIMINGS["leader handover after SIGKILL (lease 4s)"] = handover
        # The successor waits for the lease to expire: lease duration plus one retry period.
        assert handover < 4 + 2 * (4 * 2 / 15) + 2
        assert ids[holder(serve)] is second

        serve.apply(cert_request("two", make_csr(key, "two.example.com"), issuer="ca-issuer"))
        verify(wait_issued(serve, "two", "default"), ca.cert, tmp_path)

        # A candidate still waiting for the lease stops at once on SIGTERM, cleanly.
        first.start()
        wait_until(lambda: "waiting to acquire lease" in first.log(since_start=True), timeout=30)
        stopping = time.monotonic()
        assert first.stop() == 0
        assert elapsed(stopping) < 5
        assert holder(serve) == identity(second)

        assert second.stop() == 0
        # A graceful stop hands the lease back at once.
        assert holder(serve) == ""


# --- certsmith controller --namespace -----------------------------------------------------------


def test_namespaced_controller_acts_only_in_its_namespace(tmp_path: Path) -> None:
    serve = Serve(tmp_path / "data", tmp_path, ["--controllers=none"])
    ctrl = controller_proc("team-a", serve, tmp_path, "--namespace", "team-a", "--leader-elect")
    with running(serve, ctrl):
        serve.start()
        ca = make_ca(tmp_path / "ca")
        key = make_key(tmp_path / "k.pem")
        for team in ("team-a", "team-b"):
            create_namespace(serve, team)
            create_ca_secret(serve, ca, "ca", team)
            serve.apply(ca_issuer("ca", "ca"), team)
            serve.apply(cert_request("cr", make_csr(key, f"{team}.example.com"), issuer="ca"), team)
        create_namespace(serve, "cert-manager")
        create_ca_secret(serve, ca, "cluster-ca", "cert-manager")
        serve.apply(ca_issuer("cluster-ca", "cluster-ca", cluster=True))
        serve.apply(
            cert_request("for-cluster", make_csr(key, "c.example.com"), issuer="cluster-ca",
                         kind="ClusterIssuer"),
            "team-a",
        )  # fmt: skip
        ctrl.start()
        wait_controllers_started(ctrl)
        verify(wait_issued(serve, "cr", "team-a"), ca.cert, tmp_path)
        # Approved (the approver sees every request in team-a), then deliberately left alone.
        wait_until(
            lambda: condition(serve.get("cr", "for-cluster", "team-a"), "Approved") is not None,
            timeout=30,
        )
        wait_until(lambda: "not processed" in ctrl.log(), timeout=30)
        assert ready_reason(serve, "for-cluster", "team-a") is None
        assert (serve.get("cr", "cr", "team-b").get("status") or {}) == {}
        assert (serve.get("issuer", "ca", "team-b").get("status") or {}) == {}
        assert (serve.get("clusterissuer", "cluster-ca").get("status") or {}) == {}
        assert serve.list("events", "team-b") == []
        # The lease lives in the watched namespace, not kube-system.
        lease = serve.get("lease", "certsmith-controller", "team-a")
        assert lease["spec"]["holderIdentity"]
        assert serve.kubectl("get", "lease", "-n", "kube-system", "-o", "name").stdout == ""
        assert ctrl.stop() == 0
