from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certsmith.pki.cron import CronParseError, SpecSchedule, parse_cron

UTC = dt.UTC


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def nexts(expression: str, start: dt.datetime, count: int, timezone: str = "") -> list[str]:
    schedule = parse_cron(expression, timezone)
    out: list[str] = []
    t = start
    for _ in range(count):
        nxt = schedule.next_after(t)
        assert nxt is not None
        out.append(nxt.isoformat())
        t = nxt
    return out


@pytest.mark.parametrize(
    ("expression", "start", "expected"),
    [
        (
            "0 10 * * *",
            at(2025, 1, 1, 9, 0),
            ["2025-01-01T10:00:00+00:00", "2025-01-02T10:00:00+00:00"],
        ),
        (
            "0 10 * * *",
            at(2025, 1, 1, 10, 0),
            ["2025-01-02T10:00:00+00:00", "2025-01-03T10:00:00+00:00"],
        ),
        (
            "*/20 * * * *",
            at(2025, 1, 1, 0, 5),
            ["2025-01-01T00:20:00+00:00", "2025-01-01T00:40:00+00:00"],
        ),
        (
            "5/20 1 * * *",
            at(2025, 1, 1),
            ["2025-01-01T01:05:00+00:00", "2025-01-01T01:25:00+00:00"],
        ),
        (
            "0 0 * * MON-fri",
            at(2025, 1, 3, 1),
            ["2025-01-06T00:00:00+00:00", "2025-01-07T00:00:00+00:00"],
        ),
        (
            "0 0 1 jan,JUL *",
            at(2025, 1, 3),
            ["2025-07-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00"],
        ),
        (
            "30 2 1,15 * 1-3",
            at(2025, 1, 1),
            ["2025-01-01T02:30:00+00:00", "2025-01-06T02:30:00+00:00"],
        ),
        ("0 0 29 2 *", at(2025, 1, 1), ["2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00"]),
        ("@daily", at(2025, 1, 1, 12), ["2025-01-02T00:00:00+00:00", "2025-01-03T00:00:00+00:00"]),
        ("@weekly", at(2025, 1, 1), ["2025-01-05T00:00:00+00:00", "2025-01-12T00:00:00+00:00"]),
        ("@monthly", at(2025, 1, 1), ["2025-02-01T00:00:00+00:00", "2025-03-01T00:00:00+00:00"]),
        ("@yearly", at(2025, 1, 1), ["2026-01-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00"]),
        (
            "@hourly",
            at(2025, 1, 1, 0, 30),
            ["2025-01-01T01:00:00+00:00", "2025-01-01T02:00:00+00:00"],
        ),
    ],
)
def test_next_after_steps_through_the_schedule(expression, start, expected):
    assert nexts(expression, start, 2) == expected


def test_next_after_is_strictly_after_the_second_it_is_given():
    schedule = parse_cron("0 10 * * *")
    assert schedule.next_after(at(2025, 1, 1, 9, 59, 59, 999999)) == at(2025, 1, 1, 10)
    assert schedule.next_after(at(2025, 1, 1, 10, 0, 0, 500)) == at(2025, 1, 2, 10)


def test_day_of_month_and_day_of_week_are_or_ed_when_both_are_restricted():
    # The 13th or any Friday (Vixie cron); 2025-06-06 is a Friday, 2025-06-13 both.
    assert nexts("0 0 13 * 5", at(2025, 6, 1), 3) == [
        "2025-06-06T00:00:00+00:00",
        "2025-06-13T00:00:00+00:00",
        "2025-06-20T00:00:00+00:00",
    ]


def test_a_star_in_either_day_field_makes_both_required():
    # "*" day of month with Friday: only Fridays; "*/1" still counts as a star, "*/2" does not.
    assert nexts("0 0 * * 5", at(2025, 6, 1), 1) == ["2025-06-06T00:00:00+00:00"]
    assert nexts("0 0 */1 * 5", at(2025, 6, 1), 1) == ["2025-06-06T00:00:00+00:00"]
    # odd days of month OR Fridays: the 1st (Sunday) is after the start, the 3rd is odd.
    assert nexts("0 0 */2 * 5", at(2025, 6, 1, 1), 2) == [
        "2025-06-03T00:00:00+00:00",
        "2025-06-05T00:00:00+00:00",
    ]


def test_timezone_shifts_the_wall_clock():
    assert nexts("0 10 * * *", at(2025, 1, 1), 1, "America/Phoenix") == [
        "2025-01-01T17:00:00+00:00"
    ]
    assert nexts("CRON_TZ=Asia/Tokyo 0 10 * * *", at(2025, 1, 1), 1) == [
        "2025-01-01T01:00:00+00:00"
    ]


def test_a_wall_time_skipped_by_spring_forward_starts_no_window():
    # America/New_York skips 02:00-03:00 on 2025-03-09.
    assert nexts("30 2 * * *", at(2025, 3, 8, 12), 2, "America/New_York") == [
        "2025-03-10T06:30:00+00:00",
        "2025-03-11T06:30:00+00:00",
    ]


def test_a_wall_time_repeated_by_fall_back_starts_a_window_at_each_instant():
    # 01:30 happens at 05:30Z (EDT) and 06:30Z (EST) on 2025-11-02.
    assert nexts("30 1 * * *", at(2025, 11, 2), 3, "America/New_York") == [
        "2025-11-02T05:30:00+00:00",
        "2025-11-02T06:30:00+00:00",
        "2025-11-03T06:30:00+00:00",
    ]


