"""Prometheus metrics recorded as things happen, and the text exposition of a registry.

What this module decides, and why:

* Names, types and labels are cert-manager's (``pkg/metrics/metrics.go``, SPEC §8), so existing
  dashboards and alert rules work unchanged. cert-manager's counters have no ``_total`` suffix
  (``certmanager_controller_sync_call_count``) and Go exposes no ``_created`` series;
  ``prometheus_client``'s own Counter would add both, so the values here are kept in small
  stores and rendered by :func:`render` in the Go client's text format (0.0.4).
* One :class:`Metrics` per server or controller process (never ``prometheus_client``'s global
  registry), so tests and several managers in one process do not share counters. Code that
  records without holding the object — the ACME client's observer,
  :func:`observe_acme_request` — records into :func:`current`, a context variable that
  ``certsmith.app`` sets for everything the server or controller runs (asyncio tasks and worker
  threads inherit it); outside of that, a process-wide instance.
* It sits in ``util`` so ``acme`` and ``controllers`` can record without import-layer
  violations. Metrics read from caches at scrape time (Certificates, Issuers, Challenges, work
  queues) live in :mod:`certsmith.controllers.metrics`; they cost nothing between scrapes.
* The ACME request duration is cert-manager's summary with quantiles 0.5/0.9/0.99 over the last
  10 minutes (client_golang's default ``MaxAge``), computed from a bounded window of recent
  observations per series at scrape time.
"""

from __future__ import annotations

import bisect
import contextlib
import contextvars
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Final

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector, CollectorRegistry

from certsmith.util.clock import Clock, SystemClock

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
"""The exposition format :func:`render` writes (Prometheus text 0.0.4)."""

ACME_LABELS: Final = ("scheme", "host", "action", "method", "status")
SUMMARY_QUANTILES: Final = (0.5, 0.9, 0.99)
SUMMARY_MAX_AGE: Final = 600.0
"""Seconds an observation counts towards the quantiles (client_golang's default MaxAge)."""
SUMMARY_WINDOW: Final = 500
"""Observations kept per series for the quantiles; older ones fall out first."""
RECONCILE_BUCKETS: Final = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)

ACME_REQUEST_COUNT: Final = "certmanager_http_acme_client_request_count"
ACME_REQUEST_DURATION: Final = "certmanager_http_acme_client_request_duration_seconds"
SYNC_CALL_COUNT: Final = "certmanager_controller_sync_call_count"
SYNC_ERROR_COUNT: Final = "certmanager_controller_sync_error_count"
CLOCK_TIME: Final = "certmanager_clock_time_seconds"
CLOCK_TIME_GAUGE: Final = "certmanager_clock_time_seconds_gauge"
RECONCILE_DURATION: Final = "certsmith_controller_reconcile_duration_seconds"


