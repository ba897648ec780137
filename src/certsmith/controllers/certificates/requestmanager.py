"""The request manager (``certificates-request-manager``): one CertificateRequest per attempt.

What it decides (SPEC §5.4 "request manager"), and why:

* It acts only while ``Issuing=True`` and the next-key Secret named in status exists with a
  decodable key, because the CSR must be signed by exactly the key the issuing controller will
  later store next to the certificate.
* Stale requests are deleted before anything is created, so there is never a choice to make:
  (1) owned requests without a parseable revision; (2) requests of the next revision whose
  request no longer matches the spec, or whose CSR carries another public key; (3) requests of
  the next revision that ``Failed`` before the current ``Issuing`` condition was set, i.e. left
  over from a previous attempt (Denied/InvalidRequest ones are kept: SPEC §10 quirk 9).
* With exactly one request left nothing happens; with several it waits (something else races);
  with none it creates ``<cert>-<revision>`` (StableCertificateRequestName). Stable names make a
  retry after a crash idempotent: the second create is a 409 and the request is already there.
* Names longer than 233 characters are replaced by a DNS-safe prefix plus the SHA-256 of the
  full name, so ``-<revision>`` always fits in a 253-character object name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections.abc import Sequence
from typing import Final

from certsmith.api.certmanager import Certificate, CertificateRequest
from certsmith.api.conditions import ConditionStatus, ConditionType, EventReason, EventType
from certsmith.api.meta import encode_bytes, get_condition, is_true
from certsmith.client.errors import AlreadyExists, NotFound
from certsmith.client.protocol import KubeClient
from certsmith.client.resources import CERTIFICATE_REQUESTS
from certsmith.controllers.certificates.keycache import KEYS
from certsmith.controllers.certificates.keymanager import key_violations
from certsmith.controllers.certificates.match import RequestMatchError, request_matches_spec
from certsmith.controllers.certificates.state import (
    CERTIFICATE_NAME_ANNOTATION,
    PRIVATE_KEY_SECRET_ANNOTATION,
    REVISION_ANNOTATION,
    SecretReader,
    next_revision,
    owned_requests,
    owner_reference,
    parse_certificate,
    request_revision,
)
from certsmith.controllers.events import EventRecorder, Note
from certsmith.controllers.runtime.cache import JSONObject, ObjectKey
from certsmith.controllers.runtime.informer import Informer
from certsmith.controllers.runtime.manager import Requeue
from certsmith.pki.csr import CSRError, csr_public_key_matches, decode_csr, generate_csr
from certsmith.pki.keys import KeyDecodeError, PrivateKey

log = logging.getLogger(__name__)

#: cert-manager's ``--copied-annotation-prefixes`` default: all but tooling annotations.
DEFAULT_COPIED_ANNOTATION_PREFIXES: Final = (
    "*",
    "-kubectl.kubernetes.io/",
    "-fluxcd.io/",
    "-argocd.argoproj.io/",
)
#: Longest Certificate-derived name part before hashing (253 minus room for ``-<revision>``).
MAX_BASE_NAME: Final = 233
_HASH_HEX_LENGTH: Final = 64
_ALNUM: Final = re.compile(r"[a-zA-Z0-9]")


def dns_safe_shorten(name: str, max_length: int) -> str:
    """Cut ``name`` to ``max_length`` and back to its last alphanumeric character."""
    if len(name) < max_length:
        return name
    if max_length <= 0:
        return ""
    head = name[:max_length]
    last = None
    for match in _ALNUM.finditer(head):
        last = match
    return head[: last.end()] if last is not None else ""


def secure_unique_name(name: str, max_length: int = MAX_BASE_NAME) -> str:
    """``name`` itself if short enough, else ``<DNS-safe prefix>-<sha256 hex of name>``."""
    if len(name) <= max_length:
        return name
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()
    prefix = dns_safe_shorten(name, max_length - _HASH_HEX_LENGTH - 1)
    return f"{prefix}-{digest}" if prefix else digest


def request_name(cert_name: str, revision: int) -> str:
    """The stable name of a Certificate's request for ``revision``: ``<cert>-<revision>``."""
    return f"{secure_unique_name(cert_name)}-{revision}"


