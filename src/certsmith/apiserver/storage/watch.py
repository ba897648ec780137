"""Watch fan-out: one in-memory event ring shared by every watcher, SQLite behind it.

Decisions made here:

* The writer publishes each committed batch's events once, into a ring of the most recent
  events (dense revisions, so an event is found by arithmetic, not search). Watchers do not
  get queues of their own: each keeps a cursor (the last revision it has looked at) and
  slices the ring from there, filtering by prefix. Encoding happens once, at write time, and
  every watcher yields the same :class:`WatchEvent` object.
* A wake-up is an :class:`asyncio.Event` replaced at every publish: every waiting watcher wakes,
  and cancelling one waiter cannot disturb the others (a shared future would be cancelled).
* A watcher that falls behind the ring, or resumes from an older revision, reads the change
  log back from SQLite in chunks until it reaches the ring. Slow watchers cost memory only
  for the chunk they are working on and never hold up writers or other watchers.
* If the revisions it still needs were compacted meanwhile, iteration raises
  :class:`GoneError` (the HTTP layer sends it as a 410 ``ERROR`` event); when the store
  closes, iteration simply ends.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Final, Self

from certsmith.apiserver.storage.model import ResourcePrefix, WatchEvent

ReadEvents = Callable[[ResourcePrefix, int, int, int], Awaitable[list[WatchEvent]]]
"""``(prefix, after, upper, limit)`` → logged events with ``after < revision <= upper``."""

_CHUNK: Final = 1_000


class EventHub:
    """The loop-side state watchers read: published revision, compaction mark, event ring."""

    def __init__(self, revision: int, compacted: int, capacity: int, read: ReadEvents) -> None:
        self.revision = revision
        """The newest revision whose events have been published."""
        self.compacted = compacted
        self.closed = False
        self.read = read
        self._capacity = capacity
        self._ring: list[WatchEvent] = []
        self._first = revision + 1
        self._changed = asyncio.Event()

    def publish(self, events: Iterable[WatchEvent], revision: int, compacted: int) -> None:
        """Append a committed batch's events (in revision order) and wake every watcher."""
        added = False
        for event in events:
            if event.revision != self._first + len(self._ring):
                raise AssertionError(
                    f"event {event.revision} breaks the revision sequence at "
                    f"{self._first + len(self._ring)}"
                )
            self._ring.append(event)
            added = True
        if len(self._ring) > 2 * self._capacity:
            drop = len(self._ring) - self._capacity
            del self._ring[:drop]
            self._first += drop
        if not self._ring:
            self._first = revision + 1
        self.revision = max(self.revision, revision)
        self.compacted = max(self.compacted, compacted)
        if added:
            self._wake()

    def close(self) -> None:
        """End every watch."""
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait(self) -> None:
        """Return after the next publish (or close)."""
        await self._changed.wait()

    def slice_after(self, cursor: int) -> list[WatchEvent] | None:
        """Up to a chunk of ring events after ``cursor``; ``None`` if the ring starts later."""
        if cursor + 1 < self._first:
            return None
        start = cursor + 1 - self._first
        return self._ring[start : start + _CHUNK]

    @property
    def first(self) -> int:
        """The oldest revision still in the ring (or the next one, when it is empty)."""
        return self._first


class Watch:
    """An ordered, gap-free stream of the changes under a prefix; use ``async for``.

    Iteration ends when the store closes or :meth:`close` is called; it raises
    :class:`~certsmith.apiserver.storage.errors.GoneError` if the changes it still has to
    deliver were compacted. Cancelling a pending ``__anext__`` is safe: nothing is lost.
    """

    def __init__(
        self,
        hub: EventHub,
        prefix: ResourcePrefix,
        cursor: int,
        initial: list[WatchEvent],
    ) -> None:
        self._hub = hub
        self._prefix = prefix
        self._cursor = cursor
        self._pending: deque[WatchEvent] = deque(initial)
        self._progress: int | None = None if initial else cursor
        self._closed = False

    @property
    def prefix(self) -> ResourcePrefix:
        """What this watch covers."""
        return self._prefix

    @property
    def progress_revision(self) -> int | None:
        """A revision every change up to which has been yielded, for a ``BOOKMARK``.

        ``None`` until the initial events (if any) have all been yielded.
        """
        return self._progress

    def close(self) -> None:
        """Stop the watch; a pending or later ``__anext__`` ends the iteration."""
        self._closed = True
        self._pending.clear()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> WatchEvent:
        while not self._pending:
            self._progress = self._cursor
            if self._closed or self._hub.closed:
                raise StopAsyncIteration
            await self._fill()
        if self._closed:
            raise StopAsyncIteration
        return self._pending.popleft()

    async def _fill(self) -> None:
        hub = self._hub
        cursor = self._cursor
        if cursor >= hub.revision:
            await hub.wait()
            return
        chunk = hub.slice_after(cursor)
        if chunk is not None:
            if chunk:
                self._cursor = chunk[-1].revision
                prefix = self._prefix
                self._pending.extend(
                    e for e in chunk if e.key is not None and prefix.matches(e.key)
                )
            else:  # nothing in the ring yet beyond cursor
                await hub.wait()
            return
        upper = hub.first - 1
        events = await hub.read(self._prefix, cursor, upper, _CHUNK)
        if self._cursor != cursor:  # pragma: no cover - one consumer per watch
            return
        self._cursor = events[-1].revision if len(events) == _CHUNK else upper
        self._pending.extend(events)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
