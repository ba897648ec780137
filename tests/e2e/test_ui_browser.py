"""The ``/ui`` web view in a real browser: Debian's chromium driven by Playwright.

One ``certsmith serve`` (controllers inside) holds 50 Certificates in known states, made the way
users make them (``kubectl apply``, ``certsmith deny``):

- Ready: 24 from namespaced CA Issuers (30, 60 and 90 days), 3 from a CA ClusterIssuer;
- Expiring soon: 8 Ready ones with durations of 1h, 24h and 100h (under the 7-day threshold);
- Not ready: 7 whose Issuer does not exist, 3 whose requests wait for approval (the ``hsm``
  Issuer is left out of ``--approve-signer-names``);
- Failed: 5 for the ``hsm`` Issuer whose request was denied.

The browser presents the admin kubeconfig's client certificate (one test: a viewer's certificate
bundled as PKCS#12, docs/ui.md's recipe), so the pages go through the API's authentication and
RBAC like any request.
Screenshots go to the test's tmp_path; with ``CERTSMITH_UPDATE_SCREENSHOTS=1`` they also replace
``docs/images/ui-*.png``.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.procs import Serve, condition
from tests.servertools import ClientCredentials, credentials, kubectl_path, wait_until

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
IMAGES = REPO / "docs" / "images"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

NAMESPACES = ("shop", "payments", "platform", "team-a")
HSM_REF = {"name": "hsm", "kind": "Issuer"}
"""A Ready CA Issuer whose signer the approver may not approve: requests wait for a human."""
APPROVED_SIGNERS = ",".join(
    [
        f"issuers.cert-manager.io/{ns}.{name}"
        for ns in NAMESPACES
        for name in ("ca-issuer", "retired-issuer")
    ]
    + ["clusterissuers.cert-manager.io/*"]
)
DENIAL = "keys for this zone live in the HSM team's issuer"
HOSTILE = '<img src=x onerror="alert(1)">&amp;'


UI_VIEWER_RBAC = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: certsmith-ui-viewer
rules:
  - nonResourceURLs: ["/ui", "/ui/*"]
    verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: certsmith-ui-viewer
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: certsmith-ui-viewer
subjects:
  - apiGroup: rbac.authorization.k8s.io
    kind: Group
    name: certsmith-ui-viewers
"""
"""The grant docs/ui.md documents for people who may open the view."""


def openssl(*args: str | Path) -> None:
    result = subprocess.run(
        ["openssl", *map(str, args)], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, f"openssl {args} failed:\n{result.stdout}{result.stderr}"


def certificate(
    namespace: str,
    name: str,
    issuer_ref: dict[str, str],
    *,
    duration: str | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "secretName": f"{name}-tls",
        "dnsNames": [f"{name}.{namespace}.example.com"],
        "privateKey": {"algorithm": "ECDSA"},  # fast keys: 50 of them on a shared machine
        "issuerRef": issuer_ref,
    }
    if duration:
        spec["duration"] = duration
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": metadata,
        "spec": spec,
    }


def issuer(namespace: str | None, name: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Issuer" if namespace else "ClusterIssuer",
        "metadata": metadata,
        "spec": {"ca": {"secretName": "ca-key-pair"}},
    }


EXPECTED = {"ready": 27, "expiring-soon": 8, "not-ready": 10, "failed": 5, "expired": 0}


def population() -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """The 50 Certificates, and (namespace, name) of those whose request gets denied."""
    certs: list[dict[str, Any]] = []
    ca = {"name": "ca-issuer", "kind": "Issuer"}
    ready_names = ["web", "api", "grpc", "admin", "static", "search"]
    for index in range(24):
        ns = NAMESPACES[index % 4]
        name = f"{ready_names[index // 4]}-{index % 4 + 1}"
        duration = ("2160h", "720h", "1440h")[index % 3]
        annotations = {"certsmith.example/owner": HOSTILE} if index == 0 else None
        certs.append(certificate(ns, name, ca, duration=duration, annotations=annotations))
    for index in range(3):
        certs.append(
            certificate(
                NAMESPACES[index],
                f"wildcard-{index + 1}",
                {"name": "org-ca", "kind": "ClusterIssuer"},
            )
        )
    for index, duration in enumerate(("1h", "1h", "1h", "24h", "24h", "100h", "100h", "100h")):
        certs.append(
            certificate(NAMESPACES[index % 4], f"short-{index + 1}", ca, duration=duration)
        )
    for index in range(7):
        certs.append(
            certificate(
                NAMESPACES[index % 4],
                f"legacy-{index + 1}",
                {"name": "retired-issuer", "kind": "Issuer"},
            )
        )
    for index in range(3):
        certs.append(certificate("payments", f"hsm-pending-{index + 1}", HSM_REF))
    denied = []
    for index in range(5):
        ns = NAMESPACES[index % 4]
        certs.append(certificate(ns, f"hsm-denied-{index + 1}", HSM_REF))
        denied.append((ns, f"hsm-denied-{index + 1}"))
    assert len(certs) == 50
    return certs, denied


