"""The ACME issuer (``spec.acme``): account set-up in ``check``, one Order per request in ``sign``.

The ACME conversation itself (orders, authorizations, challenges, finalize) belongs to the Order
and Challenge controllers; they find the issuer's client in :attr:`AcmeIssuer.accounts`.
"""

from __future__ import annotations

from typing import ClassVar

from certsmith.api.certmanager import AnyIssuer, CertificateRequest
from certsmith.issuers.acme.accounts import AccountRegistry
from certsmith.issuers.acme.requests import sign
from certsmith.issuers.acme.setup import AccountSetup
from certsmith.issuers.base import Issued, IssuerContext, IssuerReady

__all__ = ["AcmeIssuer"]


class AcmeIssuer:
    """Registers ACME accounts and turns CertificateRequests into Orders."""

    spec_key: ClassVar[str] = "acme"

    def __init__(self, accounts: AccountRegistry | None = None) -> None:
        """Keep verified clients in ``accounts`` (a fresh registry by default)."""
        self.accounts = accounts or AccountRegistry()
        self._setup = AccountSetup(self.accounts)

    async def check(self, issuer: AnyIssuer, ctx: IssuerContext) -> IssuerReady:
        """Register or verify the account; see :mod:`certsmith.issuers.acme.setup`."""
        return await self._setup.check(issuer, ctx)

    async def sign(
        self, request: CertificateRequest, issuer: AnyIssuer, ctx: IssuerContext
    ) -> Issued:
        """Create or follow the request's Order; see :mod:`certsmith.issuers.acme.requests`."""
        return await sign(request, issuer, ctx)
