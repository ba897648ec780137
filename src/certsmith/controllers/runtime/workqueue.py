"""A work queue of object keys with de-duplication, per-item backoff and delayed adds.

It follows client-go's workqueue contract, because controllers written against it are correct
under it:

* a key queued twice before a worker takes it is processed once (``dirty`` set);
* a key re-added while a worker processes it is not handed to a second worker; it is queued
  again when the first calls :meth:`WorkQueue.done` (``processing`` set), so one key is never
  reconciled concurrently and no change is lost;
* :meth:`WorkQueue.add_rate_limited` delays by ``base * 2**failures`` up to ``max`` per key
  (SPEC §0.4: CertificateRequest/issuer 5s→5min, Certificate 1s→30s, ACME 5s→30min);
  :meth:`WorkQueue.forget` resets the count after a success;
* :meth:`WorkQueue.add_after` keeps the earliest requested time per key in a heap served by a
  single timer task that sleeps until the head is due and is woken only when an earlier item
  arrives, so ten thousand waiting keys cost no CPU while idle. On a clock that can jump (a
  test moving a running process's time, :class:`~certsmith.util.clock.JumpingClock`) a jump
  wakes the timer too, so keys due at the new time are released at once.

"Now" comes from a :class:`~certsmith.util.clock.Clock` and waiting from an injected sleeper, so
tests drive hours of backoff with a fake clock in milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import heapq
import itertools
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from certsmith.util.clock import Clock, JumpingClock, SystemClock

K = TypeVar("K", bound=Hashable)
Sleeper = Callable[[float], Awaitable[None]]


class ShutDownError(Exception):
    """Raised by :meth:`WorkQueue.get` once the queue is shut down."""


@dataclass(frozen=True)
class Backoff:
    """Per-item exponential backoff bounds, in seconds."""

    base: float
    max: float

    def __post_init__(self) -> None:
        if self.base <= 0 or self.max < self.base:
            raise ValueError(f"backoff needs 0 < base <= max, got base={self.base} max={self.max}")

    def delay(self, failures: int) -> float:
        """The wait after ``failures`` earlier failures (0 for the first retry)."""
        # Cap the exponent first: 2**failures overflows a float after ~1000 failures.
        return min(self.base * 2.0 ** min(failures, 64), self.max)


CERTIFICATE_REQUEST_BACKOFF: Final = Backoff(5.0, 300.0)
ISSUER_BACKOFF: Final = Backoff(5.0, 300.0)
CERTIFICATE_BACKOFF: Final = Backoff(1.0, 30.0)
ACME_BACKOFF: Final = Backoff(5.0, 1800.0)


class WorkQueue(Generic[K]):
    """An asyncio work queue; see the module docstring for its contract."""

    def __init__(
        self,
        backoff: Backoff = CERTIFICATE_REQUEST_BACKOFF,
        *,
        clock: Clock | None = None,
        sleep: Sleeper = asyncio.sleep,
        name: str = "",
    ) -> None:
        self.name = name
        self.backoff = backoff
        self._clock = clock or SystemClock()
        self._sleep = sleep
        self._queue: deque[K] = deque()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._getters: deque[asyncio.Future[None]] = deque()
        self._failures: dict[K, int] = {}
        self._heap: list[tuple[float, int, K]] = []
        self._waiting: dict[K, float] = {}
        self._seq = itertools.count()
        self._timer: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        # Checked once: a runtime Protocol check is too slow for every add_after.
        self._listen_jumps = (
            self._clock.add_jump_listener if isinstance(self._clock, JumpingClock) else None
        )
        self._unlisten: Callable[[], None] | None = None
        self._shutting_down = False

    # -- plain queue -----------------------------------------------------------------------

    def add(self, key: K) -> None:
        """Queue ``key`` unless it is already queued; ignored after shutdown."""
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return  # done() queues it again
        self._queue.append(key)
        self._wake_getter()

    async def get(self) -> K:
        """Wait for a key and mark it as being processed; call :meth:`done` afterwards.

        Raises:
            ShutDownError: the queue is shut down.
        """
        while not self._queue:
            if self._shutting_down:
                raise ShutDownError(self.name)
            waiter = asyncio.get_running_loop().create_future()
            self._getters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                # Pass the wake-up on if this getter was chosen just before being cancelled.
                if waiter.done() and not waiter.cancelled() and self._queue:
                    self._wake_getter()
                raise
        if self._shutting_down:
            raise ShutDownError(self.name)
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    def done(self, key: K) -> None:
        """Finish processing ``key``; if it was re-added meanwhile, queue it again."""
        self._processing.discard(key)
        if key in self._dirty and not self._shutting_down:
            self._queue.append(key)
            self._wake_getter()

    def __len__(self) -> int:
        """Keys ready for a worker (not the delayed or in-flight ones)."""
        return len(self._queue)

    @property
    def delayed(self) -> int:
        """Keys waiting for their time in :meth:`add_after`."""
        return len(self._waiting)

    @property
    def processing(self) -> frozenset[K]:
        """Keys handed to a worker and not yet done."""
        return frozenset(self._processing)

    @property
    def is_shut_down(self) -> bool:
        """Whether :meth:`shutdown` was called."""
        return self._shutting_down

    # -- rate limiting ---------------------------------------------------------------------

    def add_rate_limited(self, key: K, *, at_least: float = 0.0) -> float:
        """Queue ``key`` after its next backoff delay; return that delay in seconds.

        ``at_least`` raises the delay, e.g. to honour a server's Retry-After.
        """
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        delay = max(self.backoff.delay(failures), at_least)
        self.add_after(key, delay)
        return delay

    def forget(self, key: K) -> None:
        """Reset the backoff of ``key`` (after a successful reconcile)."""
        self._failures.pop(key, None)

    def num_requeues(self, key: K) -> int:
        """How many rate-limited re-adds ``key`` has had since it was last forgotten."""
        return self._failures.get(key, 0)

    # -- delayed adds ----------------------------------------------------------------------

    def add_after(self, key: K, delay: float | dt.timedelta) -> None:
        """Queue ``key`` after ``delay``; an earlier pending time for the same key wins."""
        seconds = delay.total_seconds() if isinstance(delay, dt.timedelta) else float(delay)
        if self._shutting_down:
            return
        if seconds <= 0:
            self.add(key)
            return
        due = self._now() + seconds
        current = self._waiting.get(key)
        if current is not None and current <= due:
            return
        self._waiting[key] = due
        head = self._heap[0][0] if self._heap else None
        heapq.heappush(self._heap, (due, next(self._seq), key))
        self._ensure_timer()
        if head is None or due < head:
            self._wake.set()  # the timer sleeps for too long now

    def _now(self) -> float:
        return self._clock.now().timestamp()

    def _ensure_timer(self) -> None:
        if self._listen_jumps is not None and self._unlisten is None:
            self._unlisten = self._listen_jumps(self._wake.set)
        if self._timer is None or self._timer.done():
            self._timer = asyncio.get_running_loop().create_task(
                self._run_timer(), name=f"workqueue-timer-{self.name}"
            )

    async def _run_timer(self) -> None:
        while not self._shutting_down:
            self._release_due()
            self._wake.clear()
            if not self._heap:
                await self._wake.wait()
                continue
            wait = self._heap[0][0] - self._now()
            sleeper = asyncio.ensure_future(self._sleep(wait))
            waker = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait((sleeper, waker), return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (sleeper, waker):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    def _release_due(self) -> None:
        now = self._now()
        while self._heap and self._heap[0][0] <= now:
            due, _, key = heapq.heappop(self._heap)
            if (
                self._waiting.get(key) == due
            ):  # otherwise a stale entry superseded by an earlier one
                del self._waiting[key]
                self.add(key)

    # -- lifecycle -------------------------------------------------------------------------

    async def shutdown(self) -> None:
        """Stop handing out keys: waiting and future :meth:`get` calls raise ShutDownError."""
        self._shutting_down = True
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer

    def _wake_getter(self) -> None:
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
