"""What every Certificate controller reads before deciding, and how it writes its result.

What this module decides:

* Ownership is by **controller** owner reference (uid), as cert-manager's
  ``predicate.ResourceOwnedBy``: a CertificateRequest or key Secret that merely lists the
  Certificate among several owners, or whose uid is from a deleted namesake, is not ours.
* Revisions come from the ``cert-manager.io/certificate-revision`` annotation; one that does not
  parse as a positive integer means "no revision" (the request manager deletes such requests).
* Secrets are cached as metadata only; a controller that needs ``data`` (a key, a certificate)
  reads it through :class:`SecretReader`, so the cluster's Secret data at large never sits in
  memory. Decisions that write nothing back into a Secret (the trigger's and readiness' policy
  checks, the post-issuance check before a repair) read "as of" the Certificate's
  resourceVersion: once the Secret informer has seen every revision up to it, the informer
  knows whether the Secret exists and at which version, and one of the last few Secrets read
  (a small bounded LRU) stands in for a GET when its version is that one. Revisions are
  global, so nothing the Certificate's state was built on is missed: the issuing controller
  writes the Secret before the status that follows from it. Reads whose data goes into a
  write (key, CSR, Secret repair) always GET.
* Status writes go through ``/status`` with the resourceVersion read from the cache, once per
  reconcile and only when something changed; a 409 is an ordinary retry. Each controller owns
  only its own status fields, so concurrent controllers converge through these retries.
* A change to a CertificateRequest or a Secret re-queues the Certificates it concerns: the
  controlling owner of a request or key Secret, and the Certificates whose ``secretName`` it is.
* None of these lookups scans a namespace: Certificates are indexed by ``<namespace>/<secretName>``
  (:data:`BY_SECRET_NAME`), requests and Secrets by controller uid
  (:data:`~certsmith.controllers.runtime.cache.CONTROLLER_UID_INDEX`), so a reconcile costs the
  same with ten Certificates in the namespace as with ten thousand.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

import pydantic

from certsmith.api.certmanager import Certificate, CertificateRequest
from certsmith.api.core import Secret
from certsmith.client.errors import Conflict, NotFound
from certsmith.client.protocol import KubeClient
from certsmith.client.resources import CERTIFICATES, SECRETS
from certsmith.controllers.certificates.policies import PolicyInput
from certsmith.controllers.runtime.cache import CONTROLLER_UID_INDEX, JSONObject, ObjectKey
from certsmith.controllers.runtime.informer import Informer
from certsmith.controllers.runtime.manager import RetryLater
from certsmith.controllers.runtime.workqueue import Sleeper

log = logging.getLogger(__name__)

CERTIFICATE_NAME_ANNOTATION: Final = "cert-manager.io/certificate-name"
REVISION_ANNOTATION: Final = "cert-manager.io/certificate-revision"
PRIVATE_KEY_SECRET_ANNOTATION: Final = "cert-manager.io/private-key-secret-name"  # noqa: S105
ISSUE_TEMPORARY_ANNOTATION: Final = "cert-manager.io/issue-temporary-certificate"
NEXT_PRIVATE_KEY_LABEL: Final = "cert-manager.io/next-private-key"
FAO_LABEL: Final = "controller.cert-manager.io/fao"
#: The field manager of the target Secret's server-side apply (SPEC §5.5).
FIELD_MANAGER: Final = "certsmith"
#: Certificates by the Secret they write: ``<namespace>/<spec.secretName>``.
BY_SECRET_NAME: Final = "secret-name"  # noqa: S105 - an index name


def secret_name_index_value(namespace: str | None, secret_name: str) -> str:
    """The :data:`BY_SECRET_NAME` value of a Secret ``namespace/secret_name``."""
    return f"{namespace or ''}/{secret_name}"


def certificates_by_secret_name(obj: JSONObject) -> list[str]:
    """Indexer: a Certificate's ``spec.secretName`` within its namespace."""
    name = (obj.get("spec") or {}).get("secretName")
    if not isinstance(name, str) or not name:
        return []
    return [secret_name_index_value((obj.get("metadata") or {}).get("namespace"), name)]


def certificates_writing(
    certificates: Informer, namespace: str | None, name: str
) -> list[JSONObject]:
    """The cached Certificates whose ``spec.secretName`` is ``namespace/name`` (from the index)."""
    return certificates.cache.by_index(BY_SECRET_NAME, secret_name_index_value(namespace, name))


def _controlled_by(informer: Informer, namespace: str, uid: str) -> list[JSONObject]:
    """The cached objects of ``namespace`` whose controlling owner has ``uid`` (from the index)."""
    return [
        obj
        for obj in informer.cache.by_index(CONTROLLER_UID_INDEX, uid)
        if ((obj.get("metadata") or {}).get("namespace") or None) == (namespace or None)
    ]


