"""SecretReader: the informer's view stands in for a GET only once it has caught up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from certsmith.client.resources import SECRETS
from certsmith.controllers.certificates.state import SecretReader
from certsmith.controllers.runtime.informer import Informer, metadata_only
from tests.fakes import FakeKubeClient


def _secret(name: str = "tls", value: str = "YQ==") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"namespace": "ns", "name": name},
        "data": {"tls.crt": value},
    }


class _Env:
    def __init__(self, size: int) -> None:
        self.client = FakeKubeClient()
        self.informer = Informer(self.client, SECRETS, transform=metadata_only)
        self.reader = SecretReader(self.client, self.informer, size=size)

    @property
    def now(self) -> str:
        """The store's current revision: what a Certificate written just now would carry."""
        return str(self.client.rv)

    async def caught_up(self) -> None:
        for _ in range(1000):
            if self.informer.resource_version == self.now:
                return
            await asyncio.sleep(0)
        raise AssertionError("the informer did not catch up")


@pytest.fixture
async def env() -> AsyncIterator[_Env]:
    built = _Env(size=8)
    built.client.seed(SECRETS, _secret())
    task = asyncio.create_task(built.informer.run())
    await built.informer.wait_synced()
    yield built
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_read_as_of_a_seen_revision_is_reused(env: _Env) -> None:
    await env.reader.get("ns", "tls", as_of=env.now)
    again = await env.reader.get("ns", "tls", as_of=env.now)
    assert env.reader.gets == 1
    assert again is not None
    assert again.decoded("tls.crt") == b"a"


async def test_read_as_of_a_revision_neither_informer_nor_reads_have_seen_gets(
    env: _Env,
) -> None:
    ahead = int(env.now) + 1
    await env.reader.get("ns", "tls", as_of=str(ahead))
    await env.reader.get("ns", "tls", as_of=str(ahead + 1))
    assert env.reader.gets == 2


async def test_read_made_for_a_newer_revision_serves_older_ones(env: _Env) -> None:
    ahead = int(env.now) + 5  # e.g. the Certificate's, past anything the informer saw yet
    await env.reader.get("ns", "tls", as_of=str(ahead))
    got = await env.reader.get("ns", "tls", as_of=str(ahead - 1))
    assert env.reader.gets == 1
    assert got is not None


async def test_read_for_a_newer_revision_is_dropped_once_the_informer_shows_a_change(
    env: _Env,
) -> None:
    ahead = int(env.now) + 5
    await env.reader.get("ns", "tls", as_of=str(ahead))
    await env.client.replace(SECRETS, "ns", "tls", _secret(value="Yg=="))
    await env.caught_up()
    got = await env.reader.get("ns", "tls", as_of=str(ahead))
    assert env.reader.gets == 2
    assert got is not None
    assert got.decoded("tls.crt") == b"b"


async def test_changed_secret_is_read_again(env: _Env) -> None:
    await env.reader.get("ns", "tls", as_of=env.now)
    await env.client.replace(SECRETS, "ns", "tls", _secret(value="Yg=="))
    await env.caught_up()
    got = await env.reader.get("ns", "tls", as_of=env.now)
    assert env.reader.gets == 2
    assert got is not None
    assert got.decoded("tls.crt") == b"b"


async def test_secret_absent_from_a_caught_up_informer_is_none_without_a_get(env: _Env) -> None:
    assert await env.reader.get("ns", "other", as_of=env.now) is None
    assert env.reader.gets == 0


async def test_read_without_as_of_always_gets(env: _Env) -> None:
    await env.reader.get("ns", "tls")
    await env.reader.get("ns", "tls")
    assert env.reader.gets == 2


async def test_deleted_secret_is_none(env: _Env) -> None:
    await env.reader.get("ns", "tls", as_of=env.now)
    await env.client.delete(SECRETS, "ns", "tls")
    assert await env.reader.get("ns", "tls") is None
    await env.caught_up()
    assert await env.reader.get("ns", "tls", as_of=env.now) is None


async def test_unordered_resource_version_gets(env: _Env) -> None:
    await env.reader.get("ns", "tls", as_of="not-a-number")
    await env.reader.get("ns", "tls", as_of="not-a-number")
    assert env.reader.gets == 2


async def test_oldest_read_is_dropped_past_the_bound(env: _Env) -> None:
    reader = SecretReader(env.client, env.informer, size=1)
    env.client.seed(SECRETS, _secret("two"))
    await env.caught_up()
    for name in ("tls", "two", "tls"):
        await reader.get("ns", name, as_of=env.now)
    assert reader.gets == 3


async def test_informer_lagging_behind_a_read_does_not_invalidate_it(env: _Env) -> None:
    env.client.muted = True  # the informer keeps showing the first version
    await env.client.replace(SECRETS, "ns", "tls", _secret(value="Yg=="))
    ahead = int(env.now) + 5
    await env.reader.get("ns", "tls", as_of=str(ahead))
    got = await env.reader.get("ns", "tls", as_of=str(ahead))
    assert env.reader.gets == 1
    assert got is not None
    assert got.decoded("tls.crt") == b"b"


async def test_concurrent_reads_for_one_revision_share_a_get(env: _Env) -> None:
    ahead = str(int(env.now) + 5)
    first, second = await asyncio.gather(
        env.reader.get("ns", "tls", as_of=ahead), env.reader.get("ns", "tls", as_of=ahead)
    )
    assert env.reader.gets == 1
    assert first is not None
    assert second is not None
