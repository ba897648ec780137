"""``certsmith serve``: run the embedded API server until SIGTERM/SIGINT.

It prints exactly one line once the server answers (``export KUBECONFIG=...``), so scripts
and users know when kubectl can be used; shutdown closes the listener and then the store.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from certsmith.apiserver.server import ApiServer

DEFAULT_LISTEN = "127.0.0.1:6443"


def parse_listen(value: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` (``[::1]:6443`` for IPv6).

    Raises:
        argparse.ArgumentTypeError: the value is not HOST:PORT with a valid port.
    """
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``serve`` command."""
    parser = subparsers.add_parser("serve", help="run the Kubernetes-compatible API server")
    parser.add_argument("--data-dir", type=Path, required=True, help="state directory")
    parser.add_argument(
        "--listen",
        type=parse_listen,
        default=parse_listen(DEFAULT_LISTEN),
        metavar="HOST:PORT",
        help=f"address to serve HTTPS on (default {DEFAULT_LISTEN})",
    )
    parser.set_defaults(func=run)


async def serve(data_dir: Path, host: str, port: int) -> int:
    """Run a server until a termination signal arrives; returns the exit code."""
    server = ApiServer(data_dir, host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await server.start()
    except OSError as exc:
        print(f"certsmith serve: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        await server.stop()
        return 1
    print(f"export KUBECONFIG={server.kubeconfig_path.resolve()}", flush=True)
    try:
        await stop.wait()
    finally:
        await server.stop()
    return 0


def run(args: argparse.Namespace) -> int:
    """Entry point of ``certsmith serve``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    host, port = args.listen
    return asyncio.run(serve(args.data_dir, host, port))
