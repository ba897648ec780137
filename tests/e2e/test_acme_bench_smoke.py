"""A reduced run of ``bench/acme_bench.py``, so the benchmark keeps working (no timings judged)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

BENCH = Path(__file__).resolve().parents[2] / "bench" / "acme_bench.py"


def test_acme_bench_obtains_certificates_with_certsmith_and_certbot_and_writes_results(
    tmp_path: Path,
) -> None:
    out = tmp_path / "acme.json"
    result = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--certificates",
            "2",
            "--parallel",
            "2",
            "--configs",
            "no-self-check",
            "--output",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["missing_peers"] == []
    modes = [(run["client"], run["mode"], run["certificates"]) for run in data["runs"]]
    assert modes == [
        ("certsmith", "no-self-check, sequential", 2),
        ("certsmith", "no-self-check, 2 in parallel", 2),
        ("certbot", "standalone, sequential", 2),
    ]
    sequential = data["runs"][0]
    assert [s["median_seconds"] is not None for s in sequential["stages_median"]] == [True] * 9
    assert sequential["serve_work_per_certificate"]["ACME requests"] > 0
    assert set(data["ratio_certsmith_over_certbot_sequential"]) == {"no-self-check, sequential"}
    assert {"cpus", "python", "openssl", "sqlite", "pebble", "certbot"} <= set(data["machine"])
