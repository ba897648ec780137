"""``certsmith revoke certificate NAME``: revoke an ACME Certificate's current certificate.

cmctl has no such command; cert-manager users run certbot or curl with the issuer's account
key. This one does what they do, from the cluster's own objects:

1. The Certificate (``-n``) and the certificate in its Secret (``tls.crt``, the leaf).
2. Its issuer from ``spec.issuerRef``: an Issuer in the Certificate's namespace or a
   ClusterIssuer, which must have ``spec.acme`` (nothing else can be revoked this way).
3. The ACME account key from the issuer's ``privateKeySecretRef`` (key ``tls.key`` unless the
   ref names another), in the Certificate's namespace for an Issuer and in the cluster
   resource namespace (``--cluster-resource-namespace``, default ``cert-manager`` as in
   cert-manager) for a ClusterIssuer.
4. A revocation (RFC 8555 §7.6) signed by that account, trusting the server as the issuer
   does (``caBundle``, ``skipTLSVerify``), with ``--reason`` as an RFC 5280 CRLReason.

``--reissue`` then marks the Certificate for re-issuance exactly as ``certsmith renew``
does, so the Secret stops serving the revoked certificate. A certificate the server says is
already revoked is reported as such (exit 1, nothing sent); with ``--reissue`` it is still
re-issued, since that is what the Secret needs.

Key material never reaches the output: errors name Secrets and keys, never their contents.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import sys
from dataclasses import dataclass
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certsmith.acme import AcmeClient, AcmeError, AcmeProblem, NetworkError
from certsmith.acme.jws import AccountPrivateKey
from certsmith.acme.problems import ACCOUNT_DOES_NOT_EXIST, ALREADY_REVOKED
from certsmith.api.meta import JSONObject
from certsmith.cli.commands.approve import CommandError
from certsmith.cli.commands.kube import add_kube_arguments, resolve_kubeconfig
from certsmith.cli.commands.renew import renew
from certsmith.cli.commands.runner import run_command
from certsmith.client.errors import NotFound
from certsmith.client.http import HttpKubeClient
from certsmith.client.resources import CERTIFICATES, CLUSTER_ISSUERS, ISSUERS, SECRETS
from certsmith.pki.keys import KeyDecodeError, parse_private_key_pem
from certsmith.pki.pem import PEMError, split_pem_certificates

GROUP: Final = "cert-manager.io"
DEFAULT_ACCOUNT_KEY: Final = "tls.key"
DEFAULT_CLUSTER_RESOURCE_NAMESPACE: Final = "cert-manager"
ISSUER_NAME_ANNOTATION: Final = "cert-manager.io/issuer-name"
ISSUER_KIND_ANNOTATION: Final = "cert-manager.io/issuer-kind"
ISSUER_GROUP_ANNOTATION: Final = "cert-manager.io/issuer-group"

REASONS: Final[dict[str, int]] = {
    "unspecified": 0,
    "keyCompromise": 1,
    "cACompromise": 2,
    "affiliationChanged": 3,
    "superseded": 4,
    "cessationOfOperation": 5,
    "certificateHold": 6,
    "removeFromCRL": 8,
    "privilegeWithdrawn": 9,
    "aACompromise": 10,
}
"""RFC 5280 CRLReason names and codes (7 is unused). Let's Encrypt accepts 0, 1, 3, 4, 5."""


