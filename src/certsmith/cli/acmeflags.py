"""The ACME flags of ``certsmith serve`` and ``certsmith controller``.

cert-manager's names where it has the setting (``--acme-http01-solver-nameservers``,
``--dns01-recursive-nameservers``, ``--dns01-recursive-nameservers-only``,
``--max-concurrent-challenges``), certsmith's own for what standalone mode adds:

* ``--acme-http01-listen HOST:PORT``: where certsmith answers HTTP-01 challenges itself. For
  ``serve`` the default is ``0.0.0.0:80`` when the API listens on a non-loopback address (a
  server meant to be reached from outside) and off otherwise; ``controller`` has it off unless
  given. ``0`` or an empty value turns it off.
  With a listener the process is in standalone mode; without one, in cluster mode: every
  HTTP-01 Challenge gets cert-manager's solver Pod, Service and Ingress or HTTPRoute, whose pod
  is built from cert-manager's ``--acme-http01-solver-image``,
  ``--acme-http01-solver-resource-{request,limits}-{cpu,memory}`` and
  ``--acme-http01-solver-run-as-non-root`` (the image defaults to the install manifests').
* ``--acme-http01-self-check-port``: the port the HTTP-01 self-check GETs instead of 80 (the
  CA always uses 80; this is for set-ups that forward 80 to another local port, and for tests).
* ``--dns01-check-settle``: the wait after a passing DNS-01 check before accepting (60 s, as
  cert-manager sleeps).
* ``--dns01-exec NAME=PATH``: scripts the DNS-01 exec provider may run (repeatable).
"""

from __future__ import annotations

import argparse
import ipaddress
from typing import Final

from certsmith import __version__
from certsmith.acme.dns01 import DNS01Error, DNS01Settings
from certsmith.controllers.acme.http01 import Http01Registry, SelfCheckOptions, parse_nameserver
from certsmith.controllers.acme.http01cluster import SolverPodSettings
from certsmith.controllers.acme.scheduler import DEFAULT_MAX_CONCURRENT
from certsmith.controllers.acme.solving import DNS01_SETTLE
from certsmith.controllers.acme.wiring import AcmeOptions
from certsmith.util.metrics import observe_acme_request

DEFAULT_SOLVER_IMAGE: Final = f"certsmith:{__version__}"  # deploy/base/deployment.yaml's
DEFAULT_PUBLIC_HTTP01: Final = ("0.0.0.0", 80)  # noqa: S104 - public on purpose: the CA connects


def _nameservers(value: str) -> tuple[str, ...]:
    items = tuple(v.strip() for v in value.split(",") if v.strip())
    for item in items:
        try:
            parse_nameserver(item)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(
                f"invalid nameserver {item!r}: expected IP[:PORT]"
            ) from exc
    return items


def _port(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise argparse.ArgumentTypeError(f"expected a port number, got {value!r}")
    return int(value)


def _seconds(value: str) -> float:
    from certsmith.api.duration import parse_go_duration

    try:
        seconds = parse_go_duration(value).total_seconds()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"invalid duration {value!r}: {exc}") from exc
    if seconds < 0:
        raise argparse.ArgumentTypeError(f"duration must not be negative, got {value!r}")
    return seconds


def _boolean(value: str) -> bool:
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def _listen(value: str) -> tuple[str, int] | None:
    if value in ("", "0"):
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104


