"""The expiry timeline: what expires or renews in the next hours, days and weeks.

Three panels look at the same events at three zoom levels (24 hourly, 14 daily, 12 weekly
buckets from now), so an expiry two hours ahead shows in the first bar of each. Events already in
the past are counted apart (expired certificates, overdue renewals) instead of being drawn. The
geometry of the bars is computed here, so the template only places rectangles (inline SVG: no
JavaScript and nothing fetched from elsewhere).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from certsmith.web.model import CertificateRow


@dataclass(frozen=True)
class Scale:
    """One panel's zoom level: how many buckets of which width, and how to label them."""

    title: str
    step: dt.timedelta
    count: int
    label_format: str


SCALES: Final = (
    Scale("Next 24 hours (hourly, UTC)", dt.timedelta(hours=1), 24, "%H:00"),
    Scale("Next 14 days (daily)", dt.timedelta(days=1), 14, "%a %d"),
    Scale("Next 12 weeks (weekly)", dt.timedelta(weeks=1), 12, "%b %d"),
)


@dataclass(frozen=True)
class Bucket:
    """``[start, end)`` and how many expiries and renewals fall in it."""

    start: dt.datetime
    end: dt.datetime
    label: str
    expiries: int
    renewals: int


@dataclass(frozen=True)
class Bar:
    """The rectangles and label of one bucket in SVG user units."""

    bucket: Bucket
    x: float
    width: float
    expiry_y: float
    expiry_height: float
    renewal_y: float
    renewal_height: float
    show_label: bool


@dataclass(frozen=True)
class Panel:
    """One chart: its title, buckets, and their bars."""

    title: str
    buckets: tuple[Bucket, ...]
    bars: tuple[Bar, ...]
    peak: int

    @property
    def total_expiries(self) -> int:
        """Expiries within the panel's range."""
        return sum(b.expiries for b in self.buckets)

    @property
    def total_renewals(self) -> int:
        """Renewals within the panel's range."""
        return sum(b.renewals for b in self.buckets)


@dataclass(frozen=True)
class Timeline:
    """Every panel, plus the events that already happened."""

    panels: tuple[Panel, ...]
    expired: int
    renewals_overdue: int


CHART_WIDTH: Final = 360.0
CHART_HEIGHT: Final = 110.0
"""Plot area in SVG user units; the SVG scales to its box, labels sit below this height."""


def _truncate(now: dt.datetime, step: dt.timedelta) -> dt.datetime:
    """Bucket boundaries fall on whole hours (hourly) or whole days (coarser), in UTC."""
    now = now.astimezone(dt.UTC)
    if step < dt.timedelta(days=1):
        return now.replace(minute=0, second=0, microsecond=0)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def buckets(rows: Sequence[CertificateRow], now: dt.datetime, scale: Scale) -> tuple[Bucket, ...]:
    """Count expiries (``notAfter``) and renewals (``renewalTime``) per bucket of ``scale``.

    The first bucket starts at the boundary at or before ``now``, but only events after ``now``
    are counted: past ones belong to the expired / overdue figures.
    """
    origin = _truncate(now, scale.step)
    result: list[Bucket] = []
    for index in range(scale.count):
        start = origin + index * scale.step
        end = start + scale.step
        result.append(
            Bucket(
                start=start,
                end=end,
                label=start.strftime(scale.label_format),
                expiries=sum(
                    1
                    for r in rows
                    if r.not_after and now < r.not_after and start <= r.not_after < end
                ),
                renewals=sum(
                    1
                    for r in rows
                    if r.renewal_time and now < r.renewal_time and start <= r.renewal_time < end
                ),
            )
        )
    return tuple(result)


def layout(title: str, items: tuple[Bucket, ...]) -> Panel:
    """Place the bars: per bucket, expiries then renewals side by side, scaled to the peak."""
    peak = max((max(b.expiries, b.renewals) for b in items), default=0)
    slot = CHART_WIDTH / max(len(items), 1)
    width = slot * 0.38
    label_every = max(1, -(-len(items) // 7))  # at most 7 labels: they must not overlap

    def height(count: int) -> float:
        return 0.0 if peak == 0 else CHART_HEIGHT * count / peak

    bars = []
    for index, bucket in enumerate(items):
        x = index * slot + slot * 0.1
        eh, rh = height(bucket.expiries), height(bucket.renewals)
        bars.append(
            Bar(
                bucket=bucket,
                x=round(x, 2),
                width=round(width, 2),
                expiry_y=round(CHART_HEIGHT - eh, 2),
                expiry_height=round(eh, 2),
                renewal_y=round(CHART_HEIGHT - rh, 2),
                renewal_height=round(rh, 2),
                show_label=index % label_every == 0,
            )
        )
    return Panel(title=title, buckets=items, bars=tuple(bars), peak=peak)


def timeline(rows: Sequence[CertificateRow], now: dt.datetime) -> Timeline:
    """The three panels and the past-event counts for ``rows``."""
    return Timeline(
        panels=tuple(layout(s.title, buckets(rows, now, s)) for s in SCALES),
        expired=sum(1 for r in rows if r.not_after is not None and r.not_after <= now),
        renewals_overdue=sum(
            1
            for r in rows
            if r.renewal_time is not None
            and r.renewal_time <= now
            and (r.not_after is None or r.not_after > now)
        ),
    )
