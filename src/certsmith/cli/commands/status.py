"""``certsmith status certificate NAME``: the whole issuance chain on one screen (SPEC §9).

Like ``cmctl status certificate``, it walks Certificate → Secret (and the certificate in it) →
CertificateRequest → ACME Order → Challenges → Issuer → Events; unlike it, it ends with one line
naming the root cause and the next action (:mod:`certsmith.status.rootcause`). That line is
printed last, unwrapped, so ``| tail -1`` gives it to scripts; ``--output json`` gives the whole
:class:`~certsmith.status.model.Diagnosis` with stable snake_case keys.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Iterable, Sequence
from typing import TextIO

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from certsmith.api.meta import format_time
from certsmith.cli.commands.approve import CommandError
from certsmith.cli.commands.kube import add_kube_arguments, resolve_kubeconfig
from certsmith.cli.commands.runner import run_command
from certsmith.client.errors import NotFound
from certsmith.client.http import HttpKubeClient
from certsmith.status.gather import diagnose
from certsmith.status.model import (
    ConditionInfo,
    Diagnosis,
    OrderInfo,
    RequestInfo,
    SecretInfo,
    X509Info,
)

__all__ = [
    "Section",
    "add_parser",
    "console_for",
    "relative",
    "render",
    "root_line",
    "run",
    "sections",
]

Row = tuple[str, str]


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``status certificate``."""
    parser = subparsers.add_parser("status", help="explain the state of a resource")
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    cert = kinds.add_parser(
        "certificate",
        aliases=["cert"],
        help="a Certificate's chain (Secret, request, order, challenges, issuer, events) "
        "and its root cause",
    )
    cert.add_argument("name", metavar="NAME", help="the Certificate")
    add_kube_arguments(cert)
    cert.add_argument(
        "-o",
        "--output",
        choices=("text", "json"),
        default="text",
        help="text (default, tables) or json (stable keys, for scripts)",
    )
    cert.set_defaults(func=run)


def console_for(stream: TextIO) -> Console:
    """A rich console: colours on a terminal; plain and 160 columns wide otherwise."""
    if stream.isatty():
        return Console(file=stream, highlight=False)
    return Console(file=stream, highlight=False, color_system=None, width=160)