def certificate_informer(
    client: KubeClient, *, namespace: str | None = None, sleep: Sleeper = asyncio.sleep
) -> Informer:
    """The Certificate informer every Certificate controller shares, indexed :data:`BY_SECRET_NAME`.

    Args:
        client: the API client to list and watch through.
        namespace: watch one namespace only; ``None`` watches all.
        sleep: how the informer waits between retries.
    """
    return Informer(
        client,
        CERTIFICATES,
        namespace=namespace,
        indexers={BY_SECRET_NAME: certificates_by_secret_name},
        sleep=sleep,
    )


def parse_certificate(obj: JSONObject | None) -> Certificate | None:
    """The cached Certificate as a model; ``None`` if absent, deleting or unparsable.

    Validation builds new containers, so the model shares nothing mutable with the cache but
    read-only managedFields values; no deep copy first (it cost more than the parse).
    """
    if obj is None or (obj.get("metadata") or {}).get("deletionTimestamp"):
        return None
    try:
        return Certificate.from_dict(obj)
    except pydantic.ValidationError as err:
        log.warning("certificate %s: cannot parse: %s", ObjectKey.of(obj), err)
        return None


def controller_uid(obj: JSONObject) -> str | None:
    """The uid of ``obj``'s controlling owner reference, if any."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller") and ref.get("uid"):
            return str(ref["uid"])
    return None


def owner_reference(cert: Certificate) -> JSONObject:
    """A controller owner reference to ``cert`` (for requests and key Secrets)."""
    return {
        "apiVersion": Certificate.API_VERSION,
        "kind": Certificate.KIND,
        "name": cert.name,
        "uid": cert.metadata.uid or "",
        "controller": True,
        "blockOwnerDeletion": True,
    }


def request_revision(request: CertificateRequest) -> int | None:
    """The request's revision annotation as a positive integer, or ``None``."""
    raw = request.annotations.get(REVISION_ANNOTATION)
    try:
        value = int(raw) if raw is not None else None
    except ValueError:
        return None
    return value if value is not None and value > 0 else None


def next_revision(cert: Certificate) -> int:
    """The revision the next issuance gets: ``status.revision + 1``, or 1."""
    current = cert.status.revision if cert.status is not None else None
    return (current or 0) + 1


def owned_requests(requests: Informer, cert: Certificate) -> list[CertificateRequest]:
    """The CertificateRequests ``cert`` controls, parsed (unparsable ones are skipped)."""
    uid = cert.metadata.uid
    found: list[CertificateRequest] = []
    if not uid:
        return found
    for obj in _controlled_by(requests, cert.namespace, uid):
        try:
            found.append(CertificateRequest.from_dict(obj))  # no copy: see parse_certificate
        except pydantic.ValidationError:
            log.warning("certificaterequest %s: cannot parse; ignored", ObjectKey.of(obj))
    return found


def requests_of_revision(
    requests: list[CertificateRequest], revision: int
) -> list[CertificateRequest]:
    """Those of ``requests`` annotated with ``revision``."""
    return [r for r in requests if request_revision(r) == revision]


def next_key_secrets(secrets: Informer, cert: Certificate) -> list[JSONObject]:
    """The cached (metadata-only) next-private-key Secrets ``cert`` controls."""
    uid = cert.metadata.uid
    if not uid:
        return []
    return [
        obj
        for obj in _controlled_by(secrets, cert.namespace, uid)
        if ((obj.get("metadata") or {}).get("labels") or {}).get(NEXT_PRIVATE_KEY_LABEL) == "true"
    ]


#: How many recently read Secrets :class:`SecretReader` keeps (a few KiB each).
SECRET_READS_KEPT: Final = 1024


@dataclass(frozen=True)
class _Read:
    """One GET's answer: the Secret (``None``: it did not exist), for a read as of ``as_of``."""

    version: str | None
    obj: JSONObject | None
    as_of: int | None


