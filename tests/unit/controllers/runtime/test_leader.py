from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from certsmith.client.errors import ServerError
from certsmith.client.resources import LEASES
from certsmith.controllers.runtime.leader import (
    LeaderElector,
    LeadershipLostError,
    format_micro_time,
    parse_micro_time,
)
from tests.fakes import FakeKubeClient, FakeSleeper, eventually


@pytest.fixture
def sleeper() -> FakeSleeper:
    return FakeSleeper()


@pytest.fixture
def client(sleeper) -> FakeKubeClient:
    return FakeKubeClient(sleeper.clock)


def elector(client, sleeper, identity: str) -> LeaderElector:
    return LeaderElector(
        client,
        namespace="kube-system",
        name="certsmith",
        identity=identity,
        clock=sleeper.clock,
        sleep=sleeper,
    )


def lease(client: FakeKubeClient) -> dict[str, Any]:
    spec: dict[str, Any] = client.stored(LEASES, "kube-system", "certsmith")["spec"]
    return spec


def test_micro_time_has_six_fraction_digits_and_z():
    when = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert format_micro_time(when) == "2026-01-01T00:00:00.000000Z"
    assert parse_micro_time("2026-01-01T00:00:00.000000Z") == when


def test_timing_must_satisfy_retry_lt_renew_lt_lease(client, sleeper):
    with pytest.raises(ValueError, match="retry_period < renew_deadline < lease_duration"):
        LeaderElector(
            client, namespace="n", name="l", identity="a", clock=sleeper.clock, renew_deadline=20
        )


async def test_the_first_candidate_creates_the_lease(client, sleeper):
    a = elector(client, sleeper, "a")
    assert await a.try_acquire_or_renew()
    spec = lease(client)
    assert spec["holderIdentity"] == "a"
    assert spec["leaseDurationSeconds"] == 15
    assert spec["renewTime"] == "2026-01-01T00:00:00.000000Z"
    assert spec["leaseTransitions"] == 0


async def test_a_second_candidate_cannot_take_a_fresh_lease(client, sleeper):
    assert await elector(client, sleeper, "a").try_acquire_or_renew()
    b = elector(client, sleeper, "b")
    assert not await b.try_acquire_or_renew()
    await sleeper.advance(14)
    assert not await b.try_acquire_or_renew()


async def test_an_unrenewed_lease_is_taken_after_its_duration_of_local_time(client, sleeper):
    assert await elector(client, sleeper, "a").try_acquire_or_renew()
    b = elector(client, sleeper, "b")
    assert not await b.try_acquire_or_renew()  # b starts observing now
    await sleeper.advance(15)
    assert await b.try_acquire_or_renew()
    spec = lease(client)
    assert spec["holderIdentity"] == "b"
    assert spec["leaseTransitions"] == 1
    assert spec["acquireTime"] == "2026-01-01T00:00:15.000000Z"


async def test_renewing_keeps_acquire_time_and_moves_renew_time(client, sleeper):
    a = elector(client, sleeper, "a")
    await a.try_acquire_or_renew()
    await sleeper.advance(2)
    assert await a.try_acquire_or_renew()
    spec = lease(client)
    assert spec["acquireTime"] == "2026-01-01T00:00:00.000000Z"
    assert spec["renewTime"] == "2026-01-01T00:00:02.000000Z"


async def test_a_stale_resource_version_loses_the_race(client, sleeper):
    a, b = elector(client, sleeper, "a"), elector(client, sleeper, "b")
    await a.try_acquire_or_renew()
    await sleeper.advance(20)
    original_get = client.get

    async def get_then_someone_writes(resource, namespace, name):
        obj = await original_get(resource, namespace, name)
        await client.patch(resource, namespace, name, {"metadata": {"labels": {"x": "y"}}})
        return obj

    client.get = get_then_someone_writes
    assert not await b.try_acquire_or_renew()  # 409 Conflict on the PUT
    assert lease(client)["holderIdentity"] == "a"


async def test_run_does_the_work_while_leading_and_releases_the_lease_after(client, sleeper):
    a = elector(client, sleeper, "a")

    async def work() -> str:
        assert a.is_leader
        return "done"

    assert await a.run(work) == "done"
    spec = lease(client)
    assert spec["holderIdentity"] == ""
    assert spec["leaseDurationSeconds"] == 1
    assert not a.is_leader


async def test_a_released_lease_is_taken_at_once(client, sleeper):
    async def nothing() -> None:
        return None

    await elector(client, sleeper, "a").run(nothing)
    assert await elector(client, sleeper, "b").try_acquire_or_renew()


async def test_failing_renewals_past_the_deadline_cancel_the_work(client, sleeper):
    a = elector(client, sleeper, "a")
    cancelled = asyncio.Event()

    async def work() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    task = asyncio.create_task(a.run(work))
    await eventually(lambda: a.is_leader and sleeper.pending == 1)
    client.fail("get", ServerError({"code": 500}), times=100)
    for _ in range(4):  # renew attempts at 2, 4, 6, 8s fail; still within the deadline
        await sleeper.advance_to_next()
        assert not cancelled.is_set()
    await sleeper.advance_to_next()  # 10s without renewal
    with pytest.raises(LeadershipLostError, match="not renewed within 10s"):
        await asyncio.wait_for(task, 2)
    assert cancelled.is_set()
    assert lease(client)["holderIdentity"] == "a"  # not released: it may be unreachable


async def test_a_waiting_candidate_becomes_leader_when_the_holder_stops(client, sleeper):
    assert await elector(client, sleeper, "a").try_acquire_or_renew()
    b = elector(client, sleeper, "b")
    became_leader = asyncio.Event()

    async def work() -> None:
        became_leader.set()

    task = asyncio.create_task(b.run(work))
    while not became_leader.is_set():
        await eventually(lambda: sleeper.pending >= 1 or became_leader.is_set())
        if not became_leader.is_set():
            await sleeper.advance_to_next()
    await asyncio.wait_for(task, 2)
    assert sleeper.clock.now() - dt.datetime(2026, 1, 1, tzinfo=dt.UTC) >= dt.timedelta(seconds=15)
