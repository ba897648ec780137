"""The SelfSigned issuer: each request is signed by its own private key.

The key comes from the Secret named by the request's ``cert-manager.io/private-key-secret-name``
annotation, in the request's namespace (also for ClusterIssuers). The Certificate controllers set
that annotation to their temporary next-key Secret; a hand-written request must set it. The issued
certificate is its own CA, so ``status.certificate`` and ``status.ca`` are the same PEM. As in
the CA issuer, the key is parsed by the context and the template and signature are computed in a
worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import ClassVar, Final

from cryptography import x509

from certsmith.api.certmanager import AnyIssuer, CertificateRequest
from certsmith.api.certmanager import SelfSignedIssuer as SelfSignedSpec
from certsmith.api.conditions import EventReason, EventType, IssuerReason
from certsmith.issuers.base import (
    Issued,
    IssuerContext,
    IssuerEvent,
    IssuerReady,
    SignFailed,
    SignPending,
    requested_duration,
)
from certsmith.pki.keys import KeyDecodeError, PrivateKey, public_keys_equal
from certsmith.pki.pem import certificate_to_pem
from certsmith.pki.sign import SignError, sign_certificate
from certsmith.pki.template import TemplateError, certificate_template_from_csr

PRIVATE_KEY_SECRET_ANNOTATION: Final = "cert-manager.io/private-key-secret-name"  # noqa: S105
EMPTY_ISSUER_DN_MESSAGE: Final = (
    "Certificate will be issued with an empty Issuer DN, which contravenes RFC 5280 and could "
    "break some strict clients"
)


class SelfSignedIssuer:
    """Signs each request with the private key it names."""

    spec_key: ClassVar[str] = "selfSigned"

    async def check(self, issuer: AnyIssuer, ctx: IssuerContext) -> IssuerReady:
        """A SelfSigned issuer has nothing to check: it is always ready."""
        return IssuerReady(IssuerReason.IS_READY, "")

    async def sign(
        self, request: CertificateRequest, issuer: AnyIssuer, ctx: IssuerContext
    ) -> Issued:
        """Sign ``request`` with the key from its annotated Secret.

        Raises:
            SignPending: the key Secret is missing, unreadable or holds no usable key.
            SignFailed: the annotation is missing, the CSR does not match the key, or the
                request cannot be turned into a certificate.
        """
        secret_name = request.annotations.get(PRIVATE_KEY_SECRET_ANNOTATION, "")
        if not secret_name:
            raise SignFailed(
                EventReason.MISSING_ANNOTATION,
                f'Annotation "{PRIVATE_KEY_SECRET_ANNOTATION}" missing or reference empty: '
                "secret name missing",
            )
        namespace = request.namespace
        try:
            secret = await ctx.get_secret(namespace, secret_name)
        except Exception as err:
            raise SignPending(
                EventReason.ERROR_GETTING_SECRET,
                f"Failed to get certificate key pair from secret {namespace}/{secret_name}: {err}",
                retry_after=0,
            ) from None
        if secret is None:
            raise SignPending(
                EventReason.MISSING_SECRET,
                f'Referenced secret {namespace}/{secret_name} not found: secret "{secret_name}" '
                "not found",
            )
        key_failure = (
            f'Failed to get key "{secret_name}" referenced in annotation '
            f'"{PRIVATE_KEY_SECRET_ANNOTATION}"'
        )
        try:
            key = await ctx.private_key(secret, "tls.key")
        except KeyDecodeError as err:
            raise SignPending(EventReason.ERROR_PARSING_KEY, f"{key_failure}: {err}") from None
        if key is None:
            raise SignPending(
                EventReason.ERROR_PARSING_KEY,
                f"{key_failure}: no data for \"tls.key\" in secret '{namespace}/{secret_name}'",
            )
        template_subject, cert = await asyncio.to_thread(
            _template_and_sign, request, issuer.spec.self_signed, key, ctx.clock.now()
        )
        events: tuple[IssuerEvent, ...] = ()
        if len(template_subject) == 0:
            events = (
                IssuerEvent(EventType.WARNING, EventReason.BAD_CONFIG, EMPTY_ISSUER_DN_MESSAGE),
            )
        pem = certificate_to_pem(cert)
        return Issued(chain_pem=pem, ca_pem=pem, events=events)


def _template_and_sign(
    request: CertificateRequest,
    spec: SelfSignedSpec | None,
    key: PrivateKey,
    now: dt.datetime,
) -> tuple[x509.Name, x509.Certificate]:
    """Build the certificate from the CSR and sign it with its own key (in a worker thread).

    Returns:
        The template's subject (an empty one earns a warning) and the signed certificate.

    Raises:
        SignFailed: the CSR is unusable, not signed by ``key``, or signing failed.
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
            EventReason.ERROR_GENERATING, f"Error generating certificate template: {err}"
        ) from None
    if not public_keys_equal(template.public_key, key.public_key()):
        raise SignFailed(
            EventReason.ERROR_KEY_MATCH,
            "Error generating certificate template: CSR not signed by referenced private key",
        )
    try:
        cert = sign_certificate(
            template,
            issuer_cert=None,
            signer_key=key,
            crl_distribution_points=(spec.crl_distribution_points or ()) if spec else (),
        )
    except (SignError, ValueError, TypeError) as err:
        message = f"Error signing certificate: {err}"
        raise SignFailed(EventReason.ERROR_SIGNING, message) from None
    return template.subject, cert
