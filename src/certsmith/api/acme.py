"""The ACME half of the API: the ``spec.acme`` issuer config and acme.cert-manager.io/v1 objects.

What this module decides:

* Every field of cert-manager's own ACME types is modelled one by one, with the CRD's spelling
  (``keyID``, ``skipTLSVerify``, ``acmeDNS``, ``subscriptionID``...) given as an explicit alias
  where the camelCase generator would get an acronym wrong. Unknown fields are rejected, as the
  apiserver's structural schema would prune them and a typo should fail loudly.
* Kubernetes-native structures that cert-manager only copies into pods, services, ingresses and
  routes (affinity, tolerations, resources, securityContext, imagePullSecrets, Gateway API
  ``parentRefs``) and the free-form webhook ``config`` are opaque JSON: modelling them would mean
  re-modelling core Kubernetes, and the solvers pass them through unchanged. Round trips stay
  lossless.
* CRD enumerations are ``Literal`` types, so a value outside the CRD's enum fails to parse.
* ``format: byte`` fields keep their base64 wire string (``Base64``); helpers return the bytes.

This module must not import ``certsmith.api.certmanager`` (which embeds ``ACMEIssuer``);
shared references live in ``certsmith.api.meta``.
"""

from __future__ import annotations

from typing import ClassVar, Literal, TypeAlias

from pydantic import Field

from certsmith.api.meta import (
    JSON,
    Base64,
    IssuerReference,
    JSONObject,
    KubeObject,
    Model,
    SecretKeySelector,
    ServiceAccountRef,
    Time,
    decode_bytes,
)

__all__ = [
    "ACME_API_VERSION",
    "ACMEAuthorization",
    "ACMEChallenge",
    "ACMEChallengeSolver",
    "ACMEChallengeSolverDNS01",
    "ACMEChallengeSolverHTTP01",
    "ACMEChallengeSolverHTTP01GatewayHTTPRoute",
    "ACMEChallengeSolverHTTP01Ingress",
    "ACMEChallengeSolverHTTP01IngressObjectMeta",
    "ACMEChallengeSolverHTTP01IngressPodObjectMeta",
    "ACMEChallengeSolverHTTP01IngressPodSpec",
    "ACMEChallengeSolverHTTP01IngressPodTemplate",
    "ACMEChallengeSolverHTTP01IngressTemplate",
    "ACMEChallengeType",
    "ACMEExternalAccountBinding",
    "ACMEIssuer",
    "ACMEIssuerDNS01ProviderAcmeDNS",
    "ACMEIssuerDNS01ProviderAkamai",
    "ACMEIssuerDNS01ProviderAzureDNS",
    "ACMEIssuerDNS01ProviderCloudDNS",
    "ACMEIssuerDNS01ProviderCloudflare",
    "ACMEIssuerDNS01ProviderDigitalOcean",
    "ACMEIssuerDNS01ProviderRFC2136",
    "ACMEIssuerDNS01ProviderRoute53",
    "ACMEIssuerDNS01ProviderWebhook",
    "ACMEIssuerStatus",
    "AzureManagedIdentity",
    "CertificateDNSNameSelector",
    "Challenge",
    "ChallengeSpec",
    "ChallengeStatus",
    "Order",
    "OrderSpec",
    "OrderStatus",
    "Route53Auth",
    "Route53KubernetesAuth",
    "State",
]

ACME_API_VERSION = "acme.cert-manager.io/v1"

State: TypeAlias = Literal[
    "valid", "ready", "pending", "processing", "invalid", "expired", "errored"
]
"""State of an Order, Authorization or Challenge (RFC 8555 plus cert-manager's ``errored``)."""

ACMEChallengeType: TypeAlias = Literal["HTTP-01", "DNS-01"]
HMACKeyAlgorithm: TypeAlias = Literal["HS256", "HS384", "HS512"]
RenewalInformationSource: TypeAlias = Literal["ARI", "None"]
CNAMEStrategy: TypeAlias = Literal["None", "Follow"]
RFC2136Protocol: TypeAlias = Literal["TCP", "UDP"]
AzureDNSEnvironment: TypeAlias = Literal[
    "AzurePublicCloud", "AzureChinaCloud", "AzureGermanCloud", "AzureUSGovernmentCloud"
]
AzureDNSZoneType: TypeAlias = Literal["AzurePublicZone", "AzurePrivateZone"]


