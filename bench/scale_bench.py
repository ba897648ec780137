"""Issue 9 scenarios 7 and 9: lists, watches and start-up of ``certsmith serve`` at 10,000 objects.

7. With ``serve --controllers=none`` (the API server's own figures; with controllers on, the
   10,000 Certificates would be issuing meanwhile), 10 watcher processes watch Certificates in
   all namespaces while 8 client processes create 10,000 Certificates in 10 namespaces (the
   burst). Each watcher checks it got every ADDED event, resourceVersions strictly increasing;
   its rate is 10,000 / (first POST → its last event), so it is bounded by the write rate.
   Then the same 10 watchers replay the burst from the watch cache (resourceVersion before
   it): that rate is the server's delivery rate. Then ``kubectl get certificates -A`` (pinned
   kubectl, one unmeasured run for its discovery cache, median of 5).
9. Cold start: a fresh data directory, ``serve`` with all controllers, from ``Popen`` until
   the kubeconfig is written and ``/readyz`` answers 200 (median of 3). Restart: scenario 7's
   data directory (10,000 Certificates stored) served again with all controllers; the
   Certificates name an Issuer that does not exist, so the controllers load them without
   issuing.

Run alone: ``.venv/bin/python bench/scale_bench.py [--quick]``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import re
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from apiserver_bench import BIN, Server
from suitelib import (
    Row,
    at_least,
    at_most,
    client_context,
    failed,
    start_posting,
    start_serve,
    stop_serve,
)

NAMESPACES = 10
ALL_CERTS = "/apis/cert-manager.io/v1/certificates"
CERTS = "/apis/cert-manager.io/v1/namespaces/{ns}/certificates"
WATCHERS = 10
CLIENTS = 8
_RV = re.compile(rb'"resourceVersion":"(\d+)"')


# --- watcher processes ---------------------------------------------------------------------


@dataclass(frozen=True)
class WatchJob:
    host: str
    port: int
    resource_version: str
    files: str
    expected: int


def _watch_worker(job: WatchJob, ready: Any, out: Any) -> None:
    """Watch all Certificates from ``resource_version`` until ``expected`` ADDED events.

    Reads the chunked stream with ``http.client`` and takes each event's resourceVersion with a
    regular expression: a full JSON decode per event would make this process, not the server,
    the limit.
    """
    try:
        files = Path(job.files)
        ctx = ssl.create_default_context(cafile=str(files / "ca.crt"))
        ctx.load_cert_chain(files / "client.crt", files / "client.key")
        conn = http.client.HTTPSConnection(job.host, job.port, context=ctx, timeout=600)
        query = f"?watch=1&resourceVersion={job.resource_version}&timeoutSeconds=3600"
        asked = time.perf_counter()
        conn.request("GET", ALL_CERTS + query)
        response = conn.getresponse()
        if response.status != 200:
            raise RuntimeError(f"watch: {response.status} {response.read()[:300]!r}")
        ready.release()
        count = 0
        last_rv = int(job.resource_version)
        in_order = True
        first = 0.0
        while count < job.expected:
            line = response.readline()
            if not line:
                raise RuntimeError(f"watch ended after {count} events")
            if not line.strip():
                continue
            if not line.startswith(b'{"type":"ADDED"'):
                if b'"type":"ERROR"' in line[:40]:
                    raise RuntimeError(f"watch error: {line[:300]!r}")
                continue
            match = _RV.search(line)
            rv = int(match.group(1)) if match else -1
            in_order = in_order and rv > last_rv
            last_rv = rv
            count += 1
            if count == 1:
                first = time.perf_counter()
        out.put(("ok", (count, in_order, asked, first, time.perf_counter())))
        conn.close()
    except Exception as err:
        ready.release()
        out.put(("error", f"{type(err).__name__}: {err}"))


@dataclass
class Watching:
    processes: list[Any]
    out: Any

    def results(self) -> list[tuple[int, bool, float, float, float]]:
        """(events, in order, watch asked, first event, last event) per watcher."""
        results: list[tuple[int, bool, float, float, float]] = []
        errors: list[str] = []
        for _ in self.processes:
            status, value = self.out.get(timeout=1800)
            (results if status == "ok" else errors).append(value)
        for process in self.processes:
            process.join()
        if errors:
            raise RuntimeError("; ".join(errors))
        return results


def start_watchers(server: Server, files: Path, resource_version: str, expected: int) -> Watching:
    mp = multiprocessing.get_context("spawn")
    host, _, port = server.base_url.removeprefix("https://").partition(":")
    ready = mp.Semaphore(0)
    out = mp.Queue()
    job = WatchJob(host, int(port), resource_version, str(files), expected)
    processes = [
        mp.Process(target=_watch_worker, args=(job, ready, out), daemon=True)
        for _ in range(WATCHERS)
    ]
    for process in processes:
        process.start()
    for _ in processes:
        ready.acquire()
    return Watching(processes, out)


# --- scenario 7 ----------------------------------------------------------------------------


def _request(server: Server, method: str, path: str, body: Any = None) -> dict[str, Any]:
    host, _, port = server.base_url.removeprefix("https://").partition(":")
    conn = http.client.HTTPSConnection(host, int(port), context=server.ssl_context, timeout=600)
    try:
        data = None if body is None else json.dumps(body)
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        payload = response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {payload[:300]!r}")
        result: dict[str, Any] = json.loads(payload)
        return result
    finally:
        conn.close()


def burst_and_watch(server: Server, files: Path, count: int) -> list[Row]:
    for i in range(NAMESPACES):
        _request(server, "POST", "/api/v1/namespaces", {"metadata": {"name": f"bench-{i}"}})
    before = _request(server, "GET", ALL_CERTS + "?limit=1")["metadata"]["resourceVersion"]
    watching = start_watchers(server, files, before, count)
    time.sleep(0.3)  # the watchers have their headers; let the server register them
    postings = []
    names = [f"c-{i:05}" for i in range(count)]
    # One client process per namespace (a POST names its namespace in the path).
    per_ns = [names[i::NAMESPACES] for i in range(NAMESPACES)]
    clients_per_ns = max(1, CLIENTS // NAMESPACES)
    for i, chunk in enumerate(per_ns):
        path = CERTS.format(ns=f"bench-{i}")
        postings.append(
            start_posting(server.base_url, path, "certificate", chunk, clients_per_ns, files, 201)
        )
    start = time.perf_counter()
    for posting in postings:
        posting.go()
    for posting in postings:
        posting.results()
    written = time.perf_counter() - start
    live = watching.results()
    complete = all(n == count for n, *_ in live) and all(ok for _, ok, *_ in live)
    live_rates = [count / (last - start) for _, _, _, _, last in live]
    replay = start_watchers(server, files, before, count).results()
    replay_rates = [count / (last - asked) for _, _, asked, _, last in replay]
    replay_ok = all(n == count and ok for n, ok, *_ in replay)
    order = (
        "every watcher got every event in order" if complete else "EVENTS MISSING OR OUT OF ORDER"
    )
    return [
        Row("7", f"{WATCHERS} watchers live during a {count:,}-write burst, each (min)",
            min(live_rates), "events/s", "≥ 10,000 events/s each, in order",
            complete and at_least(min(live_rates), 10_000), "",
            f"{order}; writes {count / written:,.0f}/s from {NAMESPACES} client processes "
            f"(bounds this rate); max {max(live_rates):,.0f}/s",
            samples=live_rates),
        Row("7", f"{WATCHERS} watchers replaying the burst from the watch cache, each (min)",
            min(replay_rates), "events/s", "≥ 10,000 events/s each, in order",
            replay_ok and at_least(min(replay_rates), 10_000), "",
            f"{'in order, complete' if replay_ok else 'EVENTS MISSING OR OUT OF ORDER'}; "
            f"max {max(replay_rates):,.0f}/s; watcher processes share the 2 cores",
            samples=replay_rates),
    ]  # fmt: skip


def kubectl_list(server: Server, count: int, cache: Path, runs: int = 5) -> Row:
    kubectl = BIN / "kubectl"
    env = {**os.environ, "KUBECONFIG": str(server.kubeconfig), "KUBECACHEDIR": str(cache)}
    command = [str(kubectl), "get", "certificates", "-A"]
    times = []
    for i in range(runs + 1):
        start = time.perf_counter()
        result = subprocess.run(command, capture_output=True, env=env, timeout=600, check=True)
        took = time.perf_counter() - start
        lines = result.stdout.count(b"\n") - 1
        if lines != count:
            raise RuntimeError(f"kubectl listed {lines} Certificates, expected {count}")
        if i == 0:
            first = took
        else:
            times.append(took)
    median = statistics.median(times)
    return Row("7", f"kubectl get certificates -A, {count:,} objects", median, "s", "≤ 1 s",
               at_most(median, 1.0), "",
               f"median of {runs} ({min(times):.2f}-{max(times):.2f} s); first run with a cold "
               f"discovery cache {first:.2f} s", samples=times)  # fmt: skip


# --- scenario 9 ----------------------------------------------------------------------------


def cold_starts(tmp: Path, runs: int = 3) -> Row:
    times, written = [], []
    for i in range(runs):
        started = start_serve(tmp / f"cold-{i}", tmp / f"cold-{i}.log")
        stop_serve(started.server)
        times.append(started.ready_seconds)
        written.append(started.kubeconfig_seconds)
    ready = [max(a, b) for a, b in zip(times, written, strict=True)]
    median = statistics.median(ready)
    return Row("9", "serve cold start → kubeconfig + /readyz 200", median, "s", "≤ 1.5 s",
               at_most(median, 1.5), "",
               f"median of {runs} ({min(ready):.2f}-{max(ready):.2f} s), all controllers, "
               f"fresh data dir; kubeconfig at {statistics.median(written):.2f} s",
               samples=ready)  # fmt: skip


def restart(data_dir: Path, log: Path, count: int) -> Row:
    started = start_serve(data_dir, log)
    try:
        stored = _request(started.server, "GET", ALL_CERTS + "?limit=1")
        remaining = int(stored["metadata"].get("remainingItemCount") or 0) + len(stored["items"])
    finally:
        stop_serve(started.server)
    figure = max(started.ready_seconds, started.kubeconfig_seconds)
    return Row("9", f"serve restart with {count:,} Certificates stored → /readyz 200", figure,
               "s", "≤ 5 s", at_most(figure, 5.0), "",
               f"all controllers; {remaining:,} Certificates listed after the restart; "
               f"kubeconfig at {started.kubeconfig_seconds:.2f} s")  # fmt: skip


# --- both ----------------------------------------------------------------------------------


def scenarios_7_and_9(tmp: Path, count: int) -> list[Row]:
    rows: list[Row] = []
    try:
        rows.append(cold_starts(tmp))
    except RuntimeError as err:
        rows.append(failed("9", "serve cold start", "≤ 1.5 s", str(err)))
    data_dir = tmp / "s7"
    try:
        started = start_serve(data_dir, tmp / "s7.log", controllers="none")
    except RuntimeError as err:
        return [*rows, failed("7", "serve for scenario 7", "", str(err))]
    try:
        _, _, files = client_context(data_dir, started.server.kubeconfig)
        rows += burst_and_watch(started.server, files, count)
        rows.append(kubectl_list(started.server, count, tmp / "kubectl-cache"))
    except (RuntimeError, subprocess.SubprocessError, OSError) as err:
        rows.append(failed("7", "list and watch", "", f"{type(err).__name__}: {err}"))
    finally:
        stop_serve(started.server)
    try:
        rows.append(restart(data_dir, tmp / "s9-restart.log", count))
    except RuntimeError as err:
        rows.append(failed("9", "serve restart", "≤ 5 s", str(err)))
    return sorted(rows, key=lambda row: row.scenario)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="1,000 objects")
    args = parser.parse_args()
    count = 1_000 if args.quick else args.objects
    with tempfile.TemporaryDirectory() as tmp:
        rows = scenarios_7_and_9(Path(tmp), count)
    for row in rows:
        figure = "-" if row.figure is None else f"{row.figure:,.2f}"
        print(f"{row.scenario:>2} {row.name:<66} {figure:>10} {row.unit:<8} {row.detail}")


if __name__ == "__main__":
    main()
