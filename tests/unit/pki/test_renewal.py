from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from certsmith.api.certmanager import RenewalWindow, RenewalWindowSpec
from certsmith.pki.renewal import (
    WindowError,
    backoff_delay,
    renewal_time,
    renewal_time_for_spec,
    renewal_time_in_windows,
)

UTC = dt.UTC
H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)
D = dt.timedelta(days=1)
NB = dt.datetime(2025, 3, 1, 0, 0, 0, tzinfo=UTC)


def window(cron: str, duration: str = "2h", timezone: str | None = None) -> RenewalWindowSpec:
    return RenewalWindowSpec(cron=cron, window_duration=duration, timezone=timezone)


# --- renewal_time (SPEC §12 behaviour 19) ------------------------------------------------------


@pytest.mark.parametrize(
    ("lifetime", "renew_before", "percentage", "before_expiry"),
    [
        (90 * D, None, None, 30 * D),
        (H, 10 * M, None, 10 * M),
        (H, None, 25, 15 * M),
        (H, None, None, 20 * M),
        (H, 10 * M, 25, 10 * M),  # renewBefore wins over the percentage
        (H, H, 25, 15 * M),  # renewBefore not below the lifetime: ignored
        (H, 2 * H, None, 20 * M),
        (H, dt.timedelta(0), None, 20 * M),  # zero renewBefore: ignored
        (H, None, 100, 20 * M),  # percentage outside (0, 100): ignored
        (H, None, 0, 20 * M),
        (H, None, 150, 20 * M),  # SPEC §10 quirk 5: accepted by admission, ignored here
    ],
)
def test_renewal_time_is_not_after_minus_the_chosen_renew_before(
    lifetime, renew_before, percentage, before_expiry
):
    not_after = NB + lifetime
    got = renewal_time(NB, not_after, renew_before=renew_before, renew_before_percentage=percentage)
    assert got == not_after - before_expiry


def test_renewal_time_uses_the_issued_lifetime_not_the_spec_duration():
    # a CA that cut the lifetime to 30 days: a third of 30 days before expiry
    assert (
        renewal_time(NB, NB + 30 * D, renew_before=None, renew_before_percentage=None)
        == NB + 20 * D
    )


def test_renewal_time_is_truncated_to_the_second():
    # 100s lifetime: a third is 33.333s; notAfter - 33.333s = 66.667s after notBefore -> 66s
    got = renewal_time(
        NB, NB + dt.timedelta(seconds=100), renew_before=None, renew_before_percentage=None
    )
    assert got == NB + dt.timedelta(seconds=66)
    assert got.microsecond == 0
    got = renewal_time(NB, NB + H, renew_before=None, renew_before_percentage=33)
    assert got == NB + dt.timedelta(seconds=2412)  # 60m - 19m48s


def test_renewal_time_of_a_non_utc_certificate_is_returned_in_utc():
    tz = ZoneInfo("Europe/Berlin")
    got = renewal_time(
        NB.astimezone(tz), (NB + 3 * H).astimezone(tz), renew_before=H, renew_before_percentage=None
    )
    assert got == NB + 2 * H
    assert got.tzinfo == UTC


def test_renewal_time_refuses_naive_times():
    with pytest.raises(ValueError, match="not_before must be timezone-aware"):
        renewal_time(
            dt.datetime(2025, 1, 1),
            NB,
            renew_before=None,
            renew_before_percentage=None,
        )
    with pytest.raises(TypeError, match="not_after must be a datetime"):
        renewal_time(NB, "2025", renew_before=None, renew_before_percentage=None)  # type: ignore[arg-type]


# --- windows (SPEC §5.7), cert-manager's renewaltime_test scenarios ----------------------------

F = dt.datetime(2026, 1, 10, tzinfo=UTC)  # "future": a midnight, a Saturday
NOT_BEFORE = F - 15 * D


def test_desired_time_inside_a_window_is_kept():
    got = renewal_time_in_windows(
        F + 10 * H + 30 * M, [window("0 10 * * *")], NOT_BEFORE, F + 48 * H
    )
    assert got == F + 10 * H + 30 * M


def test_desired_time_at_the_end_of_a_window_is_kept():
    got = renewal_time_in_windows(F + 12 * H, [window("0 10 * * *")], NOT_BEFORE, F + 48 * H)
    assert got == F + 12 * H


def test_desired_time_after_a_window_moves_to_the_next_window_start():
    got = renewal_time_in_windows(F + 13 * H, [window("0 10 * * *")], NOT_BEFORE, F + 48 * H)
    assert got == F + 34 * H


def test_desired_time_before_the_first_window_moves_to_its_start():
    got = renewal_time_in_windows(F + 9 * H, [window("0 15 * * *")], NOT_BEFORE, F + 24 * H)
    assert got == F + 15 * H


def test_several_windows_take_the_earliest_start_after_the_desired_time():
    # F is a Saturday: the weekend window (10:00, 4h) opens before the weekday one (23:00 Mon)
    windows = [window("0 23 * * 1-5"), window("0 10 * * 6,0", "4h")]
    assert renewal_time_in_windows(F + 6 * H, windows, NOT_BEFORE, F + 24 * H) == F + 10 * H


def test_a_window_holding_the_desired_time_wins_over_a_later_one():
    windows = [window("0 12 * * *"), window("0 10 * * *", "4h")]
    assert renewal_time_in_windows(F + 11 * H, windows, NOT_BEFORE, F + 48 * H) == F + 11 * H


