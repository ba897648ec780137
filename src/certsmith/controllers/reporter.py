"""How a CertificateRequest's outcome is reported: its Ready condition, failureTime and Events.

This is cert-manager's ``certificaterequests/util/reporter.go`` (SPEC §1.4), with one change of
shape: the reporter changes the reconciler's private copy of the request and *collects* Events
in :attr:`Reporter.notes` instead of sending them. The reconciler writes the status once and then
records the notes, so an Event never describes a state that failed to persist (a 409 on the
status write drops both, and the retry reports again).

* :meth:`Reporter.pending` — Ready=False/Pending; a Normal event only on the transition into
  Pending, so a request waiting for its issuer does not log an Event per retry.
* :meth:`Reporter.failed` — Ready=False/Failed, ``failureTime`` set once, a Warning event.
* :meth:`Reporter.denied` — Ready=False/Denied, ``failureTime`` set once, no event.
* :meth:`Reporter.issued` — Ready=True/Issued, a Normal ``CertificateIssued`` event.

The event reasons (IssuerNotFound, SecretMissing, ...) are never condition reasons: those are
always one of :class:`~certsmith.api.conditions.RequestReason` (SPEC §10 quirk 12).
"""

from __future__ import annotations

import datetime as dt

from certsmith.api.certmanager import CertificateRequest, CertificateRequestStatus
from certsmith.api.conditions import (
    DENIED_MESSAGE,
    ISSUED_MESSAGE,
    ConditionStatus,
    ConditionType,
    EventReason,
    EventType,
    RequestReason,
)
from certsmith.api.meta import encode_bytes, get_condition, set_condition
from certsmith.controllers.events import Note


def ready_reason(request: CertificateRequest) -> str | None:
    """The reason of the request's Ready condition, or ``None`` when it has none."""
    status = request.status
    cond = get_condition(status.conditions if status else None, ConditionType.READY)
    return cond.reason if cond is not None else None


class Reporter:
    """Sets the outcome on ``request`` (a copy owned by the caller) and collects its Events."""

    def __init__(self, request: CertificateRequest, *, now: dt.datetime) -> None:
        """Report on ``request``, which is changed in place, with ``now`` as the time."""
        self.request = request
        self.now = now
        self.notes: list[Note] = []

    def pending(self, event_reason: EventReason, message: str) -> None:
        """Ready=False/Pending with ``message``; a Normal event only when not already Pending."""
        was_pending = ready_reason(self.request) == RequestReason.PENDING
        self._set_ready(ConditionStatus.FALSE, RequestReason.PENDING, message)
        if not was_pending:
            self.notes.append(Note(EventType.NORMAL, event_reason, message))

    def failed(self, event_reason: EventReason, message: str) -> None:
        """Ready=False/Failed with ``message``; ``failureTime`` once; a Warning event.

        ``message`` is complete: cert-manager's ``msg: err`` form is built by whoever knows the
        error (the issuer outcome or the reconciler's decode check).
        """
        self._set_failure_time()
        self._set_ready(ConditionStatus.FALSE, RequestReason.FAILED, message)
        self.notes.append(Note(EventType.WARNING, event_reason, message))

    def denied(self) -> None:
        """Ready=False/Denied; ``failureTime`` once; no event (the approver already spoke)."""
        self._set_failure_time()
        self._set_ready(ConditionStatus.FALSE, RequestReason.DENIED, DENIED_MESSAGE)

    def issued(self) -> None:
        """Ready=True/Issued and a Normal ``CertificateIssued`` event."""
        self._set_ready(ConditionStatus.TRUE, RequestReason.ISSUED, ISSUED_MESSAGE)
        self.notes.append(Note(EventType.NORMAL, EventReason.CERTIFICATE_ISSUED, ISSUED_MESSAGE))

    def store_certificate(self, chain_pem: bytes, ca_pem: bytes) -> None:
        """Store the signed chain and CA (base64 on the wire); an empty CA leaves ``ca`` unset."""
        status = self._status()
        status.certificate = encode_bytes(chain_pem)
        status.ca = encode_bytes(ca_pem) if ca_pem else None

    def note(self, note: Note) -> None:
        """Add an extra event (an issuer's ``BadConfig`` warning, for example)."""
        self.notes.append(note)

    def _status(self) -> CertificateRequestStatus:
        if self.request.status is None:
            self.request.status = CertificateRequestStatus()
        return self.request.status

    def _set_ready(self, status: ConditionStatus, reason: RequestReason, message: str) -> None:
        current = self._status()
        # CertificateRequest conditions carry no observedGeneration (SPEC §0.2).
        current.conditions = set_condition(
            current.conditions, ConditionType.READY, status, reason, message, now=self.now
        )

    def _set_failure_time(self) -> None:
        current = self._status()
        if current.failure_time is None:
            current.failure_time = self.now
