"""API server throughput over real HTTPS against a ``certsmith serve`` subprocess.

Measures, with N concurrent httpx clients (HTTP/1.1 keep-alive) in this process: create rate
(ConfigMaps, and CertificateRequests carrying one pre-made P-256 CSR), get rate, one list of
all CertificateRequests as JSON and as a Table, ``kubectl get certificaterequests -A`` with the
pinned kubectl, watch delivery to W watchers of a burst of writes, and the server's RSS
(VmRSS now, VmHWM peak, from /proc/<pid>/status). The controllers are off (``--controllers=none``)
so the figures are the API server's alone.

Run: ``.venv/bin/python bench/apiserver_bench.py [--objects 10000] [--clients 16]``. Results go
to ``bench/results/<date>-apiserver.json`` with the machine's facts. ``--profile`` runs the
server under cProfile and prints its hottest functions.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import json
import os
import platform
import pstats
import random
import signal
import socket
import sqlite3
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
NAMESPACES = 10
CRS = "/apis/cert-manager.io/v1/namespaces/{ns}/certificaterequests"
ALL_CRS = "/apis/cert-manager.io/v1/certificaterequests"
CONFIGMAPS = "/api/v1/namespaces/{ns}/configmaps"


@dataclass
class Result:
    scenario: str
    figure: float
    unit: str
    detail: str = ""


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)

    def add(self, scenario: str, figure: float, unit: str, detail: str = "") -> None:
        result = Result(scenario, figure, unit, detail)
        self.results.append(result)
        print(f"{scenario:<52} {figure:>12,.1f} {unit:<10} {detail}", flush=True)


# --- the server ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    kubeconfig: Path
    base_url: str
    ssl_context: ssl.SSLContext

    def memory(self) -> dict[str, int]:
        """VmRSS and VmHWM in KiB: of serve with its controller child (the sums, an upper
        bound of their joint peak), and ``serve.*`` / ``controllers.*`` for each process."""
        facts: dict[str, int] = {"VmRSS": 0, "VmHWM": 0}
        for pid in process_tree(self.process.pid):
            role = "serve" if pid == self.process.pid else "controllers"
            for key, kib in process_memory(pid).items():
                facts[key] += kib
                facts[f"{role}.{key}"] = facts.get(f"{role}.{key}", 0) + kib
        return facts


def process_memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of one process, in KiB (empty once it is gone)."""
    facts: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return facts
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            facts[key] = int(value.split()[0])
    return facts


def process_tree(pid: int) -> list[int]:
    """``pid`` and its live descendants (serve's controller child), from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(parents.get(current, []))
    return tree


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and its descendants, live or reaped, in seconds."""
    total = 0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        # fields[0] is field 3 (state); utime, stime, cutime, cstime are fields 14-17.
        total += sum(int(f) for f in fields[11:15])
    return total / os.sysconf("SC_CLK_TCK")


def serve_command() -> list[str]:
    """``certsmith``, or the wrapper named by ``CERTSMITH_BENCH_SERVE`` (split on spaces).

    The wrapper runs in place of the entry point: a script that counts the API requests or
    samples the process, then calls ``certsmith.cli.main.main``.
    """
    wrapper = os.environ.get("CERTSMITH_BENCH_SERVE")
    return wrapper.split() if wrapper else [str(BIN / "certsmith")]


def start_server(
    data_dir: Path, log: Path, profile: Path | None, controllers: str = "none"
) -> Server:
    """Start ``certsmith serve`` (controllers off unless asked) and wait for its kubeconfig."""
    port = free_port()
    serve = ["serve", "--data-dir", str(data_dir), "--listen", f"127.0.0.1:{port}"]
    serve.append(f"--controllers={controllers}")
    if profile is not None:
        command = [sys.executable, "-m", "cProfile", "-o", str(profile)]
        command += ["-m", "certsmith.cli.main", *serve]
    else:
        command = [*serve_command(), *serve]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    kubeconfig = data_dir / "kubeconfig"
    deadline = time.monotonic() + 60
    while not kubeconfig.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"certsmith serve did not start:\n{log.read_text()}")
        time.sleep(0.05)
    config = yaml.safe_load(kubeconfig.read_text())
    cluster = config["clusters"][0]["cluster"]
    user = config["users"][0]["user"]
    files = data_dir.parent / "client"
    files.mkdir(exist_ok=True)
    for name, key in (
        ("ca.crt", cluster["certificate-authority-data"]),
        ("client.crt", user["client-certificate-data"]),
        ("client.key", user["client-key-data"]),
    ):
        (files / name).write_bytes(base64.b64decode(key))
    ctx = ssl.create_default_context(cafile=str(files / "ca.crt"))
    ctx.load_cert_chain(files / "client.crt", files / "client.key")
    return Server(process, kubeconfig, cluster["server"], ctx)


def stop_server(server: Server) -> None:
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


# --- objects -------------------------------------------------------------------------------


def p256_csr() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench.example.com")]))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("bench.example.com")]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(csr.public_bytes(serialization.Encoding.PEM)).decode()


