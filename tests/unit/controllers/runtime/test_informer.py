from __future__ import annotations

import asyncio
import contextlib

import pytest

from certsmith.client.errors import ApiError, ServerError, TransportError, error_from_status
from certsmith.client.resources import CERTIFICATES, SECRETS
from certsmith.controllers.runtime.cache import ObjectKey
from certsmith.controllers.runtime.informer import (
    Handlers,
    Informer,
    enqueue,
    enqueue_mapped,
    metadata_only,
)
from certsmith.controllers.runtime.workqueue import WorkQueue
from tests.fakes import FakeKubeClient, FakeSleeper, eventually, settle


def cert(name: str, ns: str = "ns", **labels: str):
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"secretName": name},
    }


def gone() -> ApiError:
    return error_from_status({"code": 410, "reason": "Expired", "message": "too old"})


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def handlers(self) -> Handlers:
        return Handlers(
            on_add=lambda o: self.events.append(("add", o["metadata"]["name"])),
            on_update=lambda _, n: self.events.append(("update", n["metadata"]["name"])),
            on_delete=lambda o: self.events.append(("delete", o["metadata"]["name"])),
        )


@contextlib.asynccontextmanager
async def running(informer: Informer):
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.wait_synced(), 2)
        yield informer
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
def sleeper() -> FakeSleeper:
    return FakeSleeper()


@pytest.fixture
def client(sleeper: FakeSleeper) -> FakeKubeClient:
    return FakeKubeClient(sleeper.clock)


def informer_for(client, sleeper, **kwargs) -> Informer:
    return Informer(client, CERTIFICATES, sleep=sleeper, **kwargs)


async def test_the_first_list_fills_the_cache_and_reports_adds(client, sleeper):
    client.seed(CERTIFICATES, cert("a"))
    client.seed(CERTIFICATES, cert("b"))
    informer = informer_for(client, sleeper)
    recorder = Recorder()
    informer.add_handlers(recorder.handlers())
    async with running(informer):
        assert informer.has_synced
        assert sorted(recorder.events) == [("add", "a"), ("add", "b")]
        assert informer.resource_version == "2"


async def test_lists_are_paged(client, sleeper):
    for index in range(5):
        client.seed(CERTIFICATES, cert(f"c{index}"))
    informer = informer_for(client, sleeper, page_size=2)
    async with running(informer):
        assert len(informer.cache) == 5
        assert [c[0] for c in client.calls].count("list") == 3


async def test_watch_events_update_the_cache_and_call_handlers(client, sleeper):
    informer = informer_for(client, sleeper)
    recorder = Recorder()
    informer.add_handlers(recorder.handlers())
    async with running(informer):
        await eventually(lambda: client.open_watches == 1)
        created = await client.create(CERTIFICATES, "ns", cert("a"))
        created["spec"]["secretName"] = "changed"
        await client.replace(CERTIFICATES, "ns", "a", created)
        await client.delete(CERTIFICATES, "ns", "a")
        await eventually(lambda: len(recorder.events) == 3)
        assert recorder.events == [("add", "a"), ("update", "a"), ("delete", "a")]
        assert informer.cache.get("ns", "a") is None
        assert informer.resource_version == str(client.rv)


async def test_a_bookmark_advances_the_resume_point(client, sleeper):
    informer = informer_for(client, sleeper)
    async with running(informer):
        await eventually(lambda: client.open_watches == 1)
        client.rv = 42  # writes to other resources moved the global revision
        client.bookmark(CERTIFICATES)
        await eventually(lambda: informer.resource_version == "42")


async def test_a_cleanly_ended_watch_resumes_from_the_last_resource_version(client, sleeper):
    client.seed(CERTIFICATES, cert("a"))
    informer = informer_for(client, sleeper)
    async with running(informer):
        await eventually(lambda: client.open_watches == 1)
        client.end_watches()
        await eventually(lambda: [c[0] for c in client.calls].count("watch") == 2)
        assert informer.lists == 1


async def test_gone_during_a_watch_relists_at_once_and_reports_only_differences(client, sleeper):
    client.seed(CERTIFICATES, cert("kept"))
    client.seed(CERTIFICATES, cert("removed"))
    informer = informer_for(client, sleeper)
    recorder = Recorder()
    informer.add_handlers(recorder.handlers())
    async with running(informer):
        await eventually(lambda: client.open_watches == 1)
        recorder.events.clear()
        # Changes the informer never sees as events, then a 410.
        client.muted = True
        await client.delete(CERTIFICATES, "ns", "removed")
        await client.create(CERTIFICATES, "ns", cert("new"))
        client.muted = False
        client.compact()
        client.break_watches(gone())
        await eventually(lambda: informer.lists == 2)
        assert sorted(recorder.events) == [("add", "new"), ("delete", "removed")]
        assert sleeper.calls == []  # no backoff for a routine 410


