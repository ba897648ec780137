"""The cert-manager.io/v1 resources: CertificateRequest, Certificate, Issuer and ClusterIssuer.

What this module decides:

* Every field of the reference CRDs is modelled, named in snake_case in Python and spelled on the
  wire exactly as the CRD spells it. The camelCase generator gets acronyms wrong (``isCA``,
  ``issuingCertificateURLs``, ``tsgID``...), so those carry an explicit alias; a round-trip test
  generated from the CRD schemas pins every one.
* Unknown fields are rejected (``extra="forbid"``, inherited from ``Model``), as a typo in a
  manifest must fail instead of being silently dropped. Fields the CRD marks required are
  required here too.
* CRD enumerations are ``Literal`` types (``KeyUsage`` and friends), so bad values fail to parse.
* ``format: byte`` fields keep their base64 wire string (``Base64``) for lossless round trips and
  offer ``*_pem`` helpers returning bytes; Go durations stay strings (see
  ``certsmith.api.duration``).
* ``status`` is optional (``None`` until a controller writes it), ``spec`` is required.
* Issuer and ClusterIssuer share ``IssuerSpec``/``IssuerStatus``; code that accepts either takes
  ``AnyIssuer``.
"""

from __future__ import annotations

from typing import ClassVar, Literal, TypeAlias

from pydantic import ConfigDict, Field

from certsmith.api.acme import ACMEIssuer, ACMEIssuerStatus
from certsmith.api.meta import (
    Base64,
    Condition,
    Int32,
    IssuerReference,
    KubeObject,
    LocalObjectReference,
    Model,
    SecretKeySelector,
    ServiceAccountRef,
    Time,
    decode_bytes,
)

__all__ = [
    "API_VERSION",
    "AdditionalOutputFormatType",
    "AnyIssuer",
    "CAIssuer",
    "Certificate",
    "CertificateAdditionalOutputFormat",
    "CertificateKeystores",
    "CertificatePrivateKey",
    "CertificateRequest",
    "CertificateRequestSpec",
    "CertificateRequestStatus",
    "CertificateSecretTemplate",
    "CertificateSpec",
    "CertificateStatus",
    "CertificateStatusACME",
    "CertificateStatusARI",
    "ClusterIssuer",
    "Issuer",
    "IssuerSpec",
    "IssuerStatus",
    "IssuerType",
    "JKSKeystore",
    "KeyUsage",
    "NameConstraintItem",
    "NameConstraints",
    "OtherName",
    "PKCS12Keystore",
    "PKCS12Profile",
    "PrivateKeyAlgorithm",
    "PrivateKeyEncoding",
    "PrivateKeyRotationPolicy",
    "RenewalPolicy",
    "RenewalWindow",
    "RenewalWindowSpec",
    "SelfSignedIssuer",
    "SignatureAlgorithm",
    "SuggestedWindow",
    "VaultAWSAuth",
    "VaultAppRole",
    "VaultAuth",
    "VaultClientCertificateAuth",
    "VaultIssuer",
    "VaultKubernetesAuth",
    "VenafiCloud",
    "VenafiIssuer",
    "VenafiNGTS",
    "VenafiTPP",
    "X509Subject",
]

API_VERSION = "cert-manager.io/v1"

KeyUsage: TypeAlias = Literal[
    "signing",
    "digital signature",
    "content commitment",
    "key encipherment",
    "key agreement",
    "data encipherment",
    "cert sign",
    "crl sign",
    "encipher only",
    "decipher only",
    "any",
    "server auth",
    "client auth",
    "code signing",
    "email protection",
    "s/mime",
    "ipsec end system",
    "ipsec tunnel",
    "ipsec user",
    "timestamping",
    "ocsp signing",
    "microsoft sgc",
    "netscape sgc",
]
"""A key usage or extended key usage name, as the CRDs enumerate them (23 values)."""

PrivateKeyAlgorithm: TypeAlias = Literal["RSA", "ECDSA", "Ed25519"]
PrivateKeyEncoding: TypeAlias = Literal["PKCS1", "PKCS8"]
PrivateKeyRotationPolicy: TypeAlias = Literal["Never", "Always"]
PKCS12Profile: TypeAlias = Literal["LegacyRC2", "LegacyDES", "Modern2023", "Modern2026"]
AdditionalOutputFormatType: TypeAlias = Literal["DER", "CombinedPEM"]
SignatureAlgorithm: TypeAlias = Literal[
    "SHA256WithRSA",
    "SHA384WithRSA",
    "SHA512WithRSA",
    "ECDSAWithSHA256",
    "ECDSAWithSHA384",
    "ECDSAWithSHA512",
    "PureEd25519",
]
RenewalPolicy: TypeAlias = Literal["RenewBefore", "Disabled"]
IssuerType: TypeAlias = Literal["acme", "ca", "vault", "selfSigned", "venafi"]