def kube_list(items: list[dict[str, Any]]) -> str:
    """One YAML stream of documents, as ``kubectl apply -f`` takes a directory of manifests."""
    return yaml.safe_dump_all(items)


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    if not kubectl_path().exists():
        pytest.skip("pinned kubectl is not installed")
    root = tmp_path_factory.mktemp("ui")
    data = root / "data"
    data.mkdir()
    # A user with a token but no RBAC grant, to check that /ui is behind authorization.
    # Token users: one in the viewers' group, one in no group (tokens authenticate; RBAC decides).
    (data / "tokens.csv").write_text(
        'viewer-token-0123456789,viewer,uid-viewer,"certsmith-ui-viewers"\n'
        "nobody-token-0123456789,nobody,uid-nobody\n"
    )
    server = Serve(data, root, [f"--approve-signer-names={APPROVED_SIGNERS}"])
    server.start()
    try:
        populate(server, root)
        yield server
    finally:
        server.stop()


def populate(server: Serve, root: Path) -> None:
    openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", root / "ca.key", "-out", root / "ca.crt", "-days", "365",
        "-subj", "/CN=certsmith UI test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    for ns in (*NAMESPACES, "cert-manager"):
        server.kubectl("create", "namespace", ns)
        server.kubectl("create", "secret", "tls", "ca-key-pair", f"--cert={root / 'ca.crt'}",
                       f"--key={root / 'ca.key'}", "-n", ns)  # fmt: skip
    issuers = [issuer(ns, name) for ns in NAMESPACES for name in ("ca-issuer", "hsm")]
    issuers.append(issuer(None, "org-ca"))
    server.kubectl("apply", "-f", "-", input_text=kube_list(issuers))
    server.kubectl("wait", "--for=condition=Ready", "clusterissuer/org-ca", "--timeout=30s")
    certs, denied = population()
    server.kubectl("apply", "-f", "-", input_text=kube_list(certs))

    def request_exists(ns: str, name: str) -> bool:
        return server.kubectl("get", "cr", name, "-n", ns, check=False).returncode == 0

    for ns, name in denied:
        wait_until(functools.partial(request_exists, ns, f"{name}-1"), timeout=60)
        result = server.certsmith(
            "deny", f"{name}-1", "-n", ns, "--reason", "Policy", "--message", DENIAL
        )
        assert result.returncode == 0, result.stderr

    def settled() -> bool:
        objs = server.list("certificate")
        ready = [o for o in objs if (condition(o, "Ready") or {}).get("status") == "True"]
        failed = [o for o in objs if (o.get("status") or {}).get("failedIssuanceAttempts")]
        return len(ready) == 35 and len(failed) == 5

    wait_until(settled, timeout=180, interval=1.0)


