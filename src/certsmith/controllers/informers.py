"""The informers the issuer and CertificateRequest controllers share, and their indexes.

What this module decides:

* One informer per resource for the whole manager (the manager starts each once), so a
  CertificateRequest is cached once however many controllers look at it.
* Secrets are cached as metadata only (``metadata_only``): the controllers need to know
  *that* a referenced Secret changed, never its data, which
  issuers read with a GET when they need it (see :mod:`certsmith.controllers.issuercontext`).
* Indexes answer the cross-resource questions without scans: which requests use issuer X, which
  requests name key Secret S (SelfSigned), which issuers use Secret S.
* With a ``namespace`` (``certsmith controller --namespace``, cert-manager's namespaced mode)
  every informer lists and watches that namespace only, and ClusterIssuers are not watched at
  all: a namespace-scoped identity may not be allowed to read them, and cert-manager does not
  start its ClusterIssuer informer in that mode either. :attr:`SharedInformers.issuer_informers`
  is what callers iterate over so they need not know which mode they run in.
"""

from __future__ import annotations

import asyncio
from typing import Final

from certsmith.client.protocol import KubeClient
from certsmith.client.resources import (
    CERTIFICATE_REQUESTS,
    CHALLENGES,
    CLUSTER_ISSUERS,
    ISSUERS,
    ORDERS,
    SECRETS,
    ResourceRef,
)
from certsmith.controllers.runtime.cache import (
    CONTROLLER_UID_INDEX,
    Indexer,
    JSONObject,
    by_controller_uid,
)
from certsmith.controllers.runtime.informer import Informer, metadata_only
from certsmith.controllers.runtime.workqueue import Sleeper

#: CertificateRequests by issuer: ``Issuer/<ns>/<name>`` or ``ClusterIssuer/<name>``.
BY_ISSUER: Final = "issuer"
#: CertificateRequests by their SelfSigned key Secret: ``<ns>/<name>``.
BY_KEY_SECRET: Final = "key-secret"  # noqa: S105 - an index name
#: Issuers and ClusterIssuers by the Secret they read: ``<ns>/<name>``.
BY_SECRET: Final = "secret"  # noqa: S105 - an index name

CERT_MANAGER_GROUPS: Final = frozenset({"", "cert-manager.io"})
PRIVATE_KEY_SECRET_ANNOTATION: Final = "cert-manager.io/private-key-secret-name"  # noqa: S105


def issuer_index_value(kind: str, namespace: str | None, name: str) -> str:
    """The :data:`BY_ISSUER` value of an issuer: kind ``""`` means ``Issuer`` (SPEC §0.1)."""
    kind = kind or "Issuer"
    if kind == "Issuer":
        return f"Issuer/{namespace or ''}/{name}"
    return f"{kind}/{name}"


def requests_by_issuer(obj: JSONObject) -> list[str]:
    """Indexer: the issuer a request references, for cert-manager's own groups only."""
    ref = (obj.get("spec") or {}).get("issuerRef") or {}
    name = ref.get("name")
    if not name or (ref.get("group") or "") not in CERT_MANAGER_GROUPS:
        return []
    namespace = (obj.get("metadata") or {}).get("namespace")
    return [issuer_index_value(str(ref.get("kind") or ""), namespace, str(name))]


def requests_by_key_secret(obj: JSONObject) -> list[str]:
    """Indexer: the Secret named by ``cert-manager.io/private-key-secret-name``."""
    meta = obj.get("metadata") or {}
    secret = (meta.get("annotations") or {}).get(PRIVATE_KEY_SECRET_ANNOTATION)
    return [f"{meta.get('namespace') or ''}/{secret}"] if secret else []


def issuer_secret_names(obj: JSONObject) -> list[str]:
    """The Secrets an issuer reads.

    The CA Secret; the ACME account key, EAB key and DNS-01 credential Secrets (every
    ``*SecretRef`` under a solver's ``dns01``).
    """
    spec = obj.get("spec") or {}
    names: list[str] = []
    ca = (spec.get("ca") or {}).get("secretName")
    if ca:
        names.append(str(ca))
    acme = spec.get("acme") or {}
    for ref in (
        acme.get("privateKeySecretRef"),
        (acme.get("externalAccountBinding") or {}).get("keySecretRef"),
    ):
        if isinstance(ref, dict) and ref.get("name"):
            names.append(str(ref["name"]))
    for solver in acme.get("solvers") or []:
        names.extend(_secret_ref_names((solver or {}).get("dns01")))
    return sorted(set(names))


def _secret_ref_names(data: object) -> list[str]:
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if key.endswith("SecretRef") and isinstance(value, dict) and value.get("name"):
                found.append(str(value["name"]))
            else:
                found.extend(_secret_ref_names(value))
    return found


def issuers_by_secret(obj: JSONObject) -> list[str]:
    """Indexer for Issuers: the Secrets it reads, in the issuer's own namespace."""
    namespace = (obj.get("metadata") or {}).get("namespace") or ""
    return [f"{namespace}/{name}" for name in issuer_secret_names(obj)]


