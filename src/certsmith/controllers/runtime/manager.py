"""The manager: runs controllers (informers, a work queue, workers) and stops them cleanly.

A controller is data — a name, its informers, its queue, a reconcile function and a worker
count — so composing the program is a list, not a registration side effect. The manager owns
the result contract of a reconcile (STYLE "Reconciler shape"):

* ``None`` → done: the key's backoff is forgotten; the next event queues it again;
* ``Requeue(after=…)`` → done for now, look again after the delay (renewal, pending orders);
* an exception → transient failure: log, re-queue with the per-item exponential backoff
  (honouring a server's Retry-After for 429).

Every reconcile counts in cert-manager's ``certmanager_controller_sync_call_count`` and its
duration in ``certsmith_controller_reconcile_duration_seconds``; a failure counts in
``..._sync_error_count``, except a write conflict (cert-manager leaves optimistic-lock errors
out: the retry reads the newer object and is routine).

Workers start only after every informer has synced, so a reconcile never acts on an empty cache
("the Secret does not exist" would be a lie). Shutdown stops the queues, lets in-flight
reconciles finish up to ``shutdown_timeout``, then cancels what remains and the informers.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from certsmith.api.errors import CertsmithError
from certsmith.client.errors import Conflict, TooManyRequests
from certsmith.controllers.runtime.cache import ObjectKey
from certsmith.controllers.runtime.informer import Informer
from certsmith.controllers.runtime.workqueue import ShutDownError, Sleeper, WorkQueue
from certsmith.util.metrics import Metrics
from certsmith.util.metrics import current as current_metrics

log = logging.getLogger(__name__)


class RetryLater(CertsmithError):  # noqa: N818 - an instruction to the manager, not a failure
    """Retry this key with the queue's backoff; the reconcile has already saved what it could.

    A reconciler that wrote a Pending status, say, but must look again later raises this after
    its write. The message says why, without internals; it is logged at info level.
    """


@dataclass(frozen=True)
class Requeue:
    """A reconcile result: process the key again after ``after`` seconds."""

    after: float

    def __post_init__(self) -> None:
        if self.after < 0:
            raise ValueError(f"Requeue.after must not be negative, got {self.after}")

    @classmethod
    def at(cls, delta: dt.timedelta) -> Requeue:
        """A requeue after a ``timedelta`` (negative deltas mean "now")."""
        return cls(max(0.0, delta.total_seconds()))


Reconcile = Callable[[ObjectKey], Awaitable[Requeue | None]]


@dataclass
class Controller:
    """One controller: what it watches, its queue, and how it reconciles a key."""

    name: str
    reconcile: Reconcile
    queue: WorkQueue[ObjectKey]
    informers: Sequence[Informer] = field(default_factory=tuple)
    workers: int = 1

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"controller {self.name!r} needs at least one worker")


class Manager:
    """Runs controllers until :meth:`stop` is called or :meth:`run` is cancelled."""

    def __init__(
        self,
        controllers: Sequence[Controller],
        *,
        shutdown_timeout: float = 30.0,
        sleep: Sleeper = asyncio.sleep,
        metrics: Metrics | None = None,
    ) -> None:
        names = [c.name for c in controllers]
        if len(set(names)) != len(names):
            raise ValueError(f"controller names must be unique: {names}")
        self.controllers = list(controllers)
        self.shutdown_timeout = shutdown_timeout
        self._sleep = sleep
        self._stop = asyncio.Event()
        self._started = asyncio.Event()
        self.in_flight: set[tuple[str, ObjectKey]] = set()
        self.metrics = metrics or current_metrics()

    @property
    def informers(self) -> list[Informer]:
        """Every informer, once, even when controllers share one."""
        unique: dict[int, Informer] = {}
        for controller in self.controllers:
            for informer in controller.informers:
                unique.setdefault(id(informer), informer)
        return list(unique.values())

    def stop(self) -> None:
        """Ask :meth:`run` to shut down."""
        self._stop.set()

    @property
    def is_running(self) -> bool:
        """Whether the caches have synced and the workers run (and no stop was asked for)."""
        return self._started.is_set() and not self._stop.is_set()

    async def wait_started(self) -> None:
        """Wait until the informers have synced and the workers run."""
        await self._started.wait()

    async def run(self) -> None:
        """Start informers, wait for their caches, run workers; shut down on stop or cancel."""
        informer_tasks = [
            asyncio.create_task(informer.run(), name=f"informer {informer!r}")
            for informer in self.informers
        ]
        workers: list[asyncio.Task[None]] = []
        try:
            await asyncio.gather(*(informer.wait_synced() for informer in self.informers))
            for controller in self.controllers:
                for index in range(controller.workers):
                    workers.append(
                        asyncio.create_task(
                            self._work(controller), name=f"{controller.name} worker {index}"
                        )
                    )
            self._started.set()
            log.info("started controllers: %s", ", ".join(c.name for c in self.controllers))
            await self._stop.wait()
        finally:
            await self._shutdown(workers, informer_tasks)

    async def _shutdown(
        self, workers: list[asyncio.Task[None]], informer_tasks: list[asyncio.Task[None]]
    ) -> None:
        for controller in self.controllers:
            await controller.queue.shutdown()
        pending = {task for task in workers if not task.done()}
        if pending:
            # Waiting through the injected sleeper keeps the timeout testable with fake time.
            timer = asyncio.ensure_future(self._sleep(self.shutdown_timeout))
            while pending and not timer.done():
                _, pending = await asyncio.wait(
                    pending | {timer}, return_when=asyncio.FIRST_COMPLETED
                )
                pending.discard(timer)
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer
            if pending:
                log.warning(
                    "cancelling %d reconciles still running after %.0fs",
                    len(pending),
                    self.shutdown_timeout,
                )
        for task in [*workers, *informer_tasks]:
            task.cancel()
        for task in [*workers, *informer_tasks]:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _work(self, controller: Controller) -> None:
        queue = controller.queue
        while True:
            try:
                key = await queue.get()
            except ShutDownError:
                return
            self.in_flight.add((controller.name, key))
            try:
                result = await self._reconcile(controller, key)
            except asyncio.CancelledError:
                raise
            except RetryLater as exc:
                # A planned retry (the status already says why): no traceback in the logs.
                delay = queue.add_rate_limited(key)
                log.info("%s %s: %s; retrying in %.1fs", controller.name, key, exc, delay)
            except TooManyRequests as exc:
                delay = queue.add_rate_limited(key, at_least=exc.retry_after or 0.0)
                log.info("%s %s: throttled, retrying in %.1fs", controller.name, key, delay)
            except Exception:
                delay = queue.add_rate_limited(key)
                log.exception(
                    "%s %s: reconcile failed, retrying in %.1fs", controller.name, key, delay
                )
            else:
                queue.forget(key)
                if result is not None:
                    queue.add_after(key, result.after)
            finally:
                self.in_flight.discard((controller.name, key))
                queue.done(key)

    async def _reconcile(self, controller: Controller, key: ObjectKey) -> Requeue | None:
        """One reconcile, counted and timed for the metrics."""
        self.metrics.sync_call(controller.name)
        started = time.perf_counter()
        try:
            return await controller.reconcile(key)
        except Conflict:
            raise
        except Exception:
            self.metrics.sync_error(controller.name)
            raise
        finally:
            self.metrics.observe_reconcile(controller.name, time.perf_counter() - started)
