"""Issuer and ClusterIssuer readiness: the ``issuers`` and ``clusterissuers`` controllers.

What this module decides (SPEC §4.1):

* The issuer type's :meth:`~certsmith.issuers.base.Issuer.check` decides readiness; this
  controller only turns its outcome into the Ready condition (with ``observedGeneration``) and
  writes it through ``/status`` when it changed. The outcome's Event is recorded on that change
  only, so a retried failure does not add an Event per attempt.
* ``IssuerNotReady(retry=True)`` (a missing Secret) is retried with backoff; ``retry=False`` (a
  certificate that is not a CA) waits for the next change to the issuer or its Secret.
* An unexpected error in ``check`` is cert-manager's Setup error: a Warning ``ErrInitIssuer``
  event "Error initializing issuer: <err>" and a retry; the condition is left alone.
* An issuer with no type configured (admission rejects it) or of a type no installed issuer
  implements gets no condition: it is logged and skipped. cert-manager errors and retries
  forever there; nothing would change by retrying, and a later edit queues it again.
* Fields beside the condition that the issuer type owns (``status.acme`` of the ACME issuer)
  come with the outcome (``IssuerReady.status``) and are written in the same status update.
* Secret changes queue the issuers that read that Secret; for ClusterIssuers only Secrets in the
  cluster resource namespace count (the index is built that way).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import Any

import pydantic

from certsmith.api.certmanager import AnyIssuer, ClusterIssuer, Issuer, IssuerStatus
from certsmith.api.conditions import (
    ConditionStatus,
    ConditionType,
    EventReason,
    EventType,
    IssuerReason,
)
from certsmith.api.meta import set_condition
from certsmith.client.protocol import KubeClient
from certsmith.client.resources import CLUSTER_ISSUERS, ISSUERS
from certsmith.controllers.errors import RetryLater
from certsmith.controllers.events import EventRecorder, Note
from certsmith.controllers.informers import BY_SECRET
from certsmith.controllers.runtime.cache import JSONObject, ObjectKey
from certsmith.controllers.runtime.informer import Informer
from certsmith.controllers.runtime.manager import Requeue
from certsmith.issuers.base import Issuer as IssuerImpl
from certsmith.issuers.base import IssuerContext, IssuerEvent, IssuerNotReady, IssuerReady
from certsmith.util.clock import Clock

log = logging.getLogger(__name__)


def parse_issuer(obj: JSONObject) -> AnyIssuer:
    """Parse a cached Issuer or ClusterIssuer by its ``kind`` (a deep copy, safe to change).

    Raises:
        pydantic.ValidationError: the object does not fit the model.
    """
    data = copy.deepcopy(obj)
    if data.get("kind") == "ClusterIssuer" or not (data.get("metadata") or {}).get("namespace"):
        return ClusterIssuer.from_dict(data)
    return Issuer.from_dict(data)


class IssuerReadinessReconciler:
    """Reconciles one kind: Issuers (namespaced) or ClusterIssuers."""

    def __init__(
        self,
        client: KubeClient,
        *,
        cluster: bool,
        informer: Informer,
        issuers: Mapping[str, IssuerImpl],
        context: IssuerContext,
        recorder: EventRecorder,
        clock: Clock,
    ) -> None:
        """Create the reconciler for ClusterIssuers (``cluster=True``) or Issuers."""
        self._client = client
        self._resource = CLUSTER_ISSUERS if cluster else ISSUERS
        self._informer = informer
        self._issuers = issuers
        self._context = context
        self._recorder = recorder
        self._clock = clock

    async def reconcile(self, key: ObjectKey) -> Requeue | None:
        """Check the issuer and write its Ready condition if it changed.

        Raises:
            RetryLater: the check failed in a way that may pass (retried with backoff).
            certsmith.client.errors.ApiError: the status write failed (409 included).
        """
        obj = self._informer.cache.get_key(key)
        if obj is None or (obj.get("metadata") or {}).get("deletionTimestamp"):
            return None
        try:
            issuer = parse_issuer(obj)
        except pydantic.ValidationError as err:
            log.warning("%s %s: cannot parse: %s", self._resource.plural, key, err)
            return None
        spec_key = issuer.spec.issuer_type
        if spec_key is None:
            log.warning("%s %s: no issuer type configured; skipping", issuer.KIND, key)
            return None
        implementation = self._issuers.get(spec_key)
        if implementation is None:
            log.info("%s %s: issuer type %r is not served here", issuer.KIND, key, spec_key)
            return None

        retry = False
        event: IssuerEvent | None
        try:
            ready: IssuerReady | IssuerNotReady = await implementation.check(issuer, self._context)
        except IssuerNotReady as not_ready:
            ready = not_ready
            retry = not_ready.retry
        except Exception as err:
            log.exception("%s %s: check failed", issuer.KIND, key)
            await self._recorder.record(
                issuer,
                Note(
                    EventType.WARNING,
                    EventReason.ERR_INIT_ISSUER,
                    f"Error initializing issuer: {err}",
                ),
            )
            raise RetryLater(f"{issuer.KIND} {key}: check failed") from None
        status_value = (
            ConditionStatus.TRUE if isinstance(ready, IssuerReady) else ConditionStatus.FALSE
        )
        event = ready.event
        changed = await self._write_ready(
            obj, issuer, status_value, ready.reason, ready.message, ready.status
        )
        if changed and event is not None:
            await self._recorder.record(issuer, Note(event.type, event.reason, event.message))
        if retry:
            raise RetryLater(f"{issuer.KIND} {key}: not ready: {ready.reason}")
        return None

    async def _write_ready(
        self,
        obj: JSONObject,
        issuer: AnyIssuer,
        status_value: ConditionStatus,
        reason: IssuerReason,
        message: str,
        extra: Mapping[str, Any],
    ) -> bool:
        before = issuer.status.to_dict() if issuer.status is not None else {}
        status = issuer.status.model_copy(deep=True) if issuer.status else IssuerStatus()
        if extra:
            # Fields the issuer type owns (status.acme), merged in wire form.
            merged = status.to_dict()
            for key, value in extra.items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            status = IssuerStatus.from_dict(merged)
        status.conditions = set_condition(
            status.conditions,
            ConditionType.READY,
            status_value,
            reason,
            message,
            now=self._clock.now(),
            observed_generation=issuer.metadata.generation,
        )
        after = status.to_dict()
        if after == before:
            return False
        body = copy.deepcopy(obj)
        body["status"] = after
        await self._client.replace_status(
            self._resource, issuer.namespace or None, issuer.name, body
        )
        return True


def issuers_for_secret(informer: Informer, secret: JSONObject) -> list[ObjectKey]:
    """The keys of the issuers in ``informer`` that read ``secret`` (a trigger mapper)."""
    meta = secret.get("metadata") or {}
    value = f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"
    return [ObjectKey.of(obj) for obj in informer.cache.by_index(BY_SECRET, value)]