class _Window:
    """Recent observations of one summary series, plus its all-time count and sum."""

    __slots__ = ("count", "recent", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.recent: deque[tuple[float, float]] = deque(maxlen=SUMMARY_WINDOW)

    def observe(self, value: float, now: float) -> None:
        self.count += 1
        self.total += value
        self.recent.append((now, value))

    def quantiles(self, now: float) -> list[tuple[float, float]]:
        """Nearest-rank quantiles of the observations younger than the max age (NaN if none)."""
        while self.recent and self.recent[0][0] < now - SUMMARY_MAX_AGE:
            self.recent.popleft()
        values = sorted(v for _, v in self.recent)
        if not values:
            return [(q, math.nan) for q in SUMMARY_QUANTILES]
        return [
            (q, values[min(len(values) - 1, math.ceil(q * len(values)) - 1)])
            for q in SUMMARY_QUANTILES
        ]


class _Histogram:
    """Bucket counts, count and sum of one histogram series."""

    __slots__ = ("buckets", "count", "total")

    def __init__(self, size: int) -> None:
        self.buckets = [0] * size
        self.count = 0
        self.total = 0.0


class Metrics(Collector):
    """One process's metrics: the inline-recorded families and the registry scrapes read.

    Register cache-reading collectors on :attr:`registry`; :meth:`render` writes everything.
    Recording methods are cheap (a dict update under a lock) and safe from worker threads.
    """

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        process: bool = True,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create the registry with the inline families (and the process collectors).

        Args:
            clock: the time of ``certmanager_clock_time_seconds*`` (the controllers' clock).
            process: also collect ``process_*`` and ``python_*`` metrics, as cert-manager
                exposes its process and Go runtime metrics.
            monotonic: the time source of the summary's sliding window.
        """
        self.clock: Clock = clock or SystemClock()
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._acme_count: dict[tuple[str, ...], float] = {}
        self._acme_duration: dict[tuple[str, ...], _Window] = {}
        self._sync_calls: dict[str, float] = {}
        self._sync_errors: dict[str, float] = {}
        self._reconcile: dict[str, _Histogram] = {}
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)
        if process:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
            GCCollector(registry=self.registry)

    # -- recording ---------------------------------------------------------------------------

    def observe_acme_request(
        self, scheme: str, host: str, action: str, method: str, status: int, seconds: float
    ) -> None:
        """Count one ACME HTTP request and its latency (cert-manager's ACME client metrics).

        Args:
            scheme: ``https`` or ``http``.
            host: the ACME server's host (and port, if not the default).
            action: the logical ACME operation (``new_order``, ``get_challenge``...).
            method: the HTTP verb.
            status: the HTTP status code (0 when no response came back).
            seconds: how long the request took.
        """
        labels = (scheme, host, action, method, str(status))
        now = self._monotonic()
        with self._lock:
            self._acme_count[labels] = self._acme_count.get(labels, 0.0) + 1
            window = self._acme_duration.get(labels)
            if window is None:
                window = self._acme_duration[labels] = _Window()
            window.observe(seconds, now)

    def sync_call(self, controller: str) -> None:
        """Count one reconcile (``sync()`` call) of ``controller``."""
        with self._lock:
            self._sync_calls[controller] = self._sync_calls.get(controller, 0.0) + 1

    def sync_error(self, controller: str) -> None:
        """Count one failed reconcile of ``controller``."""
        with self._lock:
            self._sync_errors[controller] = self._sync_errors.get(controller, 0.0) + 1

    def observe_reconcile(self, controller: str, seconds: float) -> None:
        """Record how long one reconcile of ``controller`` took."""
        index = bisect.bisect_left(RECONCILE_BUCKETS, seconds)
        with self._lock:
            hist = self._reconcile.get(controller)
            if hist is None:
                hist = self._reconcile[controller] = _Histogram(len(RECONCILE_BUCKETS))
            if index < len(RECONCILE_BUCKETS):
                hist.buckets[index] += 1
            hist.count += 1
            hist.total += seconds

    # -- collection --------------------------------------------------------------------------

    def collect(self) -> Iterator[Metric]:
        """The inline families, as the registry asks for them at scrape time."""
        now = self.clock.now().timestamp()
        yield _counter(CLOCK_TIME, _CLOCK_HELP, (), {(): float(int(now))})
        clock_gauge = GaugeMetricFamily(CLOCK_TIME_GAUGE, _CLOCK_GAUGE_HELP)
        clock_gauge.add_metric([], float(int(now)))
        yield clock_gauge
        with self._lock:
            acme_count = dict(self._acme_count)
            windows = {
                labels: (w.count, w.total, w.quantiles(self._monotonic()))
                for labels, w in self._acme_duration.items()
            }
            calls: dict[tuple[str, ...], float] = {
                (name,): value for name, value in self._sync_calls.items()
            }
            errors: dict[tuple[str, ...], float] = {
                (name,): value for name, value in self._sync_errors.items()
            }
            hists = {
                name: (list(h.buckets), h.count, h.total) for name, h in self._reconcile.items()
            }
        yield _counter(ACME_REQUEST_COUNT, _ACME_COUNT_HELP, ACME_LABELS, acme_count)
        summary = Metric(ACME_REQUEST_DURATION, _ACME_DURATION_HELP, "summary")
        for labels, (count, total, quantiles) in sorted(windows.items()):
            named = dict(zip(ACME_LABELS, labels, strict=True))
            for q, value in quantiles:
                summary.add_sample(ACME_REQUEST_DURATION, {**named, "quantile": str(q)}, value)
            summary.add_sample(f"{ACME_REQUEST_DURATION}_sum", named, total)
            summary.add_sample(f"{ACME_REQUEST_DURATION}_count", named, float(count))
        yield summary
        yield _counter(SYNC_CALL_COUNT, _SYNC_CALL_HELP, ("controller",), calls)
        yield _counter(SYNC_ERROR_COUNT, _SYNC_ERROR_HELP, ("controller",), errors)
        histogram = Metric(RECONCILE_DURATION, _RECONCILE_HELP, "histogram")
        for name, (buckets, count, total) in sorted(hists.items()):
            cumulative = 0
            for bound, hits in zip(RECONCILE_BUCKETS, buckets, strict=True):
                cumulative += hits
                le = _number(bound)
                histogram.add_sample(
                    f"{RECONCILE_DURATION}_bucket", {"controller": name, "le": le}, cumulative
                )
            histogram.add_sample(
                f"{RECONCILE_DURATION}_bucket", {"controller": name, "le": "+Inf"}, count
            )
            histogram.add_sample(f"{RECONCILE_DURATION}_sum", {"controller": name}, total)
            histogram.add_sample(f"{RECONCILE_DURATION}_count", {"controller": name}, count)
        yield histogram

    def render(self) -> bytes:
        """Everything registered, in the Prometheus text format (:data:`CONTENT_TYPE`)."""
        return render(self.registry.collect())


_CLOCK_HELP: Final = (
    "DEPRECATED: use clock_time_seconds_gauge instead. "
    "The clock time given in seconds (from 1970/01/01 UTC)."
)
_CLOCK_GAUGE_HELP: Final = (
    "The clock time given in seconds (from 1970/01/01 UTC). "
    "Gauge form of the deprecated clock_time_seconds counter. No labels."
)
_ACME_COUNT_HELP: Final = (
    "Total number of outbound ACME HTTP requests. Labels: scheme, host, action "
    "(logical ACME operation), method (HTTP verb), status (HTTP status code)."
)
_ACME_DURATION_HELP: Final = (
    "Latency of outbound ACME HTTP requests in seconds (quantiles over the last 10 minutes). "
    "Labels as for certmanager_http_acme_client_request_count."
)
_SYNC_CALL_HELP: Final = "The number of sync() calls made by a controller. Label: controller."
_SYNC_ERROR_HELP: Final = (
    "The number of errors encountered during controller sync(). Label: controller."
)
_RECONCILE_HELP: Final = "How long one reconcile of a controller took, in seconds."


def _counter(
    name: str, help_text: str, labelnames: tuple[str, ...], values: dict[tuple[str, ...], float]
) -> Metric:
    """A counter family whose samples carry ``name`` itself (no ``_total``), as in Go."""
    family = Metric(name, help_text, "counter")
    for labels, value in sorted(values.items()):
        family.add_sample(name, dict(zip(labelnames, labels, strict=True)), value)
    return family


def _number(value: float) -> str:
    """A sample value as the text format spells it (``+Inf``, ``NaN``, ``0.25``)."""
    if math.isfinite(value):
        return repr(float(value))
    if math.isnan(value):
        return "NaN"
    return "+Inf" if value > 0 else "-Inf"


def _escape_help(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n")


_VALUE_ESCAPES: Final = str.maketrans({"\\": r"\\", "\n": r"\n", '"': r"\""})


_TYPES: Final = {
    "counter": "counter",
    "gauge": "gauge",
    "summary": "summary",
    "histogram": "histogram",
    "info": "gauge",
    "stateset": "gauge",
    "gaugehistogram": "histogram",
    "unknown": "untyped",
}


def render(families: Iterable[Metric]) -> bytes:
    """Metric families in the Prometheus text format 0.0.4, as client_golang writes it.

    A counter family is headed by the name its samples carry: cert-manager's
    ``certmanager_controller_sync_call_count`` as is, ``prometheus_client``'s own counters
    (``process_cpu_seconds``) with their ``_total``. OpenMetrics-only ``_created`` samples
    are left out.
    """
    lines: list[str] = []
    escapes = _VALUE_ESCAPES
    for family in families:
        name = family.name
        if family.type == "counter" and any(s.name == f"{name}_total" for s in family.samples):
            name = f"{name}_total"
        elif family.type == "info":
            name = f"{name}_info"
        lines.append(f"# HELP {name} {_escape_help(family.documentation)}\n")
        lines.append(f"# TYPE {name} {_TYPES.get(family.type, 'untyped')}\n")
        skipped = (f"{family.name}_created", f"{family.name}_gsum")
        # The loop below runs once per series (tens of thousands with many Certificates), so
        # it stays flat: one translate per label value, one f-string per line.
        for sample in family.samples:
            if sample.name in skipped:
                continue
            if sample.labels:
                pairs = [f'{k}="{v.translate(escapes)}"' for k, v in sample.labels.items()]
                lines.append(f"{sample.name}{{{','.join(pairs)}}} {_number(sample.value)}\n")
            else:
                lines.append(f"{sample.name} {_number(sample.value)}\n")
    return "".join(lines).encode()


_CURRENT: Final[contextvars.ContextVar[Metrics]] = contextvars.ContextVar("certsmith_metrics")
_process_default: Metrics | None = None


def current() -> Metrics:
    """The metrics of the server or controller this code runs for (see the module docstring)."""
    global _process_default  # created on first use, then shared
    with contextlib.suppress(LookupError):
        return _CURRENT.get()
    if _process_default is None:
        _process_default = Metrics()
    return _process_default


@contextlib.contextmanager
def activated(metrics: Metrics) -> Iterator[Metrics]:
    """Make ``metrics`` :func:`current` for this context and the tasks started inside it."""
    token = _CURRENT.set(metrics)
    try:
        yield metrics
    finally:
        _CURRENT.reset(token)


def observe_acme_request(
    scheme: str, host: str, action: str, method: str, status: int, seconds: float
) -> None:
    """Record one ACME HTTP request in the :func:`current` metrics.

    The ACME client's observer: ``certmanager_http_acme_client_request_count`` and
    ``..._duration_seconds`` with labels scheme, host, action, method, status.
    """
    current().observe_acme_request(scheme, host, action, method, status, seconds)
