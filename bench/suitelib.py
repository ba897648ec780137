"""Shared pieces of the issue 9 benchmark suite (``bench/suite.py``).

* :class:`Row`: one line of the suite's table (scenario, figure, target, pass/miss, peer ratio).
* :func:`start_serve`: a ``certsmith serve`` subprocess, timed until its kubeconfig exists and
  ``/readyz`` answers 200 (scenario 9 uses the same function as every other scenario).
* :func:`post_in_processes`: N POSTs spread over P client *processes* (``http.client``,
  keep-alive), so the clients' CPU is not the benchmark process's event loop.
* :func:`watch_lines`: one watch stream's events as parsed JSON, resumed on timeouts.
"""

from __future__ import annotations

import base64
import http.client
import json
import multiprocessing
import os
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from apiserver_bench import Server, free_port, serve_command, stop_server
from certificates_bench import certificate
from tests.servertools import credentials


@dataclass
class Row:
    """One scenario figure of the suite's table.

    ``status`` is ``measured``, ``missing`` (a peer or a scenario module is not installed) or
    ``failed`` (it ran and broke; ``detail`` says how). ``passed`` is ``None`` when there is no
    target to compare with.
    """

    scenario: str
    name: str
    figure: float | None
    unit: str
    target: str = ""
    passed: bool | None = None
    ratio: str = ""
    detail: str = ""
    status: str = "measured"
    samples: list[float] = field(default_factory=list)


def at_least(figure: float, goal: float) -> bool:
    return figure >= goal


def at_most(figure: float, goal: float) -> bool:
    return figure <= goal


def missing(scenario: str, name: str, target: str, why: str) -> Row:
    return Row(scenario, name, None, "", target, None, "", why, status="missing")


def failed(scenario: str, name: str, target: str, why: str) -> Row:
    return Row(scenario, name, None, "", target, False, "", why, status="failed")


# --- certsmith serve -----------------------------------------------------------------------


@dataclass
class Started:
    """A running serve and how long it took to come up (seconds from ``Popen``)."""

    server: Server
    kubeconfig_seconds: float
    ready_seconds: float
    log: Path


def readyz(port: int) -> int:
    """The status of ``GET /readyz`` (public path), or 0 when nothing answers yet."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # a probe: the CA is only known once the kubeconfig exists
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=5)
    try:
        conn.request("GET", "/readyz")
        return conn.getresponse().status
    except OSError:
        return 0
    finally:
        conn.close()


def client_context(data_dir: Path, kubeconfig: Path) -> tuple[str, ssl.SSLContext, Path]:
    """The server URL, a TLS context with the admin's client certificate, and its files' dir."""
    files = data_dir.parent / f"{data_dir.name}-client"
    creds = credentials(kubeconfig, files)
    return creds.server, creds.ssl_context(), files


def start_serve(
    data_dir: Path, log: Path, *, controllers: str = "*", port: int | None = None
) -> Started:
    """Start ``certsmith serve``; return once the kubeconfig exists and ``/readyz`` is 200.

    On a restart the kubeconfig is already there, so "written" is a kubeconfig whose mtime is
    after the start.
    """
    port = port or free_port()
    kubeconfig = data_dir / "kubeconfig"
    before = kubeconfig.stat().st_mtime if kubeconfig.exists() else 0.0
    command = [*serve_command(), "serve", "--data-dir", str(data_dir)]
    command += ["--listen", f"127.0.0.1:{port}", f"--controllers={controllers}"]
    # An installed certsmith has its bytecode compiled; this environment may set
    # PYTHONDONTWRITEBYTECODE, which would make every start compile the sources again (~1 s).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with log.open("ab") as out:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    written = ready = 0.0
    deadline = start + 120
    while not (written and ready):
        if process.poll() is not None or time.perf_counter() > deadline:
            process.kill()
            raise RuntimeError(f"certsmith serve did not get ready:\n{log.read_text()[-4000:]}")
        if not written and kubeconfig.exists() and kubeconfig.stat().st_mtime > before:
            written = time.perf_counter() - start
        if not ready and readyz(port) == 200:
            ready = time.perf_counter() - start
        if not (written and ready):
            time.sleep(0.005)
    url, ctx, _ = client_context(data_dir, kubeconfig)
    return Started(Server(process, kubeconfig, url, ctx), written, ready, log)


stop_serve = stop_server


def load_average() -> list[float]:
    return [round(load, 2) for load in os.getloadavg()]


# --- objects -------------------------------------------------------------------------------


def p256_csr_pem(name: str) -> bytes:
    """A fresh P-256 key's CSR for ``name`` (PEM); the key is thrown away."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM)


def cert_request_body(name: str, csr_pem: bytes) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "CertificateRequest",
        "metadata": {"name": name},
        "spec": {
            "request": base64.b64encode(csr_pem).decode(),
            "usages": ["digital signature", "server auth"],
            "duration": "2160h",
            "issuerRef": {"name": "ca-issuer", "kind": "Issuer", "group": "cert-manager.io"},
        },
    }


