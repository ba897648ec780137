"""The diagnosis of one Certificate: every object of its issuance chain, and the root cause.

This is the stable data API shared by ``certsmith status certificate`` (text and ``--output
json``) and the web view's drill-down page. Everything is a frozen dataclass of plain values
(``str``, ``int``, ``bool``, aware ``datetime``, tuples); :meth:`Diagnosis.to_dict` turns it into
JSON-ready data with the same snake_case keys as the attribute names, times as RFC 3339 UTC
strings. Fields are only ever added, never renamed: scripts parse ``--output json``.

Fields of :class:`Diagnosis`:

* ``observed_at``: when the objects were read ("now" for every relative statement).
* ``certificate``: :class:`CertificateInfo`, the Certificate's spec summary and status (conditions,
  revision, notBefore/notAfter/renewalTime, failedIssuanceAttempts, lastFailureTime and the next
  retry time with where that time comes from).
* ``secret``: :class:`SecretInfo`, the target Secret (``exists`` false when missing) and the leaf
  certificate inside it as :class:`X509Info`, with whether ``tls.key`` matches it.
* ``issuer``: :class:`IssuerInfo`, the referenced Issuer or ClusterIssuer and its Ready condition.
* ``request``: :class:`RequestInfo` or ``None``: the CertificateRequest of the issuance in flight
  (revision ``status.revision + 1``) if there is one, else the one that produced the current
  revision; ``role`` says which.
* ``order``: :class:`OrderInfo` or ``None``: the ACME Order the request owns, with its
  :class:`ChallengeInfo` list (state, reason incl. the last self-check result, presented,
  processing).
* ``events``: recent :class:`EventInfo` about any of these objects, oldest first.
* ``root_cause``: :class:`RootCause`, one line naming the cause and the next action.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from certsmith.api.meta import format_time

__all__ = [
    "CauseCode",
    "CertificateInfo",
    "ChallengeInfo",
    "ConditionInfo",
    "Diagnosis",
    "EventInfo",
    "IssuerInfo",
    "IssuerRefInfo",
    "OrderInfo",
    "RequestInfo",
    "RootCause",
    "SecretInfo",
    "X509Info",
]


@dataclass(frozen=True)
class ConditionInfo:
    """One status condition."""

    type: str
    status: str
    reason: str
    message: str
    last_transition_time: dt.datetime | None = None
    observed_generation: int | None = None

    @property
    def is_true(self) -> bool:
        """Whether the status is ``True``."""
        return self.status == "True"


@dataclass(frozen=True)
class EventInfo:
    """One Kubernetes Event about an object of the chain."""

    type: str
    reason: str
    message: str
    count: int
    last_seen: dt.datetime | None
    object_kind: str
    object_name: str


@dataclass(frozen=True)
class X509Info:
    """A decoded X.509 certificate (never any private key material).

    ``serial`` is colon-separated hex; fingerprints are colon-separated upper-case hex of the DER.
    ``key_algorithm`` reads e.g. ``ECDSA P-256`` or ``RSA 2048``. ``signed_by_next`` is filled in
    by chain checks (``None`` when not checked, e.g. for the last certificate of a chain).
    """

    subject: str
    issuer: str
    serial: str
    not_before: dt.datetime
    not_after: dt.datetime
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    uris: tuple[str, ...] = ()
    email_addresses: tuple[str, ...] = ()
    is_ca: bool = False
    self_signed: bool = False
    key_algorithm: str = ""
    key_usages: tuple[str, ...] = ()
    extended_key_usages: tuple[str, ...] = ()
    sha256_fingerprint: str = ""
    sha1_fingerprint: str = ""
    crl_distribution_points: tuple[str, ...] = ()
    ocsp_servers: tuple[str, ...] = ()
    issuing_certificate_urls: tuple[str, ...] = ()


@dataclass(frozen=True)
class IssuerRefInfo:
    """``spec.issuerRef`` with cert-manager's defaults applied (SPEC §0.1)."""

    name: str
    kind: str = "Issuer"
    group: str = "cert-manager.io"

    @property
    def is_external(self) -> bool:
        """Whether an external issuer (another API group) signs: cert-manager never looks."""
        return self.group != "cert-manager.io"


