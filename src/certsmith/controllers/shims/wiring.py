"""How the shim controllers are composed: names, which run, what re-queues them.

What this module decides:

* Names: cert-manager's ``ingress-shim`` (on by default) and ``gateway-shim`` (runs only with
  ``--enable-gateway-api``, as in cert-manager), plus certsmith's ``istio-gateway-shim`` (runs only
  with ``--enable-istio-gateway``). The opt-ins exist because an informer on a resource the API
  does not serve never syncs, and the manager starts no worker before every cache has synced: a
  cluster without the Gateway API CRDs or Istio would stall every controller.
* Each shim has its own queue (SPEC §0.4: 5s→5min) keyed by its objects; a Certificate event
  re-queues the object that controls it, so a Certificate deleted or edited by hand is put back.
* The Certificate informer is the one the Certificate controllers share when they run (one
  watch on Certificates per process); the caller passes it in.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Final

from certsmith.client.protocol import KubeClient
from certsmith.controllers.events import EventRecorder
from certsmith.controllers.informers import SharedInformers
from certsmith.controllers.runtime.cache import ObjectKey
from certsmith.controllers.runtime.informer import Informer, enqueue, enqueue_mapped
from certsmith.controllers.runtime.manager import Controller
from certsmith.controllers.runtime.workqueue import ISSUER_BACKOFF, Sleeper, WorkQueue
from certsmith.controllers.shims.sources import GATEWAY, INGRESS, ISTIO_GATEWAY, Source
from certsmith.controllers.shims.sync import ShimOptions, ShimReconciler
from certsmith.util.clock import Clock

log = logging.getLogger(__name__)

INGRESS_SHIM: Final = "ingress-shim"
GATEWAY_SHIM: Final = "gateway-shim"
ISTIO_GATEWAY_SHIM: Final = "istio-gateway-shim"
#: Every shim controller name, with its source.
SOURCES: Final[dict[str, Source]] = {
    INGRESS_SHIM: INGRESS,
    GATEWAY_SHIM: GATEWAY,
    ISTIO_GATEWAY_SHIM: ISTIO_GATEWAY,
}
NAMES: Final = tuple(SOURCES)


def runnable(enabled: Collection[str], options: ShimOptions) -> list[str]:
    """The selected shims whose opt-in flag is on, in :data:`NAMES` order."""
    flags = {
        INGRESS_SHIM: True,
        GATEWAY_SHIM: options.enable_gateway_api,
        ISTIO_GATEWAY_SHIM: options.enable_istio_gateway,
    }
    names = []
    for name in NAMES:
        if name not in enabled:
            continue
        if not flags[name]:
            flag = "--enable-gateway-api" if name == GATEWAY_SHIM else "--enable-istio-gateway"
            log.info("not starting the %s controller: it needs %s", name, flag)
            continue
        names.append(name)
    return names


def build_shim_controllers(
    client: KubeClient,
    *,
    enabled: Collection[str],
    informers: SharedInformers,
    certificates: Informer,
    recorder: EventRecorder,
    options: ShimOptions,
    clock: Clock,
    sleep: Sleeper,
    workers: int,
) -> list[Controller]:
    """The enabled shim controllers (see the module docstring).

    Raises:
        ValueError: ``workers`` < 1.
    """
    controllers: list[Controller] = []
    for name in runnable(enabled, options):
        source = SOURCES[name]
        objects = informers.plain(source.resource)
        reconciler = ShimReconciler(
            client,
            source=source,
            objects=objects,
            certificates=certificates,
            recorder=recorder,
            options=options,
        )
        queue: WorkQueue[ObjectKey] = WorkQueue(ISSUER_BACKOFF, clock=clock, sleep=sleep, name=name)
        objects.add_handlers(enqueue(queue))
        certificates.add_handlers(enqueue_mapped(queue, reconciler.owners_of))
        controllers.append(
            Controller(
                name,
                reconciler.reconcile,
                queue,
                informers=(objects, certificates),
                workers=workers,
            )
        )
    return controllers