class SecretReader:
    """Reads Secrets with their data: a GET, or an earlier read known to be current enough."""

    def __init__(
        self, client: KubeClient, secrets: Informer | None, *, size: int = SECRET_READS_KEPT
    ) -> None:
        """Read through ``client``; ``secrets`` (metadata-only) tells which reads are current.

        With ``size`` 0 every read is a GET.
        """
        self._client = client
        self._secrets = secrets
        self._size = size
        self._recent: OrderedDict[tuple[str, str], _Read] = OrderedDict()
        self._pending: dict[
            tuple[str, str], tuple[int | None, asyncio.Future[JSONObject | None]]
        ] = {}
        self.gets = 0  # GETs sent; for tests and the benchmark

    async def get(self, namespace: str, name: str, *, as_of: str | None = None) -> Secret | None:
        """The Secret, or ``None`` when it does not exist.

        Args:
            namespace: the Secret's namespace.
            name: its name.
            as_of: a resourceVersion (the Certificate's): the answer may be any state of the
                Secret not older than that revision. ``None`` always GETs (for data written
                back into the cluster).

        Raises:
            certsmith.client.errors.ApiError: any failure other than 404 (retried by the caller).
        """
        key = (namespace, name)
        want = _revision(as_of)
        if want is not None:
            known, secret = self._known(key, want)
            if known:
                return secret
            pending = self._pending.get(key)
            if pending is not None and pending[0] is not None and pending[0] >= want:
                # A GET for a revision at least as new is under way (another controller of
                # the same Certificate): its answer will do. shield: our cancellation must
                # not cancel it for the others.
                obj = await asyncio.shield(pending[1])
                return Secret.from_dict(obj) if obj is not None else None
        fetch = asyncio.ensure_future(self._fetch(key, want))
        self._pending[key] = (want, fetch)
        fetch.add_done_callback(lambda done: self._settled(key, done))
        obj = await asyncio.shield(fetch)
        return Secret.from_dict(obj) if obj is not None else None

    async def _fetch(self, key: tuple[str, str], want: int | None) -> JSONObject | None:
        self.gets += 1
        try:
            obj: JSONObject | None = await self._client.get(SECRETS, *key)
        except NotFound:
            obj = None
        version = ((obj or {}).get("metadata") or {}).get("resourceVersion")
        if self._size > 0:
            self._recent[key] = _Read(str(version) if version else None, obj, want)
            self._recent.move_to_end(key)
            while len(self._recent) > self._size:
                self._recent.popitem(last=False)
        return obj

    def _settled(self, key: tuple[str, str], done: asyncio.Future[JSONObject | None]) -> None:
        if self._pending.get(key, (None, None))[1] is done:
            del self._pending[key]
        if not done.cancelled():
            done.exception()  # retrieved here: a failure nobody else awaited is not reported

    def _known(self, key: tuple[str, str], want: int) -> tuple[bool, Secret | None]:
        """``(True, the Secret)`` when no GET is needed for a state not older than ``want``."""
        informer = self._secrets
        shown = informer.cache.get(*key) if informer is not None else None
        shown_version = ((shown or {}).get("metadata") or {}).get("resourceVersion")
        recent = self._recent.get(key)
        if informer is not None and _caught_up(informer, key[0], want):
            # The informer has seen every revision up to ``want``: its view is recent enough.
            if shown is None:
                return True, None
            if recent is None or recent.obj is None or recent.version != shown_version:
                return False, None
        elif recent is not None and recent.as_of is not None and recent.as_of >= want:
            # Read for a revision at least as new, so after every write ``want`` was built on.
            # It stands unless the informer has since seen a newer state of the Secret (one
            # older than the read is just the informer lagging behind).
            read_at = _revision(recent.version) if recent.obj is not None else recent.as_of
            shown_at = _revision(shown_version)
            if shown is not None and (read_at is None or shown_at is None or shown_at > read_at):
                return False, None
        else:
            return False, None
        self._recent.move_to_end(key)
        return True, Secret.from_dict(recent.obj) if recent.obj is not None else None


def _resource_version(obj: JSONObject) -> str | None:
    version = (obj.get("metadata") or {}).get("resourceVersion")
    return str(version) if version is not None else None


def _revision(resource_version: str | None) -> int | None:
    """A resourceVersion as a revision number; ``None`` if absent or not an integer."""
    try:
        return int(resource_version) if resource_version else None
    except ValueError:  # another API server's opaque versions: no ordering to rely on
        return None


def _caught_up(informer: Informer, namespace: str, want: int) -> bool:
    """Whether ``informer`` has seen every Secret of ``namespace`` up to revision ``want``."""
    if not informer.has_synced or informer.label_selector or informer.field_selector:
        return False  # a Secret missing from a selective cache may still exist
    if informer.namespace not in (None, namespace):
        return False
    seen = _revision(informer.resource_version)
    return seen is not None and seen >= want


async def get_secret(client: KubeClient, namespace: str, name: str) -> Secret | None:
    """GET a Secret with its data; ``None`` when it does not exist.

    Raises:
        certsmith.client.errors.ApiError: any failure other than 404 (retried by the caller).
    """
    try:
        obj = await client.get(SECRETS, namespace, name)
    except NotFound:
        return None
    return Secret.from_dict(obj)


