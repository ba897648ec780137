"""The ACME clients of registered issuers, shared by the issuer and the Order/Challenge controllers.

cert-manager keeps one client per issuer UID in an "account registry": the issuer's check
registers (or verifies) the account and puts the client there, and the Order and Challenge
controllers take it from there by the UID of the issuer their object references. Without an
entry they wait ("ACME client for issuer not initialised/available") for the issuer check to
run. The same here, with one difference: an entry also remembers what it was built from
(server, CA bundle, TLS verification and the account key's hash), so a check that finds
nothing changed keeps the existing client and its connections and nonces.

Clients are created by :attr:`AccountRegistry.factory` (tests put a fake there) and reported
to :attr:`AccountRegistry.observer` (the metrics of ``certmanager_http_acme_client_request_count``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from certsmith.acme.client import AcmeClient, RequestObserver
from certsmith.acme.jws import AccountPrivateKey

log = logging.getLogger(__name__)

NOT_AVAILABLE: Final = "ACME client for issuer not initialised/available"


class ClientNotAvailableError(LookupError):
    """No client is registered for the issuer yet (its check has not succeeded)."""

    def __init__(self) -> None:
        super().__init__(NOT_AVAILABLE)


@dataclass(frozen=True)
class ClientSettings:
    """What a client is built from; a change means a new client."""

    server: str
    key_hash: str
    ca_bundle: bytes | None = None
    skip_tls_verify: bool = False
    account_url: str | None = None


ClientFactory = Callable[[ClientSettings, AccountPrivateKey, RequestObserver | None], AcmeClient]


def default_factory(
    settings: ClientSettings, key: AccountPrivateKey, observer: RequestObserver | None
) -> AcmeClient:
    """A real :class:`AcmeClient` for ``settings``."""
    return AcmeClient(
        settings.server,
        key,
        account_url=settings.account_url,
        ca_bundle=settings.ca_bundle,
        skip_tls_verify=settings.skip_tls_verify,
        observer=observer,
    )


@dataclass
class _Entry:
    settings: ClientSettings
    client: AcmeClient


class AccountRegistry:
    """Clients by issuer UID."""

    def __init__(
        self,
        *,
        factory: ClientFactory = default_factory,
        observer: RequestObserver | None = None,
    ) -> None:
        """An empty registry building clients with ``factory``, reporting to ``observer``."""
        self.factory = factory
        self.observer = observer
        self._entries: dict[str, _Entry] = {}

    def get(self, uid: str) -> AcmeClient:
        """The client of the issuer with ``uid``.

        Raises:
            ClientNotAvailableError: none is registered.
        """
        entry = self._entries.get(uid)
        if entry is None:
            raise ClientNotAvailableError()
        return entry.client

    def settings(self, uid: str) -> ClientSettings | None:
        """What the issuer's current client was built from, if there is one."""
        entry = self._entries.get(uid)
        return entry.settings if entry is not None else None

    def client_for(self, uid: str, settings: ClientSettings, key: AccountPrivateKey) -> AcmeClient:
        """The registered client if it was built from ``settings``; else a new, unregistered one.

        The account URL is not part of the comparison: a client learns it by registering.
        """
        entry = self._entries.get(uid)
        if entry is not None and _same(entry.settings, settings):
            return entry.client
        return self.factory(settings, key, self.observer)

    def put(self, uid: str, settings: ClientSettings, client: AcmeClient) -> None:
        """Register ``client`` for the issuer ``uid``, closing a replaced one."""
        old = self._entries.get(uid)
        self._entries[uid] = _Entry(settings, client)
        if old is not None and old.client is not client:
            _close_later(old.client)

    def remove(self, uid: str) -> None:
        """Forget the issuer's client (it stopped being usable, or the issuer is gone)."""
        old = self._entries.pop(uid, None)
        if old is not None:
            _close_later(old.client)

    def __contains__(self, uid: object) -> bool:
        return uid in self._entries

    async def aclose(self) -> None:
        """Close every client."""
        entries, self._entries = list(self._entries.values()), {}
        for entry in entries:
            await entry.client.aclose()


def _same(a: ClientSettings, b: ClientSettings) -> bool:
    return (a.server, a.key_hash, a.ca_bundle, a.skip_tls_verify) == (
        b.server,
        b.key_hash,
        b.ca_bundle,
        b.skip_tls_verify,
    )


_closing: set[asyncio.Task[None]] = set()


def _close_later(client: AcmeClient) -> None:
    """Close a replaced client's connections without blocking the caller."""
    try:
        task = asyncio.get_running_loop().create_task(client.aclose())
    except RuntimeError:  # no loop: nothing is open that a loop would have to close
        return
    _closing.add(task)
    task.add_done_callback(_closing.discard)
