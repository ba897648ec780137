"""certsmith.util.metrics: cert-manager's inline-recorded families and their exposition."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from prometheus_client.parser import text_string_to_metric_families

from certsmith.util import metrics as m
from certsmith.util.clock import FakeClock

ACME = "certmanager_http_acme_client_request_count"
ACME_DURATION = "certmanager_http_acme_client_request_duration_seconds"


class Ticker:
    """A settable monotonic time for the summary's window."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def families(metrics: m.Metrics) -> dict[str, object]:
    return {f.name: f for f in text_string_to_metric_families(metrics.render().decode())}


def samples(metrics: m.Metrics, family: str) -> list[tuple[str, dict[str, str], float]]:
    found = families(metrics)[family]
    return [(s.name, s.labels, s.value) for s in found.samples]  # type: ignore[attr-defined]


def test_observe_acme_request_records_into_the_activated_metrics():
    metrics = m.Metrics(process=False)
    with m.activated(metrics):
        m.observe_acme_request("https", "acme.test:14000", "new_order", "POST", 201, 0.25)
        m.observe_acme_request("https", "acme.test:14000", "new_order", "POST", 201, 0.75)
    labels = {
        "scheme": "https",
        "host": "acme.test:14000",
        "action": "new_order",
        "method": "POST",
        "status": "201",
    }
    assert families(metrics)[ACME].type == "counter"  # type: ignore[attr-defined]
    # The parser spells counter samples with _total; the exposition itself has no suffix.
    assert samples(metrics, ACME) == [(f"{ACME}_total", labels, 2.0)]
    line = f'{ACME}{{scheme="https",host="acme.test:14000",action="new_order",method="POST",'
    assert f'{line}status="201"}} 2.0' in metrics.render().decode().splitlines()


def test_acme_duration_is_a_summary_with_cert_managers_quantiles_sum_and_count():
    metrics = m.Metrics(process=False)
    for seconds in (0.1, 0.2, 0.3, 0.4):
        metrics.observe_acme_request("https", "h", "get_challenge", "POST", 200, seconds)
    family = families(metrics)[ACME_DURATION]
    assert family.type == "summary"  # type: ignore[attr-defined]
    by_name = {}
    for s in family.samples:  # type: ignore[attr-defined]
        by_name[(s.name, s.labels.get("quantile"))] = s.value
        assert {k: v for k, v in s.labels.items() if k != "quantile"} == {
            "scheme": "https", "host": "h", "action": "get_challenge", "method": "POST",
            "status": "200",
        }  # fmt: skip
    assert by_name == {
        (ACME_DURATION, "0.5"): 0.2,
        (ACME_DURATION, "0.9"): 0.4,
        (ACME_DURATION, "0.99"): 0.4,
        (f"{ACME_DURATION}_sum", None): pytest.approx(1.0),
        (f"{ACME_DURATION}_count", None): 4.0,
    }


def test_summary_quantiles_forget_observations_older_than_ten_minutes():
    ticker = Ticker()
    metrics = m.Metrics(process=False, monotonic=ticker)
    metrics.observe_acme_request("https", "h", "a", "GET", 200, 5.0)
    ticker.now += m.SUMMARY_MAX_AGE + 1
    metrics.observe_acme_request("https", "h", "a", "GET", 200, 1.0)
    quantiles = {
        s.labels["quantile"]: s.value
        for s in families(metrics)[ACME_DURATION].samples  # type: ignore[attr-defined]
        if "quantile" in s.labels
    }
    assert quantiles == {"0.5": 1.0, "0.9": 1.0, "0.99": 1.0}
    assert samples(metrics, ACME_DURATION)[-1][2] == 2.0  # the count keeps every observation


def test_without_an_activated_registry_observations_go_to_the_process_default():
    m.observe_acme_request("https", "default.test", "a", "GET", 200, 0.1)
    assert 'host="default.test"' in m.current().render().decode()


