"""The readiness controller (``certificates-readiness``): ``Ready`` and the validity in status.

What it decides (SPEC §5.2, §5.3, §5.6, §5.8 B), and why:

* ``Ready`` is the readiness chain's verdict: the first violation is ``Ready=False`` with its
  reason and message, none is ``Ready=True``/``Ready``. A certificate past its renewal time but
  not expired stays Ready: renewal is the trigger's business.
* ``notBefore``/``notAfter`` come from the certificate in the Secret, and are cleared when the
  Secret or its certificate is gone, so status never describes a certificate that is not there.
* ``renewalTime`` is P1's ``renewal_time_for_spec``: unset with policy ``Disabled``; when the
  renewal windows cannot be satisfied it is the unshifted time and ``Ready=False/WindowError``
  says why. The trigger schedules its timer from this field.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from cryptography import x509

from certsmith.api.certmanager import Certificate, CertificateStatus
from certsmith.api.conditions import CertificateReason, ConditionStatus, ConditionType
from certsmith.api.duration import parse_go_duration
from certsmith.api.meta import set_condition
from certsmith.client.protocol import KubeClient
from certsmith.controllers.certificates.policies import READINESS_CHAIN, PolicyInput, evaluate
from certsmith.controllers.certificates.state import (
    SecretReader,
    gather,
    parse_certificate,
    write_status,
)
from certsmith.controllers.runtime.cache import ObjectKey
from certsmith.controllers.runtime.informer import Informer
from certsmith.controllers.runtime.manager import Requeue
from certsmith.pki.ari import ari_renewal_time
from certsmith.pki.pem import PEMError, split_pem_certificates
from certsmith.pki.renewal import WindowError, renewal_time_for_spec
from certsmith.util.clock import Clock

READY_MESSAGE: Final = "Certificate is up to date and has not expired"


def secret_certificate(policy_input: PolicyInput) -> x509.Certificate | None:
    """The leaf certificate in the Secret's ``tls.crt``, if it decodes."""
    secret = policy_input.secret
    try:
        data = secret.decoded("tls.crt") if secret is not None else None
        certs = split_pem_certificates(data) if data else []
    except (PEMError, ValueError):
        return None
    return certs[0] if certs else None


def _renew_before(cert: Certificate) -> dt.timedelta | None:
    try:
        return parse_go_duration(cert.spec.renew_before) if cert.spec.renew_before else None
    except ValueError:
        return None


class Readiness:
    """Writes ``Ready``, ``notBefore``, ``notAfter`` and ``renewalTime``."""

    def __init__(
        self,
        client: KubeClient,
        *,
        certificates: Informer,
        requests: Informer,
        clock: Clock,
        secret_reader: SecretReader | None = None,
    ) -> None:
        """Create the controller.

        Args:
            client: the API client writes go through.
            certificates: the Certificate informer.
            requests: the CertificateRequest informer.
            clock: "now" for expiry and conditions.
            secret_reader: how Secrets are read (shared with the other controllers); by
                default every read is a GET.
        """
        self._secret_reader = secret_reader or SecretReader(client, None)
        self._client = client
        self._certificates = certificates
        self._requests = requests
        self._clock = clock

    async def reconcile(self, key: ObjectKey) -> Requeue | None:
        """Reconcile one Certificate's readiness; see the module docstring.

        Raises:
            RetryLater: several requests claim one revision.
            certsmith.client.errors.ApiError: a read or write failed (retried with backoff).
        """
        obj = self._certificates.cache.get_key(key)
        original = parse_certificate(obj)
        if obj is None or original is None:
            return None
        now = self._clock.now()
        # Only a status write follows: a current recent read will do.
        policy_input = await gather(self._secret_reader, self._requests, original, now, fresh=False)
        cert = original.model_copy(deep=True)
        status = cert.status or CertificateStatus()
        cert.status = status

        reason: str = CertificateReason.READY
        message = READY_MESSAGE
        ready = ConditionStatus.TRUE
        violation = evaluate(READINESS_CHAIN, policy_input)
        if violation is not None:
            ready, reason, message = ConditionStatus.FALSE, violation.reason, violation.message

        leaf = secret_certificate(policy_input)
        status.not_before = leaf.not_valid_before_utc if leaf is not None else None
        status.not_after = leaf.not_valid_after_utc if leaf is not None else None
        status.renewal_time = None
        if leaf is not None:
            try:
                status.renewal_time = renewal_time_for_spec(
                    leaf.not_valid_before_utc,
                    leaf.not_valid_after_utc,
                    renew_before=_renew_before(cert),
                    renew_before_percentage=cert.spec.renew_before_percentage,
                    renewal=cert.spec.renewal,
                )
            except WindowError as err:
                status.renewal_time = err.desired
                if violation is None:
                    ready, reason = ConditionStatus.FALSE, CertificateReason.WINDOW_ERROR
                    message = f"Could not calculate renewal time: {err}"
            # ACME Renewal Information: the server's window replaces the spec's schedule.
            ari = ari_renewal_time(status, leaf)
            if ari is not None and status.renewal_time is not None:
                status.renewal_time = ari

        status.conditions = set_condition(
            status.conditions,
            ConditionType.READY,
            ready,
            reason,
            message,
            now=now,
            observed_generation=cert.metadata.generation,
        )
        await write_status(self._client, obj, original, cert, certificates=self._certificates)
        if (
            status.not_after is not None
            and status.not_after > now
            and ready is ConditionStatus.TRUE
        ):
            # Expiry turns Ready False without any object changing: look again then.
            return Requeue.at(status.not_after - now + dt.timedelta(seconds=1))
        return None


__all__ = ["READY_MESSAGE", "Readiness", "secret_certificate"]
