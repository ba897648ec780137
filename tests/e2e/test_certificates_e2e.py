"""Certificates end to end: ``kubectl apply`` of cert-manager manifests, ``certsmith renew`` and
``certsmith create certificaterequest`` against a real ``certsmith serve``, checked with openssl.

SPEC §12 behaviours 18 (happy path) and 24 (manual renew), in both deployment modes. Manifests
are YAML as users write them (cert-manager's documentation style); every wait is a bounded poll.
Each test works in its own namespace, so the module's deployments are shared.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.procs import MODES, Deployment, Mode, Serve, condition, deployed, elapsed
from tests.servertools import kubectl_path, wait_until

pytestmark = pytest.mark.e2e

TIMINGS: dict[str, list[float]] = {}

ISSUER_YAML = """\
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: ca-issuer
spec:
  ca:
    secretName: ca-key-pair
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: selfsigned
spec:
  selfSigned: {}
"""

CERTIFICATE_YAML = """\
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: web
spec:
  secretName: web-tls
  dnsNames:
    - web.example.com
  issuerRef:
    name: ca-issuer
    kind: Issuer
    group: cert-manager.io
"""


@pytest.fixture(autouse=True, scope="module")
def _tools() -> Iterator[None]:
    if not kubectl_path().exists():
        pytest.skip("pinned kubectl is not installed")
    yield
    for what, values in TIMINGS.items():  # the figures, shown with ``pytest -s``
        print(f"\n{what}: " + ", ".join(f"{v:.2f}s" for v in values))


def openssl(*args: str | Path) -> str:
    result = subprocess.run(
        ["openssl", *map(str, args)], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, f"openssl {args} failed:\n{result.stdout}{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module", params=MODES)
def deployment(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    mode: Mode = request.param
    root = tmp_path_factory.mktemp(f"certificates-{mode}")
    with deployed(mode, root) as running:
        yield running


@pytest.fixture
def namespace(deployment: Deployment, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh namespace with the CA Secret ``ca-key-pair`` and Issuers ca-issuer, selfsigned."""
    serve = deployment.serve
    name: str = (
        request.node.name.split("[")[0].removeprefix("test_")[:40].replace("_", "-").rstrip("-")
    )
    serve.kubectl("create", "namespace", name)
    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", tmp_path / "ca.key",
        "-out", tmp_path / "ca.crt", "-days", "365", "-subj", "/CN=certsmith e2e CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    serve.kubectl("create", "secret", "tls", "ca-key-pair", f"--cert={tmp_path / 'ca.crt'}",
                  f"--key={tmp_path / 'ca.key'}", "-n", name)  # fmt: skip
    serve.kubectl("apply", "-n", name, "-f", "-", input_text=ISSUER_YAML)
    serve.kubectl("wait", "-n", name, "--for=condition=Ready", "issuer/ca-issuer",
                  "issuer/selfsigned", "--timeout=30s")  # fmt: skip
    return name


def secret_data(serve: Serve, name: str, namespace: str) -> dict[str, bytes]:
    secret = serve.get("secret", name, namespace)
    return {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}


def apply_web(serve: Serve, namespace: str) -> float:
    """``kubectl apply`` Certificate web, ``kubectl wait`` for Ready; returns the seconds taken."""
    start = time.monotonic()
    serve.kubectl("apply", "-n", namespace, "-f", "-", input_text=CERTIFICATE_YAML)
    serve.kubectl("wait", "-n", namespace, "--for=condition=Ready", "certificate/web",
                  "--timeout=45s")  # fmt: skip
    taken = elapsed(start)
    TIMINGS.setdefault("kubectl apply Certificate -> Ready", []).append(taken)
    return taken


def request_names(serve: Serve, namespace: str) -> list[str]:
    return sorted(cr["metadata"]["name"] for cr in serve.list("cr", namespace))


def next_key_secrets(serve: Serve, namespace: str) -> list[str]:
    out = serve.kubectl("get", "secrets", "-n", namespace, "-l",
                        "cert-manager.io/next-private-key=true", "-o", "json").stdout  # fmt: skip
    return [s["metadata"]["name"] for s in json.loads(out)["items"]]


def verify_pair(workdir: Path, data: dict[str, bytes]) -> None:
    """``openssl verify`` tls.crt against ca.crt, and tls.key is tls.crt's key."""
    for key in ("tls.crt", "tls.key", "ca.crt"):
        (workdir / key).write_bytes(data[key])
    assert (
        openssl("verify", "-CAfile", workdir / "ca.crt", workdir / "tls.crt")
        .strip()
        .endswith(": OK")
    )
    cert_pub = openssl("x509", "-noout", "-pubkey", "-in", workdir / "tls.crt")
    assert cert_pub == openssl("pkey", "-pubout", "-in", workdir / "tls.key")


