"""The ACME issuer's ``sign``: one Order per CertificateRequest, and its outcome (SPEC §6.5).

``sign`` never talks to the ACME server. It creates the Order (name from
:func:`~certsmith.issuers.acme.naming.order_name`, the request's labels and annotations,
controlled by the request) and reports what the Order controller achieved: Pending while the
Order works, Failed when it ends in a failure state (with the Order's reason, i.e. the ACME
problem), and the Order's chain with no ``ca`` when it is valid. The name is deterministic, so a
request can never create a second Order: a retried reconcile finds the first.

With ARI on (``renewalInformationSource`` other than ``None``), a request made for a Certificate
whose Secret holds a certificate from the same issuer orders with ``replaces`` set to that
certificate's ARI CertID, as cert-manager does.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any, Final

from cryptography import x509
from cryptography.x509.oid import NameOID

from certsmith.acme.challenges import ari_cert_id
from certsmith.api.acme import ACME_API_VERSION, ACMEIssuer
from certsmith.api.certmanager import AnyIssuer, CertificateRequest
from certsmith.api.conditions import EventReason
from certsmith.api.duration import format_go_duration, parse_go_duration
from certsmith.api.meta import decode_bytes
from certsmith.client.resources import CERTIFICATES, ORDERS
from certsmith.issuers.acme.naming import order_name
from certsmith.issuers.base import Issued, IssuerContext, SignFailed, SignPending
from certsmith.pki.csr import CSRError, decode_csr
from certsmith.pki.keys import public_keys_equal
from certsmith.pki.pem import PEMError, split_pem_certificates

log = logging.getLogger(__name__)

FAILURE_STATES: Final = frozenset({"invalid", "expired", "errored"})
CERTIFICATE_NAME_ANNOTATION: Final = "cert-manager.io/certificate-name"
ISSUER_NAME_ANNOTATION: Final = "cert-manager.io/issuer-name"
ISSUER_KIND_ANNOTATION: Final = "cert-manager.io/issuer-kind"
ISSUER_GROUP_ANNOTATION: Final = "cert-manager.io/issuer-group"
CN_NOT_IN_SANS: Final = (
    "The CSR PEM requests a commonName that is not present in the list of dnsNames or "
    "ipAddresses. If a commonName is set, ACME requires that the value is also present in the "
    "list of dnsNames or ipAddresses"
)
NOT_OWNED: Final = "found Order resource not owned by this CertificateRequest, retrying"


def go_list(values: list[str]) -> str:
    """Go's ``%s`` of a ``[]string``: ``[a b]``."""
    return "[" + " ".join(values) + "]"


def csr_identifiers(csr: x509.CertificateSigningRequest) -> tuple[str, list[str], list[str]]:
    """The CSR's common name, DNS SANs and IP SANs (as text)."""
    names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = str(names[0].value) if names else ""
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return common_name, [], []
    dns_names = [str(n) for n in san.get_values_for_type(x509.DNSName)]
    ips = [
        str(ip)
        for ip in san.get_values_for_type(x509.IPAddress)
        if isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address)
    ]
    return common_name, dns_names, ips


