"""One source of time for the whole program.

Renewal and backoff are hours or days apart in real life; tests must cover them in
seconds. Everything that needs "now" takes a :class:`Clock`, never ``datetime.now``.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol


class Clock(Protocol):
    """Tells the current time as an aware UTC datetime."""

    def now(self) -> dt.datetime:
        """Return the current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> dt.datetime:
        """Return the wall-clock time in UTC."""
        return dt.datetime.now(dt.UTC)


class FakeClock:
    """A clock that moves only when told to; for tests."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        start = start or dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        if start.tzinfo is None:
            raise ValueError("FakeClock start must be timezone-aware")
        self._now = start.astimezone(dt.UTC)

    def now(self) -> dt.datetime:
        """Return the fake current time."""
        return self._now

    def advance(self, delta: dt.timedelta) -> None:
        """Move time forward by ``delta``."""
        if delta < dt.timedelta(0):
            raise ValueError("time only moves forward")
        self._now += delta

    def set(self, when: dt.datetime) -> None:
        """Jump to ``when`` (which must not be in the fake past)."""
        self.advance(when.astimezone(dt.UTC) - self._now)
