"""Metrics read from the controllers' caches when Prometheus scrapes, as cert-manager's collectors.

What this module decides, and why:

* Certificate, Issuer, ClusterIssuer and Challenge metrics are computed at scrape time from
  the informers' caches (cert-manager's ``internal/collectors``): nothing is kept up to date
  between scrapes, and a deleted object's series disappear with it. Names, types, labels and
  values are cert-manager's (SPEC §8): the ready-status gauges carry one series per condition
  status (1 for the current one; ``Unknown`` without a Ready condition); the timestamps are
  ``status.notAfter`` / ``notBefore`` / ``renewalTime`` in whole Unix seconds, 0 when unset;
  the issuer labels are ``spec.issuerRef`` as stored (an empty kind stays empty).
* A resource without an informer in this process (Challenges while no ACME controller runs,
  ClusterIssuers in namespaced mode, Certificates when their controllers are switched off)
  simply has no series, and nothing is read before an informer's first list.
* certsmith's own families (``certsmith_*``): work-queue sizes per controller and, per
  Certificate that failed, when its next issuance attempt is due
  (``lastFailureTime + backoff``, the trigger's backoff; SPEC §5.4). An edited spec retries
  sooner than that, as the trigger decides.
* Readiness (``/readyz``): the manager's caches have synced, or under leader election the
  replica stands by healthily (:class:`Readiness`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from certsmith.client.resources import (
    CERTIFICATES,
    CHALLENGES,
    CLUSTER_ISSUERS,
    ISSUERS,
    ResourceRef,
)
from certsmith.controllers.runtime.cache import JSONObject
from certsmith.controllers.runtime.informer import Informer
from certsmith.controllers.runtime.leader import LeaderElector
from certsmith.controllers.runtime.manager import Controller, Manager
from certsmith.pki.renewal import DEFAULT_INITIAL_BACKOFF, DEFAULT_MAXIMUM_BACKOFF, backoff_delay
from certsmith.util.metrics import Metrics
from certsmith.util.metricsserver import Handler, metrics_handler, probe_handler

CONDITION_STATUSES: Final = ("True", "False", "Unknown")
#: cert-manager's challenge states, in its order; ``""`` is a challenge not yet processed.
CHALLENGE_STATES: Final = (
    "ready",
    "valid",
    "errored",
    "expired",
    "invalid",
    "processing",
    "",
    "pending",
)
CERTIFICATE_LABELS: Final = ("name", "namespace", "issuer_name", "issuer_kind", "issuer_group")
CHALLENGE_LABELS: Final = ("status", "domain", "reason", "processing", "name", "namespace", "type")

Backoff = tuple[dt.timedelta, dt.timedelta]


def _epoch(value: Any) -> float:
    """An RFC 3339 timestamp as whole Unix seconds (Go's ``Unix()``); 0 when unset or invalid."""
    if not isinstance(value, str) or not value:
        return 0.0
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        return 0.0
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return float(int(when.timestamp()))


def _ready_status(obj: JSONObject) -> str:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return str(condition.get("status") or "Unknown")
    return "Unknown"


def _meta(obj: JSONObject) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("name") or ""), str(meta.get("namespace") or "")


def _certificate_labels(cert: JSONObject) -> list[str]:
    ref = (cert.get("spec") or {}).get("issuerRef") or {}
    name, namespace = _meta(cert)
    return [name, namespace, *(str(ref.get(k) or "") for k in ("name", "kind", "group"))]


#: cert-manager's Certificate timestamp gauges: (metric name, status field, help).
CERTIFICATE_TIMESTAMPS: Final = (
    (
        "certmanager_certificate_expiration_timestamp_seconds",
        "notAfter",
        "The timestamp after which the certificate expires, expressed in Unix Epoch Time.",
    ),
    (
        "certmanager_certificate_not_after_timestamp_seconds",
        "notAfter",
        "The timestamp after which the certificate is invalid, expressed as a Unix Epoch Time.",
    ),
    (
        "certmanager_certificate_not_before_timestamp_seconds",
        "notBefore",
        "The timestamp before which the certificate is invalid, expressed as a Unix Epoch Time.",
    ),
    (
        "certmanager_certificate_renewal_timestamp_seconds",
        "renewalTime",
        "The timestamp after which the certificate should be renewed, expressed in Unix Epoch "
        "Time.",
    ),
)


