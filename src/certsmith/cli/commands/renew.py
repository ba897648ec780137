"""``certsmith renew``: cmctl's manual renewal of Certificates (SPEC §9, §12 behaviour 24).

Same selection rules, condition and output as ``cmctl renew``: names, ``--all`` or ``-l`` (not
mixed), ``-A`` across namespaces; ``Issuing=True`` with reason ``ManuallyTriggered`` and message
``Certificate re-issuance manually triggered``, ``observedGeneration`` = ``metadata.generation``,
written through ``/status`` with the object's resourceVersion so a concurrent controller write
only causes a re-read. Unlike cmctl, a Certificate that is already being issued is refused rather
than re-stamped: overwriting a trigger reason would hide why the issuance started, and the
issuance in flight already produces a new revision. The others are still renewed; the exit code
is 1 if any was refused or failed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from typing import Final

from certsmith.api.conditions import CertificateReason, ConditionStatus, ConditionType
from certsmith.api.meta import JSONObject, format_time
from certsmith.cli.commands.approve import CommandError
from certsmith.cli.commands.kube import add_kube_arguments, resolve_kubeconfig
from certsmith.client.errors import ApiError, ClientError, Conflict, TransportError
from certsmith.client.http import HttpKubeClient
from certsmith.client.resources import CERTIFICATES

MESSAGE: Final = "Certificate re-issuance manually triggered"
_ATTEMPTS: Final = 5


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``renew``."""
    parser = subparsers.add_parser(
        "renew", help="mark Certificates for manual renewal (as cmctl renew)"
    )
    parser.add_argument("names", metavar="NAME", nargs="*", help="the Certificates")
    add_kube_arguments(parser)
    parser.add_argument(
        "--all", action="store_true", help="renew every Certificate in the namespace"
    )
    parser.add_argument(
        "-A",
        "--all-namespaces",
        action="store_true",
        help="look in every namespace (with --all or -l)",
    )
    parser.add_argument("-l", "--selector", default="", help="label selector, e.g. app=web")
    parser.set_defaults(func=run)


def validate(args: argparse.Namespace) -> None:
    """Check the selection flags as cmctl does.

    Raises:
        CommandError: names, ``--all``, ``-l`` and ``-A`` are combined in a way cmctl refuses.
    """
    if args.selector and args.all:
        raise CommandError("cannot specify label selectors in conjunction with --all flag")
    if not args.names:
        if not args.all and not args.selector:
            raise CommandError(
                "please either supply one or more Certificate resource names, label selectors, "
                "or use the --all flag to renew all Certificate resources"
            )
        return
    if args.selector:
        raise CommandError("cannot specify Certificate names in conjunction with label selectors")
    if args.all:
        raise CommandError("cannot specify Certificate names in conjunction with --all flag")
    if args.all_namespaces:
        raise CommandError(
            "cannot specify Certificate names in conjunction with --all-namespaces flag"
        )


def issuing_refusal(cert: JSONObject) -> str | None:
    """Why ``cert`` must not be re-triggered (it is already Issuing), or ``None``."""
    for cond in (cert.get("status") or {}).get("conditions") or []:
        if cond.get("type") == ConditionType.ISSUING and cond.get("status") == ConditionStatus.TRUE:
            reason = cond.get("reason") or "unknown reason"
            return f"is already being issued (Issuing=True, reason {reason})"
    return None


def with_manual_trigger(cert: JSONObject, now: dt.datetime) -> JSONObject:
    """``cert`` with ``Issuing=True``/``ManuallyTriggered`` (replacing any Issuing condition)."""
    status = dict(cert.get("status") or {})
    generation = (cert.get("metadata") or {}).get("generation")
    conditions = [
        c for c in status.get("conditions") or [] if c.get("type") != ConditionType.ISSUING
    ]
    condition: JSONObject = {
        "type": str(ConditionType.ISSUING),
        "status": str(ConditionStatus.TRUE),
        "lastTransitionTime": format_time(now),
        "reason": str(CertificateReason.MANUALLY_TRIGGERED),
        "message": MESSAGE,
    }
    if isinstance(generation, int):
        condition["observedGeneration"] = generation
    conditions.append(condition)
    status["conditions"] = conditions
    return {**cert, "status": status}


async def _select(client: HttpKubeClient, args: argparse.Namespace, ns: str) -> list[JSONObject]:
    if args.names:
        return [await client.get(CERTIFICATES, ns, name) for name in args.names]
    items: list[JSONObject] = []
    token: str | None = None
    while True:
        page = await client.list(
            CERTIFICATES,
            None if args.all_namespaces else ns,
            label_selector=args.selector or None,
            continue_token=token,
        )
        items.extend(page.items)
        token = page.continue_token
        if not token:
            return items


async def renew(client: HttpKubeClient, cert: JSONObject) -> JSONObject:
    """Set ``Issuing=True``/``ManuallyTriggered`` on one Certificate via ``/status``.

    Raises:
        CommandError: the Certificate is already being issued.
        ApiError: the server refused (not found, forbidden, invalid).
        TransportError: the server did not answer.
    """
    meta = cert.get("metadata") or {}
    ns, name = str(meta.get("namespace")), str(meta.get("name"))
    for attempt in range(_ATTEMPTS):
        refusal = issuing_refusal(cert)
        if refusal is not None:
            raise CommandError(f"Certificate {ns}/{name} {refusal}")
        updated = with_manual_trigger(cert, dt.datetime.now(dt.UTC))
        try:
            return await client.replace_status(CERTIFICATES, ns, name, updated)
        except Conflict:
            if attempt == _ATTEMPTS - 1:
                raise
            cert = await client.get(CERTIFICATES, ns, name)
    raise AssertionError("unreachable")  # pragma: no cover


async def _run(args: argparse.Namespace) -> int:
    validate(args)
    path = resolve_kubeconfig(args.kubeconfig)
    async with HttpKubeClient.from_kubeconfig(path, args.context) as client:
        namespace = args.namespace or client.namespace
        certs = await _select(client, args, namespace)
        if not certs:
            where = "" if args.all_namespaces else f" in {namespace} namespace"
            print(f"No Certificates found{where}.", file=sys.stderr)
            return 0
        code = 0
        for cert in certs:
            meta = cert.get("metadata") or {}
            ref = f"{meta.get('namespace')}/{meta.get('name')}"
            try:
                await renew(client, cert)
            except CommandError as exc:
                print(f"certsmith renew: {exc}", file=sys.stderr)
                code = 1
                continue
            except ApiError as exc:
                detail = exc.message or str(exc)
                print(
                    f"certsmith renew: failed to trigger issuance of Certificate {ref}: {detail}",
                    file=sys.stderr,
                )
                code = 1
                continue
            print(f"Manually triggered issuance of Certificate {ref}")
        return code


def run(args: argparse.Namespace) -> int:
    """Entry point of ``certsmith renew``."""
    try:
        return asyncio.run(_run(args))
    except CommandError as exc:
        print(f"certsmith renew: {exc}", file=sys.stderr)
    except ApiError as exc:
        print(f"certsmith renew: {exc.message or exc}", file=sys.stderr)
    except TransportError as exc:
        print(f"certsmith renew: cannot reach the API server: {exc}", file=sys.stderr)
    except ClientError as exc:
        print(f"certsmith renew: {exc}", file=sys.stderr)
    return 1