# --- CertificateRequest ------------------------------------------------------------------------


class CertificateRequestSpec(Model):
    """What to sign (a CSR), by which issuer, and who asked (written by admission)."""

    duration: str | None = None
    extra: dict[str, list[str]] | None = None
    groups: list[str] | None = None
    is_ca: bool | None = Field(default=None, alias="isCA")
    issuer_ref: IssuerReference
    request: Base64
    uid: str | None = None
    usages: list[KeyUsage] | None = None
    username: str | None = None

    @property
    def request_pem(self) -> bytes:
        """``request`` decoded: the PEM ``CERTIFICATE REQUEST``."""
        return decode_bytes(self.request)


class CertificateRequestStatus(Model):
    """Conditions, the signed chain and CA, and when the request failed for good."""

    ca: Base64 | None = None
    certificate: Base64 | None = None
    conditions: list[Condition] | None = None
    failure_time: Time | None = None

    @property
    def certificate_pem(self) -> bytes | None:
        """``certificate`` decoded to the PEM chain, or ``None`` when not issued yet."""
        return None if self.certificate is None else decode_bytes(self.certificate)

    @property
    def ca_pem(self) -> bytes | None:
        """``ca`` decoded to PEM, or ``None`` when unset."""
        return None if self.ca is None else decode_bytes(self.ca)


class CertificateRequest(KubeObject):
    """cert-manager.io/v1 CertificateRequest: a one-shot request to sign a CSR."""

    API_VERSION: ClassVar[str] = API_VERSION
    KIND: ClassVar[str] = "CertificateRequest"

    spec: CertificateRequestSpec
    status: CertificateRequestStatus | None = None


# --- Certificate -------------------------------------------------------------------------------


class CertificateAdditionalOutputFormat(Model):
    """An extra encoding written to the Secret next to ``tls.crt``/``tls.key``."""

    type: AdditionalOutputFormatType


class JKSKeystore(Model):
    """Write a Java KeyStore (``keystore.jks``, ``truststore.jks``) to the Secret."""

    alias: str | None = None
    create: bool
    password: str | None = None
    password_secret_ref: SecretKeySelector | None = None


class PKCS12Keystore(Model):
    """Write a PKCS#12 bundle (``keystore.p12``, ``truststore.p12``) to the Secret."""

    create: bool
    password: str | None = None
    password_secret_ref: SecretKeySelector | None = None
    profile: PKCS12Profile | None = None


class CertificateKeystores(Model):
    """Additional keystore formats for the Secret."""

    jks: JKSKeystore | None = None
    pkcs12: PKCS12Keystore | None = None


class NameConstraintItem(Model):
    """Permitted or excluded subtrees of a CA's name constraints."""

    dns_domains: list[str] | None = None
    email_addresses: list[str] | None = None
    ip_ranges: list[str] | None = None
    uri_domains: list[str] | None = None


class NameConstraints(Model):
    """The NameConstraints extension of a CA certificate."""

    critical: bool | None = None
    excluded: NameConstraintItem | None = None
    permitted: NameConstraintItem | None = None


class OtherName(Model):
    """An ``otherName`` SAN: a type OID and a UTF-8 string value."""

    oid: str | None = None
    utf8_value: str | None = None


class CertificatePrivateKey(Model):
    """Key algorithm, size, encoding and when to generate a new key."""

    algorithm: PrivateKeyAlgorithm | None = None
    encoding: PrivateKeyEncoding | None = None
    rotation_policy: PrivateKeyRotationPolicy | None = None
    size: int | None = None


class RenewalWindowSpec(Model):
    """A cron-scheduled window during which renewal may happen."""

    cron: str = Field(min_length=1)
    timezone: str | None = Field(default=None, min_length=1)
    # Go durations stay unchecked strings here (see certsmith.api.duration); the apiserver checks
    # this one against the CRD's pattern.
    window_duration: str = Field(json_schema_extra={"pattern": r"^([0-9]+(\.[0-9]+)?(s|m|h))+$"})


class RenewalWindow(Model):
    """``spec.renewal``: the renewal policy and its time windows."""

    policy: RenewalPolicy | None = None
    windows: list[RenewalWindowSpec] | None = None


