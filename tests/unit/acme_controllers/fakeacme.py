"""A scripted stand-in for :class:`certsmith.acme.client.AcmeClient` (the edge of the ACME tests).

It answers from plain attributes the test sets (``order``, ``authorizations``, ``chain_pem``)
and records every call, so a test of one controller step states what the server says and checks
what the step did with it. Errors are queued per method with :meth:`FakeAcme.fail`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from certsmith.acme.models import (
    Account,
    Authorization,
    CertificateChain,
    Challenge,
    Identifier,
    Order,
    RenewalInfo,
)
from certsmith.acme.problems import AcmeProblem, Problem

SERVER = "https://ca.test"
ORDER_URL = f"{SERVER}/order/1"
AUTHZ_URL = f"{SERVER}/authz/1"
CHALLENGE_URL = f"{SERVER}/chal/1"


def problem(status: int, type_: str, detail: str, retry_after: float | None = None) -> AcmeProblem:
    """An ACME problem answer, as the client raises it."""
    urn = f"urn:ietf:params:acme:error:{type_}"
    return AcmeProblem(Problem(urn, detail, status), retry_after=retry_after)


def acme_order(status: str = "pending", **changes: Any) -> Order:
    """An order at :data:`ORDER_URL` with one authorization."""
    order = Order(
        url=ORDER_URL,
        status=status,
        identifiers=(Identifier.dns("example.com"),),
        authorizations=(AUTHZ_URL,),
        finalize=f"{ORDER_URL}/finalize",
    )
    return dataclasses.replace(order, **changes)


def authorization(status: str = "pending", **changes: Any) -> Authorization:
    """A pending authorization for example.com offering HTTP-01 and DNS-01."""
    authz = Authorization(
        url=AUTHZ_URL,
        identifier=Identifier.dns("example.com"),
        status=status,
        challenges=(
            Challenge(url=CHALLENGE_URL, type="http-01", token="tok", status="pending"),
            Challenge(url=f"{SERVER}/chal/2", type="dns-01", token="dtok", status="pending"),
        ),
    )
    return dataclasses.replace(authz, **changes)


class FakeAcme:
    """What the server answers, and what was asked."""

    def __init__(self) -> None:
        self.account = Account(url=f"{SERVER}/acct/1", status="valid", contact=())
        self.order = acme_order()
        self.authorizations: dict[str, Authorization] = {AUTHZ_URL: authorization()}
        self.challenge_status = "pending"
        self.chain_pem = ""
        self.after_finalize: Order | None = None
        self.renewal_info: RenewalInfo | None = None
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self._failures: dict[str, list[BaseException]] = {}

    def fail(self, method: str, error: BaseException) -> None:
        """Make the next call of ``method`` raise ``error``."""
        self._failures.setdefault(method, []).append(error)

    def called(self, method: str) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
        """The arguments of every call of ``method``."""
        return [(args, kwargs) for name, args, kwargs in self.calls if name == method]

    def _enter(self, method: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append((method, args, kwargs))
        failures = self._failures.get(method)
        if failures:
            raise failures.pop(0)

    # -- the client's surface ----------------------------------------------------------------

    def key_authorization(self, token: str) -> str:
        return f"{token}.thumbprint"

    def dns01_txt_value(self, token: str) -> str:
        return f"txt-{token}"

    async def aclose(self) -> None:
        self._enter("aclose")

    async def register_account(self, email: str | None = None, **kwargs: Any) -> Account:
        self._enter("register_account", email, **kwargs)
        return self.account

    async def update_account(self, email: str | None) -> Account:
        self._enter("update_account", email)
        contact = (f"mailto:{email}",) if email else ()
        self.account = dataclasses.replace(self.account, contact=contact)
        return self.account

    async def new_order(self, identifiers: Sequence[Identifier], **kwargs: Any) -> Order:
        self._enter("new_order", tuple(identifiers), **kwargs)
        return self.order

    async def get_order(self, url: str) -> Order:
        self._enter("get_order", url)
        return self.order

    async def wait_order(self, url: str, **kwargs: Any) -> Order:
        self._enter("wait_order", url, **kwargs)
        return self.order

    async def finalize_order(self, order: Order, csr_der: bytes) -> Order:
        self._enter("finalize_order", order.url, csr_der)
        if self.after_finalize is not None:
            self.order = self.after_finalize
        return self.order

    async def get_authorization(self, url: str) -> Authorization:
        self._enter("get_authorization", url)
        return self.authorizations[url]

    async def wait_authorization(self, url: str, **kwargs: Any) -> Authorization:
        self._enter("wait_authorization", url, **kwargs)
        return self.authorizations[url]

    async def get_challenge(self, url: str) -> Challenge:
        self._enter("get_challenge", url)
        return Challenge(url=url, type="http-01", token="tok", status=self.challenge_status)

    async def accept_challenge(self, challenge: Any) -> Challenge:
        self._enter("accept_challenge", challenge)
        return Challenge(url=str(challenge), type="http-01", token="tok", status="processing")

    async def fetch_certificate(self, url: str, **kwargs: Any) -> CertificateChain:
        self._enter("fetch_certificate", url, **kwargs)
        return CertificateChain(url=url, pem=self.chain_pem)

    async def get_renewal_info(self, certificate: Any) -> RenewalInfo | None:
        self._enter("get_renewal_info", certificate)
        return self.renewal_info
