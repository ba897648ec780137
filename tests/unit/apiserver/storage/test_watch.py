from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from certsmith.apiserver.storage import (
    CompactionPolicy,
    EventType,
    GoneError,
    InvalidArgumentError,
    Store,
    StoreOptions,
    Watch,
    WatchEvent,
)
from tests.unit.apiserver.storage.builders import (
    cert_key,
    certs,
    make_cert,
    make_secret,
    rv,
    secret_key,
)

# A safety net so a broken watch fails the test instead of hanging it; never an assertion.
NET = 10.0


async def take(watch: Watch, count: int) -> list[WatchEvent]:
    return [await asyncio.wait_for(anext(watch), NET) for _ in range(count)]


def summary(events: list[WatchEvent]) -> list[tuple[str, int, str]]:
    return [(e.type.value, e.revision, e.object["metadata"].get("name", "")) for e in events]


async def test_watch_from_now_sees_only_later_changes(store: Store):
    await store.create(cert_key("before"), make_cert("before"))
    watch = await store.watch(certs())

    await store.create(cert_key("a"), make_cert("a"))
    await store.update(cert_key("a"), make_cert("a", secret="x"))
    await store.delete(cert_key("a"))

    assert summary(await take(watch, 3)) == [
        ("ADDED", 2, "a"),
        ("MODIFIED", 3, "a"),
        ("DELETED", 4, "a"),
    ]


async def test_deleted_event_carries_the_deletion_rv_and_the_previous_state(store: Store):
    created = await store.create(cert_key(), make_cert())
    watch = await store.watch(certs(), from_rv=rv(created))

    deleted = await store.delete(cert_key())
    (event,) = await take(watch, 1)

    assert event.type is EventType.DELETED
    assert rv(event.object) == rv(deleted) == str(event.revision) == "2"
    assert event.prev_object == created


async def test_watch_from_a_revision_replays_every_later_change_in_order(store: Store):
    first = await store.create(cert_key("a"), make_cert("a"))
    await store.create(cert_key("b"), make_cert("b"))
    await store.update(cert_key("a"), make_cert("a", secret="x"))

    watch = await store.watch(certs(), from_rv=rv(first))

    assert summary(await take(watch, 2)) == [("ADDED", 2, "b"), ("MODIFIED", 3, "a")]


async def test_watch_filters_by_resource_and_namespace(store: Store):
    watch = await store.watch(certs("ns1"))

    await store.create(cert_key("other", "ns2"), make_cert("other", "ns2"))
    await store.create(secret_key("s", "ns1"), make_secret("s", "ns1"))
    await store.create(cert_key("mine", "ns1"), make_cert("mine", "ns1"))

    assert summary(await take(watch, 1)) == [("ADDED", 3, "mine")]


async def test_initial_events_list_the_state_then_a_bookmark_then_changes(store: Store):
    await store.create(cert_key("b"), make_cert("b"))
    await store.create(cert_key("a"), make_cert("a"))
    watch = await store.watch(certs(), initial_events=True)
    assert watch.progress_revision is None

    await store.create(cert_key("c"), make_cert("c"))
    events = await take(watch, 4)

    assert [(e.type.value, e.revision) for e in events] == [
        ("ADDED", 2),
        ("ADDED", 1),
        ("BOOKMARK", 2),
        ("ADDED", 3),
    ]
    assert events[2].object == {"metadata": {"resourceVersion": "2"}}


async def test_every_watcher_gets_the_same_ordered_stream_of_shared_events(store: Store):
    watches = [await store.watch(certs()) for _ in range(5)]

    async def write() -> None:
        for i in range(30):
            await store.create(cert_key(f"o{i}"), make_cert(f"o{i}"))
            if i % 3 == 0:
                await store.delete(cert_key(f"o{i}"))

    await asyncio.gather(write(), write_secrets(store))
    streams = [await take(w, 40) for w in watches]

    revisions = [e.revision for e in streams[0]]
    assert revisions == sorted(set(revisions))
    for stream in streams[1:]:
        assert [id(e) for e in stream] == [id(e) for e in streams[0]]