def test_schedule_that_never_fires_has_no_next():
    assert parse_cron("0 0 31 2 *").next_after(at(2025, 1, 1)) is None


def test_every_descriptor_is_a_constant_delay():
    schedule = parse_cron("@every 90m")
    assert schedule.next_after(at(2025, 1, 1, 0, 0, 0, 7)) == at(2025, 1, 1, 1, 30)


def test_spec_schedule_is_evaluated_in_its_zone():
    schedule = parse_cron("0 0 * * *", "Europe/Berlin")
    assert isinstance(schedule, SpecSchedule)
    assert schedule.zone == ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("expression", "timezone", "message"),
    [
        ("", "", "failed to parse cron spec '': empty spec string"),
        (
            "0 10 * *",
            "",
            "failed to parse cron spec '0 10 * *': expected exactly 5 fields, found 4: [0 10 * *]",
        ),
        (
            "0 10 * * 7",
            "",
            "failed to parse cron spec '0 10 * * 7': end of range (7) above maximum (6): 7",
        ),
        (
            "0 24 * * *",
            "",
            "failed to parse cron spec '0 24 * * *': end of range (24) above maximum (23): 24",
        ),
        (
            "0 0 0 * *",
            "",
            "failed to parse cron spec '0 0 0 * *': beginning of range (0) below minimum (1): 0",
        ),
        (
            "5-1 * * * *",
            "",
            "failed to parse cron spec '5-1 * * * *': "
            "beginning of range (5) beyond end of range (1): 5-1",
        ),
        (
            "*/0 * * * *",
            "",
            "failed to parse cron spec '*/0 * * * *': "
            "step of range should be a positive number: */0",
        ),
        ("1-2-3 * * * *", "", "failed to parse cron spec '1-2-3 * * * *': too many hyphens: 1-2-3"),
        ("1/2/3 * * * *", "", "failed to parse cron spec '1/2/3 * * * *': too many slashes: 1/2/3"),
        (
            "x * * * *",
            "",
            "failed to parse cron spec 'x * * * *': "
            'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax',
        ),
        (
            "@fortnightly",
            "",
            "failed to parse cron spec '@fortnightly': unrecognized descriptor: @fortnightly",
        ),
        (
            "0 0 * * *",
            "Mars/Olympus",
            "failed to parse cron spec '0 0 * * *': "
            "provided bad location Mars/Olympus: unknown time zone Mars/Olympus",
        ),
    ],
)
def test_bad_expressions_fail_with_robfig_wording(expression, timezone, message):
    with pytest.raises(CronParseError) as err:
        parse_cron(expression, timezone)
    assert str(err.value) == message


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_cron("* * * * *").next_after(dt.datetime(2025, 1, 1))


ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata"]


def brute_force_next(schedule: SpecSchedule, t: dt.datetime, limit_days: int) -> dt.datetime | None:
    """Every UTC minute after ``t`` whose wall-clock time in the zone matches the fields."""
    instant = t.astimezone(UTC).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    for _ in range(limit_days * 1440):
        wall = instant.astimezone(schedule.zone)
        dom = wall.day in schedule.dom.values
        dow = (wall.isoweekday() % 7) in schedule.dow.values
        day = dom and dow if schedule.dom.star or schedule.dow.star else dom or dow
        if (
            day
            and wall.minute in schedule.minute.values
            and wall.hour in schedule.hour.values
            and wall.month in schedule.month.values
        ):
            return instant
        instant += dt.timedelta(minutes=1)
    return None


@settings(max_examples=150, deadline=None)
@given(
    minutes=st.sets(st.integers(0, 59), min_size=1, max_size=3),
    hours=st.sets(st.integers(0, 23), min_size=1, max_size=4),
    dow=st.sets(st.integers(0, 6), min_size=1, max_size=7) | st.none(),
    zone=st.sampled_from(ZONES),
    # around the 2025 DST changes of the zones above
    start=st.sampled_from(
        [
            dt.datetime(2025, 3, 8, 20, tzinfo=UTC),
            dt.datetime(2025, 3, 29, 20, tzinfo=UTC),
            dt.datetime(2025, 4, 5, 10, tzinfo=UTC),
            dt.datetime(2025, 10, 4, 10, tzinfo=UTC),
            dt.datetime(2025, 10, 25, 20, tzinfo=UTC),
            dt.datetime(2025, 11, 1, 20, tzinfo=UTC),
        ]
    ),
    offset=st.integers(0, 48 * 60),
)
def test_next_after_agrees_with_a_minute_by_minute_scan(minutes, hours, dow, zone, start, offset):
    dow_field = "*" if dow is None else ",".join(map(str, sorted(dow)))
    expression = (
        f"{','.join(map(str, sorted(minutes)))} {','.join(map(str, sorted(hours)))} * * {dow_field}"
    )
    schedule = parse_cron(expression, zone)
    assert isinstance(schedule, SpecSchedule)
    t = start + dt.timedelta(minutes=offset, seconds=offset % 60)
    assert schedule.next_after(t) == brute_force_next(schedule, t, limit_days=8)
