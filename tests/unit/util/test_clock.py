import asyncio
import datetime as dt

import pytest

from certsmith.util.clock import (
    FakeClock,
    JumpingClock,
    OffsetFileClock,
    SystemClock,
    following,
)


def test_system_clock_is_timezone_aware_utc():
    assert SystemClock().now().utcoffset() == dt.timedelta(0)


def test_fake_clock_moves_only_when_advanced():
    clock = FakeClock(dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    assert clock.now() == dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    clock.advance(dt.timedelta(hours=5))
    assert clock.now() == dt.datetime(2030, 1, 1, 5, tzinfo=dt.UTC)


def test_fake_clock_refuses_to_go_backwards():
    clock = FakeClock()
    with pytest.raises(ValueError, match="forward"):
        clock.advance(dt.timedelta(seconds=-1))


def test_fake_clock_refuses_naive_start():
    with pytest.raises(ValueError, match="timezone-aware"):
        FakeClock(dt.datetime(2030, 1, 1))


# -- OffsetFileClock: the clock end-to-end tests move through a file ----------------------------


def offset_clock(tmp_path, text: str | None = None) -> OffsetFileClock:
    path = tmp_path / "offset"
    if text is not None:
        path.write_text(text)
    return OffsetFileClock(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, dt.timedelta(0)),
        ("", dt.timedelta(0)),
        ("3600", dt.timedelta(hours=1)),
        (" 90.5\n", dt.timedelta(seconds=90.5)),
        ("-60", dt.timedelta(minutes=-1)),
    ],
)
def test_offset_file_clock_reads_seconds_from_the_file(tmp_path, text, expected):
    clock = offset_clock(tmp_path, text)
    assert clock.offset == expected
    real = dt.datetime.now(dt.UTC)
    assert clock.now() - real - expected < dt.timedelta(seconds=5)
    assert clock.now() - real - expected > dt.timedelta(seconds=-5)
    assert clock.now().utcoffset() == dt.timedelta(0)


def test_offset_file_clock_keeps_its_offset_when_the_file_does_not_parse(tmp_path, caplog):
    clock = offset_clock(tmp_path, "120")
    clock.path.write_text("tomorrow")
    assert clock.refresh() is False
    assert clock.offset == dt.timedelta(minutes=2)
    assert "not a number of seconds" in caplog.text


def test_offset_file_clock_tells_listeners_of_each_change_until_unsubscribed(tmp_path):
    clock = offset_clock(tmp_path)
    heard: list[dt.timedelta] = []
    unsubscribe = clock.add_jump_listener(lambda: heard.append(clock.offset))
    clock.path.write_text("60")
    assert clock.refresh() is True
    assert clock.refresh() is False  # unchanged: no second notification
    unsubscribe()
    clock.path.write_text("120")
    clock.refresh()
    assert heard == [dt.timedelta(minutes=1)]
    assert clock.offset == dt.timedelta(minutes=2)


async def test_offset_file_clock_follows_the_file_while_watching(tmp_path):
    clock = OffsetFileClock(tmp_path / "offset", poll_interval=0.01)
    jumped = asyncio.Event()
    clock.add_jump_listener(jumped.set)
    async with following(clock):
        clock.path.write_text("86400")
        await asyncio.wait_for(jumped.wait(), timeout=30)
    assert clock.offset == dt.timedelta(days=1)
    assert isinstance(clock, JumpingClock)
    assert not isinstance(SystemClock(), JumpingClock)
    assert not isinstance(FakeClock(), JumpingClock)