def build_order(
    request: CertificateRequest,
    csr: x509.CertificateSigningRequest,
    spec: ACMEIssuer,
    *,
    replaces: str = "",
) -> dict[str, Any]:
    """The Order for ``request`` (wire form), as cert-manager's ``buildOrder``.

    Raises:
        ValueError: the request's duration is not a Go duration.
    """
    common_name, dns_names, ips = csr_identifiers(csr)
    order_spec: dict[str, Any] = {
        "request": request.spec.request,
        "issuerRef": request.spec.issuer_ref.to_dict(),
    }
    if common_name:
        order_spec["commonName"] = common_name
    if dns_names:
        order_spec["dnsNames"] = dns_names
    if ips:
        order_spec["ipAddresses"] = ips
    if spec.enable_duration_feature and request.spec.duration:
        order_spec["duration"] = format_go_duration(parse_go_duration(request.spec.duration))
    if spec.profile:
        order_spec["profile"] = spec.profile
    if replaces:
        order_spec["replaces"] = replaces
    meta: dict[str, Any] = {
        "name": order_name(request.name, order_spec),
        "namespace": request.namespace,
        "ownerReferences": [
            {
                "apiVersion": request.API_VERSION,
                "kind": request.KIND,
                "name": request.name,
                "uid": request.metadata.uid or "",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    if request.metadata.labels:
        meta["labels"] = dict(request.metadata.labels)
    if request.metadata.annotations:
        meta["annotations"] = dict(request.metadata.annotations)
    return {"apiVersion": ACME_API_VERSION, "kind": "Order", "metadata": meta, "spec": order_spec}


def ari_enabled(spec: ACMEIssuer) -> bool:
    """ARI is on unless ``renewalInformationSource: None`` (certsmith ships it on)."""
    return spec.renewal_information_source != "None"


async def replaces_cert_id(request: CertificateRequest, ctx: IssuerContext) -> str:
    """The ARI CertID of the certificate this request renews, or ``""``.

    The certificate is the one in the Secret of the request's Certificate, if that Secret says
    it came from the same issuer. Anything missing or unreadable means "not a renewal".
    """
    cert_name = request.annotations.get(CERTIFICATE_NAME_ANNOTATION)
    if not cert_name:
        return ""
    try:
        certificate = await ctx.get_object(CERTIFICATES, request.namespace, cert_name)
        secret_name = ((certificate or {}).get("spec") or {}).get("secretName")
        if not secret_name:
            return ""
        secret = await ctx.get_secret(request.namespace, str(secret_name))
    except Exception as err:
        log.debug("no ARI replaces for %s/%s: %s", request.namespace, request.name, err)
        return ""
    if secret is None:
        return ""
    ref = request.spec.issuer_ref
    annotations = secret.annotations
    if (
        annotations.get(ISSUER_NAME_ANNOTATION) != ref.name
        or (annotations.get(ISSUER_KIND_ANNOTATION) or "Issuer") != ref.effective_kind
        or (annotations.get(ISSUER_GROUP_ANNOTATION) or "cert-manager.io") != ref.effective_group
    ):
        return ""
    try:
        pem = secret.decoded("tls.crt")
        certs = split_pem_certificates(pem) if pem else []
        return ari_cert_id(certs[0]) if certs else ""
    except (PEMError, ValueError):
        return ""


async def sign(request: CertificateRequest, issuer: AnyIssuer, ctx: IssuerContext) -> Issued:
    """Create or follow the request's Order; see the module docstring.

    Raises:
        SignPending: the Order is being created or worked on.
        SignFailed: the CSR is unusable, or the Order failed.
    """
    spec = issuer.spec.acme
    if spec is None:
        raise TypeError("AcmeIssuer called for an issuer without spec.acme")
    try:
        csr = decode_csr(request.spec.request_pem)
    except (CSRError, ValueError) as err:
        raise SignFailed(
            EventReason.REQUEST_PARSING_ERROR, f"Failed to decode CSR in spec.request: {err}"
        ) from None
    common_name, dns_names, ips = csr_identifiers(csr)
    if common_name and common_name not in dns_names and common_name not in ips:
        raise SignFailed(
            EventReason.INVALID_ORDER,
            f'{CN_NOT_IN_SANS}: "{common_name}" does not exist in {go_list(dns_names)} or '
            f"{go_list(ips)}",
        )
    replaces = await replaces_cert_id(request, ctx) if ari_enabled(spec) else ""
    try:
        expected = build_order(request, csr, spec, replaces=replaces)
    except ValueError as err:
        raise SignFailed(
            EventReason.ORDER_BUILDING_ERROR, f"Failed to build order: {err}"
        ) from None
    namespace, name = request.namespace, expected["metadata"]["name"]
    where = f"{namespace}/{name}"
    order = await ctx.get_object(ORDERS, namespace, name)
    if order is None:
        try:
            await ctx.create_object(ORDERS, namespace, expected)
        except Exception as err:
            raise SignPending(
                EventReason.ORDER_CREATING_ERROR,
                f"Failed create new order resource {where}: {err}",
                retry_after=0,
            ) from None
        raise SignPending(EventReason.ORDER_CREATED, f"Created Order resource {where}")
    owners = (order.get("metadata") or {}).get("ownerReferences") or []
    if not any(o.get("controller") and o.get("uid") == request.metadata.uid for o in owners):
        # SPEC §10 quirk 23: the Order of a deleted earlier request with the same name waits
        # for garbage collection; look again with backoff.
        raise SignPending(EventReason.ORDER_PENDING, NOT_OWNED, retry_after=0)
    status = order.get("status") or {}
    state = str(status.get("state") or "")
    if state in FAILURE_STATES:
        raise SignFailed(
            EventReason.ORDER_FAILED,
            f'Failed to wait for order resource "{name}" to become ready: order is in '
            f'"{state}" state: {status.get("reason") or ""}',
        )
    if state != "valid":
        # cert-manager's text, then what the Order says is holding it up (a rate limit, say).
        why = f": {status['reason']}" if status.get("reason") else ""
        raise SignPending(
            EventReason.ORDER_PENDING,
            f'Waiting on certificate issuance from order {where}: "{state}"{why}',
        )
    chain_b64 = status.get("certificate")
    if not chain_b64:
        raise SignPending(
            EventReason.ORDER_PENDING,
            f"Waiting for order-controller to add certificate data to Order {where}",
        )
    chain_pem = decode_bytes(str(chain_b64))
    try:
        leaf = split_pem_certificates(chain_pem)[0]
        matches = public_keys_equal(leaf.public_key(), csr.public_key())
    except (PEMError, ValueError, IndexError, TypeError):
        matches = False
    if not matches:
        # A chain that is unusable for this CSR: start over with a fresh Order.
        log.warning("order %s: certificate does not match the request's key; deleting it", where)
        await ctx.delete_object(ORDERS, namespace, name)
        raise SignPending(
            EventReason.ORDER_PENDING,
            f"Waiting on certificate issuance from order {where}: the issued certificate did "
            "not match the request and the Order was deleted",
            retry_after=0,
        )
    return Issued(chain_pem=chain_pem)
