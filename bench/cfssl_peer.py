"""The Go CA ``cfssl serve`` (Debian ``golang-cfssl``) as scenario 1's peer.

It signs with a P-256 CA like certsmith's CA Issuer in scenario 1 and serves HTTPS (``-tls-cert``)
so both sides pay for TLS; the same client processes POST the same kind of P-256 CSRs to
``/api/v1/cfssl/sign``. cfssl keeps nothing: no store, no approval, no watch, so the ratio
compares certsmith's whole request path with a bare signing endpoint.
"""

from __future__ import annotations

import base64
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from apiserver_bench import free_port
from certificates_bench import ca_secret
from suitelib import start_posting

from certsmith.apiserver.tls import ensure_pki


def cfssl_binary() -> str | None:
    return shutil.which("cfssl")


@dataclass
class CfsslRun:
    rate: float
    seconds: float
    count: int


def run_cfssl(binary: str, directory: Path, count: int, clients: int) -> CfsslRun:
    """Start ``cfssl serve``, sign ``count`` CSRs from ``clients`` processes, stop it."""
    directory.mkdir(parents=True, exist_ok=True)
    secret = ca_secret()["data"]
    (directory / "ca.pem").write_bytes(base64.b64decode(secret["tls.crt"]))
    (directory / "ca-key.pem").write_bytes(base64.b64decode(secret["tls.key"]))
    # The serving certificate for 127.0.0.1 comes from certsmith's own server PKI helper.
    pki = ensure_pki(directory / "tls", "127.0.0.1")
    shutil.copyfile(pki.ca_cert, directory / "ca.crt")  # what the client processes trust
    port = free_port()
    command = [binary, "serve", "-address", "127.0.0.1", "-port", str(port)]
    command += ["-ca", str(directory / "ca.pem"), "-ca-key", str(directory / "ca-key.pem")]
    command += ["-tls-cert", str(pki.serving_cert), "-tls-key", str(pki.serving_key)]
    command += ["-loglevel", "5"]
    log = (directory / "cfssl.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"cfssl serve did not start: {(directory / 'cfssl.log').read_text()}"
                    ) from None
                time.sleep(0.02)
        names = [f"cfssl-{i:06}" for i in range(count)]
        url = f"https://127.0.0.1:{port}"
        posting = start_posting(url, "/api/v1/cfssl/sign", "cfssl", names, clients, directory, 200)
        start = posting.go()
        sent = posting.results()
        seconds = max(done for _, done in sent.values()) - start
        return CfsslRun(count / seconds, seconds, count)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
