"""The issuer protocol: what every issuer implements and the outcomes it may report.

An issuer only checks its own configuration and signs. Every gate before signing (group,
approval, denial, issuer lookup and readiness, terminal states) and every status write and
event belong to the shared CertificateRequest reconciler, so a new issuer plugs in without
touching the controllers.

Outcomes are explicit, unlike cert-manager's ``(nil, nil)``:

- ``sign`` returns :class:`Issued` when the certificate is ready;
- raises :class:`SignPending` to wait (Ready=False/Pending, no failureTime, retried);
- raises :class:`SignFailed` for a terminal failure (Ready=False/Failed, failureTime set,
  never retried);
- any other exception is transient: Ready stays Pending and the request is retried with backoff.

``check`` returns :class:`IssuerReady` or raises :class:`IssuerNotReady`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from certsmith.api.certmanager import AnyIssuer, CertificateRequest
from certsmith.api.conditions import EventReason, EventType, IssuerReason
from certsmith.api.core import Secret
from certsmith.api.duration import parse_go_duration
from certsmith.api.errors import CertsmithError
from certsmith.client.resources import ResourceRef
from certsmith.pki.keys import PrivateKey
from certsmith.util.clock import Clock


@dataclass(frozen=True)
class IssuerEvent:
    """An event an issuer asks the reconciler to record on the request (e.g. ``BadConfig``)."""

    type: EventType
    reason: EventReason
    message: str


@dataclass(frozen=True)
class Issued:
    """A signed certificate: ``chain_pem`` goes to ``status.certificate``, ``ca_pem`` to ``ca``."""

    chain_pem: bytes
    ca_pem: bytes = b""
    events: Sequence[IssuerEvent] = field(default_factory=tuple)


class SignOutcomeError(CertsmithError):
    """Base of the explicit non-success outcomes of :meth:`Issuer.sign`."""

    def __init__(self, event_reason: EventReason, message: str) -> None:
        super().__init__(message)
        self.event_reason = event_reason
        self.message = message


class SignPending(SignOutcomeError):  # noqa: N818 - an outcome, not a failure
    """The request cannot be signed yet; it stays Pending.

    ``retry_after`` says when to look again: ``None`` waits for an event on the request, its
    issuer or a Secret it depends on; ``0`` retries with the work queue's exponential backoff
    (a read failed for a reason that may pass); a positive number re-checks after that many
    seconds (an ACME server's ``Retry-After``).
    """

    def __init__(
        self, event_reason: EventReason, message: str, *, retry_after: float | None = None
    ) -> None:
        super().__init__(event_reason, message)
        self.retry_after = retry_after


class SignFailed(SignOutcomeError):  # noqa: N818 - an outcome, named like its condition reason
    """The request can never be signed; it becomes Failed and is not retried."""


@dataclass(frozen=True)
class IssuerReady:
    """The issuer's configuration checked out: its Ready condition becomes True.

    ``status`` holds further top-level ``status`` fields to write with the condition, in wire
    form (the ACME issuer's ``{"acme": {"uri": ...}}``); a ``None`` value removes the field.
    """

    reason: IssuerReason
    message: str
    event: IssuerEvent | None = None
    status: Mapping[str, Any] = field(default_factory=dict)


class IssuerNotReady(CertsmithError):  # noqa: N818 - an outcome, named like the condition
    """The issuer's configuration is unusable: Ready=False with this reason and message.

    ``retry`` says whether the controller should check again with backoff (cert-manager
    retries a missing secret but not a certificate that is not a CA). ``status`` is as for
    :class:`IssuerReady`.
    """

    def __init__(
        self,
        reason: IssuerReason,
        message: str,
        *,
        retry: bool = True,
        event: IssuerEvent | None = None,
        status: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.retry = retry
        self.event = event
        self.status: Mapping[str, Any] = status or {}


class IssuerContext(Protocol):
    """What an issuer may use from the outside world; the controllers provide it."""

    @property
    def clock(self) -> Clock:
        """The clock every issued certificate's NotBefore comes from."""
        ...

    def resource_namespace(self, issuer: AnyIssuer) -> str:
        """Where the issuer's Secrets live: its own namespace, or the cluster resource one."""
        ...

    async def get_secret(self, namespace: str, name: str) -> Secret | None:
        """Return the Secret, or ``None`` when it does not exist.

        Raises:
            Exception: any other failure to read it (transient; the caller retries).
        """
        ...

    async def private_key(self, secret: Secret, key: str = "tls.key") -> PrivateKey | None:
        """The private key PEM in ``secret``'s ``key`` entry, parsed; ``None`` when it is empty.

        Parsing an RSA key costs tens of milliseconds, so implementations may cache the result
        by the Secret's uid and resourceVersion (a changed Secret is a new entry) and should
        parse off the event loop. Issuers call this instead of parsing ``tls.key`` themselves.

        Raises:
            certsmith.pki.keys.KeyDecodeError: the entry holds no usable private key (the
                message never contains key material).
        """
        ...

    async def create_secret(self, secret: Secret) -> Secret:
        """Create ``secret`` (a generated key the issuer owns) and return the stored object.

        Raises:
            certsmith.client.errors.AlreadyExists: a Secret of that name appeared meanwhile.
            Exception: any other failure to write it (transient; the caller retries).
        """
        ...

    async def get_object(
        self, resource: ResourceRef, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        """Read an object the issuer manages (an ACME Order); ``None`` when it does not exist.

        Raises:
            Exception: any other failure to read it (transient; the caller retries).
        """
        ...

    async def create_object(
        self, resource: ResourceRef, namespace: str | None, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Create an object the issuer manages and return the stored object.

        Raises:
            certsmith.client.errors.ApiError: the API refused it (``AlreadyExists`` included).
        """
        ...

    async def delete_object(self, resource: ResourceRef, namespace: str | None, name: str) -> None:
        """Delete an object the issuer manages; no error when it is already gone.

        Raises:
            certsmith.client.errors.ApiError: the API refused the deletion.
        """
        ...


class Issuer(Protocol):
    """One issuer type, selected by the key it owns in the Issuer spec (``spec_key``)."""

    spec_key: ClassVar[str]

    async def check(self, issuer: AnyIssuer, ctx: IssuerContext) -> IssuerReady:
        """Check the issuer's configuration.

        Raises:
            IssuerNotReady: the configuration is unusable.
        """
        ...

    async def sign(
        self, request: CertificateRequest, issuer: AnyIssuer, ctx: IssuerContext
    ) -> Issued:
        """Sign the request.

        Raises:
            SignPending: it cannot be signed yet.
            SignFailed: it can never be signed.
        """
        ...


def requested_duration(request: CertificateRequest) -> dt.timedelta | None:
    """The lifetime a request asks for, or ``None`` for the issuer's default (90 days).

    Raises:
        ValueError: ``spec.duration`` is not a Go duration.
    """
    if not request.spec.duration:
        return None
    return parse_go_duration(request.spec.duration)
