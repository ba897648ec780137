"""Composing the controllers into a manager, and cert-manager's ``--controllers`` selection.

What this module decides:

* The controllers and their names, as cert-manager spells them: ``issuers``, ``clusterissuers``,
  ``certificaterequests-approver`` and one ``certificaterequests-issuer-<type>`` per issuer type
  (``-ca``, ``-selfsigned``, and any plugin's, from its spec key in lower case). All
  ``certificaterequests-issuer-*`` names map to ONE shared reconciler (manager name
  ``certificaterequests-issuer``) that signs only with the enabled types; a request whose issuer
  type is disabled is left alone, as it would be with cert-manager's controller switched off.
* The selection syntax is cert-manager's (``EnabledControllers``): ``*`` adds every default
  controller, ``name`` adds one, ``-name`` removes one (removals win, whatever the order), an
  empty selection means ``*``. ``none`` selects nothing (and must stand alone). Unknown names are
  an error that lists the valid ones. cert-manager's names for controllers certsmith does not
  have (yet) are accepted and ignored, so a chart's flags keep working.
* The informers are shared (one per resource) and Secrets are watched as metadata only.
* ``namespace`` (``certsmith controller --namespace``) is cert-manager's namespaced mode: every
  informer watches that one namespace, so nothing elsewhere is read or written, and the
  ``clusterissuers`` controller does not run (cert-manager skips it the same way), whatever the
  selection says. Requests for ClusterIssuers are then not processed (see
  :mod:`certsmith.controllers.certificaterequests`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Final

from certsmith.client.protocol import KubeClient
from certsmith.client.resources import CERTIFICATES
from certsmith.controllers.acme.wiring import (
    ARI,
    AcmeOptions,
    build_acme_controllers,
    build_ari_controller,
    configure_accounts,
    requests_for_order,
)
from certsmith.controllers.acme.wiring import NAMES as ACME_NAMES
from certsmith.controllers.approver import DEFAULT_APPROVE_SIGNER_NAMES, Approver
from certsmith.controllers.certificaterequests import (
    CertificateRequestReconciler,
    requests_for_issuer,
    requests_for_secret,
)
from certsmith.controllers.certificates.state import certificate_informer
from certsmith.controllers.certificates.wiring import BUILDERS as CERTIFICATE_BUILDERS
from certsmith.controllers.certificates.wiring import build_certificate_controllers
from certsmith.controllers.events import COMPONENT, EventRecorder
from certsmith.controllers.informers import SharedInformers
from certsmith.controllers.issuercontext import ControllerIssuerContext
from certsmith.controllers.issuers import IssuerReadinessReconciler, issuers_for_secret
from certsmith.controllers.runtime.cache import ObjectKey
from certsmith.controllers.runtime.informer import enqueue, enqueue_mapped
from certsmith.controllers.runtime.manager import Controller, Manager
from certsmith.controllers.runtime.workqueue import (
    CERTIFICATE_REQUEST_BACKOFF,
    ISSUER_BACKOFF,
    Sleeper,
    WorkQueue,
)
from certsmith.controllers.shims.sync import ShimOptions
from certsmith.controllers.shims.wiring import NAMES as SHIM_NAMES
from certsmith.controllers.shims.wiring import build_shim_controllers
from certsmith.issuers import registry
from certsmith.issuers.acme import AcmeIssuer
from certsmith.issuers.base import Issuer
from certsmith.pki.renewal import DEFAULT_INITIAL_BACKOFF, DEFAULT_MAXIMUM_BACKOFF
from certsmith.util.clock import Clock, SystemClock

log = logging.getLogger(__name__)

ISSUERS: Final = "issuers"
CLUSTER_ISSUERS: Final = "clusterissuers"
APPROVER: Final = "certificaterequests-approver"
REQUEST_ISSUER_PREFIX: Final = "certificaterequests-issuer-"
#: The manager's name for the shared CertificateRequest reconciler.
REQUEST_ISSUER: Final = "certificaterequests-issuer"

#: cert-manager controller names certsmith accepts in a selection but does not run (yet).
UPSTREAM_ONLY: Final = frozenset(
    {
        "certificaterequests-issuer-vault",
        "certificaterequests-issuer-venafi",
        "certificates-issuing",
        "certificates-key-manager",
        "certificates-metrics",
        "certificates-readiness",
        "certificates-request-manager",
        "certificates-revision-manager",
        "certificates-trigger",
        "certificatesigningrequests-issuer-acme",
        "certificatesigningrequests-issuer-ca",
        "certificatesigningrequests-issuer-selfsigned",
        "certificatesigningrequests-issuer-vault",
        "certificatesigningrequests-issuer-venafi",
    }
) - frozenset(CERTIFICATE_BUILDERS)

DEFAULT_CLUSTER_RESOURCE_NAMESPACE: Final = "cert-manager"
DEFAULT_WORKERS: Final = 5  # cert-manager's --concurrent-workers


def request_issuer_controller(spec_key: str) -> str:
    """cert-manager's controller name for an issuer type: ``certificaterequests-issuer-ca``."""
    return f"{REQUEST_ISSUER_PREFIX}{spec_key.lower()}"


