"""The controllers' issuer context: parsed private keys are cached per Secret version, parsed
off the event loop, bounded, and never cached when they fail to parse."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from certsmith.api.core import Secret
from certsmith.controllers.issuercontext import ControllerIssuerContext
from certsmith.pki.keys import KeyDecodeError
from certsmith.util.clock import FakeClock
from tests.builders import private_key_pem
from tests.fakes import FakeKubeClient

KEY = ec.generate_private_key(ec.SECP256R1())
PEM = private_key_pem(KEY)


def secret(
    *, uid: str | None = "u1", version: str | None = "1", data: dict[str, bytes] | None = None
) -> Secret:
    meta: dict[str, Any] = {"name": "ca", "namespace": "ns"}
    if uid is not None:
        meta["uid"] = uid
    if version is not None:
        meta["resourceVersion"] = version
    values = {"tls.key": PEM} if data is None else data
    return Secret.from_dict({"metadata": meta, "data": Secret.encode_data(values)})


def context(size: int = 4) -> ControllerIssuerContext:
    return ControllerIssuerContext(
        FakeKubeClient(), clock=FakeClock(), cluster_resource_namespace="cm", key_cache_size=size
    )


async def test_the_same_secret_version_is_parsed_once() -> None:
    ctx = context()
    first = await ctx.private_key(secret())
    second = await ctx.private_key(secret())
    assert first is second
    assert first is not None
    assert first.public_key() == KEY.public_key()
    assert ctx.key_parses == 1


async def test_a_new_resource_version_or_uid_or_data_key_is_parsed_again() -> None:
    ctx = context()
    await ctx.private_key(secret())
    await ctx.private_key(secret(version="2"))
    await ctx.private_key(secret(uid="u2"))
    await ctx.private_key(secret(data={"other.key": PEM}), "other.key")
    assert ctx.key_parses == 4


async def test_a_secret_without_uid_or_version_is_never_cached() -> None:
    ctx = context()
    for _ in range(2):
        await ctx.private_key(secret(uid=None))
        await ctx.private_key(secret(version=None))
    assert ctx.key_parses == 4


async def test_the_cache_is_bounded_least_recently_used_first() -> None:
    ctx = context(size=2)
    await ctx.private_key(secret(uid="a"))
    await ctx.private_key(secret(uid="b"))
    await ctx.private_key(secret(uid="a"))  # a is now the most recent
    await ctx.private_key(secret(uid="c"))  # evicts b
    await ctx.private_key(secret(uid="a"))
    assert ctx.key_parses == 3
    await ctx.private_key(secret(uid="b"))
    assert ctx.key_parses == 4


async def test_a_zero_size_cache_parses_every_time() -> None:
    ctx = context(size=0)
    await ctx.private_key(secret())
    await ctx.private_key(secret())
    assert ctx.key_parses == 2


async def test_concurrent_misses_share_one_parse() -> None:
    ctx = context()
    keys = await asyncio.gather(*(ctx.private_key(secret()) for _ in range(5)))
    assert ctx.key_parses == 1
    assert all(k is keys[0] for k in keys)


async def test_an_empty_entry_is_none() -> None:
    ctx = context()
    assert await ctx.private_key(secret(data={})) is None
    assert await ctx.private_key(secret(data={"tls.key": b""})) is None
    assert ctx.key_parses == 0


async def test_a_bad_key_raises_without_key_material_and_is_not_cached() -> None:
    ctx = context()
    bad = b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0LXN0dWZm\n-----END PRIVATE KEY-----\n"
    for _ in range(2):
        with pytest.raises(KeyDecodeError) as info:
            await ctx.private_key(secret(data={"tls.key": bad}))
        assert "c2VjcmV0" not in str(info.value)
    assert ctx.key_parses == 2


def test_a_negative_cache_size_is_refused() -> None:
    with pytest.raises(ValueError, match="key_cache_size"):
        context(size=-1)
