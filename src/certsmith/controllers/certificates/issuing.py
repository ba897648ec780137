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
* When the next attempt happens after a failure is made visible with a Normal
  ``RetryScheduled`` event ("The next issuance attempt is at <RFC3339> (after a backoff of
  <Go duration>)"), recorded with the failure. The ``Issuing=False`` message stays exactly
  SPEC §5.3's ``The certificate request has failed to complete and will be retried: <msg>``
  and ``Ready`` keeps its policy message: both are matched by tools and by cert-manager's own
  tests, so a suffix there would be an incompatibility. The time is
  ``lastFailureTime + backoff_delay(failedIssuanceAttempts)`` with the deployment's backoff,
  the same value the trigger waits for (an edited spec retries earlier).
* An existing Secret keeps its ``type`` (it is immutable); a new one is ``kubernetes.io/tls``.
* Keystores (``spec.keystores``) and additional output formats are written with the key and
  certificate. A ``passwordSecretRef`` is read with a GET when the Secret is written; a missing
  password Secret (or key) is a Warning ``KeystorePasswordSecretNotFound`` (SPEC §5.9) and that
  keystore is left out rather than blocking the whole Secret; creating the password Secret
  later takes effect at the next Secret write. Passwords never reach logs, events or errors.
* While a request is pending, a Certificate annotated
  ``cert-manager.io/issue-temporary-certificate: "true"`` whose Secret lacks a usable key pair
  (SPEC §5.8 temporary chain) gets a temporary certificate for the next key, signed by a
  throw-away CA (step 5), so workloads can start before the real certificate arrives.
* While not issuing, the post-issuance checks (SPEC §5.8 C) run against the Secret and, on a
  violation, the Secret is re-applied from its own ``tls.key``/``tls.crt``/``ca.crt`` and issuer
  annotations (as cert-manager's ``ensureSecretData``: no new request, so a ``secretTemplate``
  edit updates the Secret in place). ``ManagedFieldsParseError`` and ``InvalidCertificate``
  violations are ignored: re-applying cannot fix them and would loop. A Secret without a key or
  certificate, or one annotated for another Certificate, is left to the trigger (two
  Certificates sharing a Secret must not take turns re-applying it). The repair is skipped
  while a keystore
  password Secret is missing, since the re-applied Secret would still violate the keystore check.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Final

from cryptography import x509

from certsmith.api.certmanager import Certificate, CertificateRequest, CertificateStatus
from certsmith.api.conditions import (
    ConditionStatus,
    ConditionType,
    EventReason,
    EventType,
    PolicyReason,
    RequestReason,
)
from certsmith.api.core import Secret
from certsmith.api.duration import format_go_duration
from certsmith.api.meta import (
    IssuerReference,
    SecretKeySelector,
    format_time,
    get_condition,
    is_true,
    remove_condition,
    set_condition,
)
from certsmith.client.protocol import KubeClient, PatchType
from certsmith.client.resources import SECRETS
from certsmith.controllers.certificates.keycache import KEYS
from certsmith.controllers.certificates.keymanager import key_violations
from certsmith.controllers.certificates.policies import (
    POST_ISSUANCE_CHAIN,
    TEMPORARY_CERTIFICATE_CHAIN,
    PolicyInput,
    evaluate,
)
from certsmith.controllers.certificates.requestmanager import (
    csr_matches_key,
    failed_before,
    stale_fields,
)
from certsmith.controllers.certificates.secretdata import (
    CA_KEY,
    ISSUER_GROUP_ANNOTATION,
    ISSUER_KIND_ANNOTATION,
    ISSUER_NAME_ANNOTATION,
    TLS_CERT_KEY,
    TLS_KEY_KEY,
    secret_annotations,
    secret_labels,
)
from certsmith.controllers.certificates.state import (
    CERTIFICATE_NAME_ANNOTATION,
    FIELD_MANAGER,
    ISSUE_TEMPORARY_ANNOTATION,
    SecretReader,
    gather,
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
    public_keys_equal,
)
from certsmith.pki.keystores import (
    additional_outputs,
    keystore_outputs,
    temporary_certificate,
)
from certsmith.pki.pem import PEMError, split_pem_certificates
from certsmith.pki.renewal import DEFAULT_INITIAL_BACKOFF, DEFAULT_MAXIMUM_BACKOFF, backoff_delay
from certsmith.util.clock import Clock