def test_kubectl_applied_certificate_is_issued_into_a_tls_secret(
    deployment: Deployment, namespace: str, tmp_path: Path
) -> None:
    serve, ns = deployment.serve, namespace
    apply_web(serve, ns)

    data = secret_data(serve, "web-tls", ns)
    secret = serve.get("secret", "web-tls", ns)
    assert secret["type"] == "kubernetes.io/tls"
    assert set(data) == {"tls.crt", "tls.key", "ca.crt"}
    assert data["tls.key"].startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    (tmp_path / "key.pem").write_bytes(data["tls.key"])
    assert "Private-Key: (2048 bit" in openssl("pkey", "-noout", "-text", "-in",
                                               tmp_path / "key.pem")  # fmt: skip
    assert data["ca.crt"] == (tmp_path / "ca.crt").read_bytes()
    verify_pair(tmp_path, data)
    assert "DNS:web.example.com" in openssl("x509", "-noout", "-ext", "subjectAltName",
                                            "-in", tmp_path / "tls.crt")  # fmt: skip
    assert secret["metadata"]["labels"]["controller.cert-manager.io/fao"] == "true"
    annotations = secret["metadata"]["annotations"]
    assert {k: annotations[k] for k in (
        "cert-manager.io/certificate-name", "cert-manager.io/issuer-name",
        "cert-manager.io/issuer-kind", "cert-manager.io/issuer-group",
        "cert-manager.io/alt-names", "cert-manager.io/common-name",
        "cert-manager.io/ip-sans", "cert-manager.io/uri-sans",
    )} == {
        "cert-manager.io/certificate-name": "web", "cert-manager.io/issuer-name": "ca-issuer",
        "cert-manager.io/issuer-kind": "Issuer", "cert-manager.io/issuer-group": "cert-manager.io",
        "cert-manager.io/alt-names": "web.example.com", "cert-manager.io/common-name": "",
        "cert-manager.io/ip-sans": "", "cert-manager.io/uri-sans": "",
    }  # fmt: skip

    table = serve.kubectl("get", "certificates", "-n", ns).stdout.splitlines()
    assert table[0].split()[:3] == ["NAME", "READY", "SECRET"]
    assert table[1].split()[:3] == ["web", "True", "web-tls"]

    cert = serve.get("certificate", "web", ns)
    ready = condition(cert, "Ready")
    assert ready is not None
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "True", "Ready", "Certificate is up to date and has not expired",
    )  # fmt: skip
    assert cert["status"]["revision"] == 1
    assert condition(cert, "Issuing") is None
    assert "nextPrivateKeySecretName" not in cert["status"]

    assert request_names(serve, ns) == ["web-1"]
    cr = serve.get("cr", "web-1", ns)
    cr_annotations = cr["metadata"]["annotations"]
    assert cr_annotations["cert-manager.io/certificate-revision"] == "1"
    assert cr_annotations["cert-manager.io/certificate-name"] == "web"
    assert cr_annotations["cert-manager.io/private-key-secret-name"].startswith("web-")
    owner = cr["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("Certificate", "web", True)
    wait_until(lambda: next_key_secrets(serve, ns) == [], timeout=15)


def test_certsmith_renew_issues_revision_2_with_a_new_key_and_keeps_only_web_2(
    deployment: Deployment, namespace: str, tmp_path: Path
) -> None:
    serve, ns = deployment.serve, namespace
    apply_web(serve, ns)
    before = secret_data(serve, "web-tls", ns)
    generation = serve.get("certificate", "web", ns)["metadata"]["generation"]

    split = deployment.controller is not None
    if split:  # hold the controllers back to see exactly what certsmith renew wrote
        assert deployment.controllers.stop() == 0
    start = time.monotonic()
    result = serve.certsmith("renew", "web", "-n", ns)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"Manually triggered issuance of Certificate {ns}/web\n"
    issuing = condition(serve.get("certificate", "web", ns), "Issuing")
    if split or issuing is not None:
        assert issuing is not None
        assert (issuing["status"], issuing["reason"], issuing["message"]) == (
            "True", "ManuallyTriggered", "Certificate re-issuance manually triggered",
        )  # fmt: skip
        assert issuing["observedGeneration"] == generation
    if split:
        again = serve.certsmith("renew", "web", "-n", ns)
        assert again.returncode == 1
        assert again.stderr == (
            f"certsmith renew: Certificate {ns}/web is already being issued "
            "(Issuing=True, reason ManuallyTriggered)\n"
        )
        deployment.start_controllers()

    def renewed() -> bool:
        cert = serve.get("certificate", "web", ns)
        ready = condition(cert, "Ready") or {}
        return (cert.get("status") or {}).get("revision") == 2 and ready.get("status") == "True"

    wait_until(renewed, timeout=45)
    TIMINGS.setdefault("certsmith renew -> revision 2 Ready", []).append(elapsed(start))
    assert condition(serve.get("certificate", "web", ns), "Issuing") is None
    after = secret_data(serve, "web-tls", ns)
    assert after["tls.key"] != before["tls.key"]
    assert after["tls.crt"] != before["tls.crt"]
    verify_pair(tmp_path, after)
    wait_until(lambda: request_names(serve, ns) == ["web-2"], timeout=15)
    cr = serve.get("cr", "web-2", ns)
    assert cr["metadata"]["annotations"]["cert-manager.io/certificate-revision"] == "2"


def test_renew_refuses_a_certificate_that_is_already_issuing(
    deployment: Deployment, namespace: str
) -> None:
    serve, ns = deployment.serve, namespace
    stuck = CERTIFICATE_YAML.replace("name: ca-issuer", "name: missing")
    serve.kubectl("apply", "-n", ns, "-f", "-", input_text=stuck)

    def issuing_reason() -> str | None:
        cond = condition(serve.get("certificate", "web", ns), "Issuing")
        return None if cond is None else f"{cond['status']}/{cond['reason']}"

    wait_until(lambda: issuing_reason() == "True/DoesNotExist", timeout=30)
    result = serve.certsmith("renew", "--all", "-n", ns)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"certsmith renew: Certificate {ns}/web is already being issued "
        "(Issuing=True, reason DoesNotExist)\n"
    )
    assert issuing_reason() == "True/DoesNotExist"
    missing = serve.certsmith("renew", "nope", "-n", ns)
    assert missing.returncode == 1
    assert missing.stderr.count("\n") == 1
    assert "not found" in missing.stderr


