"""``certsmith controller``: run the controllers against any Kubernetes API.

The flags are cert-manager's controller flags where one exists (``--controllers``,
``--cluster-resource-namespace``, ``--namespace``, ``--leader-elect``,
``--leader-election-namespace`` and the lease timings, as Go durations), so an operator can
carry a cert-manager Deployment's arguments over. With ``--namespace`` the Lease lives in that
namespace unless ``--leader-election-namespace`` says otherwise: a namespace-scoped identity
usually cannot write Leases in ``kube-system``. Exit codes: 0 after SIGTERM/SIGINT, 1 when the
process cannot start or loses its lease (a supervisor restarts it, as with client-go programs).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Final

from certsmith.api.duration import parse_go_duration
from certsmith.app import (
    DEFAULT_LEASE_NAME,
    DEFAULT_LEASE_NAMESPACE,
    LeaderElection,
    StartupError,
    run_controller,
)
from certsmith.cli.acmeflags import acme_options, http01_listen
from certsmith.cli.serve import (
    add_controller_arguments,
    add_metrics_argument,
    controller_clock,
    parse_optional_listen,
    setup_logging,
)
from certsmith.cli.shimflags import shim_options
from certsmith.controllers.runtime.leader import (
    LEASE_DURATION,
    RENEW_DEADLINE,
    RETRY_PERIOD,
    LeadershipLostError,
)

log = logging.getLogger(__name__)

#: cert-manager's controller defaults: metrics on 9402, health probes on 9403.
DEFAULT_METRICS_LISTEN: Final = "0.0.0.0:9402"  # scraped from other pods
DEFAULT_HEALTH_LISTEN: Final = "0.0.0.0:9403"  # probed by the kubelet


def parse_duration(value: str) -> float:
    """A positive Go duration (``15s``, ``1m30s``) in seconds.

    Raises:
        argparse.ArgumentTypeError: not a positive duration.
    """
    try:
        seconds = parse_go_duration(value).total_seconds()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"invalid duration {value!r}: {exc}") from exc
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"duration must be positive, got {value!r}")
    return seconds


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``controller`` command."""
    parser = subparsers.add_parser(
        "controller", help="run the controllers against a Kubernetes API (cluster mode)"
    )
    parser.add_argument(
        "--kubeconfig",
        type=Path,
        help="kubeconfig file; without it, the in-cluster service account is used",
    )
    add_controller_arguments(parser)
    parser.add_argument(
        "--namespace",
        default=None,
        metavar="NS",
        help="watch and act only in this namespace; ClusterIssuers are then not used "
        "(default: all namespaces)",
    )
    parser.add_argument(
        "--leader-elect",
        action="store_true",
        help="run only while holding the leader election Lease (for several replicas)",
    )
    parser.add_argument(
        "--leader-election-namespace",
        default=None,
        metavar="NS",
        help="namespace of the leader election Lease (default: --namespace if given, else "
        f"{DEFAULT_LEASE_NAMESPACE})",
    )
    parser.add_argument(
        "--leader-election-lease-name",
        default=DEFAULT_LEASE_NAME,
        metavar="NAME",
        help=f"name of the leader election Lease (default {DEFAULT_LEASE_NAME})",
    )
    for flag, default, what in (
        ("lease-duration", f"{LEASE_DURATION:g}s", "how long others wait before taking the lease"),
        (
            "renew-deadline",
            "2/3 of the lease duration",
            "how long the leader tries to renew before stopping",
        ),
        ("retry-period", "2/15 of the lease duration", "how often candidates try the lease"),
    ):
        parser.add_argument(
            f"--leader-election-{flag}",
            type=parse_duration,
            default=None,
            metavar="DURATION",
            help=f"{what} (default {default})",
        )
    add_metrics_argument(parser, DEFAULT_METRICS_LISTEN)
    parser.add_argument(
        "--health-probe-bind-address",
        type=parse_optional_listen,
        default=parse_optional_listen(DEFAULT_HEALTH_LISTEN),
        metavar="HOST:PORT",
        help="serve /livez and /readyz over plain HTTP on this address; 0 turns it off "
        f"(default {DEFAULT_HEALTH_LISTEN})",
    )
    parser.set_defaults(func=run)


def leader_election(args: argparse.Namespace) -> LeaderElection | None:
    """The leader election settings from the flags, or ``None`` without ``--leader-elect``.

    Unset timings follow the lease duration in client-go's 15s:10s:2s ratio, so a test or a
    small cluster only has to pass ``--leader-election-lease-duration``.

    Raises:
        StartupError: the timings are inconsistent.
    """
    if not args.leader_elect:
        return None
    duration = args.leader_election_lease_duration or LEASE_DURATION
    renew = args.leader_election_renew_deadline or duration * RENEW_DEADLINE / LEASE_DURATION
    retry = args.leader_election_retry_period or duration * RETRY_PERIOD / LEASE_DURATION
    try:
        return LeaderElection(
            namespace=args.leader_election_namespace or args.namespace or DEFAULT_LEASE_NAMESPACE,
            name=args.leader_election_lease_name,
            lease_duration=duration,
            renew_deadline=renew,
            retry_period=retry,
        )
    except ValueError as exc:
        raise StartupError(str(exc)) from exc


async def _main(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await run_controller(
        args.kubeconfig,
        approve_signer_names=args.approve_signer_names,
        controllers=args.controllers,
        cluster_resource_namespace=args.cluster_resource_namespace,
        namespace=args.namespace,
        certificate_request_backoff=(
            args.certificate_request_minimum_backoff_duration,
            args.certificate_request_maximum_backoff_duration,
        ),
        clock=controller_clock(args),
        leader_election=leader_election(args),
        stop=stop,
        metrics_listen=args.metrics_listen_address,
        health_listen=args.health_probe_bind_address,
        acme=acme_options(args, http01_listen(args, None)),
        shims=shim_options(args, embedded=False),
        acme_http01_listen=http01_listen(args, None),
    )


def run(args: argparse.Namespace) -> int:
    """Entry point of ``certsmith controller``."""
    setup_logging()
    try:
        asyncio.run(_main(args))
    except StartupError as exc:
        print(f"certsmith controller: {exc}", file=sys.stderr)
        return 1
    except LeadershipLostError as exc:
        log.error("%s; exiting so a supervisor restarts this replica", exc)
        return 1
    return 0
