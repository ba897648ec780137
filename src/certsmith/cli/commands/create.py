"""``certsmith create certificaterequest``: cmctl's request from a Certificate manifest (SPEC §9).

The key is generated here, per the manifest's ``privateKey``, and written (0600) before the
request exists, so a crash after the create never leaves a signed certificate without its key.
The request gets the Certificate's labels, annotations, issuerRef, duration, isCA and usages and a
CSR built by the same code as the request manager's (``pki.csr.generate_csr``), so it is what
cert-manager itself would send. ``--fetch-certificate`` polls once a second, as cmctl does; unlike
cmctl it stops at a terminal state (Denied, InvalidRequest, Failed) with the condition's message
instead of waiting for the timeout, since such a request is never signed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any, Final

import pydantic
import yaml

from certsmith.api.certmanager import Certificate
from certsmith.api.conditions import ConditionStatus, ConditionType, RequestReason
from certsmith.api.meta import JSONObject, decode_bytes, encode_bytes
from certsmith.cli.commands.approve import CommandError
from certsmith.cli.commands.kube import add_kube_arguments, resolve_kubeconfig
from certsmith.cli.controller import parse_duration
from certsmith.client.errors import ApiError, ClientError, TransportError
from certsmith.client.http import HttpKubeClient
from certsmith.client.resources import CERTIFICATE_REQUESTS
from certsmith.pki.csr import CSRGenerationError, generate_csr
from certsmith.pki.keys import encode_private_key_pem, generate_private_key

POLL_INTERVAL: Final = 1.0
DEFAULT_TIMEOUT: Final = 300.0
_COPIED_SPEC: Final = ("issuerRef", "duration", "isCA", "usages")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``create certificaterequest`` (alias ``cr``)."""
    create = subparsers.add_parser("create", help="create cert-manager resources (as cmctl)")
    kinds = create.add_subparsers(dest="kind", metavar="KIND", required=True)
    parser = kinds.add_parser(
        "certificaterequest",
        aliases=["cr"],
        help="a CertificateRequest from a Certificate manifest, with a locally generated key",
    )
    parser.add_argument("name", metavar="NAME", help="the CertificateRequest to create")
    add_kube_arguments(parser)
    parser.add_argument(
        "--from-certificate-file",
        type=Path,
        required=True,
        metavar="FILE",
        help="YAML manifest of the Certificate used as a template",
    )
    parser.add_argument(
        "--output-key-file", type=Path, metavar="FILE", help="private key file (default NAME.key)"
    )
    parser.add_argument(
        "--output-certificate-file",
        type=Path,
        metavar="FILE",
        help="certificate file (default NAME.crt); needs --fetch-certificate",
    )
    parser.add_argument(
        "--fetch-certificate",
        action="store_true",
        help="wait until the request is signed and write the certificate",
    )
    parser.add_argument(
        "--timeout",
        type=parse_duration,
        default=DEFAULT_TIMEOUT,
        help="how long --fetch-certificate waits, a Go duration (default 5m)",
    )
    parser.set_defaults(func=run)


def validate(args: argparse.Namespace) -> None:
    """Check the file flags as cmctl does.

    Raises:
        CommandError: the key and certificate files are the same, or a certificate file is
            given without ``--fetch-certificate``.
    """
    key, cert = args.output_key_file, args.output_certificate_file
    if key is not None and cert is not None and key == cert:
        raise CommandError(
            "the file to store private key cannot be the same as the file to store certificate"
        )
    if not args.fetch_certificate and cert is not None:
        raise CommandError(
            "cannot specify file to store certificate if not waiting for and fetching "
            "certificate, please set --fetch-certificate flag"
        )


def load_certificate(path: Path) -> tuple[JSONObject, Certificate]:
    """The one Certificate in a YAML manifest, as its raw wire form and parsed.

    Raises:
        CommandError: unreadable file, not exactly one object, not a v1 Certificate, or a spec
            that does not fit the CRD.
    """
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    except (OSError, yaml.YAMLError) as exc:
        raise CommandError(f"cannot read {path}: {exc}") from None
    if not docs:
        raise CommandError(f'no objects found in manifest file "{path}". Expected one Certificate')
    if len(docs) > 1:
        raise CommandError(
            f'multiple objects found in manifest file "{path}". Expected only one Certificate'
        )
    doc = docs[0]
    if (
        not isinstance(doc, dict)
        or doc.get("kind") != "Certificate"
        or doc.get("apiVersion") != "cert-manager.io/v1"
    ):
        raise CommandError(f"{path} does not hold a cert-manager.io/v1 Certificate")
    try:
        return doc, Certificate.from_dict(doc)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CommandError(f"invalid Certificate in {path}: {where}: {first['msg']}") from None


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        os.fchmod(out.fileno(), 0o600)  # an existing file keeps its mode otherwise
        out.write(data)


def build_request(name: str, raw: JSONObject, csr_pem: bytes) -> JSONObject:
    """The CertificateRequest for a Certificate manifest (labels, annotations, copied spec)."""
    meta_in = raw.get("metadata") or {}
    meta: JSONObject = {"name": name}
    for field in ("labels", "annotations"):
        if meta_in.get(field):
            meta[field] = dict(meta_in[field])
    spec_in = raw["spec"]
    spec: dict[str, Any] = {k: spec_in[k] for k in _COPIED_SPEC if spec_in.get(k) is not None}
    spec["request"] = encode_bytes(csr_pem)
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "CertificateRequest",
        "metadata": meta,
        "spec": spec,
    }


