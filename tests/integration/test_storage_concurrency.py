"""Many concurrent writers, readers and watchers against one real store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from certsmith.apiserver.storage import (
    CompactionPolicy,
    ObjectKey,
    ResourcePrefix,
    ResourceVersionMatch,
    Store,
    StoreOptions,
    WatchEvent,
)

CERTS = ResourcePrefix("cert-manager.io", "certificates")


def key(namespace: str, name: str) -> ObjectKey:
    return ObjectKey("cert-manager.io", "certificates", namespace, name)


def body(namespace: str, name: str, value: int) -> dict[str, object]:
    return {"metadata": {"name": name, "namespace": namespace}, "spec": {"value": value}}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    options = StoreOptions(compaction=CompactionPolicy(enabled=False), watch_cache_events=100)
    opened = await Store.open(tmp_path, options=options)
    yield opened
    await opened.close()


async def test_eight_writers_of_two_hundred_writes_are_all_acknowledged_and_present(store: Store):
    async def writer(task: int) -> list[int]:
        revisions = []
        for i in range(200):
            obj = await store.create(key(f"ns{task}", f"o{i:03}"), body(f"ns{task}", f"o{i:03}", i))
            revisions.append(int(obj["metadata"]["resourceVersion"]))
        return revisions

    per_task = await asyncio.gather(*(writer(t) for t in range(8)))

    every = sorted(rv for revisions in per_task for rv in revisions)
    assert every == list(range(1, 1601))
    assert all(revisions == sorted(revisions) for revisions in per_task)
    listed = await store.list(CERTS)
    assert len(listed.items) == 1600
    assert listed.resource_version == "1600"


async def test_paginated_list_is_one_snapshot_while_writers_run(store: Store):
    for i in range(300):
        await store.create(key(f"ns{i % 3}", f"o{i:03}"), body(f"ns{i % 3}", f"o{i:03}", 0))
    stop = asyncio.Event()

    async def churn(task: int) -> None:
        n = 0
        gone: set[str] = set()
        while not stop.is_set():
            n += 1
            namespace, name = f"ns{task}", f"o{(task + 3 * n) % 300:03}"
            if name in gone:
                await store.create(key(namespace, name), body(namespace, name, n))
                gone.discard(name)
            elif n % 11 == 0:
                await store.delete(key(namespace, name))
                gone.add(name)
            else:
                await store.update(key(namespace, name), body(namespace, name, n))
            if n % 7 == 0:
                await store.create(key(namespace, f"new{n}"), body(namespace, f"new{n}", n))

    writers = [asyncio.create_task(churn(t)) for t in range(3)]
    try:
        pages = [await store.list(CERTS, limit=25)]
        while pages[-1].continue_token:
            await asyncio.sleep(0.001)  # let the writers get ahead of the walk
            pages.append(await store.list(CERTS, limit=25, continue_token=pages[-1].continue_token))
    finally:
        stop.set()
        await asyncio.gather(*writers)

    walked = [item for page in pages for item in page.items]
    snapshot = await store.list(
        CERTS,
        resource_version=pages[0].resource_version,
        resource_version_match=ResourceVersionMatch.EXACT,
    )
    assert int(pages[0].resource_version) < store.current_revision()
    assert {p.resource_version for p in pages} == {pages[0].resource_version}
    assert walked == snapshot.items
    assert len(walked) == 300


async def test_watchers_see_identical_streams_from_concurrent_writers(store: Store):
    await store.create(key("ns", "before"), body("ns", "before", 0))
    watches = [await store.watch(CERTS) for _ in range(4)]
    resumed_from = store.current_revision()

    async def writer(task: int) -> None:
        for i in range(100):
            await store.create(key(f"ns{task}", f"o{i}"), body(f"ns{task}", f"o{i}", i))
            if i % 4 == 0:
                await store.delete(key(f"ns{task}", f"o{i}"))

    await asyncio.gather(*(writer(t) for t in range(4)))
    total = 4 * (100 + 25)

    async def drain(watch: object) -> list[WatchEvent]:
        it = watch.__aiter__()  # type: ignore[attr-defined]
        return [await asyncio.wait_for(anext(it), 10) for _ in range(total)]

    streams = [await drain(w) for w in watches]
    late = await drain(await store.watch(CERTS, from_rv=str(resumed_from)))

    expected = list(range(resumed_from + 1, resumed_from + total + 1))
    for stream in [*streams, late]:
        assert [e.revision for e in stream] == expected
    assert [e.raw for e in late] == [e.raw for e in streams[0]]
