"""Issue 9 scenarios 1 and 4: CertificateRequests against a real ``certsmith serve``.

1. Throughput: N CertificateRequests, each with its own pre-made P-256 CSR, for a CA Issuer with
   a P-256 key, POSTed over HTTPS by 8 client processes (``http.client``, keep-alive) until the
   benchmark process has seen every one Ready=True on a watch. Rate = N / (first POST → last
   Ready). In the same run cfssl serve signs N CSRs from the same 8 client processes; the
   ratio is certsmith's rate over cfssl's.
4. Latency: one CertificateRequest at a time on an otherwise idle server, from just before the
   POST to the watch event that shows it Ready=True (no polling). p50 and p99 over M requests
   after a few unmeasured warm-up requests.

Run alone: ``.venv/bin/python bench/requests_bench.py [--quick] [--scenario 1|4]``;
``bench/suite.py`` runs it with the rest. ``--py-spy FILE`` samples serve with py-spy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from apiserver_bench import cpu_seconds
from certificates_bench import ca_issuer, is_ready, start_py_spy, stop_py_spy
from cfssl_peer import cfssl_binary, run_cfssl
from suitelib import (
    Row,
    at_least,
    at_most,
    cert_request_body,
    client_context,
    failed,
    list_version,
    missing,
    p256_csr_pem,
    percentile,
    start_posting,
    start_serve,
    stop_serve,
    watch_lines,
)

CRS = "/apis/cert-manager.io/v1/namespaces/{ns}/certificaterequests"
CLIENTS = 8
TARGET_1 = "≥ 1,000/s; ratio to cfssl ≥ 0.5"
TARGET_4 = "p50 ≤ 10 ms, p99 ≤ 50 ms"


def _client(url: str, ctx: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, verify=ctx, timeout=600)  # type: ignore[arg-type]


async def throughput(tmp: Path, count: int, py_spy: Path | None) -> tuple[float, str]:
    """Scenario 1 against certsmith: (requests/s, detail)."""
    started = start_serve(tmp / "s1", tmp / "s1.log")
    server = started.server
    spy = start_py_spy(server, py_spy) if py_spy else None
    try:
        async with _client(server.base_url, server.ssl_context) as client:
            namespace = "bench-requests"
            await ca_issuer(client, namespace)
            path = CRS.format(ns=namespace)
            version = await list_version(client, path)
            names = [f"cr-{i:06}" for i in range(count)]
            _, _, files = client_context(tmp / "s1", server.kubeconfig)
            posting = await asyncio.to_thread(
                start_posting, server.base_url, path, "cr", names, CLIENTS, files, 201
            )
            ready: dict[str, float] = {}

            async def watch() -> None:
                async for event in watch_lines(client, path, version):
                    obj = event["object"]
                    name = obj["metadata"]["name"]
                    if name not in ready and is_ready(obj):
                        ready[name] = time.perf_counter()
                        if len(ready) == count:
                            return

            watching = asyncio.create_task(watch())
            cpu_start = cpu_seconds(server.process.pid)
            start = posting.go()
            sent = await asyncio.to_thread(posting.results)
            posted = max(done for _, done in sent.values()) - start
            try:
                await asyncio.wait_for(watching, 1800)
            except TimeoutError:
                raise RuntimeError(f"{len(ready)}/{count} Ready after 30 minutes") from None
            took = max(ready.values()) - start
            cpu = cpu_seconds(server.process.pid) - cpu_start
    finally:
        if spy is not None:
            stop_py_spy(spy)
        stop_serve(server)
    detail = (
        f"{count} CRs, {CLIENTS} client processes, all Ready in {took:.2f} s (POSTs done in "
        f"{posted:.2f} s, {count / posted:,.0f}/s); serve CPU {cpu:.1f} s "
        f"({cpu / took * 100:.0f}% of a core)"
    )
    return count / took, detail


async def latency(tmp: Path, count: int, warmup: int, py_spy: Path | None) -> list[float]:
    """Scenario 4: create → Ready seconds of ``count`` sequential CertificateRequests."""
    started = start_serve(tmp / "s4", tmp / "s4.log")
    server = started.server
    spy = None
    try:
        async with _client(server.base_url, server.ssl_context) as client:
            namespace = "bench-latency"
            await ca_issuer(client, namespace)
            path = CRS.format(ns=namespace)
            version = await list_version(client, path)
            waiting: dict[str, asyncio.Future[float]] = {}

            async def watch() -> None:
                async for event in watch_lines(client, path, version):
                    obj = event["object"]
                    future = waiting.get(obj["metadata"]["name"])
                    if future is not None and not future.done() and is_ready(obj):
                        future.set_result(time.perf_counter())

            watching = asyncio.create_task(watch())
            csrs = [p256_csr_pem(f"lat-{i}.bench.example.com") for i in range(warmup + count)]
            times: list[float] = []
            for i, csr in enumerate(csrs):
                if i == warmup and py_spy is not None:
                    spy = start_py_spy(server, py_spy)
                name = f"lat-{i:05}"
                body = json.dumps(cert_request_body(name, csr))
                future = waiting[name] = asyncio.get_running_loop().create_future()
                start = time.perf_counter()
                created = await client.post(
                    path, content=body, headers={"Content-Type": "application/json"}
                )
                if created.status_code != 201:
                    raise RuntimeError(f"create {name}: {created.status_code} {created.text}")
                done = await asyncio.wait_for(future, 60)
                if i >= warmup:
                    times.append(done - start)
            watching.cancel()
    finally:
        if spy is not None:
            stop_py_spy(spy)
        stop_serve(server)
    return times


def scenario_1(tmp: Path, count: int, py_spy: Path | None = None) -> list[Row]:
    name = "CertificateRequests Ready, 8 client processes"
    try:
        rate, detail = asyncio.run(throughput(tmp, count, py_spy))
    except (RuntimeError, subprocess.SubprocessError, httpx.HTTPError) as err:
        return [failed("1", name, TARGET_1, str(err))]
    binary = cfssl_binary()
    if binary is None:
        peer = missing("1", "cfssl serve, 8 clients, /api/v1/cfssl/sign", "", "cfssl not installed")
        return [Row("1", name, rate, "req/s", TARGET_1, at_least(rate, 1000), "cfssl missing",
                    detail), peer]  # fmt: skip
    try:
        peer_run = run_cfssl(binary, tmp / "cfssl", count, CLIENTS)
    except (RuntimeError, OSError) as err:
        peer_row = failed("1", "cfssl serve, 8 clients", "", str(err))
        return [Row("1", name, rate, "req/s", TARGET_1, at_least(rate, 1000), "cfssl failed",
                    detail), peer_row]  # fmt: skip
    ratio = rate / peer_run.rate
    return [
        Row("1", name, rate, "req/s", TARGET_1, at_least(rate, 1000) and ratio >= 0.5,
            f"{ratio:.2f} x cfssl", detail),
        Row("1", "peer: cfssl serve signs, 8 client processes", peer_run.rate, "CSRs/s", "", None,
            "", f"{count} CSRs in {peer_run.seconds:.2f} s over HTTPS, P-256 CA"),
    ]  # fmt: skip


def scenario_4(tmp: Path, count: int, py_spy: Path | None = None) -> list[Row]:
    name = "one CertificateRequest, create → Ready"
    try:
        times = asyncio.run(latency(tmp, count, 5, py_spy))
    except (RuntimeError, subprocess.SubprocessError, httpx.HTTPError, TimeoutError) as err:
        return [failed("4", name, TARGET_4, f"{type(err).__name__}: {err}")]
    p50 = statistics.median(times) * 1000
    p99 = percentile(times, 0.99) * 1000
    detail = (
        f"{count} sequential, idle server, watch; min {min(times) * 1000:.1f} ms, "
        f"max {max(times) * 1000:.1f} ms"
    )
    return [
        Row("4", f"{name} p50", p50, "ms", "p50 ≤ 10 ms", at_most(p50, 10), "", detail,
            samples=[t * 1000 for t in times]),
        Row("4", f"{name} p99", p99, "ms", "p99 ≤ 50 ms", at_most(p99, 50), "", ""),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 CRs and 50 latencies")
    parser.add_argument("--scenario", choices=["1", "4"], action="append")
    parser.add_argument("--requests", type=int, default=10_000, help="scenario 1")
    parser.add_argument("--latencies", type=int, default=200, help="scenario 4")
    parser.add_argument("--py-spy", type=Path, metavar="FILE", help="py-spy raw output (stem)")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.latencies = 1_000, 50
    chosen = args.scenario or ["1", "4"]
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        spy = args.py_spy
        if "1" in chosen:
            out = spy.with_suffix(".s1.txt") if spy else None
            rows += scenario_1(Path(tmp), args.requests, out)
        if "4" in chosen:
            out = spy.with_suffix(".s4.txt") if spy else None
            rows += scenario_4(Path(tmp), args.latencies, out)
    for row in rows:
        figure = "-" if row.figure is None else f"{row.figure:,.1f}"
        print(
            f"{row.scenario:>2} {row.name:<48} {figure:>10} {row.unit:<7} {row.ratio} {row.detail}"
        )


if __name__ == "__main__":
    main()
