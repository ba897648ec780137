"""Certificates end to end against a real ``certsmith serve`` subprocess (all controllers on).

With a CA Issuer (P-256 CA) ready, 8 concurrent httpx clients in this process create N ECDSA
P-256 Certificates at once (scenario A), then K RSA-2048 ones (scenario B); the script watches
the Certificates until every one is Ready=True and checks each Secret.
Figures: Certificates per second end to end, p50/p99 from create (the POST's response) to
the watch event that first showed it Ready, the server's peak RSS (VmHWM) and its CPU seconds
(utime+stime from /proc/<pid>/stat). Between the scenarios the server idles for M seconds and
its CPU use is sampled. For B, this process measures RSA-2048 key generation with
``cryptography`` in a 2-process pool, and the script reports the share of the end-to-end time
that K keys at that rate would take and the achieved rate against that keygen limit.

Run: ``.venv/bin/python bench/certificates_bench.py [--certificates N] [--rsa K]
[--idle-seconds M] [--quick]``. Results go to ``bench/results/<date>-certificates.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import concurrent.futures
import datetime as dt
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

sys.path.insert(0, str(Path(__file__).resolve().parent))
from apiserver_bench import (
    REPO,
    Report,
    Server,
    concurrently,
    cpu_seconds,
    expect,
    machine_facts,
    start_server,
    stop_server,
)

CLIENTS = 8
SETTLE_LIMIT = 600.0  # seconds to wait at most for the burst's tail before idle
CERTS = "/apis/cert-manager.io/v1/namespaces/{ns}/certificates"
ISSUERS = "/apis/cert-manager.io/v1/namespaces/{ns}/issuers"
SECRETS = "/api/v1/namespaces/{ns}/secrets"


# --- the server's process facts ------------------------------------------------------------


# --- objects -------------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def ca_secret() -> dict[str, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "certsmith bench CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "ca-key-pair"},
        "type": "kubernetes.io/tls",
        "data": {
            "tls.crt": b64(cert.public_bytes(serialization.Encoding.PEM)),
            "tls.key": b64(key_pem),
        },
    }


def certificate(index: int, algorithm: str, size: int) -> dict[str, Any]:
    name = f"{algorithm.lower()}-{index:05}"
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": name},
        "spec": {
            "secretName": f"{name}-tls",
            "dnsNames": [f"{name}.bench.example.com"],
            "privateKey": {"algorithm": algorithm, "size": size},
            "issuerRef": {"name": "ca-issuer", "kind": "Issuer", "group": "cert-manager.io"},
        },
    }


def is_ready(obj: dict[str, Any]) -> bool:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


async def watch_ready(
    client: httpx.AsyncClient,
    namespace: str,
    resource_version: str,
    ready: dict[str, float],
    count: int,
    all_ready: asyncio.Event,
) -> None:
    """Record when each Certificate is first seen Ready=True; set ``all_ready`` at ``count``.

    One watch stream, not polling: listing 10,000 Certificates twice a second would be most of
    the server's work. A stream that ends (timeout) is resumed from the last resourceVersion.
    """
    while True:
        params = {"watch": "1", "resourceVersion": resource_version, "timeoutSeconds": "3600"}
        async with client.stream("GET", CERTS.format(ns=namespace), params=params) as stream:
            async for line in stream.aiter_lines():
                if not line:
                    continue
                event = json.loads(line)
                obj = event["object"]
                resource_version = obj["metadata"].get("resourceVersion", resource_version)
                name = obj["metadata"]["name"]
                if event["type"] in ("ADDED", "MODIFIED") and name not in ready and is_ready(obj):
                    ready[name] = time.perf_counter()
                    if len(ready) == count:
                        all_ready.set()


async def until(event: asyncio.Event, task: asyncio.Task[None]) -> None:
    """Wait for ``event``; raise what ``task`` raised if it stops first."""
    waiting = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({waiting, task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiting.cancel()
    if not event.is_set():
        task.result()
        raise SystemExit("the watch of the Certificates ended")


class Incomplete(Exception):  # noqa: N818 - a result, not a failure of the benchmark
    """A scenario hit its time limit; what it reached is in the report."""


# --- steps ---------------------------------------------------------------------------------


async def ca_issuer(client: httpx.AsyncClient, namespace: str) -> None:
    expect(await client.post("/api/v1/namespaces", json={"metadata": {"name": namespace}}), 201)
    expect(await client.post(SECRETS.format(ns=namespace), json=ca_secret()), 201)
    issuer = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Issuer",
        "metadata": {"name": "ca-issuer"},
        "spec": {"ca": {"secretName": "ca-key-pair"}},
    }
    expect(await client.post(ISSUERS.format(ns=namespace), json=issuer), 201)
    deadline = time.monotonic() + 60
    while True:
        got = await client.get(f"{ISSUERS.format(ns=namespace)}/ca-issuer")
        expect(got, 200)
        if is_ready(got.json()):
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"Issuer {namespace}/ca-issuer not Ready in 60 s: {got.text}")
        await asyncio.sleep(0.1)


async def scenario(
    server: Server,
    client: httpx.AsyncClient,
    poller: httpx.AsyncClient,
    report: Report,
    label: str,
    namespace: str,
    count: int,
    algorithm: str,
    size: int,
    limit: float,
) -> float:
    """Create ``count`` Certificates, wait for all Ready and their Secrets; the seconds it took."""
    await ca_issuer(client, namespace)
    pid = server.process.pid
    created: dict[str, float] = {}
    ready: dict[str, float] = {}
    bodies = [certificate(i, algorithm, size) for i in range(count)]

    async def create(i: int) -> None:
        expect(await client.post(CERTS.format(ns=namespace), json=bodies[i]), 201)
        created[bodies[i]["metadata"]["name"]] = time.perf_counter()

    listed = await poller.get(CERTS.format(ns=namespace))
    expect(listed, 200)
    all_ready = asyncio.Event()
    watching = asyncio.create_task(
        watch_ready(
            poller, namespace, listed.json()["metadata"]["resourceVersion"], ready, count, all_ready
        )
    )
    cpu_start = cpu_seconds(pid)
    start = time.perf_counter()
    creating = asyncio.create_task(concurrently(CLIENTS, count, create))
    try:
        await asyncio.wait_for(asyncio.gather(creating, until(all_ready, watching)), limit)
    except TimeoutError:
        # Record how far it got (rate, RSS, CPU) rather than nothing, then stop the run.
        took = time.perf_counter() - start
        cpu = cpu_seconds(pid) - cpu_start
        memory = server.memory()
        report.add(
            f"{label}: NOT all Ready within the limit",
            len(ready),
            "certs",
            f"of {count} ({len(created)} created) in {took:.0f} s = {len(ready) / took:.1f}/s",
        )
        report.add(f"{label}: server peak RSS (VmHWM)", memory["VmHWM"] / 1024, "MiB", "so far")
        report.add(f"{label}: server CPU", cpu, "s", f"{cpu / took * 100:.0f}% of one core")
        raise Incomplete(label) from None
    finally:
        watching.cancel()
    took = time.perf_counter() - start
    cpu = cpu_seconds(pid) - cpu_start
    secrets = await poller.get(SECRETS.format(ns=namespace))
    expect(secrets, 200)
    names = {s["metadata"]["name"] for s in secrets.json()["items"]}
    missing = [b["spec"]["secretName"] for b in bodies if b["spec"]["secretName"] not in names]
    if missing:
        raise SystemExit(f"{label}: all Ready but {len(missing)} Secrets missing: {missing[:5]}")
    latencies = sorted(ready[name] - created[name] for name in created)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    memory = server.memory()
    detail = f"{count}, {CLIENTS} clients"
    report.add(f"{label}: Certificates Ready", count / took, "certs/s", f"{detail}, {took:.1f} s")
    report.add(
        f"{label}: create -> Ready p50",
        statistics.median(latencies),
        "s",
        "watch event with Ready=True",
    )
    report.add(f"{label}: create -> Ready p99", p99, "s")
    report.add(
        f"{label}: server peak RSS (VmHWM)",
        memory["VmHWM"] / 1024,
        "MiB",
        "serve + its controller child, each process's peak",
    )
    if "controllers.VmHWM" in memory:
        report.add(
            f"{label}: controllers' peak RSS (VmHWM)",
            memory["controllers.VmHWM"] / 1024,
            "MiB",
            "the serve-controllers child",
        )
    report.add(f"{label}: server CPU", cpu, "s", f"{cpu / took * 100:.0f}% of one core")
    return took


async def settle(server: Server, report: Report, limit: float) -> None:
    """Wait until serve's CPU over 5 s is below 2% of a core: the tail of the burst is done.

    "All Ready" is not "all done": the key manager still deletes next-key Secrets, the revision
    manager and the event recorder catch up. Idle is measured after that, and this says how
    long it took.
    """
    start = time.perf_counter()
    window = 5.0
    while True:
        before = cpu_seconds(server.process.pid)
        await asyncio.sleep(window)
        share = (cpu_seconds(server.process.pid) - before) / window
        waited = time.perf_counter() - start
        if share < 0.02 or waited >= limit:
            break
    report.add(
        "settle: burst tail after all Ready", waited, "s", f"until < 2% CPU over {window:.0f} s"
    )


async def idle_cpu(server: Server, report: Report, seconds: float) -> None:
    start_cpu = cpu_seconds(server.process.pid)
    start = time.perf_counter()
    await asyncio.sleep(seconds)
    cpu = cpu_seconds(server.process.pid) - start_cpu
    elapsed = time.perf_counter() - start
    report.add("idle: server CPU", cpu / elapsed * 100, "% core", f"over {elapsed:.0f} s")


def rsa_key(_: int) -> int:
    rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return 1


def rsa_keygen_rate(seconds: float, processes: int = 2) -> float:
    """RSA-2048 keys per second this machine makes with ``processes`` worker processes."""
    with concurrent.futures.ProcessPoolExecutor(processes) as pool:
        list(pool.map(rsa_key, range(processes)))  # warm the workers up
        made = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            made += sum(pool.map(rsa_key, range(processes * 4)))
        return made / (time.perf_counter() - start)


def start_py_spy(server: Server, out: Path) -> subprocess.Popen[bytes]:
    """Sample the server's stacks with py-spy (collapsed stacks, ``--format raw``) into ``out``."""
    spy = Path(sys.executable).parent / "py-spy"
    command = [str(spy), "record", "--pid", str(server.process.pid), "--rate", "100"]
    command += ["--format", "raw", "--output", str(out), "--nonblocking", "--subprocesses"]
    # e.g. "--gil" (only the thread holding the GIL) or "--idle" (waiting threads too)
    command += os.environ.get("CERTSMITH_BENCH_PY_SPY_ARGS", "").split()
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_py_spy(spy: subprocess.Popen[bytes]) -> None:
    """Stop py-spy; on SIGINT it writes its output before exiting."""
    spy.send_signal(signal.SIGINT)
    try:
        spy.wait(timeout=60)
    except subprocess.TimeoutExpired:
        spy.kill()
        spy.wait()


