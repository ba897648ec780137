"""ACME (RFC 8555, RFC 9773 ARI): the protocol client the ACME issuer and controllers use.

* :mod:`certsmith.acme.client` — :class:`AcmeClient`, asyncio over httpx.
* :mod:`certsmith.acme.models` — frozen resources (Directory, Account, Order, ...).
* :mod:`certsmith.acme.problems` — problem documents and the error hierarchy.
* :mod:`certsmith.acme.challenges` — key authorizations, DNS-01 values, ARI CertIDs.
* :mod:`certsmith.acme.jws` — account keys and JWS signing (josepy), EAB.

This package knows nothing of Kubernetes: it imports ``api``/``pki``/``util`` only.
"""

from certsmith.acme.challenges import (
    ari_cert_id,
    dns01_record_name,
    dns01_txt_value,
    http01_path,
    jwk_thumbprint,
    key_authorization,
)
from certsmith.acme.client import AcmeClient, RequestObserver, contact_for_email, ssl_context
from certsmith.acme.jws import AccountKey, AccountKeyError, decode_mac_key
from certsmith.acme.models import (
    Account,
    Authorization,
    CertificateChain,
    CertificateChains,
    Challenge,
    ChallengeType,
    Directory,
    ExternalAccountBinding,
    Identifier,
    Order,
    RenewalInfo,
    Status,
    preferred_chain,
)
from certsmith.acme.problems import (
    AcmeError,
    AcmeProblem,
    AcmeProtocolError,
    AriNotSupportedError,
    NetworkError,
    NoAccountError,
    PollTimeoutError,
    Problem,
    ProfileNotSupportedError,
    is_bad_nonce,
    is_client_error,
    is_malformed,
    is_rate_limited,
    is_replaces_rejection,
    is_retryable,
)

__all__ = [
    "Account",
    "AccountKey",
    "AccountKeyError",
    "AcmeClient",
    "AcmeError",
    "AcmeProblem",
    "AcmeProtocolError",
    "AriNotSupportedError",
    "Authorization",
    "CertificateChain",
    "CertificateChains",
    "Challenge",
    "ChallengeType",
    "Directory",
    "ExternalAccountBinding",
    "Identifier",
    "NetworkError",
    "NoAccountError",
    "Order",
    "PollTimeoutError",
    "Problem",
    "ProfileNotSupportedError",
    "RenewalInfo",
    "RequestObserver",
    "Status",
    "ari_cert_id",
    "contact_for_email",
    "decode_mac_key",
    "dns01_record_name",
    "dns01_txt_value",
    "http01_path",
    "is_bad_nonce",
    "is_client_error",
    "is_malformed",
    "is_rate_limited",
    "is_replaces_rejection",
    "is_retryable",
    "jwk_thumbprint",
    "key_authorization",
    "preferred_chain",
    "ssl_context",
]
