"""The provider seam: what every DNS-01 provider implements, and what it is given.

A provider only writes and removes one TXT record. Choosing the record name (CNAME
following), finding the zone and checking propagation happen before it is called, in
:mod:`certsmith.acme.dns01.solver`, so every provider gets the same, already resolved request
(cert-manager's webhook ``ChallengeRequest``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from certsmith.acme.dns01.errors import DNS01ConfigError
from certsmith.api.core import Secret
from certsmith.api.meta import JSON, SecretKeySelector
from certsmith.util.sensitive import Sensitive

__all__ = [
    "ChallengeAction",
    "ChallengeRequest",
    "DNS01Provider",
    "SecretGetter",
    "read_secret_key",
]

ChallengeAction = Literal["present", "cleanup"]

SecretGetter = Callable[[str, str], Awaitable[Secret | None]]
"""``await get_secret(namespace, name)``: the Secret, or ``None`` when it does not exist.

Any exception it raises is a transient read failure (the caller retries). The controllers'
``IssuerContext.get_secret`` has exactly this shape.
"""


@dataclass(frozen=True)
class ChallengeRequest:
    """One present or cleanup, shaped like cert-manager's webhook ``ChallengeRequest``.

    ``resolved_fqdn`` is ``_acme-challenge.<dnsName>.`` after CNAME following (absolute, with
    the trailing dot); ``resolved_zone`` is the zone holding it (SOA lookup), also absolute.
    ``key`` is the TXT value. ``config`` is the provider's raw configuration (the solver's
    ``rfc2136`` or ``webhook.config`` object).
    """

    uid: str
    action: ChallengeAction
    dns_name: str
    key: str
    resource_namespace: str
    resolved_fqdn: str
    resolved_zone: str
    config: JSON = None
    allow_ambient_credentials: bool = False
    type: str = field(default="dns-01")


class DNS01Provider(Protocol):
    """Writes (present) and removes (cleanup) the TXT record ``resolved_fqdn`` = ``key``.

    Both are idempotent: presenting a record that is there, or cleaning up one that is gone,
    succeeds. Cleanup removes only this ``key``'s value, never other values at the name
    (another challenge for the same name, e.g. ``example.com`` and ``*.example.com``).
    """

    async def present(self, request: ChallengeRequest) -> None:
        """Create the record.

        Raises:
            certsmith.acme.dns01.errors.DNS01Error: it could not be written; the message is
                the Challenge's reason.
        """
        ...

    async def cleanup(self, request: ChallengeRequest) -> None:
        """Remove the record's value.

        Raises:
            certsmith.acme.dns01.errors.DNS01Error: it could not be removed.
        """
        ...


async def read_secret_key(
    get_secret: SecretGetter, namespace: str, ref: SecretKeySelector
) -> Sensitive[bytes]:
    """The bytes under ``ref.key`` of Secret ``ref.name`` in ``namespace``.

    The texts are those of cert-manager's ``InvalidSolver`` readiness reason (SPEC §6.1).

    Raises:
        DNS01ConfigError: ``failed to get secret "<n>": secrets "<n>" not found`` or
            ``the secret "<n>" does not have key "<k>"``.
    """
    secret = await get_secret(namespace, ref.name)
    if secret is None:
        raise DNS01ConfigError(f'failed to get secret "{ref.name}": secrets "{ref.name}" not found')
    value = secret.decoded(ref.key or "")
    if value is None:
        raise DNS01ConfigError(f'the secret "{ref.name}" does not have key "{ref.key or ""}"')
    return Sensitive(value)