# --- HTTP-01 -----------------------------------------------------------------------------------


class ACMEChallengeSolverHTTP01IngressPodObjectMeta(Model):
    """Labels and annotations added to the HTTP-01 solver pod."""

    annotations: dict[str, str] | None = None
    labels: dict[str, str] | None = None


class ACMEChallengeSolverHTTP01IngressPodSpec(Model):
    """The parts of the solver pod's spec a user may override (native blocks stay opaque JSON)."""

    affinity: JSONObject | None = None
    image_pull_secrets: list[JSONObject] | None = None
    node_selector: dict[str, str] | None = None
    priority_class_name: str | None = None
    resources: JSONObject | None = None
    security_context: JSONObject | None = None
    service_account_name: str | None = None
    tolerations: list[JSONObject] | None = None


class ACMEChallengeSolverHTTP01IngressPodTemplate(Model):
    """Overrides merged into the HTTP-01 solver pod."""

    metadata: ACMEChallengeSolverHTTP01IngressPodObjectMeta | None = None
    spec: ACMEChallengeSolverHTTP01IngressPodSpec | None = None


class ACMEChallengeSolverHTTP01IngressObjectMeta(Model):
    """Labels and annotations added to the solver Ingress."""

    annotations: dict[str, str] | None = None
    labels: dict[str, str] | None = None


class ACMEChallengeSolverHTTP01IngressTemplate(Model):
    """Overrides merged into the solver Ingress."""

    metadata: ACMEChallengeSolverHTTP01IngressObjectMeta | None = None


class ACMEChallengeSolverHTTP01Ingress(Model):
    """Solve HTTP-01 through an Ingress: a new one per challenge, or an existing one by ``name``."""

    class_: str | None = Field(default=None, alias="class")
    ingress_class_name: str | None = Field(default=None, alias="ingressClassName")
    ingress_template: ACMEChallengeSolverHTTP01IngressTemplate | None = None
    name: str | None = None
    pod_template: ACMEChallengeSolverHTTP01IngressPodTemplate | None = None
    service_type: str | None = Field(default=None, alias="serviceType")


class ACMEChallengeSolverHTTP01GatewayHTTPRoute(Model):
    """Solve HTTP-01 through a Gateway API HTTPRoute attached to ``parentRefs``."""

    labels: dict[str, str] | None = None
    parent_refs: list[JSONObject] | None = None
    pod_template: ACMEChallengeSolverHTTP01IngressPodTemplate | None = None
    service_type: str | None = Field(default=None, alias="serviceType")


class ACMEChallengeSolverHTTP01(Model):
    """HTTP-01 solver: exactly one of ``ingress`` or ``gatewayHTTPRoute``."""

    gateway_http_route: ACMEChallengeSolverHTTP01GatewayHTTPRoute | None = Field(
        default=None, alias="gatewayHTTPRoute"
    )
    ingress: ACMEChallengeSolverHTTP01Ingress | None = None


# --- DNS-01 ------------------------------------------------------------------------------------


class ACMEIssuerDNS01ProviderAcmeDNS(Model):
    """acme-dns server and the Secret holding the account JSON."""

    account_secret_ref: SecretKeySelector
    host: str


class ACMEIssuerDNS01ProviderAkamai(Model):
    """Akamai Edge DNS credentials."""

    access_token_secret_ref: SecretKeySelector
    client_secret_secret_ref: SecretKeySelector
    client_token_secret_ref: SecretKeySelector
    service_consumer_domain: str


class AzureManagedIdentity(Model):
    """Which Azure managed identity to use (by client ID or resource ID)."""

    client_id: str | None = Field(default=None, alias="clientID")
    resource_id: str | None = Field(default=None, alias="resourceID")
    tenant_id: str | None = Field(default=None, alias="tenantID")


class ACMEIssuerDNS01ProviderAzureDNS(Model):
    """Azure DNS zone and credentials (service principal or managed identity)."""

    client_id: str | None = Field(default=None, alias="clientID")
    client_secret_secret_ref: SecretKeySelector | None = None
    environment: AzureDNSEnvironment | None = None
    hosted_zone_name: str | None = None
    managed_identity: AzureManagedIdentity | None = None
    resource_group_name: str
    subscription_id: str = Field(alias="subscriptionID")
    tenant_id: str | None = Field(default=None, alias="tenantID")
    zone_type: AzureDNSZoneType | None = None