def _reason(value: str) -> str:
    for name in REASONS:
        if name.lower() == value.lower():
            return name
    raise argparse.ArgumentTypeError(
        f"unknown reason {value!r}; one of: {', '.join(REASONS)} (RFC 5280 CRLReason)"
    )


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``revoke certificate``."""
    parser = subparsers.add_parser(
        "revoke", help="revoke a Certificate's ACME certificate with the issuer's account"
    )
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    cert = kinds.add_parser(
        "certificate",
        aliases=["cert"],
        help="revoke the certificate in a Certificate's Secret at its ACME server",
    )
    cert.add_argument("name", metavar="NAME", help="the Certificate")
    add_kube_arguments(cert)
    cert.add_argument(
        "--reason",
        type=_reason,
        default=None,
        metavar="REASON",
        help=f"RFC 5280 reason: {', '.join(REASONS)} (default: none sent, the server's "
        "unspecified)",
    )
    cert.add_argument(
        "--cluster-resource-namespace",
        default=DEFAULT_CLUSTER_RESOURCE_NAMESPACE,
        metavar="NS",
        help="where a ClusterIssuer's account key Secret lives (default: cert-manager)",
    )
    cert.add_argument(
        "--reissue",
        action="store_true",
        help="afterwards, mark the Certificate for re-issuance (as certsmith renew)",
    )
    cert.set_defaults(func=run)


@dataclass(frozen=True)
class AcmeAccount:
    """What signing a revocation needs from an ACME issuer. ``repr`` hides the key."""

    issuer: str
    """``Issuer ns/name`` or ``ClusterIssuer name``, for messages."""
    server: str
    key: AccountPrivateKey
    account_url: str | None
    ca_bundle: bytes | None
    skip_tls_verify: bool

    def __repr__(self) -> str:
        return f"AcmeAccount(issuer={self.issuer!r}, server={self.server!r})"


def leaf_certificate(secret: JSONObject, where: str) -> x509.Certificate:
    """The first certificate of the Secret's ``tls.crt``.

    Raises:
        CommandError: the Secret has no usable ``tls.crt``.
    """
    raw = (secret.get("data") or {}).get("tls.crt")
    if not raw:
        raise CommandError(f"Secret {where} has no tls.crt: the Certificate was never issued")
    try:
        pem = base64.b64decode(raw, validate=True)
        return split_pem_certificates(pem)[0]
    except (binascii.Error, ValueError, PEMError) as exc:
        raise CommandError(f"Secret {where}: tls.crt is not a PEM certificate ({exc})") from None


def check_issued_by(secret: JSONObject, where: str, cert: JSONObject) -> None:
    """Refuse when the Secret's issuer annotations name another issuer than ``issuerRef``.

    That happens after the issuerRef changed and before re-issuance finished: the certificate
    in the Secret belongs to the old issuer's account, which the current issuer cannot speak for.

    Raises:
        CommandError: the annotations name a different issuer.
    """
    annotations = (secret.get("metadata") or {}).get("annotations") or {}
    name = annotations.get(ISSUER_NAME_ANNOTATION)
    if not name:
        return
    issued = (
        annotations.get(ISSUER_KIND_ANNOTATION) or "Issuer",
        annotations.get(ISSUER_GROUP_ANNOTATION) or GROUP,
        name,
    )
    ref = (cert.get("spec") or {}).get("issuerRef") or {}
    wanted = (ref.get("kind") or "Issuer", ref.get("group") or GROUP, ref.get("name") or "")
    if issued != wanted:
        raise CommandError(
            f"the certificate in Secret {where} was issued by {issued[0]}.{issued[1]}/"
            f"{issued[2]}, not by the Certificate's issuerRef {wanted[0]}.{wanted[1]}/"
            f"{wanted[2]} (the issuer changed and re-issuance has not finished); revoke it "
            "with the account of the issuer that issued it"
        )


def _issuer_label(kind: str, namespace: str, name: str) -> str:
    return f"ClusterIssuer {name}" if kind == "ClusterIssuer" else f"Issuer {namespace}/{name}"


@dataclass(frozen=True)
class AcmeIssuerRef:
    """The Certificate's issuer, known to be ACME."""

    kind: str
    label: str
    """``Issuer ns/name`` or ``ClusterIssuer name``, for messages."""
    obj: JSONObject


async def acme_issuer(client: HttpKubeClient, cert: JSONObject) -> AcmeIssuerRef:
    """The Certificate's issuer from ``spec.issuerRef``.

    Raises:
        CommandError: the issuer is external, missing, or not an ACME issuer.
    """
    meta = cert.get("metadata") or {}
    namespace, name = str(meta.get("namespace")), str(meta.get("name"))
    ref = (cert.get("spec") or {}).get("issuerRef") or {}
    group = ref.get("group") or GROUP
    kind = ref.get("kind") or "Issuer"
    issuer_name = str(ref.get("name") or "")
    if group != GROUP or kind not in ("Issuer", "ClusterIssuer"):
        raise CommandError(
            f"Certificate {namespace}/{name} is issued by {kind}.{group} {issuer_name!r}, an "
            "external issuer: certsmith revoke only revokes certificates from ACME issuers"
        )
    label = _issuer_label(kind, namespace, issuer_name)
    try:
        if kind == "ClusterIssuer":
            issuer = await client.get(CLUSTER_ISSUERS, None, issuer_name)
        else:
            issuer = await client.get(ISSUERS, namespace, issuer_name)
    except NotFound:
        raise CommandError(
            f"{label} (the issuerRef of Certificate {namespace}/{name}) not found"
        ) from None
    spec = issuer.get("spec") or {}
    if not isinstance(spec.get("acme"), dict):
        other = next(iter(spec), "no issuer type")
        raise CommandError(
            f"{label} is not an ACME issuer (it is {other}): certsmith revoke only revokes "
            "certificates from ACME issuers; for a CA or self-signed issuer, delete or renew "
            "the Certificate instead"
        )
    return AcmeIssuerRef(kind, label, issuer)


