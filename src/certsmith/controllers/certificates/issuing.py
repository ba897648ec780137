"""The issuing controller (``certificates-issuing``): from a finished request to the Secret.

What it decides (SPEC §5.4 "issuing", §5.5), and why:

* It acts only while ``Issuing=True`` and only on a consistent triple: the next-key Secret with a
  key fitting the spec, exactly one owned request of the next revision, whose CSR carries that
  key (and matches the spec). Anything else is a state the key and request managers are still
  converging, so it waits for their events rather than guessing.
* A request that failed before the current ``Issuing`` transition is from an earlier attempt:
  the request manager replaces it, so waiting is right.
* Terminal request states fail the attempt, checked in cert-manager's order (``Denied`` even if
  also issued, ``InvalidRequest``, no Ready yet = wait, Ready ``Failed``): ``lastFailureTime``,
  ``failedIssuanceAttempts + 1`` and ``Issuing=False`` with the request's reason. The trigger's
  backoff then decides when to try again.
* An issued certificate is checked (decodes, carries the CSR's key, not already expired) and
  written to the target Secret with server-side apply (field manager ``certsmith``, forced), so
  keys this controller wrote earlier but no longer produces disappear and fields other writers
  own stay. Only then are ``status.revision`` advanced, ``Issuing`` removed and the failure
  fields cleared — in one status write after the Secret, so a crash in between re-applies the
  same Secret (idempotent) and finishes the status on the next run.
* An existing Secret keeps its ``type`` (it is immutable); a new one is ``kubernetes.io/tls``.
"""

from __future__ import annotations

import logging
from typing import Final

from cryptography import x509

from certsmith.api.certmanager import Certificate, CertificateRequest, CertificateStatus
from certsmith.api.conditions import (
    ConditionStatus,
    ConditionType,
    EventReason,
    EventType,
    RequestReason,
)
from certsmith.api.core import Secret
from certsmith.api.meta import (
    IssuerReference,
    format_time,
    get_condition,
    is_true,
    remove_condition,
    set_condition,
)
from certsmith.client.protocol import KubeClient, PatchType
from certsmith.client.resources import SECRETS
from certsmith.controllers.certificates.keymanager import key_violations
from certsmith.controllers.certificates.requestmanager import (
    csr_matches_key,
    failed_before,
    stale_fields,
)
from certsmith.controllers.certificates.secretdata import (
    CA_KEY,
    COMBINED_PEM_KEY,
    DER_KEY,
    TLS_CERT_KEY,
    TLS_KEY_KEY,
    combined_pem,
    private_key_der,
    secret_annotations,
    secret_labels,
)
from certsmith.controllers.certificates.state import (
    FIELD_MANAGER,
    get_secret,
    next_revision,
    owned_requests,
    parse_certificate,
    requests_of_revision,
    write_status,
)
from certsmith.controllers.events import EventRecorder, Note
from certsmith.controllers.runtime.cache import JSONObject, ObjectKey
from certsmith.controllers.runtime.informer import Informer
from certsmith.controllers.runtime.manager import Requeue
from certsmith.pki.keys import (
    KeyDecodeError,
    PrivateKey,
    encode_private_key_pem,
    parse_private_key_pem,
    public_keys_equal,
)
from certsmith.pki.pem import PEMError, split_pem_certificates
from certsmith.util.clock import Clock

log = logging.getLogger(__name__)

TLS_SECRET_TYPE: Final = "kubernetes.io/tls"  # noqa: S105 - a Secret type
FAILURE_PREFIX: Final = "The certificate request has failed to complete and will be retried: "
ISSUED_EVENT_MESSAGE: Final = "The certificate has been successfully issued"
KEY_MISMATCH_MESSAGE: Final = (
    "Issuer returned a certificate with a public key that does not match the CSR. This usually "
    "indicates a misconfigured issuer."
)


class IssuanceFailure(Exception):  # noqa: N818 - an outcome, not an error of this code
    """An attempt failed: the Issuing=False reason, the message tail and the event reason."""

    def __init__(self, reason: str, message: str, event_reason: EventReason) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.event_reason = event_reason