def test_create_certificaterequest_fetches_a_certificate_for_the_local_key(
    deployment: Deployment, namespace: str, tmp_path: Path
) -> None:
    serve, ns = deployment.serve, namespace
    manifest = tmp_path / "web.yaml"
    manifest.write_text(CERTIFICATE_YAML)
    key_file, cert_file = tmp_path / "out" / "my.key", tmp_path / "out" / "my.crt"
    key_file.parent.mkdir()
    start = time.monotonic()
    result = serve.certsmith(
        "create", "certificaterequest", "my-cr", "--from-certificate-file", str(manifest),
        "-n", ns, "--fetch-certificate", "--timeout", "1m",
        "--output-key-file", str(key_file), "--output-certificate-file", str(cert_file),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    TIMINGS.setdefault("certsmith create cr --fetch-certificate", []).append(elapsed(start))
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"Private key written to file {key_file}",
        f"CertificateRequest my-cr has been created in namespace {ns}",
        f"CertificateRequest my-cr in namespace {ns} has not been signed yet. "
        "Wait until it is signed...",
        f"CertificateRequest my-cr in namespace {ns} has been signed",
        f"Certificate written to file {cert_file}",
    ]
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert key_file.read_bytes().startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert openssl("verify", "-CAfile", tmp_path / "ca.crt", cert_file).strip().endswith(": OK")
    assert openssl("x509", "-noout", "-pubkey", "-in", cert_file) == openssl(
        "pkey", "-pubout", "-in", key_file
    )
    cr = serve.get("cr", "my-cr", ns)
    assert cr["spec"]["issuerRef"] == {"name": "ca-issuer", "kind": "Issuer",
                                       "group": "cert-manager.io"}  # fmt: skip
    assert condition(serve.get("cr", "my-cr", ns), "Ready") is not None
    assert serve.list("certificate", ns) == []  # only a template: no Certificate was created


def test_create_certificaterequest_stops_at_a_failed_request(
    deployment: Deployment, namespace: str, tmp_path: Path
) -> None:
    # A SelfSigned request needs the private-key-secret-name annotation, which a local key
    # cannot have: the request fails for good (SPEC §12 behaviour 7), and the command says so.
    serve, ns = deployment.serve, namespace
    manifest = tmp_path / "self.yaml"
    manifest.write_text(CERTIFICATE_YAML.replace("name: ca-issuer", "name: selfsigned"))
    start = time.monotonic()
    result = serve.certsmith(
        "create", "cr", "self", "--from-certificate-file", str(manifest), "-n", ns,
        "--fetch-certificate", "--output-key-file", str(tmp_path / "self.key"),
        "--output-certificate-file", str(tmp_path / "self.crt"),
    )  # fmt: skip
    assert result.returncode == 1
    assert elapsed(start) < 30
    last = result.stderr.splitlines()[-1]
    assert last.startswith(
        f"certsmith create certificaterequest: CertificateRequest {ns}/self will not be signed: "
        'Failed: Annotation "cert-manager.io/private-key-secret-name" missing'
    ), result.stderr
    assert not (tmp_path / "self.crt").exists()
    assert (tmp_path / "self.key").exists()
