from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

import pytest

from certsmith.controllers.runtime.workqueue import (
    ACME_BACKOFF,
    CERTIFICATE_BACKOFF,
    CERTIFICATE_REQUEST_BACKOFF,
    Backoff,
    ShutDownError,
    WorkQueue,
)
from certsmith.util.clock import OffsetFileClock
from tests.fakes import FakeSleeper, eventually, settle


@pytest.fixture
def sleeper() -> FakeSleeper:
    return FakeSleeper()


@pytest.fixture
async def queue(sleeper: FakeSleeper):
    q: WorkQueue[str] = WorkQueue(Backoff(5, 300), clock=sleeper.clock, sleep=sleeper)
    yield q
    await q.shutdown()


async def test_a_key_added_twice_before_processing_is_handed_out_once(queue):
    queue.add("a")
    queue.add("a")
    assert await queue.get() == "a"
    assert len(queue) == 0


async def test_keys_come_out_in_the_order_they_were_added(queue):
    for key in "abc":
        queue.add(key)
    assert [await queue.get() for _ in range(3)] == ["a", "b", "c"]


async def test_a_key_re_added_while_processing_waits_until_done(queue):
    queue.add("a")
    assert await queue.get() == "a"
    queue.add("a")
    assert len(queue) == 0  # not handed to a second worker
    queue.done("a")
    assert await queue.get() == "a"


async def test_a_key_processed_and_done_without_re_add_is_not_queued_again(queue):
    queue.add("a")
    await queue.get()
    queue.done("a")
    assert len(queue) == 0


async def test_a_waiting_getter_wakes_when_a_key_is_added(queue):
    getter = asyncio.create_task(queue.get())
    await settle()
    queue.add("x")
    assert await getter == "x"


async def test_shutdown_wakes_waiting_getters_with_shutdownerror(queue):
    getter = asyncio.create_task(queue.get())
    await settle()
    await queue.shutdown()
    with pytest.raises(ShutDownError):
        await getter


async def test_adds_after_shutdown_are_ignored(queue):
    await queue.shutdown()
    queue.add("a")
    queue.add_after("b", 1)
    assert len(queue) == 0
    assert queue.delayed == 0


@dataclass(frozen=True)
class BackoffCase:
    id: str
    backoff: Backoff
    failures: int
    expect: float


BACKOFF_CASES = [
    BackoffCase("certificate request first retry is 5s", CERTIFICATE_REQUEST_BACKOFF, 0, 5),
    BackoffCase("certificate request doubles", CERTIFICATE_REQUEST_BACKOFF, 3, 40),
    BackoffCase("certificate request caps at 5 minutes", CERTIFICATE_REQUEST_BACKOFF, 10, 300),
    BackoffCase("certificate first retry is 1s", CERTIFICATE_BACKOFF, 0, 1),
    BackoffCase("certificate caps at 30s", CERTIFICATE_BACKOFF, 5, 30),
    BackoffCase("acme caps at 30 minutes", ACME_BACKOFF, 9, 1800),
    BackoffCase("a huge failure count does not overflow", ACME_BACKOFF, 100_000, 1800),
]


@pytest.mark.parametrize("case", BACKOFF_CASES, ids=lambda c: c.id)
def test_backoff_delay(case: BackoffCase):
    assert case.backoff.delay(case.failures) == case.expect


@pytest.mark.parametrize(("base", "cap"), [(0, 1), (-1, 5), (10, 5)])
def test_backoff_rejects_bad_bounds(base: float, cap: float):
    with pytest.raises(ValueError, match="0 < base <= max"):
        Backoff(base, cap)


async def test_rate_limited_adds_back_off_exponentially_per_key(queue):
    delays = [queue.add_rate_limited("a") for _ in range(4)]
    assert delays == [5, 10, 20, 40]
    assert queue.add_rate_limited("b") == 5
    assert queue.num_requeues("a") == 4


async def test_forget_resets_the_backoff(queue):
    queue.add_rate_limited("a")
    queue.add_rate_limited("a")
    queue.forget("a")
    assert queue.num_requeues("a") == 0
    assert queue.add_rate_limited("a") == 5


async def test_rate_limited_add_honours_a_longer_at_least(queue):
    assert queue.add_rate_limited("a", at_least=60) == 60


async def test_a_delayed_key_is_queued_only_when_its_time_comes(queue, sleeper):
    queue.add_after("a", 10)
    await settle()
    await sleeper.advance(9.9)
    assert len(queue) == 0
    await sleeper.advance(0.1)
    await eventually(lambda: len(queue) == 1)
    assert await queue.get() == "a"


async def test_a_zero_delay_adds_immediately(queue):
    queue.add_after("a", 0)
    assert len(queue) == 1


async def test_add_after_accepts_a_timedelta(queue, sleeper):
    queue.add_after("a", dt.timedelta(minutes=1))
    await settle()
    await sleeper.advance(60)
    await eventually(lambda: len(queue) == 1)


async def test_the_earlier_of_two_delays_for_one_key_wins(queue, sleeper):
    queue.add_after("a", 100)
    queue.add_after("a", 10)
    queue.add_after("a", 50)
    await settle()
    await sleeper.advance(10)
    await eventually(lambda: len(queue) == 1)
    assert await queue.get() == "a"
    queue.done("a")
    await sleeper.advance(100)
    assert len(queue) == 0  # the later entries were superseded


async def test_an_earlier_key_wakes_a_timer_sleeping_for_a_later_one(queue, sleeper):
    queue.add_after("late", 3600)
    await settle()
    queue.add_after("early", 5)
    await settle()
    await sleeper.advance(5)
    await eventually(lambda: len(queue) == 1)
    assert await queue.get() == "early"


async def test_ten_thousand_delayed_keys_cost_one_sleep_while_idle(queue, sleeper):
    for index in range(10_000):
        queue.add_after(f"k{index}", 60 + index)
    await settle()
    assert sleeper.calls == [60]
    assert sleeper.pending == 1
    assert queue.delayed == 10_000


async def test_hours_of_backoff_run_on_fake_time(queue, sleeper):
    for _ in range(12):
        queue.add_rate_limited("a")  # 5s … capped at 5 min: the key waits for the earliest
    await settle()
    await sleeper.advance(5)
    await eventually(lambda: len(queue) == 1)
    key = await queue.get()
    queue.done(key)
    for _ in range(20):  # twenty failures in a row: 1h20m of backoff on fake time
        queue.add_rate_limited("a")
        await settle()
        await sleeper.advance_to_next()
        await eventually(lambda: len(queue) == 1)
        queue.done(await queue.get())
    assert queue.num_requeues("a") == 32
    assert sleeper.clock.now() > dt.datetime(2026, 1, 1, 1, 30, tzinfo=dt.UTC)


async def test_a_clock_jump_releases_the_keys_now_due_without_waiting_out_the_sleep(tmp_path):
    # A test moving a running process's clock (OffsetFileClock) must not wait real hours.
    clock = OffsetFileClock(tmp_path / "offset")
    q: WorkQueue[str] = WorkQueue(Backoff(5, 300), clock=clock)  # real asyncio.sleep
    try:
        q.add_after("in-an-hour", dt.timedelta(hours=1))
        q.add_after("tomorrow", dt.timedelta(days=1))
        await settle()
        clock.path.write_text(str(2 * 3600))
        clock.refresh()
        assert await asyncio.wait_for(q.get(), timeout=30) == "in-an-hour"
        assert q.delayed == 1  # "tomorrow" is still a day away
    finally:
        await q.shutdown()