def certificate_families(
    certificates: Iterable[JSONObject],
    backoff: Backoff = (DEFAULT_INITIAL_BACKOFF, DEFAULT_MAXIMUM_BACKOFF),
) -> list[Metric]:
    """cert-manager's Certificate gauges, plus certsmith's next-retry timestamp.

    Args:
        certificates: the cached Certificates.
        backoff: (wait after the first failed issuance, cap), as the trigger uses it.
    """
    ready = GaugeMetricFamily(
        "certmanager_certificate_ready_status",
        "The ready status of the certificate.",
        labels=("name", "namespace", "condition", "issuer_name", "issuer_kind", "issuer_group"),
    )
    timestamps = [
        (GaugeMetricFamily(name, text, labels=CERTIFICATE_LABELS), field)
        for name, field, text in CERTIFICATE_TIMESTAMPS
    ]
    retry = GaugeMetricFamily(
        "certsmith_certificate_next_retry_timestamp_seconds",
        "When a Certificate whose last issuance failed may try again (lastFailureTime plus "
        "the failed-issuance backoff), expressed in Unix Epoch Time.",
        labels=CERTIFICATE_LABELS,
    )
    for cert in certificates:
        labels = _certificate_labels(cert)
        status = cert.get("status") or {}
        current = _ready_status(cert)
        for condition in CONDITION_STATUSES:
            value = 1.0 if condition == current else 0.0
            ready.add_metric([*labels[:2], condition, *labels[2:]], value)
        for family, field in timestamps:
            family.add_metric(labels, _epoch(status.get(field)))
        failed_at = _epoch(status.get("lastFailureTime"))
        if failed_at:
            delay = backoff_delay(status.get("failedIssuanceAttempts"), *backoff)
            retry.add_metric(labels, failed_at + delay.total_seconds())
    return [ready, *(family for family, _ in timestamps), retry]


def issuer_family(issuers: Iterable[JSONObject], *, cluster: bool) -> Metric:
    """``certmanager_issuer_ready_status`` or ``certmanager_clusterissuer_ready_status``."""
    if cluster:
        family = GaugeMetricFamily(
            "certmanager_clusterissuer_ready_status",
            "The ready status of the ClusterIssuer.",
            labels=("name", "condition"),
        )
    else:
        family = GaugeMetricFamily(
            "certmanager_issuer_ready_status",
            "The ready status of the Issuer.",
            labels=("name", "namespace", "condition"),
        )
    for issuer in issuers:
        name, namespace = _meta(issuer)
        current = _ready_status(issuer)
        for condition in CONDITION_STATUSES:
            where = [name] if cluster else [name, namespace]
            family.add_metric([*where, condition], 1.0 if condition == current else 0.0)
    return family


def challenge_family(challenges: Iterable[JSONObject]) -> Metric:
    """``certmanager_certificate_challenge_status``: one series per state, 1 for the current."""
    family = GaugeMetricFamily(
        "certmanager_certificate_challenge_status",
        "The status of certificate challenges",
        labels=CHALLENGE_LABELS,
    )
    for challenge in challenges:
        name, namespace = _meta(challenge)
        spec = challenge.get("spec") or {}
        status = challenge.get("status") or {}
        state = str(status.get("state") or "")
        # Go's fmt.Sprint of the bool: "true" / "false".
        processing = "true" if status.get("processing") else "false"
        for candidate in CHALLENGE_STATES:
            labels = [
                candidate,
                str(spec.get("dnsName") or ""),
                str(status.get("reason") or ""),
                processing,
                name,
                namespace,
                str(spec.get("type") or ""),
            ]
            family.add_metric(labels, 1.0 if candidate == state else 0.0)
    return family


def queue_families(controllers: Iterable[Controller]) -> list[Metric]:
    """The work-queue gauges (certsmith's own), one series per controller."""
    depth = GaugeMetricFamily(
        "certsmith_workqueue_depth",
        "Keys queued and ready for a worker of this controller.",
        labels=("name",),
    )
    delayed = GaugeMetricFamily(
        "certsmith_workqueue_delayed_keys",
        "Keys waiting for a timer (retry backoff, renewal time) before they are queued.",
        labels=("name",),
    )
    in_flight = GaugeMetricFamily(
        "certsmith_workqueue_in_flight_keys",
        "Keys being reconciled right now.",
        labels=("name",),
    )
    for controller in controllers:
        queue = controller.queue
        depth.add_metric([controller.name], float(len(queue)))
        delayed.add_metric([controller.name], float(queue.delayed))
        in_flight.add_metric([controller.name], float(len(queue.processing)))
    return [depth, delayed, in_flight]


