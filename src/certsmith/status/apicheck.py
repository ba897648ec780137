"""Is the cert-manager API ready? The checks of ``certsmith check api`` (cmctl's ``check api``).

cmctl decides by dry-run creating CertificateRequests: a valid one must come back with
``spec.username`` set (the mutating webhook ran) and an invalid one must be refused (the
validating webhook ran). certsmith's admission is built into its API server (or, against a real
cluster, cert-manager's webhook does the same work), so the same two probes apply unchanged.
Before them, discovery must list the resources of both groups, because ``kubectl get
certificates`` and every controller need them served.

Each failed check raises :class:`ApiNotReadyError` with a message naming what is missing.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certsmith.api.errors import CertsmithError
from certsmith.client.errors import ApiError, Invalid, NotFound
from certsmith.client.http import HttpKubeClient
from certsmith.client.raw import create_dry_run, get_path
from certsmith.client.resources import CERTIFICATE_REQUESTS

__all__ = ["READY_MESSAGE", "REQUIRED_RESOURCES", "ApiNotReadyError", "check_api"]

READY_MESSAGE: Final = "The cert-manager API is ready"
REQUIRED_RESOURCES: Final[Mapping[str, frozenset[str]]] = {
    "cert-manager.io/v1": frozenset(
        {"certificates", "certificaterequests", "issuers", "clusterissuers"}
    ),
    "acme.cert-manager.io/v1": frozenset({"orders", "challenges"}),
}
_PROBE_NAME: Final = "certsmith-check-api"


class ApiNotReadyError(CertsmithError):
    """One check failed; the message says which and why."""


def _probe_csr() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "check-api.example")]))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("check-api.example")]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM)


def _request(namespace: str, csr_pem: bytes) -> dict[str, Any]:
    return {
        "apiVersion": CERTIFICATE_REQUESTS.api_version,
        "kind": "CertificateRequest",
        "metadata": {"name": _PROBE_NAME, "namespace": namespace},
        "spec": {
            "request": base64.b64encode(csr_pem).decode(),
            "issuerRef": {"name": _PROBE_NAME, "kind": "Issuer"},
            "usages": ["digital signature", "key encipherment"],
        },
    }


async def _check_discovery(client: HttpKubeClient) -> None:
    for group_version, required in REQUIRED_RESOURCES.items():
        try:
            listing = await get_path(client, f"/apis/{group_version}")
        except NotFound:
            raise ApiNotReadyError(
                f"the API server does not serve {group_version} (are the cert-manager CRDs "
                "installed?)"
            ) from None
        served = {
            str(r.get("name"))
            for r in listing.get("resources") or []
            if isinstance(r, Mapping) and "/" not in str(r.get("name"))
        }
        missing = sorted(required - served)
        if missing:
            raise ApiNotReadyError(f"{group_version} does not serve {', '.join(missing)}")


async def check_api(client: HttpKubeClient, namespace: str) -> None:
    """Run every check once against ``client``'s API server.

    Raises:
        ApiNotReadyError: a check failed.
        ApiError: the server refused in a way that is not a check result (e.g. forbidden).
        TransportError: the server did not answer.
    """
    await _check_discovery(client)
    valid = _request(namespace, _probe_csr())
    try:
        created = await create_dry_run(client, CERTIFICATE_REQUESTS, namespace, valid)
    except Invalid as err:
        raise ApiNotReadyError(f"a valid CertificateRequest was refused: {err.message}") from None
    except NotFound as err:
        raise ApiNotReadyError(
            f"cannot create a CertificateRequest in namespace {namespace!r}: {err.message} "
            "(pass -n with an existing namespace)"
        ) from None
    if not (created.get("spec") or {}).get("username"):
        raise ApiNotReadyError(
            "a CertificateRequest was admitted without spec.username: the identity admission "
            "(cert-manager's mutating webhook) is not running"
        )
    invalid = _request(namespace, b"")
    invalid["spec"]["request"] = base64.b64encode(b"not a CSR").decode()
    try:
        await create_dry_run(client, CERTIFICATE_REQUESTS, namespace, invalid)
    except ApiError as err:
        # Refused by validation: 422 Invalid, or a webhook's denial (403 unless it says
        # otherwise, as certsmith's built-in admission reports it). RBAC cannot be the cause:
        # the valid request above was allowed.
        if err.code in (400, 403, 422):
            return
        raise
    raise ApiNotReadyError(
        "an invalid CertificateRequest (a request that is not a CSR) was admitted: the "
        "validation admission (cert-manager's validating webhook) is not running"
    )
