"""Which API resources the controllers use, and how their URLs are built.

A resource is named by group, version and plural, exactly as the REST path spells it, so the
client needs no discovery round trip: cert-manager's resources and the handful of core ones the
controllers touch are fixed, and a wrong name fails loudly with a 404 instead of being guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class ResourceRef:
    """One REST resource: ``/apis/<group>/<version>/[namespaces/<ns>/]<plural>``.

    The core group is the empty string and lives under ``/api/v1``.
    """

    group: str
    version: str
    plural: str
    namespaced: bool

    def __post_init__(self) -> None:
        if not self.version or not self.plural:
            raise ValueError("ResourceRef needs a version and a plural")
        if "/" in self.plural or "/" in self.group:
            raise ValueError(f"ResourceRef parts must not contain '/': {self.group}/{self.plural}")

    @property
    def api_version(self) -> str:
        """The ``apiVersion`` of objects of this resource (``v1`` or ``group/version``)."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified_name(self) -> str:
        """``plural.group`` as Kubernetes prints it in messages (``secrets`` for core)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(
        self,
        namespace: str | None = None,
        name: str | None = None,
        subresource: str | None = None,
    ) -> str:
        """The URL path of the collection, or of one object (and its subresource).

        Args:
            namespace: the namespace, for namespaced resources; ``None`` lists across all
                namespaces (collection paths only).
            name: the object name, or ``None`` for the collection.
            subresource: e.g. ``"status"``; needs a name.

        Raises:
            ValueError: a namespace for a cluster-scoped resource, a named namespaced object
                without a namespace, or a subresource without a name.
        """
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if namespace is not None and not self.namespaced:
            raise ValueError(
                f"{self.qualified_name} is cluster-scoped; got namespace {namespace!r}"
            )
        if self.namespaced and name is not None and not namespace:
            raise ValueError(f"{self.qualified_name} is namespaced; a namespace is required")
        if subresource is not None and name is None:
            raise ValueError("a subresource needs an object name")
        parts = [prefix]
        if namespace is not None:
            parts.append(f"namespaces/{namespace}")
        parts.append(self.plural)
        if name is not None:
            if not name or "/" in name:
                raise ValueError(f"invalid object name {name!r}")
            parts.append(name)
        if subresource is not None:
            parts.append(subresource)
        return "/".join(parts)


CERTIFICATE_REQUESTS: Final = ResourceRef("cert-manager.io", "v1", "certificaterequests", True)
CERTIFICATES: Final = ResourceRef("cert-manager.io", "v1", "certificates", True)
ISSUERS: Final = ResourceRef("cert-manager.io", "v1", "issuers", True)
CLUSTER_ISSUERS: Final = ResourceRef("cert-manager.io", "v1", "clusterissuers", False)
ORDERS: Final = ResourceRef("acme.cert-manager.io", "v1", "orders", True)
CHALLENGES: Final = ResourceRef("acme.cert-manager.io", "v1", "challenges", True)
SECRETS: Final = ResourceRef("", "v1", "secrets", True)
EVENTS: Final = ResourceRef("", "v1", "events", True)
NAMESPACES: Final = ResourceRef("", "v1", "namespaces", False)
PODS: Final = ResourceRef("", "v1", "pods", True)
SERVICES: Final = ResourceRef("", "v1", "services", True)
LEASES: Final = ResourceRef("coordination.k8s.io", "v1", "leases", True)
INGRESSES: Final = ResourceRef("networking.k8s.io", "v1", "ingresses", True)
GATEWAYS: Final = ResourceRef("gateway.networking.k8s.io", "v1", "gateways", True)
HTTP_ROUTES: Final = ResourceRef("gateway.networking.k8s.io", "v1", "httproutes", True)
ISTIO_GATEWAYS: Final = ResourceRef("networking.istio.io", "v1", "gateways", True)
