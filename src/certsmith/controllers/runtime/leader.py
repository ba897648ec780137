"""Leader election on a ``coordination.k8s.io/v1`` Lease, so only one replica reconciles.

It is client-go's ``leaderelection`` with a ``LeaseLock``, with the same defaults (lease 15s,
renew deadline 10s, retry period 2s) and the same safety argument:

* every write is a PUT carrying the resourceVersion that was read, so two candidates can never
  both succeed (the loser gets 409 Conflict — K8S-API §4.18);
* another holder's lease counts as expired only after ``lease_duration`` of *local* time has
  passed without the record changing, so clock skew between replicas does not matter;
* the leader gives up (cancels its work) once it has failed to renew for ``renew_deadline``,
  which is shorter than ``lease_duration``: it stops before anyone else may take over.

When leadership is lost :meth:`LeaderElector.run` raises :class:`LeadershipLostError`; the
process should then exit (as client-go programs do) rather than try to rejoin with stale caches.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

from certsmith.api.errors import CertsmithError
from certsmith.client.errors import AlreadyExists, ClientError, Conflict, NotFound
from certsmith.client.protocol import JSONObject, KubeClient
from certsmith.client.resources import LEASES
from certsmith.controllers.runtime.workqueue import Sleeper
from certsmith.util.clock import Clock

log = logging.getLogger(__name__)

LEASE_DURATION: Final = 15.0
RENEW_DEADLINE: Final = 10.0
RETRY_PERIOD: Final = 2.0

T = TypeVar("T")


class LeadershipLostError(CertsmithError):
    """The lease could not be renewed in time; the work was cancelled."""


def format_micro_time(when: dt.datetime) -> str:
    """Format a MicroTime as Kubernetes does: ``2026-01-01T00:00:00.000000Z``.

    Raises:
        ValueError: ``when`` is naive.
    """
    if when.tzinfo is None:
        raise ValueError("MicroTime needs an aware datetime")
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_micro_time(text: str) -> dt.datetime:
    """Parse a MicroTime (or a plain RFC 3339 time).

    Raises:
        ValueError: ``text`` is not a time.
    """
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)


class LeaderElector:
    """Acquires and holds one Lease for ``identity``."""

    def __init__(
        self,
        client: KubeClient,
        *,
        namespace: str,
        name: str,
        identity: str,
        clock: Clock,
        sleep: Sleeper = asyncio.sleep,
        lease_duration: float = LEASE_DURATION,
        renew_deadline: float = RENEW_DEADLINE,
        retry_period: float = RETRY_PERIOD,
    ) -> None:
        if not identity:
            raise ValueError("a leader election identity must not be empty")
        if not retry_period < renew_deadline < lease_duration:
            raise ValueError(
                "need retry_period < renew_deadline < lease_duration, got "
                f"{retry_period} / {renew_deadline} / {lease_duration}"
            )
        self.client = client
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self._clock = clock
        self._sleep = sleep
        self._lease: JSONObject | None = None
        self._observed_spec: dict[str, Any] | None = None
        self._observed_at = clock.now()
        self.is_leader = False

    async def run(self, work: Callable[[], Awaitable[T]]) -> T:
        """Wait for leadership, then run ``work`` while renewing the lease.

        The lease is released when ``work`` returns, fails or is cancelled, so a successor need
        not wait for it to expire.

        Raises:
            LeadershipLostError: renewing failed for ``renew_deadline``; ``work`` was cancelled.
            Exception: whatever ``work`` raised.
        """
        while not await self.try_acquire_or_renew():
            await self._sleep(self.retry_period)
        log.info("%s became leader of lease %s/%s", self.identity, self.namespace, self.name)
        worker = asyncio.ensure_future(work())
        renewer = asyncio.ensure_future(self._renew_until_lost())
        try:
            await asyncio.wait((worker, renewer), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (worker, renewer):
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if self.is_leader:
                await self._release()
        if worker.cancelled():
            raise LeadershipLostError(
                f"{self.identity} lost lease {self.namespace}/{self.name}: "
                f"not renewed within {self.renew_deadline:g}s"
            )
        return worker.result()

    async def _renew_until_lost(self) -> None:
        last_renew = self._clock.now()
        deadline = dt.timedelta(seconds=self.renew_deadline)
        while True:
            await self._sleep(self.retry_period)
            if await self.try_acquire_or_renew():
                last_renew = self._clock.now()
            elif self._clock.now() - last_renew >= deadline:
                self.is_leader = False
                log.error("%s lost lease %s/%s", self.identity, self.namespace, self.name)
                return

    async def try_acquire_or_renew(self) -> bool:
        """One attempt to take or extend the lease; ``True`` if this candidate holds it now."""
        now = self._clock.now()
        try:
            lease = await self.client.get(LEASES, self.namespace, self.name)
        except NotFound:
            return await self._create(now)
        except ClientError as exc:
            log.warning("reading lease %s/%s failed: %s", self.namespace, self.name, exc)
            return False
        spec = lease.get("spec") or {}
        if spec != self._observed_spec:
            self._observed_spec, self._observed_at = copy.deepcopy(spec), now
        holder = spec.get("holderIdentity") or ""
        duration = dt.timedelta(seconds=float(spec.get("leaseDurationSeconds") or 0))
        if holder and holder != self.identity and self._observed_at + duration > now:
            self.is_leader = False
            return False
        ours = holder == self.identity
        updated = copy.deepcopy(lease)
        updated["spec"] = {
            **spec,
            "holderIdentity": self.identity,
            "leaseDurationSeconds": int(self.lease_duration),
            "acquireTime": spec.get("acquireTime") if ours else format_micro_time(now),
            "renewTime": format_micro_time(now),
            "leaseTransitions": int(spec.get("leaseTransitions") or 0) + (0 if ours else 1),
        }
        try:
            stored = await self.client.replace(LEASES, self.namespace, self.name, updated)
        except (Conflict, NotFound):
            self.is_leader = False
            return False
        except ClientError as exc:
            log.warning("renewing lease %s/%s failed: %s", self.namespace, self.name, exc)
            return False
        self._remember(stored, now)
        return True

    async def _create(self, now: dt.datetime) -> bool:
        body: JSONObject = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": int(self.lease_duration),
                "acquireTime": format_micro_time(now),
                "renewTime": format_micro_time(now),
                "leaseTransitions": 0,
            },
        }
        try:
            stored = await self.client.create(LEASES, self.namespace, body)
        except (AlreadyExists, Conflict):
            return False
        except ClientError as exc:
            log.warning("creating lease %s/%s failed: %s", self.namespace, self.name, exc)
            return False
        self._remember(stored, now)
        return True

    def _remember(self, lease: JSONObject, now: dt.datetime) -> None:
        self._lease = lease
        self._observed_spec = copy.deepcopy(lease.get("spec") or {})
        self._observed_at = now
        self.is_leader = True

    async def _release(self) -> None:
        """Hand the lease back (empty holder, 1s duration), as client-go's ReleaseOnCancel."""
        self.is_leader = False
        if self._lease is None:
            return
        now = format_micro_time(self._clock.now())
        released = copy.deepcopy(self._lease)
        released["spec"] = {
            **(released.get("spec") or {}),
            "holderIdentity": "",
            "leaseDurationSeconds": 1,
            "acquireTime": now,
            "renewTime": now,
        }
        try:
            await self.client.replace(LEASES, self.namespace, self.name, released)
        except ClientError as exc:
            # Best effort: the lease expires on its own.
            log.info("releasing lease %s/%s failed: %s", self.namespace, self.name, exc)
        self._lease = None