def test_window_in_another_timezone():
    phoenix = ZoneInfo("America/Phoenix")  # UTC-7, no DST
    desired = dt.datetime(2026, 1, 10, 10, 30, tzinfo=phoenix)
    got = renewal_time_in_windows(
        desired, [window("0 10 * * *", timezone="America/Phoenix")], NOT_BEFORE, F + 48 * H
    )
    assert got == F + 17 * H + 30 * M
    assert got.tzinfo == UTC


def test_window_in_a_timezone_leaving_daylight_saving_time():
    # Denver leaves MDT at 2026-11-01 02:00 local. Desired 2026-10-31 15:30 MDT is after that
    # day's 10:00-12:00 window, so renewal moves to 2026-11-01 10:00 MST = 17:00Z.
    denver = ZoneInfo("America/Denver")
    desired = dt.datetime(2026, 10, 31, 15, 30, tzinfo=denver)
    not_before = dt.datetime(2026, 10, 1, tzinfo=UTC)
    not_after = dt.datetime(2026, 11, 3, tzinfo=UTC)
    got = renewal_time_in_windows(
        desired, [window("0 10 * * *", timezone="America/Denver")], not_before, not_after
    )
    assert got == dt.datetime(2026, 11, 1, 17, 0, tzinfo=UTC)


def test_window_in_a_timezone_entering_daylight_saving_time():
    # New York skips 02:00-03:00 on 2026-03-08: a 02:30 window does not open that day.
    ny = ZoneInfo("America/New_York")
    desired = dt.datetime(2026, 3, 8, 0, 0, tzinfo=ny)
    got = renewal_time_in_windows(
        desired,
        [window("30 2 * * *", "30m", timezone="America/New_York")],
        dt.datetime(2026, 3, 7, 12, tzinfo=UTC),
        dt.datetime(2026, 3, 12, tzinfo=UTC),
    )
    assert got == dt.datetime(2026, 3, 9, 2, 30, tzinfo=ny)


def test_no_window_before_not_after_is_a_window_error_carrying_the_desired_time():
    desired = F + 13 * H + 30 * M
    with pytest.raises(WindowError) as err:
        renewal_time_in_windows(desired, [window("0 10 * * *")], NOT_BEFORE, F + 24 * H)
    assert str(err.value) == (
        "cannot find a time with the given windows between 2025-12-26 00:00:00 +0000 UTC and "
        "2026-01-11 00:00:00 +0000 UTC for: 2026-01-10 13:30:00 +0000 UTC"
    )
    assert err.value.desired == desired


def test_a_schedule_that_never_fires_is_a_window_error():
    with pytest.raises(WindowError, match="cannot find a time"):
        renewal_time_in_windows(F, [window("0 0 31 2 *")], NOT_BEFORE, F + 48 * H)


def test_no_windows_keep_the_desired_time():
    assert renewal_time_in_windows(F, [], NOT_BEFORE, F + 48 * H) == F


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            window("0 10 * * *", timezone="Mars/Olympus"),
            "error parsing timezone in window unknown time zone Mars/Olympus",
        ),
        (
            window("0 10 * *"),
            "error parsing cron in window failed to parse cron spec '0 10 * *': "
            "expected exactly 5 fields, found 4: [0 10 * *]",
        ),
        (window("0 10 * * *", "0s"), "windowDuration must be a positive duration in window '0s'"),
    ],
)
def test_unreadable_windows_are_window_errors(spec, message):
    with pytest.raises(WindowError) as err:
        renewal_time_in_windows(F, [spec], NOT_BEFORE, F + 48 * H)
    assert str(err.value) == message


# --- renewal_time_for_spec ---------------------------------------------------------------------


def test_policy_disabled_means_no_renewal_time():
    renewal = RenewalWindow(policy="Disabled", windows=[window("0 10 * * *")])
    assert (
        renewal_time_for_spec(
            NB, NB + 90 * D, renew_before=None, renew_before_percentage=None, renewal=renewal
        )
        is None
    )


def test_policy_renew_before_applies_the_windows():
    renewal = RenewalWindow(policy="RenewBefore", windows=[window("0 10 * * *")])
    got = renewal_time_for_spec(
        NB, NB + 90 * D, renew_before=None, renew_before_percentage=None, renewal=renewal
    )
    assert got == NB + 60 * D + 10 * H


def test_no_renewal_block_is_the_plain_renewal_time():
    got = renewal_time_for_spec(
        NB, NB + 90 * D, renew_before=None, renew_before_percentage=None, renewal=None
    )
    assert got == NB + 60 * D


def test_renewal_block_without_policy_is_an_error():
    with pytest.raises(WindowError, match=r"^unsupported renewal policy: $"):
        renewal_time_for_spec(
            NB, NB + H, renew_before=None, renew_before_percentage=None, renewal=RenewalWindow()
        )


# --- failure backoff (SPEC §5.4) ---------------------------------------------------------------


def test_backoff_doubles_from_one_hour_up_to_thirty_two():
    schedule = [backoff_delay(n) / H for n in range(1, 9)]
    assert schedule == [1, 2, 4, 8, 16, 32, 32, 32]


@pytest.mark.parametrize("attempts", [None, 0, -3])
def test_backoff_without_attempts_is_the_initial_delay(attempts):
    assert backoff_delay(attempts) == H


def test_backoff_uses_the_configured_bounds_and_stays_cheap_for_huge_counts():
    assert backoff_delay(3, initial=10 * M, maximum=H) == 40 * M
    assert backoff_delay(10**9, initial=10 * M, maximum=H) == H


def test_backoff_refuses_negative_bounds():
    with pytest.raises(ValueError, match="must not be negative"):
        backoff_delay(1, initial=-H)
