"""Namespaces are served from the store's memory: a get must say what SQLite says."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from certsmith.apiserver.storage import NotFoundError, ObjectKey, ResourcePrefix, Store
from tests.unit.apiserver.storage.conftest import NO_AUTO_COMPACTION

NAMESPACES = ResourcePrefix("", "namespaces", None)


def ns_key(name: str) -> ObjectKey:
    return ObjectKey("", "namespaces", "", name)


def namespace(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


async def listed(store: Store, name: str) -> dict[str, Any] | None:
    """The Namespace as a list reads it (a reader thread, from SQLite)."""
    page = await store.list(NAMESPACES)
    return next((obj for obj in page.items if obj["metadata"]["name"] == name), None)


async def got(store: Store, name: str) -> dict[str, Any] | None:
    try:
        return await store.get(ns_key(name))
    except NotFoundError:
        return None


async def created(store: Store) -> None:
    await store.create(ns_key("team"), namespace("team"))


async def updated(store: Store) -> None:
    first = await store.create(ns_key("team"), namespace("team"))
    rv = first["metadata"]["resourceVersion"]
    await store.update(ns_key("team"), namespace("team", phase="x"), expected_rv=rv)


async def deleted(store: Store) -> None:
    await store.create(ns_key("team"), namespace("team"))
    await store.delete(ns_key("team"))


async def recreated(store: Store) -> None:
    await deleted(store)
    await store.create(ns_key("team"), namespace("team", again="yes"))


@pytest.mark.parametrize("change", [created, updated, deleted, recreated])
async def test_a_namespace_get_matches_a_list_after_each_kind_of_write(
    store: Store, change: Callable[[Store], Awaitable[None]]
):
    await change(store)
    assert await got(store, "team") == await listed(store, "team")


async def test_namespaces_written_before_a_reopen_are_read_after_it(tmp_path: Path):
    async with await Store.open(tmp_path / "data", options=NO_AUTO_COMPACTION) as store:
        await updated(store)
        await store.create(ns_key("gone"), namespace("gone"))
        await store.delete(ns_key("gone"))
        before = await store.get(ns_key("team"))
    async with await Store.open(tmp_path / "data", options=NO_AUTO_COMPACTION) as store:
        assert await store.get(ns_key("team")) == before
        assert await got(store, "gone") is None


async def test_changing_a_got_namespace_does_not_change_the_stored_one(store: Store):
    await created(store)
    first = await store.get(ns_key("team"))
    first["metadata"]["labels"]["mutated"] = "yes"
    assert await store.get(ns_key("team")) == await listed(store, "team")
    assert "mutated" not in (await store.get(ns_key("team")))["metadata"]["labels"]