class ACMEIssuerDNS01ProviderCloudDNS(Model):
    """Google Cloud DNS project and optional service account key."""

    hosted_zone_name: str | None = None
    project: str
    service_account_secret_ref: SecretKeySelector | None = None


class ACMEIssuerDNS01ProviderCloudflare(Model):
    """Cloudflare credentials: an API token, or an API key with ``email``."""

    api_key_secret_ref: SecretKeySelector | None = None
    api_token_secret_ref: SecretKeySelector | None = None
    email: str | None = None


class ACMEIssuerDNS01ProviderDigitalOcean(Model):
    """DigitalOcean API token."""

    token_secret_ref: SecretKeySelector


class ACMEIssuerDNS01ProviderRFC2136(Model):
    """RFC 2136 dynamic update against ``nameserver`` (``host[:port]``), optionally TSIG-signed."""

    nameserver: str
    protocol: RFC2136Protocol | None = None
    tsig_algorithm: str | None = None
    tsig_key_name: str | None = None
    tsig_secret_secret_ref: SecretKeySelector | None = None


class Route53KubernetesAuth(Model):
    """Route 53 authentication with a ServiceAccount token (web identity)."""

    service_account_ref: ServiceAccountRef


class Route53Auth(Model):
    """Route 53 ambient authentication options."""

    kubernetes: Route53KubernetesAuth


class ACMEIssuerDNS01ProviderRoute53(Model):
    """AWS Route 53 zone and credentials."""

    access_key_id: str | None = Field(default=None, alias="accessKeyID")
    access_key_id_secret_ref: SecretKeySelector | None = Field(
        default=None, alias="accessKeyIDSecretRef"
    )
    auth: Route53Auth | None = None
    hosted_zone_id: str | None = Field(default=None, alias="hostedZoneID")
    region: str | None = None
    role: str | None = None
    secret_access_key_secret_ref: SecretKeySelector | None = None


class ACMEIssuerDNS01ProviderWebhook(Model):
    """An out-of-tree DNS-01 solver reached through the API group ``groupName``."""

    config: JSON = None
    group_name: str
    solver_name: str


class ACMEChallengeSolverDNS01(Model):
    """DNS-01 solver: exactly one provider, plus CNAME and nameserver options."""

    acme_dns: ACMEIssuerDNS01ProviderAcmeDNS | None = Field(default=None, alias="acmeDNS")
    akamai: ACMEIssuerDNS01ProviderAkamai | None = None
    azure_dns: ACMEIssuerDNS01ProviderAzureDNS | None = Field(default=None, alias="azureDNS")
    cloud_dns: ACMEIssuerDNS01ProviderCloudDNS | None = Field(default=None, alias="cloudDNS")
    cloudflare: ACMEIssuerDNS01ProviderCloudflare | None = None
    cname_strategy: CNAMEStrategy | None = None
    digitalocean: ACMEIssuerDNS01ProviderDigitalOcean | None = None
    nameservers: list[str] | None = None
    rfc2136: ACMEIssuerDNS01ProviderRFC2136 | None = None
    route53: ACMEIssuerDNS01ProviderRoute53 | None = None
    webhook: ACMEIssuerDNS01ProviderWebhook | None = None


# --- solvers and the issuer --------------------------------------------------------------------


class CertificateDNSNameSelector(Model):
    """Which identifiers a solver applies to; empty selects everything."""

    dns_names: list[str] | None = None
    dns_zones: list[str] | None = None
    match_labels: dict[str, str] | None = None


class ACMEChallengeSolver(Model):
    """One solver entry: a selector and exactly one of ``http01`` or ``dns01``."""

    dns01: ACMEChallengeSolverDNS01 | None = None
    http01: ACMEChallengeSolverHTTP01 | None = None
    selector: CertificateDNSNameSelector | None = None
    wait_instead_of_self_check: str | None = None


class ACMEExternalAccountBinding(Model):
    """External account binding: the CA's key ID and the Secret holding the MAC key."""

    key_algorithm: HMACKeyAlgorithm | None = None
    key_id: str = Field(alias="keyID")
    key_secret_ref: SecretKeySelector