@pytest.fixture(scope="module")
def creds(serve: Serve, tmp_path_factory: pytest.TempPathFactory) -> ClientCredentials:
    return credentials(serve.kubeconfig, tmp_path_factory.mktemp("creds"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (scripts/install.sh installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Debian's chromium, not a downloaded one: the test runs offline.
        launched = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any, serve: Serve, creds: ClientCredentials) -> Iterator[Any]:
    context = browser.new_context(
        client_certificates=[
            {
                "origin": f"https://127.0.0.1:{serve.port}",
                "certPath": str(creds.cert_file),
                "keyPath": str(creds.key_file),
            }
        ],
        # The server's CA is the data dir's own; the browser has no trust store entry for it.
        ignore_https_errors=True,
        viewport={"width": 1440, "height": 900},
    )
    try:
        yield context.new_page()
    finally:
        context.close()


def screenshot(page: Any, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    if os.environ.get("CERTSMITH_UPDATE_SCREENSHOTS") == "1":
        IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, IMAGES / f"{name}.png")
    return path


def test_inventory_counts_every_state_and_lists_all_50(
    page: Any, serve: Serve, tmp_path: Path
) -> None:
    page.goto(f"https://127.0.0.1:{serve.port}/ui/")
    assert page.locator("#inventory tbody tr").count() == 50
    for slug, count in EXPECTED.items():
        chip = page.locator(f'.summary a[data-state="{slug}"] strong')
        assert chip.inner_text() == str(count), slug
        assert page.locator(f'#inventory tr[data-state="{slug}"]').count() == count, slug
    denied_row = page.locator('#inventory tr[data-name="hsm-denied-1"]')
    assert "Failed" in denied_row.inner_text()
    assert "Request denied" in denied_row.inner_text()
    pending_row = page.locator('#inventory tr[data-name="hsm-pending-1"]')
    assert "Waiting for approval" in pending_row.inner_text()
    assert "Issuer/hsm" in denied_row.inner_text()
    legacy_row = page.locator('#inventory tr[data-name="legacy-1"]')
    assert "Not ready" in legacy_row.inner_text()
    assert "Issuer/retired-issuer" in legacy_row.inner_text()
    assert "Issuer not found" in legacy_row.inner_text()
    assert page.locator("svg[role=img]").count() == 3
    screenshot(page, tmp_path, "ui-inventory")


def test_inventory_filters_by_query_parameters(page: Any, serve: Serve) -> None:
    base = f"https://127.0.0.1:{serve.port}/ui/"
    page.goto(base + "?state=failed")
    names = page.locator("#inventory tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.name)"
    )
    assert sorted(names) == [f"hsm-denied-{i}" for i in range(1, 6)]
    page.goto(base + "?namespace=payments&issuer=Issuer/hsm")
    namespaces = set(
        page.locator("#inventory tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.namespace)"
        )
    )
    assert namespaces == {"payments"}
    assert page.locator("#inventory tbody tr").count() == 4  # 3 pending + hsm-denied-2
    page.goto(base + "?q=short-")
    assert page.locator("#inventory tbody tr").count() == 8
    assert page.locator('.summary a[data-state="expiring-soon"] strong').inner_text() == "8"


def test_form_filters_without_javascript(browser: Any, serve: Serve, creds: ClientCredentials):
    context = browser.new_context(
        java_script_enabled=False,
        ignore_https_errors=True,
        client_certificates=[
            {
                "origin": f"https://127.0.0.1:{serve.port}",
                "certPath": str(creds.cert_file),
                "keyPath": str(creds.key_file),
            }
        ],
    )
    try:
        page = context.new_page()
        page.goto(f"https://127.0.0.1:{serve.port}/ui/")
        page.select_option("select[name=state]", "not-ready")
        page.click("form.filters button[type=submit]")
        page.wait_for_url(re.compile(r"state=not-ready"))
        assert page.locator("#inventory tbody tr").count() == EXPECTED["not-ready"]
    finally:
        context.close()


def test_drill_down_shows_the_chain_of_a_failed_certificate(
    page: Any, serve: Serve, tmp_path: Path
) -> None:
    page.goto(f"https://127.0.0.1:{serve.port}/ui/?state=failed")
    page.click('#inventory tr[data-name="hsm-denied-1"] a')
    page.wait_for_url(re.compile(r"/ui/certificates/shop/hsm-denied-1$"))
    text = page.locator("main").inner_text()
    assert "Failed" in text
    assert "Issuer/hsm" in text
    assert DENIAL in text
    assert "Denied" in page.locator("#request").inner_text()
    assert "hsm-denied-1-1" in page.locator("#request").inner_text()
    assert "denied" in page.locator("#root-cause").inner_text().lower()
    assert page.locator("#events tbody tr").count() > 0  # the view may read Events
    screenshot(page, tmp_path, "ui-certificate-failed")


def test_drill_down_of_a_ready_certificate_escapes_a_hostile_annotation(
    page: Any, serve: Serve, tmp_path: Path
) -> None:
    page.goto(f"https://127.0.0.1:{serve.port}/ui/certificates/shop/web-1")
    text = page.locator("main").inner_text()
    assert "Ready" in text
    assert "web-1-tls" in text
    assert "web-1.shop.example.com" in text
    assert HOSTILE in text  # shown as text...
    assert page.locator("main img").count() == 0  # ...never as markup
    screenshot(page, tmp_path, "ui-certificate")


@pytest.fixture(scope="module")
def viewers_granted(serve: Serve) -> None:
    """The documented grant: group ``certsmith-ui-viewers`` may GET /ui and /ui/*."""
    serve.kubectl("apply", "-f", "-", input_text=UI_VIEWER_RBAC)


def test_ui_needs_authentication_and_an_rbac_grant(
    serve: Serve, creds: ClientCredentials, viewers_granted: None
) -> None:
    base = f"https://127.0.0.1:{serve.port}"
    viewer = {"Authorization": "Bearer viewer-token-0123456789"}
    nobody = {"Authorization": "Bearer nobody-token-0123456789"}
    with httpx.Client(base_url=base, verify=ssl.create_default_context(cafile=creds.ca_file)) as c:
        assert c.get("/ui/").status_code == 401
        assert c.get("/ui/", headers=nobody).status_code == 403
        assert c.get("/ui/certificates/shop/web-1", headers=nobody).status_code == 403
        wait_until(lambda: c.get("/ui/", headers=viewer).status_code == 200, timeout=15)
        page = c.get("/ui/certificates/shop/web-1", headers=viewer)
        assert page.status_code == 200
        assert "web-1-tls" in page.text
        # The view grants no API access of its own.
        api = c.get("/apis/cert-manager.io/v1/certificates", headers=viewer)
        assert api.status_code == 403


def test_a_viewer_certificate_imported_as_pkcs12_opens_the_ui(
    browser: Any, serve: Serve, viewers_granted: None, tmp_path: Path
) -> None:
    """docs/ui.md's recipe: a client certificate from the data dir's CA, bundled as PKCS#12."""
    pki = serve.data_dir / "pki"
    key, csr, crt, p12 = (tmp_path / f"alice.{ext}" for ext in ("key", "csr", "crt", "p12"))
    (tmp_path / "ext.cnf").write_text("extendedKeyUsage = clientAuth\n")
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", csr, "-subj", "/O=certsmith-ui-viewers/CN=alice")  # fmt: skip
    openssl("x509", "-req", "-in", csr, "-CA", pki / "ca.crt", "-CAkey", pki / "ca.key",
            "-days", "30", "-extfile", tmp_path / "ext.cnf", "-out", crt)  # fmt: skip
    openssl("pkcs12", "-export", "-inkey", key, "-in", crt, "-name", "certsmith UI (alice)",
            "-out", p12, "-passout", "pass:import-me")  # fmt: skip
    context = browser.new_context(
        client_certificates=[
            {
                "origin": f"https://127.0.0.1:{serve.port}",
                "pfxPath": str(p12),
                "passphrase": "import-me",
            }
        ],
        ignore_https_errors=True,
    )
    try:
        page = context.new_page()
        response = page.goto(f"https://127.0.0.1:{serve.port}/ui/")
        assert response is not None
        assert response.status == 200
        assert page.locator("#inventory tbody tr").count() == 50
    finally:
        context.close()


def test_kubectl_proxy_serves_the_ui_with_the_kubeconfig_credentials(serve: Serve) -> None:
    proxy = subprocess.Popen(
        [str(kubectl_path()), "proxy", "--port=0", f"--kubeconfig={serve.kubeconfig}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "HOME": str(serve.cache_dir)},
    )
    try:
        assert proxy.stdout is not None
        line = proxy.stdout.readline()
        match = re.search(r"127\.0\.0\.1:(\d+)", line)
        assert match, line
        response = httpx.get(f"http://127.0.0.1:{match.group(1)}/ui/?state=failed", timeout=30)
        assert response.status_code == 200
        assert response.text.count('data-state="failed"') == 5 + 1  # rows + summary chip
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)
        if proxy.stdout is not None:
            proxy.stdout.close()
