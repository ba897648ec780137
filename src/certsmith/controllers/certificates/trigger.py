"""The trigger (``certificates-trigger``): when to (re)issue a Certificate.

What it decides (SPEC §5.4 "trigger"), and why:

* Nothing while deleting or already ``Issuing=True``: one attempt at a time.
* Only the Certificate that owns the target Secret acts (P2's ``secret_owner``); the others
  re-check every 3 minutes, so two Certificates sharing a Secret do not fight over it.
* After a failure it waits ``backoff_delay(failedIssuanceAttempts)`` after ``lastFailureTime``
  (1h, 2h, … 32h by default; ``ControllerOptions.certificate_request_minimum_backoff`` /
  ``maximum_backoff`` tune it per deployment) unless the next request no longer matches the
  spec: an edited spec is a new attempt, not a retry. The wait is a work-queue timer
  (``Requeue``), never polling.
* Renewal is timer-driven as well: with ``status.renewalTime`` in the future the key is
  re-queued for exactly that time.
* Otherwise the first violation of the trigger chain sets ``Issuing=True`` with its reason and
  message (a Normal ``Issuing`` event tells the user why).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Final

from certsmith.api.certmanager import Certificate, CertificateStatus
from certsmith.api.conditions import ConditionStatus, ConditionType, EventReason, EventType
from certsmith.api.meta import format_time, is_true, set_condition
from certsmith.client.protocol import KubeClient
from certsmith.controllers.certificates.ownership import secret_owner
from certsmith.controllers.certificates.policies import TRIGGER_CHAIN, PolicyInput, evaluate
from certsmith.controllers.certificates.requestmanager import stale_fields
from certsmith.controllers.certificates.state import (
    SecretReader,
    certificates_writing,
    gather,
    parse_certificate,
    write_status,
)
from certsmith.controllers.events import EventRecorder, Note
from certsmith.controllers.runtime.cache import ObjectKey
from certsmith.controllers.runtime.informer import Informer
from certsmith.controllers.runtime.manager import Requeue
from certsmith.pki.renewal import DEFAULT_INITIAL_BACKOFF, DEFAULT_MAXIMUM_BACKOFF, backoff_delay
from certsmith.util.clock import Clock

log = logging.getLogger(__name__)

#: How often a Certificate that does not own its Secret looks again (cert-manager's 3 minutes).
NOT_OWNER_RECHECK: Final = dt.timedelta(minutes=3)


def retry_at(
    cert: Certificate,
    policy_input: PolicyInput,
    backoff: tuple[dt.timedelta, dt.timedelta] = (DEFAULT_INITIAL_BACKOFF, DEFAULT_MAXIMUM_BACKOFF),
) -> dt.datetime | None:
    """When a failed Certificate may be retried; ``None`` when it need not wait.

    Args:
        cert: the Certificate.
        policy_input: what was gathered for it (the next request).
        backoff: (the wait after the first failure, the cap).

    Returns:
        ``lastFailureTime + backoff_delay(failedIssuanceAttempts)``, or ``None`` with no failure
        or when the next request no longer matches the spec (the spec was edited).
    """
    status = cert.status
    if status is None or status.last_failure_time is None:
        return None
    upcoming = policy_input.next_request
    if upcoming is not None and stale_fields(upcoming, cert):
        return None
    return status.last_failure_time + backoff_delay(status.failed_issuance_attempts, *backoff)


class Trigger:
    """Sets ``Issuing=True`` when the trigger chain finds a reason, honouring the backoff."""

    def __init__(
        self,
        client: KubeClient,
        *,
        certificates: Informer,
        requests: Informer,
        recorder: EventRecorder,
        clock: Clock,
        backoff: tuple[dt.timedelta, dt.timedelta] = (
            DEFAULT_INITIAL_BACKOFF,
            DEFAULT_MAXIMUM_BACKOFF,
        ),
        secret_reader: SecretReader | None = None,
    ) -> None:
        """Create the controller.

        Args:
            client: the API client writes go through.
            certificates: the Certificate informer.
            requests: the CertificateRequest informer.
            recorder: where Events go.
            clock: "now" for backoff, renewal and conditions.
            backoff: (the wait after the first failed issuance, the cap).
            secret_reader: how Secrets are read (shared with the other controllers); by
                default every read is a GET.
        """
        self._secret_reader = secret_reader or SecretReader(client, None)
        self._backoff = backoff
        self._client = client
        self._certificates = certificates
        self._requests = requests
        self._recorder = recorder
        self._clock = clock

    async def reconcile(self, key: ObjectKey) -> Requeue | None:
        """Reconcile one Certificate's trigger; see the module docstring.

        Raises:
            RetryLater: several requests claim one revision.
            certsmith.client.errors.ApiError: a read or write failed (retried with backoff).
        """
        obj = self._certificates.cache.get_key(key)
        original = parse_certificate(obj)
        if obj is None or original is None:
            return None
        status = original.status or CertificateStatus()
        if is_true(status.conditions, ConditionType.ISSUING):
            return None
        now = self._clock.now()
        # Only a decision (and a status write) follows: a current recent read will do.
        policy_input = await gather(self._secret_reader, self._requests, original, now, fresh=False)
        if not self._owns_secret(original, policy_input):
            return Requeue.at(NOT_OWNER_RECHECK)

        retry = retry_at(original, policy_input, self._backoff)
        if retry is not None and now < retry:
            log.info("certificate %s: backing off until %s", key, format_time(retry))
            return Requeue.at(retry - now)
        requeue: Requeue | None = None
        if status.renewal_time is not None and status.renewal_time > now:
            requeue = Requeue.at(status.renewal_time - now)

        violation = evaluate(TRIGGER_CHAIN, policy_input)
        if violation is None:
            return requeue
        cert = original.model_copy(deep=True)
        new_status = cert.status or CertificateStatus()
        cert.status = new_status
        new_status.conditions = set_condition(
            new_status.conditions,
            ConditionType.ISSUING,
            ConditionStatus.TRUE,
            violation.reason,
            violation.message,
            now=now,
            observed_generation=cert.metadata.generation,
        )
        await write_status(self._client, obj, original, cert, certificates=self._certificates)
        await self._recorder.record(
            cert, Note(EventType.NORMAL, EventReason.ISSUING, violation.message)
        )
        return requeue

    def _owns_secret(self, cert: Certificate, policy_input: PolicyInput) -> bool:
        # Only the Certificates naming the same Secret can own it (usually just ``cert``), so
        # only those are parsed: the index keeps this O(1) in the size of the namespace.
        same_secret = certificates_writing(
            self._certificates, cert.namespace, cert.spec.secret_name
        )
        siblings = [c for c in (parse_certificate(o) for o in same_secret) if c is not None]
        owner = secret_owner(siblings, policy_input.secret, secret_name=cert.spec.secret_name)
        return owner is None or owner.metadata.uid == cert.metadata.uid


__all__ = ["NOT_OWNER_RECHECK", "Trigger", "retry_at"]