class ACMEIssuer(Model):
    """``spec.acme`` of an Issuer: the ACME server, the account, and the challenge solvers."""

    ca_bundle: Base64 | None = Field(default=None, alias="caBundle")
    disable_account_key_generation: bool | None = Field(
        default=None, alias="disableAccountKeyGeneration"
    )
    email: str | None = None
    enable_duration_feature: bool | None = Field(default=None, alias="enableDurationFeature")
    external_account_binding: ACMEExternalAccountBinding | None = None
    preferred_chain: str | None = Field(default=None, alias="preferredChain", max_length=64)
    private_key_secret_ref: SecretKeySelector
    profile: str | None = None
    # The CRD defaults this to ARI (the apiserver fills it in on write); an object that never
    # went through the apiserver may still carry None, which means ARI too.
    renewal_information_source: RenewalInformationSource | None = Field(
        default=None, json_schema_extra={"default": "ARI"}
    )
    server: str
    skip_tls_verify: bool | None = Field(default=None, alias="skipTLSVerify")
    solvers: list[ACMEChallengeSolver] | None = None

    @property
    def ca_bundle_pem(self) -> bytes | None:
        """``caBundle`` decoded to PEM bytes, or ``None`` when unset."""
        return None if self.ca_bundle is None else decode_bytes(self.ca_bundle)


class ACMEIssuerStatus(Model):
    """``status.acme`` of an Issuer: the registered account."""

    last_private_key_hash: str | None = None
    last_registered_email: str | None = None
    uri: str | None = None


# --- Order -------------------------------------------------------------------------------------


class OrderSpec(Model):
    """What to order: the CSR and the identifiers it must cover."""

    common_name: str | None = None
    dns_names: list[str] | None = None
    duration: str | None = None
    ip_addresses: list[str] | None = None
    issuer_ref: IssuerReference
    profile: str | None = None
    replaces: str | None = None
    request: Base64

    @property
    def request_pem(self) -> bytes:
        """``request`` decoded: the PEM CSR."""
        return decode_bytes(self.request)


class ACMEChallenge(Model):
    """One challenge the ACME server offers for an authorization."""

    token: str
    type: str
    url: str


class ACMEAuthorization(Model):
    """An authorization of an Order, with the challenges the server offered."""

    challenges: list[ACMEChallenge] | None = None
    identifier: str | None = None
    initial_state: State | None = None
    url: str
    wildcard: bool | None = None


class OrderStatus(Model):
    """Progress of an Order on the ACME server, and the issued chain."""

    authorizations: list[ACMEAuthorization] | None = None
    certificate: Base64 | None = None
    failure_time: Time | None = None
    finalize_url: str | None = Field(default=None, alias="finalizeURL")
    reason: str | None = None
    state: State | None = None
    url: str | None = None

    @property
    def certificate_pem(self) -> bytes | None:
        """``certificate`` decoded to the PEM chain, or ``None`` when not issued yet."""
        return None if self.certificate is None else decode_bytes(self.certificate)


class Order(KubeObject):
    """acme.cert-manager.io/v1 Order: one ACME order for one CertificateRequest."""

    API_VERSION: ClassVar[str] = ACME_API_VERSION
    KIND: ClassVar[str] = "Order"

    spec: OrderSpec
    status: OrderStatus | None = None


# --- Challenge ---------------------------------------------------------------------------------


class ChallengeSpec(Model):
    """One challenge to present: the identifier, the token and key, and the chosen solver."""

    authorization_url: str = Field(alias="authorizationURL")
    dns_name: str
    issuer_ref: IssuerReference
    key: str
    solver: ACMEChallengeSolver
    token: str
    type: ACMEChallengeType
    url: str
    wildcard: bool | None = None


class ChallengeStatus(Model):
    """Whether the challenge is presented, being processed, and its ACME state."""

    presented: bool | None = None
    presented_at: Time | None = None
    processing: bool | None = None
    reason: str | None = None
    state: State | None = None


class Challenge(KubeObject):
    """acme.cert-manager.io/v1 Challenge: one challenge of one authorization of an Order."""

    API_VERSION: ClassVar[str] = ACME_API_VERSION
    KIND: ClassVar[str] = "Challenge"

    spec: ChallengeSpec
    status: ChallengeStatus | None = None
