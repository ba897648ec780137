"""The root cause of a Certificate's state, and the next action: :func:`analyse`.

The checks run in the order a person would follow the chain, and the first that explains the
state wins. The order matters where one fault causes others: a missing issuer also leaves the
request Pending, a failed request also leaves the Certificate not Ready, and an expired
certificate whose renewal request is failing is explained by the request, not by the date.

1. The issuer is missing: nothing can be signed (even a Ready certificate cannot be renewed).
2. Ready and not issuing: up to date, or (warning) the issuer is not ready for the next renewal.
3. An issuance in flight (the request of the next revision): rate limited, denied, invalid,
   failed (with the Order/Challenge that made it fail and the next retry), waiting for approval,
   issuer not ready, Order failed, Challenge failing, still pending.
4. Issuing without a request: a failed issuance backing off, or the request not created yet.
5. Not Ready without an issuance: no Ready condition yet (controllers not running), expired,
   Secret missing or not matching, anything else.

Pure: everything arrives as arguments, including "now".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Final

from certsmith.api.meta import format_time
from certsmith.status.model import (
    CauseCode,
    CertificateInfo,
    ChallengeInfo,
    IssuerInfo,
    OrderInfo,
    RequestInfo,
    RootCause,
    SecretInfo,
)

__all__ = ["analyse", "is_rate_limited"]

RENEWAL_GRACE: Final = dt.timedelta(minutes=5)
"""How long past its renewal time a Ready Certificate may sit before renewal counts as stuck."""
_RATE_LIMIT_MARKERS: Final = ("ratelimited", "rate limit", "too many certificates")
_SECRET_REASONS: Final = frozenset(
    {
        "MissingData",
        "InvalidKeyPair",
        "InvalidCertificate",
        "IncorrectIssuer",
        "IncorrectCertificate",
        "SecretMismatch",
        "InvalidCertificateRequest",
    }
)


#: Terminal request states: (cause, condition carrying the message, verb, what to fix).
_TERMINAL: Final = {
    "Denied": (CauseCode.REQUEST_DENIED, "Denied", "was denied", "change the approval policy"),
    "InvalidRequest": (
        CauseCode.REQUEST_INVALID,
        "InvalidRequest",
        "is invalid",
        "fix the Certificate spec",
    ),
    "Failed": (CauseCode.REQUEST_FAILED, "Ready", "failed", "fix the cause"),
}


def is_rate_limited(text: str) -> bool:
    """Whether an error text is an ACME rate limit (``urn:ietf:params:acme:error:rateLimited``)."""
    lowered = text.lower()
    return any(marker in lowered for marker in _RATE_LIMIT_MARKERS)


def _human(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 0:
        return "now"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    if hours or days:
        parts.append(f"{hours}h")
    if not days:
        parts.append(f"{minutes}m")
    if not days and not hours:
        parts.append(f"{seconds}s")
    return "".join(parts)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


class _Analysis:
    def __init__(
        self,
        cert: CertificateInfo,
        secret: SecretInfo,
        issuer: IssuerInfo,
        request: RequestInfo | None,
        order: OrderInfo | None,
        now: dt.datetime,
    ) -> None:
        self.cert, self.secret, self.issuer = cert, secret, issuer
        self.request, self.order, self.now = request, order, now
        self.ns_flag = f"-n {cert.namespace}"

    # -- wording ------------------------------------------------------------------------

    def retry(self) -> str:
        when = self.cert.next_retry_time
        if when is None:
            return ""
        attempts = _plural(self.cert.failed_issuance_attempts or 1, "failed attempt")
        if when <= self.now:
            return f"a retry is due now ({attempts})"
        return f"next attempt at {format_time(when)} (in {_human(when - self.now)}, {attempts})"

    def retry_action(self, fix: str) -> str:
        renew = f"`certsmith renew {self.cert.name} {self.ns_flag}`"
        retry = self.retry()
        if retry:
            return f"{fix}; {retry}, or run {renew} to retry now"
        return f"{fix}, then run {renew}"

    def issuer_fix(self) -> str:
        issuer = self.issuer
        reason = issuer.ready.reason if issuer.ready else ""
        if reason == "ErrGetKeyPair" and issuer.secret_name:
            where = issuer.namespace or "the cluster resource namespace"
            return (
                f"create or fix the CA Secret {issuer.secret_name!r} in {where} "
                "(tls.crt and tls.key of a CA)"
            )
        if reason == "ErrInvalidKeyPair":
            return f"put a CA certificate (basicConstraints CA:TRUE) in {issuer.secret_name!r}"
        if issuer.ready is None:
            return "check that the certsmith issuer controllers are running"
        return f"fix the {issuer.ref.kind} (see its Ready message and events)"

    def issuer_not_ready_text(self) -> str:
        ready = self.issuer.ready
        if ready is None:
            return f"{self.issuer.display} has no Ready condition yet"
        detail = f": {ready.message}" if ready.message else ""
        return f"{self.issuer.display} is not ready ({ready.reason or 'no reason'}){detail}"

    def cause(self, code: CauseCode, cause: str, action: str) -> RootCause:
        return RootCause(code=code, cause=cause, action=action, healthy=False)

    # -- checks -------------------------------------------------------------------------

    def run(self) -> RootCause:
        cert = self.cert
        if cert.deleting:
            return self.cause(
                CauseCode.DELETING,
                f"Certificate {cert.namespace}/{cert.name} is being deleted",
                "wait for its finalizers to finish",
            )
        missing = self.issuer_missing()
        if missing is not None:
            return missing
        ready = cert.ready
        issuing = cert.issuing
        # With cert-manager's ServerSideApply gate a success leaves Issuing=False/Issued.
        failed = issuing is not None and not issuing.is_true and issuing.reason != "Issued"
        if ready is not None and ready.is_true:
            if issuing is None or not (issuing.is_true or failed):
                return self.ready_state()
            if failed:
                return self.renewal_failed(self.issuance_state())
        return self.issuance_state()

    def issuance_state(self) -> RootCause:
        """Why an issuance is in flight, failed, or not started."""
        issuing = self.cert.issuing
        in_flight = self.request if self.request and self.request.role == "next" else None
        if in_flight is not None:
            return self.request_state(in_flight)
        if issuing is not None and not issuing.is_true and issuing.reason != "Issued":
            return self.cause(
                CauseCode.REQUEST_FAILED,
                f"The last issuance failed ({issuing.reason}): {issuing.message}",
                self.retry_action("fix the cause"),
            )
        return self.not_ready_state()

    def renewal_failed(self, cause: RootCause) -> RootCause:
        """``cause`` of a failed renewal, saying that the current certificate still serves."""
        until = self.cert.not_after
        still = (
            f" (the current certificate stays valid until {format_time(until)})" if until else ""
        )
        return dataclasses.replace(cause, cause=cause.cause.rstrip(".") + still)

    def issuer_missing(self) -> RootCause | None:
        ref, issuer = self.cert.issuer_ref, self.issuer
        if ref.is_external:
            return None
        if ref.kind not in ("Issuer", "ClusterIssuer"):
            return self.cause(
                CauseCode.ISSUER_NOT_FOUND,
                f"spec.issuerRef.kind {ref.kind!r} is invalid",
                'set spec.issuerRef.kind to "Issuer" or "ClusterIssuer"',
            )
        if issuer.exists or issuer.error is not None:
            return None
        where = "" if ref.kind == "ClusterIssuer" else f" in namespace {self.cert.namespace}"
        cause = f"{ref.kind} {ref.name!r} does not exist{where}"
        if self.cert.ready is not None and self.cert.ready.is_true and self.cert.not_after:
            cause += (
                f"; the certificate stays valid until {format_time(self.cert.not_after)} "
                "but cannot be renewed"
            )
        return self.cause(
            CauseCode.ISSUER_NOT_FOUND,
            cause,
            f"create the {ref.kind}, or point spec.issuerRef at an existing one",
        )

    def ready_state(self) -> RootCause:
        cert = self.cert
        if cert.renewal_time is not None:
            renewal = f"next renewal at {format_time(cert.renewal_time)}"
        else:
            renewal = "renewal is disabled"
        if self.issuer.exists and not self.issuer.is_ready and not cert.issuer_ref.is_external:
            return self.cause(
                CauseCode.ISSUER_NOT_READY,
                f"Certificate is up to date ({renewal}), but {self.issuer_not_ready_text()}",
                self.issuer_fix() + " before the renewal",
            )
        due = cert.renewal_time
        if due is not None and self.now - due > RENEWAL_GRACE:
            valid = f"valid until {format_time(cert.not_after)}" if cert.not_after else "valid"
            return self.cause(
                CauseCode.RENEWAL_OVERDUE,
                f"Certificate is {valid} but its renewal was due at {format_time(due)} and "
                "has not started",
                "check that the certsmith controllers run (certificates-trigger), or run "
                f"`certsmith renew {cert.name} {self.ns_flag}`",
            )
        return RootCause(
            code=CauseCode.UP_TO_DATE,
            cause=f"Certificate is up to date; {renewal}",
            action="",
            healthy=True,
        )

    def acme_failure(self) -> RootCause | None:
        order = self.order
        if order is None:
            return None
        failing = [c for c in order.challenges if c.failed]
        if order.failed:
            culprit = failing[0] if failing else None
            detail = order.reason or (culprit.reason if culprit else "") or "no reason given"
            cause = f"ACME Order {order.namespace}/{order.name} is {order.state}: {detail}"
            return self.cause(
                CauseCode.ORDER_FAILED,
                cause,
                self.retry_action("fix the cause (domain, solver, account)")
                + "; a new Order is created for the next attempt",
            )
        if failing:
            return self.challenge_cause(failing[0], terminal=True)
        return None

    def challenge_cause(self, challenge: ChallengeInfo, *, terminal: bool) -> RootCause:
        what = f"{challenge.type or 'ACME'} challenge for {challenge.dns_name!r}"
        state = challenge.state or "unknown"
        detail = challenge.reason or "no reason recorded"
        action = (
            "check that the challenge is reachable (DNS record / HTTP path) from the ACME server"
        )
        if terminal:
            action = self.retry_action(action)
        return self.cause(
            CauseCode.CHALLENGE_FAILING,
            f"{what} ({challenge.name}) is {state}: {detail}",
            action,
        )

    def rate_limit(self, request: RequestInfo) -> RootCause | None:
        texts: list[tuple[str, str]] = []
        ready = request.condition("Ready")
        if ready is not None:
            texts.append((f"CertificateRequest {request.namespace}/{request.name}", ready.message))
        if self.order is not None:
            texts.append(
                (f"ACME Order {self.order.namespace}/{self.order.name}", self.order.reason)
            )
            texts.extend((f"Challenge {c.name}", c.reason) for c in self.order.challenges)
        for where, message in texts:
            if message and is_rate_limited(message):
                return self.cause(
                    CauseCode.RATE_LIMITED,
                    f"The ACME server rate limited this issuance ({where}): {message}",
                    self.retry_action(
                        "wait for the rate limit window to pass (the message says until when; "
                        "use a staging server while testing)"
                    ),
                )
        return None

    def request_state(self, request: RequestInfo) -> RootCause:
        ref = f"CertificateRequest {request.namespace}/{request.name}"
        limited = self.rate_limit(request)
        if limited is not None:
            return limited
        state = request.state
        if state == "Failed":
            acme = self.acme_failure()
            if acme is not None:
                return acme
        terminal = _TERMINAL.get(state)
        if terminal is not None:
            code, ctype, verb, fix = terminal
            cond = request.condition(ctype)
            if state == "Denied":
                verb += f" by {cond.reason if cond and cond.reason else 'an approver'}"
            detail = f": {cond.message}" if cond and cond.message else ""
            return self.cause(code, f"{ref} {verb}{detail}", self.retry_action(fix))
        if state == "WaitingForApproval":
            return self.cause(
                CauseCode.WAITING_FOR_APPROVAL,
                f"{ref} is waiting for approval (no Approved or Denied condition)",
                f"approve it with `certsmith approve {request.name} {self.ns_flag}`, or check "
                "that an approver runs (the built-in certificaterequests-approver or a policy "
                "approver)",
            )
        if state == "Issued":
            return self.cause(
                CauseCode.ISSUING,
                f"{ref} is issued; the certificate is being stored in Secret "
                f"{self.cert.namespace}/{self.cert.secret_name}",
                "wait a moment; if this persists, check that the certsmith controllers run",
            )
        issuer = self.issuer
        if not self.cert.issuer_ref.is_external and issuer.error is None and not issuer.is_ready:
            return self.cause(
                CauseCode.ISSUER_NOT_READY, self.issuer_not_ready_text(), self.issuer_fix()
            )
        acme = self.acme_failure()
        if acme is not None:
            return acme
        if self.order is not None:
            waiting = [c for c in self.order.challenges if c.reason and c.state != "valid"]
            if waiting:
                return self.challenge_cause(waiting[0], terminal=False)
        return self.pending(request, ref)

    def pending(self, request: RequestInfo, ref: str) -> RootCause:
        ready = request.condition("Ready")
        detail = f": {ready.message}" if ready and ready.message else ""
        why = ""
        issuing = self.cert.issuing
        if issuing is not None and issuing.is_true and issuing.reason:
            why = f" (issuing because {issuing.reason}: {issuing.message})"
        if self.cert.issuer_ref.is_external:
            action = (
                f"check the external issuer's controller for group {self.cert.issuer_ref.group}"
            )
        else:
            action = "wait; if it stays pending, read the events below and the issuer's"
        return self.cause(CauseCode.REQUEST_PENDING, f"{ref} is pending{detail}{why}", action)

    def not_ready_state(self) -> RootCause:
        cert, secret = self.cert, self.secret
        ready = cert.ready
        issuing = cert.issuing
        secret_ref = f"Secret {cert.namespace}/{cert.secret_name}"
        check_controllers = "check that the certsmith controllers run (certificates-trigger)"
        if issuing is not None and issuing.is_true:
            return self.cause(
                CauseCode.ISSUING,
                f"Issuance started ({issuing.reason}: {issuing.message}) but no "
                "CertificateRequest exists yet",
                "wait a moment; if this persists, check that the certsmith controllers run "
                "(certificates-key-manager, certificates-request-manager)",
            )
        if ready is None:
            return self.cause(
                CauseCode.NOT_READY,
                f"Certificate {cert.namespace}/{cert.name} has no Ready condition yet",
                "wait a moment; if this persists, "
                + check_controllers.replace("certificates-trigger", "certificates-readiness"),
            )
        reason = ready.reason
        if reason == "Expired":
            return self.cause(
                CauseCode.EXPIRED,
                ready.message or "The certificate has expired",
                f"run `certsmith renew {cert.name} {self.ns_flag}`; if it is not reissued, "
                + check_controllers,
            )
        reissue = (
            f"it is reissued automatically; if not, {check_controllers}, or run "
            f"`certsmith renew {cert.name} {self.ns_flag}`"
        )
        if reason == "DoesNotExist" or (not secret.exists and secret.error is None):
            return self.cause(CauseCode.SECRET_MISSING, f"{secret_ref} does not exist", reissue)
        if reason in _SECRET_REASONS:
            return self.cause(
                CauseCode.SECRET_MISMATCH,
                f"{secret_ref} does not match the Certificate ({reason}): {ready.message}",
                reissue,
            )
        return self.cause(
            CauseCode.NOT_READY,
            f"Certificate is not Ready ({ready.reason}): {ready.message}",
            "read the conditions and events below",
        )


def analyse(
    cert: CertificateInfo,
    secret: SecretInfo,
    issuer: IssuerInfo,
    request: RequestInfo | None,
    order: OrderInfo | None,
    *,
    now: dt.datetime,
) -> RootCause:
    """The root cause of ``cert``'s state (see the module docstring for the order of checks)."""
    return _Analysis(cert, secret, issuer, request, order, now).run()
