"""``certsmith wait certificate [NAME...|--all] [-n NS|-A] --for ready --timeout 5m``.

``kubectl wait --for=condition=Ready`` for Certificates, with what kubectl lacks for many of
them: a progress line (``n/N ready``; a rich progress bar on a terminal, one plain line per
change otherwise, so CI logs stay readable) and, on timeout, the root cause of each Certificate
still not Ready (:mod:`certsmith.status`). A Certificate counts as ready when ``Ready=True`` was
observed for its current generation. Exit code 0 when all are ready, 1 otherwise.

The Certificates are listed once per ``--interval`` (one request per namespace, not one per
Certificate), so waiting for thousands costs the server little.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from certsmith.api.duration import format_go_duration
from certsmith.cli.commands.approve import CommandError
from certsmith.cli.commands.check import duration_arg
from certsmith.cli.commands.kube import add_kube_arguments, resolve_kubeconfig
from certsmith.cli.commands.runner import run_command
from certsmith.cli.commands.status import console_for
from certsmith.client.errors import ClientError
from certsmith.client.http import HttpKubeClient
from certsmith.client.resources import CERTIFICATES
from certsmith.status.gather import diagnose

__all__ = ["add_parser", "is_ready", "run"]

JSONObject = dict[str, Any]
_EXPLAINED: Final = 10
"""On timeout, explain at most this many Certificates (the rest are only named)."""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``wait certificate``."""
    parser = subparsers.add_parser("wait", help="wait for resources to become ready")
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    cert = kinds.add_parser(
        "certificate",
        aliases=["certificates", "cert", "certs"],
        help="wait until Certificates are Ready, showing n/N progress",
    )
    cert.add_argument("names", metavar="NAME", nargs="*", help="the Certificates")
    add_kube_arguments(cert)
    cert.add_argument("--all", action="store_true", help="every Certificate in the namespace")
    cert.add_argument(
        "-A", "--all-namespaces", action="store_true", help="every namespace (with --all)"
    )
    cert.add_argument("--for", dest="for_", choices=("ready",), default="ready", help="condition")
    cert.add_argument(
        "--timeout",
        type=duration_arg,
        default=dt.timedelta(minutes=5),
        help="give up after this long (default 5m)",
    )
    cert.add_argument(
        "--interval",
        type=duration_arg,
        default=dt.timedelta(seconds=1),
        help="time between checks (default 1s)",
    )
    cert.set_defaults(func=run)


def validate(args: argparse.Namespace) -> None:
    """Check the selection flags (as ``certsmith renew``).

    Raises:
        CommandError: neither names nor ``--all``, or names mixed with ``--all``/``-A``.
    """
    if args.names and (args.all or args.all_namespaces):
        raise CommandError("cannot specify Certificate names in conjunction with --all or -A")
    if not args.names and not args.all:
        raise CommandError("please supply one or more Certificate names, or use --all")


def is_ready(cert: Mapping[str, Any]) -> bool:
    """``Ready=True``, observed for the current generation when the condition says which."""
    meta = cert.get("metadata") or {}
    generation = meta.get("generation")
    for cond in (cert.get("status") or {}).get("conditions") or []:
        if cond.get("type") != "Ready":
            continue
        observed = cond.get("observedGeneration")
        fresh = not isinstance(generation, int) or not isinstance(observed, int)
        return cond.get("status") == "True" and (fresh or observed >= generation)
    return False


def _key(cert: Mapping[str, Any]) -> str:
    meta = cert.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"


async def _snapshot(
    client: HttpKubeClient, args: argparse.Namespace, namespace: str
) -> dict[str, bool]:
    """Ready per ``namespace/name`` of the selected Certificates."""
    items: list[JSONObject] = []
    token: str | None = None
    where = None if args.all_namespaces else namespace
    while True:
        page = await client.list(CERTIFICATES, where, limit=500, continue_token=token)
        items.extend(page.items)
        token = page.continue_token
        if not token:
            break
    found = {_key(item): is_ready(item) for item in items}
    if not args.names:
        return found
    wanted = [f"{namespace}/{name}" for name in args.names]
    missing = [key for key in wanted if key not in found]
    if missing:
        raise CommandError(
            f"Certificate(s) not found: {', '.join(missing)} "
            f"(list them with `kubectl get certificates -n {namespace}`)"
        )
    return {key: found[key] for key in wanted}


class _Reporter:
    """Shows ``n/N ready``: a rich progress bar on a terminal, plain lines otherwise."""

    def __init__(self) -> None:
        self._tty = sys.stdout.isatty()
        self._last: tuple[int, int] | None = None
        self._progress: Progress | None = None
        self._task: Any = None

    def __enter__(self) -> _Reporter:
        if self._tty:
            self._progress = Progress(
                TextColumn("Waiting for Certificates"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("ready"),
                TimeElapsedColumn(),
                console=console_for(sys.stdout),
                transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task("wait", total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def update(self, ready: int, total: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=ready, total=total)
            return
        if self._last != (ready, total):
            self._last = (ready, total)
            print(f"{ready}/{total} Certificates ready", flush=True)


async def _explain(client: HttpKubeClient, pending: list[str]) -> list[str]:
    lines = []
    for key in pending[:_EXPLAINED]:
        namespace, _, name = key.partition("/")
        try:
            diagnosis = await diagnose(client, namespace, name, event_limit=0)
            lines.append(f"  {key}: {diagnosis.root_cause.line}")
        except ClientError as err:
            lines.append(f"  {key}: cannot diagnose: {err}")
    if len(pending) > _EXPLAINED:
        lines.append(f"  ... and {len(pending) - _EXPLAINED} more")
    return lines


async def _run(args: argparse.Namespace, clock: Callable[[], float] = time.monotonic) -> int:
    validate(args)
    path = resolve_kubeconfig(args.kubeconfig)
    timeout: dt.timedelta = args.timeout
    interval = max(args.interval.total_seconds(), 0.05)
    deadline = clock() + timeout.total_seconds()
    async with HttpKubeClient.from_kubeconfig(path, args.context) as client:
        namespace = args.namespace or client.namespace
        with _Reporter() as reporter:
            while True:
                states = await _snapshot(client, args, namespace)
                ready = sum(states.values())
                reporter.update(ready, len(states))
                if states and ready == len(states):
                    break
                if clock() >= deadline:
                    break
                await asyncio.sleep(min(interval, max(deadline - clock(), 0)))
        if not states:
            where = "any namespace" if args.all_namespaces else f"namespace {namespace}"
            raise CommandError(f"no Certificates found in {where}")
        pending = sorted(key for key, ok in states.items() if not ok)
        if not pending:
            print(f"All {len(states)} Certificates are Ready")
            return 0
        explanation = await _explain(client, pending)
    print(
        f"timed out after {format_go_duration(timeout)}: {len(states) - len(pending)}/"
        f"{len(states)} Certificates ready; not ready:",
        file=sys.stderr,
    )
    for line in explanation:
        print(line, file=sys.stderr)
    return 1


def run(args: argparse.Namespace) -> int:
    """Entry point of ``certsmith wait certificate``."""
    return run_command("wait", _run(args))
