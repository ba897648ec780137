"""ACME end to end: N certificates by HTTP-01 from one real pebble, certsmith serve vs certbot.

Issue 9, scenario 8. One pebble (Debian 2.4, ``PEBBLE_VA_NOSLEEP=1``, no nonce rejection, no
authorization reuse) serves every run of one invocation, one run after another:

* **certsmith**: a real ``certsmith serve`` subprocess answering HTTP-01 itself
  (``--acme-http01-listen`` on pebble's ``httpPort``), with an ACME Issuer registered before
  the clock starts. This process (the client, separate from serve) creates Certificates
  (ECDSA P-256, one DNS name each) over HTTPS and follows them with watches: N one after
  another (create, wait for Ready, next), then N more with at most P in flight. A
  Certificate's time runs from sending its create to the watch event that shows it Ready.
  Two configurations, each in a fresh ``serve``: ``default`` (cert-manager's HTTP-01
  self-check, five GETs two seconds apart, what a user gets) and ``no-self-check`` (the
  solver's ``waitInsteadOfSelfCheck: 0s``: accept at once, as certbot does).
* **certbot** (PyPI ``certbot``, its ``standalone`` authenticator): N ``certbot certonly``
  commands one after another, each binding pebble's ``httpPort`` itself; the account is
  registered before the clock starts. Timed per command, process start included (that is
  what a certbot user pays); the start alone (``certbot --version``) is reported too.
  certbot has no parallel mode (one standalone server per port, one lock per config dir).

Fairness: the same pebble, the same kind of key (certbot's default is ECDSA P-256 too), one
name per certificate, fresh names in every run (nothing reused), pebble's ``httpPort`` bound
only by the client being measured (serve is stopped before certbot starts). Both sides run
under the same ``nice`` as this script.

The watch also records when each CertificateRequest, Order and Challenge changed state; for
the sequential runs the script prints the median time per stage, which says where a
certificate's time goes. Results: a table on stdout and ``bench/results/<date>-acme.json``
with the machine's facts. A missing peer (pebble, pebble-challtestsrv, certbot) is reported
as such and the script exits 1 after running what it can.

Run: ``nice -n 10 .venv/bin/python bench/acme_bench.py [--certificates N] [--parallel P]
[--configs default,no-self-check] [--skip-certbot] [--py-spy DIR] [--output FILE]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from apiserver_bench import cpu_seconds, machine_facts  # noqa: E402
from tests.e2e.acmetools import acme_issuer, certificate, serve_for_pebble  # noqa: E402
from tests.e2e.procs import Serve  # noqa: E402
from tests.peers.pebble import CHALLTESTSRV, PEBBLE, Pebble, running_pebble  # noqa: E402

from certsmith.client.errors import ClientError  # noqa: E402
from certsmith.client.http import HttpKubeClient  # noqa: E402
from certsmith.client.protocol import WatchEventType  # noqa: E402
from certsmith.client.resources import (  # noqa: E402
    CERTIFICATE_REQUESTS,
    CERTIFICATES,
    CHALLENGES,
    ISSUERS,
    ORDERS,
    ResourceRef,
)

NAMESPACE = "default"
CERTBOT = Path(sys.executable).parent / "certbot"
TARGET_PER_CERT = 0.3
TARGET_RATIO = 0.15
CONFIGS = {"default": None, "no-self-check": "0s"}
READY_TIMEOUT = 300.0

# --- what the watches saw --------------------------------------------------------------------


def _ready(obj: dict[str, Any]) -> str:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return f"Ready={cond.get('status')}/{cond.get('reason')}"
    return "Ready=?"


def _summary(resource: ResourceRef, obj: dict[str, Any]) -> str:
    """The part of an object's state the stage timeline follows."""
    status = obj.get("status") or {}
    if resource is ORDERS:
        return f"state={status.get('state') or '-'}"
    if resource is CHALLENGES:
        return (
            f"state={status.get('state') or '-'} processing={bool(status.get('processing'))} "
            f"presented={bool(status.get('presented'))}"
        )
    return _ready(obj)


