"""``serve``'s controllers in a child process: start it, restart it, stop it, relay its probes.

Why a second process: one Python process that both answers the API and reconciles runs both
on one GIL. In a burst of Certificates on two cores the event loop sat at 85-100% of a core
while the second core idled, so the child (``certsmith serve-controllers`` with ``serve``'s own
arguments) gives the controllers a core of their own. Nothing else changes for them: they
reach the API on ``controller.sock`` exactly as they did in-process.

What this module decides:

* The child answers ``/metrics`` and ``/readyz`` over plain HTTP on
  ``<data-dir>/controller-metrics.sock`` (owner-only); ``serve``'s own ``/metrics`` and
  ``/readyz`` relay them, so scrapes and probes see the same as with in-process controllers
  (a scrape while the child starts waits for it; a probe does not).
* Its stdin is a pipe from ``serve``. End of file there (``serve`` gone, even by SIGKILL)
  stops the child, so a crashed ``serve`` never leaves controllers behind to race the
  controllers of a restarted one.
* A child that exits while ``serve`` runs is restarted after 1 s, doubling to 30 s while it
  keeps failing within a minute of its start; each exit is logged with its code.
* Stopping sends SIGTERM (the child's reconciles finish and it exits), then SIGKILL after
  ``stop_timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import aiohttp
from aiohttp import web

from certsmith.util.metricsserver import Handler

log = logging.getLogger(__name__)

METRICS_SOCKET_NAME: Final = "controller-metrics.sock"
RESTART_BACKOFF: Final = (1.0, 30.0)
# A child that ran this long before exiting starts the backoff afresh.
STABLE_AFTER: Final = 60.0
STOP_TIMEOUT: Final = 30.0
# A scrape just after serve started waits this long for a starting child, not a 503.
STARTUP_PATIENCE: Final = 15.0
RELAY_TIMEOUT: Final = aiohttp.ClientTimeout(total=30)


class ControllerProcess:
    """Supervises one child process that runs the controllers."""

    def __init__(
        self,
        command: Sequence[str],
        metrics_socket: Path,
        *,
        restart_backoff: tuple[float, float] = RESTART_BACKOFF,
        stop_timeout: float = STOP_TIMEOUT,
    ) -> None:
        """Prepare to run ``command``; it must serve its probes on ``metrics_socket``."""
        self._command = list(command)
        self._metrics_socket = metrics_socket
        self._backoff = restart_backoff
        self._stop_timeout = stop_timeout
        self._process: asyncio.subprocess.Process | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = False
        self._session: aiohttp.ClientSession | None = None

    def is_stopping(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stopping

    @property
    def pid(self) -> int | None:
        """The running child's process id."""
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    async def start(self) -> None:
        """Start the child and keep it running until :meth:`stop`."""
        self._session = aiohttp.ClientSession(
            connector=aiohttp.UnixConnector(path=str(self._metrics_socket)),
            timeout=RELAY_TIMEOUT,
        )
        await self._spawn()
        self._supervisor = asyncio.create_task(self._supervise(), name="controller-process")

    async def _spawn(self) -> None:
        self._process = await asyncio.create_subprocess_exec(
            *self._command, stdin=asyncio.subprocess.PIPE
        )
        log.info("controllers run in process %d", self._process.pid)

    async def _supervise(self) -> None:
        delay = self._backoff[0]
        while True:
            process = self._process
            assert process is not None
            started = time.monotonic()
            code = await process.wait()
            if self.is_stopping():
                return
            if time.monotonic() - started >= STABLE_AFTER:
                delay = self._backoff[0]
            log.error(
                "the controller process %d exited with code %s; restarting it in %.0fs",
                process.pid,
                code,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff[1])
            if self.is_stopping():
                return
            await self._spawn()

    async def stop(self) -> None:
        """Stop the child: SIGTERM, then SIGKILL after the stop timeout."""
        self._stopping = True
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await supervisor
        process = self._process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), self._stop_timeout)
            except TimeoutError:
                log.warning("the controller process %d did not stop; killing it", process.pid)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        if process is not None and process.stdin is not None:
            process.stdin.close()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _get(self, path: str, patience: float = 0.0) -> tuple[int, bytes, str] | None:
        """The child's answer to ``GET path``, or ``None`` while it does not answer.

        With ``patience``, a running child that does not answer yet (it is starting) is
        asked again until that many seconds have passed.
        """
        deadline = time.monotonic() + patience
        while self._session is not None:
            try:
                async with self._session.get(f"http://localhost{path}") as response:
                    body = await response.read()
                    return response.status, body, response.headers.get("Content-Type", "")
            except (aiohttp.ClientError, OSError, TimeoutError):
                if self.pid is None or time.monotonic() >= deadline:
                    return None
            await asyncio.sleep(0.05)
        return None

    async def ready(self) -> bool:
        """Whether the child answers ``/readyz`` with 200."""
        answer = await self._get("/readyz")
        return answer is not None and answer[0] == 200

    def metrics_handler(self) -> Handler:
        """``/metrics``: the child's, relayed; 503 while it does not answer."""

        async def handle(request: web.Request) -> web.StreamResponse:
            answer = await self._get("/metrics", patience=STARTUP_PATIENCE)
            if answer is None:
                return web.Response(status=503, text="the controller process does not answer")
            status, body, content_type = answer
            return web.Response(status=status, body=body, headers={"Content-Type": content_type})

        return handle

    def readiness_handler(self) -> Handler:
        """``/readyz``: 200 while the child is ready, else 503."""

        async def handle(request: web.Request) -> web.StreamResponse:
            if await self.ready():
                return web.Response(text="ok")
            return web.Response(status=503, text="controllers not ready")

        return handle


async def stop_on_end_of_input(stop: asyncio.Event) -> None:
    """Set ``stop`` when stdin reaches end of file: the parent ``serve`` is gone."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while await reader.read(4096):
        pass
    log.info("serve is gone (end of input); stopping the controllers")
    stop.set()