class CertificateSecretTemplate(Model):
    """Labels and annotations copied onto the target Secret."""

    annotations: dict[str, str] | None = None
    labels: dict[str, str] | None = None


class X509Subject(Model):
    """Subject attributes other than the common name."""

    countries: list[str] | None = None
    localities: list[str] | None = None
    organizational_units: list[str] | None = None
    organizations: list[str] | None = None
    postal_codes: list[str] | None = None
    provinces: list[str] | None = None
    serial_number: str | None = None
    street_addresses: list[str] | None = None


class CertificateSpec(Model):
    """The desired certificate, its key, where it is stored and when it is renewed."""

    additional_output_formats: list[CertificateAdditionalOutputFormat] | None = None
    common_name: str | None = None
    dns_names: list[str] | None = None
    duration: str | None = None
    email_addresses: list[str] | None = None
    encode_usages_in_request: bool | None = None
    ip_addresses: list[str] | None = None
    is_ca: bool | None = Field(default=None, alias="isCA")
    issuer_ref: IssuerReference
    keystores: CertificateKeystores | None = None
    literal_subject: str | None = None
    name_constraints: NameConstraints | None = None
    other_names: list[OtherName] | None = None
    private_key: CertificatePrivateKey | None = None
    renew_before: str | None = None
    renew_before_percentage: Int32 | None = None
    renewal: RenewalWindow | None = None
    revision_history_limit: Int32 | None = None
    secret_name: str
    secret_template: CertificateSecretTemplate | None = None
    signature_algorithm: SignatureAlgorithm | None = None
    subject: X509Subject | None = None
    uris: list[str] | None = None
    usages: list[KeyUsage] | None = None


class SuggestedWindow(Model):
    """The renewal window an ACME server suggested through ARI."""

    end: Time
    start: Time


class CertificateStatusARI(Model):
    """ACME Renewal Information (RFC 9773) last fetched for the certificate."""

    explanation_url: str | None = Field(default=None, alias="explanationURL")
    last_checked: Time | None = None
    last_error: str | None = None
    next_check: Time | None = None
    suggested_window: SuggestedWindow | None = None


class CertificateStatusACME(Model):
    """ACME-specific status of a Certificate."""

    ari: CertificateStatusARI | None = None


class CertificateStatus(Model):
    """Conditions, validity, renewal schedule and issuance bookkeeping of a Certificate."""

    acme: CertificateStatusACME | None = None
    conditions: list[Condition] | None = None
    failed_issuance_attempts: int | None = None
    last_failure_time: Time | None = None
    next_private_key_secret_name: str | None = None
    not_after: Time | None = None
    not_before: Time | None = None
    renewal_time: Time | None = None
    revision: int | None = None


class Certificate(KubeObject):
    """cert-manager.io/v1 Certificate: a desired certificate kept issued in a Secret."""

    API_VERSION: ClassVar[str] = API_VERSION
    KIND: ClassVar[str] = "Certificate"

    spec: CertificateSpec
    status: CertificateStatus | None = None


# --- Issuers -----------------------------------------------------------------------------------


class CAIssuer(Model):
    """``spec.ca``: sign with the key pair in ``secretName``."""

    crl_distribution_points: list[str] | None = None
    issuing_certificate_urls: list[str] | None = Field(default=None, alias="issuingCertificateURLs")
    ocsp_servers: list[str] | None = None
    secret_name: str


class SelfSignedIssuer(Model):
    """``spec.selfSigned``: sign each request with its own key."""

    crl_distribution_points: list[str] | None = None


class VaultAppRole(Model):
    """Vault AppRole login: mount path, role ID and the Secret holding the secret ID."""

    path: str
    role_id: str
    secret_ref: SecretKeySelector


class VaultAWSAuth(Model):
    """Vault AWS IAM login."""

    iam_role_arn: str | None = None
    mount_path: str | None = None
    region: str | None = None
    role: str = Field(min_length=1)
    service_account_ref: ServiceAccountRef | None = None
    vault_header_value: str | None = None


class VaultClientCertificateAuth(Model):
    """Vault TLS certificate login."""

    mount_path: str | None = None
    name: str | None = None
    secret_name: str | None = None


class VaultKubernetesAuth(Model):
    """Vault Kubernetes login with a ServiceAccount token."""

    mount_path: str | None = None
    role: str
    secret_ref: SecretKeySelector | None = None
    service_account_ref: ServiceAccountRef | None = None