async def test_tasks_started_inside_activated_inherit_its_metrics():
    first, second = m.Metrics(process=False), m.Metrics(process=False)

    async def record(host: str) -> None:
        m.observe_acme_request("https", host, "a", "GET", 200, 0.1)

    with m.activated(first):
        one = asyncio.create_task(record("one.test"))
    with m.activated(second):
        two = asyncio.create_task(record("two.test"))
    await asyncio.gather(one, two)
    assert [s[1]["host"] for s in samples(first, ACME)] == ["one.test"]
    assert [s[1]["host"] for s in samples(second, ACME)] == ["two.test"]


def test_sync_call_and_error_counts_are_counters_per_controller():
    metrics = m.Metrics(process=False)
    metrics.sync_call("issuers")
    metrics.sync_call("issuers")
    metrics.sync_error("issuers")
    fams = families(metrics)
    assert fams[m.SYNC_CALL_COUNT].type == "counter"  # type: ignore[attr-defined]
    assert samples(metrics, m.SYNC_CALL_COUNT) == [
        (f"{m.SYNC_CALL_COUNT}_total", {"controller": "issuers"}, 2.0)
    ]
    assert samples(metrics, m.SYNC_ERROR_COUNT) == [
        (f"{m.SYNC_ERROR_COUNT}_total", {"controller": "issuers"}, 1.0)
    ]
    text = metrics.render().decode()
    assert f"# TYPE {m.SYNC_CALL_COUNT} counter" in text
    assert f'{m.SYNC_CALL_COUNT}{{controller="issuers"}} 2.0' in text


def test_reconcile_durations_fill_cumulative_histogram_buckets():
    metrics = m.Metrics(process=False)
    for seconds in (0.003, 0.2, 100.0):
        metrics.observe_reconcile("certificates-trigger", seconds)
    family = families(metrics)[m.RECONCILE_DURATION]
    assert family.type == "histogram"  # type: ignore[attr-defined]
    buckets = {
        s.labels["le"]: s.value
        for s in family.samples  # type: ignore[attr-defined]
        if s.name.endswith("_bucket")
    }
    assert (buckets["0.005"], buckets["0.1"], buckets["0.25"], buckets["60.0"]) == (1, 1, 2, 2)
    assert buckets["+Inf"] == 3
    assert samples(metrics, m.RECONCILE_DURATION)[-1] == (
        f"{m.RECONCILE_DURATION}_count",
        {"controller": "certificates-trigger"},
        3.0,
    )


def test_clock_metrics_tell_the_clocks_time_as_a_gauge_and_the_deprecated_counter():
    clock = FakeClock(dt.datetime(2026, 3, 1, 12, 0, 0, 700000, tzinfo=dt.UTC))
    metrics = m.Metrics(clock, process=False)
    want = float(int(clock.now().timestamp()))
    fams = families(metrics)
    assert fams[m.CLOCK_TIME_GAUGE].type == "gauge"  # type: ignore[attr-defined]
    assert fams[m.CLOCK_TIME].type == "counter"  # type: ignore[attr-defined]
    assert samples(metrics, m.CLOCK_TIME_GAUGE) == [(m.CLOCK_TIME_GAUGE, {}, want)]
    assert samples(metrics, m.CLOCK_TIME) == [(f"{m.CLOCK_TIME}_total", {}, want)]


def test_process_metrics_are_exposed_with_their_go_style_names():
    text = m.Metrics().render().decode()
    assert "# TYPE process_cpu_seconds_total counter" in text
    assert "_created" not in text


@pytest.mark.parametrize(
    ("value", "escaped"),
    [('a"b', 'a\\"b'), ("a\\b", "a\\\\b"), ("a\nb", "a\\nb")],
    ids=["quote", "backslash", "newline"],
)
def test_label_values_are_escaped_so_the_exposition_parses_back(value, escaped):
    metrics = m.Metrics(process=False)
    metrics.sync_call(value)
    assert f'{{controller="{escaped}"}}' in metrics.render().decode()
    assert samples(metrics, m.SYNC_CALL_COUNT)[0][1] == {"controller": value}