def available_controllers(issuers: Mapping[str, Issuer]) -> tuple[str, ...]:
    """The controller names that can be enabled with these issuer implementations, sorted."""
    names = {ISSUERS, CLUSTER_ISSUERS, APPROVER, *CERTIFICATE_BUILDERS, *ACME_NAMES, *SHIM_NAMES}
    names.update(request_issuer_controller(key) for key in issuers)
    return tuple(sorted(names))


def parse_controllers(selection: str | Iterable[str], available: Iterable[str]) -> frozenset[str]:
    """Resolve a ``--controllers`` selection to the set of controller names to run.

    Args:
        selection: a comma-separated string or a list of items (``*``, ``name``, ``-name``,
            ``none``); items may themselves contain commas, as repeated flags do.
        available: every controller name that can run (all are on by default).

    Returns:
        The enabled names, a subset of ``available``.

    Raises:
        ValueError: an unknown name, an empty ``-``, or ``none`` combined with other items.
    """
    raw = [selection] if isinstance(selection, str) else list(selection)
    items = [part.strip() for chunk in raw for part in chunk.split(",") if part.strip()]
    if not items:
        items = ["*"]
    known = frozenset(available)
    if "none" in items:
        if len(items) > 1:
            raise ValueError('"none" cannot be combined with other controller names')
        return frozenset()
    enabled: set[str] = set()
    disabled: set[str] = set()
    for item in items:
        if item == "*":
            enabled.update(known)
            continue
        name = item.removeprefix("-")
        if not name:
            raise ValueError(f"invalid controller selection item {item!r}")
        if name not in known and name not in UPSTREAM_ONLY:
            valid = ", ".join(sorted(known))
            raise ValueError(f"unknown controller {name!r}; valid names: {valid}")
        (disabled if item.startswith("-") else enabled).add(name)
    ignored = sorted((enabled - disabled) & (UPSTREAM_ONLY - known))
    if ignored:
        log.info("ignoring controllers certsmith does not implement: %s", ", ".join(ignored))
    return frozenset((enabled - disabled) & known)