def copied_annotations(
    annotations: dict[str, str], prefixes: Sequence[str] = DEFAULT_COPIED_ANNOTATION_PREFIXES
) -> dict[str, str]:
    """The annotations a request inherits: matching an include prefix and no ``-`` exclusion."""
    include = [p for p in prefixes if not p.startswith("-")]
    exclude = [p[1:] for p in prefixes if p.startswith("-")]
    return {
        key: value
        for key, value in annotations.items()
        if any(p == "*" or key.startswith(p) for p in include)
        and not any(key.startswith(p) for p in exclude)
    }


def failed_before(request: CertificateRequest, when: dt.datetime | None) -> bool:
    """Whether ``request`` is Ready=False/Failed with a failureTime before ``when``."""
    if when is None or request.status is None:
        return False
    ready = get_condition(request.status.conditions, ConditionType.READY)
    if ready is None or ready.status != ConditionStatus.FALSE or ready.reason != "Failed":
        return False
    failure = request.status.failure_time
    return failure is not None and failure < when


def stale_fields(request: CertificateRequest, cert: Certificate) -> list[str]:
    """The spec fields ``request`` no longer matches; empty when it matches or cannot tell.

    An undecodable CSR is "cannot tell" here (SPEC §5.8): :func:`csr_matches_key` rejects it.
    """
    try:
        return request_matches_spec(request, cert.spec)
    except RequestMatchError as err:
        log.info("certificaterequest %s/%s: %s", request.namespace, request.name, err)
        return []


def csr_matches_key(request: CertificateRequest, key: PrivateKey) -> bool:
    """Whether the request's CSR decodes and carries the public half of ``key``."""
    try:
        return csr_public_key_matches(decode_csr(request.spec.request_pem), key)
    except (CSRError, ValueError):
        return False


