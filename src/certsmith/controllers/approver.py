"""The built-in approver: the ``certificaterequests-approver`` controller (SPEC §3.1).

What this module decides:

* A request is approved unless it is already Approved or Denied, or terminal (Ready reason
  Failed/Issued). Approval is ``Approved=True``, reason and message ``cert-manager.io`` /
  ``Certificate request has been approved by cert-manager.io``, written through ``/status``, plus a
  Normal event with the same reason and message.
* Which signers may be approved is, in cert-manager, decided by RBAC on ``signers`` (verb
  ``approve``) that the Helm chart grants for ``approveSignerNames``. The approver here applies
  the same list itself, with the same matching: a request's candidate signer names are
  ``<resource>.<group>/*`` and ``<resource>.<group>/<namespace>.<name>`` (namespaced kinds) or
  ``<resource>.<group>/<name>`` (cluster-scoped), and one must be in the list. The default is the
  chart's (``issuers.cert-manager.io/*``, ``clusterissuers.cert-manager.io/*``), so external
  issuers' requests are left to their own approvers; an empty list approves every request, as
  an empty ``resourceNames`` does.
* When the server enforces that RBAC and refuses (403), the approver logs and retries with
  backoff, as cert-manager's does.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable
from typing import Final

import pydantic

from certsmith.api.certmanager import CertificateRequest, CertificateRequestStatus
from certsmith.api.conditions import (
    APPROVER_MESSAGE,
    ConditionStatus,
    ConditionType,
    EventReason,
    EventType,
    RequestReason,
)
from certsmith.api.meta import is_true, set_condition
from certsmith.client.errors import Forbidden
from certsmith.client.protocol import KubeClient
from certsmith.client.resources import CERTIFICATE_REQUESTS
from certsmith.controllers.errors import RetryLater
from certsmith.controllers.events import EventRecorder, Note
from certsmith.controllers.reporter import ready_reason
from certsmith.controllers.runtime.cache import ObjectKey
from certsmith.controllers.runtime.informer import Informer
from certsmith.controllers.runtime.manager import Requeue
from certsmith.util.clock import Clock

log = logging.getLogger(__name__)

#: The Helm chart's default ``approveSignerNames``.
DEFAULT_APPROVE_SIGNER_NAMES: Final = (
    "issuers.cert-manager.io/*",
    "clusterissuers.cert-manager.io/*",
)
_KNOWN_RESOURCES: Final = {"Issuer": ("issuers", True), "ClusterIssuer": ("clusterissuers", False)}


def signer_names(request: CertificateRequest) -> list[str]:
    """The signer names RBAC would check for ``request``, in cert-manager's order (SPEC §2.3).

    cert-manager maps (group, kind) to a resource by discovery; for kinds it does not know this
    assumes the lower-case plural and a namespaced resource, which is how external issuers name
    theirs.
    """
    ref = request.spec.issuer_ref
    group = ref.effective_group
    resource, namespaced = _KNOWN_RESOURCES.get(ref.effective_kind, (None, True))
    if resource is None or group != "cert-manager.io":
        resource = f"{ref.effective_kind.lower()}s"
    prefix = f"{resource}.{group}"
    target = f"{request.namespace}.{ref.name}" if namespaced else ref.name
    return [f"{prefix}/*", f"{prefix}/{target}"]


def may_approve(request: CertificateRequest, allowed: Iterable[str]) -> bool:
    """Whether ``allowed`` covers one of the request's signer names (empty means everything)."""
    allowed = set(allowed)
    return not allowed or any(name in allowed for name in signer_names(request))


class Approver:
    """Approves the CertificateRequests its signer list covers."""

    def __init__(
        self,
        client: KubeClient,
        *,
        informer: Informer,
        recorder: EventRecorder,
        clock: Clock,
        signer_names: Iterable[str] = DEFAULT_APPROVE_SIGNER_NAMES,
    ) -> None:
        """Create the approver.

        Args:
            client: where the ``/status`` update goes.
            informer: the CertificateRequest informer (all namespaces, or the watched one).
            recorder: where the approval Event goes.
            clock: the condition's ``lastTransitionTime``.
            signer_names: which signers to approve; empty approves every request.
        """
        self._client = client
        self._informer = informer
        self._recorder = recorder
        self._clock = clock
        self.signer_names = frozenset(signer_names)

    async def reconcile(self, key: ObjectKey) -> Requeue | None:
        """Approve the request at ``key`` if it should be.

        Raises:
            RetryLater: the server refused the approval (403); retried with backoff.
            certsmith.client.errors.ApiError: the status write failed otherwise (retried).
        """
        obj = self._informer.cache.get_key(key)
        if obj is None or (obj.get("metadata") or {}).get("deletionTimestamp"):
            return None
        try:
            request = CertificateRequest.from_dict(copy.deepcopy(obj))
        except pydantic.ValidationError as err:
            log.warning("certificaterequest %s: cannot parse: %s", key, err)
            return None
        conditions = request.status.conditions if request.status else None
        if is_true(conditions, ConditionType.APPROVED) or is_true(conditions, ConditionType.DENIED):
            return None
        if ready_reason(request) in (RequestReason.FAILED, RequestReason.ISSUED):
            return None
        if not may_approve(request, self.signer_names):
            return None

        status = request.status or CertificateRequestStatus()
        status.conditions = set_condition(
            status.conditions,
            ConditionType.APPROVED,
            ConditionStatus.TRUE,
            EventReason.APPROVED_BY_CERT_MANAGER,
            APPROVER_MESSAGE,
            now=self._clock.now(),
        )
        request.status = status
        body = copy.deepcopy(obj)
        body["status"] = status.to_dict()
        try:
            stored = await self._client.replace_status(
                CERTIFICATE_REQUESTS, request.namespace, request.name, body
            )
        except Forbidden as err:
            log.warning("certificaterequest %s: approval refused: %s", key, err.message)
            raise RetryLater(f"approval of {key} refused by the server") from None
        request.metadata.resource_version = (stored.get("metadata") or {}).get(
            "resourceVersion"
        ) or request.metadata.resource_version
        await self._recorder.record(
            request,
            Note(EventType.NORMAL, EventReason.APPROVED_BY_CERT_MANAGER, APPROVER_MESSAGE),
        )
        return None