def terminal_failure(request: CertificateRequest) -> IssuanceFailure | bool | None:
    """The request's terminal state: a failure, ``True`` when issued, ``None`` when pending."""
    conditions = request.status.conditions if request.status is not None else None
    denied = get_condition(conditions, ConditionType.DENIED)
    if denied is not None and denied.status == ConditionStatus.TRUE:
        return IssuanceFailure(denied.reason or "", denied.message or "", EventReason.DENIED)
    invalid = get_condition(conditions, ConditionType.INVALID_REQUEST)
    if invalid is not None and invalid.status == ConditionStatus.TRUE:
        return IssuanceFailure(
            invalid.reason or "", invalid.message or "", EventReason.INVALID_REQUEST
        )
    ready = get_condition(conditions, ConditionType.READY)
    if ready is None:
        return None
    if ready.reason == RequestReason.FAILED:
        return IssuanceFailure(ready.reason, ready.message or "", EventReason.FAILED)
    if ready.reason == RequestReason.ISSUED:
        return True
    return None


def check_issued(
    request: CertificateRequest, key: PrivateKey, now_ts: float
) -> tuple[bytes, x509.Certificate]:
    """The issued chain and its leaf, after the checks of SPEC §5.4 issuing step 4.

    Raises:
        IssuanceFailure: the chain does not decode, carries another key, or has expired.
    """
    chain = (request.status.certificate_pem if request.status is not None else None) or b""
    try:
        certs = split_pem_certificates(chain)
        if not certs:
            raise PEMError("no certificate found")
    except (PEMError, ValueError) as err:
        raise IssuanceFailure(
            "InvalidCertificate",
            f"Issuer returned an invalid certificate: failed to decode: {err}",
            EventReason.INVALID_CERTIFICATE,
        ) from None
    leaf = certs[0]
    if not public_keys_equal(leaf.public_key(), key):
        raise IssuanceFailure(
            "InvalidCertificate", KEY_MISMATCH_MESSAGE, EventReason.INVALID_CERTIFICATE
        )
    if leaf.not_valid_after_utc.timestamp() < now_ts:
        raise IssuanceFailure(
            "InvalidCertificate",
            "Issuer returned an already expired certificate (notAfter: "
            f"{format_time(leaf.not_valid_after_utc)}). This usually indicates an expired CA "
            "certificate in the issuer.",
            EventReason.INVALID_CERTIFICATE,
        )
    return chain, leaf


def secret_body(
    cert: Certificate,
    *,
    key_pem: bytes,
    chain_pem: bytes,
    ca_pem: bytes | None,
    leaf: x509.Certificate | None,
    issuer_ref: IssuerReference,
    secret_type: str,
) -> JSONObject:
    """The apply configuration of the target Secret (SPEC §5.5), without keystores."""
    data: dict[str, bytes] = {TLS_KEY_KEY: key_pem, TLS_CERT_KEY: chain_pem}
    if ca_pem:
        data[CA_KEY] = ca_pem
    for output in cert.spec.additional_output_formats or []:
        if output.type == "CombinedPEM":
            data[COMBINED_PEM_KEY] = combined_pem(key_pem, chain_pem)
        elif output.type == "DER":
            data[DER_KEY] = private_key_der(key_pem)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": cert.spec.secret_name,
            "namespace": cert.namespace,
            "labels": secret_labels(cert),
            "annotations": secret_annotations(cert, leaf, issuer_ref),
        },
        "type": secret_type,
        "data": Secret.encode_data(data),
    }