def cluster_issuers_by_secret(cluster_resource_namespace: str) -> Indexer:
    """Indexer for ClusterIssuers: their Secrets, which live in the cluster resource namespace."""

    def index(obj: JSONObject) -> list[str]:
        return [f"{cluster_resource_namespace}/{name}" for name in issuer_secret_names(obj)]

    return index


class ClusterScopeDisabledError(RuntimeError):
    """A cluster-scoped informer was asked for while the controllers watch one namespace."""


class SharedInformers:
    """The informers, created on first use so unused resources are not watched."""

    def __init__(
        self,
        client: KubeClient,
        *,
        cluster_resource_namespace: str,
        namespace: str | None = None,
        sleep: Sleeper = asyncio.sleep,
    ) -> None:
        """Prepare informers over ``client``; nothing runs until the manager starts them.

        Args:
            client: the API client the informers list and watch through.
            cluster_resource_namespace: where ClusterIssuers' Secrets live (SPEC §0.3).
            namespace: watch only this namespace (and no ClusterIssuers); ``None`` watches all.
            sleep: how the informers wait between retries.
        """
        self._client = client
        self._crns = cluster_resource_namespace
        self.namespace = namespace
        self._sleep = sleep
        self._requests: Informer | None = None
        self._issuers: Informer | None = None
        self._cluster_issuers: Informer | None = None
        self._secrets: Informer | None = None
        self._orders: Informer | None = None
        self._challenges: Informer | None = None
        self._plain: dict[ResourceRef, Informer] = {}

    @property
    def requests(self) -> Informer:
        """CertificateRequests, indexed :data:`BY_ISSUER`, :data:`BY_KEY_SECRET` and by controller.

        The controller index (:data:`~certsmith.controllers.runtime.cache.CONTROLLER_UID_INDEX`)
        answers "which requests does this Certificate own" without scanning the namespace.
        """
        if self._requests is None:
            self._requests = Informer(
                self._client,
                CERTIFICATE_REQUESTS,
                namespace=self.namespace,
                indexers={
                    BY_ISSUER: requests_by_issuer,
                    BY_KEY_SECRET: requests_by_key_secret,
                    CONTROLLER_UID_INDEX: by_controller_uid,
                },
                sleep=self._sleep,
            )
        return self._requests

    @property
    def issuers(self) -> Informer:
        """Issuers, indexed :data:`BY_SECRET`."""
        if self._issuers is None:
            self._issuers = Informer(
                self._client,
                ISSUERS,
                namespace=self.namespace,
                indexers={BY_SECRET: issuers_by_secret},
                sleep=self._sleep,
            )
        return self._issuers

    @property
    def cluster_scoped(self) -> bool:
        """Whether the informers watch every namespace (and ClusterIssuers)."""
        return self.namespace is None

    @property
    def issuer_informers(self) -> tuple[Informer, ...]:
        """The Issuer informer, and the ClusterIssuer one unless limited to a namespace."""
        if self.cluster_scoped:
            return (self.issuers, self.cluster_issuers)
        return (self.issuers,)

    @property
    def cluster_issuers(self) -> Informer:
        """ClusterIssuers, indexed :data:`BY_SECRET` (in the cluster resource namespace).

        Raises:
            ClusterScopeDisabledError: the informers are limited to one namespace.
        """
        if not self.cluster_scoped:
            raise ClusterScopeDisabledError(
                f"ClusterIssuers are not watched when limited to namespace {self.namespace!r}"
            )
        if self._cluster_issuers is None:
            self._cluster_issuers = Informer(
                self._client,
                CLUSTER_ISSUERS,
                indexers={BY_SECRET: cluster_issuers_by_secret(self._crns)},
                sleep=self._sleep,
            )
        return self._cluster_issuers

    @property
    def secrets(self) -> Informer:
        """Secrets, metadata only, indexed by controller uid (next-private-key Secrets)."""
        if self._secrets is None:
            self._secrets = Informer(
                self._client,
                SECRETS,
                namespace=self.namespace,
                transform=metadata_only,
                indexers={CONTROLLER_UID_INDEX: by_controller_uid},
                sleep=self._sleep,
            )
        return self._secrets

    @property
    def orders(self) -> Informer:
        """ACME Orders, indexed by controller uid (the CertificateRequest that owns each)."""
        if self._orders is None:
            self._orders = Informer(
                self._client,
                ORDERS,
                namespace=self.namespace,
                indexers={CONTROLLER_UID_INDEX: by_controller_uid},
                sleep=self._sleep,
            )
        return self._orders

    @property
    def challenges(self) -> Informer:
        """ACME Challenges, indexed by controller uid (the Order that owns each)."""
        if self._challenges is None:
            self._challenges = Informer(
                self._client,
                CHALLENGES,
                namespace=self.namespace,
                indexers={CONTROLLER_UID_INDEX: by_controller_uid},
                sleep=self._sleep,
            )
        return self._challenges

    def plain(self, resource: ResourceRef) -> Informer:
        """A shared informer without indexes for a namespaced resource the controllers only read.

        Ingresses and Gateways (the certificate shims' sources) are cached whole, in the
        informers' namespace, once however many controllers look at them.
        """
        informer = self._plain.get(resource)
        if informer is None:
            informer = Informer(self._client, resource, namespace=self.namespace, sleep=self._sleep)
            self._plain[resource] = informer
        return informer
