"""``certsmith approve`` and ``certsmith deny``: cmctl's manual approval (SPEC §3.2, §9).

Same defaults, messages and refusals as ``cmctl approve|deny``: reason ``KubectlCertManager``,
message ``manually approved by "cmctl"`` / ``manually denied by "cmctl"``, and no change to a
request that is already Approved or Denied. The condition is written through the ``/status``
subresource with the request's resourceVersion, so the server's approval rules and RBAC decide
(SPEC §2.3); a concurrent writer only causes a re-read and a second attempt.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from typing import Final

from certsmith.api.conditions import ConditionStatus, ConditionType
from certsmith.api.meta import JSONObject, format_time
from certsmith.cli.commands.kube import add_kube_arguments, resolve_kubeconfig
from certsmith.client.errors import ApiError, ClientError, Conflict, TransportError
from certsmith.client.http import HttpKubeClient
from certsmith.client.resources import CERTIFICATE_REQUESTS

DEFAULT_REASON: Final = "KubectlCertManager"
BUILD_NAME: Final = "cmctl"
"""cmctl's ``build.Name``, kept in the default messages so tooling matching them still works."""
_ATTEMPTS: Final = 5


class CommandError(Exception):
    """A user-facing failure: printed without a traceback, exit code 1."""


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``approve`` and ``deny``."""
    for verb, ctype in (("approve", ConditionType.APPROVED), ("deny", ConditionType.DENIED)):
        done = "approved" if ctype is ConditionType.APPROVED else "denied"
        parser = subparsers.add_parser(
            verb, help=f"mark a CertificateRequest {done} (as cmctl {verb})"
        )
        parser.add_argument("name", metavar="NAME", help="the CertificateRequest")
        add_kube_arguments(parser)
        parser.add_argument(
            "--reason", default=DEFAULT_REASON, help=f"condition reason (default {DEFAULT_REASON})"
        )
        message = f'manually {done} by "{BUILD_NAME}"'
        parser.add_argument(
            "--message", default=message, help=f"condition message (default {message!r})"
        )
        parser.set_defaults(func=run, condition=ctype)


def _refusal(cr: JSONObject) -> str | None:
    for cond in (cr.get("status") or {}).get("conditions") or []:
        if cond.get("status") != ConditionStatus.TRUE:
            continue
        if cond.get("type") == ConditionType.APPROVED:
            return "CertificateRequest is already approved"
        if cond.get("type") == ConditionType.DENIED:
            return "CertificateRequest is already denied"
    return None


def with_condition(
    cr: JSONObject, ctype: ConditionType, reason: str, message: str, now: dt.datetime
) -> JSONObject:
    """``cr`` with the ``ctype=True`` condition set (replacing one of the same type)."""
    status = dict(cr.get("status") or {})
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != ctype]
    conditions.append(
        {
            "type": str(ctype),
            "status": str(ConditionStatus.TRUE),
            "lastTransitionTime": format_time(now),
            "reason": reason,
            "message": message,
        }
    )
    status["conditions"] = conditions
    return {**cr, "status": status}


async def set_approval(
    client: HttpKubeClient,
    namespace: str,
    name: str,
    ctype: ConditionType,
    reason: str,
    message: str,
) -> JSONObject:
    """Add ``Approved=True`` or ``Denied=True`` to a CertificateRequest via ``/status``.

    Raises:
        CommandError: the request is already approved or denied.
        ApiError: the server refused (not found, forbidden, invalid).
        TransportError: the server did not answer.
    """
    for attempt in range(_ATTEMPTS):
        cr = await client.get(CERTIFICATE_REQUESTS, namespace, name)
        refusal = _refusal(cr)
        if refusal is not None:
            raise CommandError(refusal)
        updated = with_condition(cr, ctype, reason, message, dt.datetime.now(dt.UTC))
        try:
            return await client.replace_status(CERTIFICATE_REQUESTS, namespace, name, updated)
        except Conflict:
            if attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


async def _run(args: argparse.Namespace) -> str:
    if not args.reason:
        raise CommandError("a reason must be given")
    if not args.message:
        raise CommandError("a message must be given")
    path = resolve_kubeconfig(args.kubeconfig)
    async with HttpKubeClient.from_kubeconfig(path, args.context) as client:
        namespace = args.namespace or client.namespace
        cr = await set_approval(
            client, namespace, args.name, args.condition, args.reason, args.message
        )
    verb = "Approved" if args.condition is ConditionType.APPROVED else "Denied"
    meta = cr.get("metadata") or {}
    return f"{verb} CertificateRequest '{meta.get('namespace', namespace)}/{meta.get('name')}'"


def run(args: argparse.Namespace) -> int:
    """Entry point of ``certsmith approve`` and ``certsmith deny``."""
    command = "approve" if args.condition is ConditionType.APPROVED else "deny"
    try:
        print(asyncio.run(_run(args)))
    except CommandError as exc:
        print(f"certsmith {command}: {exc}", file=sys.stderr)
        return 1
    except ApiError as exc:
        print(f"certsmith {command}: {exc.message or exc}", file=sys.stderr)
        return 1
    except TransportError as exc:
        print(f"certsmith {command}: cannot reach the API server: {exc}", file=sys.stderr)
        return 1
    except ClientError as exc:
        print(f"certsmith {command}: {exc}", file=sys.stderr)
        return 1
    return 0