class IssuingController:
    """Turns the next revision's finished request into the Secret and the status."""

    def __init__(
        self,
        client: KubeClient,
        *,
        certificates: Informer,
        requests: Informer,
        secrets: Informer,
        recorder: EventRecorder,
        clock: Clock,
    ) -> None:
        """Create the controller.

        Args:
            client: the API client writes go through.
            certificates: the Certificate informer.
            requests: the CertificateRequest informer.
            secrets: the metadata-only Secret informer (for an existing Secret's type).
            recorder: where Events go.
            clock: the time of conditions and ``lastFailureTime``.
        """
        self._client = client
        self._certificates = certificates
        self._requests = requests
        self._secrets = secrets
        self._recorder = recorder
        self._clock = clock

    async def reconcile(self, key: ObjectKey) -> Requeue | None:
        """Reconcile one Certificate's issuance; see the module docstring.

        Raises:
            certsmith.client.errors.ApiError: a read or write failed (retried with backoff).
            ValueError: the issued certificate's extensions cannot be read for the annotations.
        """
        obj = self._certificates.cache.get_key(key)
        original = parse_certificate(obj)
        if obj is None or original is None or original.status is None:
            return None
        if not is_true(original.status.conditions, ConditionType.ISSUING):
            return None
        cert = original.model_copy(deep=True)
        status = cert.status or CertificateStatus()
        cert.status = status
        notes: list[Note] = []
        await self._issue(cert, status, notes)
        await write_status(self._client, obj, original, cert)
        for note in notes:
            await self._recorder.record(cert, note)
        return None

    async def _issue(self, cert: Certificate, status: CertificateStatus, notes: list[Note]) -> None:
        issuing = get_condition(status.conditions, ConditionType.ISSUING)
        private_key = await self._next_key(cert)
        if private_key is None or issuing is None:
            return
        revision = next_revision(cert)
        candidates = requests_of_revision(owned_requests(self._requests, cert), revision)
        if len(candidates) != 1:
            return
        request = candidates[0]
        if stale_fields(request, cert):
            return
        if not csr_matches_key(request, private_key):
            return
        if failed_before(request, issuing.last_transition_time):
            return  # from a previous attempt; the request manager replaces it
        outcome = terminal_failure(request)
        if outcome is None:
            return  # still pending
        try:
            if isinstance(outcome, IssuanceFailure):
                raise outcome
            now = self._clock.now()
            chain_pem, leaf = check_issued(request, private_key, now.timestamp())
        except IssuanceFailure as failure:
            self._fail(cert, status, failure, notes)
            return
        await self._apply_secret(cert, request, private_key, chain_pem, leaf)
        status.revision = revision
        status.conditions = remove_condition(status.conditions, ConditionType.ISSUING) or None
        status.last_failure_time = None
        status.failed_issuance_attempts = None
        notes.append(Note(EventType.NORMAL, EventReason.ISSUING, ISSUED_EVENT_MESSAGE))

    async def _next_key(self, cert: Certificate) -> PrivateKey | None:
        name = cert.status.next_private_key_secret_name if cert.status is not None else None
        if not name:
            return None
        secret = await get_secret(self._client, cert.namespace, name)
        data = secret.decoded(TLS_KEY_KEY) if secret is not None else None
        if not data:
            return None
        try:
            key = parse_private_key_pem(data)
        except KeyDecodeError:
            return None
        return None if key_violations(cert, key) else key

    def _fail(
        self,
        cert: Certificate,
        status: CertificateStatus,
        failure: IssuanceFailure,
        notes: list[Note],
    ) -> None:
        now = self._clock.now()
        message = FAILURE_PREFIX + failure.message
        status.last_failure_time = now
        status.failed_issuance_attempts = (status.failed_issuance_attempts or 0) + 1
        status.conditions = set_condition(
            status.conditions,
            ConditionType.ISSUING,
            ConditionStatus.FALSE,
            failure.reason,
            message,
            now=now,
            observed_generation=cert.metadata.generation,
        )
        notes.append(Note(EventType.WARNING, failure.event_reason, message))

    async def _apply_secret(
        self,
        cert: Certificate,
        request: CertificateRequest,
        private_key: PrivateKey,
        chain_pem: bytes,
        leaf: x509.Certificate,
    ) -> None:
        encoding = cert.spec.private_key.encoding if cert.spec.private_key else None
        cached = self._secrets.cache.get(cert.namespace, cert.spec.secret_name)
        body = secret_body(
            cert,
            key_pem=encode_private_key_pem(private_key, encoding),
            chain_pem=chain_pem,
            ca_pem=request.status.ca_pem if request.status is not None else None,
            leaf=leaf,
            issuer_ref=request.spec.issuer_ref,
            secret_type=str((cached or {}).get("type") or TLS_SECRET_TYPE),
        )
        await self._client.patch(
            SECRETS,
            cert.namespace,
            cert.spec.secret_name,
            body,
            patch_type=PatchType.APPLY,
            field_manager=FIELD_MANAGER,
            force=True,
        )


__all__ = [
    "FAILURE_PREFIX",
    "IssuanceFailure",
    "IssuingController",
    "check_issued",
    "secret_body",
    "terminal_failure",
]
