"""``certsmith inspect secret NAME``: the certificates in a TLS Secret, decoded (SPEC §9).

As ``cmctl inspect secret``: each certificate of ``tls.crt`` with its validity, subject and
issuer, SANs, usages, serial, fingerprints, CA flag and CRL/OCSP URLs; then the checks cmctl
leaves to the reader: is ``tls.crt`` in chain order (each certificate signed by the next), is
``tls.key`` the key of the first certificate, and how ``ca.crt`` relates to the chain. The
private key is only compared, never printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from rich.console import Console

from certsmith.cli.commands.approve import CommandError
from certsmith.cli.commands.kube import add_kube_arguments, resolve_kubeconfig
from certsmith.cli.commands.runner import run_command
from certsmith.cli.commands.status import Row, Section, console_for, fields_section, relative
from certsmith.client.errors import NotFound
from certsmith.client.http import HttpKubeClient
from certsmith.client.resources import SECRETS
from certsmith.status.model import X509Info
from certsmith.status.secrets import SecretInspection, inspect_secret

__all__ = ["add_parser", "render_inspection", "run"]


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``inspect secret``."""
    parser = subparsers.add_parser("inspect", help="decode and check a resource")
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    secret = kinds.add_parser(
        "secret", help="the certificates in a TLS Secret, with chain order and key match checks"
    )
    secret.add_argument("name", metavar="NAME", help="the Secret")
    add_kube_arguments(secret)
    secret.set_defaults(func=run)


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _list(values: tuple[str, ...]) -> str:
    return ", ".join(values) if values else "-"


def _certificate_rows(cert: X509Info, now: dt.datetime) -> list[Row]:
    expired = " EXPIRED" if cert.not_after < now else ""
    rows: list[Row] = [
        ("Subject", cert.subject or "-"),
        ("Issuer", cert.issuer or "-"),
        ("Not before", relative(cert.not_before, now)),
        ("Not after", relative(cert.not_after, now) + expired),
        ("DNS names", _list(cert.dns_names)),
        ("IP addresses", _list(cert.ip_addresses)),
        ("URIs", _list(cert.uris)),
        ("Emails", _list(cert.email_addresses)),
        ("Key usages", _list(cert.key_usages)),
        ("Extended key usages", _list(cert.extended_key_usages)),
        ("Public key", cert.key_algorithm),
        ("Serial", cert.serial),
        ("SHA-256 fingerprint", cert.sha256_fingerprint),
        ("SHA-1 fingerprint", cert.sha1_fingerprint),
        ("CA", _yes(cert.is_ca)),
        ("Self-signed", _yes(cert.self_signed)),
        ("CRL distribution points", _list(cert.crl_distribution_points)),
        ("OCSP servers", _list(cert.ocsp_servers)),
        ("CA issuers", _list(cert.issuing_certificate_urls)),
    ]
    return rows


def _check_rows(report: SecretInspection) -> list[Row]:
    rows: list[Row] = []
    count = len(report.certificates)
    if count > 1:
        for index, ok in enumerate(report.chain_signed, start=1):
            verdict = "yes" if ok else "NO: out of order or not part of this chain"
            rows.append((f"Certificate {index} signed by {index + 1}", verdict))
        rows.append(("Chain order", "ok" if report.chain_in_order else "BROKEN"))
    elif count == 1:
        rows.append(("Chain order", "single certificate"))
    if report.key_matches is None:
        rows.append(("Key matches tls.crt", "not checked (no tls.key or no certificate)"))
    else:
        verdict = "yes" if report.key_matches else "NO: tls.key is not the certificate's key"
        rows.append(("Key matches tls.crt", verdict))
    if report.ca_relation:
        rows.append(("ca.crt", report.ca_relation))
    for problem in report.problems:
        rows.append(("Problem", problem))
    return rows


def render_inspection(report: SecretInspection, console: Console, now: dt.datetime) -> None:
    """Print every certificate of the Secret, then the checks."""
    sections: list[Section] = [
        fields_section(
            f"Secret {report.namespace}/{report.name}",
            [("Type", report.type or "-"), ("Keys", _list(report.keys))],
        )
    ]
    total = len(report.certificates)
    for index, cert in enumerate(report.certificates, start=1):
        title = f"tls.crt certificate {index} of {total}"
        sections.append(fields_section(title, _certificate_rows(cert, now)))
    for index, cert in enumerate(report.ca_certificates, start=1):
        title = f"ca.crt certificate {index} of {len(report.ca_certificates)}"
        sections.append(fields_section(title, _certificate_rows(cert, now)))
    sections.append(fields_section("Checks", _check_rows(report)))
    for section in sections:
        section.print(console)


async def _run(args: argparse.Namespace) -> int:
    path = resolve_kubeconfig(args.kubeconfig)
    async with HttpKubeClient.from_kubeconfig(path, args.context) as client:
        namespace = args.namespace or client.namespace
        try:
            secret = await client.get(SECRETS, namespace, args.name)
        except NotFound:
            raise CommandError(
                f'Secret "{args.name}" not found in namespace "{namespace}" '
                f"(list them with `kubectl get secrets -n {namespace}`)"
            ) from None
    report = inspect_secret(secret)
    if not report.certificates and not report.ca_certificates:
        raise CommandError(
            f"Secret {namespace}/{args.name} holds no certificate in tls.crt or ca.crt"
            + (f" ({'; '.join(report.problems)})" if report.problems else "")
        )
    render_inspection(report, console_for(sys.stdout), dt.datetime.now(dt.UTC))
    return 0


def run(args: argparse.Namespace) -> int:
    """Entry point of ``certsmith inspect secret``."""
    return run_command("inspect", _run(args))
