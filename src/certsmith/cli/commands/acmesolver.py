"""``certsmith acmesolver``: the process in an HTTP-01 solver pod (SPEC §6.6, cluster mode).

Same flags as cert-manager's acmesolver image (``--listen-port``, ``--domain``, ``--token``,
``--key``). It answers ``GET /.well-known/acme-challenge/<token>`` with the key (200,
``text/plain``) when the request's host (without port) is the domain, and 404 to everything
else, so a pod reached through a shared Ingress never answers for another challenge. SIGTERM
and SIGINT stop it cleanly with exit code 0, as a pod's shutdown expects.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from aiohttp import web

from certsmith.controllers.acme.http01 import CHALLENGE_PATH

log = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``acmesolver``."""
    parser = subparsers.add_parser(
        "acmesolver", help="answer one ACME HTTP-01 challenge (the solver pods' process)"
    )
    parser.add_argument(
        "--listen-port", type=int, default=8089, help="port to listen on (default 8089)"
    )
    parser.add_argument("--domain", required=True, help="the domain being validated")
    parser.add_argument("--token", required=True, help="the challenge token")
    parser.add_argument("--key", required=True, help="the key authorization to answer with")
    # Not a cert-manager flag: tests bind to loopback; a pod answers on every interface.
    parser.add_argument("--listen-host", default="0.0.0.0", help=argparse.SUPPRESS)  # noqa: S104
    parser.set_defaults(func=run)


def _host(header: str) -> str:
    """The Host header without its port (``[v6]:port`` → ``v6``)."""
    if header.startswith("["):
        return header[1:].partition("]")[0]
    if header.count(":") == 1:
        return header.partition(":")[0]
    return header


def solver_app(domain: str, token: str, key: str) -> web.Application:
    """The web application answering exactly one challenge."""
    path = CHALLENGE_PATH + token

    async def answer(request: web.Request) -> web.Response:
        if request.path != path or _host(request.host).lower() != domain.lower():
            log.info("no challenge for %s %s", request.host, request.path)
            return web.Response(status=404, text="not found\n")
        log.info("answered the challenge for %s", domain)
        return web.Response(text=key, content_type="text/plain")

    app = web.Application()
    app.router.add_get("/{tail:.*}", answer)
    return app


async def _serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(
        solver_app(args.domain, args.token, args.key), access_log=None, handle_signals=False
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, args.listen_host, args.listen_port).start()
        log.info("answering the HTTP-01 challenge for %s on port %d", args.domain, args.listen_port)
        await stop.wait()
    finally:
        await runner.cleanup()


def run(args: argparse.Namespace) -> int:
    """Entry point of ``certsmith acmesolver``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        asyncio.run(_serve(args))
    except OSError as exc:
        print(f"certsmith acmesolver: cannot listen: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0
