"""Helpers of the ACME end-to-end tests: certsmith serve wired to a real pebble, manifests."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import http.server
import subprocess
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tests.e2e.procs import Deployment, Mode, Serve
from tests.peers.arishim import AriShim
from tests.peers.pebble import Pebble
from tests.servertools import wait_until

NAMESPACE = "default"


@contextlib.contextmanager
def serve_for_pebble(
    root: Path, pebble: Pebble, extra_args: Sequence[str] = (), *, mode: Mode = "serve"
) -> Iterator[Serve]:
    """``certsmith serve`` answering HTTP-01 where pebble validates, self-checking through
    pebble's DNS (challtestsrv: every name is 127.0.0.1).

    With ``mode="split"`` the controllers (and the HTTP-01 listener) run in a separate
    ``certsmith controller`` process against ``serve --controllers=none``, as the install
    manifests' ServiceAccount (:class:`~tests.e2e.procs.ManifestInstall`).
    """
    root.mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(exist_ok=True)
    args = [
        f"--acme-http01-listen=127.0.0.1:{pebble.http_port}",
        f"--acme-http01-solver-nameservers={pebble.dns_server}",
        f"--acme-http01-self-check-port={pebble.http_port}",
        *extra_args,
    ]
    deployment = Deployment(mode, root, args)
    try:
        deployment.start()
        yield deployment.serve
    except BaseException:
        print(f"certsmith log: {deployment.controllers.log()[-20000:]}")
        raise
    finally:
        deployment.stop()
    # Split mode: the manifests' RBAC allowed every call the controller made (see deployed()).
    assert deployment.rbac_denials() == [], "\n".join(deployment.rbac_denials())


def acme_issuer(
    name: str,
    pebble: Pebble,
    *,
    solvers: list[dict[str, Any]] | None = None,
    email: str = "ops@example.test",
    **extra: Any,
) -> dict[str, Any]:
    """An Issuer for ``pebble`` with an HTTP-01 solver unless ``solvers`` says otherwise."""
    spec: dict[str, Any] = {
        "server": pebble.directory_url,
        "caBundle": base64.b64encode(pebble.ca_bundle).decode(),
        "email": email,
        "privateKeySecretRef": {"name": f"{name}-account"},
        "solvers": solvers if solvers is not None else [{"http01": {"ingress": {}}}],
        **extra,
    }
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Issuer",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"acme": spec},
    }


def certificate(name: str, issuer: str, dns_names: list[str], **extra: Any) -> dict[str, Any]:
    """A Certificate for ``dns_names`` from the Issuer ``issuer``."""
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "secretName": f"{name}-tls",
            "dnsNames": dns_names,
            "issuerRef": {"name": issuer},
            **extra,
        },
    }


def condition(obj: dict[str, Any], type_: str = "Ready") -> dict[str, Any]:
    """The object's condition of ``type_`` (empty when absent)."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return dict(cond)
    return {}


def wait_ready(serve: Serve, kind: str, name: str, timeout: float = 90) -> dict[str, Any]:
    """Wait until ``kind/name`` has Ready=True; returns the object."""
    found: dict[str, Any] = {}

    def ready() -> bool:
        found.update(serve.get(kind, name, NAMESPACE))
        return condition(found).get("status") == "True"

    try:
        wait_until(ready, timeout=timeout)
    except AssertionError:
        raise AssertionError(f"{kind}/{name} not Ready: {found.get('status')}") from None
    return found


def openssl_verify(root_pem: bytes, chain_pem: bytes, work: Path) -> str:
    """``openssl verify`` of the chain's leaf against ``root_pem`` with the rest untrusted."""
    root = work / "root.pem"
    chain = work / "chain.pem"
    root.write_bytes(root_pem)
    chain.write_bytes(chain_pem)
    result = subprocess.run(
        ["openssl", "verify", "-CAfile", str(root), "-untrusted", str(chain), str(chain)],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout + result.stderr


def secret_data(serve: Serve, name: str, key: str) -> bytes:
    """One decoded entry of a Secret."""
    secret = serve.get("secret", name, NAMESPACE)
    return base64.b64decode(secret["data"][key])


@contextlib.contextmanager
def static_http_server(port: int, body: bytes) -> Iterator[None]:
    """A plain-HTTP server on 127.0.0.1:``port`` answering 200 ``body`` to every GET.

    It runs in a thread, so the blocking waits of the e2e tests do not stall it.
    """

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def ari_shim_thread(pebble: Pebble) -> Iterator[AriShim]:
    """The ARI shim in front of ``pebble``, on its own event loop in a thread.

    The e2e tests wait by blocking (kubectl polls), which would stall a shim on the test's loop.
    """
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, AriShim] = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        shim = AriShim(pebble)
        loop.run_until_complete(shim.start())
        holder["shim"] = shim
        started.set()
        loop.run_forever()
        loop.run_until_complete(shim.stop())
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    if not started.wait(20):
        raise AssertionError("the ARI shim did not start")
    try:
        yield holder["shim"]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(20)