# --- the run -------------------------------------------------------------------------------


async def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    report = Report()
    facts = machine_facts()  # before the run: the load average says how busy the machine was
    keygen = await asyncio.to_thread(rsa_keygen_rate, args.keygen_seconds)
    report.add("RSA-2048 keygen, 2 processes", keygen, "keys/s", "cryptography, this process")
    server = start_server(tmp / "data", tmp / "serve.log", None, controllers="*")
    whole_run = args.py_spy is not None and not args.py_spy_idle
    spy = start_py_spy(server, args.py_spy) if whole_run else None
    incomplete: str | None = None
    try:
        limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
        async with (
            httpx.AsyncClient(
                base_url=server.base_url, verify=server.ssl_context, limits=limits, timeout=600
            ) as client,
            httpx.AsyncClient(
                base_url=server.base_url, verify=server.ssl_context, timeout=600
            ) as poller,
        ):
            if args.certificates:
                await scenario(
                    server, client, poller, report, "A ECDSA P-256", "bench-ecdsa",
                    args.certificates, "ECDSA", 256, args.timeout,
                )  # fmt: skip
            if args.idle_seconds:
                # getattr: bench/suite.py calls run() with its own Namespace.
                await settle(server, report, getattr(args, "settle_limit", SETTLE_LIMIT))
                if args.py_spy is not None and args.py_spy_idle:
                    spy = start_py_spy(server, args.py_spy)
                await idle_cpu(server, report, args.idle_seconds)
                if spy is not None and args.py_spy_idle:
                    stop_py_spy(spy)
                    spy = None
            if args.rsa:
                took = await scenario(
                    server, client, poller, report, "B RSA-2048", "bench-rsa",
                    args.rsa, "RSA", 2048, args.timeout,
                )  # fmt: skip
                rate = args.rsa / took
                report.add(
                    "B RSA-2048: keygen share of end to end",
                    args.rsa / keygen / took * 100,
                    "%",
                    f"{args.rsa} keys at {keygen:.1f}/s = "
                    f"{args.rsa / keygen:.1f} s of {took:.1f} s",
                )
                report.add(
                    "B RSA-2048: achieved / keygen limit",
                    rate / keygen * 100,
                    "%",
                    f"{rate:.1f} certs/s vs {keygen:.1f} keys/s (2 cores)",
                )
    except Incomplete as exc:
        incomplete = str(exc)
    finally:
        if spy is not None:
            stop_py_spy(spy)
        stop_server(server)
    facts["load_average_after"] = [round(load, 2) for load in os.getloadavg()]
    document = {
        "date": dt.date.today().isoformat(),
        "benchmark": "bench/certificates_bench.py",
        "parameters": {
            "certificates": args.certificates,
            "rsa": args.rsa,
            "idle_seconds": args.idle_seconds,
            "clients": CLIENTS,
            "ready_seen_by": "watch",
            "quick": args.quick,
        },
        "incomplete": incomplete,
        "machine": facts,
        "results": [vars(result) for result in report.results],
    }
    return document


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certificates", type=int, default=1000, help="ECDSA P-256 (A)")
    parser.add_argument("--rsa", type=int, default=200, help="RSA-2048 Certificates (B)")
    parser.add_argument("--idle-seconds", type=float, default=60)
    parser.add_argument(
        "--settle-limit", type=float, default=SETTLE_LIMIT, help="max wait for the burst's tail, s"
    )
    parser.add_argument("--keygen-seconds", type=float, default=5)
    parser.add_argument("--timeout", type=float, default=1800, help="per scenario, seconds")
    parser.add_argument("--quick", action="store_true", help="N=100, K=20, M=5 (CI smoke)")
    parser.add_argument(
        "--py-spy", type=Path, metavar="FILE", help="profile serve with py-spy (collapsed stacks)"
    )
    parser.add_argument(
        "--py-spy-idle", action="store_true", help="with --py-spy: profile only the idle phase"
    )
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results")
    args = parser.parse_args()
    if args.quick:
        args.certificates, args.rsa, args.idle_seconds, args.keygen_seconds = 100, 20, 5, 2
    with tempfile.TemporaryDirectory() as tmp:
        document = asyncio.run(run(args, Path(tmp)))
    if not args.no_save:
        out_dir = REPO / "bench" / "results"
        out_dir.mkdir(parents=True, exist_ok=True)
        suffix = "-quick" if args.quick else ""
        path = out_dir / f"{document['date']}-certificates{suffix}.json"
        path.write_text(json.dumps(document, indent=2) + "\n")
        print(f"written: {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
