"""``certsmith serve``: run the embedded API server until SIGTERM/SIGINT.

It prints exactly one line once the server answers (``export KUBECONFIG=...``), so scripts
and users know when kubectl can be used. The controllers run in a child process
(``serve-controllers``, :mod:`certsmith.app.controllerprocess`), or in this one with
``--no-controller-process``, unless ``--controllers=none``; shutdown stops them first, then
closes the listener and the store.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from certsmith.api.duration import parse_go_duration
from certsmith.apiserver.server import ApiServer
from certsmith.app import (
    DEFAULT_APPROVE_SIGNER_NAMES,
    DEFAULT_CLUSTER_RESOURCE_NAMESPACE,
    DEFAULT_CONTROLLERS,
    StartupError,
    run_serve,
    run_serve_controllers,
)
from certsmith.app.controllerprocess import stop_on_end_of_input
from certsmith.cli.acmeflags import acme_options, add_acme_arguments, http01_listen
from certsmith.cli.shimflags import add_shim_arguments, shim_options
from certsmith.pki.renewal import DEFAULT_INITIAL_BACKOFF, DEFAULT_MAXIMUM_BACKOFF
from certsmith.util.clock import Clock, OffsetFileClock
from certsmith.util.log import configure as configure_logging
from certsmith.util.metricsserver import parse_listen_address

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
    """Register the ``serve`` command, and ``serve-controllers`` (its child, not in --help)."""
    parser = subparsers.add_parser("serve", help="run the Kubernetes-compatible API server")
    add_serve_arguments(parser)
    parser.set_defaults(func=run)
    # No help=: argparse then leaves it out of the command list. serve starts it.
    child = subparsers.add_parser("serve-controllers")
    add_serve_arguments(child)
    child.set_defaults(func=run_controllers_child)


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """``serve``'s arguments, which its controller child parses too."""
    parser.add_argument("--data-dir", type=Path, required=True, help="state directory")
    parser.add_argument(
        "--listen",
        type=parse_listen,
        default=parse_listen(DEFAULT_LISTEN),
        metavar="HOST:PORT",
        help=f"address to serve HTTPS on (default {DEFAULT_LISTEN})",
    )
    add_controller_arguments(parser)
    add_metrics_argument(parser, "")
    parser.add_argument(
        "--ui",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="serve the read-only web view at /ui/ on the API port, behind its authentication; "
        "RBAC's non-resource URLs /ui and /ui/* decide who may open it (default on)",
    )
    parser.add_argument(
        "--controller-process",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run the controllers in a child process, so serving and reconciling each have "
        "a core (one Python process runs on one core at a time); it is restarted if it "
        "exits (default on)",
    )


def parse_optional_listen(value: str) -> tuple[str, int] | None:
    """cert-manager's listen-address flags: ``HOST:PORT``, or ``0`` / empty to turn off.

    Raises:
        argparse.ArgumentTypeError: not HOST:PORT.
    """
    try:
        return parse_listen_address(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def add_metrics_argument(parser: argparse.ArgumentParser, default: str) -> None:
    """``--metrics-listen-address`` (cert-manager's flag): plain-HTTP ``/metrics``."""
    parser.add_argument(
        "--metrics-listen-address",
        type=parse_optional_listen,
        default=parse_optional_listen(default),
        metavar="HOST:PORT",
        help="serve Prometheus metrics over plain HTTP, without authentication, on this "
        f"address; 0 turns it off (default {default or '0'}"
        + (", since /metrics is served on the API port)" if not default else ")"),
    )


def add_controller_arguments(parser: argparse.ArgumentParser) -> None:
    """The controller flags ``serve`` and ``controller`` share (cert-manager's names)."""
    parser.add_argument(
        "--controllers",
        default=DEFAULT_CONTROLLERS,
        metavar="LIST",
        help="controllers to run, cert-manager syntax: '*' (all), '*,-NAME', 'A,B' or 'none' "
        f"(default {DEFAULT_CONTROLLERS!r})",
    )
    parser.add_argument(
        "--cluster-resource-namespace",
        default=DEFAULT_CLUSTER_RESOURCE_NAMESPACE,
        metavar="NS",
        help="namespace of the Secrets ClusterIssuers use "
        f"(default {DEFAULT_CLUSTER_RESOURCE_NAMESPACE})",
    )
    parser.add_argument(
        "--approve-signer-names",
        type=parse_signer_names,
        default=DEFAULT_APPROVE_SIGNER_NAMES,
        metavar="NAMES",
        help="comma-separated signers the built-in approver approves; '' approves every "
        f"signer (default {','.join(DEFAULT_APPROVE_SIGNER_NAMES)})",
    )
    parser.add_argument(
        "--certificate-request-minimum-backoff-duration",
        type=parse_backoff,
        default=DEFAULT_INITIAL_BACKOFF,
        metavar="DURATION",
        help="wait after a Certificate's first failed issuance before retrying; doubles per "
        "further failure (Go duration, default 1h)",
    )
    parser.add_argument(
        "--certificate-request-maximum-backoff-duration",
        type=parse_backoff,
        default=DEFAULT_MAXIMUM_BACKOFF,
        metavar="DURATION",
        help="the longest wait between failed issuance attempts (Go duration, default 32h)",
    )
    add_acme_arguments(parser)
    add_shim_arguments(parser)
    # Test-only, so not in --help: end-to-end tests move the controllers' time by writing a
    # number of seconds to this file (docs/testing.md).
    parser.add_argument("--clock-offset-file", type=Path, default=None, help=argparse.SUPPRESS)


def controller_clock(args: argparse.Namespace) -> Clock | None:
    """The clock ``--clock-offset-file`` asks for, or ``None`` for the wall clock."""
    path: Path | None = args.clock_offset_file
    return None if path is None else OffsetFileClock(path)


def parse_backoff(value: str) -> dt.timedelta:
    """A positive Go duration (``30m``, ``1h``) as a timedelta.

    Raises:
        argparse.ArgumentTypeError: not a positive duration.
    """
    try:
        delta = parse_go_duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"invalid duration {value!r}: {exc}") from exc
    if delta <= dt.timedelta(0):
        raise argparse.ArgumentTypeError(f"duration must be positive, got {value!r}")
    return delta


