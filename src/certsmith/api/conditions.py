"""Every condition type and reason cert-manager writes, in one place.

Wire values equal cert-manager's exactly; tests pin them. Functions that take a reason
are typed with these enums so that a stray string literal does not type-check.
"""

from __future__ import annotations

from enum import StrEnum


class ConditionStatus(StrEnum):
    """The three values a condition status may take."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class ConditionType(StrEnum):
    """Condition types across CertificateRequest, Certificate and Issuer."""

    READY = "Ready"
    ISSUING = "Issuing"
    INVALID_REQUEST = "InvalidRequest"
    APPROVED = "Approved"
    DENIED = "Denied"


class RequestReason(StrEnum):
    """Reasons of a CertificateRequest's Ready condition (SPEC §1.3)."""

    PENDING = "Pending"
    FAILED = "Failed"
    ISSUED = "Issued"
    DENIED = "Denied"


class IssuerReason(StrEnum):
    """Reasons of an Issuer's or ClusterIssuer's Ready condition (SPEC §4.1, §6.1)."""

    IS_READY = "IsReady"
    KEY_PAIR_VERIFIED = "KeyPairVerified"
    ERR_GET_KEY_PAIR = "ErrGetKeyPair"
    ERR_INVALID_KEY_PAIR = "ErrInvalidKeyPair"
    ACME_ACCOUNT_REGISTERED = "ACMEAccountRegistered"
    ERR_REGISTER_ACME_ACCOUNT = "ErrRegisterACMEAccount"
    ERR_VERIFY_ACME_ACCOUNT = "ErrVerifyACMEAccount"
    ERR_UPDATE_ACME_ACCOUNT = "ErrUpdateACMEAccount"
    INVALID_CONFIG = "InvalidConfig"
    INVALID_URL = "InvalidURL"
    INVALID_SOLVER = "InvalidSolver"
    ERR_INIT_ISSUER = "ErrInitIssuer"


class CertificateReason(StrEnum):
    """Reasons of a Certificate's Ready and Issuing conditions that are not policy reasons."""

    READY = "Ready"
    WINDOW_ERROR = "WindowError"
    MANUALLY_TRIGGERED = "ManuallyTriggered"
    ISSUED = "Issued"


class PolicyReason(StrEnum):
    """Reasons produced by the Certificate policy chains (SPEC §5.8)."""

    DOES_NOT_EXIST = "DoesNotExist"
    MISSING_DATA = "MissingData"
    INVALID_KEY_PAIR = "InvalidKeyPair"
    INVALID_CERTIFICATE = "InvalidCertificate"
    INCORRECT_ISSUER = "IncorrectIssuer"
    INCORRECT_CERTIFICATE = "IncorrectCertificate"
    SECRET_MISMATCH = "SecretMismatch"
    INVALID_CERTIFICATE_REQUEST = "InvalidCertificateRequest"
    REQUEST_CHANGED = "RequestChanged"
    RENEWING = "Renewing"
    EXPIRED = "Expired"
    SECRET_MANAGED_METADATA_MISMATCH = "SecretManagedMetadataMismatch"
    SECRET_TEMPLATE_MISMATCH = "SecretTemplateMismatch"
    ADDITIONAL_OUTPUT_FORMATS_MISMATCH = "AdditionalOutputFormatsMismatch"
    SECRET_OWNER_REF_MISMATCH = "SecretOwnerRefMismatch"
    MANAGED_FIELDS_PARSE_ERROR = "ManagedFieldsParseError"