@dataclass
class Timeline:
    """First time (``perf_counter``) each object was seen in each summarised state."""

    seen: dict[tuple[str, str, str], float] = field(default_factory=dict)
    ready: dict[str, asyncio.Future[float]] = field(default_factory=dict)

    def record(self, resource: ResourceRef, obj: dict[str, Any], at: float) -> None:
        name = str((obj.get("metadata") or {}).get("name"))
        summary = _summary(resource, obj)
        self.seen.setdefault((resource.plural, name, summary), at)
        if resource is CERTIFICATES and summary.startswith("Ready=True"):
            future = self.ready.get(name)
            if future is not None and not future.done():
                future.set_result(at)

    def first(self, plural: str, prefix: str, predicate: str = "") -> float | None:
        """When an object of ``plural`` named ``prefix…`` was first seen with ``predicate``.

        A ``prefix`` ending in ``-`` matches the objects named after a Certificate (its
        request ``<name>-<revision>``, their Orders and Challenges); any other is exact.
        """
        times = [
            at
            for (kind, name, summary), at in self.seen.items()
            if kind == plural
            and (name.startswith(prefix) if prefix.endswith("-") else name == prefix)
            and predicate in summary
        ]
        return min(times) if times else None


@contextlib.asynccontextmanager
async def watching(client: HttpKubeClient, timeline: Timeline) -> AsyncIterator[None]:
    """Watch Certificates, requests, Orders and Challenges into ``timeline``."""

    async def one(resource: ResourceRef) -> None:
        page = await client.list(resource, NAMESPACE)
        rv = page.resource_version
        while True:
            async for event in client.watch(resource, NAMESPACE, resource_version=rv):
                rv = event.resource_version or rv
                if event.type in (WatchEventType.ADDED, WatchEventType.MODIFIED):
                    timeline.record(resource, event.object, time.perf_counter())

    tasks = [
        asyncio.create_task(one(r))
        for r in (CERTIFICATES, CERTIFICATE_REQUESTS, ORDERS, CHALLENGES)
    ]
    await asyncio.sleep(0.5)  # let every watch open before anything is created
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# --- certsmith -------------------------------------------------------------------------------


def issuer(name: str, pebble: Pebble, wait: str | None) -> dict[str, Any]:
    solver: dict[str, Any] = {"http01": {"ingress": {}}}
    if wait is not None:
        solver["waitInsteadOfSelfCheck"] = wait
    return acme_issuer(name, pebble, solvers=[solver], email="bench@example.test")


def bench_certificate(name: str, issuer_name: str) -> dict[str, Any]:
    key = {"algorithm": "ECDSA", "size": 256}
    return certificate(name, issuer_name, [f"{name}.example.test"], privateKey=key)