def parse_signer_names(value: str) -> tuple[str, ...]:
    """Split a comma-separated signer list; an empty value means every signer."""
    return tuple(name.strip() for name in value.split(",") if name.strip())


async def serve(args: argparse.Namespace) -> int:
    """Run server and controllers until a termination signal arrives; returns the exit code."""
    host, port = args.listen
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    def ready(server: ApiServer) -> None:
        print(f"export KUBECONFIG={server.kubeconfig_path.resolve()}", flush=True)

    try:
        await run_serve(
            args.data_dir,
            host,
            port,
            **controller_settings(args),
            stop=stop,
            on_ready=ready,
            ui=args.ui,
            controllers_command=_child_command(args),
        )
    except (StartupError, ValueError) as exc:
        print(f"certsmith serve: {exc}", file=sys.stderr)
        return 1
    return 0


def controller_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The controllers' settings from serve's arguments.

    They are keywords of ``run_serve`` and of ``run_serve_controllers`` alike: the child parses
    the same arguments, so the two processes cannot disagree on them.
    """
    host, _ = args.listen
    return {
        "controllers": args.controllers,
        "cluster_resource_namespace": args.cluster_resource_namespace,
        "approve_signer_names": args.approve_signer_names,
        "certificate_request_backoff": (
            args.certificate_request_minimum_backoff_duration,
            args.certificate_request_maximum_backoff_duration,
        ),
        "clock": controller_clock(args),
        "metrics_listen": args.metrics_listen_address,
        "acme": acme_options(args, http01_listen(args, host)),
        "shims": shim_options(args, embedded=True),
        "acme_http01_listen": http01_listen(args, host),
    }


def _child_command(args: argparse.Namespace) -> list[str] | None:
    """``serve-controllers`` with this ``serve``'s own arguments, when a child is wanted."""
    argv: list[str] | None = getattr(args, "argv", None)
    if not args.controller_process or args.controllers == "none" or not argv:
        return None
    tail = argv[argv.index("serve") + 1 :] if "serve" in argv else []
    return [sys.executable, "-m", "certsmith.cli.main", "serve-controllers", *tail]


async def serve_controllers(args: argparse.Namespace) -> int:
    """The controller child: run until SIGTERM/SIGINT or until serve closes its stdin."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    watcher = asyncio.create_task(stop_on_end_of_input(stop))
    try:
        await run_serve_controllers(args.data_dir, **controller_settings(args), stop=stop)
    except (StartupError, ValueError) as exc:
        print(f"certsmith serve (controllers): {exc}", file=sys.stderr)
        return 1
    finally:
        watcher.cancel()
    return 0


def run_controllers_child(args: argparse.Namespace) -> int:
    """Entry point of ``certsmith serve-controllers``."""
    setup_logging()
    return asyncio.run(serve_controllers(args))


def setup_logging() -> None:
    """Redacting INFO logs, without a line per HTTP request (``--v`` style noise in kube)."""
    configure_logging()
    for noisy in ("httpx", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``certsmith serve``."""
    setup_logging()
    return asyncio.run(serve(args))
