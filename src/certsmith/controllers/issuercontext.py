"""The :class:`~certsmith.issuers.base.IssuerContext` the controllers hand to issuers.

What this module decides:

* Secrets are read with a GET through the client at the moment an issuer needs one, not from an
  informer cache. The controllers watch Secrets only as metadata (to learn *that* a Secret
  changed), because caching every Secret's data in the cluster would keep every private key in
  this process's memory. A GET per check or signature is cheap next to the signature itself.
* Parsed private keys ARE cached, in a small LRU (:data:`KEY_CACHE_SIZE` entries) keyed by the
  Secret's uid, resourceVersion and data key. Parsing an RSA-2048 key costs ~36 ms, more than
  signing with it, and a CA issuer signs every request with the same key. The key stays exact:
  any change to the Secret changes its resourceVersion and so the cache key, and the fresh GET
  before every use sees that change. Only keys this process recently signed with are held, never
  the cluster's Secrets at large; a Secret without uid or resourceVersion is not cached.
* Parsing runs in a worker thread so a cache miss does not stall the event loop, and concurrent
  misses for the same key share one parse.
* Nothing here logs a key or a Secret's data.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any, Final

from certsmith.api.certmanager import AnyIssuer, ClusterIssuer
from certsmith.api.core import Secret
from certsmith.client.errors import NotFound
from certsmith.client.protocol import KubeClient
from certsmith.client.resources import SECRETS, ResourceRef
from certsmith.pki.keys import PrivateKey, parse_private_key_pem
from certsmith.util.clock import Clock

KEY_CACHE_SIZE: Final = 64
"""Enough for every CA issuer of a busy cluster; SelfSigned keys pass through and age out."""

_CacheKey = tuple[str, str, str]  # (Secret uid, resourceVersion, data key)


class ControllerIssuerContext:
    """Secrets by GET, cached parsed keys, the clock and the cluster resource namespace."""

    def __init__(
        self,
        client: KubeClient,
        *,
        clock: Clock,
        cluster_resource_namespace: str,
        key_cache_size: int = KEY_CACHE_SIZE,
    ) -> None:
        """Create a context reading through ``client``.

        Args:
            client: the API client Secrets are read with.
            clock: the time issued certificates start from.
            cluster_resource_namespace: where ClusterIssuers' Secrets live.
            key_cache_size: how many parsed private keys to keep (0 disables the cache).

        Raises:
            ValueError: ``key_cache_size`` is negative.
        """
        if key_cache_size < 0:
            raise ValueError(f"key_cache_size must be >= 0, got {key_cache_size}")
        self._client = client
        self._clock = clock
        self.cluster_resource_namespace = cluster_resource_namespace
        self._key_cache_size = key_cache_size
        self._keys: OrderedDict[_CacheKey, PrivateKey] = OrderedDict()
        self._parsing: dict[_CacheKey, asyncio.Future[PrivateKey]] = {}
        self.key_parses = 0
        """How many keys were actually parsed (cache misses); for tests and benchmarks."""

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
        try:
            data = await self._client.get(SECRETS, namespace, name)
        except NotFound:
            return None
        return Secret.from_dict(data)

    async def private_key(self, secret: Secret, key: str = "tls.key") -> PrivateKey | None:
        """The parsed private key in ``secret``'s ``key`` entry; ``None`` when it is empty.

        Raises:
            certsmith.pki.keys.KeyDecodeError: the entry holds no usable private key. Failures
                are not cached: the next call parses again.
        """
        pem = secret.decoded(key)
        if not pem:
            return None
        uid, version = secret.metadata.uid, secret.metadata.resource_version
        if not uid or not version or self._key_cache_size == 0:
            return await self._parse(pem)
        cache_key = (uid, version, key)
        cached = self._keys.get(cache_key)
        if cached is not None:
            self._keys.move_to_end(cache_key)
            return cached
        pending = self._parsing.get(cache_key)
        if pending is None:
            pending = asyncio.ensure_future(self._parse(pem))
            self._parsing[cache_key] = pending
            pending.add_done_callback(lambda done: self._forget(cache_key, done))
        # shield: one caller being cancelled must not cancel the parse the others wait for.
        parsed = await asyncio.shield(pending)
        self._keys[cache_key] = parsed
        self._keys.move_to_end(cache_key)
        while len(self._keys) > self._key_cache_size:
            self._keys.popitem(last=False)
        return parsed

    async def create_secret(self, secret: Secret) -> Secret:
        """Create ``secret``; see :meth:`certsmith.issuers.base.IssuerContext.create_secret`."""
        body = secret.to_dict()
        stored = await self._client.create(SECRETS, secret.metadata.namespace, body)
        return Secret.from_dict(stored)

    async def get_object(
        self, resource: ResourceRef, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        """GET an object; ``None`` when it does not exist."""
        try:
            return await self._client.get(resource, namespace, name)
        except NotFound:
            return None

    async def create_object(
        self, resource: ResourceRef, namespace: str | None, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Create an object and return what the server stored."""
        return await self._client.create(resource, namespace, body)

    async def delete_object(self, resource: ResourceRef, namespace: str | None, name: str) -> None:
        """Delete an object (background propagation); an absent one is fine."""
        try:
            await self._client.delete(resource, namespace, name, propagation_policy="Background")
        except NotFound:
            return

    def _forget(self, cache_key: _CacheKey, done: asyncio.Future[PrivateKey]) -> None:
        self._parsing.pop(cache_key, None)
        if not done.cancelled():
            done.exception()  # retrieved here, so a failure nobody awaited is not reported

    async def _parse(self, pem: bytes) -> PrivateKey:
        self.key_parses += 1
        return await asyncio.to_thread(parse_private_key_pem, pem)
