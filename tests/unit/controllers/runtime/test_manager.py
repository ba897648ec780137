from __future__ import annotations

import asyncio
import contextlib

import pytest

from certsmith.client.errors import TooManyRequests
from certsmith.client.resources import CERTIFICATES
from certsmith.controllers.runtime.cache import ObjectKey
from certsmith.controllers.runtime.informer import Informer, enqueue
from certsmith.controllers.runtime.manager import Controller, Manager, Requeue
from certsmith.controllers.runtime.workqueue import Backoff, WorkQueue
from tests.fakes import FakeKubeClient, FakeSleeper, eventually

KEY = ObjectKey("ns", "a")


def cert(name: str):
    return {"metadata": {"name": name, "namespace": "ns"}, "spec": {}}


@pytest.fixture
def sleeper() -> FakeSleeper:
    return FakeSleeper()


class Script:
    """A reconcile that returns (or raises) scripted outcomes and records its keys."""

    def __init__(self, *outcomes) -> None:
        self.outcomes = list(outcomes)
        self.keys: list[ObjectKey] = []

    async def __call__(self, key: ObjectKey) -> Requeue | None:
        self.keys.append(key)
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


@contextlib.asynccontextmanager
async def running(manager: Manager):
    task = asyncio.create_task(manager.run())
    try:
        await asyncio.wait_for(manager.wait_started(), 2)
        yield manager
    finally:
        manager.stop()
        await asyncio.wait_for(task, 2)


def controller(sleeper, reconcile, *, informers=(), workers=1) -> Controller:
    queue: WorkQueue[ObjectKey] = WorkQueue(Backoff(5, 300), clock=sleeper.clock, sleep=sleeper)
    return Controller("test", reconcile, queue, informers, workers)


async def test_an_informer_event_reaches_reconcile_after_sync(sleeper):
    client = FakeKubeClient(sleeper.clock)
    client.seed(CERTIFICATES, cert("a"))
    informer = Informer(client, CERTIFICATES, sleep=sleeper)
    script = Script()
    ctrl = controller(sleeper, script, informers=[informer])
    informer.add_handlers(enqueue(ctrl.queue))
    async with running(Manager([ctrl], sleep=sleeper)):
        await eventually(lambda: script.keys == [KEY])


async def test_a_none_result_forgets_the_backoff(sleeper):
    script = Script(None)
    ctrl = controller(sleeper, script)
    ctrl.queue.add_rate_limited(KEY)
    ctrl.queue.forget(KEY)
    async with running(Manager([ctrl], sleep=sleeper)):
        ctrl.queue.add_rate_limited(KEY)  # one failure recorded
        await sleeper.advance(5)
        await eventually(lambda: script.keys == [KEY] and not ctrl.queue.processing)
        assert ctrl.queue.num_requeues(KEY) == 0


async def test_an_exception_requeues_with_exponential_backoff(sleeper):
    script = Script(RuntimeError("boom"), RuntimeError("boom"), None)
    ctrl = controller(sleeper, script)
    async with running(Manager([ctrl], sleep=sleeper)):
        ctrl.queue.add(KEY)
        await eventually(lambda: ctrl.queue.delayed == 1)
        assert sleeper.calls[-1] == 5
        await sleeper.advance(5)
        await eventually(lambda: len(script.keys) == 2 and ctrl.queue.delayed == 1)
        assert sleeper.calls[-1] == 10
        await sleeper.advance(10)
        await eventually(lambda: len(script.keys) == 3 and not ctrl.queue.processing)
        assert ctrl.queue.num_requeues(KEY) == 0


async def test_too_many_requests_waits_at_least_the_retry_after(sleeper):
    throttled = TooManyRequests({"code": 429}, retry_after=120)
    script = Script(throttled)
    ctrl = controller(sleeper, script)
    async with running(Manager([ctrl], sleep=sleeper)):
        ctrl.queue.add(KEY)
        await eventually(lambda: ctrl.queue.delayed == 1)
        assert sleeper.calls[-1] == 120


async def test_requeue_after_queues_the_key_again_after_the_delay(sleeper):
    script = Script(Requeue(3600), None)
    ctrl = controller(sleeper, script)
    async with running(Manager([ctrl], sleep=sleeper)):
        ctrl.queue.add(KEY)
        await eventually(lambda: ctrl.queue.delayed == 1)
        assert ctrl.queue.num_requeues(KEY) == 0
        await sleeper.advance(3600)
        await eventually(lambda: len(script.keys) == 2)


async def test_one_key_is_never_reconciled_by_two_workers_at_once(sleeper):
    release = asyncio.Event()
    active: list[int] = []
    peak: list[int] = [0]

    async def slow(key: ObjectKey) -> None:
        active.append(1)
        peak[0] = max(peak[0], len(active))
        await release.wait()
        active.pop()

    ctrl = controller(sleeper, slow, workers=4)
    async with running(Manager([ctrl], sleep=sleeper)):
        ctrl.queue.add(KEY)
        await eventually(lambda: KEY in ctrl.queue.processing)
        ctrl.queue.add(KEY)
        ctrl.queue.add(ObjectKey("ns", "b"))
        await eventually(lambda: len(active) == 2)
        release.set()
        await eventually(lambda: not ctrl.queue.processing and len(ctrl.queue) == 0)
    assert peak[0] == 2  # "a" and "b" together, never "a" twice


async def test_shutdown_waits_for_an_in_flight_reconcile(sleeper):
    started, finish = asyncio.Event(), asyncio.Event()
    finished: list[bool] = []

    async def slow(key: ObjectKey) -> None:
        started.set()
        await finish.wait()
        finished.append(True)

    ctrl = controller(sleeper, slow)
    manager = Manager([ctrl], sleep=sleeper, shutdown_timeout=30)
    task = asyncio.create_task(manager.run())
    await manager.wait_started()
    ctrl.queue.add(KEY)
    await started.wait()
    manager.stop()
    await eventually(lambda: sleeper.pending == 1)  # the shutdown timeout is running
    finish.set()
    await asyncio.wait_for(task, 2)
    assert finished == [True]


async def test_shutdown_cancels_reconciles_that_outlive_the_timeout(sleeper, caplog):
    started = asyncio.Event()
    cancelled: list[bool] = []

    async def stuck(key: ObjectKey) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    ctrl = controller(sleeper, stuck)
    manager = Manager([ctrl], sleep=sleeper, shutdown_timeout=30)
    task = asyncio.create_task(manager.run())
    await manager.wait_started()
    ctrl.queue.add(KEY)
    await started.wait()
    manager.stop()
    await eventually(lambda: sleeper.pending == 1)
    await sleeper.advance(30)
    await asyncio.wait_for(task, 2)
    assert cancelled == [True]
    assert "cancelling 1 reconciles" in caplog.text


async def test_cancelling_run_stops_workers_and_informers(sleeper):
    client = FakeKubeClient(sleeper.clock)
    informer = Informer(client, CERTIFICATES, sleep=sleeper)
    ctrl = controller(sleeper, Script(), informers=[informer])
    manager = Manager([ctrl], sleep=sleeper)
    task = asyncio.create_task(manager.run())
    await manager.wait_started()
    await eventually(lambda: client.open_watches == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert client.open_watches == 0
    assert ctrl.queue.is_shut_down


def test_controller_names_must_be_unique(sleeper):
    with pytest.raises(ValueError, match="unique"):
        Manager([controller(sleeper, Script()), controller(sleeper, Script())])


def test_a_negative_requeue_is_refused():
    with pytest.raises(ValueError, match="negative"):
        Requeue(-1)