async def test_a_watch_from_a_compacted_resource_version_relists(client, sleeper):
    client.seed(CERTIFICATES, cert("a"))
    informer = informer_for(client, sleeper)
    async with running(informer):
        await eventually(lambda: client.open_watches == 1)
        client.muted = True
        await client.create(CERTIFICATES, "ns", cert("missed"))
        client.muted = False
        client.compact()
        client.end_watches()  # the re-watch from rv 1 < compacted rv 2 gets Gone → list
        await eventually(lambda: informer.lists == 2)
        assert informer.cache.get("ns", "missed") is not None


async def test_watch_errors_back_off_before_relisting(client, sleeper):
    informer = informer_for(client, sleeper)
    async with running(informer):
        await eventually(lambda: client.open_watches == 1)
        client.fail("list", ServerError({"code": 500}))
        client.break_watches(TransportError("connection reset"))
        await eventually(lambda: sleeper.pending == 1)
        assert sleeper.calls == [0.8]
        await sleeper.advance_to_next()
        await eventually(lambda: sleeper.calls == [0.8, 1.6])
        await sleeper.advance_to_next()
        await eventually(lambda: informer.lists == 2)


async def test_a_failing_first_list_is_retried_before_synced(client, sleeper):
    client.fail("list", TransportError("refused"))
    informer = informer_for(client, sleeper)
    task = asyncio.create_task(informer.run())
    try:
        await eventually(lambda: sleeper.pending == 1)
        assert not informer.has_synced
        await sleeper.advance_to_next()
        await asyncio.wait_for(informer.wait_synced(), 2)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_label_selector_limits_what_is_cached(client, sleeper):
    client.seed(SECRETS, {"metadata": {"name": "mine", "namespace": "ns", "labels": {"m": "y"}}})
    client.seed(SECRETS, {"metadata": {"name": "other", "namespace": "ns"}})
    informer = Informer(client, SECRETS, label_selector="m=y", sleep=sleeper)
    async with running(informer):
        assert [k.name for k in informer.cache.object_keys()] == ["mine"]


async def test_a_metadata_only_informer_never_caches_secret_data(client, sleeper):
    secret = {"metadata": {"name": "s", "namespace": "ns"}, "type": "kubernetes.io/tls"}
    client.seed(SECRETS, secret | {"data": {"tls.key": "c2VjcmV0"}})
    informer = Informer(client, SECRETS, transform=metadata_only, sleep=sleeper)
    async with running(informer):
        cached = informer.cache.get("ns", "s")
        assert cached is not None
        assert "data" not in cached
        assert cached["type"] == "kubernetes.io/tls"


async def test_enqueue_handlers_queue_the_object_key(client, sleeper):
    queue: WorkQueue[ObjectKey] = WorkQueue(clock=sleeper.clock, sleep=sleeper)
    client.seed(CERTIFICATES, cert("a"))
    informer = informer_for(client, sleeper)
    informer.add_handlers(enqueue(queue))
    async with running(informer):
        assert await queue.get() == ObjectKey("ns", "a")
    await queue.shutdown()


async def test_mapped_handlers_queue_derived_keys(client, sleeper):
    queue: WorkQueue[ObjectKey] = WorkQueue(clock=sleeper.clock, sleep=sleeper)
    client.seed(CERTIFICATES, cert("a"))
    informer = informer_for(client, sleeper)
    informer.add_handlers(enqueue_mapped(queue, lambda o: [ObjectKey("x", "owner")]))
    async with running(informer):
        assert await queue.get() == ObjectKey("x", "owner")
    await queue.shutdown()


async def test_handlers_added_after_sync_get_the_cached_objects_as_adds(client, sleeper):
    client.seed(CERTIFICATES, cert("a"))
    informer = informer_for(client, sleeper)
    async with running(informer):
        recorder = Recorder()
        informer.add_handlers(recorder.handlers())
        assert recorder.events == [("add", "a")]


async def test_a_failing_handler_does_not_stop_the_informer(client, sleeper, caplog):
    informer = informer_for(client, sleeper)

    def boom(_obj):
        raise RuntimeError("handler bug")

    recorder = Recorder()
    informer.add_handlers(Handlers(on_add=boom))
    informer.add_handlers(recorder.handlers())
    async with running(informer):
        await eventually(lambda: client.open_watches == 1)
        await client.create(CERTIFICATES, "ns", cert("a"))
        await eventually(lambda: recorder.events == [("add", "a")])
        await settle()
    assert "event handler failed" in caplog.text
