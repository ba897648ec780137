"""How the Certificate controllers are composed: names, queues and what re-queues them.

What this module decides:

* The controller names are cert-manager's (``certificates-trigger``, ``-key-manager``,
  ``-request-manager``, ``-issuing``, ``-readiness``, ``-revision-manager``), each with its own
  work queue (SPEC §0.4 Certificate backoff 1s→30s), all keyed by Certificate.
* One Certificate informer is shared by all of them; CertificateRequests and Secrets come from
  the manager's shared informers. A request or key Secret re-queues its controlling
  Certificate; a Secret re-queues every Certificate whose ``secretName`` it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from functools import partial
from typing import Final

from certsmith.client.protocol import KubeClient
from certsmith.controllers.certificates.issuing import IssuingController
from certsmith.controllers.certificates.keymanager import KeyManager
from certsmith.controllers.certificates.readiness import Readiness
from certsmith.controllers.certificates.requestmanager import RequestManager
from certsmith.controllers.certificates.revisionmanager import RevisionManager
from certsmith.controllers.certificates.state import (
    SecretReader,
    certificate_informer,
    certificates_for_owned,
    certificates_for_secret,
)
from certsmith.controllers.certificates.trigger import Trigger
from certsmith.controllers.events import EventRecorder
from certsmith.controllers.informers import SharedInformers
from certsmith.controllers.runtime.cache import ObjectKey
from certsmith.controllers.runtime.informer import Informer, enqueue, enqueue_mapped
from certsmith.controllers.runtime.manager import Controller, Reconcile
from certsmith.controllers.runtime.workqueue import CERTIFICATE_BACKOFF, Sleeper, WorkQueue
from certsmith.pki.renewal import DEFAULT_INITIAL_BACKOFF, DEFAULT_MAXIMUM_BACKOFF
from certsmith.util.clock import Clock

TRIGGER: Final = "certificates-trigger"
KEY_MANAGER: Final = "certificates-key-manager"
REQUEST_MANAGER: Final = "certificates-request-manager"
ISSUING: Final = "certificates-issuing"
READINESS: Final = "certificates-readiness"
REVISION_MANAGER: Final = "certificates-revision-manager"
#: The failed-issuance backoff: (wait after the first failure, cap), SPEC §5.4.
DEFAULT_BACKOFF: Final = (DEFAULT_INITIAL_BACKOFF, DEFAULT_MAXIMUM_BACKOFF)


@dataclass(frozen=True)
class Deps:
    """What every Certificate controller is built from."""

    client: KubeClient
    certificates: Informer
    informers: SharedInformers
    recorder: EventRecorder
    clock: Clock
    secret_reader: SecretReader
    backoff: tuple[dt.timedelta, dt.timedelta] = field(default=DEFAULT_BACKOFF)


def _trigger(d: Deps) -> Reconcile:
    return Trigger(
        d.client,
        certificates=d.certificates,
        requests=d.informers.requests,
        recorder=d.recorder,
        clock=d.clock,
        backoff=d.backoff,
        secret_reader=d.secret_reader,
    ).reconcile


def _readiness(d: Deps) -> Reconcile:
    return Readiness(
        d.client,
        certificates=d.certificates,
        requests=d.informers.requests,
        clock=d.clock,
        secret_reader=d.secret_reader,
    ).reconcile


def _revision_manager(d: Deps) -> Reconcile:
    return RevisionManager(
        d.client, certificates=d.certificates, requests=d.informers.requests
    ).reconcile


def _key_manager(d: Deps) -> Reconcile:
    return KeyManager(
        d.client, certificates=d.certificates, secrets=d.informers.secrets, recorder=d.recorder
    ).reconcile


def _request_manager(d: Deps) -> Reconcile:
    return RequestManager(
        d.client,
        certificates=d.certificates,
        requests=d.informers.requests,
        recorder=d.recorder,
        secret_reader=d.secret_reader,
    ).reconcile


def _issuing(d: Deps) -> Reconcile:
    return IssuingController(
        d.client,
        certificates=d.certificates,
        requests=d.informers.requests,
        secrets=d.informers.secrets,
        recorder=d.recorder,
        clock=d.clock,
        backoff=d.backoff,
        secret_reader=d.secret_reader,
    ).reconcile


#: The controllers in pipeline order, with how to build each reconcile function.
BUILDERS: Final[dict[str, Callable[[Deps], Reconcile]]] = {
    TRIGGER: _trigger,
    KEY_MANAGER: _key_manager,
    REQUEST_MANAGER: _request_manager,
    ISSUING: _issuing,
    READINESS: _readiness,
    REVISION_MANAGER: _revision_manager,
}
#: Every Certificate controller name.
NAMES: Final = (TRIGGER, KEY_MANAGER, REQUEST_MANAGER, ISSUING, READINESS, REVISION_MANAGER)


def build_certificate_controllers(
    client: KubeClient,
    *,
    enabled: Collection[str],
    informers: SharedInformers,
    recorder: EventRecorder,
    clock: Clock,
    sleep: Sleeper,
    workers: int,
    backoff: tuple[dt.timedelta, dt.timedelta] = DEFAULT_BACKOFF,
) -> list[Controller]:
    """The enabled Certificate controllers over one shared Certificate informer.

    ``backoff`` is (wait after the first failed issuance, cap) for the trigger's retry delay.

    Raises:
        ValueError: ``workers`` < 1.
    """
    names = [name for name in BUILDERS if name in enabled]
    if not names:
        return []
    certificates = certificate_informer(client, namespace=informers.namespace, sleep=sleep)
    # One reader for all: the trigger's read of a Secret serves readiness and issuing too.
    reader = SecretReader(client, informers.secrets)
    deps = Deps(client, certificates, informers, recorder, clock, reader, backoff)
    controllers: list[Controller] = []
    for name in names:
        queue: WorkQueue[ObjectKey] = WorkQueue(
            CERTIFICATE_BACKOFF, clock=clock, sleep=sleep, name=name
        )
        certificates.add_handlers(enqueue(queue))
        informers.requests.add_handlers(
            enqueue_mapped(queue, partial(certificates_for_owned, certificates))
        )
        informers.secrets.add_handlers(
            enqueue_mapped(queue, partial(certificates_for_secret, certificates))
        )
        controllers.append(
            Controller(
                name,
                BUILDERS[name](deps),
                queue,
                informers=(certificates, informers.requests, informers.secrets),
                workers=workers,
            )
        )
    return controllers


__all__ = [
    "ISSUING",
    "KEY_MANAGER",
    "NAMES",
    "READINESS",
    "REQUEST_MANAGER",
    "REVISION_MANAGER",
    "TRIGGER",
    "build_certificate_controllers",
]