@dataclass(frozen=True)
class ControllerOptions:
    """Everything :func:`build_manager` needs besides the client.

    Attributes:
        controllers: the ``--controllers`` selection (see :func:`parse_controllers`); the
            default ``("*",)`` runs every controller.
        cluster_resource_namespace: where ClusterIssuers' Secrets live (SPEC §0.3).
        approve_signer_names: the signers the built-in approver approves; empty approves all.
        clock: the time of conditions, Events, certificates and work-queue delays.
        issuers: issuer implementations by spec key; ``None`` loads the built-ins and plugins.
        workers: concurrent reconciles per controller.
        component: the Events' ``source.component`` / ``reportingComponent``.
        instance: the Events' ``reportingInstance`` (e.g. the pod name), if any.
        sleep: how work queues and informers wait (a fake sleeper in tests).
        namespace: act only in this namespace, without ClusterIssuers; ``None`` acts in all.
        certificate_request_minimum_backoff: the wait after a Certificate's first failed
            issuance (cert-manager's ``--certificate-request-minimum-backoff-duration``); it
            doubles per further failure.
        certificate_request_maximum_backoff: the cap of that wait
            (``--certificate-request-maximum-backoff-duration``).
        acme: the ACME controllers' settings (HTTP-01 registry and self-check, DNS-01,
            concurrency, metrics observer).
        shims: the certificate shims' settings (default issuer, annotations, opt-ins).
    """

    controllers: str | Sequence[str] = ("*",)
    cluster_resource_namespace: str = DEFAULT_CLUSTER_RESOURCE_NAMESPACE
    approve_signer_names: Sequence[str] = DEFAULT_APPROVE_SIGNER_NAMES
    clock: Clock = field(default_factory=SystemClock)
    issuers: Mapping[str, Issuer] | None = None
    workers: int = DEFAULT_WORKERS
    component: str = COMPONENT
    instance: str | None = None
    sleep: Sleeper = asyncio.sleep
    namespace: str | None = None
    certificate_request_minimum_backoff: dt.timedelta = DEFAULT_INITIAL_BACKOFF
    certificate_request_maximum_backoff: dt.timedelta = DEFAULT_MAXIMUM_BACKOFF
    acme: AcmeOptions = field(default_factory=AcmeOptions)
    shims: ShimOptions = field(default_factory=ShimOptions)