class ControllerCollector(Collector):
    """Every cache-read family of one manager's controllers, built when scraped.

    :meth:`collect` may run in a worker thread (the ``/metrics`` handler renders there), so it
    only reads: a snapshot list of each cache, objects the cache never mutates, queue sizes.
    """

    def __init__(
        self,
        informers: Iterable[Informer],
        controllers: Sequence[Controller] = (),
        *,
        backoff: Backoff = (DEFAULT_INITIAL_BACKOFF, DEFAULT_MAXIMUM_BACKOFF),
    ) -> None:
        """Read from ``informers`` (one per resource is used) and ``controllers``' queues.

        Args:
            informers: the informers whose caches hold Certificates, Issuers, ClusterIssuers
                and Challenges; other resources are ignored.
            controllers: the controllers whose work queues are measured.
            backoff: the failed-issuance backoff (minimum, maximum) the trigger uses.
        """
        self._informers: dict[ResourceRef, Informer] = {}
        for informer in informers:
            self._informers.setdefault(informer.resource, informer)
        self._controllers = tuple(controllers)
        self._backoff = backoff

    @classmethod
    def for_manager(
        cls,
        manager: Manager,
        *,
        backoff: Backoff = (DEFAULT_INITIAL_BACKOFF, DEFAULT_MAXIMUM_BACKOFF),
    ) -> ControllerCollector:
        """A collector over ``manager``'s informers and controllers."""
        return cls(manager.informers, manager.controllers, backoff=backoff)

    def _cached(self, resource: ResourceRef) -> list[JSONObject] | None:
        informer = self._informers.get(resource)
        if informer is None or not informer.has_synced:
            return None
        return informer.cache.list()

    def collect(self) -> Iterator[Metric]:
        """The families of the resources this process caches, and the work queues."""
        certificates = self._cached(CERTIFICATES)
        if certificates is not None:
            yield from certificate_families(certificates, self._backoff)
        for resource, cluster in ((ISSUERS, False), (CLUSTER_ISSUERS, True)):
            issuers = self._cached(resource)
            if issuers is not None:
                yield issuer_family(issuers, cluster=cluster)
        challenges = self._cached(CHALLENGES)
        if challenges is not None:
            yield challenge_family(challenges)
        if self._controllers:
            yield from queue_families(self._controllers)


@dataclass
class Readiness:
    """What ``/readyz`` answers for a controller process.

    Ready once the manager's caches have synced and its workers run; under leader election a
    replica standing by (still trying for the Lease) is ready too, as client-go's probes say,
    since it is healthy and would take over. Stopping is not ready.
    """

    manager: Manager | None = None
    elector: LeaderElector | None = None
    election: asyncio.Future[None] | None = None

    def __call__(self) -> bool:
        """Whether the process is ready."""
        if self.elector is not None and not self.elector.is_leader:
            return self.election is not None and not self.election.done()
        return self.manager is not None and self.manager.is_running


def watch_manager(
    metrics: Metrics,
    manager: Manager,
    *,
    readiness: Readiness | None = None,
    backoff: Backoff = (DEFAULT_INITIAL_BACKOFF, DEFAULT_MAXIMUM_BACKOFF),
) -> Manager:
    """Let scrapes of ``metrics`` read ``manager``'s caches and queues, and probes its state."""
    metrics.registry.register(ControllerCollector.for_manager(manager, backoff=backoff))
    if readiness is not None:
        readiness.manager = manager
    return manager


def metrics_routes(metrics: Metrics) -> list[tuple[str, Handler]]:
    """``/metrics`` of a plain-HTTP metrics listener."""
    return [("/metrics", metrics_handler(metrics))]


def probe_routes(readiness: Readiness) -> list[tuple[str, Handler]]:
    """``/livez`` (and kube's older ``/healthz``): the process answers; ``/readyz``: ready."""
    alive = probe_handler(lambda: True, "not alive")
    ready = probe_handler(readiness, "controllers not ready: caches not synced or stopping")
    return [("/livez", alive), ("/healthz", alive), ("/readyz", ready)]
