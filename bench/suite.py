"""Issue 9's benchmark suite: every scenario, its target, pass/miss and the peer ratios.

Each scenario runs against a real ``certsmith serve`` subprocess; the clients are this process
or client processes it starts. Scenarios and where they live:

* 1 and 4: ``bench/requests_bench.py`` (1's peer, ``cfssl serve``, in ``bench/cfssl_peer.py``)
* 2, 3, 5, 6: ``bench/certificates_bench.py`` (its ``run``, called with the issue's sizes)
* 7 and 9: ``bench/scale_bench.py``
* 8: ``bench/acme_bench.py`` (its command line; it writes ``<date>-acme.json``, read back here)

Peers are installed by ``bench/setup.sh`` (``make bench`` runs it). A missing peer or scenario
module is a ``missing`` row in the table, never a silent skip; a scenario that breaks is a
``failed`` row with the reason. The table goes to stdout and, with the machine's facts, to
``bench/results/<date>.json`` (``<date>-quick.json`` with ``--quick``, which runs small sizes
in a few minutes; ``--only 1,4`` runs a subset and marks the rest ``not run``).

Run: ``nice -n 10 .venv/bin/python bench/suite.py [--quick] [--only 1,4,7,9]``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cryptography

sys.path.insert(0, str(Path(__file__).resolve().parent))
import certificates_bench
from apiserver_bench import REPO, machine_facts
from requests_bench import scenario_1, scenario_4
from scale_bench import scenarios_7_and_9
from suitelib import Row, at_least, at_most, failed, load_average, missing

ALL = ["1", "2", "3", "4", "5", "6", "7", "8", "9"]


@dataclasses.dataclass(frozen=True)
class Sizes:
    requests: int  # scenario 1
    latencies: int  # scenario 4
    objects: int  # scenarios 7 and 9
    ecdsa: int  # scenario 2 (and 6's idle set)
    rsa: int  # scenario 3
    rsa_memory: int  # scenario 5
    idle_seconds: float  # scenario 6
    acme: int  # scenario 8
    acme_parallel: int


FULL = Sizes(10_000, 200, 10_000, 10_000, 1_000, 10_000, 60, 20, 10)
QUICK = Sizes(300, 30, 500, 50, 10, 10, 5, 3, 3)


# --- scenarios 2, 3, 5, 6: certificates_bench ----------------------------------------------


def run_certificates(
    tmp: Path, sizes: Sizes, *, ecdsa: int, rsa: int, idle: float
) -> dict[str, dict[str, Any]] | str:
    """One ``certificates_bench.run`` (A: ``ecdsa``, idle, B: ``rsa``) in its own serve: its
    figures by label, or why it failed."""
    tmp.mkdir(parents=True, exist_ok=True)
    args = argparse.Namespace(
        certificates=ecdsa,
        rsa=rsa,
        idle_seconds=idle,
        keygen_seconds=2 if sizes is QUICK else 5,
        timeout=3600,
        quick=False,
        py_spy=None,
        py_spy_idle=False,
        no_save=True,
    )
    try:
        document = asyncio.run(certificates_bench.run(args, tmp))
    except (SystemExit, Exception) as err:
        return f"certificates_bench.run: {type(err).__name__}: {err}"
    return {r["scenario"]: r for r in document["results"]}


def certificates_rows(tmp: Path, sizes: Sizes, wanted: set[str]) -> list[Row]:
    """Scenarios 2, 3, 6 from one serve (A ECDSA, idle, B RSA), 5 from another (its RSA set).

    Scenario 5 asks for memory with ``rsa_memory`` RSA Certificates issued, scenario 3 for
    ``rsa`` at once; when the sizes are equal (``--quick``) one run serves both.
    """
    rows: list[Row] = []
    first = wanted & {"2", "3", "6"} or (wanted & {"5"} and sizes.rsa_memory == sizes.rsa)
    runs: dict[str, dict[str, dict[str, Any]] | str] = {}
    if first:
        runs["first"] = run_certificates(
            tmp / "first",
            sizes,
            ecdsa=sizes.ecdsa if wanted & {"2", "6"} else 0,
            rsa=sizes.rsa if wanted & {"3", "5"} else 0,
            idle=sizes.idle_seconds if "6" in wanted else 0,
        )
    five = "memory" if sizes.rsa_memory != sizes.rsa else "first"
    if "5" in wanted and five == "memory":
        runs["memory"] = run_certificates(
            tmp / "memory", sizes, ecdsa=0, rsa=sizes.rsa_memory, idle=0
        )
    sized = {
        "first": f"N={sizes.ecdsa if wanted & {'2', '6'} else 0} ECDSA, "
        f"K={sizes.rsa if wanted & {'3', '5'} else 0} RSA in one serve",
        "memory": f"{sizes.rsa_memory} RSA-2048 Certificates in their own serve",
    }
    entries: list[tuple[str, str, str, str, str, Callable[[float], bool]]] = [
        ("2", "first", "A ECDSA P-256: Certificates Ready",
         "ECDSA P-256 Certificates Ready with Secrets", "≥ 250/s", lambda f: at_least(f, 250)),
        ("3", "first", "B RSA-2048: achieved / keygen limit",
         "RSA-2048 Certificates vs keygen limit", "≥ 80% of keygen", lambda f: at_least(f, 80)),
        ("5", five, "B RSA-2048: server peak RSS (VmHWM)",
         "serve peak RSS with the RSA set issued", "serve ≤ 400 MiB", lambda f: at_most(f, 400)),
        ("5", five, "B RSA-2048: controllers' peak RSS (VmHWM)",
         "controllers' peak RSS with the RSA set issued", "controllers ≤ 150 MiB",
         lambda f: at_most(f, 150)),
        ("6", "first", "idle: server CPU", "idle serve CPU with the ECDSA set issued",
         "≤ 0.5% of a core", lambda f: at_most(f, 0.5)),
    ]  # fmt: skip
    for number, run, label, name, target, check in entries:
        if number not in wanted:
            continue
        found = runs[run]
        if isinstance(found, str):
            rows.append(failed(number, name, target, found))
            continue
        result = found.get(label)
        if result is None:
            rows.append(failed(number, name, target, f"certificates_bench gave no {label!r}"))
            continue
        value = float(result["figure"])
        ratio = ""
        if number == "3":
            keygen = found.get("RSA-2048 keygen, 2 processes")
            ratio = f"keygen {keygen['figure']:.1f} keys/s" if keygen else ""
        detail = f"{result.get('detail', '')}; {sized[run]}".strip("; ")
        rows.append(Row(number, name, value, result["unit"], target, check(value), ratio, detail))
    return rows


# --- scenario 8: acme_bench ----------------------------------------------------------------

ACME_TARGET = "≤ 0.3 s/cert sequential; ratio to certbot ≤ 0.15"


def acme_rows(sizes: Sizes, tmp: Path) -> list[Row]:
    script = REPO / "bench" / "acme_bench.py"
    if not script.exists():
        return [
            missing("8", "ACME by HTTP-01 vs certbot", ACME_TARGET, "bench/acme_bench.py missing")
        ]
    out = tmp / "acme.json"  # not acme_bench's default bench/results/<date>-acme.json
    command = [sys.executable, str(script), "--certificates", str(sizes.acme)]
    command += ["--parallel", str(sizes.acme_parallel), "--output", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600, check=False)
    if not out.exists():
        tail = (done.stderr or done.stdout)[-600:]
        return [failed("8", "ACME by HTTP-01 vs certbot", ACME_TARGET, f"no results: {tail}")]
    document = json.loads(out.read_text())
    rows = [
        missing("8", f"peer {peer}", "", "not installed")
        for peer in document.get("missing_peers", [])
    ]
    ratios = document.get("ratio_certsmith_over_certbot_sequential", {})
    for run in document.get("runs", []):
        per = float(run["seconds_per_certificate"])
        detail = f"{run['certificates']} certificates in {run['total_seconds']} s"
        name = f"{run['client']} {run['mode']}"
        if run["client"] == "certsmith" and "sequential" in run["mode"]:
            ratio = ratios.get(run["mode"])
            passed = at_most(per, 0.3) and ratio is not None and at_most(ratio, 0.15)
            ratio_text = "certbot missing" if ratio is None else f"{ratio:.3f} x certbot"
            rows.append(Row("8", name, per, "s/cert", ACME_TARGET, passed, ratio_text, detail))
        else:
            rows.append(Row("8", name, per, "s/cert", "", None, "", detail))
    if not rows:
        rows.append(failed("8", "ACME by HTTP-01 vs certbot", ACME_TARGET, "no runs in results"))
    return rows


# --- the table and the results file ----------------------------------------------------------


def machine() -> dict[str, Any]:
    facts = machine_facts()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            facts["cpu_model"] = line.partition(":")[2].strip()
            break
    facts["cryptography"] = cryptography.__version__
    git = ["git", "-C", str(REPO)]
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run([*git, "status", "--porcelain", "--", "src"], capture_output=True)
    facts["certsmith_commit"] = commit.stdout.strip()
    facts["certsmith_src_modified"] = bool(dirty.stdout.strip())
    return facts


def verdict(row: Row) -> str:
    if row.status != "measured":
        return row.status.upper()
    if row.passed is None:
        return ""
    return "pass" if row.passed else "MISS"


def print_table(rows: list[Row]) -> None:
    print()
    print(f"{'#':>2}  {'scenario':<62} {'figure':>12}  {'min-max':<17} {'target':<34} "
          f"{'':<7} ratio to peer")  # fmt: skip
    for row in rows:
        figure = "-" if row.figure is None else f"{row.figure:,.2f} {row.unit}"
        spread = ""
        if row.samples:
            spread = f"{min(row.samples):,.1f}-{max(row.samples):,.1f}"
        print(f"{row.scenario:>2}  {row.name[:62]:<62} {figure:>12}  {spread:<17} "
              f"{row.target[:34]:<34} {verdict(row):<7} {row.ratio}")  # fmt: skip
        if row.detail:
            print(f"{'':>4}{row.detail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a few minutes)")
    parser.add_argument("--only", default=",".join(ALL), help="scenarios, e.g. 1,4,7,9")
    parser.add_argument(
        "--output", type=Path, help="results file (default bench/results/<date>.json)"
    )
    args = parser.parse_args()
    wanted = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = wanted - set(ALL)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    sizes = QUICK if args.quick else FULL
    facts = machine()
    started = time.perf_counter()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        for sub in ("s1", "certificates", "s4", "s79"):
            (tmp / sub).mkdir()
        if "1" in wanted:
            rows += scenario_1(tmp / "s1", sizes.requests)
        if wanted & {"2", "3", "5", "6"}:
            rows += certificates_rows(tmp / "certificates", sizes, wanted)
        if "4" in wanted:
            rows += scenario_4(tmp / "s4", sizes.latencies)
        if wanted & {"7", "9"}:
            rows += [r for r in scenarios_7_and_9(tmp / "s79", sizes.objects)
                     if r.scenario in wanted]  # fmt: skip
        if "8" in wanted:
            rows += acme_rows(sizes, tmp)
    for number in sorted(set(ALL) - wanted):
        rows.append(Row(number, "not run (--only)", None, "", status="not run"))
    rows.sort(key=lambda row: row.scenario)
    facts["load_average_after"] = load_average()
    facts["suite_seconds"] = round(time.perf_counter() - started, 1)
    print_table(rows)
    today = dt.date.today().isoformat()
    out_dir = REPO / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = args.output or out_dir / f"{today}{'-quick' if args.quick else ''}.json"
    document = {
        "date": today,
        "benchmark": "bench/suite.py",
        "quick": args.quick,
        "scenarios_run": sorted(wanted),
        "sizes": dataclasses.asdict(sizes),
        "machine": facts,
        "rows": [dataclasses.asdict(row) | {"verdict": verdict(row)} for row in rows],
    }
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwritten: {path} ({facts['suite_seconds']} s)")


if __name__ == "__main__":
    main()