@dataclass(frozen=True)
class CertificateInfo:
    """The Certificate: what it asks for and its status.

    ``next_retry_time`` is set while a failed issuance backs off; ``next_retry_source`` is
    ``"event"`` when read from the issuing controller's ``RetryScheduled`` event (the deployment's
    real backoff) or ``"default-backoff"`` when computed from ``lastFailureTime`` with
    cert-manager's default 1h→32h schedule.
    """

    namespace: str
    name: str
    uid: str
    generation: int | None
    secret_name: str
    common_name: str
    dns_names: tuple[str, ...]
    issuer_ref: IssuerRefInfo
    conditions: tuple[ConditionInfo, ...]
    revision: int | None = None
    not_before: dt.datetime | None = None
    not_after: dt.datetime | None = None
    renewal_time: dt.datetime | None = None
    failed_issuance_attempts: int | None = None
    last_failure_time: dt.datetime | None = None
    next_retry_time: dt.datetime | None = None
    next_retry_source: str | None = None
    next_private_key_secret_name: str | None = None
    created: dt.datetime | None = None
    deleting: bool = False

    def condition(self, ctype: str) -> ConditionInfo | None:
        """The condition of type ``ctype``, or ``None``."""
        return next((c for c in self.conditions if c.type == ctype), None)

    @property
    def ready(self) -> ConditionInfo | None:
        """The ``Ready`` condition."""
        return self.condition("Ready")

    @property
    def issuing(self) -> ConditionInfo | None:
        """The ``Issuing`` condition (absent when idle)."""
        return self.condition("Issuing")


@dataclass(frozen=True)
class SecretInfo:
    """The Certificate's target Secret.

    ``certificate`` is the first certificate of ``tls.crt`` (the leaf); ``chain_length`` counts
    all of them. ``key_matches`` is ``None`` when it could not be compared (no key, no cert, or
    undecodable data: see ``decode_error``). ``issuer_annotation`` reads ``Kind.group/name`` from
    the issuer annotations, ``None`` without them. ``error`` is set when the Secret could not be
    read (e.g. forbidden).
    """

    namespace: str
    name: str
    exists: bool
    type: str = ""
    keys: tuple[str, ...] = ()
    certificate: X509Info | None = None
    chain_length: int = 0
    key_matches: bool | None = None
    has_ca: bool = False
    decode_error: str | None = None
    certificate_name_annotation: str | None = None
    issuer_annotation: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class IssuerInfo:
    """The referenced Issuer or ClusterIssuer.

    ``namespace`` is ``""`` for a ClusterIssuer. ``type`` is the spec key (``ca``, ``selfSigned``,
    ``acme``, ``vault``, ``venafi``) or ``None``. ``secret_name`` is the CA Secret (CA issuers)
    or the ACME account key Secret. ``exists`` is ``False`` both when it is missing and when an
    external issuer is referenced (``ref.is_external``; certsmith does not look those up).
    """

    ref: IssuerRefInfo
    namespace: str
    exists: bool
    type: str | None = None
    ready: ConditionInfo | None = None
    secret_name: str | None = None
    acme_server: str | None = None
    uid: str = ""
    error: str | None = None

    @property
    def is_ready(self) -> bool:
        """Whether the issuer has ``Ready=True``."""
        return self.ready is not None and self.ready.is_true

    @property
    def display(self) -> str:
        """``Issuer ns/name`` or ``ClusterIssuer name``."""
        if self.ref.kind == "ClusterIssuer" or not self.namespace:
            return f"{self.ref.kind} {self.ref.name}"
        return f"{self.ref.kind} {self.namespace}/{self.ref.name}"


@dataclass(frozen=True)
class RequestInfo:
    """A CertificateRequest of the Certificate.

    ``role`` is ``"next"`` (the issuance in flight: revision ``status.revision + 1``) or
    ``"current"`` (the request behind the certificate in the Secret). ``state`` summarises the
    conditions: ``Issued``, ``Denied``, ``InvalidRequest``, ``Failed``, ``WaitingForApproval``
    or ``Pending``.
    """

    namespace: str
    name: str
    uid: str
    role: str
    revision: int | None
    conditions: tuple[ConditionInfo, ...]
    has_certificate: bool = False
    failure_time: dt.datetime | None = None
    created: dt.datetime | None = None
    username: str = ""

    def condition(self, ctype: str) -> ConditionInfo | None:
        """The condition of type ``ctype``, or ``None``."""
        return next((c for c in self.conditions if c.type == ctype), None)

    def is_true(self, ctype: str) -> bool:
        """Whether the condition ``ctype`` is ``True``."""
        cond = self.condition(ctype)
        return cond is not None and cond.is_true

    @property
    def state(self) -> str:
        """One word for where the request is (see the class docstring)."""
        ready = self.condition("Ready")
        if self.is_true("Denied"):
            return "Denied"
        if self.is_true("InvalidRequest"):
            return "InvalidRequest"
        if ready is not None and ready.reason in ("Issued", "Failed", "Denied"):
            return ready.reason
        if not self.is_true("Approved"):
            return "WaitingForApproval"
        return "Pending"