log = logging.getLogger(__name__)

TLS_SECRET_TYPE: Final = "kubernetes.io/tls"  # noqa: S105 - a Secret type
FAILURE_PREFIX: Final = "The certificate request has failed to complete and will be retried: "
ISSUED_EVENT_MESSAGE: Final = "The certificate has been successfully issued"
TEMPORARY_EVENT_MESSAGE: Final = "Issued temporary certificate"
#: Post-issuance violations re-applying the Secret cannot fix (cert-manager ignores them too).
IGNORED_POST_ISSUANCE: Final = frozenset(
    {PolicyReason.MANAGED_FIELDS_PARSE_ERROR, PolicyReason.INVALID_CERTIFICATE}
)
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
    issuer_ref: IssuerReference | None,
    secret_type: str,
    keystores: Mapping[str, bytes] | None = None,
) -> JSONObject:
    """The apply configuration of the target Secret (SPEC §5.5).

    Args:
        cert: the Certificate (name, secretName, secretTemplate, output formats).
        key_pem: ``tls.key`` as written.
        chain_pem: ``tls.crt``.
        ca_pem: ``ca.crt``; left out when empty.
        leaf: the leaf for the certificate-detail annotations (``None``: none).
        issuer_ref: the issuer annotations' source; ``None`` for a temporary certificate, whose
            Secret carries only the ``certificate-name`` annotation.
        secret_type: the Secret's type (an existing Secret's is kept).
        keystores: the keystore keys already encoded (:func:`keystore_outputs`).

    Raises:
        certsmith.pki.keystores.KeystoreError: ``DER`` output with a key PEM lacking a key block.
        ValueError: ``leaf``'s extensions cannot be read.
    """
    data: dict[str, bytes] = {TLS_KEY_KEY: key_pem, TLS_CERT_KEY: chain_pem}
    if ca_pem:
        data[CA_KEY] = ca_pem
    data.update(keystores or {})
    data.update(additional_outputs(cert.spec.additional_output_formats, key_pem, chain_pem))
    if issuer_ref is None:
        template = cert.spec.secret_template
        annotations = dict(template.annotations or {}) if template is not None else {}
        annotations[CERTIFICATE_NAME_ANNOTATION] = cert.name
    else:
        annotations = secret_annotations(cert, leaf, issuer_ref)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": cert.spec.secret_name,
            "namespace": cert.namespace,
            "labels": secret_labels(cert),
            "annotations": annotations,
        },
        "type": secret_type,
        "data": Secret.encode_data(data),
    }


