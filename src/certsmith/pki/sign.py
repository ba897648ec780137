"""Signing: turn a certificate template into an X.509 certificate, and a CA issuance into a chain.

Decides the parts of a certificate that depend on the signer rather than the request (SPEC §4.3,
§4.4 items 5-7):

* the issuer name is the issuer certificate's subject, or the template's own for self-signed;
* the signature hash follows the **signer's** key (``signature_algorithm_for``), never the
  request, so an RSA 4096 CA signs with SHA-512 whatever the leaf key is;
* key identifiers: a SubjectKeyIdentifier (RFC 5280 method 1) on **every** certificate, not only
  on CA certificates as Go derives it, because RFC 5280 asks end-entity certificates to carry one
  and it costs nothing; the AuthorityKeyIdentifier is the issuer's SKI, or one derived from the
  issuer's public key when the issuer has none, or the certificate's own SKI when self-signed;
* the CA issuer's ``crlDistributionPoints`` (one distribution point per URL), ``ocspServers``
  and ``issuingCertificateURLs`` are copied verbatim into CDP and AIA.

``cryptography`` writes the subject from the parsed ``x509.Name``, not from raw bytes as Go's
``RawSubject`` does. Its DER parser only accepts DER and keeps each attribute's string type and
the RDN grouping, so the re-encoding is byte-identical; ``sign_certificate`` checks that after
signing and refuses rather than issue a subject the requester did not sign.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import AuthorityInformationAccessOID

from certsmith.api.errors import CertsmithError
from certsmith.pki.chain import Chain, ChainError, build_chain
from certsmith.pki.keys import SignatureHash, public_keys_equal, signature_algorithm_for
from certsmith.pki.pem import raw_issuer, raw_subject
from certsmith.pki.template import CertificateTemplate

__all__ = [
    "SignError",
    "self_sign",
    "sign_certificate",
    "sign_with_ca",
]


_SIGNING_PUBLIC_KEYS = (
    rsa.RSAPublicKey,
    ec.EllipticCurvePublicKey,
    ed25519.Ed25519PublicKey,
    ed448.Ed448PublicKey,
    dsa.DSAPublicKey,
)


class SignError(CertsmithError, ValueError):
    """The certificate cannot be signed: unusable signer key, key mismatch, or broken chain."""


def _hash_for(signer_key: CertificateIssuerPrivateKeyTypes) -> SignatureHash | None:
    try:
        return signature_algorithm_for(signer_key)
    except ValueError as err:
        raise SignError(str(err)) from err


def _key_identifier_extensions(
    template: CertificateTemplate, issuer_cert: x509.Certificate | None
) -> tuple[x509.SubjectKeyIdentifier, x509.AuthorityKeyIdentifier]:
    ski = x509.SubjectKeyIdentifier.from_public_key(template.public_key)
    if issuer_cert is None:
        return ski, x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    try:
        issuer_ski = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    except x509.ExtensionNotFound:
        issuer_key = issuer_cert.public_key()
        if not isinstance(issuer_key, _SIGNING_PUBLIC_KEYS):
            raise SignError("issuer certificate has a public key that cannot sign") from None
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key)
    else:
        aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski.value)
    return ski, aki


def _distribution_extensions(
    crl_distribution_points: Sequence[str],
    ocsp_servers: Sequence[str],
    issuing_certificate_urls: Sequence[str],
) -> list[x509.ExtensionType]:
    exts: list[x509.ExtensionType] = []
    if crl_distribution_points:
        exts.append(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        full_name=[x509.UniformResourceIdentifier(url)],
                        relative_name=None,
                        reasons=None,
                        crl_issuer=None,
                    )
                    for url in crl_distribution_points
                ]
            )
        )
    access = [
        x509.AccessDescription(
            AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(u)
        )
        for u in ocsp_servers
    ] + [
        x509.AccessDescription(
            AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(u)
        )
        for u in issuing_certificate_urls
    ]
    if access:
        exts.append(x509.AuthorityInformationAccess(access))
    return exts


def sign_certificate(
    template: CertificateTemplate,
    *,
    issuer_cert: x509.Certificate | None,
    signer_key: CertificateIssuerPrivateKeyTypes,
    crl_distribution_points: Sequence[str] = (),
    ocsp_servers: Sequence[str] = (),
    issuing_certificate_urls: Sequence[str] = (),
) -> x509.Certificate:
    """Sign ``template`` with ``signer_key`` as ``issuer_cert`` (or as itself when ``None``).

    Args:
        template: what the certificate holds (``certsmith.pki.template``).
        issuer_cert: the CA certificate whose key signs; ``None`` for a self-signed certificate.
        signer_key: the private key of ``issuer_cert``, or the template's own key.
        crl_distribution_points: URLs for the CRL Distribution Points extension.
        ocsp_servers: URLs for the AIA OCSP entries.
        issuing_certificate_urls: URLs for the AIA CA Issuers entries.

    Returns:
        The signed X.509 v3 certificate.

    Raises:
        SignError: the signer key is RSA below 2048 bits
            (``invalid size 1024 for RSA key on signing certificate``) or otherwise unusable; it
            does not belong to ``issuer_cert`` (or, self-signed, to the template); or the subject
            could not be written byte for byte as the CSR had it.
    """
    algorithm = _hash_for(signer_key)
    expected_public = issuer_cert.public_key() if issuer_cert is not None else template.public_key
    if not public_keys_equal(signer_key.public_key(), expected_public):
        what = "issuer certificate" if issuer_cert is not None else "certificate request"
        raise SignError(f"the signing private key does not match the public key of the {what}")

    ski, aki = _key_identifier_extensions(template, issuer_cert)
    builder = (
        x509.CertificateBuilder()
        .subject_name(template.subject)
        .issuer_name(issuer_cert.subject if issuer_cert is not None else template.subject)
        .public_key(template.public_key)
        .serial_number(template.serial_number)
        .not_valid_before(template.not_before)
        .not_valid_after(template.not_after)
    )
    for ext in template.extensions():
        builder = builder.add_extension(ext.value, critical=ext.critical)
    builder = builder.add_extension(ski, critical=False).add_extension(aki, critical=False)
    for dist in _distribution_extensions(
        crl_distribution_points, ocsp_servers, issuing_certificate_urls
    ):
        builder = builder.add_extension(dist, critical=False)
    try:
        cert = builder.sign(signer_key, algorithm)
    except (ValueError, TypeError) as err:
        raise SignError(str(err)) from err

    if raw_subject(cert) != template.raw_subject:
        raise SignError("the certificate subject cannot be encoded exactly as in the request")
    if issuer_cert is not None and raw_issuer(cert) != raw_subject(issuer_cert):
        raise SignError("the certificate issuer cannot be encoded exactly as the CA subject")
    return cert


def self_sign(
    template: CertificateTemplate,
    signer_key: CertificateIssuerPrivateKeyTypes,
    *,
    crl_distribution_points: Sequence[str] = (),
) -> x509.Certificate:
    """Sign ``template`` with its own key: issuer DN = subject DN (SelfSigned issuer, §4.2).

    Args:
        template: what the certificate holds.
        signer_key: the private key whose public half is ``template.public_key``.
        crl_distribution_points: the SelfSigned issuer's CRL distribution point URLs.

    Returns:
        The self-signed certificate; it is both ``status.certificate`` and ``status.ca``.

    Raises:
        SignError: as for ``sign_certificate``.
    """
    return sign_certificate(
        template,
        issuer_cert=None,
        signer_key=signer_key,
        crl_distribution_points=crl_distribution_points,
    )


def sign_with_ca(
    template: CertificateTemplate,
    ca_chain: Sequence[x509.Certificate],
    ca_key: CertificateIssuerPrivateKeyTypes,
    *,
    crl_distribution_points: Sequence[str] = (),
    ocsp_servers: Sequence[str] = (),
    issuing_certificate_urls: Sequence[str] = (),
) -> Chain:
    """Sign as the CA issuer does and build the issued chain (SPEC §4.3).

    Args:
        template: what the certificate holds.
        ca_chain: the CA secret's ``tls.crt`` certificates, signing CA first, optionally
            followed by the ``ca.crt`` certificate.
        ca_key: the CA secret's ``tls.key``.
        crl_distribution_points: the issuer's ``crlDistributionPoints``.
        ocsp_servers: the issuer's ``ocspServers``.
        issuing_certificate_urls: the issuer's ``issuingCertificateURLs``.

    Returns:
        ``status.certificate`` (leaf first, no self-signed root) and ``status.ca``.

    Raises:
        SignError: ``ca_chain`` is empty, signing fails (see ``sign_certificate``), or the CA
            certificates and the leaf do not form one chain
            (``certificate chain is malformed or broken``).
    """
    if not ca_chain:
        raise SignError("no CA certificate to sign with")
    leaf = sign_certificate(
        template,
        issuer_cert=ca_chain[0],
        signer_key=ca_key,
        crl_distribution_points=crl_distribution_points,
        ocsp_servers=ocsp_servers,
        issuing_certificate_urls=issuing_certificate_urls,
    )
    try:
        return build_chain([*ca_chain, leaf])
    except ChainError as err:
        raise SignError(str(err)) from err
