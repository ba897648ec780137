"""The expiry timeline: bucketing at three zoom levels, past events apart, bar geometry."""

from __future__ import annotations

import datetime as dt

import pytest

from certsmith.web.model import CertificateRow, State
from certsmith.web.timeline import CHART_HEIGHT, SCALES, buckets, layout, timeline

NOW = dt.datetime(2026, 11, 27, 12, 30, tzinfo=dt.UTC)  # a Friday, half past the hour


def row(not_after: dt.timedelta | None, renewal: dt.timedelta | None = None) -> CertificateRow:
    return CertificateRow(
        namespace="ns",
        name="c",
        state=State.READY,
        reason="",
        message="",
        issuer_kind="Issuer",
        issuer_name="ca",
        secret_name="s",
        dns_names=(),
        not_after=None if not_after is None else NOW + not_after,
        renewal_time=None if renewal is None else NOW + renewal,
        time_left=not_after,
        failures=0,
        issuing=False,
    )


HOURLY, DAILY, WEEKLY = SCALES


@pytest.mark.parametrize(
    ("offset", "scale", "index"),
    [
        (dt.timedelta(minutes=10), HOURLY, 0),  # 12:40 is in the 12:00 bucket
        (dt.timedelta(minutes=31), HOURLY, 1),  # 13:01
        (dt.timedelta(hours=23), HOURLY, 23),  # 11:30 tomorrow
        (dt.timedelta(hours=11, minutes=29), DAILY, 0),  # 23:59 today
        (dt.timedelta(hours=11, minutes=30), DAILY, 1),  # midnight
        (dt.timedelta(days=6), WEEKLY, 0),
        (dt.timedelta(days=7), WEEKLY, 1),
        (dt.timedelta(weeks=11, days=6), WEEKLY, 11),
    ],
)
def test_an_expiry_lands_in_the_bucket_that_contains_it(offset, scale, index) -> None:
    counts = [b.expiries for b in buckets([row(offset)], NOW, scale)]
    assert counts == [1 if i == index else 0 for i in range(scale.count)]


def test_events_beyond_the_range_or_in_the_past_are_not_drawn() -> None:
    rows = [row(dt.timedelta(hours=25)), row(-dt.timedelta(minutes=5)), row(None)]
    assert sum(b.expiries for b in buckets(rows, NOW, HOURLY)) == 0


def test_renewals_are_counted_apart_from_expiries() -> None:
    hourly = buckets([row(dt.timedelta(days=30), dt.timedelta(hours=2))], NOW, HOURLY)
    assert [(b.expiries, b.renewals) for b in hourly[2:3]] == [(0, 1)]
    assert sum(b.expiries for b in hourly) == 0


def test_bucket_labels_and_boundaries_are_utc() -> None:
    first, second = buckets([], NOW, DAILY)[:2]
    assert first.start == dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
    assert (first.label, second.label) == ("Fri 27", "Sat 28")
    assert buckets([], NOW, HOURLY)[1].label == "13:00"


def test_timeline_counts_expired_and_overdue_renewals() -> None:
    rows = [
        row(-dt.timedelta(days=1), -dt.timedelta(days=5)),  # expired: not also "overdue"
        row(dt.timedelta(days=3), -dt.timedelta(hours=1)),  # renewal overdue
        row(dt.timedelta(days=3), dt.timedelta(days=1)),
    ]
    result = timeline(rows, NOW)
    assert (result.expired, result.renewals_overdue) == (1, 1)
    assert [p.total_expiries for p in result.panels] == [0, 2, 2]
    assert [p.total_renewals for p in result.panels] == [0, 1, 1]


def test_bars_scale_to_the_tallest_and_labels_do_not_crowd() -> None:
    rows = [row(dt.timedelta(hours=1))] * 4 + [row(dt.timedelta(hours=3))] * 2
    panel = layout("t", buckets(rows, NOW, HOURLY))
    assert panel.peak == 4
    heights = [bar.expiry_height for bar in panel.bars if bar.expiry_height]
    assert heights == [CHART_HEIGHT, CHART_HEIGHT / 2]
    assert panel.bars[1].expiry_y == 0
    assert sum(bar.show_label for bar in panel.bars) <= 7


def test_an_empty_panel_has_no_bars_of_height() -> None:
    panel = layout("t", buckets([], NOW, WEEKLY))
    assert panel.peak == 0
    assert all(bar.expiry_height == bar.renewal_height == 0 for bar in panel.bars)