async def wait_issuer_ready(client: HttpKubeClient, name: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        obj = await client.get(ISSUERS, NAMESPACE, name)
        if _ready(obj).startswith("Ready=True"):
            return
        await asyncio.sleep(0.1)
    raise SystemExit(f"Issuer {name} not Ready after {seconds}s: {obj.get('status')}")


async def obtain(client: HttpKubeClient, timeline: Timeline, name: str, issuer_name: str) -> float:
    """Create one Certificate and wait for Ready; seconds from the create to Ready."""
    future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
    timeline.ready[name] = future
    timeline.seen[("start", name, "")] = started = time.perf_counter()
    await client.create(CERTIFICATES, NAMESPACE, bench_certificate(name, issuer_name))
    try:
        return await asyncio.wait_for(future, READY_TIMEOUT) - started
    except TimeoutError:
        obj = await client.get(CERTIFICATES, NAMESPACE, name)
        raise SystemExit(
            f"Certificate {name} not Ready after {READY_TIMEOUT}s: {obj['status']}"
        ) from None


STAGES = (
    # (label, plural, name suffix, state predicate): times between consecutive milestones.
    ("create sent", "start", "", ""),
    ("CertificateRequest created", "certificaterequests", "-", ""),
    ("Order created", "orders", "-", ""),
    ("Challenge created", "challenges", "-", ""),
    ("Challenge picked (processing)", "challenges", "-", "processing=True"),
    ("Challenge presented (0: same write as valid)", "challenges", "-", "presented=True"),
    ("Challenge valid (accepted, authorized)", "challenges", "-", "state=valid"),
    ("Order valid (certificate downloaded)", "orders", "-", "state=valid"),
    ("CertificateRequest Ready", "certificaterequests", "-", "Ready=True"),
    ("Certificate Ready (Secret written)", "certificates", "", "Ready=True"),
)


def stage_breakdown(timeline: Timeline, names: list[str]) -> list[dict[str, Any]]:
    """Median seconds between consecutive milestones over ``names``."""
    gaps: dict[str, list[float]] = {label: [] for label, *_ in STAGES[1:]}
    for name in names:
        times = [timeline.first(plural, name + suffix, pred) for _, plural, suffix, pred in STAGES]
        for (label, *_), before, after in zip(STAGES[1:], times[:-1], times[1:], strict=True):
            if before is not None and after is not None:
                gaps[label].append(after - before)
    return [
        {
            "stage": label,
            "median_seconds": round(statistics.median(values), 3) if values else None,
            "max_seconds": round(max(values), 3) if values else None,
        }
        for label, values in gaps.items()
    ]


@dataclass
class Run:
    who: str
    mode: str
    per_cert: list[float]
    total: float
    stages: list[dict[str, Any]] = field(default_factory=list)
    serve_cpu: float | None = None
    work: dict[str, float] = field(default_factory=dict)
    """Reconciles per controller and ACME requests, per certificate (from serve's metrics)."""
    """Seconds of CPU (user + system) the serve process used during the run."""

    def as_json(self) -> dict[str, Any]:
        cpu = None if self.serve_cpu is None else round(self.serve_cpu, 3)
        return {
            "client": self.who,
            "mode": self.mode,
            "certificates": len(self.per_cert),
            "total_seconds": round(self.total, 3),
            "seconds_per_certificate": round(self.total / len(self.per_cert), 3),
            "per_certificate_seconds": {
                "median": round(statistics.median(self.per_cert), 3),
                "min": round(min(self.per_cert), 3),
                "max": round(max(self.per_cert), 3),
                "all": [round(t, 3) for t in self.per_cert],
            },
            "stages_median": self.stages,
            "serve_cpu_seconds": cpu,
            "serve_work_per_certificate": self.work,
        }


async def counters(client: HttpKubeClient) -> Counter[str]:
    """serve's reconcile counts per controller and its ACME request count, from /metrics."""
    config = client.config
    verify: Any = config.ssl_context if config.ssl_context is not None else True
    async with httpx.AsyncClient(base_url=config.server, verify=verify, timeout=30) as http:
        response = await http.get("/metrics")
        response.raise_for_status()
    found: Counter[str] = Counter()
    for line in response.text.splitlines():
        if line.startswith("certmanager_controller_sync_call_count{"):
            controller = re.search(r'controller="([^"]+)"', line)
            if controller is not None:
                found[f"reconciles: {controller.group(1)}"] += int(float(line.rsplit(" ", 1)[1]))
        elif line.startswith("certmanager_http_acme_client_request_count{"):
            found["ACME requests"] += int(float(line.rsplit(" ", 1)[1]))
    return found


def per_certificate(before: Counter[str], after: Counter[str], count: int) -> dict[str, float]:
    """What ``after - before`` comes to per certificate, largest first."""
    diff = after - before
    return {key: round(value / count, 2) for key, value in diff.most_common()}


RAW_TO = ("--format", "raw", "--output")


@contextlib.contextmanager
def py_spy(pid: int, out: Path | None) -> Iterator[None]:
    """``py-spy record`` of ``pid`` into ``out`` (collapsed stacks) for the block, if asked."""
    if out is None:
        yield
        return
    spy = Path(sys.executable).parent / "py-spy"
    process = subprocess.Popen(
        [str(spy), "record", "--pid", str(pid), "--subprocesses", *RAW_TO, str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        process.wait(timeout=60)


async def certsmith_runs(
    serve: Serve, pebble: Pebble, config: str, count: int, parallel: int, profile: Path | None
) -> list[Run]:
    issuer_name = "bench"
    pid = serve.process.pid if serve.process is not None else 0
    async with HttpKubeClient.from_kubeconfig(serve.kubeconfig, qps=1000, burst=1000) as client:
        await client.create(ISSUERS, NAMESPACE, issuer(issuer_name, pebble, CONFIGS[config]))
        await wait_issuer_ready(client, issuer_name)
        timeline = Timeline()
        async with watching(client, timeline):
            names = [f"seq{i}" for i in range(count)]
            per_cert: list[float] = []
            cpu, work = cpu_seconds(pid), await counters(client)
            started = time.perf_counter()
            with py_spy(pid, None if profile is None else profile / f"{config}-sequential.txt"):
                for name in names:
                    per_cert.append(await obtain(client, timeline, name, issuer_name))
            sequential = Run(
                "certsmith",
                f"{config}, sequential",
                per_cert,
                time.perf_counter() - started,
                stage_breakdown(timeline, names),
                cpu_seconds(pid) - cpu,
                per_certificate(work, await counters(client), count),
            )
            print(f"  certsmith {config}, sequential: {sequential.total:.2f} s", flush=True)

            gate = asyncio.Semaphore(parallel)

            async def limited(name: str) -> float:
                async with gate:
                    return await obtain(client, timeline, name, issuer_name)

            cpu, work = cpu_seconds(pid), await counters(client)
            started = time.perf_counter()
            times = await asyncio.gather(*(limited(f"par{i}") for i in range(count)))
            concurrent = Run(
                "certsmith",
                f"{config}, {parallel} in parallel",
                list(times),
                time.perf_counter() - started,
                stage_breakdown(timeline, [f"par{i}" for i in range(count)]),
                cpu_seconds(pid) - cpu,
                per_certificate(work, await counters(client), count),
            )
            print(f"  certsmith {config}, {parallel} in parallel: {concurrent.total:.2f} s")
        return [sequential, concurrent]


def run_certsmith(
    tmp: Path, pebble: Pebble, config: str, count: int, parallel: int, profile: Path | None
) -> tuple[list[Run], dict[str, int]]:
    """One fresh ``certsmith serve`` for ``config``; stopped (port freed) before returning.

    Also returns how often serve's log says a reconcile was retried, by kind of retry.
    """
    with serve_for_pebble(tmp / f"certsmith-{config}", pebble) as serve:
        runs = asyncio.run(certsmith_runs(serve, pebble, config, count, parallel, profile))
        log = serve.log()
    retries = {
        "conflict (409) retried": log.count("409 Conflict"),
        "changed while reconciling": log.count("changed while reconciling"),
        "reconcile failed": log.count("reconcile failed"),
    }
    return runs, retries


# --- certbot ---------------------------------------------------------------------------------


def run_certbot(tmp: Path, pebble: Pebble, count: int) -> tuple[Run, float, str]:
    """N ``certbot certonly --standalone`` one after another; (run, start-up s, version)."""
    base = [
        str(CERTBOT),
        "--config-dir",
        str(tmp / "certbot" / "config"),
        "--work-dir",
        str(tmp / "certbot" / "work"),
        "--logs-dir",
        str(tmp / "certbot" / "logs"),
        "--non-interactive",
        "--server",
        pebble.directory_url,
    ]
    env = {**os.environ, "REQUESTS_CA_BUNDLE": str(pebble.ca_bundle_path)}

    def certbot(*args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*base, *args], env=env, capture_output=True, text=True, check=False, timeout=300
        )
        if result.returncode != 0:
            raise SystemExit(f"certbot {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    version = subprocess.run(
        [str(CERTBOT), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    startups = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([str(CERTBOT), "--version"], capture_output=True, check=True)
        startups.append(time.perf_counter() - started)
    certbot("register", "--agree-tos", "-m", "bench@example.test")
    per_cert = []
    started = time.perf_counter()
    for i in range(count):
        one = time.perf_counter()
        certbot(
            "certonly",
            "--standalone",
            "--http-01-address",
            "127.0.0.1",
            "--http-01-port",
            str(pebble.http_port),
            "--key-type",
            "ecdsa",
            "--elliptic-curve",
            "secp256r1",
            "-d",
            f"certbot{i}.example.test",
        )
        per_cert.append(time.perf_counter() - one)
    run = Run("certbot", "standalone, sequential", per_cert, time.perf_counter() - started)
    print(f"  certbot, sequential: {run.total:.2f} s", flush=True)
    return run, statistics.median(startups), version


# --- peers, facts, report --------------------------------------------------------------------


def missing_peers(skip_certbot: bool) -> list[str]:
    missing = []
    for binary, package in ((PEBBLE, "Debian pebble"), (CHALLTESTSRV, "Debian pebble")):
        if shutil.which(binary) is None:
            missing.append(f"{binary} (install {package}: scripts/install.sh)")
    if not skip_certbot and not CERTBOT.exists():
        missing.append(f"certbot ({CERTBOT} absent: pip install -e '.[dev]')")
    return missing


def peer_facts() -> dict[str, Any]:
    def dpkg(package: str) -> str:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", package],
            capture_output=True,
            text=True,
            check=False,
        )
        return out.stdout.strip() or "unknown"

    facts: dict[str, Any] = {"pebble": dpkg("pebble")}
    try:
        from importlib.metadata import version

        facts["certbot"] = version("certbot")
        facts["acme"] = version("acme")
    except Exception as exc:
        facts["certbot"] = f"unknown ({exc})"
    facts["nice"] = os.nice(0)
    return facts


def fmt(run: Run) -> str:
    per = run.as_json()["per_certificate_seconds"]
    return (
        f"| {run.who:<9} | {run.mode:<30} | {len(run.per_cert):>3} | {run.total:8.2f} s "
        f"| {run.total / len(run.per_cert):7.3f} s | {per['median']:7.3f} s "
        f"| {per['min']:6.3f}-{per['max']:.3f} s |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--certificates", type=int, default=20)
    parser.add_argument("--parallel", type=int, default=10)
    parser.add_argument(
        "--configs",
        default=",".join(CONFIGS),
        help=f"certsmith configurations to run, comma-separated ({', '.join(CONFIGS)})",
    )
    parser.add_argument("--skip-certbot", action="store_true", help="run certsmith only")
    parser.add_argument(
        "--py-spy",
        type=Path,
        metavar="DIR",
        help="record serve with py-spy during each sequential run (collapsed stacks in DIR)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=ROOT / "bench" / "results" / f"{dt.date.today().isoformat()}-acme.json",
        help="where the JSON results go (default: bench/results/<date>-acme.json)",
    )
    args = parser.parse_args()
    if args.py_spy is not None:
        args.py_spy.mkdir(parents=True, exist_ok=True)
    configs = [c for c in args.configs.split(",") if c]
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        parser.error(f"unknown configuration(s): {', '.join(unknown)}")
    missing = missing_peers(args.skip_certbot)
    for peer in missing:
        print(f"MISSING PEER: {peer}", file=sys.stderr)
    if any(p.startswith(PEBBLE) for p in missing):
        print("no pebble: nothing to measure", file=sys.stderr)
        return 1
    facts = {**machine_facts(), **peer_facts()}
    runs: list[Run] = []
    retries: dict[str, dict[str, int]] = {}
    certbot_startup = None
    n, p = args.certificates, args.parallel
    try:
        with (
            tempfile.TemporaryDirectory() as tmp_name,
            running_pebble(Path(tmp_name) / "pebble") as pebble,
        ):
            tmp = Path(tmp_name)
            print(f"pebble {facts['pebble']}, HTTP-01 on 127.0.0.1:{pebble.http_port}", flush=True)
            for config in configs:
                config_runs, retries[config] = run_certsmith(tmp, pebble, config, n, p, args.py_spy)
                runs += config_runs
            if not args.skip_certbot and CERTBOT.exists():
                run, certbot_startup, facts["certbot_version"] = run_certbot(tmp, pebble, n)
                runs.append(run)
    except ClientError as exc:
        raise SystemExit(f"the API server refused or failed: {exc}") from exc

    print()
    print(
        "| client    | mode                           |   N |    total   | per cert  "
        "|  median   |  min-max        |"
    )
    print("|---|---|---|---|---|---|---|")
    for run in runs:
        print(fmt(run))
    certbot_run = next((r for r in runs if r.who == "certbot"), None)
    ratios: dict[str, float] = {}
    for run in runs:
        if run.who == "certsmith" and certbot_run is not None and "sequential" in run.mode:
            ratios[run.mode] = round(run.total / certbot_run.total, 3)
    print()
    print(
        f"targets (issue 9, scenario 8): ≤ {TARGET_PER_CERT} s per certificate sequential, "
        f"ratio to certbot ≤ {TARGET_RATIO}"
    )
    for run in runs:
        if run.who == "certsmith" and "sequential" in run.mode:
            per = run.total / len(run.per_cert)
            ratio = ratios.get(run.mode)
            ratio_text = "no certbot run" if ratio is None else f"{ratio:.3f}"
            met = per <= TARGET_PER_CERT and ratio is not None and ratio <= TARGET_RATIO
            print(
                f"  certsmith {run.mode}: {per:.3f} s per certificate, certsmith/certbot "
                f"{ratio_text} → {'met' if met else 'NOT met'}"
            )
    for run in runs:
        if run.serve_cpu is not None:
            print(
                f"  serve CPU, certsmith {run.mode}: {run.serve_cpu:.2f} s "
                f"({run.serve_cpu / len(run.per_cert):.3f} s per certificate)"
            )
    for run in runs:
        if run.work:
            print(
                f"  serve work per certificate, certsmith {run.mode}: "
                + ", ".join(f"{k} {v}" for k, v in run.work.items())
            )
    for config, counts in retries.items():
        print(f"  serve log, {config}: " + ", ".join(f"{k}: {v}" for k, v in counts.items()))
    if certbot_startup is not None:
        print(f"  certbot process start alone (certbot --version): {certbot_startup:.2f} s")
    for run in runs:
        if run.stages:
            print(f"\nwhere a certificate's time goes, certsmith {run.mode} (median, max):")
            for stage in run.stages:
                print(
                    f"  → {stage['stage']:<46} {stage['median_seconds']} s"
                    f" (max {stage['max_seconds']} s)"
                )
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "scenario": "issue 9 #8: certificates by HTTP-01 from pebble, certsmith serve vs certbot",
        "machine": facts,
        "missing_peers": missing,
        "targets": {"seconds_per_certificate": TARGET_PER_CERT, "ratio": TARGET_RATIO},
        "runs": [r.as_json() for r in runs],
        "serve_log_retries": retries,
        "ratio_certsmith_over_certbot_sequential": ratios,
        "certbot_process_start_seconds": (
            None if certbot_startup is None else round(certbot_startup, 3)
        ),
    }
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten: {args.output}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