class VaultAuth(Model):
    """How to log in to Vault: exactly one method."""

    app_role: VaultAppRole | None = None
    aws: VaultAWSAuth | None = None
    client_certificate: VaultClientCertificateAuth | None = None
    kubernetes: VaultKubernetesAuth | None = None
    token_secret_ref: SecretKeySelector | None = None


class VaultIssuer(Model):
    """``spec.vault``: sign through a Vault PKI ``path``."""

    auth: VaultAuth
    ca_bundle: Base64 | None = Field(default=None, alias="caBundle")
    ca_bundle_secret_ref: SecretKeySelector | None = Field(default=None, alias="caBundleSecretRef")
    client_cert_secret_ref: SecretKeySelector | None = None
    client_key_secret_ref: SecretKeySelector | None = None
    namespace: str | None = None
    path: str
    server: str
    server_name: str | None = None

    @property
    def ca_bundle_pem(self) -> bytes | None:
        """``caBundle`` decoded to PEM bytes, or ``None`` when unset."""
        return None if self.ca_bundle is None else decode_bytes(self.ca_bundle)


class VenafiCloud(Model):
    """CyberArk Certificate Manager SaaS (Venafi Cloud) connection."""

    api_token_secret_ref: SecretKeySelector
    url: str | None = None


class VenafiNGTS(Model):
    """Venafi NGTS connection: tenant service group and credentials."""

    credentials_ref: LocalObjectReference
    token_endpoint: str | None = None
    tsg_id: str = Field(alias="tsgID")
    url: str | None = None


class VenafiTPP(Model):
    """Venafi TPP (self-hosted) connection."""

    ca_bundle: Base64 | None = Field(default=None, alias="caBundle")
    ca_bundle_secret_ref: SecretKeySelector | None = Field(default=None, alias="caBundleSecretRef")
    credentials_ref: LocalObjectReference
    url: str

    @property
    def ca_bundle_pem(self) -> bytes | None:
        """``caBundle`` decoded to PEM bytes, or ``None`` when unset."""
        return None if self.ca_bundle is None else decode_bytes(self.ca_bundle)


class VenafiIssuer(Model):
    """``spec.venafi``: a policy ``zone`` and exactly one of ``tpp``, ``cloud`` or ``ngts``."""

    # The one-of rule is left to the apiserver (a CEL rule in the generated CRD), as for the
    # other "exactly one" choices: parsing stays lenient so any stored object can be read.
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "(has(self.tpp) ? 1 : 0) + (has(self.cloud) ? 1 : 0)"
                    " + (has(self.ngts) ? 1 : 0) == 1",
                    "message": "exactly one of tpp, cloud, or ngts must be configured",
                }
            ]
        }
    )

    cloud: VenafiCloud | None = None
    ngts: VenafiNGTS | None = None
    tpp: VenafiTPP | None = None
    zone: str


class IssuerSpec(Model):
    """Issuer configuration: exactly one of the issuer types is set."""

    acme: ACMEIssuer | None = None
    ca: CAIssuer | None = None
    self_signed: SelfSignedIssuer | None = None
    vault: VaultIssuer | None = None
    venafi: VenafiIssuer | None = None

    @property
    def issuer_type(self) -> IssuerType | None:
        """The configured issuer type as its spec key, or ``None`` when none is.

        Should several be set (admission rejects that), the first in the order
        acme, ca, vault, selfSigned, venafi wins.
        """
        if self.acme is not None:
            return "acme"
        if self.ca is not None:
            return "ca"
        if self.vault is not None:
            return "vault"
        if self.self_signed is not None:
            return "selfSigned"
        if self.venafi is not None:
            return "venafi"
        return None


class IssuerStatus(Model):
    """Readiness conditions and, for ACME, the registered account."""

    acme: ACMEIssuerStatus | None = None
    conditions: list[Condition] | None = None


class Issuer(KubeObject):
    """cert-manager.io/v1 Issuer: a namespaced signer."""

    API_VERSION: ClassVar[str] = API_VERSION
    KIND: ClassVar[str] = "Issuer"

    spec: IssuerSpec
    status: IssuerStatus | None = None


class ClusterIssuer(KubeObject):
    """cert-manager.io/v1 ClusterIssuer: a cluster-scoped signer (same spec as Issuer)."""

    API_VERSION: ClassVar[str] = API_VERSION
    KIND: ClassVar[str] = "ClusterIssuer"

    spec: IssuerSpec
    status: IssuerStatus | None = None


AnyIssuer: TypeAlias = Issuer | ClusterIssuer
"""Either kind of issuer; both carry ``IssuerSpec`` and ``IssuerStatus``."""
