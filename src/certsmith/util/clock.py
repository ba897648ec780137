"""One source of time for the whole program.

Renewal and backoff are hours or days apart in real life; tests must cover them in
seconds. Everything that needs "now" takes a :class:`Clock`, never ``datetime.now``.

In-process tests use :class:`FakeClock` (with a fake sleeper). End-to-end tests cannot reach
into a ``certsmith serve`` process, so that process can run on an :class:`OffsetFileClock`
(hidden flag ``--clock-offset-file``): the wall clock plus an offset a test writes to a file.
Such a clock jumps, so it is a :class:`JumpingClock` and wakes whatever sleeps until a time read
from it (docs/decisions.md, "A clock tests can move in a running process").
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

log = logging.getLogger(__name__)


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


JumpListener = Callable[[], None]


@runtime_checkable
class JumpingClock(Protocol):
    """A clock that can jump (a test moving time), and says so.

    Whoever sleeps until a time read from the clock (the work queues' delayed keys) listens, so
    a jump releases what is now due instead of waiting out a sleep computed before it.
    """

    def now(self) -> dt.datetime:
        """Return the current time, timezone-aware, in UTC."""
        ...

    def add_jump_listener(self, listener: JumpListener) -> Callable[[], None]:
        """Call ``listener`` (on the event loop) after each jump; returns the unsubscriber."""
        ...


class OffsetFileClock:
    """The wall clock plus an offset in seconds read from a file: a test-only clock.

    ``certsmith serve --clock-offset-file PATH`` (and ``certsmith controller``) run their
    controllers on it, so end-to-end tests can move a running process hours or days ahead by
    writing a number to ``PATH`` (docs/testing.md). A missing or empty file means offset 0; a
    file that does not parse keeps the previous offset (with a warning), so a half-written file
    never moves time backwards. The file is re-read every ``poll_interval`` seconds while
    :meth:`watching` runs, and listeners hear of every change. Production code never builds one.
    """

    def __init__(self, path: Path, *, poll_interval: float = 0.5) -> None:
        self.path = path
        self.poll_interval = poll_interval
        self._offset = dt.timedelta(0)
        self._listeners: list[JumpListener] = []
        self.refresh()

    def now(self) -> dt.datetime:
        """Return the wall-clock time moved by the file's offset."""
        return dt.datetime.now(dt.UTC) + self._offset

    @property
    def offset(self) -> dt.timedelta:
        """The offset last read from the file."""
        return self._offset

    def add_jump_listener(self, listener: JumpListener) -> Callable[[], None]:
        """Call ``listener`` after each offset change; returns the unsubscriber."""
        self._listeners.append(listener)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return remove

    def refresh(self) -> bool:
        """Re-read the file; tell the listeners and return ``True`` if the offset changed."""
        try:
            text = self.path.read_text().strip()
        except FileNotFoundError:
            text = ""
        except OSError as exc:
            log.warning("clock offset file %s: %s; keeping offset %s", self.path, exc, self._offset)
            return False
        try:
            seconds = float(text) if text else 0.0
            offset = dt.timedelta(seconds=seconds)
        except (ValueError, OverflowError):
            log.warning(
                "clock offset file %s: %r is not a number of seconds; keeping offset %s",
                self.path,
                text[:40],
                self._offset,
            )
            return False
        if offset == self._offset:
            return False
        moved = offset - self._offset
        log.info("clock offset file %s: moved by %s, offset now %s", self.path, moved, offset)
        self._offset = offset
        for listener in list(self._listeners):
            listener()
        return True

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[None]:
        """Follow the file (poll every ``poll_interval`` seconds) while inside."""
        task = asyncio.get_running_loop().create_task(self._poll(), name="clock-offset-file")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            self.refresh()


def following(clock: Clock) -> contextlib.AbstractAsyncContextManager[None]:
    """Keep ``clock`` current while inside: an :class:`OffsetFileClock` watches its file."""
    if isinstance(clock, OffsetFileClock):
        return clock.watching()
    return contextlib.nullcontext()