def _namespace(args: argparse.Namespace, raw: JSONObject, default: str) -> str:
    in_file = (raw.get("metadata") or {}).get("namespace")
    if args.namespace and in_file and in_file != args.namespace:
        raise CommandError(
            f'the namespace from the provided object "{in_file}" does not match the namespace '
            f"\"{args.namespace}\". You must pass '--namespace={in_file}' to perform this "
            "operation."
        )
    return str(in_file or args.namespace or default)


def terminal_failure(cr: JSONObject) -> str | None:
    """The message of a condition that means ``cr`` will never be signed, or ``None``."""
    conditions = (cr.get("status") or {}).get("conditions") or []
    for ctype in (ConditionType.DENIED, ConditionType.INVALID_REQUEST):
        for cond in conditions:
            if cond.get("type") == ctype and cond.get("status") == ConditionStatus.TRUE:
                return f"{ctype}: {cond.get('message') or cond.get('reason')}"
    for cond in conditions:
        if (
            cond.get("type") == ConditionType.READY
            and cond.get("status") == ConditionStatus.FALSE
            and cond.get("reason") in (RequestReason.FAILED, RequestReason.DENIED)
        ):
            return f"{cond['reason']}: {cond.get('message')}"
    return None


def signed_certificate(cr: JSONObject) -> bytes | None:
    """``status.certificate`` (PEM) once ``Ready=True``, else ``None``."""
    status = cr.get("status") or {}
    ready = any(
        c.get("type") == ConditionType.READY and c.get("status") == ConditionStatus.TRUE
        for c in status.get("conditions") or []
    )
    certificate = status.get("certificate")
    return decode_bytes(certificate) if ready and certificate else None


async def _wait_signed(client: HttpKubeClient, ns: str, name: str, wait_for: float) -> bytes:
    deadline = time.monotonic() + wait_for
    while True:
        try:
            cr = await client.get(CERTIFICATE_REQUESTS, ns, name)
        except (ApiError, TransportError):
            cr = {}  # as cmctl: a failed read is retried until the timeout
        failure = terminal_failure(cr)
        if failure is not None:
            raise CommandError(f"CertificateRequest {ns}/{name} will not be signed: {failure}")
        pem = signed_certificate(cr)
        if pem is not None:
            return pem
        if time.monotonic() >= deadline:
            raise CommandError(
                f"timed out after {wait_for:g}s waiting for CertificateRequest {ns}/{name} "
                "to be signed"
            )
        await asyncio.sleep(POLL_INTERVAL)


async def _run(args: argparse.Namespace) -> None:
    validate(args)
    raw, cert = load_certificate(args.from_certificate_file)
    private_key = cert.spec.private_key
    try:
        key = generate_private_key(
            private_key.algorithm if private_key else None,
            private_key.size if private_key else None,
        )
        key_pem = encode_private_key_pem(key, private_key.encoding if private_key else None)
        csr_pem = generate_csr(cert.spec, key)
    except (ValueError, CSRGenerationError) as exc:
        raise CommandError(f"cannot build the request: {exc}") from None
    request = build_request(args.name, raw, csr_pem)
    path = resolve_kubeconfig(args.kubeconfig)
    async with HttpKubeClient.from_kubeconfig(path, args.context) as client:
        ns = _namespace(args, raw, client.namespace)
        key_file = args.output_key_file or Path(f"{args.name}.key")
        try:
            _write_private(key_file, key_pem)
        except OSError as exc:
            raise CommandError(f"error when writing private key to file: {exc}") from None
        print(f"Private key written to file {key_file}", file=sys.stderr)
        created = await client.create(CERTIFICATE_REQUESTS, ns, request)
        name = str((created.get("metadata") or {}).get("name", args.name))
        print(f"CertificateRequest {name} has been created in namespace {ns}", file=sys.stderr)
        if not args.fetch_certificate:
            return
        print(
            f"CertificateRequest {name} in namespace {ns} has not been signed yet. "
            "Wait until it is signed...",
            file=sys.stderr,
        )
        pem = await _wait_signed(client, ns, name, args.timeout)
    print(f"CertificateRequest {name} in namespace {ns} has been signed", file=sys.stderr)
    cert_file = args.output_certificate_file or Path(f"{name}.crt")
    try:
        _write_private(cert_file, pem)
    except OSError as exc:
        raise CommandError(f"error when writing certificate to file: {exc}") from None
    print(f"Certificate written to file {cert_file}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``certsmith create certificaterequest``."""
    try:
        asyncio.run(_run(args))
    except CommandError as exc:
        print(f"certsmith create certificaterequest: {exc}", file=sys.stderr)
        return 1
    except ApiError as exc:
        message = exc.message or str(exc)
        print(f"certsmith create certificaterequest: {message}", file=sys.stderr)
        return 1
    except TransportError as exc:
        print(
            f"certsmith create certificaterequest: cannot reach the API server: {exc}",
            file=sys.stderr,
        )
        return 1
    except ClientError as exc:
        print(f"certsmith create certificaterequest: {exc}", file=sys.stderr)
        return 1
    return 0
