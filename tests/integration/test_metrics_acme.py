"""The ACME client's requests on ``/metrics`` of a real ``certsmith serve`` talking to pebble."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.acmetools import acme_issuer, serve_for_pebble, wait_ready
from tests.peers.pebble import Pebble

pytestmark = pytest.mark.e2e

COUNT = "certmanager_http_acme_client_request_count"
DURATION = "certmanager_http_acme_client_request_duration_seconds"


def test_registering_an_account_is_counted_per_request_with_its_latency(
    pebble: Pebble, tmp_path: Path
) -> None:
    with serve_for_pebble(tmp_path / "certsmith", pebble) as serve:
        serve.apply(acme_issuer("le", pebble))
        wait_ready(serve, "issuer", "le")
        text = serve.kubectl("get", "--raw", "/metrics").stdout
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families[COUNT].type == "counter"
    assert families[DURATION].type == "summary"
    counts = {json.dumps(s.labels, sort_keys=True): s.value for s in families[COUNT].samples}
    durations = {
        json.dumps(s.labels, sort_keys=True): s.value
        for s in families[DURATION].samples
        if s.name == f"{DURATION}_count"
    }
    assert counts == durations  # every request is both counted and timed
    labels = [json.loads(key) for key in counts]
    host = urlsplit(pebble.directory_url).netloc
    assert {(item["scheme"], item["host"]) for item in labels} == {("https", host)}
    assert {"GET", "HEAD", "POST"} >= {item["method"] for item in labels}
    # The new account: a POST that pebble answers 201 Created.
    assert any(item["method"] == "POST" and item["status"] == "201" for item in labels), labels
