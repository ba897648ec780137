"""The :class:`~certsmith.issuers.base.IssuerContext` the controllers hand to issuers.

What this module decides: Secrets are read with a GET through the client at the moment an issuer
needs one, not from an informer cache. The controllers watch Secrets only as metadata (to learn
*that* a Secret changed), because caching every Secret's data in the cluster would keep every
private key in this process's memory. A GET per check or signature is cheap next to the
signature itself.
"""

from __future__ import annotations

from certsmith.api.certmanager import AnyIssuer, ClusterIssuer
from certsmith.api.core import Secret
from certsmith.client.errors import NotFound
from certsmith.client.protocol import KubeClient
from certsmith.client.resources import SECRETS
from certsmith.util.clock import Clock


class ControllerIssuerContext:
    """Secrets by GET, the controllers' clock, and the cluster resource namespace (SPEC §0.3)."""

    def __init__(
        self, client: KubeClient, *, clock: Clock, cluster_resource_namespace: str
    ) -> None:
        """Create a context reading through ``client``.

        Args:
            client: the API client Secrets are read with.
            clock: the time issued certificates start from.
            cluster_resource_namespace: where ClusterIssuers' Secrets live.
        """
        self._client = client
        self._clock = clock
        self.cluster_resource_namespace = cluster_resource_namespace

    @property
    def clock(self) -> Clock:
        """The clock every issued certificate's NotBefore comes from."""
        return self._clock

    def resource_namespace(self, issuer: AnyIssuer) -> str:
        """An Issuer's own namespace, or the cluster resource namespace for a ClusterIssuer."""
        if isinstance(issuer, ClusterIssuer):
            return self.cluster_resource_namespace
        return issuer.namespace

    async def get_secret(self, namespace: str, name: str) -> Secret | None:
        """Read a Secret; ``None`` when it does not exist.

        Raises:
            certsmith.client.errors.ClientError: any other failure (the caller retries).
            pydantic.ValidationError: the server returned something that is not a Secret.
        """
        # TODO(perf): a parsed-key cache keyed by the Secret's uid + resourceVersion belongs
        # here, so a busy CA issuer does not re-parse its key for every request.
        try:
            data = await self._client.get(SECRETS, namespace, name)
        except NotFound:
            return None
        return Secret.from_dict(data)