async def acme_account(
    client: HttpKubeClient, issuer: AcmeIssuerRef, namespace: str, cluster_resource_namespace: str
) -> AcmeAccount:
    """The ACME account of ``issuer`` (``namespace``: the Certificate's).

    Raises:
        CommandError: the account key Secret is missing or its key unusable.
    """
    kind, label = issuer.kind, issuer.label
    acme = issuer.obj["spec"]["acme"]
    key_ref = acme.get("privateKeySecretRef") or {}
    key_namespace = cluster_resource_namespace if kind == "ClusterIssuer" else namespace
    secret_name = str(key_ref.get("name") or "")
    data_key = str(key_ref.get("key") or DEFAULT_ACCOUNT_KEY)
    where = f"{key_namespace}/{secret_name}"
    try:
        secret = await client.get(SECRETS, key_namespace, secret_name)
    except NotFound:
        hint = (
            " (ClusterIssuer keys live in the cluster resource namespace; see "
            "--cluster-resource-namespace)"
            if kind == "ClusterIssuer"
            else ""
        )
        raise CommandError(
            f"the ACME account key Secret {where} of {label} not found{hint}"
        ) from None
    raw = (secret.get("data") or {}).get(data_key)
    if not raw:
        raise CommandError(f'the ACME account key Secret {where} has no "{data_key}"')
    try:
        key = parse_private_key_pem(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError, KeyDecodeError) as exc:
        # KeyDecodeError's text never holds key material; binascii's names no bytes.
        raise CommandError(
            f'the ACME account key in Secret {where} ("{data_key}") is unusable: {exc}'
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise CommandError(
            f'the ACME account key in Secret {where} ("{data_key}") is not RSA or ECDSA'
        )
    ca_bundle: bytes | None = None
    if acme.get("caBundle"):
        try:
            ca_bundle = base64.b64decode(acme["caBundle"], validate=True)
        except binascii.Error:
            raise CommandError(f"{label}: spec.acme.caBundle is not base64") from None
    status_acme = (issuer.obj.get("status") or {}).get("acme") or {}
    return AcmeAccount(
        issuer=label,
        server=str(acme.get("server") or ""),
        key=key,
        account_url=status_acme.get("uri") or None,
        ca_bundle=ca_bundle,
        skip_tls_verify=bool(acme.get("skipTLSVerify")),
    )


def serial_text(cert: x509.Certificate) -> str:
    """The serial number as hex, the way openssl and CAs print it."""
    return format(cert.serial_number, "x")


async def revoke_at_server(
    account: AcmeAccount, cert: x509.Certificate, reason: str | None
) -> bool:
    """Revoke ``cert``; ``False`` when the server says it is already revoked.

    Raises:
        CommandError: the server refused or could not be reached.
    """
    try:
        async with AcmeClient(
            account.server,
            account.key,
            account_url=account.account_url,
            ca_bundle=account.ca_bundle,
            skip_tls_verify=account.skip_tls_verify,
        ) as acme:
            if account.account_url is None:
                await acme.find_account()
            await acme.revoke_certificate(cert, reason=None if reason is None else REASONS[reason])
    except AcmeProblem as exc:
        if exc.problem.is_type(ALREADY_REVOKED):
            return False
        if exc.problem.is_type(ACCOUNT_DOES_NOT_EXIST):
            raise CommandError(
                f"{account.issuer}'s account key has no account at {account.server} "
                f"({exc}); is the issuer Ready?"
            ) from None
        raise CommandError(f"{account.server} refused the revocation: {exc}") from None
    except NetworkError as exc:
        raise CommandError(f"cannot reach the ACME server {account.server}: {exc}") from None
    except (AcmeError, ValueError) as exc:
        raise CommandError(f"revocation at {account.server} failed: {exc}") from None
    return True


async def _run(args: argparse.Namespace) -> int:
    path = resolve_kubeconfig(args.kubeconfig)
    async with HttpKubeClient.from_kubeconfig(path, args.context) as client:
        namespace = args.namespace or client.namespace
        ref = f"{namespace}/{args.name}"
        try:
            cert = await client.get(CERTIFICATES, namespace, args.name)
        except NotFound:
            raise CommandError(f"Certificate {ref} not found") from None
        issuer = await acme_issuer(client, cert)
        secret_name = str((cert.get("spec") or {}).get("secretName") or "")
        where = f"{namespace}/{secret_name}"
        try:
            secret = await client.get(SECRETS, namespace, secret_name)
        except NotFound:
            raise CommandError(
                f"Secret {where} of Certificate {ref} not found: nothing to revoke"
            ) from None
        leaf = leaf_certificate(secret, where)
        check_issued_by(secret, where, cert)
        account = await acme_account(client, issuer, namespace, args.cluster_resource_namespace)
        serial = serial_text(leaf)
        revoked = await revoke_at_server(account, leaf, args.reason)
        code = 0
        if revoked:
            why = f" (reason {args.reason})" if args.reason else ""
            print(f"Revoked certificate {serial} of Certificate {ref} at {account.server}{why}")
        else:
            print(
                f"certsmith revoke: certificate {serial} of Certificate {ref} is already "
                f"revoked at {account.server}",
                file=sys.stderr,
            )
            code = 1
        if args.reissue:
            await renew(client, await client.get(CERTIFICATES, namespace, args.name))
            print(f"Manually triggered issuance of Certificate {ref}")
            code = 0
        return code


def run(args: argparse.Namespace) -> int:
    """Entry point of ``certsmith revoke certificate``."""
    return run_command("revoke", _run(args))