def add_acme_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ACME flags (see the module docstring)."""
    group = parser.add_argument_group("ACME")
    group.add_argument(
        "--acme-http01-listen",
        type=_listen,
        default=argparse.SUPPRESS,
        metavar="HOST:PORT",
        help="answer ACME HTTP-01 challenges on this plain-HTTP address; '0' turns it off "
        "(serve: default 0.0.0.0:80 when --listen is not a loopback address, else off; "
        "controller: off)",
    )
    defaults = SolverPodSettings(image=DEFAULT_SOLVER_IMAGE)
    group.add_argument(
        "--acme-http01-solver-image",
        default=DEFAULT_SOLVER_IMAGE,
        metavar="IMAGE",
        help="image of the HTTP-01 solver pods in cluster mode (runs 'certsmith acmesolver'; "
        f"default {DEFAULT_SOLVER_IMAGE})",
    )
    for flag, attr in (
        ("request-cpu", "requests_cpu"),
        ("request-memory", "requests_memory"),
        ("limits-cpu", "limits_cpu"),
        ("limits-memory", "limits_memory"),
    ):
        group.add_argument(
            f"--acme-http01-solver-resource-{flag}",
            dest=f"acme_http01_solver_{attr}",
            default=getattr(defaults, attr),
            metavar="QUANTITY",
            help=f"{flag.replace('-', ' ')} of the HTTP-01 solver pods "
            f"(default {getattr(defaults, attr)})",
        )
    group.add_argument(
        "--acme-http01-solver-run-as-non-root",
        type=_boolean,
        default=True,
        metavar="BOOL",
        help="runAsNonRoot of the HTTP-01 solver pods (default true)",
    )
    group.add_argument(
        "--acme-http01-solver-nameservers",
        type=_nameservers,
        default=(),
        metavar="IP[:PORT],...",
        help="nameservers the HTTP-01 self-check resolves names with (default: the system's)",
    )
    group.add_argument(
        "--acme-http01-self-check-port",
        type=_port,
        default=None,
        metavar="PORT",
        help="port the HTTP-01 self-check connects to instead of 80",
    )
    group.add_argument(
        "--dns01-recursive-nameservers",
        type=_nameservers,
        default=(),
        metavar="IP[:PORT],...",
        help="nameservers for DNS-01 lookups and checks (default: /etc/resolv.conf)",
    )
    group.add_argument(
        "--dns01-recursive-nameservers-only",
        action="store_true",
        help="check DNS-01 records on the recursive nameservers only, not on the zone's "
        "authoritative ones",
    )
    group.add_argument(
        "--dns01-check-settle",
        type=_seconds,
        default=DNS01_SETTLE,
        metavar="DURATION",
        help="wait after a passing DNS-01 check before accepting (Go duration, default 60s)",
    )
    group.add_argument(
        "--dns01-exec",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="a script the DNS-01 exec provider may run under NAME (repeatable)",
    )
    group.add_argument(
        "--max-concurrent-challenges",
        type=_port,
        default=DEFAULT_MAX_CONCURRENT,
        metavar="N",
        help=f"ACME challenges processed at once (default {DEFAULT_MAX_CONCURRENT})",
    )


def acme_options(
    args: argparse.Namespace, http01_listen: tuple[str, int] | None = None
) -> AcmeOptions:
    """The controllers' ACME options from the parsed flags.

    HTTP-01 is solved in standalone mode when the process listens for it (``http01_listen``),
    else in cluster mode with solver pods built from the ``--acme-http01-solver-*`` flags.

    Raises:
        ValueError: a DNS-01 setting is unusable (the message says which).
    """
    try:
        dns01 = DNS01Settings.from_flags(
            args.dns01_recursive_nameservers,
            recursive_only=args.dns01_recursive_nameservers_only,
            exec_commands=args.dns01_exec,
        )
    except DNS01Error as exc:
        raise ValueError(str(exc)) from exc
    return AcmeOptions(
        http01=Http01Registry(),
        http01_check=SelfCheckOptions(
            nameservers=tuple(args.acme_http01_solver_nameservers),
            port=args.acme_http01_self_check_port,
        ),
        http01_solver=None if http01_listen is not None else _solver_settings(args),
        dns01=dns01,
        dns01_settle=args.dns01_check_settle,
        max_concurrent_challenges=args.max_concurrent_challenges,
        observer=observe_acme_request,
    )


def _solver_settings(args: argparse.Namespace) -> SolverPodSettings:
    return SolverPodSettings(
        image=args.acme_http01_solver_image,
        requests_cpu=args.acme_http01_solver_requests_cpu,
        requests_memory=args.acme_http01_solver_requests_memory,
        limits_cpu=args.acme_http01_solver_limits_cpu,
        limits_memory=args.acme_http01_solver_limits_memory,
        run_as_non_root=args.acme_http01_solver_run_as_non_root,
    )


def http01_listen(args: argparse.Namespace, api_host: str | None) -> tuple[str, int] | None:
    """Where to answer HTTP-01: the flag, else public port 80 for a public API, else off."""
    if hasattr(args, "acme_http01_listen"):
        value: tuple[str, int] | None = args.acme_http01_listen
        return value
    if api_host is None:
        return None
    try:
        loopback = ipaddress.ip_address(api_host).is_loopback
    except ValueError:
        loopback = api_host == "localhost"
    return None if loopback else DEFAULT_PUBLIC_HTTP01