class RequestManager:
    """Creates the next revision's CertificateRequest and removes stale ones."""

    def __init__(
        self,
        client: KubeClient,
        *,
        certificates: Informer,
        requests: Informer,
        recorder: EventRecorder,
        copied_annotation_prefixes: Sequence[str] = DEFAULT_COPIED_ANNOTATION_PREFIXES,
        secret_reader: SecretReader | None = None,
    ) -> None:
        """Create the controller.

        Args:
            client: the API client writes go through.
            certificates: the Certificate informer.
            requests: the CertificateRequest informer.
            recorder: where Events go.
            copied_annotation_prefixes: which Certificate annotations requests inherit.
            secret_reader: how Secrets are read (shared with the other controllers); by
                default every read is a GET.
        """
        self._secret_reader = secret_reader or SecretReader(client, None)
        self._client = client
        self._certificates = certificates
        self._requests = requests
        self._recorder = recorder
        self._prefixes = tuple(copied_annotation_prefixes)

    async def reconcile(self, key: ObjectKey) -> Requeue | None:
        """Reconcile one Certificate's next CertificateRequest; see the module docstring.

        Raises:
            certsmith.client.errors.ApiError: a read or write failed (retried with backoff).
        """
        cert = parse_certificate(self._certificates.cache.get_key(key))
        if cert is None or cert.status is None:
            return None
        issuing = get_condition(cert.status.conditions, ConditionType.ISSUING)
        if not is_true(cert.status.conditions, ConditionType.ISSUING) or issuing is None:
            return None
        secret_name = cert.status.next_private_key_secret_name
        if not secret_name:
            return None
        # The key Secret as of this Certificate's state (written before the status naming it).
        secret = await self._secret_reader.get(
            cert.namespace, secret_name, as_of=cert.metadata.resource_version
        )
        data = secret.decoded("tls.key") if secret is not None else None
        if not data:
            return None
        try:
            private_key = KEYS.parse(data)
        except KeyDecodeError:
            return None  # the key manager replaces it
        if key_violations(cert, private_key):
            return None  # the key manager replaces it

        revision = next_revision(cert)
        remaining: list[CertificateRequest] = []
        for request in owned_requests(self._requests, cert):
            found = request_revision(request)
            if found is None:
                await self._delete(request, "it has no valid revision annotation")
            elif found != revision:
                continue
            elif stale_fields(request, cert):
                await self._delete(request, "it no longer matches the spec")
            elif not csr_matches_key(request, private_key):
                await self._delete(request, "its CSR is not for the next private key")
            elif failed_before(request, issuing.last_transition_time):
                await self._delete(request, "it failed in a previous issuance attempt")
            else:
                remaining.append(request)
        if len(remaining) > 1:
            log.info(
                "certificate %s: %d requests for revision %d; waiting for one to go",
                key,
                len(remaining),
                revision,
            )
            return None
        if remaining:
            return None
        await self._create(cert, revision, private_key, secret_name)
        return None

    async def _create(
        self, cert: Certificate, revision: int, private_key: PrivateKey, secret_name: str
    ) -> None:
        try:
            csr_pem = generate_csr(cert.spec, private_key)
        except CSRError as err:
            await self._recorder.record(
                cert,
                Note(
                    EventType.WARNING,
                    EventReason.REQUEST_FAILED,
                    f"Failed to generate CSR: {err} - will not retry",
                ),
            )
            return
        body = self.request_body(cert, revision, csr_pem, secret_name)
        name = str(body["metadata"]["name"])
        try:
            await self._client.create(CERTIFICATE_REQUESTS, cert.namespace, body)
        except AlreadyExists:
            return  # created by an earlier run whose cache event has not arrived yet
        await self._recorder.record(
            cert,
            Note(
                EventType.NORMAL,
                EventReason.REQUESTED,
                f'Created new CertificateRequest resource "{name}"',
            ),
        )

    def request_body(
        self, cert: Certificate, revision: int, csr_pem: bytes, secret_name: str
    ) -> JSONObject:
        """The CertificateRequest for ``revision`` of ``cert`` (SPEC §5.4 step 4)."""
        annotations = copied_annotations(cert.annotations, self._prefixes)
        annotations.update(
            {
                REVISION_ANNOTATION: str(revision),
                PRIVATE_KEY_SECRET_ANNOTATION: secret_name,
                CERTIFICATE_NAME_ANNOTATION: cert.name,
            }
        )
        metadata: JSONObject = {
            "name": request_name(cert.name, revision),
            "namespace": cert.namespace,
            "annotations": annotations,
            "ownerReferences": [owner_reference(cert)],
        }
        if cert.metadata.labels:
            metadata["labels"] = dict(cert.metadata.labels)
        spec: JSONObject = {
            "issuerRef": cert.spec.issuer_ref.to_dict(),
            "request": encode_bytes(csr_pem),
        }
        if cert.spec.duration:
            spec["duration"] = cert.spec.duration
        if cert.spec.is_ca:
            spec["isCA"] = True
        if cert.spec.usages is not None:
            spec["usages"] = list(cert.spec.usages)
        return {
            "apiVersion": CertificateRequest.API_VERSION,
            "kind": CertificateRequest.KIND,
            "metadata": metadata,
            "spec": spec,
        }

    async def _delete(self, request: CertificateRequest, why: str) -> None:
        log.info("deleting certificaterequest %s/%s: %s", request.namespace, request.name, why)
        try:
            await self._client.delete(CERTIFICATE_REQUESTS, request.namespace, request.name)
        except NotFound:
            return


__all__ = [
    "DEFAULT_COPIED_ANNOTATION_PREFIXES",
    "RequestManager",
    "copied_annotations",
    "csr_matches_key",
    "dns_safe_shorten",
    "failed_before",
    "request_name",
    "secure_unique_name",
    "stale_fields",
]
