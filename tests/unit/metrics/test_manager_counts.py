"""The manager counts every reconcile (cert-manager's sync call/error counts) and times it."""

from __future__ import annotations

import asyncio
import logging

import pytest

from certsmith.client.errors import Conflict
from certsmith.controllers.runtime.cache import ObjectKey
from certsmith.controllers.runtime.manager import Controller, Manager, RetryLater
from certsmith.controllers.runtime.workqueue import Backoff, WorkQueue
from certsmith.util.metrics import Metrics, activated
from tests.fakes import FakeSleeper, eventually


def conflict() -> Conflict:
    return Conflict({"code": 409, "reason": "Conflict", "message": "stale"})


@pytest.mark.parametrize(
    ("outcome", "errors"),
    [
        (None, 0),
        (RuntimeError("boom"), 1),
        (RetryLater("pending"), 1),
        (conflict(), 0),
    ],
    ids=["success", "failure", "planned-retry", "write-conflict"],
)
async def test_each_reconcile_is_counted_and_failures_except_conflicts_are_errors(
    outcome, errors, caplog
):
    caplog.set_level(logging.CRITICAL)  # the failure's traceback is not this test's subject
    sleeper = FakeSleeper()
    done = asyncio.Event()

    async def reconcile(key: ObjectKey) -> None:
        done.set()
        if isinstance(outcome, Exception):
            raise outcome

    queue: WorkQueue[ObjectKey] = WorkQueue(Backoff(5, 300), clock=sleeper.clock, sleep=sleeper)
    metrics = Metrics(process=False)
    manager = Manager([Controller("issuers", reconcile, queue)], sleep=sleeper, metrics=metrics)
    task = asyncio.create_task(manager.run())
    await manager.wait_started()
    running = [manager.is_running]
    queue.add(ObjectKey("ns", "a"))
    await done.wait()
    await eventually(lambda: not queue.processing)
    manager.stop()
    running.append(manager.is_running)
    assert running == [True, False]
    await task
    text = metrics.render().decode()
    assert 'certmanager_controller_sync_call_count{controller="issuers"} 1.0' in text
    error_line = f'certmanager_controller_sync_error_count{{controller="issuers"}} {errors:.1f}'
    assert (error_line in text) == bool(errors)
    assert 'certsmith_controller_reconcile_duration_seconds_count{controller="issuers"} 1' in text


def test_a_manager_records_into_the_metrics_current_when_it_is_built():
    metrics = Metrics(process=False)
    with activated(metrics):
        manager = Manager([])
    assert manager.metrics is metrics
