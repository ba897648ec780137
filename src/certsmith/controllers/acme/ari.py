"""The ``certificates-ari`` controller: ACME Renewal Information for ACME-issued Certificates.

certsmith ships ARI on (cert-manager has it behind the ACMEUseARI gate): for a Certificate whose
issuer is ACME with ``renewalInformationSource`` other than ``None``, and whose Secret holds a
certificate from that issuer, this controller asks the server's ``renewalInfo`` for the
suggested renewal window and records it in ``status.acme.ari`` (``suggestedWindow``,
``explanationURL``, ``lastChecked``, ``nextCheck``). Readiness and the renewal trigger then take
the renewal time from that window (:mod:`certsmith.pki.ari`).

* It asks again at ``nextCheck``: the server's ``Retry-After``, else 6 h, kept within 1 h..7 d
  (cert-manager's bounds). A failure is recorded as ``lastError`` with a Warning ``ARIError``
  event, and retried after an hour.
* A server without ARI (no ``renewalInfo`` in its directory, e.g. pebble) is asked again after
  6 h and nothing is written: the Certificate renews by its own schedule.
* The status is written with a merge patch of ``status.acme.ari`` only, so it never overwrites
  what the other Certificate controllers write.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Final

from certsmith.acme.problems import AcmeError
from certsmith.api.conditions import ConditionType, EventReason, EventType
from certsmith.api.meta import format_time, is_true
from certsmith.client.protocol import KubeClient
from certsmith.client.resources import CERTIFICATES
from certsmith.controllers.acme.common import IssuerLookupError, lookup_issuer
from certsmith.controllers.certificates.state import parse_certificate
from certsmith.controllers.events import EventRecorder, Note
from certsmith.controllers.informers import SharedInformers
from certsmith.controllers.runtime.cache import ObjectKey
from certsmith.controllers.runtime.informer import Informer
from certsmith.controllers.runtime.manager import Requeue
from certsmith.issuers.acme.accounts import AccountRegistry, ClientNotAvailableError
from certsmith.issuers.acme.requests import (
    ISSUER_GROUP_ANNOTATION,
    ISSUER_KIND_ANNOTATION,
    ISSUER_NAME_ANNOTATION,
    ari_enabled,
)
from certsmith.issuers.base import IssuerContext
from certsmith.pki.pem import PEMError, split_pem_certificates
from certsmith.util.clock import Clock

log = logging.getLogger(__name__)

DEFAULT_POLL: Final = dt.timedelta(hours=6)
MIN_POLL: Final = dt.timedelta(hours=1)
MAX_POLL: Final = dt.timedelta(days=7)
ERROR_RETRY: Final = dt.timedelta(hours=1)
CLIENT_WAIT: Final = 30.0


class AriReconciler:
    """Keeps ``status.acme.ari`` of ACME-issued Certificates current."""

    def __init__(
        self,
        client: KubeClient,
        *,
        certificates: Informer,
        informers: SharedInformers,
        accounts: AccountRegistry,
        context: IssuerContext,
        recorder: EventRecorder,
        clock: Clock,
    ) -> None:
        """Create the reconciler; Secrets are read through ``context``."""
        self._client = client
        self._certificates = certificates
        self._informers = informers
        self._accounts = accounts
        self._context = context
        self._recorder = recorder
        self._clock = clock

    async def reconcile(self, key: ObjectKey) -> Requeue | None:
        """Fetch the renewal window when due; see the module docstring.

        Raises:
            certsmith.client.errors.ApiError: the status patch failed (retried).
        """
        cert = parse_certificate(self._certificates.cache.get_key(key))
        if cert is None or cert.status is None:
            return None
        if not is_true(cert.status.conditions, ConditionType.READY):
            return None
        ref = cert.spec.issuer_ref
        if (ref.group or "") not in ("", "cert-manager.io"):
            return None
        try:
            issuer = lookup_issuer(self._informers, ref.to_dict(), cert.namespace)
        except IssuerLookupError:
            return None
        if issuer.spec.acme is None or not ari_enabled(issuer.spec.acme):
            return None
        now = self._clock.now()
        ari = cert.status.acme.ari if cert.status.acme is not None else None
        if ari is not None and ari.next_check is not None and ari.next_check > now:
            return Requeue.at(ari.next_check - now)
        try:
            acme_client = self._accounts.get(issuer.metadata.uid or "")
        except ClientNotAvailableError:
            return Requeue(CLIENT_WAIT)
        secret = await self._context.get_secret(cert.namespace, cert.spec.secret_name)
        if secret is None:
            return None
        annotations = secret.annotations
        if (
            annotations.get(ISSUER_NAME_ANNOTATION) != ref.name
            or (annotations.get(ISSUER_KIND_ANNOTATION) or "Issuer") != ref.effective_kind
            or (annotations.get(ISSUER_GROUP_ANNOTATION) or "cert-manager.io")
            != ref.effective_group
        ):
            return None
        try:
            pem = secret.decoded("tls.crt") or b""
            leaf = split_pem_certificates(pem)[0]
        except (PEMError, ValueError, IndexError):
            return None
        try:
            info = await acme_client.get_renewal_info(leaf)
        except (AcmeError, ValueError, OSError) as err:
            retry = now + ERROR_RETRY
            await self._patch(
                key,
                {
                    "lastChecked": format_time(now),
                    "lastError": str(err),
                    "nextCheck": format_time(retry),
                },
            )
            await self._recorder.record(
                cert,
                Note(
                    EventType.WARNING,
                    EventReason.ARI_ERROR,
                    f"Failed to fetch ACME Renewal Information: {err}",
                ),
            )
            return Requeue.at(ERROR_RETRY)
        if info is None:
            return Requeue.at(DEFAULT_POLL)
        poll = dt.timedelta(seconds=info.retry_after) if info.retry_after else DEFAULT_POLL
        poll = min(max(poll, MIN_POLL), MAX_POLL)
        body: dict[str, Any] = {
            "suggestedWindow": {"start": format_time(info.start), "end": format_time(info.end)},
            "lastChecked": format_time(now),
            "nextCheck": format_time(now + poll),
            "lastError": None,
        }
        if info.explanation_url:
            body["explanationURL"] = info.explanation_url
        await self._patch(key, body)
        return Requeue.at(poll)

    async def _patch(self, key: ObjectKey, ari: dict[str, Any]) -> None:
        await self._client.patch_status(
            CERTIFICATES, key.namespace, key.name, {"status": {"acme": {"ari": ari}}}
        )