class EventReason(StrEnum):
    """Reasons of Kubernetes Events emitted by the controllers and issuers."""

    # CertificateRequest, shared gates (SPEC §1.5)
    WAITING_FOR_APPROVAL = "WaitingForApproval"
    ISSUER_NOT_FOUND = "IssuerNotFound"
    ISSUER_TYPE_MISSING = "IssuerTypeMissing"
    ISSUER_NOT_READY = "IssuerNotReady"
    DECODE_ERROR = "DecodeError"
    CERTIFICATE_ISSUED = "CertificateIssued"
    APPROVED_BY_CERT_MANAGER = "cert-manager.io"
    # CA issuer signing (SPEC §1.6)
    SECRET_MISSING = "SecretMissing"
    SECRET_INVALID_DATA = "SecretInvalidData"
    SECRET_GET_ERROR = "SecretGetError"
    SIGNING_ERROR = "SigningError"
    # SelfSigned issuer signing (SPEC §1.6)
    MISSING_ANNOTATION = "MissingAnnotation"
    MISSING_SECRET = "MissingSecret"
    ERROR_PARSING_KEY = "ErrorParsingKey"
    ERROR_GETTING_SECRET = "ErrorGettingSecret"
    ERROR_GENERATING = "ErrorGenerating"
    ERROR_PUBLIC_KEY = "ErrorPublicKey"
    ERROR_KEY_MATCH = "ErrorKeyMatch"
    ERROR_SIGNING = "ErrorSigning"
    BAD_CONFIG = "BadConfig"
    # Issuer readiness (SPEC §4.1)
    ERR_INIT_ISSUER = "ErrInitIssuer"
    ERR_GET_KEY_PAIR = "ErrGetKeyPair"
    ERR_INVALID_KEY_PAIR = "ErrInvalidKeyPair"
    KEY_PAIR_VERIFIED = "KeyPairVerified"
    # ACME issuer readiness (SPEC §6.1)
    INVALID_URL = "InvalidURL"
    ERR_REGISTER_ACME_ACCOUNT = "ErrRegisterACMEAccount"
    ERR_UPDATE_ACME_ACCOUNT = "ErrUpdateACMEAccount"
    # ACME CertificateRequests (SPEC §6.5)
    REQUEST_PARSING_ERROR = "RequestParsingError"
    INVALID_ORDER = "InvalidOrder"
    ORDER_BUILDING_ERROR = "OrderBuildingError"
    ORDER_CREATED = "OrderCreated"
    ORDER_CREATING_ERROR = "OrderCreatingError"
    ORDER_FAILED = "OrderFailed"
    ORDER_PENDING = "OrderPending"
    # ACME Orders and Challenges (SPEC §6.3, §6.4)
    SOLVER = "Solver"
    CREATED = "Created"
    COMPLETE = "Complete"
    STARTED = "Started"
    PRESENT_ERROR = "PresentError"
    PRESENTED = "Presented"
    DOMAIN_VERIFIED = "DomainVerified"
    CLEAN_UP_ERROR = "CleanUpError"
    # certsmith's own: an ACME server's rateLimited answer (issuance waits for Retry-After).
    RATE_LIMITED = "RateLimited"
    # Certificate pipeline (SPEC §5.9)
    ISSUING = "Issuing"
    GENERATED = "Generated"
    REUSED = "Reused"
    DELETED = "Deleted"
    DECODE_FAILED = "DecodeFailed"
    CANNOT_REGENERATE_KEY = "CannotRegenerateKey"
    REQUESTED = "Requested"
    REQUEST_FAILED = "RequestFailed"
    WINDOW_ERROR = "WindowError"
    KEYSTORE_PASSWORD_SECRET_NOT_FOUND = "KeystorePasswordSecretNotFound"
    # certsmith's own: when a failed issuance is retried (not a cert-manager event).
    RETRY_SCHEDULED = "RetryScheduled"
    ARI_ERROR = "ARIError"
    # Issuance failures (SPEC §5.4 issuing step 3): the failing CR condition's reason. A Denied
    # condition's reason is free text (the denier's); its events use DENIED.
    FAILED = "Failed"
    DENIED = "Denied"
    INVALID_REQUEST = "InvalidRequest"
    INVALID_CERTIFICATE = "InvalidCertificate"
    # Certificate shims (SPEC §7), on the Ingress or Gateway; BadConfig is shared with SelfSigned.
    CREATE_CERTIFICATE = "CreateCertificate"
    UPDATE_CERTIFICATE = "UpdateCertificate"
    DELETE_CERTIFICATE = "DeleteCertificate"


class EventType(StrEnum):
    """Kubernetes Event types."""

    NORMAL = "Normal"
    WARNING = "Warning"


#: Reason and message the built-in approver writes (SPEC §3.1).
APPROVER_REASON = "cert-manager.io"
APPROVER_MESSAGE = "Certificate request has been approved by cert-manager.io"

#: Messages of terminal CertificateRequest states the shared reconciler writes (SPEC §1.3, §1.5).
DENIED_MESSAGE = "The CertificateRequest was denied by an approval controller"
ISSUED_MESSAGE = "Certificate fetched from issuer successfully"
WAITING_FOR_APPROVAL_MESSAGE = "Not signing CertificateRequest until it is Approved"
