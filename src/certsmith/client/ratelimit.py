"""A client-side token bucket, so a burst of reconciles cannot flood the API server.

client-go defaults to 5 QPS / burst 10 and cert-manager raises that to 20 / 50, which is a known
bottleneck when thousands of Certificates renew together. Our default is deliberately generous
(200 QPS, burst 400): the limiter is a safety net against runaway loops, not a throttle, and the
server's own 429 + Retry-After remains the real back-pressure. ``qps <= 0`` disables it.

Time and sleeping are injected so tests can check the arithmetic without waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Final

DEFAULT_QPS: Final = 200.0
DEFAULT_BURST: Final = 400


class TokenBucket:
    """``burst`` tokens, refilled at ``qps`` per second; each request takes one."""

    def __init__(
        self,
        qps: float = DEFAULT_QPS,
        burst: int = DEFAULT_BURST,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if qps > 0 and burst < 1:
            raise ValueError(f"burst must be at least 1 when qps > 0, got {burst}")
        self.qps = qps
        self.burst = burst
        self._monotonic = monotonic
        self._sleep = sleep
        self._tokens = float(burst)
        self._stamp = monotonic()

    @property
    def enabled(self) -> bool:
        """Whether requests are limited at all."""
        return self.qps > 0

    def reserve(self) -> float:
        """Take a token now and return how long the caller must wait before using it."""
        if not self.enabled:
            return 0.0
        now = self._monotonic()
        self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.qps)
        self._stamp = now
        self._tokens -= 1.0
        # A negative balance is a queue of reservations: the wait is the time to refill it.
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    async def acquire(self) -> None:
        """Wait until this request may be sent."""
        delay = self.reserve()
        if delay > 0:
            await self._sleep(delay)