def _first_certificate(chain_pem: bytes) -> x509.Certificate | None:
    try:
        certs = split_pem_certificates(chain_pem)
    except (PEMError, ValueError):
        return None
    return certs[0] if certs else None


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
            secrets: the metadata-only Secret informer (for an existing Secret's type).
            recorder: where Events go.
            clock: the time of conditions and ``lastFailureTime``.
            backoff: (the wait after the first failed issuance, the cap), for the
                ``RetryScheduled`` event's time.
            secret_reader: how Secrets are read (shared with the other controllers); by
                default with ``secrets`` telling which recent reads are current.
        """
        self._secret_reader = secret_reader or SecretReader(client, secrets)
        self._backoff = backoff
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
        notes: list[Note] = []
        if not is_true(original.status.conditions, ConditionType.ISSUING):
            await self._repair(original, notes)
            for note in notes:
                await self._recorder.record(original, note)
            return None
        cert = original.model_copy(deep=True)
        status = cert.status or CertificateStatus()
        cert.status = status
        await self._issue(cert, status, notes)
        await write_status(self._client, obj, original, cert, certificates=self._certificates)
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
            await self._temporary_certificate(cert, private_key, notes)
            return  # still pending
        try:
            if isinstance(outcome, IssuanceFailure):
                raise outcome
            now = self._clock.now()
            chain_pem, leaf = check_issued(request, private_key, now.timestamp())
        except IssuanceFailure as failure:
            self._fail(cert, status, failure, notes)
            return
        await self._apply_issued(cert, request, private_key, chain_pem, leaf, notes)
        status.revision = revision
        status.conditions = remove_condition(status.conditions, ConditionType.ISSUING) or None
        status.last_failure_time = None
        status.failed_issuance_attempts = None
        notes.append(Note(EventType.NORMAL, EventReason.ISSUING, ISSUED_EVENT_MESSAGE))

    async def _next_key(self, cert: Certificate) -> PrivateKey | None:
        name = cert.status.next_private_key_secret_name if cert.status is not None else None
        if not name:
            return None
        # The key Secret as of this Certificate's state (written before the status naming it).
        secret = await self._secret_reader.get(
            cert.namespace, name, as_of=cert.metadata.resource_version
        )
        data = secret.decoded(TLS_KEY_KEY) if secret is not None else None
        if not data:
            return None
        try:
            key = KEYS.parse(data)
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
        delay = backoff_delay(status.failed_issuance_attempts, *self._backoff)
        notes.append(
            Note(
                EventType.NORMAL,
                EventReason.RETRY_SCHEDULED,
                f"The next issuance attempt is at {format_time(now + delay)} "
                f"(after a backoff of {format_go_duration(delay)})",
            )
        )

    async def _apply_issued(
        self,
        cert: Certificate,
        request: CertificateRequest,
        private_key: PrivateKey,
        chain_pem: bytes,
        leaf: x509.Certificate,
        notes: list[Note],
    ) -> None:
        encoding = cert.spec.private_key.encoding if cert.spec.private_key else None
        key_pem = encode_private_key_pem(private_key, encoding)
        KEYS.trust(key_pem)  # from a key already checked: the policies need not check it again
        ca_pem = request.status.ca_pem if request.status is not None else None
        stores, _ = await self._keystores(cert, key_pem, chain_pem, ca_pem, notes)
        cached = self._secrets.cache.get(cert.namespace, cert.spec.secret_name)
        body = secret_body(
            cert,
            key_pem=key_pem,
            chain_pem=chain_pem,
            ca_pem=ca_pem,
            leaf=leaf,
            issuer_ref=request.spec.issuer_ref,
            secret_type=str((cached or {}).get("type") or TLS_SECRET_TYPE),
            keystores=stores,
        )
        await self._apply(cert, body)

    async def _temporary_certificate(
        self, cert: Certificate, private_key: PrivateKey, notes: list[Note]
    ) -> None:
        """SPEC §5.4 issuing step 5: a temporary certificate while the request is pending."""
        if cert.annotations.get(ISSUE_TEMPORARY_ANNOTATION) != "true":
            return
        now = self._clock.now()
        secret = await get_secret(self._client, cert.namespace, cert.spec.secret_name)
        checked = PolicyInput(
            certificate=cert, secret=secret, current_request=None, next_request=None, now=now
        )
        if evaluate(TEMPORARY_CERTIFICATE_CHAIN, checked) is None:
            return
        encoding = cert.spec.private_key.encoding if cert.spec.private_key else None
        key_pem = encode_private_key_pem(private_key, encoding)
        KEYS.trust(key_pem)  # from a key already checked: the policies need not check it again
        chain_pem = temporary_certificate(cert.spec, private_key, now)
        body = secret_body(
            cert,
            key_pem=key_pem,
            chain_pem=chain_pem,
            ca_pem=None,
            leaf=None,
            issuer_ref=None,
            secret_type=(secret.type if secret is not None else None) or TLS_SECRET_TYPE,
        )
        await self._apply(cert, body)
        notes.append(Note(EventType.NORMAL, EventReason.ISSUING, TEMPORARY_EVENT_MESSAGE))

    async def _repair(self, cert: Certificate, notes: list[Note]) -> None:
        """SPEC §5.4 issuing step 6: re-apply the Secret when the post-issuance checks fail."""
        now = self._clock.now()
        checked = await gather(self._secret_reader, self._requests, cert, now, fresh=False)
        if checked.secret is None or evaluate(POST_ISSUANCE_CHAIN, checked) is None:
            return  # nothing to repair: a current recent read is enough to know that
        # The repair writes the Secret's own data back: read it fresh.
        policy_input = await gather(self._secret_reader, self._requests, cert, now)
        secret = policy_input.secret
        if secret is None:
            return
        key_pem = secret.decoded(TLS_KEY_KEY)
        chain_pem = secret.decoded(TLS_CERT_KEY)
        if not key_pem or not chain_pem:
            return  # the trigger reissues
        owner = (secret.metadata.annotations or {}).get(CERTIFICATE_NAME_ANNOTATION)
        if owner is not None and owner != cert.name:
            return  # another Certificate's Secret: the trigger reports IncorrectCertificate
        violation = evaluate(POST_ISSUANCE_CHAIN, policy_input)
        if violation is None:
            return
        if violation.reason in IGNORED_POST_ISSUANCE:
            log.info(
                "certificate %s/%s: not repairing the Secret: %s",
                cert.namespace,
                cert.name,
                violation.reason,
            )
            return
        leaf = _first_certificate(chain_pem)
        if leaf is None:
            return
        ca_pem = secret.decoded(CA_KEY)
        stores, complete = await self._keystores(cert, key_pem, chain_pem, ca_pem, notes)
        if not complete:
            return
        annotations = secret.metadata.annotations or {}
        issuer_ref = IssuerReference(
            name=annotations.get(ISSUER_NAME_ANNOTATION, ""),
            kind=annotations.get(ISSUER_KIND_ANNOTATION, ""),
            group=annotations.get(ISSUER_GROUP_ANNOTATION, ""),
        )
        body = secret_body(
            cert,
            key_pem=key_pem,
            chain_pem=chain_pem,
            ca_pem=ca_pem,
            leaf=leaf,
            issuer_ref=issuer_ref,
            secret_type=secret.type or TLS_SECRET_TYPE,
            keystores=stores,
        )
        log.info(
            "certificate %s/%s: re-applying Secret %s: %s",
            cert.namespace,
            cert.name,
            cert.spec.secret_name,
            violation.reason,
        )
        await self._apply(cert, body)

    async def _keystores(
        self,
        cert: Certificate,
        key_pem: bytes,
        chain_pem: bytes,
        ca_pem: bytes | None,
        notes: list[Note],
    ) -> tuple[dict[str, bytes], bool]:
        """The keystore keys, and whether every asked-for keystore could be written.

        Raises:
            certsmith.pki.keystores.KeystoreError: a keystore cannot be encoded (retried).
        """
        stores = cert.spec.keystores
        if stores is None:
            return {}, True
        complete = True
        pkcs12_password: bytes | None = None
        jks_password: bytes | None = None
        p12, jks = stores.pkcs12, stores.jks
        if p12 is not None and p12.create:
            pkcs12_password = await self._password(
                cert, "PKCS#12", p12.password, p12.password_secret_ref, notes
            )
            if pkcs12_password is None:
                complete = False
                p12 = p12.model_copy(update={"create": False})
        if jks is not None and jks.create:
            jks_password = await self._password(
                cert, "JKS", jks.password, jks.password_secret_ref, notes
            )
            if jks_password is None:
                complete = False
                jks = jks.model_copy(update={"create": False})
        outputs = keystore_outputs(
            stores.model_copy(update={"pkcs12": p12, "jks": jks}),
            key_pem=key_pem,
            cert_pem=chain_pem,
            ca_pem=ca_pem,
            pkcs12_password=pkcs12_password,
            jks_password=jks_password,
            now=self._clock.now(),
        )
        return outputs, complete

    async def _password(
        self,
        cert: Certificate,
        store: str,
        literal: str | None,
        ref: SecretKeySelector | None,
        notes: list[Note],
    ) -> bytes | None:
        if literal:
            return literal.encode()
        if ref is None:
            return None
        secret = await get_secret(self._client, cert.namespace, ref.name)
        value = secret.decoded(ref.key or "") if secret is not None else None
        if not value:
            notes.append(
                Note(
                    EventType.WARNING,
                    EventReason.KEYSTORE_PASSWORD_SECRET_NOT_FOUND,
                    f"The {store} keystore password Secret {ref.name!r} (key {ref.key or ''!r}) "
                    "was not found; the keystore is not written",
                )
            )
            return None
        return value

    async def _apply(self, cert: Certificate, body: JSONObject) -> None:
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
    "IGNORED_POST_ISSUANCE",
    "IssuanceFailure",
    "IssuingController",
    "check_issued",
    "secret_body",
    "terminal_failure",
]
