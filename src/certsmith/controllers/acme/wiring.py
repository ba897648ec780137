"""Wiring of the ACME controllers: ``orders``, ``challenges`` and the Challenge scheduler.

The Order → CertificateRequest trigger of ``certificaterequests-issuer-acme`` is in
:mod:`certsmith.controllers.setup`, with the shared CertificateRequest reconciler.

:class:`AcmeOptions` carries the process-level ACME settings (cert-manager's flags
``--acme-http01-solver-nameservers``, ``--dns01-recursive-nameservers[-only]``,
``--max-concurrent-challenges``, plus certsmith's HTTP-01 self-check port and the in-process
HTTP-01 registry the responder serves from).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Final

from certsmith.acme.client import RequestObserver
from certsmith.acme.dns01 import DNS01Settings, DNS01Solver
from certsmith.client.protocol import KubeClient
from certsmith.controllers.acme.ari import AriReconciler
from certsmith.controllers.acme.challenges import ChallengeReconciler
from certsmith.controllers.acme.http01 import Http01Registry, SelfCheckOptions
from certsmith.controllers.acme.http01cluster import Http01ClusterSolver, SolverPodSettings
from certsmith.controllers.acme.orders import OrderReconciler
from certsmith.controllers.acme.scheduler import (
    DEFAULT_MAX_CONCURRENT,
    SCHEDULER_KEY,
    ChallengeScheduler,
)
from certsmith.controllers.acme.solving import DNS01_SETTLE, ChallengeSolvers
from certsmith.controllers.events import EventRecorder
from certsmith.controllers.informers import SharedInformers
from certsmith.controllers.issuercontext import ControllerIssuerContext
from certsmith.controllers.runtime.cache import JSONObject, ObjectKey
from certsmith.controllers.runtime.informer import Handlers, Informer, enqueue, enqueue_mapped
from certsmith.controllers.runtime.manager import Controller
from certsmith.controllers.runtime.workqueue import ACME_BACKOFF, Sleeper, WorkQueue
from certsmith.issuers.acme.accounts import AccountRegistry, ClientFactory
from certsmith.util.clock import Clock

ORDERS: Final = "orders"
CHALLENGES: Final = "challenges"
SCHEDULER: Final = "challenges-scheduler"
#: certsmith's own: ACME Renewal Information for ACME-issued Certificates.
ARI: Final = "certificates-ari"
NAMES: Final = (ORDERS, CHALLENGES, ARI)


@dataclass(frozen=True)
class AcmeOptions:
    """Process-wide ACME settings.

    Attributes:
        http01: the tokens the HTTP-01 responder answers with (shared with the listener).
        http01_check: nameservers and port of the HTTP-01 self-check.
        http01_solver: cluster mode (solver pods, Services, Ingresses, HTTPRoutes) with these
            pod settings; ``None`` is standalone mode (the process's listener answers).
        dns01: DNS-01 settings (recursive nameservers, authoritative check, exec scripts).
        dns01_settle: seconds to wait after a passing DNS-01 check before accepting.
        max_concurrent_challenges: Challenges processed at once (cert-manager's default 60).
        observer: reports every ACME HTTP exchange (metrics); ``None`` reports nothing.
        client_factory: builds ACME clients (tests); ``None`` builds real ones.
    """

    http01: Http01Registry = field(default_factory=Http01Registry)
    http01_check: SelfCheckOptions = field(default_factory=SelfCheckOptions)
    http01_solver: SolverPodSettings | None = None
    dns01: DNS01Settings = field(default_factory=DNS01Settings)
    dns01_settle: float = DNS01_SETTLE
    max_concurrent_challenges: int = DEFAULT_MAX_CONCURRENT
    observer: RequestObserver | None = None
    client_factory: ClientFactory | None = None


def configure_accounts(accounts: AccountRegistry, options: AcmeOptions) -> None:
    """Point the issuer's client registry at the process's observer and factory."""
    accounts.observer = options.observer
    if options.client_factory is not None:
        accounts.factory = options.client_factory


def controller_key(obj: JSONObject, kind: str) -> list[ObjectKey]:
    """The key of the object of ``kind`` that controls ``obj`` (same namespace), if any."""
    meta = obj.get("metadata") or {}
    for ref in meta.get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") == kind and ref.get("name"):
            return [ObjectKey(meta.get("namespace") or None, str(ref["name"]))]
    return []


def requests_for_order(obj: JSONObject) -> list[ObjectKey]:
    """The CertificateRequest controlling an Order (its change may complete the request)."""
    return controller_key(obj, "CertificateRequest")


def orders_for_challenge(obj: JSONObject) -> list[ObjectKey]:
    """The Order controlling a Challenge."""
    return controller_key(obj, "Order")


def build_acme_controllers(
    client: KubeClient,
    *,
    enabled: Collection[str],
    informers: SharedInformers,
    accounts: AccountRegistry,
    context: ControllerIssuerContext,
    recorder: EventRecorder,
    clock: Clock,
    sleep: Sleeper,
    workers: int,
    options: AcmeOptions,
) -> list[Controller]:
    """The enabled ACME controllers (``orders``, ``challenges`` and its scheduler)."""
    controllers: list[Controller] = []
    issuer_informers = informers.issuer_informers

    def forget(obj: JSONObject) -> None:
        # A deleted issuer's client (and its connections) is of no more use.
        uid = (obj.get("metadata") or {}).get("uid")
        if uid:
            accounts.remove(str(uid))

    for informer in issuer_informers:
        informer.add_handlers(Handlers(on_delete=forget))

    def queue(name: str) -> WorkQueue[ObjectKey]:
        return WorkQueue(ACME_BACKOFF, clock=clock, sleep=sleep, name=name)

    if ORDERS in enabled:
        orders = OrderReconciler(
            client, informers=informers, accounts=accounts, recorder=recorder, clock=clock
        )
        q = queue(ORDERS)
        informers.orders.add_handlers(enqueue(q))
        informers.challenges.add_handlers(enqueue_mapped(q, orders_for_challenge))
        controllers.append(
            Controller(
                ORDERS,
                orders.reconcile,
                q,
                informers=(informers.orders, informers.challenges, *issuer_informers),
                workers=workers,
            )
        )
    if CHALLENGES in enabled:
        dns01 = DNS01Solver(options.dns01, context.get_secret)
        solvers = ChallengeSolvers(
            http01=options.http01,
            http01_check=options.http01_check,
            http01_cluster=(
                Http01ClusterSolver(client, options.http01_solver)
                if options.http01_solver is not None
                else None
            ),
            dns01=dns01,
            dns01_settle=options.dns01_settle,
            clock=clock,
        )
        challenges = ChallengeReconciler(
            client,
            informers=informers,
            accounts=accounts,
            solvers=solvers,
            context=context,
            recorder=recorder,
            clock=clock,
        )
        q = queue(CHALLENGES)
        informers.challenges.add_handlers(enqueue(q))
        controllers.append(
            Controller(
                CHALLENGES,
                challenges.reconcile,
                q,
                informers=(informers.challenges, *issuer_informers),
                workers=workers,
            )
        )
        scheduler = ChallengeScheduler(
            client,
            informers=informers,
            recorder=recorder,
            max_concurrent=options.max_concurrent_challenges,
        )
        sq = queue(SCHEDULER)

        def schedule(_obj: JSONObject) -> None:
            sq.add(SCHEDULER_KEY)

        informers.challenges.add_handlers(
            Handlers(on_add=schedule, on_update=lambda _o, n: schedule(n), on_delete=schedule)
        )
        controllers.append(
            Controller(SCHEDULER, scheduler.reconcile, sq, informers=(informers.challenges,))
        )
    return controllers


def build_ari_controller(
    client: KubeClient,
    *,
    certificates: Informer,
    informers: SharedInformers,
    accounts: AccountRegistry,
    context: ControllerIssuerContext,
    recorder: EventRecorder,
    clock: Clock,
    sleep: Sleeper,
    workers: int,
) -> Controller:
    """The ``certificates-ari`` controller over the Certificate informer."""
    ari = AriReconciler(
        client,
        certificates=certificates,
        informers=informers,
        accounts=accounts,
        context=context,
        recorder=recorder,
        clock=clock,
    )
    q: WorkQueue[ObjectKey] = WorkQueue(ACME_BACKOFF, clock=clock, sleep=sleep, name=ARI)
    certificates.add_handlers(enqueue(q))
    return Controller(
        ARI,
        ari.reconcile,
        q,
        informers=(certificates, *informers.issuer_informers),
        workers=workers,
    )
