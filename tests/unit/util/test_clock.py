import datetime as dt

import pytest

from certsmith.util.clock import FakeClock, SystemClock


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