async def write_status(
    client: KubeClient,
    obj: JSONObject,
    original: Certificate,
    cert: Certificate,
    *,
    certificates: Informer | None = None,
) -> None:
    """Write ``cert.status`` through ``/status`` if it differs from ``original.status``.

    The body is the cached object with the new status, so the write is conditional on the
    resourceVersion the decision was based on. ``cert``'s resourceVersion is updated, so Events
    recorded afterwards point at the version carrying the outcome. When ``certificates`` (the
    informer ``obj`` came from) already holds a newer version, the write would get a 409: it is
    not sent (the newer version's event has queued the Certificate again).

    Raises:
        RetryLater: the Certificate changed since it was read (a 409; retried).
        certsmith.client.errors.ApiError: any other failure.
    """
    before = original.status.to_dict() if original.status is not None else {}
    after = cert.status.to_dict() if cert.status is not None else {}
    if before == after:
        return
    if certificates is not None:
        latest = certificates.cache.get_key(ObjectKey.of(obj))
        if latest is not None and _resource_version(latest) != _resource_version(obj):
            raise RetryLater("the Certificate changed while reconciling")
    body = {**obj, "status": after}  # serialised, never mutated: a shallow copy will do
    try:
        stored = await client.replace_status(CERTIFICATES, cert.namespace, cert.name, body)
    except Conflict:
        # Six controllers write this status; losing a race is routine, not an error.
        raise RetryLater("the Certificate changed while reconciling") from None
    new_rv = (stored.get("metadata") or {}).get("resourceVersion")
    if new_rv:
        cert.metadata.resource_version = str(new_rv)


# -- cross-resource triggers (mappers for the informers' handlers) -------------------------------


def certificates_for_owned(certificates: Informer, obj: JSONObject) -> list[ObjectKey]:
    """The Certificate controlling a request or key Secret (matched by uid in the cache)."""
    uid = controller_uid(obj)
    namespace = (obj.get("metadata") or {}).get("namespace")
    if uid is None:
        return []
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("uid") == uid and ref.get("kind") == Certificate.KIND:
            cached = certificates.cache.get(namespace, str(ref.get("name") or ""))
            if cached is not None and (cached.get("metadata") or {}).get("uid") == uid:
                return [ObjectKey(namespace, str(ref["name"]))]
    return []


def certificates_for_secret(certificates: Informer, secret: JSONObject) -> list[ObjectKey]:
    """The Certificates writing this Secret, plus its controlling Certificate (key Secrets)."""
    meta = secret.get("metadata") or {}
    namespace = meta.get("namespace")
    name = meta.get("name")
    keys = (
        {ObjectKey.of(obj) for obj in certificates_writing(certificates, namespace, name)}
        if isinstance(name, str) and name
        else set()
    )
    keys.update(certificates_for_owned(certificates, secret))
    return sorted(keys)


__all__ = [
    "BY_SECRET_NAME",
    "CERTIFICATE_NAME_ANNOTATION",
    "FAO_LABEL",
    "FIELD_MANAGER",
    "ISSUE_TEMPORARY_ANNOTATION",
    "NEXT_PRIVATE_KEY_LABEL",
    "PRIVATE_KEY_SECRET_ANNOTATION",
    "REVISION_ANNOTATION",
    "SECRET_READS_KEPT",
    "SecretReader",
    "certificate_informer",
    "certificates_by_secret_name",
    "certificates_for_owned",
    "certificates_for_secret",
    "certificates_writing",
    "controller_uid",
    "gather",
    "get_secret",
    "next_key_secrets",
    "next_revision",
    "owned_requests",
    "owner_reference",
    "parse_certificate",
    "request_revision",
    "requests_of_revision",
    "secret_name_index_value",
    "write_status",
]


async def gather(
    secrets: SecretReader,
    requests: Informer,
    cert: Certificate,
    now: dt.datetime,
    *,
    fresh: bool = True,
) -> PolicyInput:
    """The policy chains' input: the Secret (with data), current and next request.

    ``fresh=False`` reads the Secret as of ``cert``'s resourceVersion (decisions only; see
    :class:`SecretReader`); otherwise it is a GET.

    Raises:
        RetryLater: more than one owned request claims the current or the next revision.
        certsmith.client.errors.ApiError: reading the Secret failed.
    """
    as_of = None if fresh else cert.metadata.resource_version
    secret = await secrets.get(cert.namespace, cert.spec.secret_name, as_of=as_of)
    owned = owned_requests(requests, cert)
    revision = cert.status.revision if cert.status is not None else None
    current = requests_of_revision(owned, revision) if revision else []
    upcoming = requests_of_revision(owned, next_revision(cert))
    if len(current) > 1 or len(upcoming) > 1:
        raise RetryLater("more than one CertificateRequest for the same revision")
    return PolicyInput(
        certificate=cert,
        secret=secret,
        current_request=current[0] if current else None,
        next_request=upcoming[0] if upcoming else None,
        now=now,
        field_manager=FIELD_MANAGER,
    )