def configmap(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"app": "bench"}},
        "data": {"note": "x" * 200},
    }


def cert_request(name: str, request: str) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "CertificateRequest",
        "metadata": {"name": name, "labels": {"app": "bench"}},
        "spec": {
            "request": request,
            "usages": ["digital signature", "key encipherment", "server auth"],
            "duration": "2160h",
            "issuerRef": {"name": "ca-issuer", "kind": "Issuer", "group": "cert-manager.io"},
        },
    }


def ns(i: int) -> str:
    return f"bench-{i % NAMESPACES}"


# --- scenarios -----------------------------------------------------------------------------


async def concurrently(clients: int, count: int, one: Callable[[int], Awaitable[None]]) -> float:
    """Run ``one(i)`` for i < count from ``clients`` workers; the seconds it took."""
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < count:
            i = next_index
            next_index += 1
            await one(i)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return time.perf_counter() - start


def expect(response: httpx.Response, code: int) -> None:
    if response.status_code != code:
        raise SystemExit(f"{response.request.method} {response.request.url}: {response.text}")


async def create_rates(
    client: httpx.AsyncClient, report: Report, objects: int, clients: int, csr: str
) -> None:
    for i in range(NAMESPACES):
        created = await client.post("/api/v1/namespaces", json={"metadata": {"name": ns(i)}})
        expect(created, 201)

    async def create_cm(i: int) -> None:
        expect(await client.post(CONFIGMAPS.format(ns=ns(i)), json=configmap(f"cm-{i:06}")), 201)

    async def create_cr(i: int) -> None:
        body = cert_request(f"cr-{i:06}", csr)
        expect(await client.post(CRS.format(ns=ns(i)), json=body), 201)

    seconds = await concurrently(clients, objects, create_cm)
    report.add("create ConfigMap", objects / seconds, "objects/s", f"{objects}, {clients} clients")
    seconds = await concurrently(clients, objects, create_cr)
    report.add(
        "create CertificateRequest (P-256 CSR)",
        objects / seconds,
        "objects/s",
        f"{objects}, {clients} clients",
    )


async def get_rate(
    client: httpx.AsyncClient, report: Report, objects: int, clients: int, gets: int
) -> None:
    rnd = random.Random(1)
    picks = [rnd.randrange(objects) for _ in range(gets)]

    async def get(i: int) -> None:
        n = picks[i]
        expect(await client.get(f"{CRS.format(ns=ns(n))}/cr-{n:06}"), 200)

    seconds = await concurrently(clients, gets, get)
    report.add("get CertificateRequest", gets / seconds, "requests/s", f"{gets}, {clients} clients")


async def list_times(client: httpx.AsyncClient, report: Report, objects: int) -> None:
    for label, headers in (("JSON", {}), ("Table", {"Accept": TABLE})):
        times = []
        for _ in range(3):
            start = time.perf_counter()
            response = await client.get(ALL_CRS, headers=headers)
            expect(response, 200)
            count = len(response.json()["items" if label == "JSON" else "rows"])
            times.append(time.perf_counter() - start)
            assert count >= objects, count
        report.add(
            f"list {objects} CertificateRequests ({label})",
            statistics.median(times) * 1000,
            "ms",
            f"median of 3, {len(response.content) / 1e6:.1f} MB",
        )


def kubectl_time(server: Server, report: Report, objects: int, cache: Path) -> None:
    kubectl = BIN / "kubectl"
    if not kubectl.exists():
        print("kubectl not installed: skipped")
        return
    env = {**os.environ, "KUBECONFIG": str(server.kubeconfig), "KUBECACHEDIR": str(cache)}
    times = []
    for _ in range(3):
        start = time.perf_counter()
        result = subprocess.run(
            [str(kubectl), "get", "certificaterequests", "-A"],
            capture_output=True,
            env=env,
            timeout=600,
            check=True,
        )
        times.append(time.perf_counter() - start)
        lines = result.stdout.count(b"\n")
        assert lines >= objects, lines
    report.add(
        f"kubectl get certificaterequests -A ({objects})",
        statistics.median(times) * 1000,
        "ms",
        f"median of 3 (first {times[0] * 1000:.0f} ms, cold discovery cache)",
    )


