"""The metrics flags of real ``certsmith serve`` and ``certsmith controller`` processes."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.procs import Serve, controller_proc
from tests.servertools import free_port, wait_until

pytestmark = pytest.mark.e2e


def families(text: str) -> dict[str, object]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.TransportError:
        return False  # not listening yet


def test_serve_answers_kubectl_get_raw_metrics_and_its_plain_http_listener(tmp_path: Path):
    port = free_port()
    serve = Serve(tmp_path / "data", tmp_path, ["--metrics-listen-address", f"127.0.0.1:{port}"])
    serve.start()
    try:
        raw = serve.kubectl("get", "--raw", "/metrics").stdout
        plain = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    finally:
        assert serve.stop() == 0
    assert "certmanager_clock_time_seconds_gauge" in families(raw)
    assert plain.status_code == 200
    assert plain.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "certmanager_controller_sync_call_count" in families(plain.text)


def test_controller_serves_metrics_livez_and_readyz_on_its_flags(tmp_path: Path):
    serve = Serve(tmp_path / "data", tmp_path, ["--controllers=none"])
    serve.start()
    metrics, health = free_port(), free_port()
    controller = controller_proc(
        "controller",
        serve,
        tmp_path,
        f"--metrics-listen-address=127.0.0.1:{metrics}",
        f"--health-probe-bind-address=127.0.0.1:{health}",
    )
    controller.start()
    try:
        wait_until(lambda: answers(f"http://127.0.0.1:{health}/readyz"), timeout=30)
        livez = httpx.get(f"http://127.0.0.1:{health}/livez", timeout=5)
        scraped = httpx.get(f"http://127.0.0.1:{metrics}/metrics", timeout=5)
    finally:
        codes = (controller.stop(), serve.stop())
    assert codes == (0, 0), controller.log()
    assert (livez.status_code, livez.text) == (200, "ok")
    found = families(scraped.text)
    assert found["certmanager_controller_sync_call_count"].type == "counter"  # type: ignore[attr-defined]
    assert "certsmith_workqueue_depth" in found