@dataclass(frozen=True)
class ChallengeInfo:
    """An ACME Challenge of the Order. ``reason`` carries the last self-check result."""

    name: str
    type: str
    dns_name: str
    wildcard: bool
    state: str
    reason: str
    presented: bool
    processing: bool
    uid: str = ""

    @property
    def failed(self) -> bool:
        """Whether the challenge is in a terminal failure state."""
        return self.state in FAILURE_STATES


FAILURE_STATES = frozenset({"invalid", "expired", "errored"})
"""ACME Order/Challenge states that are terminal failures (SPEC §6.3)."""


@dataclass(frozen=True)
class OrderInfo:
    """The ACME Order of the request, and its Challenges."""

    namespace: str
    name: str
    state: str
    reason: str
    url: str
    failure_time: dt.datetime | None
    challenges: tuple[ChallengeInfo, ...] = ()
    uid: str = ""

    @property
    def failed(self) -> bool:
        """Whether the order is in a terminal failure state."""
        return self.state in FAILURE_STATES


class CauseCode(StrEnum):
    """Machine-readable root causes (``root_cause.code`` in the JSON output)."""

    UP_TO_DATE = "UpToDate"
    ISSUER_NOT_FOUND = "IssuerNotFound"
    ISSUER_NOT_READY = "IssuerNotReady"
    WAITING_FOR_APPROVAL = "WaitingForApproval"
    REQUEST_DENIED = "RequestDenied"
    REQUEST_INVALID = "RequestInvalid"
    REQUEST_FAILED = "RequestFailed"
    REQUEST_PENDING = "RequestPending"
    ORDER_FAILED = "OrderFailed"
    CHALLENGE_FAILING = "ChallengeFailing"
    RATE_LIMITED = "RateLimited"
    SECRET_MISSING = "SecretMissing"  # noqa: S105 - a cause name
    SECRET_MISMATCH = "SecretMismatch"  # noqa: S105 - a cause name
    EXPIRED = "Expired"
    ISSUING = "Issuing"
    NOT_READY = "NotReady"
    DELETING = "Deleting"
    RENEWAL_OVERDUE = "RenewalOverdue"


@dataclass(frozen=True)
class RootCause:
    """Why the Certificate is (not) Ready, and what to do next.

    ``healthy`` is true only for :attr:`CauseCode.UP_TO_DATE`. ``line`` is the single line the
    CLI prints last: the cause, then the next action.
    """

    code: CauseCode
    cause: str
    action: str
    healthy: bool = False

    @property
    def line(self) -> str:
        """``<cause>. Next: <action>`` (just the cause when there is nothing to do)."""
        cause = self.cause.rstrip(".")
        if not self.action:
            return f"{cause}."
        return f"{cause}. Next: {self.action}"


@dataclass(frozen=True)
class Diagnosis:
    """The whole chain of one Certificate (see the module docstring for every field)."""

    observed_at: dt.datetime
    certificate: CertificateInfo
    secret: SecretInfo
    issuer: IssuerInfo
    request: RequestInfo | None
    order: OrderInfo | None
    events: tuple[EventInfo, ...]
    root_cause: RootCause

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data: snake_case keys as the attributes, RFC 3339 UTC times, lists.

        Derived values are included for scripts: ``root_cause.line``, ``request.state``,
        ``issuer.is_ready``.
        """
        data: dict[str, Any] = _plain(dataclasses.asdict(self))
        data["root_cause"]["line"] = self.root_cause.line
        if self.request is not None:
            data["request"]["state"] = self.request.state
        data["issuer"]["is_ready"] = self.issuer.is_ready
        return data


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dt.datetime):
        return format_time(value)
    if isinstance(value, StrEnum):
        return str(value)
    return value
