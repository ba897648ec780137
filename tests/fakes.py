"""Fakes for the edges only: an issuer context backed by a dict of Secrets and a fake clock.

In the running program the controllers provide the issuer context from their informer cache;
issuer unit tests need only the same three answers, so a plain class stands in for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from certsmith.api.certmanager import AnyIssuer, ClusterIssuer
from certsmith.api.core import Secret
from certsmith.util.clock import FakeClock


@dataclass
class StaticIssuerContext:
    """An ``IssuerContext`` over fixed Secrets; ``fail_reads`` makes every read raise."""

    secrets: dict[tuple[str, str], Secret] = field(default_factory=dict)
    fake_clock: FakeClock = field(default_factory=FakeClock)
    cluster_resource_namespace: str = "cert-manager"
    fail_reads: Exception | None = None

    @property
    def clock(self) -> FakeClock:
        return self.fake_clock

    def resource_namespace(self, issuer: AnyIssuer) -> str:
        if isinstance(issuer, ClusterIssuer):
            return self.cluster_resource_namespace
        return issuer.namespace

    async def get_secret(self, namespace: str, name: str) -> Secret | None:
        if self.fail_reads is not None:
            raise self.fail_reads
        return self.secrets.get((namespace, name))

    def add(self, secret: Secret) -> None:
        self.secrets[(secret.namespace, secret.name)] = secret
