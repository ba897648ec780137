"""The shared CertificateRequest reconciler: every gate before signing, and the one status write.

This is cert-manager's ``certificaterequests/sync.go`` (SPEC §1.5), run once for all issuer
types instead of once per type. The gates, in order:

1. ``issuerRef.group`` other than ``""``/``cert-manager.io`` → not ours; never touched.
2. ``Denied=True`` → Ready=False/Denied, ``failureTime`` once; stop.
3. ``InvalidRequest=True`` → stop.
4. not ``Approved=True`` → Normal event ``WaitingForApproval``, **no condition**; stop.
5. Ready reason ``Failed``/``Issued`` → stop for good (requests are one-shot).
6. issuer lookup in the cache: missing → Pending ``Referenced "<Kind>" not found: ...``; a kind
   other than Issuer/ClusterIssuer → an error, retried (SPEC §0.1). When the controllers are
   limited to one namespace (``--namespace``) a request for a ClusterIssuer is left alone: no
   status, no event, no retry. cert-manager answers it with "cannot get ClusterIssuer ... as
   cert-manager is scoped to a single namespace" and a backoff retry that can never succeed;
   the object ends the same (untouched), and we spare the retry loop and its log noise.
7. no issuer type → Pending ``Missing issuer type: ...``.
8. a type not served by this manager (not installed, or its controller disabled) → stop.
9. issuer not ``Ready=True`` → Pending ``Referenced issuer does not have a Ready status condition``.
10. ``status.certificate`` already set → stop.
11. ``sign``: ``Issued`` → store chain and CA, check the chain decodes, Ready=True/Issued;
    ``SignPending`` → Pending (requeue per ``retry_after``); ``SignFailed`` → Failed; anything
    else → Pending with a generic message (the details go to the log, never to the object) and
    a backoff retry.

The reconciler reads from the informer cache, changes a deep copy, writes the status once through
``/status`` with the resourceVersion it read (a 409 is retried), and only then records Events, so
it is safe to re-run after a crash at any line. Deleted requests (deletionTimestamp) are skipped.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import Final

import pydantic

from certsmith.api.certmanager import AnyIssuer, CertificateRequest
from certsmith.api.conditions import (
    WAITING_FOR_APPROVAL_MESSAGE,
    ConditionType,
    EventReason,
    EventType,
    RequestReason,
)
from certsmith.api.meta import is_true
from certsmith.client.protocol import KubeClient
from certsmith.client.resources import CERTIFICATE_REQUESTS
from certsmith.controllers.errors import RetryLater
from certsmith.controllers.events import EventRecorder, Note
from certsmith.controllers.informers import (
    BY_ISSUER,
    BY_KEY_SECRET,
    CERT_MANAGER_GROUPS,
    SharedInformers,
    issuer_index_value,
)
from certsmith.controllers.issuers import issuers_for_secret, parse_issuer
from certsmith.controllers.reporter import Reporter, ready_reason
from certsmith.controllers.runtime.cache import JSONObject, ObjectKey
from certsmith.controllers.runtime.manager import Requeue
from certsmith.issuers.base import (
    Issued,
    IssuerContext,
    SignFailed,
    SignPending,
)
from certsmith.issuers.base import Issuer as IssuerImpl
from certsmith.pki.pem import PEMError, split_pem_certificates
from certsmith.util.clock import Clock

log = logging.getLogger(__name__)

ISSUER_NOT_READY_MESSAGE: Final = "Referenced issuer does not have a Ready status condition"
CA_DECODE_HINT: Final = (
    ": with CA issuers, ensure the Certificate's secretName is different from the CA issuer's "
    "secretName to avoid overwriting the CA secret"
)


class InvalidIssuerKindError(ValueError):
    """``issuerRef.kind`` is neither empty, ``Issuer`` nor ``ClusterIssuer``."""


class CertificateRequestReconciler:
    """Runs the gates of SPEC §1.5 for the issuer types in ``issuers``."""

    def __init__(
        self,
        client: KubeClient,
        *,
        informers: SharedInformers,
        issuers: Mapping[str, IssuerImpl],
        context: IssuerContext,
        recorder: EventRecorder,
        clock: Clock,
    ) -> None:
        """Create the reconciler.

        Args:
            client: the API client status writes go through.
            informers: the shared caches of requests, issuers and cluster issuers.
            issuers: the issuer implementations this reconciler signs with, by spec key.
            context: what issuers may use (Secrets, clock, resource namespace).
            recorder: where Events go.
            clock: the time of conditions and ``failureTime``.
        """
        self._client = client
        self._informers = informers
        self._issuers = issuers
        self._context = context
        self._recorder = recorder
        self._clock = clock

    async def reconcile(self, key: ObjectKey) -> Requeue | None:
        """Reconcile one CertificateRequest; see the module docstring.

        Raises:
            RetryLater: the request must be looked at again with backoff.
            InvalidIssuerKindError: ``issuerRef.kind`` is not a cert-manager kind (retried).
            certsmith.client.errors.ApiError: the status write failed (409 included; retried).
        """
        obj = self._informers.requests.cache.get_key(key)
        if obj is None or (obj.get("metadata") or {}).get("deletionTimestamp"):
            return None
        try:
            original = CertificateRequest.from_dict(copy.deepcopy(obj))
        except pydantic.ValidationError as err:
            log.warning("certificaterequest %s: cannot parse: %s", key, err)
            return None
        ref = original.spec.issuer_ref
        if (ref.group or "") not in CERT_MANAGER_GROUPS:
            return None  # an external issuer's request (gate 1)

        request = original.model_copy(deep=True)
        reporter = Reporter(request, now=self._clock.now())
        outcome = await self._decide(request, reporter)
        await self._write_status(obj, original, request)
        for note in reporter.notes:
            await self._recorder.record(request, note)
        if isinstance(outcome, RetryLater):
            raise outcome
        return outcome

    async def _decide(
        self, request: CertificateRequest, reporter: Reporter
    ) -> Requeue | RetryLater | None:
        conditions = request.status.conditions if request.status else None
        if is_true(conditions, ConditionType.DENIED):
            reporter.denied()
            return None
        if is_true(conditions, ConditionType.INVALID_REQUEST):
            return None
        if not is_true(conditions, ConditionType.APPROVED):
            reporter.note(
                Note(
                    EventType.NORMAL,
                    EventReason.WAITING_FOR_APPROVAL,
                    WAITING_FOR_APPROVAL_MESSAGE,
                )
            )
            return None
        if ready_reason(request) in (RequestReason.FAILED, RequestReason.ISSUED):
            return None

        if not self._informers.cluster_scoped and request.spec.issuer_ref.kind == "ClusterIssuer":
            log.info(
                "certificaterequest %s/%s: not processed, it references ClusterIssuer %r and "
                "the controllers are limited to namespace %r",
                request.namespace,
                request.name,
                request.spec.issuer_ref.name,
                self._informers.namespace,
            )
            return None
        issuer = self._lookup_issuer(request)
        if issuer is None:
            ref = request.spec.issuer_ref
            kind = ref.effective_kind
            reporter.pending(
                EventReason.ISSUER_NOT_FOUND,
                f'Referenced "{kind}" not found: {kind.lower()}.cert-manager.io "{ref.name}" '
                "not found",
            )
            return None
        spec_key = issuer.spec.issuer_type
        if spec_key is None:
            where = f"{issuer.namespace}/{issuer.name}" if issuer.namespace else issuer.name
            reporter.pending(
                EventReason.ISSUER_TYPE_MISSING,
                f"Missing issuer type: no issuer specified for {issuer.KIND} '{where}'",
            )
            return None
        implementation = self._issuers.get(spec_key)
        if implementation is None:
            return None  # another controller (or none) serves this type (gate 8)
        issuer_conditions = issuer.status.conditions if issuer.status else None
        if not is_true(issuer_conditions, ConditionType.READY):
            reporter.pending(EventReason.ISSUER_NOT_READY, ISSUER_NOT_READY_MESSAGE)
            return None
        if request.status is not None and request.status.certificate:
            return None
        return await self._sign(request, issuer, implementation, spec_key, reporter)

    async def _sign(
        self,
        request: CertificateRequest,
        issuer: AnyIssuer,
        implementation: IssuerImpl,
        spec_key: str,
        reporter: Reporter,
    ) -> Requeue | RetryLater | None:
        try:
            issued: Issued = await implementation.sign(
                request.model_copy(deep=True), issuer, self._context
            )
        except SignPending as pending:
            reporter.pending(pending.event_reason, pending.message)
            if pending.retry_after is None:
                return None
            if pending.retry_after <= 0:
                return RetryLater(f"signing pending: {pending.event_reason.value}")
            return Requeue(pending.retry_after)
        except SignFailed as failed:
            reporter.failed(failed.event_reason, failed.message)
            return None
        except Exception as err:
            # The exception text may carry internals (or worse); it goes to the log only.
            log.exception(
                "certificaterequest %s/%s: issuer %r failed",
                request.namespace,
                request.name,
                spec_key,
            )
            reporter.pending(
                EventReason.SIGNING_ERROR,
                f"Error signing certificate: unexpected {type(err).__name__} in the "
                f'"{spec_key}" issuer; see the controller log, retrying',
            )
            return RetryLater("issuer raised an unexpected error")

        reporter.store_certificate(issued.chain_pem, issued.ca_pem)
        for event in issued.events:
            reporter.note(Note(event.type, event.reason, event.message))
        try:
            if not split_pem_certificates(issued.chain_pem):
                raise PEMError("no certificate found")
        except (PEMError, ValueError) as err:
            hint = CA_DECODE_HINT if spec_key == "ca" else ""
            reporter.failed(
                EventReason.DECODE_ERROR, f"Failed to decode returned certificate: {err}{hint}"
            )
            return None
        reporter.issued()
        return None

    def _lookup_issuer(self, request: CertificateRequest) -> AnyIssuer | None:
        ref = request.spec.issuer_ref
        kind = ref.kind or ""
        if kind in ("", "Issuer"):
            obj = self._informers.issuers.cache.get(request.namespace, ref.name)
        elif kind == "ClusterIssuer":
            obj = self._informers.cluster_issuers.cache.get(None, ref.name)
        else:
            raise InvalidIssuerKindError(
                f'invalid value "{kind}" for issuerRef.kind. Must be empty, "Issuer" or '
                '"ClusterIssuer"'
            )
        if obj is None:
            return None
        try:
            return parse_issuer(obj)
        except pydantic.ValidationError:
            log.warning("issuer %s/%s: cannot parse; treating as absent", kind, ref.name)
            return None

    async def _write_status(
        self, obj: JSONObject, original: CertificateRequest, request: CertificateRequest
    ) -> None:
        before = original.status.to_dict() if original.status is not None else {}
        after = request.status.to_dict() if request.status is not None else {}
        if before == after:
            return
        body = copy.deepcopy(obj)
        body["status"] = after
        stored = await self._client.replace_status(
            CERTIFICATE_REQUESTS, request.namespace, request.name, body
        )
        # Events point at the version that carries the outcome they describe.
        new_rv = (stored.get("metadata") or {}).get("resourceVersion")
        if new_rv:
            request.metadata.resource_version = str(new_rv)


# -- cross-resource triggers (mappers for the informers' handlers) -------------------------------


def requests_for_issuer(informers: SharedInformers, issuer: JSONObject) -> list[ObjectKey]:
    """The requests that reference an Issuer or ClusterIssuer (by kind, namespace and name)."""
    meta = issuer.get("metadata") or {}
    namespace = meta.get("namespace")
    kind = "Issuer" if namespace else "ClusterIssuer"
    value = issuer_index_value(kind, namespace, str(meta.get("name") or ""))
    return [ObjectKey.of(obj) for obj in informers.requests.cache.by_index(BY_ISSUER, value)]


def requests_for_secret(informers: SharedInformers, secret: JSONObject) -> list[ObjectKey]:
    """The requests a Secret change may unblock.

    Those whose SelfSigned key it is (annotation), and those of the issuers that read it. The
    second set matters when the issuer's readiness does not change (a CA Secret replaced by
    another valid one after a request went Pending on bad data).
    """
    meta = secret.get("metadata") or {}
    value = f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"
    keys = {ObjectKey.of(obj) for obj in informers.requests.cache.by_index(BY_KEY_SECRET, value)}
    for informer in informers.issuer_informers:
        for issuer_key in issuers_for_secret(informer, secret):
            issuer = informer.cache.get_key(issuer_key)
            if issuer is not None:
                keys.update(requests_for_issuer(informers, issuer))
    return sorted(keys)


__all__ = [
    "CertificateRequestReconciler",
    "InvalidIssuerKindError",
    "requests_for_issuer",
    "requests_for_secret",
]
