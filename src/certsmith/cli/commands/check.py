"""``certsmith check api [--wait 2m] [--interval 5s]``: is the cert-manager API ready? (SPEC §9).

cmctl's semantics (:mod:`certsmith.status.apicheck`): the API answers, serves both groups'
resources, stamps ``spec.username`` on a dry-run CertificateRequest and refuses an invalid one.
Prints ``The cert-manager API is ready`` and exits 0; otherwise exits 1 with the reason. With
``--wait`` it retries every ``--interval`` until the deadline, printing one ``Not ready`` line per
attempt (a server that does not answer yet, or whose kubeconfig is not written yet, is retried
too), so ``certsmith serve & certsmith check api --wait 2m`` works in scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import time
from pathlib import Path

from certsmith.api.duration import format_go_duration, parse_go_duration
from certsmith.cli.commands.approve import CommandError
from certsmith.cli.commands.kube import add_kube_arguments, resolve_kubeconfig
from certsmith.cli.commands.runner import api_error_text, run_command
from certsmith.client.errors import ClientError
from certsmith.client.http import HttpKubeClient
from certsmith.status.apicheck import READY_MESSAGE, ApiNotReadyError, check_api

__all__ = ["add_parser", "duration_arg", "run"]


def duration_arg(text: str) -> dt.timedelta:
    """An argparse type: a Go duration (``2m``, ``5s``, ``1h30m``) that is not negative."""
    try:
        value = parse_go_duration(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: {err}") from None
    if value < dt.timedelta(0):
        raise argparse.ArgumentTypeError(f"duration {text!r} must not be negative")
    return value


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``check api``."""
    parser = subparsers.add_parser("check", help="check that something is ready")
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    api = kinds.add_parser(
        "api", help="check that the cert-manager API is served and its admission works"
    )
    add_kube_arguments(api)
    api.add_argument(
        "--wait",
        type=duration_arg,
        default=dt.timedelta(0),
        help="keep trying for this long, e.g. 2m (default 0: one attempt)",
    )
    api.add_argument(
        "--interval",
        type=duration_arg,
        default=dt.timedelta(seconds=5),
        help="time between attempts while waiting (default 5s)",
    )
    api.set_defaults(func=run)


async def _attempt(kubeconfig: Path | None, context: str | None, namespace: str | None) -> None:
    path = resolve_kubeconfig(kubeconfig)
    async with HttpKubeClient.from_kubeconfig(path, context) as client:
        await check_api(client, namespace or client.namespace)


async def _run(args: argparse.Namespace) -> int:
    wait: dt.timedelta = args.wait
    interval = max(args.interval.total_seconds(), 0.1)
    start = time.monotonic()
    deadline = start + wait.total_seconds()
    while True:
        try:
            await _attempt(args.kubeconfig, args.context, args.namespace)
        except (ApiNotReadyError, ClientError) as err:
            reason = str(err) if isinstance(err, ApiNotReadyError) else api_error_text(err)
            if wait <= dt.timedelta(0):
                raise CommandError(f"Not ready: {reason}") from None
            if time.monotonic() + interval > deadline:
                raise CommandError(
                    f"timed out after {format_go_duration(wait)} waiting for the cert-manager "
                    f"API: {reason}"
                ) from None
            elapsed = dt.timedelta(seconds=int(time.monotonic() - start))
            print(
                f"Not ready ({format_go_duration(elapsed)} of {format_go_duration(wait)}): "
                f"{reason}",
                file=sys.stderr,
                flush=True,
            )
            await asyncio.sleep(interval)
            continue
        print(READY_MESSAGE)
        return 0


def run(args: argparse.Namespace) -> int:
    """Entry point of ``certsmith check api``."""
    return run_command("check api", _run(args))