def certificate_body(name: str) -> dict[str, Any]:
    """certificates_bench's ECDSA P-256 Certificate; ``name`` ends in its index (``c-00042``)."""
    return certificate(int(name.rpartition("-")[2]), "ECDSA", 256)


def cfssl_body(_name: str, csr_pem: bytes) -> dict[str, Any]:
    return {"certificate_request": csr_pem.decode()}


# --- client processes ----------------------------------------------------------------------


@dataclass(frozen=True)
class PostJob:
    """What one client process POSTs: ``names`` to ``path`` with bodies from ``kind``."""

    host: str
    port: int
    path: str
    kind: str  # "cr", "cfssl" or "certificate"
    names: tuple[str, ...]
    files: str  # directory with ca.crt (and client.crt/client.key when mutual TLS)
    expect: int


BODIES: dict[str, Callable[[str], dict[str, Any]]] = {
    "cr": lambda name: cert_request_body(name, p256_csr_pem(f"{name}.bench.example.com")),
    "cfssl": lambda name: cfssl_body(name, p256_csr_pem(f"{name}.bench.example.com")),
    "certificate": certificate_body,
}


def _post_worker(job: PostJob, ready: Any, go: Any, out: Any) -> None:
    """Client process: make the bodies, say ready, wait for ``go``, POST them one by one."""
    try:
        bodies = [json.dumps(BODIES[job.kind](name)).encode() for name in job.names]
        files = Path(job.files)
        ctx = ssl.create_default_context(cafile=str(files / "ca.crt"))
        if (files / "client.crt").exists():
            ctx.load_cert_chain(files / "client.crt", files / "client.key")
        conn = http.client.HTTPSConnection(job.host, job.port, context=ctx, timeout=600)
        headers = {"Content-Type": "application/json"}
        ready.release()
        go.wait()
        sent: list[tuple[str, float, float]] = []
        for name, body in zip(job.names, bodies, strict=True):
            start = time.perf_counter()
            conn.request("POST", job.path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            if response.status != job.expect:
                raise RuntimeError(f"POST {job.path} {name}: {response.status} {data[:300]!r}")
            if job.kind == "cfssl" and not json.loads(data).get("success"):
                raise RuntimeError(f"cfssl sign {name}: {data[:300]!r}")
            sent.append((name, start, time.perf_counter()))
        conn.close()
        out.put(("ok", sent))
    except Exception as err:
        ready.release()
        out.put(("error", f"{type(err).__name__}: {err}"))


@dataclass
class Posting:
    """Client processes that have made their bodies and wait for :meth:`go`."""

    processes: list[Any]
    go_event: Any
    out: Any

    def go(self) -> float:
        start = time.perf_counter()
        self.go_event.set()
        return start

    def results(self) -> dict[str, tuple[float, float]]:
        """Wait for every process; name -> (POST sent, response read), perf_counter seconds."""
        sent: dict[str, tuple[float, float]] = {}
        errors = []
        for _ in self.processes:
            status, value = self.out.get()
            if status == "ok":
                sent.update({name: (a, b) for name, a, b in value})
            else:
                errors.append(value)
        for process in self.processes:
            process.join()
        if errors:
            raise RuntimeError("; ".join(errors))
        return sent


def start_posting(
    url: str, path: str, kind: str, names: Sequence[str], clients: int, files: Path, expect: int
) -> Posting:
    """Start ``clients`` processes that POST ``names`` between them; return once all are set."""
    mp = multiprocessing.get_context("spawn")
    host, _, port = url.removeprefix("https://").partition(":")
    ready = mp.Semaphore(0)
    go = mp.Event()
    out = mp.Queue()
    processes = []
    for i in range(clients):
        job = PostJob(host, int(port), path, kind, tuple(names[i::clients]), str(files), expect)
        process = mp.Process(target=_post_worker, args=(job, ready, go, out), daemon=True)
        process.start()
        processes.append(process)
    for _ in processes:
        ready.acquire()
    return Posting(processes, go, out)


# --- watching ------------------------------------------------------------------------------


async def watch_lines(
    client: httpx.AsyncClient, path: str, resource_version: str
) -> AsyncIterator[dict[str, Any]]:
    """Events of a watch on ``path`` from ``resource_version``, resumed when a stream ends."""
    while True:
        params = {"watch": "1", "resourceVersion": resource_version, "timeoutSeconds": "3600"}
        async with client.stream("GET", path, params=params) as stream:
            if stream.status_code != 200:
                await stream.aread()
                raise RuntimeError(f"watch {path}: {stream.status_code} {stream.text[:300]}")
            async for line in stream.aiter_lines():
                if line:
                    event: dict[str, Any] = json.loads(line)
                    resource_version = event["object"]["metadata"].get(
                        "resourceVersion", resource_version
                    )
                    yield event


async def list_version(client: httpx.AsyncClient, path: str) -> str:
    """The resourceVersion of a list of ``path`` (a watch from it sees every later write)."""
    listed = await client.get(path, params={"limit": "1"})
    if listed.status_code != 200:
        raise RuntimeError(f"list {path}: {listed.status_code} {listed.text[:300]}")
    return str(listed.json()["metadata"]["resourceVersion"])


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]
