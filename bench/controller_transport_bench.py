"""CPU per API request for serve's controllers: ``controller.sock`` (plain HTTP) vs HTTPS.

One process holds an in-process :class:`ApiServer` and an :class:`HttpKubeClient` as the
controller identity, as ``certsmith serve`` does, so the process CPU time (``time.process_time``)
is client plus server, the cost ``serve`` pays for each controller request. For each transport
(alternating, ``--rounds`` times): ``--requests`` GETs of one Secret, then as many creates of a
small Secret, with 8 requests in flight. Reports CPU ms per request and requests per second
(best round of each; the machine is shared, and other processes only ever add time).

Run: ``nice -n 10 .venv/bin/python bench/controller_transport_bench.py [--requests N]
[--rounds R]``.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from certsmith.apiserver.server import ApiServer
from certsmith.client.http import HttpKubeClient
from certsmith.client.resources import ResourceRef

SECRETS = ResourceRef("", "v1", "secrets", True)
IN_FLIGHT = 8


async def measure(count: int, request: Callable[[int], Awaitable[object]]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) for ``count`` calls of ``request``, ``IN_FLIGHT`` at a time."""
    queue = iter(range(count))

    async def worker() -> None:
        for index in queue:
            await request(index)

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    return time.process_time() - cpu, time.perf_counter() - wall


async def run(requests: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="cs-tb-") as tmp:
        server = ApiServer(Path(tmp) / "data", "127.0.0.1", 0)
        await server.start()
        try:
            assert server.controller_socket is not None
            secret = {"metadata": {"name": "s"}, "stringData": {"tls.crt": "x" * 1200}}
            async with HttpKubeClient.from_kubeconfig(server.kubeconfig_path) as admin:
                await admin.create(SECRETS, "default", secret)
            clients: dict[str, Callable[[], HttpKubeClient]] = {
                "unix": lambda: HttpKubeClient.from_unix_socket(server.controller_socket or ""),
                "https": lambda: HttpKubeClient.from_kubeconfig(server.controller_kubeconfig_path),
            }
            best: dict[tuple[str, str], tuple[float, float]] = {}
            for round_ in range(rounds):
                for name, make in clients.items():
                    async with make() as client:
                        await client.get(SECRETS, "default", "s")  # connect outside the clock

                        async def get(_: int, client: HttpKubeClient = client) -> object:
                            return await client.get(SECRETS, "default", "s")

                        async def create(
                            i: int,
                            client: HttpKubeClient = client,
                            prefix: str = f"{name}-{round_}",
                        ) -> object:
                            body = {
                                "metadata": {"name": f"{prefix}-{i}"},
                                "stringData": {"k": "v"},
                            }
                            return await client.create(SECRETS, "default", body)

                        for what, call in (("get", get), ("create", create)):
                            result = await measure(requests, call)
                            key = (name, what)
                            best[key] = min(best.get(key, result), result)
            for what in ("get", "create"):
                for name in clients:
                    cpu, wall = best[(name, what)]
                    print(
                        f"{what:6} {name:5}  {cpu / requests * 1000:6.2f} ms CPU/request  "
                        f"{requests / wall:7.0f} requests/s"
                    )
        finally:
            await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(run(args.requests, args.rounds))


if __name__ == "__main__":
    main()