async def write_secrets(store: Store) -> None:
    for i in range(10):
        await store.create(secret_key(f"s{i}"), make_secret(f"s{i}"))


async def test_concurrent_writes_reach_a_watcher_without_gaps_or_duplicates(store: Store):
    watch = await store.watch(certs())

    await asyncio.gather(*(store.create(cert_key(f"o{i}"), make_cert(f"o{i}")) for i in range(300)))
    events = await take(watch, 300)

    assert [e.revision for e in events] == list(range(1, 301))


async def test_json_line_is_a_kube_watch_line(store: Store):
    watch = await store.watch(certs())
    created = await store.create(cert_key(), make_cert())

    (event,) = await take(watch, 1)

    import orjson

    assert event.json_line.endswith(b"\n")
    assert orjson.loads(event.json_line) == {"type": "ADDED", "object": created}


async def test_watching_from_a_compacted_revision_is_gone(store: Store):
    await store.create(cert_key(), make_cert())
    await store.update(cert_key(), make_cert(secret="x"))
    await store.update(cert_key(), make_cert(secret="y"))
    await store.compact(2)

    with pytest.raises(GoneError) as err:
        await store.watch(certs(), from_rv="1")

    assert err.value.code == 410
    assert err.value.message == "too old resource version: 1 (2)"


async def test_watching_from_the_compacted_revision_replays_what_follows(store: Store):
    await store.create(cert_key(), make_cert())
    await store.update(cert_key(), make_cert(secret="x"))
    await store.update(cert_key(), make_cert(secret="y"))
    await store.compact(2)

    watch = await store.watch(certs(), from_rv="2")

    assert summary(await take(watch, 1)) == [("MODIFIED", 3, "a")]


async def test_watch_rejects_a_malformed_resource_version(store: Store):
    with pytest.raises(InvalidArgumentError):
        await store.watch(certs(), from_rv="twelve")


async def test_watches_end_when_the_store_closes(tmp_path: Path):
    store = await Store.open(
        tmp_path, options=StoreOptions(compaction=CompactionPolicy(enabled=False))
    )
    watch = await store.watch(certs())
    pending = asyncio.ensure_future(anext(watch))
    await asyncio.sleep(0)

    await store.close()

    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(pending, NET)


async def test_a_closed_watch_ends_its_iteration(store: Store):
    async with await store.watch(certs()) as watch:
        await store.create(cert_key(), make_cert())
    events = [e async for e in watch]

    assert events == []


async def test_progress_revision_follows_changes_outside_the_prefix(store: Store):
    watch = await store.watch(certs())
    await store.create(secret_key(), make_secret())
    await store.create(cert_key(), make_cert())

    await take(watch, 1)
    pending = asyncio.ensure_future(anext(watch))
    await asyncio.sleep(0)

    assert watch.progress_revision == 2
    pending.cancel()


@pytest.fixture
async def tiny_cache_store(tmp_path: Path):
    options = StoreOptions(
        compaction=CompactionPolicy(enabled=False), watch_cache_events=5, compaction_chunk=3
    )
    store = await Store.open(tmp_path, options=options)
    yield store
    await store.close()


async def test_a_watcher_behind_the_memory_cache_catches_up_from_disk(tiny_cache_store: Store):
    store = tiny_cache_store
    watch = await store.watch(certs())

    for i in range(40):
        await store.create(cert_key(f"o{i:02}"), make_cert(f"o{i:02}"))
    await store.create(secret_key(), make_secret())
    await store.delete(cert_key("o00"))
    events = await take(watch, 41)

    assert [e.revision for e in events] == [*range(1, 41), 42]
    assert events[-1].type is EventType.DELETED
    assert events[-1].prev_object is not None


async def test_a_watcher_left_behind_by_compaction_gets_gone(tiny_cache_store: Store):
    store = tiny_cache_store
    watch = await store.watch(certs())
    for i in range(20):
        await store.create(cert_key(f"o{i:02}"), make_cert(f"o{i:02}"))
        await store.delete(cert_key(f"o{i:02}"))

    assert await store.compact(30) == 30
    with pytest.raises(GoneError):
        await take(watch, 1)
