"""SecretReader: a recent read stands in for a GET only while the informer shows its version."""

from __future__ import annotations

from typing import Any

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


def _setup(size: int = 8) -> tuple[FakeKubeClient, Informer, SecretReader]:
    client = FakeKubeClient()
    informer = Informer(client, SECRETS, transform=metadata_only)
    return client, informer, SecretReader(client, informer, size=size)


def _observe(client: FakeKubeClient, informer: Informer, name: str = "tls") -> None:
    """Put the stored Secret's metadata into the informer cache, as a watch event would."""
    informer.cache.upsert(metadata_only(client.stored(SECRETS, "ns", name)))


async def test_recent_read_is_reused_while_informer_shows_its_version() -> None:
    client, informer, reader = _setup()
    client.seed(SECRETS, _secret())
    _observe(client, informer)
    await reader.get("ns", "tls", fresh=False)
    again = await reader.get("ns", "tls", fresh=False)
    assert reader.gets == 1
    assert again is not None
    assert again.decoded("tls.crt") == b"a"


async def test_changed_version_is_read_again() -> None:
    client, informer, reader = _setup()
    client.seed(SECRETS, _secret())
    _observe(client, informer)
    await reader.get("ns", "tls", fresh=False)
    await client.replace(SECRETS, "ns", "tls", _secret(value="Yg=="))
    _observe(client, informer)
    got = await reader.get("ns", "tls", fresh=False)
    assert reader.gets == 2
    assert got is not None
    assert got.decoded("tls.crt") == b"b"


async def test_fresh_read_always_gets() -> None:
    client, informer, reader = _setup()
    client.seed(SECRETS, _secret())
    _observe(client, informer)
    await reader.get("ns", "tls")
    await reader.get("ns", "tls")
    assert reader.gets == 2


async def test_secret_unknown_to_the_informer_is_read() -> None:
    client, _, reader = _setup()
    client.seed(SECRETS, _secret())
    await reader.get("ns", "tls", fresh=False)
    await reader.get("ns", "tls", fresh=False)
    assert reader.gets == 2


async def test_missing_secret_is_none_and_forgotten() -> None:
    client, informer, reader = _setup()
    client.seed(SECRETS, _secret())
    _observe(client, informer)
    await reader.get("ns", "tls", fresh=False)
    await client.delete(SECRETS, "ns", "tls")
    assert await reader.get("ns", "tls") is None
    # The informer has not seen the delete yet: the forgotten read is not reused.
    assert await reader.get("ns", "tls", fresh=False) is None
    assert reader.gets == 3


async def test_oldest_read_is_dropped_past_the_bound() -> None:
    client, informer, reader = _setup(size=1)
    for name in ("one", "two"):
        client.seed(SECRETS, _secret(name))
        _observe(client, informer, name)
    await reader.get("ns", "one", fresh=False)
    await reader.get("ns", "two", fresh=False)
    await reader.get("ns", "one", fresh=False)
    assert reader.gets == 3
