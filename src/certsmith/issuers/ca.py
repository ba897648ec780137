"""The CA issuer: signs with a key pair stored in a Secret (``tls.crt``, ``tls.key``, ``ca.crt``).

The Secret lives in the issuer's resource namespace (its own namespace for an Issuer, the
cluster resource namespace for a ClusterIssuer). ``tls.crt`` holds the signing CA first and may
carry intermediates; an optional ``ca.crt`` is appended before the chain is built, so
``status.certificate`` is the leaf plus intermediates and ``status.ca`` the root-most certificate.
The leaf's lifetime is not clamped to the CA's, as in cert-manager.

The private key comes parsed from the context (which caches it per Secret version), and the
template and signature are computed in a worker thread: an RSA signature takes milliseconds of
CPU that would otherwise stall every other reconcile and, in ``certsmith serve``, the API server
sharing the event loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import ClassVar

from cryptography import x509

from certsmith.api.certmanager import AnyIssuer, CertificateRequest
from certsmith.api.certmanager import CAIssuer as CAIssuerSpec
from certsmith.api.conditions import EventReason, EventType, IssuerReason
from certsmith.api.core import Secret
from certsmith.issuers.base import (
    Issued,
    IssuerContext,
    IssuerEvent,
    IssuerNotReady,
    IssuerReady,
    SignFailed,
    SignPending,
    requested_duration,
)
from certsmith.pki.chain import Chain, ChainError
from certsmith.pki.keys import KeyDecodeError, PrivateKey
from certsmith.pki.pem import PEMError, split_pem_certificates
from certsmith.pki.sign import SignError, sign_with_ca
from certsmith.pki.template import TemplateError, certificate_template_from_csr

TLS_CERT_KEY = "tls.crt"
TLS_PRIVATE_KEY_KEY = "tls.key"
CA_CERT_KEY = "ca.crt"


class KeyPairError(ValueError):
    """The Secret does not hold a usable CA key pair; the message says which part is wrong."""


@dataclass(frozen=True)
class CAKeyPair:
    """The signing material read from a CA Secret."""

    chain: list[x509.Certificate]
    key: PrivateKey


async def read_key_pair(secret: Secret, ctx: IssuerContext) -> CAKeyPair:
    """Decode ``tls.crt``, ``tls.key`` (through ``ctx``'s key cache) and the optional ``ca.crt``.

    Raises:
        KeyPairError: a required entry is missing or cannot be decoded. The message names the
            entry, never its contents.
    """
    where = f"{secret.metadata.namespace}/{secret.metadata.name}"
    try:
        key = await ctx.private_key(secret, TLS_PRIVATE_KEY_KEY)
    except KeyDecodeError as err:
        raise KeyPairError(f"error decoding private key PEM block: {err}") from None
    if key is None:
        raise KeyPairError(f"no data for \"{TLS_PRIVATE_KEY_KEY}\" in secret '{where}'")
    cert_pem = secret.decoded(TLS_CERT_KEY)
    if not cert_pem:
        raise KeyPairError(f"no data for \"{TLS_CERT_KEY}\" in secret '{where}'")
    try:
        chain = split_pem_certificates(cert_pem)
    except PEMError as err:
        raise KeyPairError(f"error decoding certificate PEM block: {err}") from None
    ca_pem = secret.decoded(CA_CERT_KEY)
    if ca_pem:
        try:
            extra = split_pem_certificates(ca_pem)
        except PEMError as err:
            raise KeyPairError(f"error decoding CA certificate PEM block: {err}") from None
        if len(extra) != 1:
            raise KeyPairError(f'"{CA_CERT_KEY}" must hold exactly one certificate')
        chain.append(extra[0])
    return CAKeyPair(chain=chain, key=key)


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    return constraints.ca


class CAIssuer:
    """Signs requests with a CA key pair from a Secret."""

    spec_key: ClassVar[str] = "ca"

    async def check(self, issuer: AnyIssuer, ctx: IssuerContext) -> IssuerReady:
        """Verify the Secret holds a decodable key pair whose certificate is a CA.

        Raises:
            IssuerNotReady: ``ErrGetKeyPair`` (retried) or ``ErrInvalidKeyPair`` (not retried).
        """
        spec = _ca_spec(issuer)
        namespace = ctx.resource_namespace(issuer)
        try:
            secret = await ctx.get_secret(namespace, spec.secret_name)
            if secret is None:
                raise KeyPairError(f'secret "{spec.secret_name}" not found')
            pair = await read_key_pair(secret, ctx)
        except Exception as err:
            message = f"Error getting keypair for CA issuer: {err}"
            raise IssuerNotReady(
                IssuerReason.ERR_GET_KEY_PAIR,
                message,
                retry=True,
                event=IssuerEvent(EventType.WARNING, EventReason.ERR_GET_KEY_PAIR, message),
            ) from None
        if not _is_ca(pair.chain[0]):
            message = "Error getting keypair for CA issuer: certificate is not a CA"
            raise IssuerNotReady(
                IssuerReason.ERR_INVALID_KEY_PAIR,
                message,
                retry=False,
                event=IssuerEvent(EventType.WARNING, EventReason.ERR_INVALID_KEY_PAIR, message),
            )
        message = "Signing CA verified"
        return IssuerReady(
            IssuerReason.KEY_PAIR_VERIFIED,
            message,
            event=IssuerEvent(EventType.NORMAL, EventReason.KEY_PAIR_VERIFIED, message),
        )

    async def sign(
        self, request: CertificateRequest, issuer: AnyIssuer, ctx: IssuerContext
    ) -> Issued:
        """Sign ``request`` with the CA key pair; see the module docstring for the chain.

        Raises:
            SignPending: the Secret is missing, unreadable or holds invalid data.
            SignFailed: the request cannot be turned into a certificate or signing failed.
        """
        spec = _ca_spec(issuer)
        namespace = ctx.resource_namespace(issuer)
        where = f"{namespace}/{spec.secret_name}"
        try:
            secret = await ctx.get_secret(namespace, spec.secret_name)
        except Exception as err:
            raise SignPending(
                EventReason.SECRET_GET_ERROR,
                f"Failed to get certificate key pair from secret {where}: {err}",
                retry_after=0,
            ) from None
        if secret is None:
            raise SignPending(
                EventReason.SECRET_MISSING,
                f'Referenced secret {where} not found: secret "{spec.secret_name}" not found',
            )
        try:
            pair = await read_key_pair(secret, ctx)
        except KeyPairError as err:
            raise SignPending(
                EventReason.SECRET_INVALID_DATA,
                f"Failed to parse signing CA keypair from secret {where}: {err}",
            ) from None

        chain = await asyncio.to_thread(_template_and_sign, request, spec, pair, ctx.clock.now())
        return Issued(chain_pem=chain.chain_pem, ca_pem=chain.ca_pem)


def _ca_spec(issuer: AnyIssuer) -> CAIssuerSpec:
    if issuer.spec.ca is None:
        raise TypeError("CAIssuer called for an issuer without spec.ca")
    return issuer.spec.ca


def _template_and_sign(
    request: CertificateRequest, spec: CAIssuerSpec, pair: CAKeyPair, now: dt.datetime
) -> Chain:
    """Build the leaf from the CSR and sign it; CPU-bound, so it runs in a worker thread.

    Raises:
        SignFailed: the request cannot be turned into a certificate, or signing failed.
    """
    try:
        template = certificate_template_from_csr(
            request.spec.request_pem,
            is_ca=bool(request.spec.is_ca),
            usages=list(request.spec.usages or ()),
            duration=requested_duration(request),
            now=now,
        )
    except (TemplateError, ValueError) as err:
        raise SignFailed(
            EventReason.SIGNING_ERROR, f"Error generating certificate template: {err}"
        ) from None
    try:
        return sign_with_ca(
            template,
            ca_chain=pair.chain,
            ca_key=pair.key,
            crl_distribution_points=spec.crl_distribution_points or (),
            ocsp_servers=spec.ocsp_servers or (),
            issuing_certificate_urls=spec.issuing_certificate_urls or (),
        )
    except (SignError, ChainError, ValueError, TypeError) as err:
        raise SignFailed(EventReason.SIGNING_ERROR, f"Error signing certificate: {err}") from None