async def watch_rate(
    server: Server,
    client: httpx.AsyncClient,
    report: Report,
    watchers: int,
    burst: int,
    clients: int,
) -> None:
    namespace = "bench-watch"
    expect(await client.post("/api/v1/namespaces", json={"metadata": {"name": namespace}}), 201)
    listed = await client.get(CONFIGMAPS.format(ns=namespace))
    rv = listed.json()["metadata"]["resourceVersion"]
    received = [0] * watchers
    ready = [asyncio.Event() for _ in range(watchers)]
    done = asyncio.Event()

    async def watch(index: int) -> None:
        params = {"watch": "1", "resourceVersion": rv, "timeoutSeconds": "600"}
        async with (
            httpx.AsyncClient(
                base_url=server.base_url, verify=server.ssl_context, timeout=600
            ) as own,
            own.stream("GET", CONFIGMAPS.format(ns=namespace), params=params) as stream,
        ):
            ready[index].set()
            async for line in stream.aiter_lines():
                if line and json.loads(line)["type"] == "ADDED":
                    received[index] += 1
                    if received[index] == burst:
                        if all(n == burst for n in received):
                            done.set()
                        return

    tasks = [asyncio.create_task(watch(i)) for i in range(watchers)]
    await asyncio.wait_for(asyncio.gather(*(event.wait() for event in ready)), 60)
    await asyncio.sleep(0.5)  # the streams' headers are out; let the watches register

    async def create(i: int) -> None:
        body = configmap(f"w-{i:06}")
        expect(await client.post(CONFIGMAPS.format(ns=namespace), json=body), 201)

    start = time.perf_counter()
    write_seconds = await concurrently(clients, burst, create)
    written = time.perf_counter()
    await asyncio.wait_for(done.wait(), 600)
    seconds = time.perf_counter() - start
    lag = time.perf_counter() - written
    await asyncio.gather(*tasks)
    report.add(
        f"watch delivery, {watchers} watchers",
        burst * watchers / seconds,
        "events/s",
        f"burst of {burst} creates ({burst / write_seconds:,.0f}/s), all delivered in "
        f"{seconds * 1000:.0f} ms, {lag * 1000:.0f} ms after the last write",
    )


# --- the run -------------------------------------------------------------------------------


def machine_facts() -> dict[str, Any]:
    kubectl = BIN / "kubectl"
    kubectl_version = ""
    if kubectl.exists():
        out = subprocess.run(
            [str(kubectl), "version", "--client", "-o", "json"],
            capture_output=True,
            check=False,
            text=True,
        )
        kubectl_version = json.loads(out.stdout or "{}").get("clientVersion", {}).get("gitVersion")
    return {
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "system": platform.platform(),
        "python": platform.python_version(),
        "openssl": ssl.OPENSSL_VERSION,
        "sqlite": sqlite3.sqlite_version,
        "aiohttp": aiohttp.__version__,
        "httpx": httpx.__version__,
        "kubectl": kubectl_version,
        "load_average_1_5_15": [round(load, 2) for load in os.getloadavg()],
    }


async def run(args: argparse.Namespace, tmp: Path) -> None:
    report = Report()
    facts = machine_facts()  # before the run: the load average says how busy the machine was
    profile = tmp / "server.prof" if args.profile else None
    server = start_server(tmp / "data", tmp / "serve.log", profile)
    peak: dict[str, int] = {}
    memory: dict[str, dict[str, int]] = {}
    try:
        limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
        async with httpx.AsyncClient(
            base_url=server.base_url, verify=server.ssl_context, limits=limits, timeout=600
        ) as client:
            memory = {"started": server.memory()}
            await create_rates(client, report, args.objects, args.clients, p256_csr())
            memory["created"] = server.memory()
            await get_rate(client, report, args.objects, args.clients, args.gets)
            memory["got"] = server.memory()
            await list_times(client, report, args.objects)
            memory["listed"] = server.memory()
            await asyncio.to_thread(kubectl_time, server, report, args.objects, tmp / "kubectl")
            memory["kubectl"] = server.memory()
            await watch_rate(server, client, report, args.watchers, args.burst, args.clients)
        peak = memory["watched"] = server.memory()
        print("server memory (KiB) after each phase:", json.dumps(memory))
        report.add("server RSS at the end (VmRSS)", peak["VmRSS"] / 1024, "MiB")
        report.add("server peak RSS (VmHWM)", peak["VmHWM"] / 1024, "MiB")
    finally:
        stop_server(server)
    if profile is not None and profile.exists():
        stats = pstats.Stats(str(profile))
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats("certsmith", 30)
    if not args.no_save:
        save(args, report, facts, memory)


def save(
    args: argparse.Namespace,
    report: Report,
    facts: dict[str, Any],
    memory: dict[str, dict[str, int]],
) -> None:
    out_dir = REPO / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    today = dt.date.today().isoformat()
    path = out_dir / f"{today}-apiserver.json"
    document = {
        "date": today,
        "benchmark": "bench/apiserver_bench.py",
        "parameters": {
            "objects": args.objects,
            "clients": args.clients,
            "gets": args.gets,
            "watchers": args.watchers,
            "burst": args.burst,
            "profile": args.profile,
        },
        "machine": facts,
        "results": [vars(result) for result in report.results],
        "server_memory_kib_after_phase": memory,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    print(f"written: {path.relative_to(REPO)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=10_000, help="of each kind")
    parser.add_argument("--clients", type=int, default=16, help="concurrent HTTP clients")
    parser.add_argument("--gets", type=int, default=5_000)
    parser.add_argument("--watchers", type=int, default=10)
    parser.add_argument("--burst", type=int, default=1_000, help="writes the watchers receive")
    parser.add_argument("--profile", action="store_true", help="run the server under cProfile")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(args, Path(tmp)))
