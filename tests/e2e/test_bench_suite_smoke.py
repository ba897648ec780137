"""A reduced run of ``bench/suite.py``, so the issue 9 suite keeps working (no timings judged)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

SUITE = Path(__file__).resolve().parents[2] / "bench" / "suite.py"


def test_suite_runs_scenario_4_against_serve_and_writes_rows_with_machine_facts(
    tmp_path: Path,
) -> None:
    out = tmp_path / "suite.json"
    result = subprocess.run(
        [sys.executable, str(SUITE), "--quick", "--only", "4", "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = json.loads(out.read_text())
    rows = {(row["scenario"], row["name"]): row for row in data["rows"]}
    measured = [row for (number, _), row in rows.items() if number == "4"]
    assert [row["status"] for row in measured] == ["measured", "measured"]
    assert all(row["figure"] > 0 and row["verdict"] in ("pass", "MISS") for row in measured)
    assert len(measured[0]["samples"]) == data["sizes"]["latencies"]
    others = {number for number, _ in rows} - {"4"}
    assert others == {"1", "2", "3", "5", "6", "7", "8", "9"}
    assert all(row["status"] == "not run" for (n, _), row in rows.items() if n != "4")
    facts = {"cpus", "cpu_model", "python", "openssl", "sqlite", "cryptography", "certsmith_commit"}
    assert facts <= set(data["machine"])