def relative(when: dt.datetime | None, now: dt.datetime, *, short: bool = False) -> str:
    """``2026-01-02T03:04:05Z (in 3d4h)`` / ``(5m ago)``; ``-`` for no time.

    ``short`` drops the absolute time (``5m ago``), for table columns.
    """
    if when is None:
        return "-"
    delta = when - now
    seconds = int(abs(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        span = f"{days}d{hours}h"
    elif hours:
        span = f"{hours}h{minutes}m"
    elif minutes:
        span = f"{minutes}m{secs}s"
    else:
        span = f"{secs}s"
    ago = f"in {span}" if delta.total_seconds() >= 0 else f"{span} ago"
    return ago if short else f"{format_time(when)} ({ago})"


class Section:
    """A heading and its table (``None``: the heading says it all, e.g. "none")."""

    def __init__(self, title: str, table: Table | None) -> None:
        self.title = title
        self.table = table

    def print(self, console: Console) -> None:
        """Print the heading (bold, never wrapped) and the table under it."""
        console.print(Text(self.title, style="bold"), soft_wrap=True)
        if self.table is not None:
            console.print(self.table)
        else:
            console.print()


def fields_section(title: str, rows: Iterable[Row]) -> Section:
    table = Table(box=None, show_header=False, padding=(0, 2, 0, 2))
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    for key, value in rows:
        table.add_row(Text(key), Text(value))
    return Section(title, table)


def grid_section(title: str, headers: Sequence[str], rows: Iterable[Sequence[str]]) -> Section:
    materialised = [tuple(row) for row in rows]
    if not materialised:
        return Section(f"{title}: none", None)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=True)
    for header in headers:
        table.add_column(header, overflow="fold")
    for row in materialised:
        table.add_row(*(Text(cell) for cell in row))
    return Section(title, table)


def _conditions(title: str, conditions: Sequence[ConditionInfo], now: dt.datetime) -> Section:
    return grid_section(
        title,
        ("Type", "Status", "Reason", "Message", "Since"),
        (
            (
                c.type,
                c.status,
                c.reason,
                c.message,
                relative(c.last_transition_time, now, short=True),
            )
            for c in conditions
        ),
    )


def _joined(values: Sequence[str]) -> str:
    return ", ".join(values) if values else "-"


def _x509_rows(cert: X509Info, now: dt.datetime) -> list[Row]:
    return [
        ("Subject", cert.subject or "-"),
        ("Issuer", cert.issuer or "-"),
        ("DNS names", _joined(cert.dns_names)),
        *([("IP addresses", _joined(cert.ip_addresses))] if cert.ip_addresses else []),
        *([("URIs", _joined(cert.uris))] if cert.uris else []),
        *([("Emails", _joined(cert.email_addresses))] if cert.email_addresses else []),
        ("Not before", relative(cert.not_before, now)),
        ("Not after", relative(cert.not_after, now)),
        ("Key", cert.key_algorithm),
        ("Serial", cert.serial),
        ("CA", "yes" if cert.is_ca else "no"),
    ]


def _secret(secret: SecretInfo, now: dt.datetime) -> Section:
    title = f"Secret {secret.namespace}/{secret.name}"
    if secret.error:
        return fields_section(title, [("Error", secret.error)])
    if not secret.exists:
        return fields_section(title, [("Exists", "no")])
    rows: list[Row] = [("Type", secret.type or "-"), ("Keys", _joined(secret.keys))]
    if secret.issuer_annotation:
        rows.append(("Issued by", secret.issuer_annotation))
    if secret.certificate is not None:
        rows.extend(_x509_rows(secret.certificate, now))
        rows.append(("Chain", f"{secret.chain_length} certificate(s) in tls.crt"))
    match = {True: "yes", False: "NO: tls.key is not the certificate's key", None: "-"}
    rows.append(("Key matches", match[secret.key_matches]))
    if secret.decode_error:
        rows.append(("Problems", secret.decode_error))
    return fields_section(title, rows)


def _request(request: RequestInfo, now: dt.datetime) -> list[Section]:
    role = "in flight" if request.role == "next" else "of the current certificate"
    rows: list[Row] = [
        ("Revision", str(request.revision) if request.revision is not None else "-"),
        ("State", request.state),
        ("Requester", request.username or "-"),
        ("Created", relative(request.created, now)),
    ]
    if request.failure_time is not None:
        rows.append(("Failure time", relative(request.failure_time, now)))
    title = f"CertificateRequest {request.namespace}/{request.name} ({role})"
    return [fields_section(title, rows), _conditions("Request conditions", request.conditions, now)]


def _order(order: OrderInfo, now: dt.datetime) -> list[Section]:
    rows: list[Row] = [("State", order.state or "-"), ("Reason", order.reason or "-")]
    if order.url:
        rows.append(("URL", order.url))
    if order.failure_time is not None:
        rows.append(("Failure time", relative(order.failure_time, now)))
    challenges = grid_section(
        "Challenges",
        ("Name", "Type", "Domain", "State", "Presented", "Processing", "Reason"),
        (
            (
                c.name,
                c.type,
                f"*.{c.dns_name}" if c.wildcard else c.dns_name,
                c.state or "-",
                "yes" if c.presented else "no",
                "yes" if c.processing else "no",
                c.reason or "-",
            )
            for c in order.challenges
        ),
    )
    return [fields_section(f"ACME Order {order.namespace}/{order.name}", rows), challenges]


def _certificate_rows(d: Diagnosis) -> list[Row]:
    cert, now = d.certificate, d.observed_at
    ref = cert.issuer_ref
    rows: list[Row] = [
        ("Secret", cert.secret_name),
        ("Issuer", f"{ref.kind} {ref.name}" + (f" ({ref.group})" if ref.is_external else "")),
    ]
    if cert.common_name:
        rows.append(("Common name", cert.common_name))
    rows += [
        ("DNS names", _joined(cert.dns_names)),
        ("Revision", str(cert.revision) if cert.revision is not None else "-"),
        ("Not before", relative(cert.not_before, now)),
        ("Not after", relative(cert.not_after, now)),
        ("Renewal time", relative(cert.renewal_time, now)),
    ]
    if cert.failed_issuance_attempts or cert.last_failure_time:
        rows.append(("Failed attempts", str(cert.failed_issuance_attempts or 0)))
        rows.append(("Last failure", relative(cert.last_failure_time, now)))
    if cert.next_retry_time is not None:
        source = " (default backoff)" if cert.next_retry_source == "default-backoff" else ""
        rows.append(("Next retry", relative(cert.next_retry_time, now) + source))
    return rows


def _issuer(d: Diagnosis) -> Section:
    issuer = d.issuer
    if issuer.ref.is_external:
        return fields_section(
            issuer.display, [("External", f"group {issuer.ref.group}: not inspected")]
        )
    if issuer.error is not None:
        return fields_section(issuer.display, [("Error", issuer.error)])
    if not issuer.exists:
        return fields_section(issuer.display, [("Exists", "no")])
    ready = issuer.ready
    rows: list[Row] = [
        ("Type", issuer.type or "-"),
        ("Ready", f"{ready.status} ({ready.reason})" if ready else "no Ready condition"),
        ("Message", ready.message if ready else "-"),
    ]
    if issuer.secret_name:
        rows.append(("Secret", issuer.secret_name))
    if issuer.acme_server:
        rows.append(("ACME server", issuer.acme_server))
    return fields_section(issuer.display, rows)


def _events(d: Diagnosis) -> Section:
    return grid_section(
        "Events",
        ("Last seen", "Type", "Reason", "Object", "Message"),
        (
            (
                relative(e.last_seen, d.observed_at, short=True),
                e.type,
                e.reason,
                f"{e.object_kind}/{e.object_name}",
                e.message + (f" (x{e.count})" if e.count > 1 else ""),
            )
            for e in d.events
        ),
    )


def sections(d: Diagnosis) -> list[Section]:
    """The chain, top to bottom, as headed tables."""
    now = d.observed_at
    cert = d.certificate
    result = [
        fields_section(f"Certificate {cert.namespace}/{cert.name}", _certificate_rows(d)),
        _conditions("Conditions", cert.conditions, now),
        _secret(d.secret, now),
    ]
    if d.request is None:
        result.append(Section("CertificateRequest: none found for this Certificate", None))
    else:
        result.extend(_request(d.request, now))
    if d.order is not None:
        result.extend(_order(d.order, now))
    result += [_issuer(d), _events(d)]
    return result


def render(d: Diagnosis, console: Console) -> None:
    """Print the chain as tables; the root-cause line comes after (see :func:`root_line`)."""
    for section in sections(d):
        section.print(console)


def root_line(d: Diagnosis) -> str:
    """The last line: the root cause and the next action."""
    line = d.root_cause.line
    return line if d.root_cause.healthy else f"Root cause: {line}"


async def _run(args: argparse.Namespace) -> int:
    path = resolve_kubeconfig(args.kubeconfig)
    async with HttpKubeClient.from_kubeconfig(path, args.context) as client:
        namespace = args.namespace or client.namespace
        try:
            diagnosis = await diagnose(client, namespace, args.name)
        except NotFound:
            raise CommandError(
                f'Certificate "{args.name}" not found in namespace "{namespace}" '
                f"(list them with `kubectl get certificates -n {namespace}`)"
            ) from None
    if args.output == "json":
        json.dump(diagnosis.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    console = console_for(sys.stdout)
    render(diagnosis, console)
    # Never wrapped: scripts take the last line with `tail -1`.
    style = "bold green" if diagnosis.root_cause.healthy else "bold red"
    console.print(Text(root_line(diagnosis), style=style), soft_wrap=True)
    return 0


def run(args: argparse.Namespace) -> int:
    """Entry point of ``certsmith status certificate``."""
    return run_command("status", _run(args))