def build_controllers(client: KubeClient, *, options: ControllerOptions) -> list[Controller]:
    """The selected controllers, wired to shared informers over ``client``.

    Raises:
        ValueError: the selection names an unknown controller, or ``workers`` < 1.
    """
    issuers = dict(registry.load() if options.issuers is None else options.issuers)
    enabled = parse_controllers(options.controllers, available_controllers(issuers))
    if options.namespace is not None and CLUSTER_ISSUERS in enabled:
        log.info(
            "not starting the %s controller: limited to namespace %r",
            CLUSTER_ISSUERS,
            options.namespace,
        )
        enabled -= {CLUSTER_ISSUERS}
    informers = SharedInformers(
        client,
        cluster_resource_namespace=options.cluster_resource_namespace,
        namespace=options.namespace,
        sleep=options.sleep,
    )
    recorder = EventRecorder(
        client, clock=options.clock, component=options.component, instance=options.instance
    )
    context = ControllerIssuerContext(
        client, clock=options.clock, cluster_resource_namespace=options.cluster_resource_namespace
    )

    def queue(name: str, *, issuer: bool = False) -> WorkQueue[ObjectKey]:
        backoff = ISSUER_BACKOFF if issuer else CERTIFICATE_REQUEST_BACKOFF
        return WorkQueue(backoff, clock=options.clock, sleep=options.sleep, name=name)

    controllers: list[Controller] = []
    for name, cluster in ((ISSUERS, False), (CLUSTER_ISSUERS, True)):
        if name not in enabled:
            continue
        informer = informers.cluster_issuers if cluster else informers.issuers
        readiness = IssuerReadinessReconciler(
            client,
            cluster=cluster,
            informer=informer,
            issuers=issuers,
            context=context,
            recorder=recorder,
            clock=options.clock,
        )
        q = queue(name, issuer=True)
        informer.add_handlers(enqueue(q))
        informers.secrets.add_handlers(enqueue_mapped(q, partial(issuers_for_secret, informer)))
        controllers.append(
            Controller(
                name,
                readiness.reconcile,
                q,
                informers=(informer, informers.secrets),
                workers=options.workers,
            )
        )

    signing = {
        key: impl for key, impl in issuers.items() if request_issuer_controller(key) in enabled
    }
    if signing:
        reconciler = CertificateRequestReconciler(
            client,
            informers=informers,
            issuers=signing,
            context=context,
            recorder=recorder,
            clock=options.clock,
        )
        q = queue(REQUEST_ISSUER)
        informers.requests.add_handlers(enqueue(q))
        by_issuer = enqueue_mapped(q, partial(requests_for_issuer, informers))
        for informer in informers.issuer_informers:
            informer.add_handlers(by_issuer)
        informers.secrets.add_handlers(enqueue_mapped(q, partial(requests_for_secret, informers)))
        watched = [informers.requests, *informers.issuer_informers, informers.secrets]
        if any(isinstance(impl, AcmeIssuer) for impl in signing.values()):
            # An ACME request completes when its Order does (SPEC §1.5 re-queue triggers).
            informers.orders.add_handlers(enqueue_mapped(q, requests_for_order))
            watched.append(informers.orders)
        controllers.append(
            Controller(
                REQUEST_ISSUER,
                reconciler.reconcile,
                q,
                informers=tuple(watched),
                workers=options.workers,
            )
        )

    if APPROVER in enabled:
        approver = Approver(
            client,
            informer=informers.requests,
            recorder=recorder,
            clock=options.clock,
            signer_names=options.approve_signer_names,
        )
        q = queue(APPROVER)
        informers.requests.add_handlers(enqueue(q))
        controllers.append(
            Controller(
                APPROVER,
                approver.reconcile,
                q,
                informers=(informers.requests,),
                workers=options.workers,
            )
        )
    acme_issuer = next((i for i in issuers.values() if isinstance(i, AcmeIssuer)), None)
    if acme_issuer is not None:
        configure_accounts(acme_issuer.accounts, options.acme)
        controllers.extend(
            build_acme_controllers(
                client,
                enabled=enabled,
                informers=informers,
                accounts=acme_issuer.accounts,
                context=context,
                recorder=recorder,
                clock=options.clock,
                sleep=options.sleep,
                workers=options.workers,
                options=options.acme,
            )
        )
    certificate_controllers = build_certificate_controllers(
        client,
        enabled=enabled,
        informers=informers,
        recorder=recorder,
        clock=options.clock,
        sleep=options.sleep,
        workers=options.workers,
        backoff=(
            options.certificate_request_minimum_backoff,
            options.certificate_request_maximum_backoff,
        ),
    )
    controllers.extend(certificate_controllers)
    if acme_issuer is not None and ARI in enabled:
        # ARI shares the Certificate controllers' informer when those run.
        shared_informers = [i for c in certificate_controllers for i in c.informers]
        controllers.append(
            build_ari_controller(
                client,
                certificates=next((i for i in shared_informers if i.resource == CERTIFICATES), None)
                or certificate_informer(client, namespace=options.namespace, sleep=options.sleep),
                informers=informers,
                accounts=acme_issuer.accounts,
                context=context,
                recorder=recorder,
                clock=options.clock,
                sleep=options.sleep,
                workers=options.workers,
            )
        )
    if enabled & set(SHIM_NAMES):
        # The shims share the Certificate controllers' informer when those run.
        shared = [i for c in certificate_controllers for i in c.informers]
        certificates = next((i for i in shared if i.resource == CERTIFICATES), None)
        controllers.extend(
            build_shim_controllers(
                client,
                enabled=enabled,
                informers=informers,
                certificates=certificates
                or certificate_informer(client, namespace=options.namespace, sleep=options.sleep),
                recorder=recorder,
                options=options.shims,
                clock=options.clock,
                sleep=options.sleep,
                workers=options.workers,
            )
        )
    return controllers


def build_manager(client: KubeClient, *, options: ControllerOptions) -> Manager:
    """A :class:`~certsmith.controllers.runtime.manager.Manager` running the selected controllers.

    This is the stable entry point for ``certsmith serve`` and ``certsmith controller``: build
    it, then ``await manager.run()`` (under leader election when there are replicas) and call
    ``manager.stop()`` to shut down. With an empty selection (``none``) the manager runs nothing.

    Args:
        client: the API client every controller reads and writes through.
        options: the selection and settings; see :class:`ControllerOptions`.

    Raises:
        ValueError: the selection names an unknown controller, or ``workers`` < 1.
    """
    return Manager(build_controllers(client, options=options), sleep=options.sleep)
